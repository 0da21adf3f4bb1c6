use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use crate::util::{describe, is_true};

declare_check! {
/// ## What it does
/// Flags containers whose `securityContext.readOnlyRootFilesystem` is not `true`.
///
/// ## Why is this bad?
/// A writable root filesystem lets an attacker who gets code execution drop tools and persist
/// changes in the container.
///
/// ## Remediation
/// Set `securityContext.readOnlyRootFilesystem: true` and mount an `emptyDir` where the application
/// needs to write.
///
/// ## References
/// - CIS Kubernetes Benchmark 5.7.3
/// - NSA/CISA Kubernetes Hardening Guide: immutable container file systems
    WritableRootFilesystem { slug: "writable-root-filesystem", severity: Medium, summary: "The container's root filesystem is writable" }
}

impl Check for WritableRootFilesystem {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        for c in &cx.containers {
            if !is_true(c.security("readOnlyRootFilesystem")) {
                let ptr = if c.security("readOnlyRootFilesystem").is_some() {
                    "securityContext/readOnlyRootFilesystem"
                } else {
                    "securityContext"
                };
                out.emit(
                    cx.obj,
                    &c.ptr(ptr),
                    format!("{} has a writable root filesystem", describe(c)),
                );
            }
        }
    }
}
