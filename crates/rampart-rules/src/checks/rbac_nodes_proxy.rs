use super::{group_ok, res_ok, verb_ok};
use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use crate::util::strings;

declare_check! {
/// ## What it does
/// Flags rules granting `get` or `create` on `nodes/proxy`.
///
/// ## Why is this bad?
/// nodes/proxy reaches the kubelet API directly: exec into any pod on the node, bypassing admission
/// and most audit logging.
///
/// ## Remediation
/// Remove the grant; monitoring agents need `nodes/metrics` or `nodes/stats`, not `nodes/proxy`.
///
/// ## References
/// - Kubernetes documentation: RBAC good practices (nodes/proxy)
    RbacNodesProxy { slug: "rbac-nodes-proxy", severity: High, summary: "A rule grants access to nodes/proxy" }
}

impl Check for RbacNodesProxy {
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
                && res_ok(&resources, "nodes/proxy")
                && verb_ok(&verbs, &["get", "create", "*"])
            {
                out.emit(
                    cx.obj,
                    &ptr,
                    format!("rule {i} grants nodes/proxy: kubelet API access"),
                );
            }
        }
    }
}
