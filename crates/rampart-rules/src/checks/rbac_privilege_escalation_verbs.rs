use super::role_rules;
use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};

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
        for r in role_rules(cx) {
            if let Some((v, _, res)) = TARGETS
                .iter()
                .find(|(v, g, res)| r.grants(&[v], g, res).is_some())
            {
                out.emit(
                    cx.obj,
                    &r.pointer,
                    format!("rule {} grants {v} on {res}: privilege escalation", r.index),
                );
            }
        }
    }
}
