use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use crate::util::{describe, effective};

declare_check! {
/// ## What it does
/// Flags containers whose effective `runAsGroup` is `0`.
///
/// ## Why is this bad?
/// Group 0 owns many files in images and on hosts; a process in it can read or write them even as a
/// non-root user.
///
/// ## Remediation
/// Set a non-zero `runAsGroup` (and `fsGroup`).
///
/// ## References
/// - NSA/CISA Kubernetes Hardening Guide: non-root containers
    RunAsRootGroup { slug: "run-as-root-group", severity: Low, summary: "A container runs with the root group" }
}

impl Check for RunAsRootGroup {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        let Some(pod) = &cx.pod else { return };
        for c in &cx.containers {
            if effective(pod, c, "runAsGroup").and_then(|v| v.as_i64()) == Some(0) {
                let ptr = if c.security("runAsGroup").is_some() {
                    c.ptr("securityContext/runAsGroup")
                } else {
                    format!("{}/securityContext/runAsGroup", pod.pointer)
                };
                out.emit(
                    cx.obj,
                    &ptr,
                    format!("{} runs with group 0 (root)", describe(c)),
                );
            }
        }
    }
}
