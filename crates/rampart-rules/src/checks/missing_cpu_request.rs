use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use crate::util::{Setting, require_resource};

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
        require_resource(cx, out, "cpu", Setting::Request);
    }
}
