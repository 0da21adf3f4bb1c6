use crate::check::{Check, CheckMeta, Emitter, declare_check};
use crate::inventory::Inventory;
use crate::inventory::selector_matches;

declare_check! {
/// ## What it does
/// Flags Deployments and StatefulSets with more than one replica that no PodDisruptionBudget in
/// their namespace selects.
///
/// ## Why is this bad?
/// Without a PDB a node drain or cluster upgrade can evict every replica at once: an outage caused
/// by routine maintenance.
///
/// ## Remediation
/// Add a PodDisruptionBudget with `maxUnavailable: 1` (or a `minAvailable`) selecting the
/// workload's pods.
///
/// ## References
/// - Kubernetes documentation: Specifying a Disruption Budget for your Application
    MissingPodDisruptionBudget { slug: "missing-pod-disruption-budget", severity: Low, summary: "A replicated workload has no PodDisruptionBudget" }
}

impl Check for MissingPodDisruptionBudget {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_inventory(&self, inv: &Inventory<'_>, out: &mut Emitter<'_>) {
        let workloads = inv
            .of_kind("Deployment")
            .iter()
            .chain(inv.of_kind("StatefulSet"));
        for obj in workloads {
            if obj.group() != "apps" {
                continue;
            }
            let replicas = obj
                .value
                .pointer("/spec/replicas")
                .and_then(|r| r.as_i64())
                .unwrap_or(1);
            if replicas <= 1 {
                continue;
            }
            let ns = obj.namespace().unwrap_or("default");
            let labels = obj
                .value
                .pointer("/spec/template/metadata/labels")
                .and_then(|l| l.as_object());
            let covered = inv
                .in_namespace("PodDisruptionBudget", ns)
                .iter()
                .any(|pdb| {
                    pdb.value
                        .pointer("/spec/selector")
                        .is_some_and(|s| selector_matches(s, labels))
                });
            if !covered {
                out.emit(
                    obj,
                    "/spec/replicas",
                    format!(
                        "{} {} has {replicas} replicas but no PodDisruptionBudget selects its pods",
                        obj.kind(),
                        obj.name()
                    ),
                );
            }
        }
    }
}
