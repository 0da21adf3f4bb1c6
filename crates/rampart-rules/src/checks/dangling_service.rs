use crate::check::{Check, CheckMeta, Emitter, declare_check};
use crate::inventory::Inventory;
use crate::inventory::map_selector_matches;
use rampart_manifest::Object;
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};

type Labels = Map<String, Value>;
/// Pod templates by (namespace, label key, label value), with the object that holds each.
type ByLabel<'a> = HashMap<(&'a str, &'a str, &'a str), Vec<(&'a Object, &'a Labels)>>;

/// Labels a controller puts on the pods it creates, which no pod template carries.
const CONTROLLER_LABELS: &[&str] = &[
    "statefulset.kubernetes.io/pod-name",
    "apps.kubernetes.io/pod-index",
    "controller-revision-hash",
    "pod-template-hash",
    "pod-template-generation",
    "batch.kubernetes.io/job-name",
    "batch.kubernetes.io/controller-uid",
    "batch.kubernetes.io/job-completion-index",
    "job-name",
    "controller-uid",
];

declare_check! {
/// ## What it does
/// Flags Services with a selector that matches no pod or pod template in their namespace (only when
/// the namespace has workloads in the input). Labels a controller adds to the pods it creates
/// (`statefulset.kubernetes.io/pod-name`, `controller-revision-hash`, `pod-template-hash`,
/// `apps.kubernetes.io/pod-index`, `batch.kubernetes.io/job-name`, ...) are not in any template:
/// the rest of the selector must match one. When the namespace holds custom resources (objects of
/// a group Kubernetes does not serve, such as a Prometheus or an Alertmanager) whose name or kind
/// the selector names, an operator may create the pods: the message names those custom resources.
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

/// Custom resources in `ns` that an operator may turn into the pods `sel` selects: those whose
/// name or kind (in any case) is one of the selector's keys or values (kube-prometheus labels the
/// pods of Prometheus `k8s` with `prometheus: k8s`, those of Alertmanager `main` with
/// `alertmanager: main`).
pub(crate) fn operator_candidates<'a>(
    custom: &[&'a Object],
    ns: &str,
    words: &[&str],
) -> Vec<&'a Object> {
    custom
        .iter()
        .copied()
        .filter(|o| o.namespace().unwrap_or("default") == ns)
        .filter(|o| {
            words
                .iter()
                .any(|w| *w == o.name() || w.eq_ignore_ascii_case(o.kind()))
        })
        .collect()
}

/// `; custom resources may create its pods: Prometheus monitoring/k8s, ...` (empty if none).
pub(crate) fn operator_note(candidates: &[&Object]) -> String {
    if candidates.is_empty() {
        return String::new();
    }
    const SHOWN: usize = 5;
    let mut names: Vec<String> = candidates
        .iter()
        .take(SHOWN)
        .map(|o| {
            format!(
                "{} {}/{}",
                o.kind(),
                o.namespace().unwrap_or("default"),
                o.name()
            )
        })
        .collect();
    if candidates.len() > SHOWN {
        names.push(format!("{} more", candidates.len() - SHOWN));
    }
    format!(
        "; an operator may create its pods from custom resources in the input: {}",
        names.join(", ")
    )
}

impl Check for DanglingService {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_inventory(&self, inv: &Inventory<'_>, out: &mut Emitter<'_>) {
        // workloads indexed by (namespace, label key, label value): a Service is checked against
        // the workloads carrying its selector's first label, not every workload of its namespace
        let mut by_label: ByLabel<'_> = HashMap::new();
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
                        .push((obj, labels));
                }
            }
        }
        let custom: Vec<&Object> = inv
            .objects
            .iter()
            .filter(|o| !rampart_manifest::builtin::is_builtin_group(o.group()))
            .collect();
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
            let rest: Labels = sel
                .iter()
                .filter(|(k, _)| !CONTROLLER_LABELS.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            // only controller labels: any pod of a controller may carry them
            let Some((k, v)) = rest.iter().next() else {
                continue;
            };
            let pod_name = sel
                .get("statefulset.kubernetes.io/pod-name")
                .and_then(Value::as_str);
            let matched = v
                .as_str()
                .and_then(|v| by_label.get(&(ns, k.as_str(), v)))
                .is_some_and(|cands| {
                    cands.iter().any(|(obj, labels)| {
                        map_selector_matches(&rest, Some(labels))
                            && pod_name.is_none_or(|p| {
                                obj.kind() == "StatefulSet"
                                    && p.strip_prefix(obj.name())
                                        .and_then(|n| n.strip_prefix('-'))
                                        .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
                            })
                    })
                });
            if !matched {
                let words: Vec<&str> = sel
                    .iter()
                    .flat_map(|(k, v)| [Some(k.as_str()), v.as_str()])
                    .flatten()
                    .collect();
                let note = operator_note(&operator_candidates(&custom, ns, &words));
                let operator = !note.is_empty();
                let f = out.emit(
                    svc,
                    "/spec/selector",
                    format!(
                        "Service {} selects no pod in namespace {ns}{note}",
                        svc.name()
                    ),
                );
                if operator {
                    f.severity = f.severity.min(rampart_core::Severity::Low);
                }
            }
        }
    }
}
