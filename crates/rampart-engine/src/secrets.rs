//! The secret values in objects a command prints about without reporting findings on them
//! (`policy eval`, `audit detect`), found by the catalog's own detectors so that what is
//! masked there is exactly what `scan` would mask.

use rampart_manifest::Object;
use rampart_rules::{Catalog, Config};
use serde_json::Value;
use std::collections::BTreeSet;

/// Every value the catalog's secret detectors find in `objects`: Secret data, ConfigMap
/// data, environment values, arguments, annotations. An AdmissionReview is looked into (its
/// `request.object` and `request.oldObject`), as is an audit event (`requestObject`,
/// `responseObject`).
pub fn secret_values<'a>(objects: impl IntoIterator<Item = &'a Value>) -> BTreeSet<String> {
    let Ok(catalog) = Catalog::new(Config::default()) else {
        return BTreeSet::new();
    };
    let mut out = BTreeSet::new();
    let mut visit = |v: &Value| {
        let o = Object::from_value(v.clone(), "");
        for f in catalog.check_object(&o) {
            out.extend(f.redact.into_iter().filter(|s| !s.is_empty()));
        }
    };
    for v in objects {
        let inner: Vec<&Value> = [
            "/request/object",
            "/request/oldObject",
            "/requestObject",
            "/responseObject",
        ]
        .iter()
        .filter_map(|p| v.pointer(p))
        .filter(|o| o.is_object())
        .collect();
        if inner.is_empty() {
            visit(v);
        } else {
            inner.into_iter().for_each(&mut visit);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_what_scan_masks_in_objects_reviews_and_audit_events() {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
            "data": {"DB_PASSWORD": "Zq8vT3kL9mWx2Rb7Yc4Np6Hd1Fs5Gj0Ue3Ia8Ko2", "mode": "fast"}});
        let review = json!({"kind": "AdmissionReview", "request": {"object": cm.clone()}});
        let event = json!({"kind": "Event", "requestObject": cm.clone()});
        for v in [&cm, &review, &event] {
            let found = secret_values([v]);
            assert!(
                found.contains("Zq8vT3kL9mWx2Rb7Yc4Np6Hd1Fs5Gj0Ue3Ia8Ko2"),
                "{v}: {found:?}"
            );
            assert!(!found.contains("fast"), "{found:?}");
        }
        let plain = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"mode": "fast"}});
        assert!(secret_values([&plain]).is_empty());
    }
}
