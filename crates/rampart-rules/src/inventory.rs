//! Every loaded object, indexed for the checks that look across objects.

use rampart_manifest::{Object, PodSpecRef};
use serde_json::{Map, Value};
use std::collections::{BTreeSet, HashMap};

/// All objects of a scan, indexed by kind, by (kind, namespace) and by (kind, namespace, name).
pub struct Inventory<'a> {
    pub objects: &'a [Object],
    by_kind: HashMap<&'a str, Vec<&'a Object>>,
    by_ns: HashMap<(&'a str, &'a str), Vec<&'a Object>>,
    by_name: HashMap<(&'a str, &'a str, &'a str), &'a Object>,
    pods: Vec<(&'a Object, PodSpecRef<'a>)>,
}

impl<'a> Inventory<'a> {
    pub fn new(objects: &'a [Object]) -> Self {
        let mut inv = Inventory {
            objects,
            by_kind: HashMap::new(),
            by_ns: HashMap::new(),
            by_name: HashMap::new(),
            pods: Vec::new(),
        };
        for o in objects {
            let ns = o.namespace().unwrap_or("default");
            inv.by_kind.entry(o.kind()).or_default().push(o);
            inv.by_ns.entry((o.kind(), ns)).or_default().push(o);
            inv.by_name.entry((o.kind(), ns, o.name())).or_insert(o);
            if let Some(p) = rampart_manifest::pod_spec(&o.value) {
                inv.pods.push((o, p));
            }
        }
        inv
    }

    /// Objects of one kind, in input order.
    pub fn of_kind(&self, kind: &str) -> &[&'a Object] {
        self.by_kind.get(kind).map_or(&[], Vec::as_slice)
    }

    /// Objects of one kind in one namespace (`default` for objects without one).
    pub fn in_namespace(&self, kind: &'a str, namespace: &'a str) -> &[&'a Object] {
        self.by_ns
            .get(&(kind, namespace))
            .map_or(&[], Vec::as_slice)
    }

    /// The first object with this kind, namespace and name.
    pub fn get(&self, kind: &'a str, namespace: &'a str, name: &'a str) -> Option<&'a Object> {
        self.by_name.get(&(kind, namespace, name)).copied()
    }

    /// Objects with a pod spec (pods and workloads), in input order, with that pod spec.
    pub fn pods(&self) -> &[(&'a Object, PodSpecRef<'a>)] {
        &self.pods
    }

    /// Namespaces named by Namespace objects or used by namespaced objects.
    pub fn namespaces(&self) -> BTreeSet<&'a str> {
        let mut s: BTreeSet<&str> = self.of_kind("Namespace").iter().map(|n| n.name()).collect();
        s.extend(self.objects.iter().filter_map(|o| o.namespace()));
        s
    }
}

/// Whether `labels` satisfy a LabelSelector (`matchLabels` and `matchExpressions`).
/// An empty selector matches everything; a malformed one matches nothing.
pub fn selector_matches(selector: &Value, labels: Option<&Map<String, Value>>) -> bool {
    rampart_manifest::LabelSelector::parse(selector).is_ok_and(|s| s.matches_map(labels))
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
