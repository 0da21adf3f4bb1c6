//! `match` and `exclude`: resource descriptions (`kinds`, `names`, `namespaces`, selectors,
//! `operations`) and user info, in `any`/`all` blocks or directly.

use crate::AdmissionInfo;
use crate::wildcard::{has_wildcard, matches as wc};
use serde_json::Value;

/// What the matcher needs to know about the resource.
pub struct Target<'a> {
    pub object: &'a Value,
    pub group: &'a str,
    pub version: &'a str,
    pub kind: &'a str,
    pub name: &'a str,
    pub namespace: &'a str,
    pub info: &'a AdmissionInfo,
}

impl<'a> Target<'a> {
    pub fn new(object: &'a Value, info: &'a AdmissionInfo) -> Target<'a> {
        let api = object
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        let (group, version) = api.rsplit_once('/').unwrap_or(("", api));
        let meta = object.get("metadata");
        let s = |k: &str| {
            meta.and_then(|m| m.get(k))
                .and_then(Value::as_str)
                .unwrap_or("")
        };
        Target {
            object,
            group,
            version,
            kind: object.get("kind").and_then(Value::as_str).unwrap_or(""),
            name: s("name"),
            namespace: s("namespace"),
            info,
        }
    }
    fn labels(&self) -> Option<&'a serde_json::Map<String, Value>> {
        self.object
            .get("metadata")
            .and_then(|m| m.get("labels"))
            .and_then(Value::as_object)
    }
}

/// Whether the rule's `match` selects the target and its `exclude` does not.
pub fn rule_matches(rule: &Value, t: &Target<'_>) -> bool {
    let Some(m) = rule.get("match") else {
        return false;
    };
    if !block_matches(m, t) {
        return false;
    }
    match rule.get("exclude") {
        Some(e) if !e.is_null() => !block_matches(e, t),
        _ => true,
    }
}

fn block_matches(b: &Value, t: &Target<'_>) -> bool {
    if let Some(any) = b
        .get("any")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
    {
        return any.iter().any(|f| filter_matches(f, t));
    }
    if let Some(all) = b
        .get("all")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
    {
        return all.iter().all(|f| filter_matches(f, t));
    }
    filter_matches(b, t)
}

fn is_empty_filter(f: &Value) -> bool {
    let empty = |k: &str| match f.get(k) {
        None | Some(Value::Null) => true,
        Some(Value::Object(m)) => m.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        _ => false,
    };
    empty("resources") && empty("subjects") && empty("roles") && empty("clusterRoles")
}

fn filter_matches(f: &Value, t: &Target<'_>) -> bool {
    if is_empty_filter(f) {
        return false;
    }
    if let Some(r) = f.get("resources").filter(|r| !r.is_null())
        && !resource_matches(r, t)
    {
        return false;
    }
    user_matches(f, t.info)
}

fn strs(v: Option<&Value>) -> Vec<&str> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// Parses a kind selector into group, version, kind and subresource.
fn kind_selector(k: &str) -> (&str, &str, &str, &str) {
    let parts: Vec<&str> = k.split('/').collect();
    let upper = |s: &str| s.chars().next().is_some_and(char::is_uppercase);
    match parts.as_slice() {
        [kind] => ("*", "*", kind, ""),
        [a, b] if upper(a) => ("*", "*", a, b),
        [a, b] => ("*", a, b, ""),
        [a, b, c] if upper(b) => ("*", a, b, c),
        [a, b, c] => (a, b, c, ""),
        [a, b, c, d, ..] => (a, b, c, d),
        [] => ("", "", "", ""),
    }
}

pub fn kind_matches(kinds: &[&str], t: &Target<'_>) -> bool {
    kinds.iter().any(|k| {
        let (g, v, kind, sub) = kind_selector(k);
        wc(g, t.group) && wc(v, t.version) && wc(kind, t.kind) && sub.is_empty()
    })
}

fn resource_matches(r: &Value, t: &Target<'_>) -> bool {
    let kinds = strs(r.get("kinds"));
    if !kinds.is_empty() && !kind_matches(&kinds, t) {
        return false;
    }
    if let Some(name) = r
        .get("name")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        && !wc(name, t.name)
    {
        return false;
    }
    let names = strs(r.get("names"));
    if !names.is_empty() && !names.iter().any(|n| wc(n, t.name)) {
        return false;
    }
    let namespaces = strs(r.get("namespaces"));
    if !namespaces.is_empty() {
        let ns = if t.kind == "Namespace" {
            t.name
        } else {
            t.namespace
        };
        if !namespaces.iter().any(|n| wc(n, ns)) {
            return false;
        }
    }
    if let Some(ann) = r
        .get("annotations")
        .and_then(Value::as_object)
        .filter(|m| !m.is_empty())
    {
        let res = t
            .object
            .get("metadata")
            .and_then(|m| m.get("annotations"))
            .and_then(Value::as_object);
        let ok = ann.iter().all(|(k, v)| {
            let v = v.as_str().unwrap_or("");
            res.is_some_and(|m| {
                m.iter()
                    .any(|(rk, rv)| wc(k, rk) && wc(v, rv.as_str().unwrap_or("")))
            })
        });
        if !ok {
            return false;
        }
    }
    if let Some(sel) = r.get("selector").filter(|s| !s.is_null())
        && !selector_matches(sel, t.labels())
    {
        return false;
    }
    if let Some(sel) = r.get("namespaceSelector").filter(|s| !s.is_null()) {
        // Kyverno: "namespace selector is not applicable for namespace resource", and a
        // cluster-scoped resource has no namespace labels.
        if t.kind == "Namespace" || t.namespace.is_empty() {
            return false;
        }
        let labels = t.info.namespace_labels.get(t.namespace);
        if !selector_matches(sel, labels) {
            return false;
        }
    }
    let ops = strs(r.get("operations"));
    if !ops.is_empty() && !ops.contains(&t.info.operation.as_str()) {
        return false;
    }
    true
}

/// A LabelSelector (`matchLabels` with Kyverno's wildcards, `matchExpressions`).
pub fn selector_matches(sel: &Value, labels: Option<&serde_json::Map<String, Value>>) -> bool {
    let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
    if let Some(ml) = sel.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in ml {
            let v = v.as_str().unwrap_or("");
            if has_wildcard(k) || has_wildcard(v) {
                let ok = labels.is_some_and(|l| {
                    l.iter()
                        .any(|(lk, lv)| wc(k, lk) && wc(v, lv.as_str().unwrap_or("")))
                });
                if !ok {
                    return false;
                }
            } else if get(k) != Some(v) {
                return false;
            }
        }
    }
    if let Some(exprs) = sel.get("matchExpressions").and_then(Value::as_array) {
        for e in exprs {
            let key = e.get("key").and_then(Value::as_str).unwrap_or("");
            let vals = strs(e.get("values"));
            let op = e.get("operator").and_then(Value::as_str).unwrap_or("");
            let cur = get(key);
            let ok = match op {
                "In" => cur.is_some_and(|c| vals.contains(&c)),
                "NotIn" => cur.is_none_or(|c| !vals.contains(&c)),
                "Exists" => cur.is_some(),
                "DoesNotExist" => cur.is_none(),
                _ => false,
            };
            if !ok {
                return false;
            }
        }
    }
    true
}

fn user_matches(f: &Value, info: &AdmissionInfo) -> bool {
    let roles = strs(f.get("roles"));
    if !roles.is_empty() && !roles.iter().any(|r| info.roles.iter().any(|x| x == r)) {
        return false;
    }
    let croles = strs(f.get("clusterRoles"));
    if !croles.is_empty()
        && !croles
            .iter()
            .any(|r| info.cluster_roles.iter().any(|x| x == r))
    {
        return false;
    }
    if let Some(subjects) = f
        .get("subjects")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
    {
        let user = info
            .user_info
            .get("username")
            .and_then(Value::as_str)
            .unwrap_or("");
        let groups = strs(info.user_info.get("groups"));
        let ok = subjects.iter().any(|s| {
            let kind = s.get("kind").and_then(Value::as_str).unwrap_or("");
            let name = s.get("name").and_then(Value::as_str).unwrap_or("");
            match kind {
                "ServiceAccount" => {
                    let ns = s.get("namespace").and_then(Value::as_str).unwrap_or("");
                    wc(&format!("system:serviceaccount:{ns}:{name}"), user)
                }
                "Group" => groups.iter().any(|g| wc(name, g)),
                _ => wc(name, user),
            }
        });
        if !ok {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kinds_and_selectors() {
        let info = AdmissionInfo::default();
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "prod", "labels": {"app": "web"}}});
        let t = Target::new(&pod, &info);
        assert!(rule_matches(
            &json!({"match": {"any": [{"resources": {"kinds": ["Pod"]}}]}}),
            &t
        ));
        assert!(rule_matches(
            &json!({"match": {"resources": {"kinds": ["v1/Pod"], "namespaces": ["pr*"]}}}),
            &t
        ));
        assert!(!rule_matches(
            &json!({"match": {"resources": {"kinds": ["apps/v1/Deployment"]}}}),
            &t
        ));
        assert!(!rule_matches(
            &json!({"match": {"resources": {"kinds": ["Pod"]}}, "exclude": {"any": [{"resources": {"selector": {"matchLabels": {"app": "w*"}}}}]}}),
            &t
        ));
        assert!(!rule_matches(
            &json!({"match": {"resources": {"kinds": ["Pod"], "operations": ["DELETE"]}}}),
            &t
        ));
    }
}
