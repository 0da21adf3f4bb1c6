//! Every loaded object, indexed for the checks that look across objects.

use rampart_core::Finding;
use rampart_manifest::Object;
use serde_json::{Map, Value};
use std::collections::{BTreeSet, HashMap};

/// All objects of a scan, indexed by kind.
pub struct Inventory<'a> {
    pub objects: &'a [Object],
    by_kind: HashMap<&'a str, Vec<&'a Object>>,
}

impl<'a> Inventory<'a> {
    pub fn new(objects: &'a [Object]) -> Self {
        let mut by_kind: HashMap<&'a str, Vec<&'a Object>> = HashMap::new();
        for o in objects {
            by_kind.entry(o.kind()).or_default().push(o);
        }
        Inventory { objects, by_kind }
    }

    /// Objects of one kind, in input order.
    pub fn of_kind(&self, kind: &str) -> &[&'a Object] {
        self.by_kind.get(kind).map_or(&[], Vec::as_slice)
    }

    /// Namespaces named by Namespace objects or used by namespaced objects.
    pub fn namespaces(&self) -> BTreeSet<&'a str> {
        let mut s: BTreeSet<&str> = self.of_kind("Namespace").iter().map(|n| n.name()).collect();
        s.extend(self.objects.iter().filter_map(|o| o.namespace()));
        s
    }

    /// The object a finding is about, if it is in the inventory.
    pub fn object_of(&self, f: &Finding) -> Option<&'a Object> {
        let (r, loc) = (f.object.as_ref()?, f.location.as_ref()?);
        self.objects.iter().find(|o| {
            *o.file == *loc.file
                && o.kind() == r.kind
                && o.name() == r.name
                && o.namespace() == r.namespace.as_deref()
        })
    }

    pub(crate) fn is_ignored(&self, f: &Finding) -> bool {
        self.object_of(f)
            .is_some_and(|o| crate::is_ignored(o, &f.check))
    }
}

/// Whether `labels` satisfy a LabelSelector (`matchLabels` and `matchExpressions`).
/// An empty selector matches everything; a malformed one matches nothing.
pub fn selector_matches(selector: &Value, labels: Option<&Map<String, Value>>) -> bool {
    let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
    let Some(sel) = selector.as_object() else {
        return false;
    };
    if let Some(ml) = sel.get("matchLabels").and_then(Value::as_object) {
        if !ml.iter().all(|(k, v)| get(k) == v.as_str()) {
            return false;
        }
    }
    if let Some(exprs) = sel.get("matchExpressions").and_then(Value::as_array) {
        for e in exprs {
            let key = e.get("key").and_then(Value::as_str).unwrap_or("");
            let values: Vec<&str> = e
                .get("values")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let ok = match e.get("operator").and_then(Value::as_str) {
                Some("In") => get(key).is_some_and(|v| values.contains(&v)),
                Some("NotIn") => get(key).is_none_or(|v| !values.contains(&v)),
                Some("Exists") => get(key).is_some(),
                Some("DoesNotExist") => get(key).is_none(),
                _ => false,
            };
            if !ok {
                return false;
            }
        }
    }
    true
}

/// Whether a plain map selector (Service `spec.selector`) matches `labels`; empty matches nothing,
/// as a Service without a selector selects no pod.
pub fn map_selector_matches(
    selector: &Map<String, Value>,
    labels: Option<&Map<String, Value>>,
) -> bool {
    !selector.is_empty()
        && selector
            .iter()
            .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn label_selectors() {
        let labels = json!({"app": "web", "tier": "front"});
        let l = labels.as_object();
        let cases = [
            (json!({}), true),
            (json!({"matchLabels": {"app": "web"}}), true),
            (json!({"matchLabels": {"app": "db"}}), false),
            (
                json!({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["front", "x"]}]}),
                true,
            ),
            (
                json!({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["front"]}]}),
                false,
            ),
            (
                json!({"matchExpressions": [{"key": "zone", "operator": "DoesNotExist"}]}),
                true,
            ),
            (
                json!({"matchExpressions": [{"key": "zone", "operator": "Exists"}]}),
                false,
            ),
            (
                json!({"matchExpressions": [{"key": "zone", "operator": "Bogus"}]}),
                false,
            ),
        ];
        for (sel, want) in cases {
            assert_eq!(selector_matches(&sel, l), want, "{sel}");
        }
    }
}
