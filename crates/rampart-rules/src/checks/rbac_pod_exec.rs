use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use crate::util::strings;

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
                .find(|v| ["create", "get"].contains(v) || **v == "*");
            let res = resources
                .iter()
                .find(|r| ["pods/exec", "pods/attach", "pods/*"].contains(r) || **r == "*");
            let core = groups.iter().any(|g| g.is_empty() || *g == "*");
            if let (Some(v), Some(r), true) = (verb, res, core) {
                out.emit(
                    cx.obj,
                    &ptr,
                    format!("rule {i} grants {v} on {r}: shells into pods"),
                );
            }
        }
    }
}
