//! A [`ContextResolver`] that calls the API server through kube-rs, for `serve`, and the
//! external services of `apiCall.service` entries (HTTPS with their `caBundle` or the system's
//! roots; Kyverno's scoped service-account token is not sent).
//!
//! The engine is synchronous; the calls are not. The resolver owns one thread running a
//! small tokio runtime with the kube client; each call is sent to it and waited for, with a
//! timeout, so it works from any thread (a server's worker included). The service account
//! needs `get` on the ConfigMaps the policies read and whatever their `apiCall`s read (see
//! `deploy/`).

use crate::KyvernoError;
use crate::resolver::{ContextResolver, ServiceCall};
use rampart_core::InputError;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

enum Request {
    /// A call to the API server: method, path, JSON body.
    Api(String, String, Option<Value>),
    /// A call to an external service.
    Service(ServiceCall),
}

struct Job {
    request: Request,
    reply: mpsc::SyncSender<Result<Value, String>>,
}

/// Calls the cluster's API for `configMap` and `apiCall` context entries.
pub struct KubeResolver {
    jobs: tokio::sync::mpsc::UnboundedSender<Job>,
    timeout: Duration,
    /// ConfigMaps read in the last [`KubeResolver::CONFIG_MAP_TTL`], by path: an admission
    /// burst reads each once (Kyverno serves them from an informer cache).
    config_maps: Mutex<HashMap<String, (Instant, Value)>>,
}

fn config_error(message: String) -> KyvernoError {
    KyvernoError::Input(InputError {
        file: "<kubeconfig>".into(),
        line: 0,
        column: 0,
        message,
    })
}

impl KubeResolver {
    /// How long a ConfigMap read is reused.
    pub const CONFIG_MAP_TTL: Duration = Duration::from_secs(2);

    /// A resolver for the cluster of `config`; each call waits at most `timeout`.
    pub fn new(config: kube::Config, timeout: Duration) -> Result<KubeResolver, KyvernoError> {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Job>();
        let (ready_tx, ready_rx) = mpsc::sync_channel::<Result<(), String>>(1);
        std::thread::Builder::new()
            .name("kyverno-context".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                rt.block_on(async move {
                    let client = match kube::Client::try_from(config) {
                        Ok(c) => c,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e.to_string()));
                            return;
                        }
                    };
                    let _ = ready_tx.send(Ok(()));
                    let services = ServiceClients::default();
                    while let Some(job) = rx.recv().await {
                        let client = client.clone();
                        let services = services.clone();
                        tokio::spawn(async move {
                            let r = match &job.request {
                                Request::Api(method, path, body) => {
                                    call(&client, method, path, body.as_ref()).await
                                }
                                Request::Service(s) => service_call(&services, s).await,
                            };
                            let _ = job.reply.send(r);
                        });
                    }
                });
            })
            .map_err(|e| config_error(format!("starting the context resolver: {e}")))?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(KubeResolver {
                jobs: tx,
                timeout,
                config_maps: Mutex::new(HashMap::new()),
            }),
            Ok(Err(e)) => Err(config_error(format!("kube client: {e}"))),
            Err(_) => Err(config_error("the context resolver did not start".into())),
        }
    }

    /// A resolver for the cluster kube-rs infers (in-cluster service account, else the
    /// kubeconfig).
    pub fn infer(timeout: Duration) -> Result<KubeResolver, KyvernoError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| config_error(e.to_string()))?;
        let config = rt
            .block_on(kube::Config::infer())
            .map_err(|e| config_error(format!("no cluster configuration: {e}")))?;
        KubeResolver::new(config, timeout)
    }
}

fn is_config_map(method: &str, path: &str) -> bool {
    method == "GET"
        && path.starts_with("/api/v1/namespaces/")
        && path.split('/').nth(5) == Some("configmaps")
        && path.split('/').count() == 7
}

impl ContextResolver for KubeResolver {
    fn call(&self, method: &str, url_path: &str, body: Option<&Value>) -> Result<Value, String> {
        let cached = is_config_map(method, url_path);
        if cached
            && let Ok(m) = self.config_maps.lock()
            && let Some((at, v)) = m.get(url_path)
            && at.elapsed() < Self::CONFIG_MAP_TTL
        {
            return Ok(v.clone());
        }
        let r = self.send(Request::Api(
            method.to_string(),
            url_path.to_string(),
            body.cloned(),
        ));
        if cached
            && let Ok(v) = &r
            && let Ok(mut m) = self.config_maps.lock()
        {
            if m.len() > 4096 {
                m.clear();
            }
            m.insert(url_path.to_string(), (Instant::now(), v.clone()));
        }
        r
    }

    fn service(&self, call: &ServiceCall) -> Result<Value, String> {
        self.send(Request::Service(call.clone()))
    }
}

impl KubeResolver {
    fn send(&self, request: Request) -> Result<Value, String> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.jobs
            .send(Job { request, reply })
            .map_err(|_| "the context resolver has stopped".to_string())?;
        match answer.recv_timeout(self.timeout) {
            Ok(r) => r,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                Err(format!("no answer within {:?}", self.timeout))
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                Err("the context resolver has stopped".to_string())
            }
        }
    }
}

async fn call(
    client: &kube::Client,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Result<Value, String> {
    if !path.starts_with('/') {
        return Err(format!("urlPath {path:?} must start with /"));
    }
    let method = match method {
        "GET" => http::Method::GET,
        "POST" => http::Method::POST,
        other => return Err(format!("method {other:?} is not supported (GET or POST)")),
    };
    let bytes = match body {
        Some(b) => serde_json::to_vec(b).map_err(|e| e.to_string())?,
        None => Vec::new(),
    };
    let req = http::Request::builder()
        .method(method)
        .uri(path)
        .header(http::header::ACCEPT, "application/json")
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(bytes)
        .map_err(|e| e.to_string())?;
    let text = client.request_text(req).await.map_err(|e| match e {
        kube::Error::Api(s) => format!("{} {}: {}", s.code, s.reason, s.message),
        other => other.to_string(),
    })?;
    serde_json::from_str(&text).map_err(|e| format!("the response is not JSON: {e}"))
}

type ServiceClient = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    http_body_util::Full<bytes::Bytes>,
>;

/// The HTTP clients of `apiCall.service` entries, one per CA bundle (empty: the system's
/// roots), built on first use and kept: their TLS configuration and connections are reused
/// from one admission request to the next.
#[derive(Clone, Default)]
struct ServiceClients(std::sync::Arc<Mutex<HashMap<String, ServiceClient>>>);

impl ServiceClients {
    fn client(&self, ca_bundle: &str) -> Result<ServiceClient, String> {
        if let Ok(m) = self.0.lock()
            && let Some(c) = m.get(ca_bundle)
        {
            return Ok(c.clone());
        }
        let mut roots = rustls::RootCertStore::empty();
        if ca_bundle.trim().is_empty() {
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
        } else {
            use rustls_pki_types::pem::PemObject as _;
            for cert in rustls_pki_types::CertificateDer::pem_slice_iter(ca_bundle.as_bytes()) {
                let cert = cert.map_err(|e| format!("failed to parse PEM CA bundle: {e}"))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("failed to parse PEM CA bundle: {e}"))?;
            }
            if roots.is_empty() {
                return Err("failed to parse PEM CA bundle: no certificate".into());
            }
        }
        let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build(https);
        if let Ok(mut m) = self.0.lock() {
            // bundles come from policies (a variable could make many): bounded
            if m.len() >= 64 {
                m.clear();
            }
            m.insert(ca_bundle.to_string(), client.clone());
        }
        Ok(client)
    }
}

/// The largest service response read (Kyverno's default `maxAPICallResponseLength`).
const MAX_SERVICE_RESPONSE: usize = 10 * 1000 * 1000;

/// An `apiCall.service` request, as Kyverno's executor sends it: `GET` or `POST` (with the JSON
/// body) to the URL with the headers; `https` trusts `caBundle` when given, else the system's
/// roots. A status outside 2xx is an error with the response's text.
async fn service_call(services: &ServiceClients, s: &ServiceCall) -> Result<Value, String> {
    use http_body_util::BodyExt as _;
    let method = match s.method.as_str() {
        "GET" => http::Method::GET,
        "POST" => http::Method::POST,
        other => return Err(format!("invalid request type {other} (GET or POST)")),
    };
    let uri: http::Uri = s
        .url
        .parse()
        .map_err(|e| format!("bad service URL {:?}: {e}", s.url))?;
    let client = services.client(&s.ca_bundle)?;
    let body = match &s.body {
        Some(b) => serde_json::to_vec(b).map_err(|e| e.to_string())?,
        None => Vec::new(),
    };
    let mut req = http::Request::builder()
        .method(method)
        .uri(uri)
        .header(http::header::ACCEPT, "application/json");
    if s.body.is_some() {
        req = req.header(http::header::CONTENT_TYPE, "application/json");
    }
    for (k, v) in &s.headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let req = req
        .body(http_body_util::Full::new(bytes::Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let resp = client
        .request(req)
        .await
        .map_err(|e| format!("failed to execute HTTP request: {e}"))?;
    let status = resp.status();
    let bytes = http_body_util::Limited::new(resp.into_body(), MAX_SERVICE_RESPONSE)
        .collect()
        .await
        .map_err(|e| {
            format!("failed to read the response (at most {MAX_SERVICE_RESPONSE} bytes): {e}")
        })?
        .to_bytes();
    if !status.is_success() {
        return Err(format!(
            "HTTP {status}: {}",
            String::from_utf8_lossy(&bytes).trim()
        ));
    }
    serde_json::from_slice(&bytes).map_err(|e| format!("the response is not JSON: {e}"))
}
