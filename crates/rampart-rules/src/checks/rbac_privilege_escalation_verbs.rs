use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use crate::util::strings;

declare_check! {
/// ## What it does
/// Flags rules that grant the `escalate`, `bind` or `impersonate` verbs (wildcards included) on any
/// resource.
///
/// ## Why is this bad?
/// `escalate` and `bind` let a subject grant itself permissions it does not have; `impersonate`
/// lets it act as any user, group or ServiceAccount.
///
/// ## Remediation
/// Remove these verbs; reserve them for cluster administrators.
///
/// ## References
/// - CIS Kubernetes Benchmark 5.1.8
/// - Kubernetes documentation: RBAC privilege escalation prevention
    RbacPrivilegeEscalationVerbs { slug: "rbac-privilege-escalation-verbs", severity: Critical, summary: "A rule grants escalate, bind or impersonate" }
}

impl Check for RbacPrivilegeEscalationVerbs {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        if !matches!(cx.kind(), "Role" | "ClusterRole") || cx.obj.group() != "rbac.authorization.k8s.io" {
            return;
        }
        let Some(rules) = cx.obj.value.get("rules").and_then(|r| r.as_array()) else { return };
        for (i, rule) in rules.iter().enumerate() {
            let verbs = strings(rule.get("verbs"));
            let resources = strings(rule.get("resources"));
            let groups = strings(rule.get("apiGroups"));
            let ptr = format!("/rules/{i}");
            let verb = verbs.iter().find(|v| ["escalate", "bind", "impersonate"].contains(v) || **v == "*");
            let res = resources.iter().find(|r| ["roles", "clusterroles", "users", "groups", "serviceaccounts", "userextras/scopes", "uids"].contains(r) || **r == "*");
            let core = !groups.is_empty();
            if let (Some(v), Some(r), true) = (verb, res, core) {
                out.emit(cx.obj, &ptr, format!("rule {i} grants {v} on {r}: privilege escalation"));
            }
        }
    }
}
