//! Levels, versions, policies and the namespace labels that select them.

use serde_json::{Map, Value};
use std::fmt;
use std::str::FromStr;

/// The newest policy version any check defines (`latest` evaluates as this one).
pub const MAX_MINOR: u32 = 37;

/// Errors of this crate: policy names that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PssError {
    /// A level that is not `privileged`, `baseline` or `restricted`.
    #[error("unknown level `{0}`, expected one of privileged, baseline, restricted")]
    UnknownLevel(String),
    /// A version that is not `latest` or `v1.0` … `v1.37`.
    #[error("invalid version `{0}`, expected \"latest\" or one of v1.0 … v1.{MAX_MINOR}")]
    InvalidVersion(String),
}

/// A Pod Security Standards level, ordered from least to most strict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Level {
    Privileged,
    #[default]
    Baseline,
    Restricted,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Privileged => "privileged",
            Level::Baseline => "baseline",
            Level::Restricted => "restricted",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Level {
    type Err = PssError;
    /// Exact, case-sensitive, like the API server.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "privileged" => Ok(Level::Privileged),
            "baseline" => Ok(Level::Baseline),
            "restricted" => Ok(Level::Restricted),
            _ => Err(PssError::UnknownLevel(s.to_string())),
        }
    }
}

/// A policy version: `latest` or a Kubernetes minor version (`v1.29` is `V(29)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Version {
    #[default]
    Latest,
    V(u32),
}

impl Version {
    /// The minor version the checks are evaluated at: versions newer than every check (and
    /// `latest`) evaluate as the newest one, as Pod Security Admission does.
    pub fn effective_minor(self) -> u32 {
        match self {
            Version::Latest => MAX_MINOR,
            Version::V(m) => m.min(MAX_MINOR),
        }
    }

    /// Parses any version the API server accepts in a namespace label (`latest`, `v1.N` for
    /// every N), unlike [`FromStr`], which only takes the versions this build defines.
    pub fn parse_label(s: &str) -> Option<Version> {
        if s == "latest" {
            return Some(Version::Latest);
        }
        let minor = s.strip_prefix("v1.")?;
        let canonical = minor == "0" || (!minor.is_empty() && !minor.starts_with('0'));
        if !canonical || !minor.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        minor.parse().ok().map(Version::V)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Version::Latest => f.write_str("latest"),
            Version::V(m) => write!(f, "v1.{m}"),
        }
    }
}

impl FromStr for Version {
    type Err = PssError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match Version::parse_label(s) {
            Some(Version::V(m)) if m > MAX_MINOR => Err(PssError::InvalidVersion(s.to_string())),
            Some(v) => Ok(v),
            None => Err(PssError::InvalidVersion(s.to_string())),
        }
    }
}

/// A level at a version, e.g. `restricted:latest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Policy {
    pub level: Level,
    pub version: Version,
}

impl Policy {
    pub fn new(level: Level, version: Version) -> Policy {
        Policy { level, version }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.level, self.version)
    }
}

impl FromStr for Policy {
    type Err = PssError;
    /// `restricted`, `restricted:latest` or `baseline:v1.29`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (level, version) = s.split_once(':').unwrap_or((s, "latest"));
        Ok(Policy {
            level: level.parse()?,
            version: version.parse()?,
        })
    }
}

/// The policy of each Pod Security Admission mode in a namespace.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NamespacePolicies {
    /// Violations are rejected (for Pods; workload templates only warn in a cluster).
    pub enforce: Policy,
    /// Violations are recorded in the audit log.
    pub audit: Policy,
    /// Violations are returned to the client as warnings.
    pub warn: Policy,
    /// Labels that could not be parsed, as `label: message`.
    pub errors: Vec<String>,
}

pub(crate) const LABEL_PREFIX: &str = "pod-security.kubernetes.io/";

/// The policies of a namespace from its `pod-security.kubernetes.io/{enforce,audit,warn}` and
/// `…-version` labels; every mode without a label gets `baseline:latest`.
///
/// Invalid label values are handled as Pod Security Admission handles them: an invalid
/// `enforce` level fails closed (`restricted`), an invalid `audit` or `warn` level fails open
/// (`privileged`), and an invalid version is `latest`. Each is listed in
/// [`NamespacePolicies::errors`].
pub fn namespace_policies(ns_labels: &Map<String, Value>) -> NamespacePolicies {
    let default = Policy::new(Level::Baseline, Version::Latest);
    namespace_policies_with(ns_labels, default)
}

/// [`namespace_policies`] with the policy unlabeled modes get.
pub fn namespace_policies_with(
    ns_labels: &Map<String, Value>,
    default: Policy,
) -> NamespacePolicies {
    let mut p = NamespacePolicies {
        enforce: default,
        audit: default,
        warn: default,
        errors: Vec::new(),
    };
    for (mode, fail_level) in [
        ("enforce", Level::Restricted),
        ("audit", Level::Privileged),
        ("warn", Level::Privileged),
    ] {
        let target = match mode {
            "enforce" => &mut p.enforce,
            "audit" => &mut p.audit,
            _ => &mut p.warn,
        };
        let level_key = format!("{LABEL_PREFIX}{mode}");
        if let Some(v) = ns_labels.get(&level_key) {
            match v.as_str().map(str::parse::<Level>) {
                Some(Ok(level)) => target.level = level,
                _ => {
                    target.level = fail_level;
                    p.errors.push(format!(
                        "{level_key}: {}: must be one of privileged, baseline, restricted",
                        show(v)
                    ));
                }
            }
        }
        let version_key = format!("{level_key}-version");
        if let Some(v) = ns_labels.get(&version_key) {
            match v.as_str().and_then(Version::parse_label) {
                Some(version) => target.version = version,
                None => {
                    target.version = Version::Latest;
                    p.errors.push(format!(
                        "{version_key}: {}: must be \"latest\" or \"v1.x\"",
                        show(v)
                    ));
                }
            }
        }
    }
    p
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn versions_parse_and_display() {
        assert_eq!("latest".parse::<Version>().unwrap(), Version::Latest);
        assert_eq!("v1.29".parse::<Version>().unwrap(), Version::V(29));
        assert_eq!(Version::V(29).to_string(), "v1.29");
        assert_eq!("v1.0".parse::<Version>().unwrap(), Version::V(0));
        for bad in [
            "v1.38", "1.29", "v2.0", "v1.01", "v1.", "", "Latest", "v1.-1",
        ] {
            assert!(bad.parse::<Version>().is_err(), "{bad}");
        }
        assert_eq!(Version::parse_label("v1.99"), Some(Version::V(99)));
        assert_eq!(Version::V(99).effective_minor(), MAX_MINOR);
    }

    #[test]
    fn policy_displays_like_the_api_server() {
        let p: Policy = "restricted".parse().unwrap();
        assert_eq!(p.to_string(), "restricted:latest");
        assert_eq!(
            "baseline:v1.29".parse::<Policy>().unwrap().to_string(),
            "baseline:v1.29"
        );
        assert!("Restricted".parse::<Level>().is_err());
    }

    #[test]
    fn invalid_labels_fail_closed_for_enforce_and_open_for_the_rest() {
        let labels = json!({
            "pod-security.kubernetes.io/enforce": "strict",
            "pod-security.kubernetes.io/audit": "nope",
            "pod-security.kubernetes.io/warn": "restricted",
            "pod-security.kubernetes.io/warn-version": "v1.x",
        });
        let p = namespace_policies(labels.as_object().unwrap());
        assert_eq!(p.enforce.level, Level::Restricted);
        assert_eq!(p.audit.level, Level::Privileged);
        assert_eq!(p.warn, Policy::new(Level::Restricted, Version::Latest));
        assert_eq!(p.errors.len(), 3);
        let empty = namespace_policies(&Map::new());
        assert_eq!(empty.enforce, Policy::new(Level::Baseline, Version::Latest));
        assert!(empty.errors.is_empty());
    }
}
