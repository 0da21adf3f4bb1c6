use super::{group_ok, res_ok, verb_ok};
use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use crate::util::strings;

declare_check! {
/// ## What it does
/// Flags rules granting `patch`, `update` or `delete` on `nodes` or `nodes/status`.
///
/// ## Why is this bad?
/// Changing nodes lets a subject relabel or taint nodes to attract sensitive workloads onto a node
/// it controls.
///
/// ## Remediation
/// Remove the grant; node lifecycle belongs to the kubelet and cluster tooling.
///
/// ## References
/// - Kubernetes documentation: RBAC good practices
    RbacNodePatch { slug: "rbac-node-patch", severity: Medium, summary: "A rule grants modifying nodes" }
}

impl Check for RbacNodePatch {
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
            if (group_ok(&groups, "")
                && res_ok(&resources, "nodes")
                && verb_ok(&verbs, &["patch", "update", "delete", "*"]))
                || (group_ok(&groups, "")
                    && res_ok(&resources, "nodes/status")
                    && verb_ok(&verbs, &["patch", "update", "*"]))
            {
                out.emit(cx.obj, &ptr, format!("rule {i} grants modifying nodes"));
            }
        }
    }
}
