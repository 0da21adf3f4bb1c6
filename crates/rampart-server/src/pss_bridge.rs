//! The one place that calls `rampart-pss`, translating its types to the server's.

use serde_json::Value;

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

/// Evaluates with `rampart-pss`. `None`: the object has no pod spec.
pub(crate) fn evaluate(policy: &PssPolicy, object: &Value) -> Option<Vec<Violation>> {
    rampart_pss::evaluate_object(to_pss(policy), object)
}
