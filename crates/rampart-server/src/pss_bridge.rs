//! The one place that calls `rampart-pss`, translating its types to the server's.

use serde_json::{Map, Value};

use crate::pss::{Level, PssPolicy, Violation};

fn to_pss(policy: &PssPolicy) -> rampart_pss::Policy {
    let level = match policy.level {
        Level::Privileged => rampart_pss::Level::Privileged,
        Level::Baseline => rampart_pss::Level::Baseline,
        Level::Restricted => rampart_pss::Level::Restricted,
    };
    let version =
        rampart_pss::Version::parse_label(&policy.version).unwrap_or(rampart_pss::Version::Latest);
    rampart_pss::Policy::new(level, version)
}

fn from_pss(policy: rampart_pss::Policy) -> PssPolicy {
    let level = match policy.level {
        rampart_pss::Level::Privileged => Level::Privileged,
        rampart_pss::Level::Baseline => Level::Baseline,
        rampart_pss::Level::Restricted => Level::Restricted,
    };
    PssPolicy {
        level,
        version: policy.version.to_string(),
    }
}

/// See [`crate::pss::policies_from_labels`]: a mode counts as labeled when its level label
/// holds a string.
pub(crate) fn policies_from_labels(
    labels: &Map<String, Value>,
) -> crate::config::PartialModePolicies {
    let parsed = rampart_pss::namespace_policies(labels);
    let labeled = |mode: &str| {
        labels
            .get(&format!("pod-security.kubernetes.io/{mode}"))
            .is_some_and(Value::is_string)
    };
    crate::config::PartialModePolicies {
        enforce: labeled("enforce").then(|| from_pss(parsed.enforce)),
        audit: labeled("audit").then(|| from_pss(parsed.audit)),
        warn: labeled("warn").then(|| from_pss(parsed.warn)),
    }
}

/// Evaluates with `rampart-pss`. `None`: the object has no pod spec.
pub(crate) fn evaluate(policy: &PssPolicy, object: &Value) -> Option<Vec<Violation>> {
    rampart_pss::evaluate_object(to_pss(policy), object)
}
