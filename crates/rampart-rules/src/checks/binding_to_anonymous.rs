use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use rampart_core::Field;

const RBAC: &str = "rbac.authorization.k8s.io";

declare_check! {
/// ## What it does
/// Flags RoleBindings and ClusterRoleBindings with subjects `system:anonymous`,
/// `system:unauthenticated` or `system:authenticated` (other than the bootstrap discovery roles).
///
/// ## Why is this bad?
/// Anonymous bindings open the API to anyone who can reach it; `system:authenticated` includes
/// every ServiceAccount in the cluster.
///
/// ## Remediation
/// Bind the role to specific users, groups or ServiceAccounts.
///
/// ## References
/// - CIS Kubernetes Benchmark 5.1.1
/// - Kubernetes documentation: anonymous requests
    BindingToAnonymous { slug: "binding-to-anonymous", severity: Critical, summary: "A binding grants permissions to anonymous or all users" }
}

impl Check for BindingToAnonymous {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        if !cx.is(&[RBAC], "ClusterRoleBinding") && !cx.is(&[RBAC], "RoleBinding") {
            return;
        }
        let role = cx
            .obj
            .value
            .pointer("/roleRef/name")
            .and_then(|n| n.as_str())
            .unwrap_or("");
        if matches!(
            role,
            "system:basic-user" | "system:discovery" | "system:public-info-viewer"
        ) {
            return;
        }
        let Some(subjects) = cx.obj.value.field("subjects").and_then(|s| s.as_array()) else {
            return;
        };
        for (i, s) in subjects.iter().enumerate() {
            let name = s.field("name").and_then(|n| n.as_str()).unwrap_or("");
            if matches!(
                name,
                "system:anonymous" | "system:unauthenticated" | "system:authenticated"
            ) {
                out.emit(
                    cx.obj,
                    &format!("/subjects/{i}"),
                    format!("{} {role} is granted to {name}", cx.kind()),
                );
            }
        }
    }
}
