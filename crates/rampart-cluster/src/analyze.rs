//! The engine's pipeline over a cluster's objects: the same per-object catalog, CIS
//! (control-plane static pods seen as mirror pods), Pod Security Standards and analyses across
//! objects `rampart scan` runs, plus the admission posture
//! ([`rampart_engine::cluster::admission_findings`]).
//!
//! Pods, ReplicaSets and Jobs that a controller owns (`ownerReferences` with `controller: true`
//! to a workload) are not reported one by one: their controller's template is, so one
//! Deployment's misconfiguration is one finding and not one per replica. They still feed the
//! analyses across objects (a Service's endpoints, a NetworkPolicy's pods), whose findings on
//! them are dropped too.

use crate::ClusterError;
use rampart_core::{Finding, InputError, ObjectRef};
use rampart_manifest::Object;
use rampart_pss::{Level, Policy, Version};
use rampart_rules::{Catalog, Config};
use rayon::prelude::*;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// What the analyzers found.
#[derive(Debug, Default)]
pub struct Analysis {
    /// In the catalog's sort order.
    pub findings: Vec<Finding>,
    /// The attack paths the `attack-path` findings report (exposed entries first, shortest
    /// first), for the report's graph.
    pub paths: Vec<rampart_paths::AttackPath>,
    pub errors: Vec<InputError>,
    /// Every object read, with its pseudo-file name.
    pub objects: Vec<(Arc<ObjectRef>, Arc<str>)>,
}

/// Whether a controller owns the object (its template is checked instead).
fn owned_by_controller(o: &Object) -> bool {
    if !matches!(o.kind(), "Pod" | "ReplicaSet" | "Job") {
        return false;
    }
    o.value
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|refs| {
            refs.iter().any(|r| {
                r.get("controller").and_then(Value::as_bool) == Some(true)
                    && matches!(
                        r.get("kind").and_then(Value::as_str),
                        Some(
                            "ReplicaSet"
                                | "Deployment"
                                | "StatefulSet"
                                | "DaemonSet"
                                | "Job"
                                | "CronJob"
                                | "ReplicationController"
                        )
                    )
            })
        })
}

/// Runs every analyzer over `objects` with `config`; `kubelet` holds the nodes' kubelet
/// configurations read (checked by the CIS kubelet items, reported on their Node).
///
/// Pod Security Standards: each pod spec is evaluated at the strictest level its namespace's
/// `pod-security.kubernetes.io/{enforce,audit,warn}` labels ask for, and at least at the
/// configuration's `pss` level (default `baseline`, what a pod must meet to be unremarkable).
///
/// `policies` (`cluster scan --policies`) are evaluated as their engines audit existing
/// resources: Kyverno's background scan (the policies that run in the background, their
/// validation rules) and Gatekeeper's audit (every constraint, with every object read as the
/// inventory).
pub fn analyze(
    objects: &[Object],
    kubelet: &[crate::kubelet::KubeletConfigz],
    config: Config,
    policies: Option<&rampart_engine::Policies>,
) -> Result<Analysis, ClusterError> {
    let floor = config
        .pss
        .as_ref()
        .and_then(|p| p.scan_policy())
        .and_then(|(level, version)| Some(Policy::new(level.parse().ok()?, version.parse().ok()?)))
        .unwrap_or(Policy::new(Level::Baseline, Version::Latest));
    let catalog = Catalog::new(config)?;
    let ns_policy: HashMap<&str, Policy> = objects
        .iter()
        .filter(|o| o.kind() == "Namespace" && o.api_version() == "v1")
        .map(|o| {
            let labels = o.labels().cloned().unwrap_or_default();
            let p = rampart_pss::namespace_policies_with(&labels, floor);
            let strictest = [p.enforce, p.audit, p.warn, floor]
                .into_iter()
                .max_by_key(|p| p.level)
                .unwrap_or(floor);
            (o.name(), strictest)
        })
        .collect();

    let cis = rampart_cis::Options::default();
    let (mut findings, mut errors) = rampart_cis::check_objects(objects, &cis);
    let (kubelet_findings, kubelet_errors) = crate::kubelet::check(objects, kubelet, &cis);
    findings.extend(kubelet_findings);
    errors.extend(kubelet_errors);
    rampart_engine::apply_config(&mut findings, catalog.config());
    let per_object: Vec<Finding> = objects
        .par_iter()
        .filter(|o| !owned_by_controller(o))
        .flat_map_iter(|o| {
            let mut out = catalog.check_object(o);
            let policy = o
                .namespace()
                .and_then(|ns| ns_policy.get(ns).copied())
                .unwrap_or(floor);
            if let Some(v) = rampart_pss::evaluate_object(policy, &o.value) {
                let mut pss = rampart_pss::to_findings(policy, o, &v);
                rampart_engine::apply_config(&mut pss, catalog.config());
                out.extend(pss);
            }
            out
        })
        .collect();
    findings.extend(per_object);
    if let Some(p) = policies {
        if let Some(set) = &p.kyverno {
            // the cluster's PolicyExceptions apply too, as in Kyverno's background scan
            let in_cluster: Vec<&Object> = objects
                .iter()
                .filter(|o| rampart_kyverno::exception::is_exception(&o.value))
                .collect();
            let mut info = rampart_kyverno::AdmissionInfo::default();
            if !in_cluster.is_empty() {
                let (merged, problems) = rampart_kyverno::exception::Exceptions::with(
                    set.exceptions.as_deref(),
                    in_cluster.iter().map(|o| &o.value),
                );
                for (i, pointer, why) in problems {
                    if let Some(o) = in_cluster.get(i) {
                        let at = o.location(&pointer);
                        errors.push(InputError {
                            file: o.file.to_string(),
                            line: at.line,
                            column: at.column,
                            message: why,
                        });
                    }
                }
                info.exceptions = Some(std::sync::Arc::new(merged));
            }
            let mut found: Vec<Finding> = objects
                .par_iter()
                .flat_map_iter(|o| {
                    set.evaluate_background(&o.value, &info)
                        .iter()
                        .filter_map(|r| r.to_finding(o))
                        .collect::<Vec<_>>()
                })
                .collect();
            rampart_engine::apply_config(&mut found, catalog.config());
            findings.extend(found);
        }
        if let Some(set) = &p.gatekeeper {
            let session = set.session(objects);
            let mut found: Vec<Finding> = objects
                .par_iter()
                .flat_map_iter(|o| session.findings(o))
                .collect();
            rampart_engine::apply_config(&mut found, catalog.config());
            findings.extend(found);
        }
        errors.extend(p.errors.iter().cloned());
    }
    findings.extend(rampart_engine::scan::across_findings(&catalog, objects));
    let mut admission = rampart_engine::cluster::admission_findings(objects);
    admission.extend(rampart_engine::cloud::cloud_findings(objects));
    rampart_engine::apply_config(&mut admission, catalog.config());
    findings.extend(admission);
    // the attack chain end to end: exposed or compromised workloads to node root,
    // cluster-admin and Secrets
    let attack = rampart_paths::analyze(objects, &rampart_paths::Options::default());
    let mut paths = rampart_paths::findings_of(objects, &attack);
    rampart_engine::apply_config(&mut paths, catalog.config());
    let owned: HashSet<Arc<ObjectRef>> = objects
        .iter()
        .filter(|o| owned_by_controller(o))
        .map(Object::object_ref)
        .collect();
    if !owned.is_empty() {
        findings.retain(|f| f.object.as_ref().is_none_or(|o| !owned.contains(o)));
        paths.retain(|f| f.object.as_ref().is_none_or(|o| !owned.contains(o)));
    }
    // the graph shows the paths reported: their entry has an `attack-path` finding left
    let reported: HashSet<(&str, &str, &str)> = paths
        .iter()
        .filter(|f| f.check == rampart_paths::ATTACK_PATH)
        .filter_map(|f| f.object.as_deref())
        .map(|o| {
            (
                o.kind.as_str(),
                o.namespace.as_deref().unwrap_or("default"),
                o.name.as_str(),
            )
        })
        .collect();
    let shown: Vec<rampart_paths::AttackPath> = attack
        .paths
        .into_iter()
        .filter(|p| p.goal != rampart_paths::Goal::Secret || p.entry.exposed)
        .filter(|p| {
            reported.contains(&(
                p.entry.kind.as_str(),
                p.entry.namespace.as_str(),
                p.entry.name.as_str(),
            ))
        })
        .collect();
    findings.extend(paths);
    rampart_rules::sort_findings(&mut findings);
    Ok(Analysis {
        findings,
        paths: shown,
        errors,
        objects: objects
            .iter()
            .map(|o| (o.object_ref(), o.file.clone()))
            .collect(),
    })
}
