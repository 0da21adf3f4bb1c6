use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use crate::util::{Setting, require_resource};

declare_check! {
/// ## What it does
/// Flags containers (init containers included) without `resources.limits.cpu`.
///
/// ## Why is this bad?
/// Without a CPU limit one container can starve its neighbours on the node; a compromised container
/// can mine crypto at the node's expense.
///
/// ## Remediation
/// Set `resources.limits.cpu` on every container, sized from observed usage.
///
/// ## References
/// - CIS Kubernetes Benchmark 5.7 (resource governance)
/// - NSA/CISA Kubernetes Hardening Guide: resource policies
    MissingCpuLimit { slug: "missing-cpu-limit", severity: Low, summary: "A container has no cpu limit" }
}

impl Check for MissingCpuLimit {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        require_resource(cx, out, "cpu", Setting::Limit);
    }
}
