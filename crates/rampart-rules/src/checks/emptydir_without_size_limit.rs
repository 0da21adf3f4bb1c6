use super::{name, volumes};
use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use rampart_core::Field;

declare_check! {
/// ## What it does
/// Flags `emptyDir` volumes without `sizeLimit`.
///
/// ## Why is this bad?
/// An unbounded emptyDir fills the node's disk (or memory, with `medium: Memory`) and gets every
/// pod on the node evicted.
///
/// ## Remediation
/// Set `emptyDir.sizeLimit`.
///
/// ## References
/// - Kubernetes documentation: Local ephemeral storage
    EmptydirWithoutSizeLimit { slug: "emptydir-without-size-limit", severity: Low, summary: "An emptyDir volume has no sizeLimit" }
}

impl Check for EmptydirWithoutSizeLimit {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        let Some(pod) = &cx.pod else { return };
        for (i, v) in volumes(pod) {
            if let Some(ed) = v
                .field("emptyDir")
                .filter(|e| e.field("sizeLimit").is_none())
            {
                let _ = ed;
                out.emit(
                    cx.obj,
                    &format!("{}/volumes/{i}/emptyDir", pod.pointer),
                    format!("emptyDir volume \"{}\" has no sizeLimit", name(v)),
                );
            }
        }
    }
}
