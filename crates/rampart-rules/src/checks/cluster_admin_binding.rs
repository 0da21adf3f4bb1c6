use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use rampart_core::Field;

declare_check! {
/// ## What it does
/// Flags ClusterRoleBindings and RoleBindings that bind the `cluster-admin` ClusterRole to a
/// subject that is not a `system:` user or group.
///
/// ## Why is this bad?
/// cluster-admin is every permission on every resource: the subject owns the cluster and every
/// workload and secret in it.
///
/// ## Remediation
/// Bind a narrower role; keep cluster-admin for break-glass accounts outside everyday use.
///
/// ## References
/// - CIS Kubernetes Benchmark 5.1.1
/// - NSA/CISA Kubernetes Hardening Guide: RBAC
    ClusterAdminBinding { slug: "cluster-admin-binding", severity: Critical, summary: "cluster-admin is granted to a non-system subject" }
}

impl Check for ClusterAdminBinding {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        if !matches!(cx.kind(), "ClusterRoleBinding" | "RoleBinding")
            || cx.obj.group() != "rbac.authorization.k8s.io"
        {
            return;
        }
        let role = cx.obj.value.field("roleRef");
        let is_admin = role.and_then(|r| r.field("kind")).and_then(|k| k.as_str())
            == Some("ClusterRole")
            && role.and_then(|r| r.field("name")).and_then(|n| n.as_str()) == Some("cluster-admin");
        if !is_admin {
            return;
        }
        let Some(subjects) = cx.obj.value.field("subjects").and_then(|s| s.as_array()) else {
            return;
        };
        for (i, s) in subjects.iter().enumerate() {
            let kind = s.field("kind").and_then(|k| k.as_str()).unwrap_or("");
            let name = s.field("name").and_then(|n| n.as_str()).unwrap_or("");
            // control-plane identities (`system:kube-controller-manager`, `system:masters`) are
            // system subjects; ServiceAccounts and the catch-all groups are not
            let everyone = matches!(
                name,
                "system:anonymous" | "system:unauthenticated" | "system:authenticated"
            );
            let service_accounts = name.starts_with("system:serviceaccount");
            if matches!(kind, "User" | "Group")
                && name.starts_with("system:")
                && !everyone
                && !service_accounts
            {
                continue;
            }
            out.emit(
                cx.obj,
                &format!("/subjects/{i}"),
                format!("cluster-admin is bound to {kind} {name}"),
            );
        }
    }
}
