use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use crate::util::require_probe;

declare_check! {
/// ## What it does
/// Flags containers of long-running workloads (not Jobs, CronJobs, init or ephemeral containers)
/// without a `livenessProbe`.
///
/// ## Why is this bad?
/// Without a liveness probe a hung process keeps receiving traffic forever; nothing restarts it.
///
/// ## Remediation
/// Add a `livenessProbe` (HTTP, TCP or exec) that reflects the application's health.
///
/// ## References
/// - Kubernetes documentation: Configure Liveness, Readiness and Startup Probes
    MissingLivenessProbe { slug: "missing-liveness-probe", severity: Low, summary: "A long-running container has no liveness probe" }
}

impl Check for MissingLivenessProbe {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        require_probe(cx, out, "livenessProbe", "liveness");
    }
}
