use super::role_rules;
use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};

declare_check! {
/// ## What it does
/// Flags Role and ClusterRole rules that grant `get`, `list` or `watch` on `secrets` in the core
/// API group (wildcards included).
///
/// ## Why is this bad?
/// Reading Secrets yields every credential of the namespace — including ServiceAccount tokens — and
/// `list` returns all values at once.
///
/// ## Remediation
/// Grant `get` on named Secrets with `resourceNames`, or mount the Secret into the pod instead of
/// reading it through the API.
///
/// ## References
/// - CIS Kubernetes Benchmark 5.1.2
/// - Kubernetes documentation: RBAC good practices
    RbacSecretsAccess { slug: "rbac-secrets-access", severity: High, summary: "A rule grants read access to Secrets" }
}

impl Check for RbacSecretsAccess {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        for r in role_rules(cx) {
            let Some(verb) = r.grants(&["get", "list", "watch"], "", "secrets") else {
                continue;
            };
            // `get` limited to named Secrets is the recommended narrow grant
            if r.named && verb == "get" && r.grants(&["list", "watch"], "", "secrets").is_none() {
                continue;
            }
            out.emit(
                cx.obj,
                &r.pointer,
                format!(
                    "rule {} grants {verb} on secrets: Secret values are readable",
                    r.index
                ),
            );
        }
    }
}
