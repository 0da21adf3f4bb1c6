use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use crate::util::describe;

declare_check! {
/// ## What it does
/// Flags containers with `securityContext.procMount: Unmasked`.
///
/// ## Why is this bad?
/// The default masked /proc hides kernel interfaces (`/proc/sys`, `/proc/kcore`) that let a
/// container reconfigure or read the host kernel.
///
/// ## Remediation
/// Remove `procMount` or set it to `Default`.
///
/// ## References
/// - Pod Security Standards, Baseline: /proc Mount Type
    UnmaskedProcMount { slug: "unmasked-proc-mount", severity: High, summary: "A container uses an Unmasked /proc" }
}

impl Check for UnmaskedProcMount {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        for c in &cx.containers {
            if c.security("procMount").and_then(|v| v.as_str()) == Some("Unmasked") {
                out.emit(
                    cx.obj,
                    &c.ptr("securityContext/procMount"),
                    format!("{} mounts /proc unmasked", describe(c)),
                );
            }
        }
    }
}
