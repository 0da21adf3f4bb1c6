//! Context entries that need a cluster (`configMap`, `apiCall`): the engine asks a
//! [`ContextResolver`], synchronously, so it stays testable without one. [`crate::live`] has
//! the implementation that calls the API server through kube-rs.

use serde_json::Value;
use std::sync::Arc;

/// Calls the Kubernetes API for context entries.
pub trait ContextResolver: Send + Sync {
    /// `method` (`GET` or `POST`) on `url_path` (`/api/v1/namespaces/x/configmaps/y`), with a
    /// JSON body for a `POST`: the response body as JSON, or why there is none (the status
    /// and the API's message).
    fn call(&self, method: &str, url_path: &str, body: Option<&Value>) -> Result<Value, String>;
    /// Calls an external service (`apiCall.service`): the response body as JSON, or why there
    /// is none.
    fn service(&self, call: &ServiceCall) -> Result<Value, String> {
        Err(format!(
            "no service calls here ({}); give the entry's value in the values file",
            call.url
        ))
    }
    /// CEL's `http.Get`/`http.Post`: the response as Kyverno's HTTP library gives it, the
    /// decoded body with its `statusCode` (merged into an object body, else beside it as
    /// `body`).
    fn http(&self, call: &ServiceCall) -> Result<Value, String> {
        Ok(match self.service(call)? {
            Value::Object(mut m) => {
                m.insert("statusCode".into(), Value::from(200));
                Value::Object(m)
            }
            other => serde_json::json!({"body": other, "statusCode": 200}),
        })
    }
}

/// An `apiCall.service` request, its variables substituted.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceCall {
    pub url: String,
    /// `GET` or `POST`.
    pub method: String,
    /// PEM certificates to trust for `https` URLs, instead of the system's.
    pub ca_bundle: String,
    pub headers: Vec<(String, String)>,
    /// The JSON body of a `POST`: the `data` entries as an object.
    pub body: Option<Value>,
}

/// A shared [`ContextResolver`], as [`crate::AdmissionInfo`] and [`crate::PolicySet`] hold it.
#[derive(Clone)]
pub struct Resolver(pub Arc<dyn ContextResolver>);

impl Resolver {
    pub fn new(r: impl ContextResolver + 'static) -> Resolver {
        Resolver(Arc::new(r))
    }
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Resolver")
    }
}

/// A cluster made of known objects (a `kyverno test`'s `clusterResources`), answering `GET`s as
/// the API server does: an object by its path, or a collection (`…List` with `items`, filtered
/// by a `labelSelector` of `key=value`, `key!=value` and `key` terms).
#[derive(Debug, Default)]
pub struct ObjectsResolver {
    pub objects: Vec<Value>,
    /// `apiCallResponses`: the responses service calls get, by URL (and method, when given).
    pub responses: Vec<Value>,
}

impl ContextResolver for ObjectsResolver {
    /// A mocked response as `kyverno test` gives it to CEL: `{body, statusCode}`.
    fn http(&self, call: &ServiceCall) -> Result<Value, String> {
        let m = self.response(call)?;
        Ok(serde_json::json!({
            "body": m.pointer("/response/body").cloned().unwrap_or(Value::Null),
            "statusCode": m.pointer("/response/statusCode").and_then(Value::as_u64).unwrap_or(200),
        }))
    }

    fn service(&self, call: &ServiceCall) -> Result<Value, String> {
        let m = self.response(call)?;
        let status = m
            .pointer("/response/statusCode")
            .and_then(Value::as_u64)
            .unwrap_or(200);
        let body = m.pointer("/response/body").cloned().unwrap_or(Value::Null);
        if status >= 300 {
            return Err(format!("HTTP {status}: {body}"));
        }
        Ok(body)
    }

    fn call(&self, method: &str, url_path: &str, _body: Option<&Value>) -> Result<Value, String> {
        if method != "GET" {
            return Err(format!(
                "{method} {url_path}: only GETs are answered from the test's cluster resources"
            ));
        }
        let (path, query) = url_path.split_once('?').unwrap_or((url_path, ""));
        let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let (api, rest) = match segs.as_slice() {
            ["api", v, rest @ ..] => ((*v).to_string(), rest),
            ["apis", g, v, rest @ ..] => (format!("{g}/{v}"), rest),
            _ => return Err(format!("{url_path}: not an API path")),
        };
        let (ns, rest) = match rest {
            ["namespaces", ns, rest @ ..] if !rest.is_empty() => (Some(*ns), rest),
            _ => (None, rest),
        };
        let (plural, name) = match rest {
            [plural] => (*plural, None),
            [plural, name] => (*plural, Some(*name)),
            _ => return Err(format!("{url_path}: not a resource path")),
        };
        let text = |o: &Value, p: &str| {
            o.pointer(p)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let of_kind = |o: &&Value| {
            text(o, "/apiVersion") == api
                && crate::resource_of(&text(o, "/kind")) == plural
                && ns.is_none_or(|ns| text(o, "/metadata/namespace") == ns)
        };
        if let Some(name) = name {
            return self
                .objects
                .iter()
                .filter(of_kind)
                .find(|o| text(o, "/metadata/name") == name)
                .cloned()
                .ok_or_else(|| format!("404 Not Found: {plural} \"{name}\" not found"));
        }
        let selector = query
            .split('&')
            .find_map(|kv| kv.strip_prefix("labelSelector="))
            .map(|s| {
                s.replace("%3D", "=")
                    .replace("%2C", ",")
                    .replace("%21", "!")
            })
            .unwrap_or_default();
        let items: Vec<Value> = self
            .objects
            .iter()
            .filter(of_kind)
            .filter(|o| selects(&selector, o.pointer("/metadata/labels")))
            .cloned()
            .collect();
        let kind = items.first().map(|o| text(o, "/kind")).unwrap_or_default();
        Ok(serde_json::json!({
            "apiVersion": api,
            "kind": format!("{kind}List"),
            "metadata": {},
            "items": items,
        }))
    }
}

impl ObjectsResolver {
    /// The `apiCallResponses` entry for a call: by URL, and method when it names one.
    fn response(&self, call: &ServiceCall) -> Result<&Value, String> {
        self.responses
            .iter()
            .find(|m| {
                m.get("url").and_then(Value::as_str) == Some(call.url.as_str())
                    && m.get("method")
                        .and_then(Value::as_str)
                        .is_none_or(|x| x.eq_ignore_ascii_case(&call.method))
            })
            .ok_or_else(|| {
                format!(
                    "no response for {} {} among the test's apiCallResponses",
                    call.method, call.url
                )
            })
    }
}

/// Whether labels satisfy an equality-based label selector (`a=b,c!=d,e`).
fn selects(selector: &str, labels: Option<&Value>) -> bool {
    let label = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
    selector
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .all(|t| {
            if let Some((k, v)) = t.split_once("!=") {
                label(k.trim()) != Some(v.trim())
            } else if let Some((k, v)) = t.split_once("==").or_else(|| t.split_once('=')) {
                label(k.trim()) == Some(v.trim())
            } else if let Some(k) = t.strip_prefix('!') {
                label(k.trim()).is_none()
            } else {
                label(t).is_some()
            }
        })
}

/// The API path of a collection of resources: `/api/v1/namespaces/NS/configmaps` for the core
/// group's `v1`, `/apis/GROUP/VERSION/…` for the others; cluster-wide without a namespace.
pub fn collection_path(api_version: &str, namespace: &str, plural: &str) -> String {
    let base = if api_version.contains('/') {
        format!("/apis/{api_version}")
    } else {
        format!("/api/{api_version}")
    };
    if namespace.is_empty() {
        format!("{base}/{plural}")
    } else {
        format!("{base}/namespaces/{namespace}/{plural}")
    }
}

/// The namespace a namespaced API path names (`/api/v1/namespaces/NS/...`,
/// `/apis/GROUP/VERSION/namespaces/NS/...`), if it names one.
pub fn path_namespace(url_path: &str) -> Option<&str> {
    let mut segs = url_path.split('/').filter(|s| !s.is_empty() && *s != ".");
    let first = segs.next()?;
    let skip = match first {
        "api" => 1,
        "apis" => 2,
        _ => return None,
    };
    let mut segs = segs.skip(skip);
    if segs.next()? != "namespaces" {
        return None;
    }
    segs.next()
}

#[cfg(test)]
mod tests {
    use super::{ContextResolver, ServiceCall, path_namespace};
    use serde_json::{Value, json};

    /// A service answering with the body it is given.
    struct Echo(Value);

    impl ContextResolver for Echo {
        fn call(&self, _: &str, _: &str, _: Option<&Value>) -> Result<Value, String> {
            Err("no API".into())
        }
        fn service(&self, _: &ServiceCall) -> Result<Value, String> {
            Ok(self.0.clone())
        }
    }

    #[test]
    fn http_responses_carry_their_status_as_kyverno_s_library_gives_them() {
        let call = ServiceCall {
            url: "https://svc.test/x".into(),
            method: "GET".into(),
            ca_bundle: String::new(),
            headers: Vec::new(),
            body: None,
        };
        assert_eq!(
            Echo(json!({"allowed": true})).http(&call).unwrap(),
            json!({"allowed": true, "statusCode": 200})
        );
        assert_eq!(
            Echo(json!(["a", "b"])).http(&call).unwrap(),
            json!({"body": ["a", "b"], "statusCode": 200})
        );
    }

    #[test]
    fn namespaces_of_paths() {
        assert_eq!(
            path_namespace("/api/v1/namespaces/a/configmaps/b"),
            Some("a")
        );
        assert_eq!(
            path_namespace("/apis/apps/v1/namespaces/x/deployments"),
            Some("x")
        );
        assert_eq!(path_namespace("/api/v1/namespaces"), None);
        assert_eq!(path_namespace("/apis/apps/v1/deployments"), None);
    }
}
