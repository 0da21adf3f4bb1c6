//! The Pod Security Standards seam: levels, versions, namespace labels, and the evaluator the
//! server calls (`rampart-pss` in production, a double in tests).

use std::fmt;

use serde_json::{Map, Value};

/// A Pod Security Standards level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Privileged,
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

    fn parse(s: &str) -> Option<Level> {
        match s {
            "privileged" => Some(Level::Privileged),
            "baseline" => Some(Level::Baseline),
            "restricted" => Some(Level::Restricted),
            _ => None,
        }
    }
}

/// A level at a version (`latest` or `v1.N`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PssPolicy {
    pub level: Level,
    /// `latest` or `v1.N`.
    pub version: String,
}

impl PssPolicy {
    pub fn latest(level: Level) -> Self {
        PssPolicy {
            level,
            version: "latest".to_string(),
        }
    }

    /// Parses `level` or `level:version`.
    pub fn parse(s: &str) -> Result<PssPolicy, String> {
        let (l, v) = s.split_once(':').unwrap_or((s, "latest"));
        let level = Level::parse(l).ok_or_else(|| {
            format!("unknown PSS level `{l}`, expected privileged, baseline or restricted")
        })?;
        if !valid_version(v) {
            return Err(format!(
                "invalid PSS version `{v}`, expected latest or v1.N"
            ));
        }
        Ok(PssPolicy {
            level,
            version: v.to_string(),
        })
    }
}

impl fmt::Display for PssPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.level.as_str(), self.version)
    }
}

fn valid_version(v: &str) -> bool {
    v == "latest"
        || v.strip_prefix("v1.")
            .is_some_and(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()))
}

/// A violation as `rampart-pss` reports it: upstream check ID, reason and detail.
pub use rampart_pss::Violation;

/// Formats violations the way the API server's PodSecurity admission does.
pub use rampart_pss::format_reasons as format_violations;

/// Evaluates an object (a Pod or a workload with a pod template) against a policy.
pub trait PodSecurity: Send + Sync + 'static {
    /// `None` when the object has no pod spec; otherwise the violations (empty: passes).
    fn evaluate(&self, policy: &PssPolicy, object: &Value) -> Option<Vec<Violation>>;
}

/// The production evaluator: `rampart-pss`.
#[derive(Debug, Default, Clone, Copy)]
pub struct RampartPss;

impl PodSecurity for RampartPss {
    fn evaluate(&self, policy: &PssPolicy, object: &Value) -> Option<Vec<Violation>> {
        crate::pss_bridge::evaluate(policy, object)
    }
}

/// The PSS policies a namespace's `pod-security.kubernetes.io/*` labels set, per mode; `None`
/// where the namespace has no level label for that mode. The labels are read by
/// `rampart_pss::namespace_policies`, as Pod Security Admission reads them: an invalid
/// `enforce` level fails closed (`restricted`), an invalid `audit` or `warn` level fails open
/// (`privileged`), and an invalid version is `latest`.
pub fn policies_from_labels(labels: &Map<String, Value>) -> crate::config::PartialModePolicies {
    crate::pss_bridge::policies_from_labels(labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_policies() {
        assert_eq!(
            PssPolicy::parse("baseline").unwrap().to_string(),
            "baseline:latest"
        );
        assert_eq!(
            PssPolicy::parse("restricted:v1.29").unwrap().to_string(),
            "restricted:v1.29"
        );
        assert!(PssPolicy::parse("strict").is_err());
        assert!(PssPolicy::parse("baseline:1.29").is_err());
    }

    #[test]
    fn labels_override_per_mode() {
        let labels: Map<String, Value> = serde_json::from_str(
            r#"{"pod-security.kubernetes.io/enforce":"restricted","pod-security.kubernetes.io/enforce-version":"v1.30","pod-security.kubernetes.io/warn":"bogus"}"#,
        )
        .unwrap();
        let p = policies_from_labels(&labels);
        assert_eq!(p.enforce.unwrap().to_string(), "restricted:v1.30");
        assert_eq!(p.warn.unwrap().to_string(), "privileged:latest");
        assert!(p.audit.is_none());
        // an invalid enforce level fails closed, an invalid audit level open
        let labels: Map<String, Value> = serde_json::from_str(
            r#"{"pod-security.kubernetes.io/enforce":"strict","pod-security.kubernetes.io/audit":"","pod-security.kubernetes.io/audit-version":"1.30"}"#,
        )
        .unwrap();
        let p = policies_from_labels(&labels);
        assert_eq!(p.enforce.unwrap().to_string(), "restricted:latest");
        assert_eq!(p.audit.unwrap().to_string(), "privileged:latest");
        assert!(p.warn.is_none());
    }

    #[test]
    fn formats_like_psa() {
        let v = vec![
            Violation {
                check: "a",
                reason: "host namespaces".into(),
                detail: "hostNetwork=true".into(),
                pointers: Vec::new(),
            },
            Violation {
                check: "b",
                reason: "privileged".into(),
                detail: String::new(),
                pointers: Vec::new(),
            },
        ];
        assert_eq!(
            format_violations(&v),
            "host namespaces (hostNetwork=true), privileged"
        );
    }
}
