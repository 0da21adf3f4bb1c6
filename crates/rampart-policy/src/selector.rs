//! Kubernetes label selectors and Gatekeeper's `*` prefix/suffix wildcards.

use serde_json::{Map, Value};

/// One `matchExpressions` requirement.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Requirement {
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

/// A parsed `metav1.LabelSelector`: `matchLabels` and `matchExpressions`, ANDed.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct LabelSelector {
    pub(crate) reqs: Vec<Requirement>,
}

impl LabelSelector {
    /// Parses a selector; the error says what is wrong with it.
    pub(crate) fn parse(v: &Value) -> Result<LabelSelector, String> {
        let Some(m) = v.as_object() else {
            return Err("label selector must be an object".into());
        };
        let mut reqs = Vec::new();
        if let Some(ml) = m.get("matchLabels").filter(|v| !v.is_null()) {
            let Some(ml) = ml.as_object() else {
                return Err("matchLabels must be a map of strings".into());
            };
            for (k, v) in ml {
                reqs.push(Requirement::In(k.clone(), vec![scalar_string(v)]));
            }
        }
        if let Some(me) = m.get("matchExpressions").filter(|v| !v.is_null()) {
            let Some(me) = me.as_array() else {
                return Err("matchExpressions must be a list".into());
            };
            for e in me {
                let key = e
                    .get("key")
                    .and_then(Value::as_str)
                    .ok_or("matchExpressions entry needs a key")?;
                let op = e.get("operator").and_then(Value::as_str).unwrap_or("");
                let values: Vec<String> = e
                    .get("values")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().map(scalar_string).collect())
                    .unwrap_or_default();
                let key = key.to_string();
                reqs.push(match op {
                    "In" | "NotIn" if values.is_empty() => {
                        return Err(format!("operator {op} on key `{key}` needs values"));
                    }
                    "In" => Requirement::In(key, values),
                    "NotIn" => Requirement::NotIn(key, values),
                    "Exists" => Requirement::Exists(key),
                    "DoesNotExist" => Requirement::DoesNotExist(key),
                    other => {
                        return Err(format!(
                            "unknown operator `{other}`, expected In, NotIn, Exists or DoesNotExist"
                        ));
                    }
                });
            }
        }
        Ok(LabelSelector { reqs })
    }

    /// Whether labels (absent = none) satisfy every requirement.
    pub(crate) fn matches(&self, labels: Option<&Map<String, Value>>) -> bool {
        let get = |k: &str| labels.and_then(|l| l.get(k)).map(scalar_string);
        self.reqs.iter().all(|r| match r {
            Requirement::In(k, vs) => get(k).is_some_and(|v| vs.contains(&v)),
            Requirement::NotIn(k, vs) => get(k).is_none_or(|v| !vs.contains(&v)),
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::DoesNotExist(k) => get(k).is_none(),
        })
    }
}

fn scalar_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
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
