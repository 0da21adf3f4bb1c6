use super::{group_ok, res_ok, verb_ok};
use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use crate::util::strings;

declare_check! {
/// ## What it does
/// Flags rules granting write verbs on roles, clusterroles, rolebindings or clusterrolebindings.
///
/// ## Why is this bad?
/// Whoever writes RBAC objects can bind themselves more permissions (limited only by the
/// escalate/bind checks on what they already hold).
///
/// ## Remediation
/// Restrict RBAC management to cluster administrators and GitOps controllers.
///
/// ## References
/// - CIS Kubernetes Benchmark 5.1.8
    RbacManageRbac { slug: "rbac-manage-rbac", severity: High, summary: "A rule grants creating or changing RBAC objects" }
}

impl Check for RbacManageRbac {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        if !matches!(cx.kind(), "Role" | "ClusterRole")
            || cx.obj.group() != "rbac.authorization.k8s.io"
        {
            return;
        }
        let Some(rules) = cx.obj.value.get("rules").and_then(|r| r.as_array()) else {
            return;
        };
        for (i, rule) in rules.iter().enumerate() {
            let verbs = strings(rule.get("verbs"));
            let resources = strings(rule.get("resources"));
            let groups = strings(rule.get("apiGroups"));
            let ptr = format!("/rules/{i}");
            if (group_ok(&groups, "rbac.authorization.k8s.io")
                && res_ok(&resources, "roles")
                && verb_ok(&verbs, &["create", "update", "patch", "*"]))
                || (group_ok(&groups, "rbac.authorization.k8s.io")
                    && res_ok(&resources, "clusterroles")
                    && verb_ok(&verbs, &["create", "update", "patch", "*"]))
                || (group_ok(&groups, "rbac.authorization.k8s.io")
                    && res_ok(&resources, "rolebindings")
                    && verb_ok(&verbs, &["create", "update", "patch", "*"]))
                || (group_ok(&groups, "rbac.authorization.k8s.io")
                    && res_ok(&resources, "clusterrolebindings")
                    && verb_ok(&verbs, &["create", "update", "patch", "*"]))
            {
                out.emit(
                    cx.obj,
                    &ptr,
                    format!("rule {i} grants writing RBAC objects"),
                );
            }
        }
    }
}
