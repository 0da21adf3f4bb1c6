//! Kubernetes label selectors (matchLabels + matchExpressions).

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

/// A parsed `LabelSelector` (the manifest crate's one), matched against [`Labels`]. The empty
/// selector matches everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selector(rampart_manifest::LabelSelector);

impl Selector {
    /// Parses a selector value; on a bad shape returns the JSON pointer suffix and a message.
    pub(crate) fn parse(v: &Value) -> Result<Selector, (String, String)> {
        rampart_manifest::LabelSelector::parse(v)
            .map(Selector)
            .map_err(|e| (e.pointer, e.message))
    }

    /// Whether the selector has no requirement (matches everything).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn matches(&self, labels: &Labels) -> bool {
        self.0.matches(|k| {
            labels
                .get(k)
                .map(|v| std::borrow::Cow::Borrowed(v.as_str()))
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
