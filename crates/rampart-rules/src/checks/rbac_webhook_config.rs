use super::{group_ok, res_ok, verb_ok};
use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use crate::util::strings;

declare_check! {
/// ## What it does
/// Flags rules granting write verbs on validating or mutating webhook configurations or
/// ValidatingAdmissionPolicies.
///
/// ## Why is this bad?
/// Whoever controls admission webhooks can disable policy enforcement or rewrite every object sent
/// to the API server.
///
/// ## Remediation
/// Restrict webhook management to cluster administrators.
///
/// ## References
/// - Kubernetes documentation: RBAC good practices
    RbacWebhookConfig { slug: "rbac-webhook-config", severity: High, summary: "A rule grants changing admission webhooks" }
}

impl Check for RbacWebhookConfig {
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
            if (group_ok(&groups, "admissionregistration.k8s.io")
                && res_ok(&resources, "validatingwebhookconfigurations")
                && verb_ok(
                    &verbs,
                    &[
                        "create",
                        "update",
                        "patch",
                        "delete",
                        "deletecollection",
                        "*",
                    ],
                ))
                || (group_ok(&groups, "admissionregistration.k8s.io")
                    && res_ok(&resources, "mutatingwebhookconfigurations")
                    && verb_ok(
                        &verbs,
                        &[
                            "create",
                            "update",
                            "patch",
                            "delete",
                            "deletecollection",
                            "*",
                        ],
                    ))
                || (group_ok(&groups, "admissionregistration.k8s.io")
                    && res_ok(&resources, "validatingadmissionpolicies")
                    && verb_ok(
                        &verbs,
                        &[
                            "create",
                            "update",
                            "patch",
                            "delete",
                            "deletecollection",
                            "*",
                        ],
                    ))
                || (group_ok(&groups, "admissionregistration.k8s.io")
                    && res_ok(&resources, "validatingadmissionpolicybindings")
                    && verb_ok(
                        &verbs,
                        &[
                            "create",
                            "update",
                            "patch",
                            "delete",
                            "deletecollection",
                            "*",
                        ],
                    ))
            {
                out.emit(
                    cx.obj,
                    &ptr,
                    format!("rule {i} grants changing admission webhooks or policies"),
                );
            }
        }
    }
}
