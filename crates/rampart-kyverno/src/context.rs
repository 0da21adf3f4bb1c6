//! The JSON context of a rule: `request`, `serviceAccountName`, `images`, values and context
//! entries.

use crate::AdmissionInfo;
use crate::vars::{Ctx, substitute};
use serde_json::{Map, Value, json};

/// Builds the base context for a resource.
pub fn base(resource: &Value, info: &AdmissionInfo) -> Ctx {
    let meta = resource.get("metadata");
    let s = |k: &str| meta.and_then(|m| m.get(k)).cloned().unwrap_or(Value::Null);
    let api = resource
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    let (group, version) = api.rsplit_once('/').unwrap_or(("", api));
    let mut request = json!({
        "operation": info.operation,
        "object": resource,
        "oldObject": info.old_object.clone().unwrap_or(Value::Null),
        "userInfo": info.user_info,
        "roles": info.roles,
        "clusterRoles": info.cluster_roles,
        "namespace": s("namespace"),
        "name": s("name"),
        "kind": {"group": group, "version": version, "kind": resource.get("kind").cloned().unwrap_or(Value::Null)},
    });
    if info.operation == "DELETE"
        && let Some(r) = request.as_object_mut()
    {
        r.insert("oldObject".into(), resource.clone());
        r.insert("object".into(), Value::Null);
    }
    let user = info
        .user_info
        .get("username")
        .and_then(Value::as_str)
        .unwrap_or("");
    let (sa_ns, sa_name) = match user
        .strip_prefix("system:serviceaccount:")
        .and_then(|r| r.split_once(':'))
    {
        Some((ns, n)) => (ns.to_string(), n.to_string()),
        None => (String::new(), String::new()),
    };
    let mut ctx = Ctx::new(json!({
        "request": request,
        "serviceAccountName": sa_name,
        "serviceAccountNamespace": sa_ns,
        "images": images(resource),
    }));
    for (k, v) in &info.values {
        ctx.set_path(k, v.clone());
        ctx.preset.push(k.clone());
    }
    ctx.resolver = info.resolver.clone();
    ctx.global = info.global.clone();
    ctx.image_verifier = info.image_verifier.clone();
    ctx
}

/// Kyverno's `images` variable: image facts per container name.
pub fn images(resource: &Value) -> Value {
    let spec = match resource.get("kind").and_then(Value::as_str) {
        Some("Pod") => resource.get("spec"),
        Some("CronJob") => resource.pointer("/spec/jobTemplate/spec/template/spec"),
        _ => resource.pointer("/spec/template/spec"),
    };
    let Some(spec) = spec else {
        return Value::Null;
    };
    let mut out = Map::new();
    for field in ["containers", "initContainers", "ephemeralContainers"] {
        let Some(list) = spec.get(field).and_then(Value::as_array) else {
            continue;
        };
        let mut m = Map::new();
        for c in list {
            let (Some(name), Some(image)) = (
                c.get("name").and_then(Value::as_str),
                c.get("image").and_then(Value::as_str),
            ) else {
                continue;
            };
            m.insert(name.to_string(), image_info(image));
        }
        if !m.is_empty() {
            out.insert(field.to_string(), Value::Object(m));
        }
    }
    Value::Object(out)
}

/// Splits an image reference the way Kyverno reports it.
pub fn image_info(image: &str) -> Value {
    let (rest, digest) = match image.split_once('@') {
        Some((r, d)) => (r, d.to_string()),
        None => (image, String::new()),
    };
    let last_slash = rest.rfind('/').map(|i| i + 1).unwrap_or(0);
    let (rest, tag) = match rest.get(last_slash..).and_then(|t| t.rfind(':')) {
        Some(i) => (
            rest.get(..last_slash + i).unwrap_or(rest),
            rest.get(last_slash + i + 1..).unwrap_or("").to_string(),
        ),
        None => (rest, String::new()),
    };
    let (registry, path) = match rest.split_once('/') {
        Some((first, p)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            (first.to_string(), p.to_string())
        }
        _ => ("docker.io".to_string(), rest.to_string()),
    };
    let tag = if tag.is_empty() && digest.is_empty() {
        "latest".to_string()
    } else {
        tag
    };
    let name = path.rsplit('/').next().unwrap_or(&path).to_string();
    let mut reference = format!("{registry}/{path}");
    if !tag.is_empty() {
        reference.push(':');
        reference.push_str(&tag);
    }
    if !digest.is_empty() {
        reference.push('@');
        reference.push_str(&digest);
    }
    let mut m = Map::new();
    m.insert("registry".into(), Value::String(registry));
    m.insert("path".into(), Value::String(path));
    m.insert("name".into(), Value::String(name));
    m.insert("tag".into(), Value::String(tag));
    if !digest.is_empty() {
        m.insert("digest".into(), Value::String(digest));
    }
    m.insert("reference".into(), Value::String(reference));
    Value::Object(m)
}

/// Loads a rule's `context` entries into `ctx`. Entries whose name the values already set are
/// taken from the values.
///
/// As Kyverno loads them (deferred): an entry that cannot be loaded is an error only for the
/// queries that name it ([`Ctx::query`]); the rule goes on without it.
pub fn load(entries: &Value, ctx: &mut Ctx) -> Result<(), String> {
    for e in entries.as_array().into_iter().flatten() {
        let name = e.get("name").and_then(Value::as_str).unwrap_or("");
        if ctx.is_preset(name) {
            continue;
        }
        match load_entry(name, e, ctx) {
            Ok(()) => ctx.defer_error(name, None),
            Err(why) => ctx.defer_error(name, Some(why)),
        }
    }
    Ok(())
}

/// Loads one entry into `ctx`, or says why it cannot.
fn load_entry(name: &str, e: &Value, ctx: &mut Ctx) -> Result<(), String> {
    {
        if let Some(var) = e.get("variable") {
            let mut v = match var.get("value") {
                Some(val) => substitute(val, ctx)?,
                None => Value::Null,
            };
            if let Some(path) = var.get("jmesPath").and_then(Value::as_str) {
                let path = match substitute(&Value::String(path.to_string()), ctx)? {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                // a missing key fails the query; the default then stands in, as in Kyverno
                let found = if var.get("value").is_some() {
                    crate::jmes::search(&path, &v).and_then(|x| {
                        match (x.is_null(), crate::jmes::unknown_key(&path, &v)) {
                            (true, Some(k)) => Err(format!("Unknown key \"{k}\" in path")),
                            _ => Ok(x),
                        }
                    })
                } else {
                    ctx.query_strict(&path)
                };
                v = match found {
                    Ok(x) => x,
                    Err(e) if var.get("default").is_none() => {
                        return Err(format!(
                            "failed to apply jmespath {path} to variable {name}: {e}"
                        ));
                    }
                    Err(_) => Value::Null,
                };
            }
            if v.is_null()
                && let Some(d) = var.get("default")
            {
                v = substitute(d, ctx)?;
            }
            if v.is_null() {
                return Err(format!(
                    "failed to add context entry for variable {name} since it evaluated to nil"
                ));
            }
            ctx.set(name, v);
        } else if let Some(cm) = e.get("configMap") {
            let v = config_map(name, cm, ctx)?;
            ctx.set(name, v);
        } else if let Some(call) = e.get("apiCall") {
            let v = api_call(name, call, ctx)?;
            ctx.set(name, v);
        } else if let Some(ir) = e.get("imageRegistry") {
            let Some(v) = ctx.image_verifier.clone() else {
                return Err(format!(
                    "context entry `{name}`: imageRegistry needs a registry; give its value in the test's values file"
                ));
            };
            let reference = substituted_str(ir.get("reference"), ctx, "imageRegistry.reference")?;
            let data = v.0.image_data(&reference).map_err(|e| {
                let (crate::images::VerifyError::Error(e) | crate::images::VerifyError::Failed(e)) = e;
                format!("context entry `{name}`: failed to fetch image descriptor: {reference}, error: {e}")
            })?;
            let path = substituted_str(ir.get("jmesPath"), ctx, "imageRegistry.jmesPath")?;
            let data = if path.trim().is_empty() {
                data
            } else {
                crate::jmes::search(&path, &data).map_err(|e| {
                    format!("context entry `{name}`: failed to apply JMESPath ({path}) to the image data: {e}")
                })?
            };
            ctx.set(name, data);
        } else if let Some(g) = e.get("globalReference") {
            let Some(global) = ctx.global.clone() else {
                return Err(format!(
                    "context entry `{name}`: globalReference names no GlobalContextEntry loaded; give its value in the values file"
                ));
            };
            let reference = substituted_str(g.get("name"), ctx, "globalReference.name")?;
            let data = global
                .data(&reference, ctx)
                .map_err(|e| format!("context entry `{name}`: {e}"))?;
            let path = substituted_str(g.get("jmesPath"), ctx, "globalReference.jmesPath")?;
            let v = if path.trim().is_empty() {
                data
            } else {
                crate::jmes::search(&path, &data).map_err(|e| {
                    format!("failed to apply JMESPath {path} for context entry {name}: {e}")
                })?
            };
            ctx.set(name, v);
        }
    }
    Ok(())
}

fn substituted_str(v: Option<&Value>, ctx: &Ctx, what: &str) -> Result<String, String> {
    match substitute(v.unwrap_or(&Value::Null), ctx)? {
        Value::String(s) => Ok(s),
        Value::Null => Ok(String::new()),
        other => Err(format!("{what}: expected a string, got {other}")),
    }
}

/// A `configMap` entry: `{data, metadata}` of the ConfigMap, read through the resolver (its
/// namespace defaults to the policy's, else `default`).
fn config_map(name: &str, cm: &Value, ctx: &Ctx) -> Result<Value, String> {
    let cm_name = substituted_str(cm.get("name"), ctx, "configMap.name")?;
    let mut ns = substituted_str(cm.get("namespace"), ctx, "configMap.namespace")?;
    if ns.is_empty() {
        ns = ctx
            .policy_namespace
            .clone()
            .unwrap_or_else(|| "default".into());
    }
    let Some(r) = &ctx.resolver else {
        return Err(format!(
            "context entry `{name}`: configMap `{ns}/{cm_name}` is not in the values and no cluster is at hand"
        ));
    };
    if let Some(pns) = &ctx.policy_namespace
        && *pns != ns
    {
        return Err(format!(
            "context entry `{name}`: configMap namespace {ns:?} is different from policy namespace {pns:?}"
        ));
    }
    let obj =
        r.0.call(
            "GET",
            &format!("/api/v1/namespaces/{ns}/configmaps/{cm_name}"),
            None,
        )
        .map_err(|e| {
            format!("context entry `{name}`: failed to get configmap {ns}/{cm_name}: {e}")
        })?;
    Ok(json!({
        "data": obj.get("data").cloned().unwrap_or(Value::Null),
        "metadata": obj.get("metadata").cloned().unwrap_or(Value::Null),
    }))
}

/// An `apiCall` entry: a call through the API server (`urlPath`, `method`, `data`), with
/// `jmesPath` applied to the response; `default` when the call fails.
fn api_call(name: &str, call: &Value, ctx: &Ctx) -> Result<Value, String> {
    let default = call.get("default").filter(|d| !d.is_null());
    let fetched = fetch(name, call, ctx);
    let body = match (fetched, default) {
        (Ok(v), _) => v,
        (Err(_), Some(d)) => return Ok(d.clone()),
        (Err(e), None) => return Err(e),
    };
    let path = substituted_str(call.get("jmesPath"), ctx, "apiCall.jmesPath")?;
    if path.trim().is_empty() {
        return Ok(body);
    }
    crate::jmes::search(&path, &body).map_err(|e| {
        format!(
            "context entry `{name}`: failed to apply JMESPath {path} to the apiCall response: {e}"
        )
    })
}

pub(crate) fn fetch(name: &str, call: &Value, ctx: &Ctx) -> Result<Value, String> {
    let method = substituted_str(call.get("method"), ctx, "apiCall.method")?;
    let method = if method.is_empty() {
        "GET".to_string()
    } else {
        method
    };
    // `data` is a list of `{key, value}`: the POST body's fields.
    let body = match call.get("data").and_then(Value::as_array) {
        Some(items) if method == "POST" => {
            let mut m = Map::new();
            for it in items {
                let key = substituted_str(it.get("key"), ctx, "apiCall.data.key")?;
                m.insert(
                    key,
                    substitute(it.get("value").unwrap_or(&Value::Null), ctx)?,
                );
            }
            Some(Value::Object(m))
        }
        _ => None,
    };
    if let Some(service) = call.get("service").filter(|s| !s.is_null()) {
        let mut headers = Vec::new();
        for h in service
            .get("headers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            headers.push((
                substituted_str(h.get("key"), ctx, "apiCall.service.headers.key")?,
                substituted_str(h.get("value"), ctx, "apiCall.service.headers.value")?,
            ));
        }
        let request = crate::resolver::ServiceCall {
            url: substituted_str(service.get("url"), ctx, "apiCall.service.url")?,
            method: method.clone(),
            ca_bundle: substituted_str(service.get("caBundle"), ctx, "apiCall.service.caBundle")?,
            headers,
            body,
        };
        let Some(r) = &ctx.resolver else {
            return Err(format!(
                "context entry `{name}`: apiCall.service needs network access (serve); give its value in the test's values file"
            ));
        };
        return r.0.service(&request).map_err(|e| {
            format!(
                "context entry `{name}`: apiCall {method} {} failed: {e}",
                request.url
            )
        });
    }
    let url_path = substituted_str(call.get("urlPath"), ctx, "apiCall.urlPath")?;
    let Some(r) = &ctx.resolver else {
        return Err(format!(
            "context entry `{name}`: apiCall needs a cluster; give its value in the test's values file"
        ));
    };
    if let Some(pns) = &ctx.policy_namespace {
        match crate::resolver::path_namespace(&url_path) {
            Some(ns) if ns == pns => {}
            Some(ns) => {
                return Err(format!(
                    "context entry `{name}`: path {url_path} refers to namespace {ns}, which is different from the policy namespace {pns}"
                ));
            }
            None => {
                return Err(format!(
                    "context entry `{name}`: path {url_path} does not contain a namespace segment, which is required for namespaced policies"
                ));
            }
        }
    }
    r.0.call(&method, &url_path, body.as_ref())
        .map_err(|e| format!("context entry `{name}`: apiCall {method} {url_path} failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::image_info;
    use serde_json::json;

    #[test]
    fn image_parts() {
        assert_eq!(image_info("nginx")["registry"], json!("docker.io"));
        assert_eq!(image_info("nginx")["tag"], json!("latest"));
        let i = image_info("ghcr.io/org/app:1.2@sha256:abc");
        assert_eq!(i["registry"], json!("ghcr.io"));
        assert_eq!(i["path"], json!("org/app"));
        assert_eq!(i["name"], json!("app"));
        assert_eq!(i["tag"], json!("1.2"));
        assert_eq!(
            image_info("localhost:5000/a")["registry"],
            json!("localhost:5000")
        );
    }
}
