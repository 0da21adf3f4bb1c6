//! Kubernetes label selectors and Gatekeeper's `*` prefix/suffix wildcards.

use serde_json::{Map, Value};

/// The manifest crate's one `LabelSelector`, with the error as the policies report it.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct LabelSelector(rampart_manifest::LabelSelector);

impl LabelSelector {
    /// Parses a selector; the error says what is wrong with it and where.
    pub(crate) fn parse(v: &Value) -> Result<LabelSelector, String> {
        rampart_manifest::LabelSelector::parse(v)
            .map(LabelSelector)
            .map_err(|e| {
                if e.pointer.is_empty() {
                    e.message
                } else {
                    format!("{} (at {})", e.message, e.pointer)
                }
            })
    }

    /// Whether labels (absent = none) satisfy every requirement.
    pub(crate) fn matches(&self, labels: Option<&Map<String, Value>>) -> bool {
        self.0.matches_map(labels)
    }
}

/// Gatekeeper's wildcard: `kube-*` is a prefix, `*-system` a suffix, `*x*` a substring; anything
/// else must be equal.
pub(crate) fn wildcard_matches(pattern: &str, candidate: &str) -> bool {
    let starts = pattern.starts_with('*');
    let ends = pattern.len() > 1 && pattern.ends_with('*');
    match (starts, ends) {
        (true, true) => candidate.contains(pattern.trim_start_matches('*').trim_end_matches('*')),
        (true, false) => candidate.ends_with(pattern.trim_start_matches('*')),
        (false, true) => candidate.starts_with(pattern.trim_end_matches('*')),
        (false, false) => pattern == candidate,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selector_semantics() {
        let s = LabelSelector::parse(&json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]}]
        }))
        .unwrap();
        assert!(s.matches(json!({"app": "web"}).as_object()));
        assert!(!s.matches(json!({"app": "web", "tier": "db"}).as_object()));
        assert!(!s.matches(None));
        assert!(
            LabelSelector::parse(&json!({"matchExpressions": [{"key": "a", "operator": "Is"}]}))
                .is_err()
        );
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_matches("kube-*", "kube-system"));
        assert!(wildcard_matches("*-system", "gatekeeper-system"));
        assert!(!wildcard_matches("*-system", "default"));
        assert!(wildcard_matches("*ub*", "kube"));
        assert!(wildcard_matches("*", "anything"));
        assert!(!wildcard_matches("kube", "kube-system"));
    }
}
