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
    use super::path_namespace;

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
