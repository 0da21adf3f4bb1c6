use super::{group_ok, res_ok, verb_ok};
use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use crate::util::strings;

declare_check! {
/// ## What it does
/// Flags rules granting `create` on `persistentvolumes`.
///
/// ## Why is this bad?
/// A PersistentVolume can be a hostPath: creating one and claiming it mounts the node's filesystem.
///
/// ## Remediation
/// Let users create PersistentVolumeClaims against StorageClasses instead.
///
/// ## References
/// - Kubernetes documentation: RBAC good practices (persistent volume creation)
    RbacPersistentVolumeCreate { slug: "rbac-persistent-volume-create", severity: Medium, summary: "A rule grants creating PersistentVolumes" }
}

impl Check for RbacPersistentVolumeCreate {
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
                && res_ok(&resources, "persistentvolumes")
                && verb_ok(&verbs, &["create", "*"])
            {
                out.emit(
                    cx.obj,
                    &ptr,
                    format!("rule {i} grants creating PersistentVolumes (hostPath escape)"),
                );
            }
        }
    }
}
