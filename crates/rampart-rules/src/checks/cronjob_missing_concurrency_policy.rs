use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};

declare_check! {
/// ## What it does
/// Reports CronJobs without `concurrencyPolicy: Forbid` or `Replace`.
///
/// ## Why is this bad?
/// With the default `Allow`, a slow or stuck job piles up parallel copies that exhaust quota and
/// nodes.
///
/// ## Remediation
/// Set `spec.concurrencyPolicy: Forbid` (or `Replace`).
///
/// ## References
/// - Kubernetes documentation: CronJob
    CronjobMissingConcurrencyPolicy { slug: "cronjob-missing-concurrency-policy", severity: Info, summary: "A CronJob allows concurrent runs" }
}

impl Check for CronjobMissingConcurrencyPolicy {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        if cx.is(&["batch"], "CronJob")
            && !matches!(
                cx.obj
                    .value
                    .pointer("/spec/concurrencyPolicy")
                    .and_then(|v| v.as_str()),
                Some("Forbid" | "Replace")
            )
        {
            out.emit(
                cx.obj,
                "/spec",
                format!("CronJob {} allows concurrent runs", cx.obj.name()),
            );
        }
    }
}
