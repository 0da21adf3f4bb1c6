use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use crate::util::strings;

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
            let verb = verbs
                .iter()
                .find(|v| ["get", "list", "watch"].contains(v) || **v == "*");
            let res = resources
                .iter()
                .find(|r| ["secrets"].contains(r) || **r == "*");
            let core = groups.iter().any(|g| g.is_empty() || *g == "*");
            // `get` limited to named Secrets is the recommended narrow grant
            let named = rule
                .get("resourceNames")
                .and_then(|n| n.as_array())
                .is_some_and(|n| !n.is_empty());
            if named && verb.is_some_and(|v| *v == "get") {
                continue;
            }
            if let (Some(v), Some(r), true) = (verb, res, core) {
                out.emit(
                    cx.obj,
                    &ptr,
                    format!("rule {i} grants {v} on {r}: Secret values are readable"),
                );
            }
        }
    }
}
