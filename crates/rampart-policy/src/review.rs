//! The admission review a policy sees: built from a plain object (a CREATE) or taken from an
//! AdmissionReview, shaped as Gatekeeper serializes `admission.k8s.io/v1` AdmissionRequest.

use rampart_manifest::Object;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// One request to evaluate, with what matching needs already extracted.
#[derive(Debug, Clone)]
pub struct Review {
    /// The request as policies see it (`input.review` for Rego, `request` for CEL).
    pub request: Value,
    pub operation: String,
    pub namespace: String,
    pub name: String,
}

/// A JSON value as a regorus value, converted directly: the same value `regorus::Value::from`
/// gives, without cloning the JSON first or going through serde.
pub(crate) fn rego_value(v: &Value) -> regorus::Value {
    match v {
        Value::Null => regorus::Value::Null,
        Value::Bool(b) => regorus::Value::from(*b),
        Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) => regorus::Value::from(u),
            (None, Some(i), _) => regorus::Value::from(i),
            (None, None, Some(f)) => regorus::Value::from(f),
            (None, None, None) => regorus::Value::from(serde_json::Value::Number(n.clone())),
        },
        Value::String(s) => regorus::Value::from(s.as_str()),
        Value::Array(a) => regorus::Value::from(a.iter().map(rego_value).collect::<Vec<_>>()),
        Value::Object(m) => regorus::Value::from(
            m.iter()
                .map(|(k, v)| (regorus::Value::from(k.as_str()), rego_value(v)))
                .collect::<BTreeMap<_, _>>(),
        ),
    }
}

impl Review {
    /// Wraps a plain object as a CREATE request.
    pub fn create(object: &Value) -> Review {
        let (group, version) = split_api_version(
            object
                .get("apiVersion")
                .and_then(Value::as_str)
                .unwrap_or(""),
        );
        let kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
        let meta = object.get("metadata");
        let name = meta
            .and_then(|m| m.get("name"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let namespace = meta
            .and_then(|m| m.get("namespace"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let mut m = Map::new();
        m.insert("uid".into(), json!(""));
        m.insert(
            "kind".into(),
            json!({"group": group, "version": version, "kind": kind}),
        );
        m.insert(
            "resource".into(),
            json!({"group": group, "version": version, "resource": resource_for_kind(kind)}),
        );
        m.insert("operation".into(), json!("CREATE"));
        m.insert("userInfo".into(), json!({}));
        // A clone, not `json!`'s serialization of the object, which costs several times more.
        m.insert("object".into(), object.clone());
        m.insert("oldObject".into(), Value::Null);
        if !name.is_empty() {
            m.insert("name".into(), json!(name));
        }
        if !namespace.is_empty() {
            m.insert("namespace".into(), json!(namespace));
        }
        Review {
            request: Value::Object(m),
            operation: "CREATE".into(),
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// Takes an AdmissionRequest (the `request` of an AdmissionReview) as is, filling the fields
    /// Go always serializes. On DELETE the old object is also the object, as Gatekeeper does.
    pub fn from_request(request: &Value) -> Result<Review, String> {
        let Some(m) = request.as_object() else {
            return Err("AdmissionReview has no request".into());
        };
        let mut m: Map<String, Value> = m.clone();
        let present = |m: &Map<String, Value>, k: &str| m.get(k).is_some_and(|v| !v.is_null());
        if !present(&m, "object") && !present(&m, "oldObject") {
            return Err(
                "AdmissionRequest does not contain an \"object\" or \"oldObject\" to review".into(),
            );
        }
        let operation = m
            .get("operation")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if operation == "DELETE"
            && !present(&m, "object")
            && let Some(old) = m.get("oldObject").cloned()
        {
            m.insert("object".into(), old);
        }
        let obj = m
            .get("object")
            .filter(|v| !v.is_null())
            .or_else(|| m.get("oldObject"))
            .cloned();
        let obj = obj.unwrap_or(Value::Null);
        let (group, version) =
            split_api_version(obj.get("apiVersion").and_then(Value::as_str).unwrap_or(""));
        let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
        for (k, default) in [
            ("uid", json!("")),
            ("kind", json!({"group": "", "version": "", "kind": ""})),
            (
                "resource",
                json!({"group": "", "version": "", "resource": ""}),
            ),
            ("operation", json!("")),
            ("userInfo", json!({})),
            ("oldObject", Value::Null),
        ] {
            m.entry(k).or_insert(default);
        }
        // A request written by hand often leaves out kind; fill it from the object.
        if let Some(Value::Object(km)) = m.get_mut("kind")
            && km
                .get("kind")
                .and_then(Value::as_str)
                .unwrap_or("")
                .is_empty()
            && !kind.is_empty()
        {
            km.insert("group".into(), json!(group));
            km.insert("version".into(), json!(version));
            km.insert("kind".into(), json!(kind));
        }
        let meta = obj.get("metadata");
        let name = m
            .get("name")
            .and_then(Value::as_str)
            .or_else(|| meta.and_then(|x| x.get("name")).and_then(Value::as_str))
            .unwrap_or("")
            .to_string();
        let namespace = m
            .get("namespace")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .or_else(|| {
                meta.and_then(|x| x.get("namespace"))
                    .and_then(Value::as_str)
            })
            .unwrap_or("")
            .to_string();
        Ok(Review {
            request: Value::Object(m),
            operation,
            namespace,
            name,
        })
    }

    /// A plain object, or the request of an AdmissionReview object.
    pub fn from_object(object: &Object) -> Result<Review, String> {
        if object.kind() == "AdmissionReview" && object.group() == "admission.k8s.io" {
            Review::from_request(object.value.get("request").unwrap_or(&Value::Null))
        } else {
            Ok(Review::create(&object.value))
        }
    }

    pub(crate) fn object(&self) -> Option<&Value> {
        self.request.get("object").filter(|v| v.is_object())
    }

    pub(crate) fn old_object(&self) -> Option<&Value> {
        self.request.get("oldObject").filter(|v| v.is_object())
    }

    /// The object a finding is about: the new object, or the old one on DELETE.
    pub(crate) fn subject(&self) -> Option<&Value> {
        self.object().or_else(|| self.old_object())
    }
}

pub(crate) fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.rsplit_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}

/// The lowercase plural resource name Kubernetes uses for a kind.
pub(crate) fn resource_for_kind(kind: &str) -> String {
    let lower = kind.to_ascii_lowercase();
    match lower.as_str() {
        "" => String::new(),
        "endpoints" => lower,
        _ if lower.ends_with('y') && !lower.ends_with("ay") && !lower.ends_with("ey") => {
            format!("{}ies", &lower[..lower.len() - 1])
        }
        _ if lower.ends_with('s') || lower.ends_with("ch") || lower.ends_with('x') => {
            format!("{lower}es")
        }
        _ => format!("{lower}s"),
    }
}

/// Gatekeeper's `data.inventory`: `cluster[groupversion][kind][name]` for cluster-scoped objects,
/// `namespace[ns][groupversion][kind][name]` for the rest.
pub(crate) fn inventory_data(objects: &[Object]) -> Value {
    type ByGv = BTreeMap<String, BTreeMap<String, Map<String, Value>>>;
    let mut cluster: ByGv = BTreeMap::new();
    let mut namespaced: BTreeMap<String, ByGv> = BTreeMap::new();
    for o in objects {
        let (gv, kind, name) = (o.api_version(), o.kind(), o.name());
        if gv.is_empty() || kind.is_empty() {
            continue;
        }
        let root = match o.namespace() {
            Some(ns) => namespaced.entry(ns.to_string()).or_default(),
            None => &mut cluster,
        };
        root.entry(gv.to_string())
            .or_default()
            .entry(kind.to_string())
            .or_default()
            .insert(name.to_string(), o.value.clone());
    }
    json!({"inventory": {"cluster": cluster, "namespace": namespaced}})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals() {
        assert_eq!(resource_for_kind("Pod"), "pods");
        assert_eq!(resource_for_kind("NetworkPolicy"), "networkpolicies");
        assert_eq!(resource_for_kind("Ingress"), "ingresses");
        assert_eq!(resource_for_kind("Endpoints"), "endpoints");
        assert_eq!(resource_for_kind("Gateway"), "gateways");
    }

    #[test]
    fn delete_reviews_old_object() {
        let r = Review::from_request(&json!({"operation": "DELETE", "oldObject": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "namespace": "n"}}})).unwrap();
        assert_eq!(r.object().unwrap()["metadata"]["name"], "a");
        assert_eq!(r.namespace, "n");
        assert_eq!(r.request["kind"]["kind"], "Pod");
        assert!(Review::from_request(&json!({"operation": "CREATE"})).is_err());
    }

    #[test]
    fn rego_value_is_regorus_conversion() {
        let v = json!({
            "a": [1, -2, 3.5, -0.25, 1e300, 18446744073709551615u64, -9223372036854775808i64, 0],
            "b": {"z": null, "y": true, "x": false, "": "", "ü": "naïve"},
            "c": [[], {}, [{"k": [null]}]],
            "d": "string",
        });
        assert_eq!(rego_value(&v), regorus::Value::from(v.clone()));
        for leaf in [json!(null), json!(7), json!("s"), json!([]), json!({})] {
            assert_eq!(rego_value(&leaf), regorus::Value::from(leaf.clone()));
        }
    }

    #[test]
    fn create_request_shape() {
        let o = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "n"}});
        let r = Review::create(&o);
        assert_eq!(
            r.request,
            json!({
                "uid": "",
                "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
                "resource": {"group": "apps", "version": "v1", "resource": "deployments"},
                "operation": "CREATE",
                "userInfo": {},
                "object": o,
                "oldObject": null,
                "name": "d",
                "namespace": "n",
            })
        );
    }
}
