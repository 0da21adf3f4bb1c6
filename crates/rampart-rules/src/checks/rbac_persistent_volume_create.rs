use super::role_rules;
use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};

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
        for r in role_rules(cx) {
            if r.grants(&["create"], "", "persistentvolumes").is_some() {
                out.emit(
                    cx.obj,
                    &r.pointer,
                    format!(
                        "rule {} grants creating PersistentVolumes (hostPath escape)",
                        r.index
                    ),
                );
            }
        }
    }
}
