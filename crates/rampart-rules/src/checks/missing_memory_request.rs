use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use crate::util::{Setting, require_resource};

declare_check! {
/// ## What it does
/// Flags containers (init containers included) without `resources.requests.memory` and without a
/// `resources.limits.memory` (the API server copies a limit into a missing request).
///
/// ## Why is this bad?
/// Without a memory request the pod is BestEffort or Burstable and is the first to be evicted under
/// memory pressure.
///
/// ## Remediation
/// Set `resources.requests.memory` on every container, sized from observed usage.
///
/// ## References
/// - CIS Kubernetes Benchmark 5.7 (resource governance)
/// - NSA/CISA Kubernetes Hardening Guide: resource policies
    MissingMemoryRequest { slug: "missing-memory-request", severity: Low, summary: "A container has no memory request" }
}

impl Check for MissingMemoryRequest {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        require_resource(cx, out, "memory", Setting::Request);
    }
}
