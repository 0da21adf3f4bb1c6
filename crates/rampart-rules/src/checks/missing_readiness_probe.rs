use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use crate::util::describe;
use rampart_manifest::ContainerKind;

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
        if !cx.is_long_running() {
            return;
        }
        for c in &cx.containers {
            if c.kind != ContainerKind::Container {
                continue;
            }
            if c.value.get("readinessProbe").is_none() {
                out.emit(
                    cx.obj,
                    &c.pointer,
                    format!("{} has no readiness probe", describe(c)),
                );
            }
        }
    }
}
