use super::{name, volumes};
use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use rampart_core::Field;

declare_check! {
/// ## What it does
/// Flags every `hostPath` volume.
///
/// ## Why is this bad?
/// A hostPath volume exposes the node's filesystem to the pod; many host paths lead directly to
/// node compromise.
///
/// ## Remediation
/// Use a `persistentVolumeClaim`, `emptyDir`, `configMap` or `secret` volume instead.
///
/// ## References
/// - Pod Security Standards, Baseline: HostPath Volumes
/// - CIS Kubernetes Benchmark 5.2.12
    HostPathVolume { slug: "host-path-volume", severity: High, summary: "The pod mounts a hostPath volume" }
}

impl Check for HostPathVolume {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        let Some(pod) = &cx.pod else { return };
        for (i, v) in volumes(pod) {
            if let Some(path) = v
                .field("hostPath")
                .and_then(|h| h.field("path"))
                .and_then(|p| p.as_str())
            {
                out.emit(
                    cx.obj,
                    &format!("{}/volumes/{i}/hostPath", pod.pointer),
                    format!("volume \"{}\" mounts host path {path}", name(v)),
                );
            }
        }
    }
}
