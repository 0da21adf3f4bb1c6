//! Namespace labels from the cluster: a kube-rs reflector on Namespaces (get, list, watch).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use serde_json::{Map, Value};

use crate::decide::NamespaceLabels;

/// Namespace labels kept current by a watch.
pub struct ReflectedNamespaces {
    store: Store<Namespace>,
    ready: Arc<AtomicBool>,
}

impl std::fmt::Debug for ReflectedNamespaces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReflectedNamespaces")
            .field("ready", &self.ready.load(Ordering::Relaxed))
            .finish()
    }
}

impl NamespaceLabels for ReflectedNamespaces {
    fn labels(&self, namespace: &str) -> Option<Map<String, Value>> {
        let ns = self.store.get(&ObjectRef::new(namespace))?;
        let labels = ns.metadata.labels.as_ref()?;
        Some(
            labels
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        )
    }

    fn ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }
}

/// Starts watching Namespaces if a cluster is reachable (in-cluster service account or a
/// kubeconfig). `None` when there is no cluster configuration: the config file applies alone.
pub async fn start() -> Option<Arc<ReflectedNamespaces>> {
    let client = match Client::try_default().await {
        Ok(c) => c,
        Err(e) => {
            tracing::info!(error = %e, "no cluster configuration; namespace labels come from the config file only");
            return None;
        }
    };
    let api: Api<Namespace> = Api::all(client);
    let (store, writer) = reflector::store();
    let ready = Arc::new(AtomicBool::new(false));
    let stream = reflector::reflector(writer, watcher(api, watcher::Config::default()))
        .default_backoff()
        .touched_objects();
    tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(item) = stream.next().await {
            if let Err(e) = item {
                tracing::warn!(error = %e, "namespace watch error; retrying");
            }
        }
    });
    let r = Arc::clone(&ready);
    let s = store.clone();
    tokio::spawn(async move {
        if s.wait_until_ready().await.is_ok() {
            r.store(true, Ordering::Relaxed);
            tracing::info!("namespace cache synced");
        }
    });
    Some(Arc::new(ReflectedNamespaces { store, ready }))
}
