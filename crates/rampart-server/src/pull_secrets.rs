//! Pods' `imagePullSecrets` at admission: the registry credentials of the Secrets a pod names
//! (`kubernetes.io/dockerconfigjson`, legacy `kubernetes.io/dockercfg`) in the request's
//! namespace, read through kube-rs (`get` on `secrets`, an opt-in RBAC grant) and kept for
//! [`SECRET_TTL`]. A Secret that cannot be read is said, never skipped in silence; its values are
//! never logged nor returned.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use rampart_images::Credentials;

/// How long a Secret (or the reason it cannot be read) is kept.
pub const SECRET_TTL: Duration = Duration::from_secs(30);
/// Secrets kept at most; the oldest half is dropped when full.
const CAPACITY: usize = 4096;

/// One Secret as read: its credentials (none when of another type), or why it cannot be used.
type Read = Result<Option<Credentials>, String>;

/// Reads pull Secrets through the cluster's API, cached briefly.
pub struct PullSecrets {
    client: kube::Client,
    /// Bound on one read.
    timeout: Duration,
    cache: Mutex<HashMap<(String, String), (Instant, Read)>>,
}

impl std::fmt::Debug for PullSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PullSecrets").finish_non_exhaustive()
    }
}

/// The credentials a pod's `imagePullSecrets` give, and the Secrets that gave none (each with
/// why).
#[derive(Debug, Default)]
pub(crate) struct PodCredentials {
    /// Every readable Secret's credentials, the first Secret naming a host winning (as the
    /// kubelet tries them in order).
    pub credentials: Credentials,
    /// `secret "name": reason` for each Secret that could not be used.
    pub problems: Vec<String>,
}

impl PullSecrets {
    /// Reads Secrets with this client (in-cluster service account or kubeconfig).
    pub fn new(client: kube::Client) -> Self {
        PullSecrets {
            client,
            timeout: Duration::from_secs(2),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Reads Secrets with the cluster kube-rs infers; `None` when there is none.
    pub async fn infer() -> Option<Self> {
        match kube::Client::try_default().await {
            Ok(c) => Some(Self::new(c)),
            Err(e) => {
                tracing::info!(error = %e, "no cluster configuration; imagePullSecrets are not read");
                None
            }
        }
    }

    /// The credentials of `names` in `namespace`.
    pub(crate) async fn for_pod(&self, namespace: &str, names: &[String]) -> PodCredentials {
        let mut out = PodCredentials::default();
        for name in names {
            match self.read(namespace, name).await {
                Ok(Some(c)) => out.credentials.fill_from(&c),
                Ok(None) => out.problems.push(format!(
                    "secret {name:?} is not of type kubernetes.io/dockerconfigjson or kubernetes.io/dockercfg"
                )),
                Err(why) => out.problems.push(format!("secret {name:?}: {why}")),
            }
        }
        out
    }

    async fn read(&self, namespace: &str, name: &str) -> Read {
        let key = (namespace.to_string(), name.to_string());
        let now = Instant::now();
        if let Ok(cache) = self.cache.lock()
            && let Some((at, r)) = cache.get(&key)
            && now.duration_since(*at) < SECRET_TTL
        {
            return r.clone();
        }
        let api: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        let read = match tokio::time::timeout(self.timeout, api.get(name)).await {
            Err(_) => Err(format!(
                "cannot be read: the API server did not answer within {:?}",
                self.timeout
            )),
            Ok(Err(kube::Error::Api(s))) => Err(format!(
                "cannot be read: {} {}: {}",
                s.code, s.reason, s.message
            )),
            Ok(Err(e)) => Err(format!("cannot be read: {e}")),
            Ok(Ok(secret)) => {
                let ty = secret.type_.as_deref().unwrap_or("");
                let data = secret
                    .data
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k, v.0))
                    .collect();
                let source = format!("Secret {namespace}/{name}");
                Credentials::from_pull_secret(ty, &data, &source)
            }
        };
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= CAPACITY {
                cache.retain(|_, (at, _)| now.duration_since(*at) < SECRET_TTL);
            }
            if cache.len() < CAPACITY {
                cache.insert(key, (now, read.clone()));
            }
        }
        read
    }
}

/// The names in a pod spec's `imagePullSecrets`.
pub(crate) fn names(spec: &serde_json::Map<String, serde_json::Value>) -> Vec<String> {
    spec.get("imagePullSecrets")
        .and_then(serde_json::Value::as_array)
        .map(|l| {
            l.iter()
                .filter_map(|s| s.get("name")?.as_str())
                .filter(|n| !n.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}
