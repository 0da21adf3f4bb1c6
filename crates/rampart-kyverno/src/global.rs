//! Kyverno's global context (`GlobalContextEntry`, `kyverno.io/v2alpha1`): data read once for
//! every policy, which rules reference with `globalReference` context entries (`name` or
//! `name.projection`, then an optional `jmesPath`).
//!
//! An entry reads a list of resources (`kubernetesResource`: group, version, resource and an
//! optional namespace; its data is the list's items) or an API or service call (`apiCall`,
//! as the context entry of the same name; its data is the response). `projections` give
//! named JMESPath views of the data. Reads go through the cluster resolver, and are kept for
//! the entry's `refreshInterval` (an `apiCall`'s, default 10 s) or 2 s for resources (Kyverno
//! keeps them in an informer). Without a cluster, a reference is an error asking for the value
//! in the values file.

use crate::vars::Ctx;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The global context entries of a policy set.
#[derive(Debug, Default)]
pub struct GlobalContext {
    entries: HashMap<String, Value>,
    cache: Mutex<HashMap<String, (Instant, Value)>>,
}

/// A shared [`GlobalContext`].
pub type Shared = Arc<GlobalContext>;

/// Whether `v` is a GlobalContextEntry.
pub fn is_entry(v: &Value) -> bool {
    v.get("kind").and_then(Value::as_str) == Some("GlobalContextEntry")
        && v.get("apiVersion")
            .and_then(Value::as_str)
            .is_some_and(|a| a.starts_with("kyverno.io/"))
}

impl GlobalContext {
    /// Adds the entry `v` (a GlobalContextEntry object).
    pub fn add(&mut self, v: &Value) {
        let name = v
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        self.entries
            .insert(name, v.get("spec").cloned().unwrap_or(Value::Null));
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds an entry whose data is given (a `kyverno test`'s `globalContextEntries` mock).
    pub fn add_mock(&mut self, name: &str, data: Value) {
        self.entries
            .insert(name.to_string(), serde_json::json!({ "mock": data }));
    }

    /// The data of `reference` (`name` or `name.projection`), read through `ctx`'s resolver.
    pub fn data(&self, reference: &str, ctx: &Ctx) -> Result<Value, String> {
        let (name, projection) = match reference.split_once('.') {
            Some((n, p)) => (n, Some(p)),
            None => (reference, None),
        };
        let spec = self
            .entries
            .get(name)
            .ok_or_else(|| format!("failed to fetch entry key={name}"))?;
        let data = self.read(name, spec, ctx)?;
        let Some(projection) = projection else {
            return Ok(data);
        };
        // a mock's projections are already applied: its data holds them by name
        if spec.get("mock").is_some() {
            return data
                .get(projection)
                .cloned()
                .ok_or_else(|| format!("projection {projection} not found in entry {name}"));
        }
        let p = spec
            .get("projections")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|p| p.get("name").and_then(Value::as_str) == Some(projection))
            .ok_or_else(|| format!("projection {projection} not found in entry {name}"))?;
        let path = p.get("jmesPath").and_then(Value::as_str).unwrap_or("@");
        crate::jmes::search(path, &data)
    }

    fn read(&self, name: &str, spec: &Value, ctx: &Ctx) -> Result<Value, String> {
        if let Some(m) = spec.get("mock") {
            return Ok(m.clone());
        }
        let ttl = match spec
            .pointer("/apiCall/refreshInterval")
            .and_then(Value::as_str)
        {
            Some(d) => crate::quantity::parse_duration(d)
                .map(Duration::from_secs_f64)
                .ok_or_else(|| format!("entry {name}: bad refreshInterval {d:?}"))?,
            None if spec.get("apiCall").is_some() => Duration::from_secs(10),
            None => Duration::from_secs(2),
        };
        if let Ok(cache) = self.cache.lock()
            && let Some((at, v)) = cache.get(name)
            && at.elapsed() < ttl
        {
            return Ok(v.clone());
        }
        let Some(r) = &ctx.resolver else {
            return Err(format!(
                "global context entry `{name}` needs a cluster; give its value in the test's values file"
            ));
        };
        let data = if let Some(k) = spec.get("kubernetesResource") {
            let text = |f: &str| k.get(f).and_then(Value::as_str).unwrap_or("");
            let (group, version, resource, ns) = (
                text("group"),
                text("version"),
                text("resource"),
                text("namespace"),
            );
            let api = if group.is_empty() {
                version.to_string()
            } else {
                format!("{group}/{version}")
            };
            let path = crate::resolver::collection_path(&api, ns, resource);
            let list = r
                .0
                .call("GET", &path, None)
                .map_err(|e| format!("global context entry `{name}`: GET {path} failed: {e}"))?;
            list.get("items")
                .cloned()
                .unwrap_or(Value::Array(Vec::new()))
        } else if let Some(call) = spec.get("apiCall") {
            crate::context::fetch(name, call, ctx)?
        } else {
            return Err(format!(
                "global context entry `{name}` has neither kubernetesResource nor apiCall"
            ));
        };
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(name.to_string(), (Instant::now(), data.clone()));
        }
        Ok(data)
    }
}
