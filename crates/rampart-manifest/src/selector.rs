//! The one Kubernetes `LabelSelector`: `matchLabels` and `matchExpressions`, ANDed, with the
//! same answers in every analyzer. The empty selector matches everything; a malformed one is an
//! error at its field, which each caller reports (the API server would reject the object).
//!
//! ```
//! use rampart_manifest::LabelSelector;
//! let s = LabelSelector::parse(&serde_json::json!({
//!     "matchLabels": {"app": "web"},
//!     "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]}]
//! })).unwrap();
//! let labels = serde_json::json!({"app": "web", "tier": "front"});
//! assert!(s.matches_map(labels.as_object()));
//! assert!(LabelSelector::parse(&serde_json::json!({"matchExpressions": [{"key": "a", "operator": "Is"}]})).is_err());
//! ```

use rampart_core::Field;
use serde_json::{Map, Value};
use std::borrow::Cow;

/// A `matchExpressions` operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

/// One requirement: `matchLabels` entries are `In` with one value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Requirement {
    pub key: String,
    pub operator: Operator,
    pub values: Vec<String>,
}

/// A parsed `metav1.LabelSelector`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct LabelSelector {
    pub requirements: Vec<Requirement>,
}

/// What is wrong with a selector: the JSON pointer below the selector, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SelectorError {
    /// e.g. `/matchExpressions/0/operator` (`""`: the selector itself).
    pub pointer: String,
    pub message: String,
}

fn err(pointer: impl Into<String>, message: impl Into<String>) -> SelectorError {
    SelectorError {
        pointer: pointer.into(),
        message: message.into(),
    }
}

/// A label value as Kubernetes would read it (numbers and booleans written unquoted become
/// strings).
pub fn label_value(v: &Value) -> Option<Cow<'_, str>> {
    match v {
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        _ => None,
    }
}

impl LabelSelector {
    /// Parses a selector value.
    pub fn parse(v: &Value) -> Result<LabelSelector, SelectorError> {
        let Some(obj) = v.as_object() else {
            return Err(err("", "a label selector must be an object"));
        };
        let mut requirements = Vec::new();
        if let Some(ml) = obj.field("matchLabels").filter(|v| !v.is_null()) {
            let Some(m) = ml.as_object() else {
                return Err(err("/matchLabels", "matchLabels must be a map of strings"));
            };
            for (k, v) in m {
                let Some(s) = label_value(v) else {
                    return Err(err(
                        format!("/matchLabels/{}", crate::escape_segment(k)),
                        "a label value must be a string",
                    ));
                };
                requirements.push(Requirement {
                    key: k.clone(),
                    operator: Operator::In,
                    values: vec![s.into_owned()],
                });
            }
        }
        if let Some(me) = obj.field("matchExpressions").filter(|v| !v.is_null()) {
            let Some(list) = me.as_array() else {
                return Err(err("/matchExpressions", "matchExpressions must be a list"));
            };
            for (i, e) in list.iter().enumerate() {
                let at = format!("/matchExpressions/{i}");
                let key = e
                    .field("key")
                    .and_then(Value::as_str)
                    .ok_or_else(|| err(at.clone(), "an expression needs a key"))?;
                let op = e.field("operator").and_then(Value::as_str).unwrap_or("");
                let values: Vec<String> = e
                    .field("values")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(label_value)
                            .map(Cow::into_owned)
                            .collect()
                    })
                    .unwrap_or_default();
                let operator = match op {
                    "In" | "NotIn" if values.is_empty() => {
                        return Err(err(
                            format!("{at}/values"),
                            format!("operator {op} on key `{key}` needs at least one value"),
                        ));
                    }
                    "Exists" | "DoesNotExist" if !values.is_empty() => {
                        return Err(err(
                            format!("{at}/values"),
                            format!("operator {op} on key `{key}` takes no values"),
                        ));
                    }
                    "In" => Operator::In,
                    "NotIn" => Operator::NotIn,
                    "Exists" => Operator::Exists,
                    "DoesNotExist" => Operator::DoesNotExist,
                    other => {
                        return Err(err(
                            format!("{at}/operator"),
                            format!(
                                "unknown operator `{other}`, expected In, NotIn, Exists or DoesNotExist"
                            ),
                        ));
                    }
                };
                requirements.push(Requirement {
                    key: key.to_string(),
                    operator,
                    values,
                });
            }
        }
        Ok(LabelSelector { requirements })
    }

    /// Whether the selector has no requirement (matches everything).
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Whether labels, looked up by `get`, satisfy every requirement.
    pub fn matches<'l, F>(&self, get: F) -> bool
    where
        F: Fn(&str) -> Option<Cow<'l, str>>,
    {
        self.requirements.iter().all(|r| {
            let have = get(&r.key);
            match r.operator {
                Operator::In => have.is_some_and(|h| r.values.iter().any(|v| *v == *h)),
                Operator::NotIn => have.is_none_or(|h| !r.values.iter().any(|v| *v == *h)),
                Operator::Exists => have.is_some(),
                Operator::DoesNotExist => have.is_none(),
            }
        })
    }

    /// [`LabelSelector::matches`] over a `labels` map (absent: no labels).
    pub fn matches_map(&self, labels: Option<&Map<String, Value>>) -> bool {
        self.matches(|k| labels.and_then(|l| l.get(k)).and_then(label_value))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn malformed_selectors_name_their_field() {
        for (v, at) in [
            (json!([]), ""),
            (json!({"matchLabels": []}), "/matchLabels"),
            (json!({"matchLabels": {"a/b": {}}}), "/matchLabels/a~1b"),
            (json!({"matchExpressions": {}}), "/matchExpressions"),
            (
                json!({"matchExpressions": [{"operator": "In"}]}),
                "/matchExpressions/0",
            ),
            (
                json!({"matchExpressions": [{"key": "a", "operator": "In"}]}),
                "/matchExpressions/0/values",
            ),
            (
                json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}),
                "/matchExpressions/0/values",
            ),
            (
                json!({"matchExpressions": [{"key": "a", "operator": "Is"}]}),
                "/matchExpressions/0/operator",
            ),
        ] {
            assert_eq!(LabelSelector::parse(&v).unwrap_err().pointer, at, "{v}");
        }
    }

    #[test]
    fn every_operator_and_the_empty_selector() {
        let s = LabelSelector::parse(&json!({
            "matchLabels": {"app": "web", "v": 1},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["a", "b"]},
                {"key": "env", "operator": "NotIn", "values": ["prod"]},
                {"key": "team", "operator": "Exists"},
                {"key": "legacy", "operator": "DoesNotExist"}
            ]
        }))
        .unwrap();
        let yes = json!({"app": "web", "v": "1", "tier": "b", "team": "x"});
        assert!(s.matches_map(yes.as_object()));
        for (k, v) in [
            ("env", json!("prod")),
            ("legacy", json!("y")),
            ("tier", json!("c")),
        ] {
            let mut no = yes.clone();
            no[k] = v;
            assert!(!s.matches_map(no.as_object()), "{no}");
        }
        assert!(!s.matches_map(None));
        let empty = LabelSelector::parse(&json!({})).unwrap();
        assert!(empty.is_empty() && empty.matches_map(None));
    }
}
