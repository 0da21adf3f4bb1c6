use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use crate::util::require_probe;

declare_check! {
/// ## What it does
/// Flags containers of long-running workloads (not Jobs, CronJobs, init or ephemeral containers)
/// without a `readinessProbe`.
///
/// ## Why is this bad?
/// Without a readiness probe traffic reaches the container before it can serve and while it is
/// overloaded.
///
/// ## Remediation
/// Add a `readinessProbe` (HTTP, TCP or exec) that reflects the application's health.
///
/// ## References
/// - Kubernetes documentation: Configure Liveness, Readiness and Startup Probes
    MissingReadinessProbe { slug: "missing-readiness-probe", severity: Low, summary: "A long-running container has no readiness probe" }
}

impl Check for MissingReadinessProbe {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        require_probe(cx, out, "readinessProbe", "readiness");
    }
}
