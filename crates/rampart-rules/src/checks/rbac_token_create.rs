use super::{group_ok, res_ok, verb_ok};
use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use crate::util::strings;

declare_check! {
/// ## What it does
/// Flags rules granting `create` on `serviceaccounts/token`.
///
/// ## Why is this bad?
/// Creating a token for a ServiceAccount is becoming that ServiceAccount.
///
/// ## Remediation
/// Remove the grant; only token-issuing controllers need it.
///
/// ## References
/// - Kubernetes documentation: RBAC good practices
    RbacTokenCreate { slug: "rbac-token-create", severity: High, summary: "A rule grants creating ServiceAccount tokens" }
}

impl Check for RbacTokenCreate {
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
            if group_ok(&groups, "")
                && res_ok(&resources, "serviceaccounts/token")
                && verb_ok(&verbs, &["create", "*"])
            {
                out.emit(
                    cx.obj,
                    &ptr,
                    format!("rule {i} grants creating ServiceAccount tokens"),
                );
            }
        }
    }
}
