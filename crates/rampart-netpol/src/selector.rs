//! Kubernetes label selectors (matchLabels + matchExpressions).

use rampart_core::Field;
use serde_json::Value;

/// Labels of a pod or a namespace: a map from key to value, kept as a list sorted by key (most
/// objects carry a handful of labels, where a list is a fraction of a `BTreeMap`'s size).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Labels(Vec<(String, String)>);

impl Labels {
    pub fn new() -> Labels {
        Labels(Vec::new())
    }

    fn find(&self, key: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.as_str().cmp(key))
    }

    pub fn get(&self, key: &str) -> Option<&String> {
        let i = self.find(key).ok()?;
        self.0.get(i).map(|(_, v)| v)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.find(key).is_ok()
    }

    /// Sets `key`, returning the value it replaces.
    pub fn insert(&mut self, key: String, value: String) -> Option<String> {
        match self.find(&key) {
            Ok(i) => self
                .0
                .get_mut(i)
                .map(|e| std::mem::replace(&mut e.1, value)),
            Err(i) => {
                self.0.insert(i, (key, value));
                None
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The labels in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &String)> {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

impl FromIterator<(String, String)> for Labels {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Labels {
        let mut out = Labels::new();
        for (k, v) in iter {
            out.insert(k, v);
        }
        out.0.shrink_to_fit();
        out
    }
}

impl<const N: usize> From<[(String, String); N]> for Labels {
    fn from(pairs: [(String, String); N]) -> Labels {
        pairs.into_iter().collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Op {
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    DoesNotExist,
}

/// A parsed `LabelSelector`. The empty selector matches everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selector {
    pub(crate) labels: Labels,
    pub(crate) exprs: Vec<(String, Op)>,
}

impl Selector {
    /// Parses a selector value; on a bad shape returns the JSON pointer suffix and a message.
    pub(crate) fn parse(v: &Value) -> Result<Selector, (String, String)> {
        let Some(obj) = v.as_object() else {
            return Err((String::new(), "a label selector must be an object".into()));
        };
        let mut sel = Selector::default();
        if let Some(ml) = obj.field("matchLabels").filter(|v| !v.is_null()) {
            let Some(m) = ml.as_object() else {
                return Err((
                    "/matchLabels".into(),
                    "matchLabels must be a map of strings".into(),
                ));
            };
            for (k, v) in m {
                let Some(s) = scalar(v) else {
                    return Err((
                        format!("/matchLabels/{}", escape(k)),
                        "a label value must be a string".into(),
                    ));
                };
                sel.labels.insert(k.clone(), s);
            }
        }
        if let Some(me) = obj.field("matchExpressions").filter(|v| !v.is_null()) {
            let Some(list) = me.as_array() else {
                return Err((
                    "/matchExpressions".into(),
                    "matchExpressions must be a list".into(),
                ));
            };
            for (i, e) in list.iter().enumerate() {
                let at = format!("/matchExpressions/{i}");
                let key = e
                    .field("key")
                    .and_then(Value::as_str)
                    .ok_or_else(|| (at.clone(), "an expression needs a key".to_string()))?;
                let op = e.field("operator").and_then(Value::as_str).unwrap_or("");
                let values: Vec<String> = e
                    .field("values")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(scalar).collect())
                    .unwrap_or_default();
                let op = match op {
                    "In" | "NotIn" if values.is_empty() => {
                        return Err((
                            format!("{at}/values"),
                            format!("operator {op} needs at least one value"),
                        ));
                    }
                    "In" => Op::In(values),
                    "NotIn" => Op::NotIn(values),
                    "Exists" => Op::Exists,
                    "DoesNotExist" => Op::DoesNotExist,
                    other => {
                        return Err((
                            format!("{at}/operator"),
                            format!(
                                "unknown operator `{other}`, expected In, NotIn, Exists or DoesNotExist"
                            ),
                        ));
                    }
                };
                sel.exprs.push((key.to_string(), op));
            }
        }
        Ok(sel)
    }

    /// Whether the selector has no requirement (matches everything).
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.exprs.is_empty()
    }

    pub fn matches(&self, labels: &Labels) -> bool {
        self.labels.iter().all(|(k, v)| labels.get(k) == Some(v))
            && self.exprs.iter().all(|(k, op)| match op {
                Op::In(vals) => labels.get(k).is_some_and(|v| vals.contains(v)),
                Op::NotIn(vals) => labels.get(k).is_none_or(|v| !vals.contains(v)),
                Op::Exists => labels.contains_key(k),
                Op::DoesNotExist => !labels.contains_key(k),
            })
    }
}

/// A label value as Kubernetes would read it (numbers and booleans written unquoted become strings).
pub(crate) fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Escapes a key for a JSON pointer.
pub(crate) fn escape(k: &str) -> String {
    k.replace('~', "~0").replace('/', "~1")
}

/// Reads a `labels` map.
pub(crate) fn labels_of(v: Option<&Value>) -> Labels {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| scalar(v).map(|s| (k.clone(), s)))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn expressions_follow_kubernetes() {
        let s = Selector::parse(&json!({"matchLabels": {"a": "1"}, "matchExpressions": [
            {"key": "b", "operator": "NotIn", "values": ["x"]},
            {"key": "c", "operator": "DoesNotExist"}]}))
        .unwrap();
        let l = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Labels>()
        };
        assert!(s.matches(&l(&[("a", "1")])));
        assert!(s.matches(&l(&[("a", "1"), ("b", "y")])));
        assert!(!s.matches(&l(&[("a", "1"), ("b", "x")])));
        assert!(!s.matches(&l(&[("a", "1"), ("c", "")])));
        assert!(!s.matches(&l(&[("a", "2")])));
        assert!(
            Selector::parse(&json!({"matchExpressions": [{"key": "a", "operator": "Is"}]}))
                .is_err()
        );
    }
}
