//! Reading a cluster from a dump: `kubectl get … -A -o yaml` (or `-o json`) output, a `List`
//! with `items`, or a directory of manifests. The objects are normalized as live ones are
//! ([`crate::normalize`]), so a dump of a cluster gives the report the live scan gives.
//!
//! A JSON file is parsed as JSON (no source positions are needed: findings are located in the
//! objects' `cluster://` names), several times faster than through the YAML loader; YAML, and
//! JSON that does not parse, goes through [`rampart_manifest::load_str`] and its positioned errors.
//!
//! A `nodes/<name>/configz.json` file (anywhere under the paths) is not a manifest: it is the
//! node proxy's configz response for node `<name>`, as `kubectl get --raw
//! /api/v1/nodes/<name>/proxy/configz` prints it ([`crate::kubelet`]).

use rampart_core::InputError;
use rampart_manifest::{Object, Source};
use rayon::prelude::*;
use serde_json::Value;

/// What a dump held.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Normalized, in the order of [`crate::settle`].
    pub objects: Vec<Object>,
    /// Files or documents that could not be read.
    pub errors: Vec<InputError>,
    /// The kubelet configurations of the dump's `nodes/<name>/configz.json` files, by node.
    pub kubelet: Vec<crate::kubelet::KubeletConfigz>,
}

/// A configz response of the dump.
fn load_configz(s: &Source, node: String) -> Result<crate::kubelet::KubeletConfigz, InputError> {
    let (name, text) = rampart_manifest::read_source(s, MAX_DUMP_SIZE)?;
    let err = |line: usize, column: usize, message: String| InputError {
        file: name.clone(),
        line: u32::try_from(line).unwrap_or(u32::MAX),
        column: u32::try_from(column).unwrap_or(u32::MAX),
        message,
    };
    let v: Value =
        serde_json::from_str(&text).map_err(|e| err(e.line(), e.column(), e.to_string()))?;
    crate::kubelet::parse(&node, v).ok_or_else(|| {
        err(
            1,
            1,
            "a node's configz response is an object with a `kubeletconfig` object".into(),
        )
    })
}

/// Largest dump file read: a 100,000-object cluster's YAML is well under it.
const MAX_DUMP_SIZE: u64 = 4 * 1024 * 1024 * 1024;

/// The objects of a value: a `List`'s (or `…List`'s) items, or the value itself.
fn objects_of(v: Value) -> Vec<Value> {
    let is_list = v
        .get("kind")
        .and_then(Value::as_str)
        .is_some_and(|k| k.ends_with("List"))
        && v.get("items").is_some_and(Value::is_array);
    if !is_list {
        return vec![v];
    }
    match v {
        Value::Object(mut m) => match m.remove("items") {
            Some(Value::Array(items)) => items.into_iter().flat_map(objects_of).collect(),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

fn load_source(s: &Source, namespace: Option<&str>) -> (Vec<Object>, Vec<InputError>) {
    let (name, text) = match rampart_manifest::read_source(s, MAX_DUMP_SIZE) {
        Ok(t) => t,
        Err(e) => return (Vec::new(), vec![e]),
    };
    let default_ns = namespace.unwrap_or("default");
    if text.trim_start().starts_with('{')
        && let Ok(v) = serde_json::from_str::<Value>(&text)
    {
        let mut objects: Vec<Object> = objects_of(v)
            .into_iter()
            .map(|v| Object::from_value(v, &name))
            .collect();
        rampart_manifest::set_default_namespace(&mut objects, default_ns);
        return (
            objects
                .into_iter()
                .filter_map(|o| crate::normalize(o.value))
                .collect(),
            Vec::new(),
        );
    }
    let mut loaded = rampart_manifest::load_str(&name, &text);
    rampart_manifest::set_default_namespace(&mut loaded.objects, default_ns);
    (
        loaded
            .objects
            .into_iter()
            .filter_map(|o| crate::normalize(o.value))
            .collect(),
        loaded.errors,
    )
}

/// Loads the files and directories in `paths`; `namespace` keeps only that namespace's objects
/// and cluster-scoped ones, as `-n` does live. A namespaced object of a manifest that names no
/// namespace is in `namespace`, else in `default`, as the API would have put it (a dump's
/// objects always name theirs).
pub fn load<P: AsRef<std::path::Path>>(paths: &[P], namespace: Option<&str>) -> Loaded {
    let (mut sources, mut errors) = rampart_manifest::discover(paths);
    let mut kubelet = Vec::new();
    sources.retain(|s| {
        let node = match s {
            Source::File(p) => crate::kubelet::node_of_dump_file(p),
            _ => None,
        };
        let Some(node) = node else {
            return true;
        };
        match load_configz(s, node) {
            Ok(c) => kubelet.push(c),
            Err(e) => errors.push(e),
        }
        false
    });
    kubelet.sort_by(|a, b| a.node.cmp(&b.node));
    kubelet.dedup_by(|a, b| a.node == b.node);
    let parts: Vec<(Vec<Object>, Vec<InputError>)> = sources
        .par_iter()
        .map(|s| load_source(s, namespace))
        .collect();
    let mut objects = Vec::new();
    for (o, e) in parts {
        objects.extend(o);
        errors.extend(e);
    }
    crate::settle(&mut objects, namespace);
    Loaded {
        objects,
        errors,
        kubelet,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    /// The same dump as JSON and as YAML gives the same objects.
    #[test]
    fn json_and_yaml_dumps_agree() {
        let d = tempfile::tempdir().unwrap();
        let json = d.path().join("d.json");
        let yaml = d.path().join("d.yaml");
        std::fs::write(&json, r#"{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"a"}},{"apiVersion":"v1","kind":"PodList","items":[{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"x"},"spec":{"containers":[{"name":"c","image":"i:1"}]}}]}]}"#).unwrap();
        std::fs::write(&yaml, "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ServiceAccount\n  metadata: {name: a}\n- apiVersion: v1\n  kind: PodList\n  items:\n  - apiVersion: v1\n    kind: Pod\n    metadata: {name: p, namespace: x}\n    spec:\n      containers: [{name: c, image: \"i:1\"}]\n").unwrap();
        let a = load(&[json], None);
        let b = load(&[yaml], None);
        assert!(
            a.errors.is_empty() && b.errors.is_empty(),
            "{:?} {:?}",
            a.errors,
            b.errors
        );
        let files = |l: &Loaded| {
            l.objects
                .iter()
                .map(|o| (o.file.to_string(), o.value.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(files(&a), files(&b));
        assert_eq!(a.objects[1].file.as_ref(), "cluster://x/Pod/p");
        assert_eq!(
            a.objects[0].file.as_ref(),
            "cluster://default/ServiceAccount/a"
        );
    }
}
