use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use crate::util::{Setting, require_resource};

declare_check! {
/// ## What it does
/// Flags containers (init containers included) without `resources.limits.memory`.
///
/// ## Why is this bad?
/// Without a memory limit one container can exhaust the node's memory and get other pods evicted or
/// OOM-killed: a denial of service.
///
/// ## Remediation
/// Set `resources.limits.memory` on every container, sized from observed usage.
///
/// ## References
/// - CIS Kubernetes Benchmark 5.7 (resource governance)
/// - NSA/CISA Kubernetes Hardening Guide: resource policies
    MissingMemoryLimit { slug: "missing-memory-limit", severity: Medium, summary: "A container has no memory limit" }
}

impl Check for MissingMemoryLimit {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        require_resource(cx, out, "memory", Setting::Limit);
    }
}
