use super::{name, volumes};
use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use crate::util::describe;
use rampart_core::Field;

declare_check! {
/// ## What it does
/// Flags container `volumeMounts` of `hostPath` volumes without `readOnly: true`.
///
/// ## Why is this bad?
/// A writable host mount lets the container change files on the node — binaries, configuration,
/// other pods' data.
///
/// ## Remediation
/// Mount the volume with `readOnly: true`, or remove it.
///
/// ## References
/// - CIS Kubernetes Benchmark 5.2.12
    WritableHostPath { slug: "writable-host-path", severity: High, summary: "A hostPath volume is mounted read-write" }
}

impl Check for WritableHostPath {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        let Some(pod) = &cx.pod else { return };
        let host: Vec<&str> = volumes(pod)
            .filter(|(_, v)| v.field("hostPath").is_some())
            .map(|(_, v)| name(v))
            .collect();
        if host.is_empty() {
            return;
        }
        for c in &cx.containers {
            let Some(mounts) = c.value.field("volumeMounts").and_then(|m| m.as_array()) else {
                continue;
            };
            for (i, m) in mounts.iter().enumerate() {
                let vol = m.field("name").and_then(|n| n.as_str()).unwrap_or("");
                if host.contains(&vol)
                    && m.field("readOnly").and_then(|r| r.as_bool()) != Some(true)
                {
                    out.emit(
                        cx.obj,
                        &c.ptr(&format!("volumeMounts/{i}")),
                        format!(
                            "{} mounts hostPath volume \"{vol}\" read-write",
                            describe(c)
                        ),
                    );
                }
            }
        }
    }
}
