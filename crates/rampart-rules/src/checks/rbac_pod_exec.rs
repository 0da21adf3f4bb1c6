use super::role_rules;
use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};

declare_check! {
/// ## What it does
/// Flags rules that grant `create` (or `get`, which old API servers accept for websockets) on
/// `pods/exec` or `pods/attach`.
///
/// ## Why is this bad?
/// Exec into a pod is a shell as that pod: its ServiceAccount token, its mounted Secrets, and its
/// network position.
///
/// ## Remediation
/// Remove the grant; use an audited break-glass role for debugging.
///
/// ## References
/// - Kubernetes documentation: RBAC good practices
/// - CIS Kubernetes Benchmark 5.1.8
    RbacPodExec { slug: "rbac-pod-exec", severity: High, summary: "A rule grants exec or attach into pods" }
}

impl Check for RbacPodExec {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        for r in role_rules(cx) {
            for sub in ["pods/exec", "pods/attach"] {
                if let Some(verb) = r.grants(&["create", "get"], "", sub) {
                    out.emit(
                        cx.obj,
                        &r.pointer,
                        format!("rule {} grants {verb} on {sub}: shells into pods", r.index),
                    );
                    break;
                }
            }
        }
    }
}
