use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use crate::util::{describe, resource};
use rampart_manifest::ContainerKind;

declare_check! {
/// ## What it does
/// Flags containers (init containers included) without `resources.requests.cpu` and without a
/// `resources.limits.cpu` (the API server copies a limit into a missing request).
///
/// ## Why is this bad?
/// Without a CPU request the scheduler cannot place the pod sensibly and the container gets the
/// lowest CPU share under contention.
///
/// ## Remediation
/// Set `resources.requests.cpu` on every container, sized from observed usage.
///
/// ## References
/// - CIS Kubernetes Benchmark 5.7 (resource governance)
/// - NSA/CISA Kubernetes Hardening Guide: resource policies
    MissingCpuRequest { slug: "missing-cpu-request", severity: Low, summary: "A container has no cpu request" }
}

impl Check for MissingCpuRequest {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        for c in &cx.containers {
            if c.kind == ContainerKind::Ephemeral {
                continue;
            }
            // the API server copies a limit into a missing request
            if resource(c, "requests", "cpu").is_none() && resource(c, "limits", "cpu").is_none() {
                out.emit(
                    cx.obj,
                    &c.ptr("resources"),
                    format!("{} has no cpu request", describe(c)),
                );
            }
        }
    }
}
