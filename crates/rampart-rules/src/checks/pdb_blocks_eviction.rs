use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use rampart_core::Field;

declare_check! {
/// ## What it does
/// Flags PodDisruptionBudgets with `maxUnavailable: 0` or `0%`, or `minAvailable: 100%`.
///
/// ## Why is this bad?
/// Such a budget blocks every voluntary eviction: node drains hang, and security patching of nodes
/// stalls.
///
/// ## Remediation
/// Allow at least one pod to be unavailable (`maxUnavailable: 1`).
///
/// ## References
/// - Kubernetes documentation: Specifying a Disruption Budget
    PdbBlocksEviction { slug: "pdb-blocks-eviction", severity: Medium, summary: "A PodDisruptionBudget allows no disruption" }
}

impl Check for PdbBlocksEviction {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        if !cx.is(&["policy"], "PodDisruptionBudget") {
            return;
        }
        let spec = cx.obj.value.field("spec");
        let max = spec.and_then(|s| s.field("maxUnavailable"));
        let min = spec.and_then(|s| s.field("minAvailable"));
        if max.is_some_and(|m| m.as_i64() == Some(0) || m.as_str() == Some("0%")) {
            out.emit(
                cx.obj,
                "/spec/maxUnavailable",
                format!(
                    "PodDisruptionBudget {} allows no pod to be evicted",
                    cx.obj.name()
                ),
            );
        } else if min.and_then(|m| m.as_str()) == Some("100%") {
            out.emit(
                cx.obj,
                "/spec/minAvailable",
                format!(
                    "PodDisruptionBudget {} requires 100% of pods available",
                    cx.obj.name()
                ),
            );
        }
    }
}
