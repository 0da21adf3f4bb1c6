//! `rampart cluster scan`: audit a running cluster.
//!
//! Two ways in, one way out:
//!
//! - [`fetch::fetch`] reads a live cluster through kube-rs (discovery, paginated lists, bounded
//!   parallelism, retries; Secrets as metadata only), and
//! - [`offline::load`] reads a dump (`kubectl get … -A -o yaml`, a `List` with `items`) or a
//!   directory of manifests;
//!
//! both give the same normalized [`rampart_manifest::Object`]s ([`normalize`]), each named
//! `cluster://<namespace>/<kind>/<name>` so findings are located, and [`analyze::analyze`] runs
//! the engine's analyzers over them. [`report::ClusterReport`] groups the findings over the 4Cs
//! (cluster, container, code) with a score per layer, and renders text, JSON, SARIF or one
//! self-contained HTML file.
//!
//! ```
//! let v = serde_json::json!({"apiVersion": "v1", "kind": "Secret",
//!     "metadata": {"name": "db", "namespace": "shop", "managedFields": [{}],
//!                  "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{\"data\":{}}"}},
//!     "type": "Opaque", "data": {"password": "aHVudGVyMg=="}});
//! let o = rampart_cluster::normalize(v).unwrap();
//! assert_eq!(&*o.file, "cluster://shop/Secret/db");
//! assert_eq!(o.value, serde_json::json!({"apiVersion": "v1", "kind": "Secret",
//!     "metadata": {"name": "db", "namespace": "shop"}}));
//! ```

pub mod analyze;
pub mod fetch;
pub mod generate;
mod html;
pub mod kubelet;
pub mod offline;
pub mod report;

use rampart_manifest::Object;
use serde_json::Value;

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The kubeconfig could not be read or has no such context.
    #[error("kubeconfig: {0}")]
    Config(String),
    /// The API server could not be reached or discovery failed.
    #[error("API server: {0}")]
    Api(String),
    /// A dump or manifest could not be read.
    #[error(transparent)]
    Input(#[from] rampart_core::InputError),
    /// The check configuration is invalid.
    #[error(transparent)]
    Rules(#[from] rampart_rules::ConfigError),
    /// A baseline report could not be read.
    #[error("baseline {file}: {message}")]
    Baseline { file: String, message: String },
    /// The async runtime could not start.
    #[error("runtime: {0}")]
    Runtime(#[from] std::io::Error),
}

/// The annotation `kubectl apply` writes; on a Secret it holds the Secret's data.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Turns an object as the API or a dump gives it into what the analyzers read, the same way for
/// both paths: `metadata.managedFields` dropped; a Secret reduced to its apiVersion, kind and
/// metadata (what a `PartialObjectMetadata` list gives) without the last-applied annotation,
/// so no secret value is ever kept; named `cluster://<namespace>/<kind>/<name>`
/// (`cluster://<kind>/<name>` when cluster-scoped). `None` for a value that is not an object
/// with a kind.
pub fn normalize(mut value: Value) -> Option<Object> {
    let map = value.as_object_mut()?;
    let kind = map.get("kind")?.as_str()?.to_string();
    let secret = kind == "Secret" && map.get("apiVersion").and_then(Value::as_str) == Some("v1");
    if secret {
        map.retain(|k, _| matches!(k.as_str(), "apiVersion" | "kind" | "metadata"));
    }
    if let Some(meta) = map.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
        if secret && let Some(a) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
            a.remove(LAST_APPLIED);
            if a.is_empty() {
                meta.remove("annotations");
            }
        }
    }
    let meta = map.get("metadata");
    let field = |k: &str| {
        meta.and_then(|m| m.get(k))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let name = field("name").unwrap_or("");
    let file = match field("namespace") {
        Some(ns) => format!("cluster://{ns}/{kind}/{name}"),
        None => format!("cluster://{kind}/{name}"),
    };
    Some(Object::from_value(value, &file))
}

/// Sorts objects into the one order both paths report in: by file name (namespace, kind, name),
/// then API version; and keeps only `namespace`'s objects and cluster-scoped ones when given.
pub fn settle(objects: &mut Vec<Object>, namespace: Option<&str>) {
    if let Some(ns) = namespace {
        objects.retain(|o| o.namespace().is_none_or(|n| n == ns));
    }
    objects.sort_by(|a, b| (&*a.file, a.api_version()).cmp(&(&*b.file, b.api_version())));
    objects.dedup_by(|a, b| a.file == b.file && a.api_version() == b.api_version());
}

/// Where a scan reads the cluster from.
#[derive(Debug, Clone)]
pub enum Input {
    /// A live cluster through kube-rs.
    Live(fetch::Options),
    /// A dump or a directory of manifests (`--from`), with `-n`.
    Dump {
        paths: Vec<std::path::PathBuf>,
        namespace: Option<String>,
    },
}

/// One scan's result.
#[derive(Debug)]
pub struct Scan {
    pub analysis: analyze::Analysis,
    pub report: report::ClusterReport,
    /// How the live read went (`None` for a dump).
    pub fetch: Option<fetch::Stats>,
    /// The kubeconfig context and the API server (empty for a dump).
    pub context: String,
    pub server: String,
}

/// What either way in read.
struct Read {
    objects: Vec<Object>,
    errors: Vec<rampart_core::InputError>,
    not_readable: Vec<fetch::NotReadable>,
    stats: Option<fetch::Stats>,
    context: String,
    server: String,
    kubelet: Vec<kubelet::KubeletConfigz>,
    notes: Vec<String>,
}

/// Reads the cluster, analyzes it and builds the report.
pub fn scan(
    input: &Input,
    config: rampart_rules::Config,
    tool_version: &str,
) -> Result<Scan, ClusterError> {
    scan_with(input, config, None, tool_version)
}

/// [`scan`], also auditing the resources with `policies` (Kyverno, Gatekeeper,
/// ValidatingAdmissionPolicy; see [`analyze::analyze`]).
pub fn scan_with(
    input: &Input,
    config: rampart_rules::Config,
    policies: Option<&rampart_engine::Policies>,
    tool_version: &str,
) -> Result<Scan, ClusterError> {
    let t0 = std::time::Instant::now();
    let mut read_kinds: Vec<String> = Vec::new();
    let mut read_resources: Vec<String> = Vec::new();
    let read = match input {
        Input::Live(opts) => {
            // the kinds the background Kyverno rules match are read too
            let mut opts = opts.clone();
            opts.extra_kinds = policy_kinds(policies)
                .into_iter()
                .map(|(_, kind)| kind)
                .collect();
            // and the cluster's PolicyExceptions, which the background scan applies
            if policies.is_some_and(|p| p.kyverno.is_some()) {
                opts.extra_kinds.extend([
                    "kyverno.io/*/PolicyException".to_string(),
                    "policies.kyverno.io/*/PolicyException".to_string(),
                ]);
            }
            opts.extra_kinds.sort();
            opts.extra_kinds.dedup();
            opts.extra_resources = vap_resources(policies)
                .into_iter()
                .map(|(_, what)| {
                    let (g, r) = what.split_once('/').unwrap_or(("", &what));
                    (g.to_string(), r.to_string())
                })
                .collect();
            opts.extra_resources.sort();
            opts.extra_resources.dedup();
            let f = fetch::fetch_blocking(&opts)?;
            read_kinds = f.kinds.clone();
            read_resources = f.resources.clone();
            Read {
                objects: f.objects,
                errors: Vec::new(),
                not_readable: f.not_readable,
                stats: Some(f.stats),
                context: f.context,
                server: f.server,
                kubelet: f.kubelet,
                notes: f.notes,
            }
        }
        Input::Dump { paths, namespace } => {
            let l = offline::load(paths, namespace.as_deref());
            let missing: Vec<(String, String)> = l
                .objects
                .iter()
                .filter(|o| o.kind() == "Node" && o.api_version() == "v1")
                .filter(|o| l.kubelet.binary_search_by(|k| k.node.as_str().cmp(o.name())).is_err())
                .map(|o| {
                    (
                        o.name().to_string(),
                        "the dump holds no nodes/<name>/configz.json (the output of `kubectl get --raw /api/v1/nodes/<name>/proxy/configz`)".to_string(),
                    )
                })
                .collect();
            Read {
                objects: l.objects,
                errors: l.errors,
                not_readable: Vec::new(),
                stats: None,
                context: String::new(),
                server: String::new(),
                kubelet: l.kubelet,
                notes: kubelet::notes(missing),
            }
        }
    };
    let Read {
        objects,
        errors,
        not_readable,
        stats,
        context,
        server,
        kubelet,
        notes,
    } = read;
    tracing::debug!(objects = objects.len(), elapsed = ?t0.elapsed(), "read");
    let mut analysis = analyze::analyze(&objects, &kubelet, config, policies)?;
    tracing::debug!(findings = analysis.findings.len(), elapsed = ?t0.elapsed(), "analyzed");
    analysis.errors.extend(errors);
    let mut report = report::ClusterReport::new(&analysis, &not_readable, tool_version);
    report.notes = notes;
    if matches!(input, Input::Live(_)) {
        report
            .notes
            .extend(unread_policy_kinds(&policy_kinds(policies), &read_kinds));
        report.notes.extend(unread_policy_resources(
            &vap_resources(policies),
            &read_resources,
        ));
    }
    if rampart_engine::cloud::provider(&objects).is_none() {
        // the cloud layer's score then rests on ServiceAccount identities alone
        report.notes.push(
            "cloud layer: no Node names a cloud provider (spec.providerID), so instance metadata \
             reachability was not judged; only ServiceAccount cloud identities were"
                .to_string(),
        );
    }
    tracing::debug!(elapsed = ?t0.elapsed(), "report built");
    // the process may end soon after: the objects are not needed any more
    drop(objects);
    Ok(Scan {
        analysis,
        report,
        fetch: stats,
        context,
        server,
    })
}

/// The kinds the policies audit: the background Kyverno rules' (`policy/rule`) and the
/// Gatekeeper constraints' (`Kind/name`), as kind selectors.
fn policy_kinds(policies: Option<&rampart_engine::Policies>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(p) = policies {
        if let Some(set) = &p.kyverno {
            out.extend(
                set.background_kinds()
                    .into_iter()
                    .map(|(policy, rule, kind)| (format!("{policy}/{rule}"), kind)),
            );
        }
        if let Some(set) = &p.gatekeeper {
            out.extend(set.constraint_kinds());
        }
    }
    out
}

/// The resources the ValidatingAdmissionPolicies match, as (policy, `group/plural`).
fn vap_resources(policies: Option<&rampart_engine::Policies>) -> Vec<(String, String)> {
    policies
        .and_then(|p| p.gatekeeper.as_ref())
        .map(|set| {
            set.policy_resources()
                .into_iter()
                .map(|(name, g, r)| {
                    // the core group's resources by their plural alone
                    let what = if g.is_empty() { r } else { format!("{g}/{r}") };
                    (name, what)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Notes on the kinds the policies audit ([`policy_kinds`]) that a live scan did not read
/// (`read`: the kinds it listed), so nothing is skipped silently: a kind the server does not
/// serve, a wildcard, Secrets (read as metadata only). One note per kind, naming the rules and
/// constraints.
fn unread_policy_kinds(kinds: &[(String, String)], read: &[String]) -> Vec<String> {
    unread_notes(kinds, |kind| {
        let name = kind.rsplit('/').next().unwrap_or(kind);
        if fetch::WANTED
            .iter()
            .any(|w| w.kind == name && w.metadata_only)
        {
            Some(true)
        } else if read.iter().any(|r| r == name) {
            None
        } else {
            Some(false)
        }
    })
}

/// [`unread_policy_kinds`] for the ValidatingAdmissionPolicies' resources (`group/plural`,
/// `read` as the scan listed them).
fn unread_policy_resources(resources: &[(String, String)], read: &[String]) -> Vec<String> {
    unread_notes(resources, |what| {
        let (group, plural) = what.split_once('/').unwrap_or(("", what));
        let listed = |r: &&String| {
            r.rsplit_once('/')
                .is_some_and(|(g, p)| p == plural && (group == "*" || g == group))
        };
        if group.is_empty() && plural == "secrets" {
            Some(true)
        } else if plural != "*" && read.iter().any(|r| listed(&r)) {
            None
        } else {
            Some(false)
        }
    })
}

/// One note per policy target not fully read: `state` says whether a target was read
/// (`None`), read as metadata only (`Some(true)`) or not read (`Some(false)`).
fn unread_notes(targets: &[(String, String)], state: impl Fn(&str) -> Option<bool>) -> Vec<String> {
    let mut by_kind: std::collections::BTreeMap<(&str, bool), Vec<String>> = Default::default();
    for (who, kind) in targets {
        if let Some(metadata) = state(kind) {
            let rules = by_kind.entry((kind.as_str(), metadata)).or_default();
            if !rules.contains(who) {
                rules.push(who.clone());
            }
        }
    }
    by_kind
        .into_iter()
        .map(|((kind, metadata), rules)| {
            format!(
                "policies: {} match{} `{kind}`, which the live scan {}; audit a dump that holds them (--from)",
                rules.join(", "),
                if rules.len() == 1 { "es" } else { "" },
                if metadata {
                    "reads as metadata only"
                } else {
                    "did not read (the server does not serve it, or it is a wildcard)"
                }
            )
        })
        .collect()
}

/// An output format of `cluster scan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Html,
    Sarif,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Format, String> {
        match s.to_ascii_lowercase().as_str() {
            "text" | "txt" => Ok(Format::Text),
            "json" => Ok(Format::Json),
            "html" => Ok(Format::Html),
            "sarif" => Ok(Format::Sarif),
            other => Err(format!(
                "unknown format `{other}`, expected text, json, html or sarif"
            )),
        }
    }
}

/// Writes a scan's report in `format`.
pub fn render(scan: &Scan, format: Format, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    match format {
        Format::Text => scan.report.text(out),
        Format::Json => scan.report.json(out),
        Format::Html => scan.report.html(out),
        Format::Sarif => report::sarif(&scan.analysis, &scan.report.tool_version, out),
    }
}

#[cfg(test)]
mod tests {
    use super::unread_policy_kinds;

    #[test]
    fn kinds_a_live_scan_does_not_read_are_noted() {
        let k = |p: &str, r: &str, kind: &str| (format!("{p}/{r}"), kind.to_string());
        let read: Vec<String> = ["Pod", "Deployment", "ConfigMap", "Secret"]
            .iter()
            .map(|k| k.to_string())
            .collect();
        let notes = unread_policy_kinds(
            &[
                k("team", "labels", "Pod"),
                k("team", "labels", "apps/v1/Deployment"),
                k("team", "labels", "ConfigMap"),
                k("cert", "duration", "cert-manager.io/v1/Certificate"),
                k("cert", "issuer", "cert-manager.io/v1/Certificate"),
                k("secrets", "type", "Secret"),
            ],
            &read,
        );
        assert_eq!(
            notes,
            vec![
                "policies: secrets/type matches `Secret`, which the live scan reads as metadata only; audit a dump that holds them (--from)",
                "policies: cert/duration, cert/issuer match `cert-manager.io/v1/Certificate`, which the live scan did not read (the server does not serve it, or it is a wildcard); audit a dump that holds them (--from)",
            ]
        );
    }
}
