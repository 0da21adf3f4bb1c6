//! The one place that calls `rampart-pss` for namespace labels and evaluation.

use serde_json::{Map, Value};

use crate::pss::{PssPolicy, Violation};

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
        enforce: labeled("enforce").then_some(parsed.enforce),
        audit: labeled("audit").then_some(parsed.audit),
        warn: labeled("warn").then_some(parsed.warn),
    }
}

/// Evaluates with `rampart-pss`. `None`: the object has no pod spec.
pub(crate) fn evaluate(policy: &PssPolicy, object: &Value) -> Option<Vec<Violation>> {
    rampart_pss::evaluate_object(*policy, object)
}
