use crate::check::{Check, CheckMeta, Emitter, declare_check};
use crate::inventory::Inventory;
use crate::util::strings;
use rampart_core::Field;
use std::collections::{BTreeSet, HashMap};

declare_check! {
/// ## What it does
/// Flags namespaces in the input that have workloads but no NetworkPolicy selecting all their pods
/// (empty `podSelector`) for both Ingress and Egress with no allow rules in that direction.
///
/// ## Why is this bad?
/// Without default deny every pod accepts traffic from every pod in the cluster and can reach
/// anything: one compromised pod can scan and attack them all.
///
/// ## Remediation
/// Add a NetworkPolicy with `podSelector: {}` and `policyTypes: [Ingress, Egress]` and no rules,
/// then allow the flows each app needs.
///
/// ## References
/// - NSA/CISA Kubernetes Hardening Guide: network separation
/// - CIS Kubernetes Benchmark 5.3.2
    MissingDefaultDenyNetworkPolicy { slug: "missing-default-deny-network-policy", severity: Medium, summary: "A namespace with workloads has no default-deny NetworkPolicy" }
}

impl Check for MissingDefaultDenyNetworkPolicy {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_inventory(&self, inv: &Inventory<'_>, out: &mut Emitter<'_>) {
        let mut denies: HashMap<&str, (bool, bool)> = HashMap::new();
        for np in inv.of_kind("NetworkPolicy") {
            let ns = np.namespace().unwrap_or("default");
            let Some(spec) = np.value.field("spec") else {
                continue;
            };
            let selects_all = spec
                .field("podSelector")
                .and_then(|s| s.as_object())
                .is_some_and(|o| {
                    o.values().all(|v| {
                        v.is_null()
                            || v.as_object().is_some_and(|m| m.is_empty())
                            || v.as_array().is_some_and(|a| a.is_empty())
                    })
                });
            if selects_all {
                let types = strings(spec.field("policyTypes"));
                let ingress = (types.is_empty() || types.contains(&"Ingress"))
                    && spec
                        .field("ingress")
                        .and_then(|r| r.as_array())
                        .is_none_or(|r| r.is_empty());
                // without policyTypes, Egress is implied only by egress rules, which then allow something
                let egress = types.contains(&"Egress")
                    && spec
                        .field("egress")
                        .and_then(|r| r.as_array())
                        .is_none_or(|r| r.is_empty());
                let e = denies.entry(ns).or_default();
                e.0 |= ingress;
                e.1 |= egress;
            }
        }
        let mut reported = BTreeSet::new();
        for (obj, _) in inv.pods() {
            let ns = obj.namespace().unwrap_or("default");
            let (i, e) = denies.get(ns).copied().unwrap_or((false, false));
            if (i && e) || !reported.insert(ns) {
                continue;
            }
            let missing = match (i, e) {
                (false, false) => "ingress and egress",
                (false, true) => "ingress",
                _ => "egress",
            };
            let target = inv
                .of_kind("Namespace")
                .iter()
                .find(|n| n.name() == ns)
                .copied()
                .unwrap_or(obj);
            out.emit(
                target,
                "/metadata",
                format!(
                    "namespace {ns} has workloads but no default-deny NetworkPolicy for {missing}"
                ),
            );
        }
    }
}
