use crate::check::{Check, CheckMeta, Emitter, declare_check};
use crate::inventory::Inventory;
use crate::inventory::map_selector_matches;
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};

type Labels = Map<String, Value>;

declare_check! {
/// ## What it does
/// Flags Services with a selector that matches no pod or pod template in their namespace (only when
/// the namespace has workloads in the input).
///
/// ## Why is this bad?
/// A Service without endpoints is usually a typo in a label; traffic silently goes nowhere, and a
/// later pod with matching labels — anyone's — receives it.
///
/// ## Remediation
/// Fix the selector to match the intended pods' labels.
///
/// ## References
/// - kube-linter: dangling-service
    DanglingService { slug: "dangling-service", severity: Low, summary: "A Service selects no pod in the input" }
}

impl Check for DanglingService {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_inventory(&self, inv: &Inventory<'_>, out: &mut Emitter<'_>) {
        // workloads indexed by (namespace, label key, label value): a Service is checked against
        // the workloads carrying its selector's first label, not every workload of its namespace
        let mut by_label: HashMap<(&str, &str, &str), Vec<&Labels>> = HashMap::new();
        let mut namespaces_with_workloads = HashSet::new();
        for (obj, pod) in inv.pods() {
            let ns = obj.namespace().unwrap_or("default");
            namespaces_with_workloads.insert(ns);
            let Some(labels) = pod.labels() else { continue };
            for (k, v) in labels {
                if let Some(v) = v.as_str() {
                    by_label
                        .entry((ns, k.as_str(), v))
                        .or_default()
                        .push(labels);
                }
            }
        }
        for svc in inv
            .of_kind("Service")
            .iter()
            .filter(|s| s.group().is_empty())
        {
            let ns = svc.namespace().unwrap_or("default");
            let Some(sel) = svc
                .value
                .pointer("/spec/selector")
                .and_then(Value::as_object)
                .filter(|s| !s.is_empty())
            else {
                continue;
            };
            if !namespaces_with_workloads.contains(ns) {
                continue;
            }
            let matched = sel.iter().next().is_some_and(|(k, v)| {
                v.as_str()
                    .and_then(|v| by_label.get(&(ns, k.as_str(), v)))
                    .is_some_and(|cands| {
                        cands
                            .iter()
                            .any(|labels| map_selector_matches(sel, Some(labels)))
                    })
            });
            if !matched {
                out.emit(
                    svc,
                    "/spec/selector",
                    format!("Service {} selects no pod in namespace {ns}", svc.name()),
                );
            }
        }
    }
}
