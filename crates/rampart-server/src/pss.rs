//! The Pod Security Standards seam: levels, versions, namespace labels, and the evaluator the
//! server calls (`rampart-pss` in production, a double in tests).

use serde_json::{Map, Value};

/// The Pod Security Standards types are `rampart-pss`'s own: one `Level`, one `Policy`.
pub use rampart_pss::{Level, Policy as PssPolicy, Version};

/// `level` or `level:version`, as the configuration and namespace labels spell a policy.
pub fn parse_policy(s: &str) -> Result<PssPolicy, String> {
    s.parse::<PssPolicy>().map_err(|e| e.to_string())
}

/// A level at the latest version.
pub fn latest(level: Level) -> PssPolicy {
    PssPolicy::new(level, Version::Latest)
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
            parse_policy("baseline").unwrap().to_string(),
            "baseline:latest"
        );
        assert_eq!(
            parse_policy("restricted:v1.29").unwrap().to_string(),
            "restricted:v1.29"
        );
        assert!(parse_policy("strict").is_err());
        assert!(parse_policy("baseline:1.29").is_err());
        // the version is read as rampart-pss reads it, not as a string of digits
        assert!(parse_policy("restricted:v1.029").is_err());
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
