//! One report over the 4Cs of cloud-native security (cloud, cluster, container, code).
//!
//! Each finding belongs to one layer, by what its check looks at:
//!
//! - **cluster**: RBAC, NetworkPolicy, admission, audit, control plane, nodes, Services and
//!   Ingresses, namespace labels;
//! - **container**: Pod Security Standards and the pod-spec checks of the catalog (privileges,
//!   host namespaces, capabilities, resources, probes);
//! - **code**: what the application ships: images (tags, digests, registries) and credentials
//!   in env, annotations and ConfigMaps.
//!
//! - **cloud**: what the Kubernetes API shows of the cloud underneath: workloads that can reach
//!   the instance metadata service of the Nodes' cloud, ServiceAccounts that assume a cloud
//!   identity.
//!
//! ## Scores
//!
//! Each finding weighs by its severity: critical 10, high 5, medium 2, low 1, info 0. A layer
//! whose findings weigh `P` in total, over the `N` objects it looks at (every object for the
//! cluster layer, the objects with a pod spec for cloud, container and code, at least 1), scores
//!
//! ```text
//! score = round(100 × N / (N + P))
//! ```
//!
//! 100 with no finding, 50 when the findings weigh as much as one point per object, and towards
//! 0 as they pile up. The overall score is the same formula over every finding and every object.

use crate::fetch::NotReadable;
use rampart_core::{Finding, Location, ObjectRef, Origin, Severity};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt::Write as _;
use std::io::{self, Write};

/// The scoring formula, as the report states it.
pub const SCORING: &str = "weights: critical 10, high 5, medium 2, low 1, info 0; per layer \
     score = round(100 × N / (N + P)), P the weight of its findings, N the objects it looks at \
     (all for cluster, pod-spec objects for cloud, container and code, at least 1); overall: the same \
     over all findings and objects";

/// A 4C layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layer {
    Cloud,
    Cluster,
    Container,
    Code,
}

impl Layer {
    pub const ALL: [Layer; 4] = [Layer::Cloud, Layer::Cluster, Layer::Container, Layer::Code];

    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Cloud => "cloud",
            Layer::Cluster => "cluster",
            Layer::Container => "container",
            Layer::Code => "code",
        }
    }

    /// The layer a check's findings belong to.
    pub fn of(check: &str) -> Layer {
        let origin = rampart_engine::registry()
            .get(check)
            .map_or(Origin::Cluster, |c| c.origin);
        match origin {
            Origin::Pss => Layer::Container,
            Origin::Images => Layer::Code,
            Origin::Cloud => Layer::Cloud,
            Origin::Manifest => {
                const CLUSTER: [&str; 13] = [
                    "rbac-",
                    "binding-",
                    "ingress-",
                    "nginx-",
                    "service-",
                    "dangling-",
                    "exposed-",
                    "missing-pod-security-labels",
                    "missing-pod-disruption",
                    "pdb-",
                    "deprecated-api",
                    "duplicate-object",
                    "default-namespace",
                ];
                const CODE: [&str; 6] = [
                    "credential",
                    "secret",
                    "image-",
                    "latest-tag",
                    "registry",
                    "env-var",
                ];
                if CLUSTER.iter().any(|p| check.starts_with(p)) {
                    Layer::Cluster
                } else if CODE.iter().any(|p| check.contains(p)) {
                    Layer::Code
                } else {
                    Layer::Container
                }
            }
            _ => Layer::Cluster,
        }
    }
}

/// The weight of a finding in the scores.
pub fn weight(s: Severity) -> u64 {
    match s {
        Severity::Critical => 10,
        Severity::High => 5,
        Severity::Medium => 2,
        Severity::Low => 1,
        _ => 0,
    }
}

/// `round(100 × n / (n + p))`.
pub fn score(objects: usize, penalty: u64) -> u32 {
    let n = objects.max(1) as u64;
    u32::try_from((200 * n / (n + penalty)).div_ceil(2)).unwrap_or(0)
}

/// Whether a finding is new since the baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    New,
    Unchanged,
    Fixed,
}

/// One finding as the report shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub check: String,
    pub severity: Severity,
    pub layer: Layer,
    pub title: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub object: Option<ObjectRef>,
    /// The object's pseudo-file, `cluster://<namespace>/<kind>/<name>`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub file: Option<String>,
    /// JSON pointer of the field in the object.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pointer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub remediation: Option<String>,
    /// Set when a baseline was given.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub status: Option<Status>,
}

impl Item {
    /// What a finding is across runs: its check, object and field (not its message, which
    /// may name other objects that come and go).
    fn identity(&self) -> (String, Option<ObjectRef>, Option<String>) {
        (
            self.check.clone(),
            self.object.clone(),
            self.pointer.clone(),
        )
    }

    /// The finding's namespace, for filters.
    pub fn namespace(&self) -> Option<&str> {
        self.object.as_ref()?.namespace.as_deref()
    }
}

/// A layer's summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerSummary {
    pub layer: Layer,
    pub score: u32,
    pub objects: usize,
    pub penalty: u64,
    pub findings: usize,
    pub by_severity: BTreeMap<String, usize>,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterReport {
    pub schema_version: String,
    pub tool_version: String,
    pub objects: usize,
    pub score: u32,
    pub scoring: String,
    pub by_severity: BTreeMap<String, usize>,
    pub layers: Vec<LayerSummary>,
    /// Kinds the credentials could not list.
    pub not_readable: Vec<NotReadable>,
    /// Inputs that could not be read.
    pub errors: Vec<String>,
    /// Most severe first.
    pub findings: Vec<Item>,
    /// In the baseline and gone now.
    #[serde(default)]
    pub fixed: Vec<Item>,
    /// Whether a baseline was compared.
    #[serde(default)]
    pub baseline: bool,
    /// What the scan could not do and went on without (kubelet configurations not read, lists
    /// that failed after their restarts).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The attack paths of the `attack-path` findings, drawn as a graph in the HTML report.
    #[serde(skip)]
    pub paths: Vec<rampart_paths::AttackPath>,
}

/// Objects whose findings belong to the container and code layers: those with a pod spec.
fn pod_objects(objects: &[(std::sync::Arc<ObjectRef>, std::sync::Arc<str>)]) -> usize {
    objects
        .iter()
        .filter(|(r, _)| {
            matches!(
                r.kind.as_str(),
                "Pod"
                    | "Deployment"
                    | "StatefulSet"
                    | "DaemonSet"
                    | "ReplicaSet"
                    | "Job"
                    | "CronJob"
                    | "ReplicationController"
            )
        })
        .count()
}

fn item(f: &Finding) -> Item {
    let registry = rampart_engine::registry();
    let loc: Option<&Location> = f.location.as_ref();
    Item {
        check: f.check.clone(),
        severity: f.severity,
        layer: Layer::of(&f.check),
        title: registry
            .get(&f.check)
            .map(|c| c.title.to_string())
            .unwrap_or_default(),
        message: f.message.clone(),
        object: f.object.as_deref().cloned(),
        file: loc.map(|l| l.file.to_string()),
        pointer: loc.map(|l| l.pointer.clone()),
        remediation: f.remediation.as_deref().map(str::to_string),
        status: None,
    }
}

impl ClusterReport {
    /// The report of an analysis.
    pub fn new(
        analysis: &crate::analyze::Analysis,
        not_readable: &[NotReadable],
        tool_version: &str,
    ) -> ClusterReport {
        let mut findings: Vec<Item> = analysis.findings.iter().map(item).collect();
        // most severe first; then by check and place, so the order is the same on every run
        findings.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then_with(|| a.check.cmp(&b.check))
                .then_with(|| a.file.cmp(&b.file))
                .then_with(|| a.pointer.cmp(&b.pointer))
                .then_with(|| a.message.cmp(&b.message))
        });
        let n_all = analysis.objects.len();
        let n_pods = pod_objects(&analysis.objects);
        let layers = Layer::ALL
            .iter()
            .map(|&layer| {
                let mine: Vec<&Item> = findings.iter().filter(|f| f.layer == layer).collect();
                let penalty = mine.iter().map(|f| weight(f.severity)).sum();
                let objects = if layer == Layer::Cluster {
                    n_all
                } else {
                    n_pods
                };
                LayerSummary {
                    layer,
                    score: score(objects, penalty),
                    objects,
                    penalty,
                    findings: mine.len(),
                    by_severity: by_severity(mine.iter().copied()),
                }
            })
            .collect();
        let penalty = findings.iter().map(|f| weight(f.severity)).sum();
        ClusterReport {
            schema_version: "1".into(),
            tool_version: tool_version.into(),
            objects: n_all,
            score: score(n_all, penalty),
            scoring: SCORING.into(),
            by_severity: by_severity(findings.iter()),
            layers,
            not_readable: not_readable.to_vec(),
            errors: analysis.errors.iter().map(ToString::to_string).collect(),
            findings,
            fixed: Vec::new(),
            baseline: false,
            notes: Vec::new(),
            paths: analysis.paths.clone(),
        }
    }

    /// Marks each finding new or unchanged against `previous` (a report this produced in JSON)
    /// and lists what `previous` had and this does not as fixed.
    pub fn compare(&mut self, previous: &ClusterReport) {
        let before: HashSet<_> = previous.findings.iter().map(Item::identity).collect();
        let now: HashSet<_> = self.findings.iter().map(Item::identity).collect();
        for f in &mut self.findings {
            f.status = Some(if before.contains(&f.identity()) {
                Status::Unchanged
            } else {
                Status::New
            });
        }
        self.fixed = previous
            .findings
            .iter()
            .filter(|f| !now.contains(&f.identity()))
            .cloned()
            .map(|mut f| {
                f.status = Some(Status::Fixed);
                f
            })
            .collect();
        self.baseline = true;
    }

    /// Reads a report this produced with `-o json`.
    pub fn read(path: &std::path::Path) -> Result<ClusterReport, crate::ClusterError> {
        let err = |message: String| crate::ClusterError::Baseline {
            file: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        serde_json::from_str(&text).map_err(|e| err(format!("{}:{}: {e}", e.line(), e.column())))
    }

    /// Namespaces findings are in, sorted.
    pub fn namespaces(&self) -> BTreeSet<&str> {
        self.findings.iter().filter_map(Item::namespace).collect()
    }

    /// Writes the report as JSON.
    pub fn json(&self, out: &mut dyn Write) -> io::Result<()> {
        serde_json::to_writer_pretty(&mut *out, self)?;
        writeln!(out)
    }

    /// Writes the report as text: summary, layers, not-readable kinds, findings most severe
    /// first.
    pub fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "rampart cluster scan: {} objects, {} findings, score {}/100",
            self.objects,
            self.findings.len(),
            self.score
        );
        let _ = writeln!(s, "  {}", severity_line(&self.by_severity));
        if self.baseline {
            let new = self
                .findings
                .iter()
                .filter(|f| f.status == Some(Status::New))
                .count();
            let _ = writeln!(
                s,
                "  since the baseline: {new} new, {} fixed",
                self.fixed.len()
            );
        }
        let _ = writeln!(s, "\nLayers (4Cs; cloud as the Kubernetes API shows it):");
        for l in &self.layers {
            let _ = writeln!(
                s,
                "  {:<10} {:>3}/100  {:>5} findings over {} objects  ({})",
                l.layer.as_str(),
                l.score,
                l.findings,
                l.objects,
                severity_line(&l.by_severity)
            );
        }
        if !self.not_readable.is_empty() {
            let _ = writeln!(
                s,
                "\nNot readable with these credentials (the audit went on without them):"
            );
            for n in &self.not_readable {
                let _ = writeln!(
                    s,
                    "  {} ({}): {}\n    needs {}",
                    n.kind,
                    if n.group.is_empty() { "core" } else { &n.group },
                    n.reason,
                    n.rbac
                );
            }
        }
        for n in &self.notes {
            let _ = writeln!(s, "note: {n}");
        }
        for e in &self.errors {
            let _ = writeln!(s, "error: {e}");
        }
        if !self.findings.is_empty() {
            let _ = writeln!(s, "\nFindings, most severe first:");
        }
        for f in &self.findings {
            let status = match f.status {
                Some(Status::New) => " [new]",
                _ => "",
            };
            let at = match (&f.object, &f.pointer) {
                (Some(o), Some(p)) if !p.is_empty() => format!("{o} at {p}"),
                (Some(o), _) => o.to_string(),
                (None, _) => f.file.clone().unwrap_or_default(),
            };
            let _ = writeln!(
                s,
                "  {:<8} {:<9} {}{status}: {}\n           {at}",
                f.severity.as_str(),
                f.layer.as_str(),
                f.check,
                f.message
            );
        }
        if !self.fixed.is_empty() {
            let _ = writeln!(s, "\nFixed since the baseline:");
            for f in &self.fixed {
                let _ = writeln!(s, "  {:<8} {}: {}", f.severity.as_str(), f.check, f.message);
            }
        }
        let _ = writeln!(s, "\nScoring: {}", self.scoring);
        out.write_all(s.as_bytes())
    }

    /// Writes the report as one self-contained HTML file.
    pub fn html(&self, out: &mut dyn Write) -> io::Result<()> {
        out.write_all(crate::html::render(self).as_bytes())
    }
}

fn by_severity<'a>(items: impl Iterator<Item = &'a Item>) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for f in items {
        *m.entry(f.severity.as_str().to_string()).or_insert(0) += 1;
    }
    m
}

fn severity_line(m: &BTreeMap<String, usize>) -> String {
    let parts: Vec<String> = ["critical", "high", "medium", "low", "info"]
        .iter()
        .filter_map(|s| m.get(*s).map(|n| format!("{n} {s}")))
        .collect();
    if parts.is_empty() {
        "no findings".into()
    } else {
        parts.join(", ")
    }
}

/// Writes the analysis as SARIF 2.1.0 through rampart's report crate (each finding located in
/// its object's `cluster://` pseudo-file).
pub fn sarif(
    analysis: &crate::analyze::Analysis,
    tool_version: &str,
    out: &mut dyn Write,
) -> io::Result<()> {
    let rules: Vec<rampart_report::RuleMeta> = rampart_engine::registry()
        .iter()
        .map(|e| rampart_report::RuleMeta {
            slug: e.slug.to_string(),
            severity: e.severity,
            summary: e.title.to_string(),
            help_markdown: e.doc.to_string(),
            cis: e.cis.iter().map(|c| c.to_string()).collect(),
        })
        .collect();
    let report = rampart_report::Report {
        findings: &analysis.findings,
        errors: &[],
        rules: &rules,
        objects: &analysis.objects,
        sources: &rampart_report::no_sources,
        tool_version,
        fail_on: Severity::High,
    };
    rampart_report::render(rampart_report::Format::Sarif, &report, out, false)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn scores_follow_the_formula() {
        assert_eq!(score(10, 0), 100);
        assert_eq!(score(10, 10), 50);
        assert_eq!(score(1, 5), 17);
        assert_eq!(score(0, 0), 100);
        assert_eq!(score(3, 1), 75);
    }

    #[test]
    fn layers_of_checks() {
        assert_eq!(Layer::of("privileged-container"), Layer::Container);
        assert_eq!(Layer::of("latest-tag"), Layer::Code);
        assert_eq!(Layer::of("hardcoded-secret-in-env"), Layer::Code);
        assert_eq!(Layer::of("rbac-read-secrets"), Layer::Cluster);
        assert_eq!(Layer::of("pss-privileged"), Layer::Container);
        assert_eq!(Layer::of("admission-webhook-fails-open"), Layer::Cluster);
        assert_eq!(Layer::of("missing-pod-security-labels"), Layer::Cluster);
    }
}
