//! The server's configuration file: which PSS levels and checks apply in which mode, per
//! namespace overrides, exemptions, the mutating endpoint and request limits.
//!
//! ```yaml
//! pss:
//!   enforce: baseline            # or baseline:v1.30
//!   warn: restricted
//! checks:
//!   warn: high                   # findings at or above this severity warn
//!   actions: { host-path-volume: enforce }
//! namespaces:
//!   legacy: { enforce: privileged }
//! exemptions:
//!   usernames: [system:serviceaccount:kube-system:replicaset-controller]
//! images:                        # signature policies, see `crate::images`
//!   - { name: acme, images: ["ghcr.io/acme/*"], keys: [cosign.pub], mutateDigest: true }
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use rampart_core::{InputError, Severity};
use serde::Deserialize;
use serde_json::Value;

use crate::pss::{Level, PssPolicy};

/// What a finding or a PSS violation does to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Deny the request, listing every violation.
    Enforce,
    /// Allow, with a warning the client shows.
    Warn,
    /// Allow, log and count.
    Audit,
    /// Ignore.
    Off,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Warn => "warn",
            Mode::Audit => "audit",
            Mode::Off => "off",
        }
    }
}

/// The PSS policy per mode (`None`: that mode is off).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ModePolicies {
    pub enforce: Option<PssPolicy>,
    pub audit: Option<PssPolicy>,
    pub warn: Option<PssPolicy>,
}

impl ModePolicies {
    /// PSA's defaults as rampart ships them: enforce baseline, warn restricted, both `latest`.
    pub fn rampart_default() -> Self {
        ModePolicies {
            enforce: Some(crate::pss::latest(Level::Baseline)),
            audit: None,
            warn: Some(crate::pss::latest(Level::Restricted)),
        }
    }
}

/// Severity thresholds and per-check actions for the check catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckActions {
    /// Findings at or above this severity deny (`None`: never).
    pub enforce: Option<Severity>,
    pub warn: Option<Severity>,
    pub audit: Option<Severity>,
    /// Per-check overrides by slug.
    pub actions: BTreeMap<String, Mode>,
}

impl Default for CheckActions {
    fn default() -> Self {
        CheckActions {
            enforce: None,
            warn: Some(Severity::High),
            audit: None,
            actions: BTreeMap::new(),
        }
    }
}

impl CheckActions {
    /// The mode a finding of this check and severity gets.
    pub fn mode_for(&self, check: &str, severity: Severity) -> Mode {
        if let Some(m) = self.actions.get(check) {
            return *m;
        }
        if self.enforce.is_some_and(|s| severity >= s) {
            Mode::Enforce
        } else if self.warn.is_some_and(|s| severity >= s) {
            Mode::Warn
        } else if self.audit.is_some_and(|s| severity >= s) {
            Mode::Audit
        } else {
            Mode::Off
        }
    }
}

/// PSA-style exemptions: matching requests are allowed without evaluation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exemptions {
    pub usernames: Vec<String>,
    pub namespaces: Vec<String>,
    pub runtime_class_names: Vec<String>,
}

/// Request limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest request body accepted (413 above).
    pub max_body_bytes: usize,
    /// Requests handled at once; more wait.
    pub max_concurrency: usize,
    /// Time allowed for the TLS handshake and the request headers (408 / close after).
    pub header_timeout: Duration,
    /// Time allowed to read the request body (408 after).
    pub body_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 3 * 1024 * 1024,
            max_concurrency: 512,
            header_timeout: Duration::from_secs(5),
            body_timeout: Duration::from_secs(10),
        }
    }
}

/// Where namespace labels come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NamespaceLabels {
    /// Watch Namespaces when a cluster is reachable (in-cluster or kubeconfig), else use the file.
    #[default]
    Auto,
    /// Only the config file's `namespaces`.
    Off,
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub pss: ModePolicies,
    pub checks: CheckActions,
    /// Per-namespace PSS overrides (used when labels cannot be read, and as a base under labels).
    pub namespaces: BTreeMap<String, PartialModePolicies>,
    pub exemptions: Exemptions,
    /// Judge workloads with pod templates like their pods (enforce included).
    pub workloads: bool,
    /// Serve `POST /mutate`.
    pub mutate: bool,
    pub limits: Limits,
    pub namespace_labels: NamespaceLabels,
    /// How often certificate files are polled for changes.
    pub cert_reload_interval: Duration,
    /// The check catalog's configuration — `checks.disable/only/severity` and `settings` —
    /// exactly as `rampart scan` reads it from the same file.
    pub catalog: rampart_rules::Config,
    /// Image signature policies (`images:`).
    pub images: Vec<crate::images::ImagePolicy>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            pss: ModePolicies::rampart_default(),
            checks: CheckActions::default(),
            namespaces: BTreeMap::new(),
            exemptions: Exemptions::default(),
            workloads: true,
            mutate: false,
            limits: Limits::default(),
            namespace_labels: NamespaceLabels::Auto,
            cert_reload_interval: Duration::from_secs(10),
            catalog: rampart_rules::Config::default(),
            images: Vec::new(),
        }
    }
}

/// Per-mode overrides; a mode left out keeps the default. `privileged` turns a mode off.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PartialModePolicies {
    pub enforce: Option<PssPolicy>,
    pub audit: Option<PssPolicy>,
    pub warn: Option<PssPolicy>,
}

impl PartialModePolicies {
    pub fn apply(&self, base: &mut ModePolicies) {
        if let Some(p) = &self.enforce {
            base.enforce = Some(*p);
        }
        if let Some(p) = &self.audit {
            base.audit = Some(*p);
        }
        if let Some(p) = &self.warn {
            base.warn = Some(*p);
        }
    }
}

// ---- raw file shape -------------------------------------------------------------------------

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawConfig {
    pss: Option<RawModes>,
    checks: Option<RawChecks>,
    #[serde(default)]
    namespaces: BTreeMap<String, RawModes>,
    exemptions: Option<RawExemptions>,
    workloads: Option<bool>,
    mutate: Option<bool>,
    limits: Option<RawLimits>,
    namespace_labels: Option<NamespaceLabels>,
    cert_reload_seconds: Option<u64>,
    /// The scan's keys: read through `rampart_rules::Config`.
    #[allow(dead_code)]
    settings: Option<Value>,
    #[allow(dead_code)]
    fail_on: Option<Value>,
    /// Read by `crate::images::parse_policies`, with positions.
    #[allow(dead_code)]
    images: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawModes {
    enforce: Option<String>,
    audit: Option<String>,
    warn: Option<String>,
    /// The scan's level and version (top-level `pss` only): enforced unless `enforce` is set.
    level: Option<String>,
    version: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawChecks {
    enforce: Option<String>,
    warn: Option<String>,
    audit: Option<String>,
    #[serde(default)]
    actions: BTreeMap<String, Mode>,
    /// The scan's keys: read through `rampart_rules::Config`.
    #[allow(dead_code)]
    disable: Option<Value>,
    #[allow(dead_code)]
    only: Option<Value>,
    #[allow(dead_code)]
    severity: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawExemptions {
    #[serde(default)]
    usernames: Vec<String>,
    #[serde(default)]
    namespaces: Vec<String>,
    #[serde(default)]
    runtime_class_names: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawLimits {
    max_body_bytes: Option<usize>,
    max_concurrency: Option<usize>,
    header_timeout_seconds: Option<u64>,
    body_timeout_seconds: Option<u64>,
}

/// Keys allowed at each level, to report an unknown key at its own line.
fn allowed_keys(pointer: &[&str]) -> Option<&'static [&'static str]> {
    const MODES: &[&str] = &["enforce", "audit", "warn"];
    match pointer {
        [] => Some(&[
            "pss",
            "checks",
            "namespaces",
            "exemptions",
            "workloads",
            "mutate",
            "limits",
            "namespaceLabels",
            "certReloadSeconds",
            "settings",
            "failOn",
            "images",
        ]),
        ["pss"] => Some(&["enforce", "audit", "warn", "level", "version"]),
        ["namespaces", _] => Some(MODES),
        ["checks"] => Some(&[
            "enforce", "audit", "warn", "actions", "disable", "only", "severity",
        ]),
        ["exemptions"] => Some(&["usernames", "namespaces", "runtimeClassNames"]),
        ["limits"] => Some(&[
            "maxBodyBytes",
            "maxConcurrency",
            "headerTimeoutSeconds",
            "bodyTimeoutSeconds",
        ]),
        _ => None,
    }
}

fn check_keys(
    v: &Value,
    path: &mut Vec<String>,
    doc: &rampart_manifest::YamlDoc,
    file: &str,
    errs: &mut Vec<InputError>,
) {
    let Value::Object(map) = v else { return };
    let segs: Vec<&str> = path.iter().map(String::as_str).collect();
    let allowed = allowed_keys(&segs);
    for (k, child) in map {
        path.push(k.clone());
        let ptr = pointer_of(path);
        match allowed {
            Some(keys) if !keys.contains(&k.as_str()) => {
                let ((line, col), _) = doc.find_nearest(&ptr);
                errs.push(InputError {
                    file: file.to_string(),
                    line,
                    column: col,
                    message: format!("unknown key `{k}`, expected one of {}", keys.join(", ")),
                });
            }
            _ => check_keys(child, path, doc, file, errs),
        }
        path.pop();
    }
}

fn pointer_of(path: &[String]) -> String {
    let mut s = String::new();
    for p in path {
        s.push('/');
        s.push_str(&rampart_manifest::escape_segment(p));
    }
    s
}

pub(crate) fn err_at(
    doc: &rampart_manifest::YamlDoc,
    file: &str,
    ptr: &str,
    message: String,
) -> InputError {
    let ((line, column), _) = doc.find_nearest(ptr);
    InputError {
        file: file.to_string(),
        line,
        column,
        message,
    }
}

fn severity_opt(
    s: Option<&str>,
    default: Option<Severity>,
    doc: &rampart_manifest::YamlDoc,
    file: &str,
    ptr: &str,
    errs: &mut Vec<InputError>,
) -> Option<Severity> {
    match s {
        None => default,
        Some("none" | "off") => None,
        Some(s) => match s.parse::<Severity>() {
            Ok(v) => Some(v),
            Err(e) => {
                errs.push(err_at(doc, file, ptr, format!("{e} (or none)")));
                default
            }
        },
    }
}

fn policy_opt(
    s: Option<&str>,
    doc: &rampart_manifest::YamlDoc,
    file: &str,
    ptr: &str,
    errs: &mut Vec<InputError>,
) -> Option<PssPolicy> {
    let s = s?;
    match crate::pss::parse_policy(s) {
        Ok(p) => Some(p),
        Err(e) => {
            errs.push(err_at(doc, file, ptr, e));
            None
        }
    }
}

fn modes(
    raw: &RawModes,
    doc: &rampart_manifest::YamlDoc,
    file: &str,
    base: &str,
    errs: &mut Vec<InputError>,
) -> PartialModePolicies {
    PartialModePolicies {
        enforce: policy_opt(
            raw.enforce.as_deref(),
            doc,
            file,
            &format!("{base}/enforce"),
            errs,
        ),
        audit: policy_opt(
            raw.audit.as_deref(),
            doc,
            file,
            &format!("{base}/audit"),
            errs,
        ),
        warn: policy_opt(
            raw.warn.as_deref(),
            doc,
            file,
            &format!("{base}/warn"),
            errs,
        ),
    }
}

/// A catalog configuration error as a positioned input error.
fn config_error(file: &str, e: rampart_rules::ConfigError) -> InputError {
    match e {
        rampart_rules::ConfigError::Invalid {
            file,
            line,
            column,
            message,
        } => InputError {
            file,
            line,
            column,
            message,
        },
        rampart_rules::ConfigError::UnknownCheck { check, at } => {
            let (file, line, column) =
                at.map_or((file.to_string(), 0, 0), |a| (a.file, a.line, a.column));
            InputError {
                file,
                line,
                column,
                message: format!("unknown check `{check}` (see `rampart checks`)"),
            }
        }
        other => InputError {
            file: file.to_string(),
            line: 0,
            column: 0,
            message: other.to_string(),
        },
    }
}

/// Kubernetes YAML reads `off`/`no`/`on` as booleans: accept them where a switch word is meant.
fn yaml11_switches(mut v: Value) -> Value {
    fn set(v: Option<&mut Value>, off: &str, on: Option<&str>) {
        if let Some(x) = v {
            match (&*x, on) {
                (Value::Bool(false), _) => *x = Value::String(off.to_string()),
                (Value::Bool(true), Some(on)) => *x = Value::String(on.to_string()),
                _ => {}
            }
        }
    }
    set(v.get_mut("namespaceLabels"), "off", Some("auto"));
    if let Some(c) = v.get_mut("checks") {
        for k in ["enforce", "warn", "audit"] {
            set(c.get_mut(k), "none", None);
        }
        if let Some(Value::Object(actions)) = c.get_mut("actions") {
            for a in actions.values_mut() {
                set(Some(a), "off", None);
            }
        }
    }
    v
}

impl Config {
    /// Parses a configuration file's text. Every problem is reported as `file:line:col`.
    pub fn parse(file: &str, text: &str) -> Result<Config, Vec<InputError>> {
        let (docs, mut errs) = rampart_manifest::parse_yaml(file, text);
        if !errs.is_empty() {
            return Err(errs);
        }
        let mut docs = docs.into_iter();
        let Some(doc) = docs.next() else {
            return Ok(Config::default());
        };
        if docs.next().is_some() {
            return Err(vec![InputError {
                file: file.to_string(),
                line: 0,
                column: 0,
                message: "expected one YAML document".to_string(),
            }]);
        }
        if !doc.value.is_object() {
            return Err(vec![err_at(
                &doc,
                file,
                "",
                "expected a mapping at the top level".to_string(),
            )]);
        }
        check_keys(&doc.value, &mut Vec::new(), &doc, file, &mut errs);
        if !errs.is_empty() {
            return Err(errs);
        }
        let raw: RawConfig = match serde_json::from_value(yaml11_switches(doc.value.clone())) {
            Ok(r) => r,
            Err(e) => {
                return Err(vec![err_at(
                    &doc,
                    file,
                    "",
                    format!("invalid configuration: {e}"),
                )]);
            }
        };
        let mut cfg = Config::default();
        // the catalog's part of the file, read and validated as `rampart scan` reads it
        match rampart_rules::Config::parse(file, text)
            .map_err(|e| vec![e])
            .and_then(|c| rampart_engine::resolve_config(c, rampart_engine::registry()))
        {
            Ok(c) => cfg.catalog = c,
            Err(es) => errs.extend(es.into_iter().map(|e| config_error(file, e))),
        }
        if let Some(p) = &raw.pss {
            modes(p, &doc, file, "/pss", &mut errs).apply(&mut cfg.pss);
            // the scan's `level` is what the webhook enforces, unless `enforce` says otherwise
            if p.enforce.is_none()
                && let Some(level) = &p.level
            {
                let spec = format!("{level}:{}", p.version.as_deref().unwrap_or("latest"));
                cfg.pss.enforce = policy_opt(Some(&spec), &doc, file, "/pss/level", &mut errs);
            }
        }
        if let Some(c) = &raw.checks {
            let d = CheckActions::default();
            cfg.checks = CheckActions {
                enforce: severity_opt(
                    c.enforce.as_deref(),
                    d.enforce,
                    &doc,
                    file,
                    "/checks/enforce",
                    &mut errs,
                ),
                warn: severity_opt(
                    c.warn.as_deref(),
                    d.warn,
                    &doc,
                    file,
                    "/checks/warn",
                    &mut errs,
                ),
                audit: severity_opt(
                    c.audit.as_deref(),
                    d.audit,
                    &doc,
                    file,
                    "/checks/audit",
                    &mut errs,
                ),
                actions: c.actions.clone(),
            };
        }
        // what fails the scan (`failOn`) is denied at admission, unless `checks.enforce` is set
        let enforce_set = raw.checks.as_ref().is_some_and(|c| c.enforce.is_some());
        if let (false, Some(sev)) = (enforce_set, cfg.catalog.fail_on) {
            cfg.checks.enforce = Some(sev);
        }
        for (ns, m) in &raw.namespaces {
            let base = format!("/namespaces/{}", rampart_manifest::escape_segment(ns));
            cfg.namespaces
                .insert(ns.clone(), modes(m, &doc, file, &base, &mut errs));
        }
        if let Some(e) = raw.exemptions {
            cfg.exemptions = Exemptions {
                usernames: e.usernames,
                namespaces: e.namespaces,
                runtime_class_names: e.runtime_class_names,
            };
        }
        if let Some(w) = raw.workloads {
            cfg.workloads = w;
        }
        if let Some(m) = raw.mutate {
            cfg.mutate = m;
        }
        if let Some(l) = raw.limits {
            let d = Limits::default();
            cfg.limits = Limits {
                max_body_bytes: l.max_body_bytes.unwrap_or(d.max_body_bytes),
                max_concurrency: l.max_concurrency.unwrap_or(d.max_concurrency).max(1),
                header_timeout: l
                    .header_timeout_seconds
                    .map(Duration::from_secs)
                    .unwrap_or(d.header_timeout),
                body_timeout: l
                    .body_timeout_seconds
                    .map(Duration::from_secs)
                    .unwrap_or(d.body_timeout),
            };
        }
        if let Some(n) = raw.namespace_labels {
            cfg.namespace_labels = n;
        }
        if let Some(s) = raw.cert_reload_seconds {
            cfg.cert_reload_interval = Duration::from_secs(s.max(1));
        }
        cfg.images = crate::images::parse_policies(&doc, file, &mut errs);
        for (i, p) in cfg.images.iter().enumerate() {
            if p.mutate_digest && !cfg.mutate {
                errs.push(err_at(
                    &doc,
                    file,
                    &format!("/images/{i}/mutateDigest"),
                    "`mutateDigest` pins digests in /mutate responses: set `mutate: true` to serve it"
                        .to_string(),
                ));
            }
        }
        if errs.is_empty() { Ok(cfg) } else { Err(errs) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_config_is_the_default() {
        assert_eq!(Config::parse("c.yaml", "").unwrap(), Config::default());
    }

    #[test]
    fn parses_every_section() {
        let text = "pss:\n  enforce: restricted:v1.30\n  warn: privileged\nchecks:\n  enforce: critical\n  warn: none\n  actions:\n    foo: audit\nnamespaces:\n  legacy:\n    enforce: privileged\nexemptions:\n  usernames: [admin]\n  runtimeClassNames: [kata]\nworkloads: false\nmutate: true\nlimits:\n  maxBodyBytes: 1024\n";
        let c = Config::parse("c.yaml", text).unwrap();
        assert_eq!(
            c.pss.enforce.as_ref().unwrap().to_string(),
            "restricted:v1.30"
        );
        assert_eq!(c.checks.enforce, Some(Severity::Critical));
        assert_eq!(c.checks.warn, None);
        assert_eq!(c.checks.mode_for("foo", Severity::Critical), Mode::Audit);
        assert_eq!(c.checks.mode_for("bar", Severity::Critical), Mode::Enforce);
        assert_eq!(c.checks.mode_for("bar", Severity::High), Mode::Off);
        assert!(c.namespaces.contains_key("legacy"));
        assert_eq!(c.exemptions.usernames, vec!["admin".to_string()]);
        assert!(!c.workloads);
        assert!(c.mutate);
        assert_eq!(c.limits.max_body_bytes, 1024);
    }

    #[test]
    fn unknown_key_is_reported_at_its_line() {
        let errs = Config::parse(
            "c.yaml",
            "pss:\n  enforce: baseline\n  enfroce: restricted\n",
        )
        .unwrap_err();
        assert_eq!(errs.len(), 1);
        let msg = errs[0].to_string();
        assert!(msg.starts_with("c.yaml:3:"), "{msg}");
        assert!(msg.contains("unknown key `enfroce`"), "{msg}");
    }

    #[test]
    fn the_catalog_reads_around_the_images_section_with_true_positions() {
        let text = "images:\n  - name: a\n    images: [x/*]\n    keys:\n      - |\n        -----BEGIN PUBLIC KEY-----\n        MFkw\n        -----END PUBLIC KEY-----\n# note\nchecks:\n  disable: [no-such-check]\n";
        let errs = Config::parse("c.yaml", text).unwrap_err();
        let all: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert!(
            all.iter()
                .any(|e| e.starts_with("c.yaml:11:") && e.contains("no-such-check")),
            "{all:?}"
        );
        // the inline key is bad too, reported where it is
        assert!(
            all.contains(&"c.yaml:6:9: keys[0]: not a SubjectPublicKeyInfo".to_string()),
            "{all:?}"
        );
    }

    #[test]
    fn bad_level_is_reported_at_its_line() {
        let errs = Config::parse("c.yaml", "namespaces:\n  a:\n    warn: strict\n").unwrap_err();
        assert!(errs[0].to_string().starts_with("c.yaml:3:"), "{}", errs[0]);
    }
}
