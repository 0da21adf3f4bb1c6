use super::{group_ok, res_ok, verb_ok};
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
            // (verb, API group, resource) triples that escalate
            const TARGETS: &[(&str, &str, &str)] = &[
                ("escalate", "rbac.authorization.k8s.io", "roles"),
                ("escalate", "rbac.authorization.k8s.io", "clusterroles"),
                ("bind", "rbac.authorization.k8s.io", "roles"),
                ("bind", "rbac.authorization.k8s.io", "clusterroles"),
                ("impersonate", "", "users"),
                ("impersonate", "", "groups"),
                ("impersonate", "", "serviceaccounts"),
                ("impersonate", "authentication.k8s.io", "userextras/scopes"),
                ("impersonate", "authentication.k8s.io", "uids"),
            ];
            let hit = TARGETS.iter().find(|(v, g, r)| {
                verb_ok(&verbs, &[v]) && group_ok(&groups, g) && res_ok(&resources, r)
            });
            if let Some((v, _, r)) = hit {
                out.emit(
                    cx.obj,
                    &ptr,
                    format!("rule {i} grants {v} on {r}: privilege escalation"),
                );
            }
        }
    }
}
