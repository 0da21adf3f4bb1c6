//! A Kubernetes API server in the test: discovery and list responses in the API's JSON format,
//! pagination by `limit`/`continue`, `PartialObjectMetadataList` on request, a kind that answers
//! 403, a slow kind and a kind that fails once with 500, a list whose continue token expires
//! once (410 Gone), and each node's kubelet configuration through the node proxy
//! (`/api/v1/nodes/<name>/proxy/configz`, `{"kubeletconfig": …}`), or 403, or an unreachable
//! kubelet. It records every request and whether a full Secret list was ever asked for.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    dead_code
)]

use axum::http::{HeaderMap, StatusCode, Uri, header};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A served resource: (group, version, plural, kind, namespaced).
pub const RESOURCES: &[(&str, &str, &str, &str, bool)] = &[
    ("", "v1", "pods", "Pod", true),
    ("", "v1", "configmaps", "ConfigMap", true),
    ("", "v1", "limitranges", "LimitRange", true),
    ("cert-manager.io", "v1", "certificates", "Certificate", true),
    ("cert-manager.io", "v1", "issuers", "Issuer", true),
    (
        "kyverno.io",
        "v1",
        "clusterpolicies",
        "ClusterPolicy",
        false,
    ),
    (
        "kyverno.io",
        "v2",
        "policyexceptions",
        "PolicyException",
        true,
    ),
    ("", "v1", "services", "Service", true),
    ("", "v1", "serviceaccounts", "ServiceAccount", true),
    ("", "v1", "secrets", "Secret", true),
    ("", "v1", "namespaces", "Namespace", false),
    ("", "v1", "nodes", "Node", false),
    (
        "",
        "v1",
        "replicationcontrollers",
        "ReplicationController",
        true,
    ),
    ("apps", "v1", "deployments", "Deployment", true),
    ("apps", "v1", "replicasets", "ReplicaSet", true),
    ("apps", "v1", "statefulsets", "StatefulSet", true),
    ("apps", "v1", "daemonsets", "DaemonSet", true),
    ("batch", "v1", "jobs", "Job", true),
    ("batch", "v1", "cronjobs", "CronJob", true),
    ("networking.k8s.io", "v1", "ingresses", "Ingress", true),
    (
        "networking.k8s.io",
        "v1",
        "networkpolicies",
        "NetworkPolicy",
        true,
    ),
    (
        "policy",
        "v1",
        "poddisruptionbudgets",
        "PodDisruptionBudget",
        true,
    ),
    ("rbac.authorization.k8s.io", "v1", "roles", "Role", true),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "rolebindings",
        "RoleBinding",
        true,
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "clusterroles",
        "ClusterRole",
        false,
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "clusterrolebindings",
        "ClusterRoleBinding",
        false,
    ),
    (
        "admissionregistration.k8s.io",
        "v1",
        "validatingwebhookconfigurations",
        "ValidatingWebhookConfiguration",
        false,
    ),
    (
        "admissionregistration.k8s.io",
        "v1",
        "mutatingwebhookconfigurations",
        "MutatingWebhookConfiguration",
        false,
    ),
    (
        "admissionregistration.k8s.io",
        "v1",
        "validatingadmissionpolicies",
        "ValidatingAdmissionPolicy",
        false,
    ),
    (
        "admissionregistration.k8s.io",
        "v1",
        "validatingadmissionpolicybindings",
        "ValidatingAdmissionPolicyBinding",
        false,
    ),
];

#[derive(Default)]
pub struct Behaviour {
    /// Plural resources that answer 403.
    pub forbidden: HashSet<&'static str>,
    /// Plural resources that answer after this delay.
    pub slow: Option<(&'static str, Duration)>,
    /// Plural resources whose first list answers 500 (then 429 on the second when `throttle`).
    pub flaky: Option<&'static str>,
    /// A plural resource whose second page answers 410 Gone (`Expired`) the first `n` times.
    pub expire: Option<(&'static str, u32)>,
    /// The node proxy answers 403 for every node.
    pub configz_forbidden: bool,
    /// A node whose kubelet does not answer through the proxy (503).
    pub kubelet_down: Option<&'static str>,
}

#[derive(Default)]
pub struct Seen {
    /// Path and query of every request.
    pub requests: Vec<String>,
    /// A Secret list asked for without the PartialObjectMetadataList Accept header.
    pub full_secret_list: bool,
    /// Lists asked for as PartialObjectMetadataList.
    pub metadata_lists: usize,
    flaky_done: u32,
    expired: u32,
}

pub struct Server {
    pub url: String,
    /// The CA's PEM when served over TLS.
    pub ca_pem: Option<String>,
    pub seen: Arc<Mutex<Seen>>,
    _rt: tokio::runtime::Runtime,
}

struct State {
    /// (plural) → items in order.
    items: BTreeMap<&'static str, Vec<Value>>,
    behaviour: Behaviour,
    seen: Arc<Mutex<Seen>>,
}

fn status(code: u16, reason: &str, message: String) -> (StatusCode, String) {
    (
        StatusCode::from_u16(code).unwrap(),
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": message, "reason": reason, "code": code})
        .to_string(),
    )
}

fn query(uri: &Uri) -> BTreeMap<String, String> {
    uri.query()
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

async fn handle(state: Arc<State>, uri: Uri, headers: HeaderMap) -> (StatusCode, String) {
    let path = uri.path().to_string();
    state.seen.lock().unwrap().requests.push(uri.to_string());
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    // discovery
    match segs.as_slice() {
        ["api"] => {
            return (StatusCode::OK, json!({"kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}]}).to_string());
        }
        ["apis"] => {
            let mut groups: Vec<&str> = RESOURCES
                .iter()
                .map(|r| r.0)
                .filter(|g| !g.is_empty())
                .collect();
            groups.dedup();
            let groups: Vec<Value> = groups.iter().map(|g| group_json(g)).collect();
            return (
                StatusCode::OK,
                json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}).to_string(),
            );
        }
        ["apis", g] => {
            if RESOURCES.iter().any(|r| r.0 == *g) {
                let mut v = group_json(g);
                v["kind"] = json!("APIGroup");
                v["apiVersion"] = json!("v1");
                return (StatusCode::OK, v.to_string());
            }
            return status(
                404,
                "NotFound",
                "the server could not find the requested resource".into(),
            );
        }
        ["api", "v1"] => return (StatusCode::OK, resource_list("", "v1")),
        ["apis", g, v] => return (StatusCode::OK, resource_list(g, v)),
        _ => {}
    }
    // a kubelet's configuration through the node proxy
    if let ["api", "v1", "nodes", node, "proxy", "configz"] = segs.as_slice() {
        if state.behaviour.configz_forbidden {
            return status(
                403,
                "Forbidden",
                format!(
                    "nodes \"{node}\" is forbidden: User \"system:serviceaccount:audit:rampart\" cannot get resource \"nodes/proxy\" in API group \"\" at the cluster scope"
                ),
            );
        }
        let known = state.items.get("nodes").is_some_and(|ns| {
            ns.iter()
                .any(|n| n.pointer("/metadata/name").and_then(Value::as_str) == Some(*node))
        });
        if !known {
            return status(404, "NotFound", format!("nodes \"{node}\" not found"));
        }
        if state.behaviour.kubelet_down == Some(*node) {
            return status(
                503,
                "ServiceUnavailable",
                format!(
                    "error trying to reach service: dial tcp 10.0.0.9:10250: connect: connection refused ({node})"
                ),
            );
        }
        return (
            StatusCode::OK,
            rampart_cluster::generate::kubelet_configz(node).to_string(),
        );
    }
    // lists: /api/v1[/namespaces/ns]/plural, /apis/g/v[/namespaces/ns]/plural
    let (group, rest) = match segs.as_slice() {
        ["api", "v1", rest @ ..] => ("", rest),
        ["apis", g, _v, rest @ ..] => (*g, rest),
        _ => {
            return status(
                404,
                "NotFound",
                "the server could not find the requested resource".into(),
            );
        }
    };
    let (ns, plural) = match rest {
        ["namespaces", ns, plural] => (Some(*ns), *plural),
        [plural] => (None, *plural),
        _ => {
            return status(
                404,
                "NotFound",
                "the server could not find the requested resource".into(),
            );
        }
    };
    let Some(res) = RESOURCES.iter().find(|r| r.0 == group && r.2 == plural) else {
        return status(
            404,
            "NotFound",
            "the server could not find the requested resource".into(),
        );
    };
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let as_metadata =
        accept.contains("as=PartialObjectMetadataList") && accept.contains("g=meta.k8s.io");
    if plural == "secrets" && !as_metadata {
        state.seen.lock().unwrap().full_secret_list = true;
        return status(
            500,
            "InternalError",
            "the test server refuses to serve Secret values".into(),
        );
    }
    if as_metadata {
        state.seen.lock().unwrap().metadata_lists += 1;
    }
    if state.behaviour.forbidden.contains(plural) {
        let scope = ns.map_or("at the cluster scope".to_string(), |n| {
            format!("in the namespace \"{n}\"")
        });
        return status(
            403,
            "Forbidden",
            format!(
                "{plural}{} is forbidden: User \"system:serviceaccount:audit:rampart\" cannot list resource \"{plural}\" in API group \"{group}\" {scope}",
                if group.is_empty() {
                    String::new()
                } else {
                    format!(".{group}")
                }
            ),
        );
    }
    if let Some((slow, delay)) = state.behaviour.slow
        && slow == plural
    {
        tokio::time::sleep(delay).await;
    }
    if state.behaviour.flaky == Some(plural) {
        let mut seen = state.seen.lock().unwrap();
        if seen.flaky_done < 2 {
            seen.flaky_done += 1;
            return if seen.flaky_done == 1 {
                status(500, "InternalError", "etcdserver: leader changed".into())
            } else {
                status(
                    429,
                    "TooManyRequests",
                    "too many requests, please try again later".into(),
                )
            };
        }
    }
    let q = query(&uri);
    if let Some((expiring, times)) = state.behaviour.expire
        && expiring == plural
        && q.get("continue").is_some_and(|c| {
            c == &format!(
                "tok-{}",
                q.get("limit").map_or(0, |l| l.parse::<usize>().unwrap())
            )
        })
    {
        let mut seen = state.seen.lock().unwrap();
        if seen.expired < times {
            seen.expired += 1;
            return status(
                410,
                "Expired",
                "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.".into(),
            );
        }
    }
    let all: Vec<&Value> = state
        .items
        .get(plural)
        .map(|v| {
            v.iter()
                .filter(|o| {
                    ns.is_none_or(|n| {
                        o.pointer("/metadata/namespace").and_then(Value::as_str) == Some(n)
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let start: usize = q
        .get("continue")
        .map_or(0, |c| c.trim_start_matches("tok-").parse().unwrap());
    let limit: usize = q.get("limit").map_or(usize::MAX, |l| l.parse().unwrap());
    let end = start.saturating_add(limit).min(all.len());
    let page: Vec<Value> = all[start.min(end)..end]
        .iter()
        .map(|o| {
            if as_metadata {
                json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"]})
            } else {
                // list items carry no apiVersion and kind
                let mut o = (*o).clone();
                let m = o.as_object_mut().unwrap();
                m.remove("apiVersion");
                m.remove("kind");
                o
            }
        })
        .collect();
    let mut metadata = json!({"resourceVersion": "424242"});
    if end < all.len() {
        metadata["continue"] = json!(format!("tok-{end}"));
        metadata["remainingItemCount"] = json!(all.len() - end);
    }
    let (kind, api_version) = if as_metadata {
        (
            "PartialObjectMetadataList".to_string(),
            "meta.k8s.io/v1".to_string(),
        )
    } else {
        (
            format!("{}List", res.3),
            if group.is_empty() {
                "v1".to_string()
            } else {
                format!("{group}/v1")
            },
        )
    };
    (
        StatusCode::OK,
        json!({"kind": kind, "apiVersion": api_version, "metadata": metadata, "items": page})
            .to_string(),
    )
}

fn group_json(g: &str) -> Value {
    // the versions the group serves; v1 preferred when it is one
    let mut versions: Vec<&str> = RESOURCES.iter().filter(|r| r.0 == g).map(|r| r.1).collect();
    versions.sort_unstable();
    versions.dedup();
    if versions.is_empty() {
        versions.push("v1");
    }
    let preferred = if versions.contains(&"v1") {
        "v1"
    } else {
        versions[0]
    };
    let list: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{g}/{v}"), "version": v}))
        .collect();
    json!({"name": g, "versions": list,
           "preferredVersion": {"groupVersion": format!("{g}/{preferred}"), "version": preferred}})
}

fn resource_list(group: &str, version: &str) -> String {
    let resources: Vec<Value> = RESOURCES
        .iter()
        .filter(|r| r.0 == group && r.1 == version)
        .flat_map(|r| {
            let singular = r.3.to_lowercase();
            [
                json!({"name": r.2, "singularName": singular, "namespaced": r.4, "kind": r.3,
                       "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]}),
                json!({"name": format!("{}/status", r.2), "singularName": "", "namespaced": r.4, "kind": r.3,
                       "verbs": ["get", "patch", "update"]}),
            ]
        })
        .collect();
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}).to_string()
}

impl Server {
    /// Serves `objects` (as `kubectl get -o json` shows them) over plain HTTP on a free port.
    pub fn start(objects: &[Value], behaviour: Behaviour) -> Server {
        Server::serve(objects, behaviour, false)
    }

    /// The same over HTTPS, with a certificate for 127.0.0.1 from a CA of its own.
    pub fn start_tls(objects: &[Value], behaviour: Behaviour) -> Server {
        Server::serve(objects, behaviour, true)
    }

    fn serve(objects: &[Value], behaviour: Behaviour, tls: bool) -> Server {
        let mut items: BTreeMap<&'static str, Vec<Value>> = BTreeMap::new();
        for o in objects {
            let kind = o["kind"].as_str().unwrap();
            let res = RESOURCES
                .iter()
                .find(|r| r.3 == kind)
                .unwrap_or_else(|| panic!("no resource for {kind}"));
            items.entry(res.2).or_default().push(o.clone());
        }
        let seen = Arc::new(Mutex::new(Seen::default()));
        let state = Arc::new(State {
            items,
            behaviour,
            seen: seen.clone(),
        });
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap| {
            let state = state.clone();
            async move {
                let (code, body) = handle(state, uri, headers).await;
                (code, [(header::CONTENT_TYPE, "application/json")], body)
            }
        });
        if !tls {
            rt.spawn(async move { axum::serve(listener, app).await.unwrap() });
            return Server {
                url: format!("http://{addr}"),
                ca_pem: None,
                seen,
                _rt: rt,
            };
        }
        let (ca_pem, config) = tls_config();
        let listener = TlsListener {
            tcp: listener,
            acceptor: tokio_rustls::TlsAcceptor::from(config),
        };
        rt.spawn(async move { axum::serve(listener, app).await.unwrap() });
        Server {
            url: format!("https://{addr}"),
            ca_pem: Some(ca_pem),
            seen,
            _rt: rt,
        }
    }

    /// A kubeconfig pointing at the server, written in `dir`.
    pub fn kubeconfig(&self, dir: &std::path::Path) -> std::path::PathBuf {
        kubeconfig_for(&self.url, self.ca_pem.as_deref(), dir)
    }
}

/// A CA and a serving certificate for 127.0.0.1 signed by it.
fn tls_config() -> (String, Arc<rustls::ServerConfig>) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair, SanType};
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "test API server CA");
    let ca = CertifiedIssuer::self_signed(ca, ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params
        .subject_alt_names
        .push(SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1])));
    let cert = params.signed_by(&key, &ca).unwrap();
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls_pki_types::PrivateKeyDer::Pkcs8(rustls_pki_types::PrivatePkcs8KeyDer::from(
                key.serialize_der(),
            )),
        )
        .unwrap();
    (ca.pem(), Arc::new(config))
}

struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((stream, addr)) = self.tcp.accept().await else {
                continue;
            };
            if let Ok(tls) = self.acceptor.accept(stream).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// A kubeconfig for `url`, trusting `ca_pem` when given, written in `dir`.
pub fn kubeconfig_for(
    url: &str,
    ca_pem: Option<&str>,
    dir: &std::path::Path,
) -> std::path::PathBuf {
    let path = dir.join("kubeconfig");
    let ca = match ca_pem {
        Some(pem) => {
            let ca = dir.join("ca.pem");
            std::fs::write(&ca, pem).unwrap();
            format!("\n    certificate-authority: {}", ca.display())
        }
        None => String::new(),
    };
    std::fs::write(&path, format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: {}{ca}\ncontexts:\n- name: test-ctx\n  context:\n    cluster: test\n    user: auditor\n    namespace: default\ncurrent-context: test-ctx\nusers:\n- name: auditor\n  user:\n    token: test-token\n",
            url)).unwrap();
    path
}
