//! `configMap` and `apiCall` context entries resolved live, through kube-rs, against an API
//! server in the test that answers as the Kubernetes API does (objects, lists, `Status`
//! errors).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../../rampart-images/tests/harness/mod.rs"]
mod harness;

use rampart_kyverno::live::KubeResolver;
use rampart_kyverno::resolver::Resolver;
use rampart_kyverno::{AdmissionInfo, PolicySet, Status};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn status(code: u16, reason: &str, message: &str) -> (u16, Value) {
    (
        code,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": message, "reason": reason, "code": code}),
    )
}

fn answer(method: &str, path: &str) -> (u16, Value) {
    match (method, path) {
        ("GET", "/api/v1/namespaces/apps/configmaps/teams") => (
            200,
            json!({"kind": "ConfigMap", "apiVersion": "v1",
                   "metadata": {"name": "teams", "namespace": "apps", "resourceVersion": "7"},
                   "data": {"allowed": "payments,search"}}),
        ),
        ("GET", "/apis/apps/v1/namespaces/apps/deployments") => (
            200,
            json!({"kind": "DeploymentList", "apiVersion": "apps/v1", "metadata": {"resourceVersion": "9"},
                   "items": [
                       {"metadata": {"name": "a", "namespace": "apps"}, "spec": {"replicas": 2}},
                       {"metadata": {"name": "b", "namespace": "apps"}, "spec": {"replicas": 3}}]}),
        ),
        ("GET", "/apis/apps/v1/namespaces/quiet/deployments") => (
            200,
            json!({"kind": "DeploymentList", "apiVersion": "apps/v1", "metadata": {}, "items": []}),
        ),
        ("GET", p) if p.starts_with("/api/v1/namespaces/secret/") => status(
            403,
            "Forbidden",
            "configmaps \"x\" is forbidden: User \"system:serviceaccount:rampart:rampart\" cannot get resource \"configmaps\" in the namespace \"secret\"",
        ),
        ("GET", p) if p.starts_with("/api/v1/namespaces/") && p.contains("/configmaps/") => {
            let name = p.rsplit('/').next().unwrap();
            status(404, "NotFound", &format!("configmaps \"{name}\" not found"))
        }
        _ => status(
            404,
            "NotFound",
            "the server could not find the requested resource",
        ),
    }
}

/// A plain-HTTP API server: answers each request by [`answer`], records the requests.
fn serve() -> (String, Arc<Mutex<Vec<String>>>) {
    harness::serve_json(answer)
}

const POLICIES: &str = r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: live-context}
spec:
  validationFailureAction: Enforce
  rules:
  - name: team-allowed
    match: {any: [{resources: {kinds: [ConfigMap], names: ["cfg-*"]}}]}
    context:
    - name: teams
      configMap: {name: teams, namespace: "{{ request.object.metadata.namespace }}"}
    validate:
      message: "team {{ request.object.metadata.labels.team }} is not one of {{ teams.data.allowed }}"
      deny:
        conditions:
          any:
          - key: "{{ request.object.metadata.labels.team }}"
            operator: AnyNotIn
            value: "{{ split(teams.data.allowed, ',') }}"
  - name: few-deployments
    match: {any: [{resources: {kinds: [Deployment]}}]}
    context:
    - name: replicas
      apiCall:
        urlPath: "/apis/apps/v1/namespaces/{{ request.namespace }}/deployments"
        jmesPath: "sum(items[].spec.replicas || [`0`])"
    validate:
      message: "{{ replicas }} replicas already run in {{ request.namespace }}"
      deny:
        conditions:
          any:
          - {key: "{{ replicas }}", operator: GreaterThanOrEquals, value: 5}
  - name: with-default
    match: {any: [{resources: {kinds: [Secret]}}]}
    context:
    - name: limits
      apiCall:
        urlPath: "/api/v1/namespaces/secret/configmaps/limits"
        default: {max: 3}
    validate:
      deny:
        conditions:
          any:
          - {key: "{{ limits.max }}", operator: NotEquals, value: 3}
---
apiVersion: kyverno.io/v1
kind: Policy
metadata: {name: own-namespace-only, namespace: apps}
spec:
  rules:
  - name: reads-another-namespace
    match: {any: [{resources: {kinds: [ConfigMap], names: ["cfg-*"]}}]}
    context:
    - name: other
      configMap: {name: teams, namespace: kube-system}
    validate:
      deny:
        conditions:
          any:
          - {key: "{{ other.data.x || '' }}", operator: Equals, value: "y"}
"#;

fn resource(kind: &str, ns: &str, name: &str, team: &str) -> Value {
    let api = if kind == "Deployment" {
        "apps/v1"
    } else {
        "v1"
    };
    json!({"apiVersion": api, "kind": kind,
           "metadata": {"name": name, "namespace": ns, "labels": {"team": team}}})
}

fn results(set: &PolicySet, r: &Value) -> Vec<(String, Status, String)> {
    let info = AdmissionInfo {
        request: Some(json!({"operation": "CREATE", "namespace": r["metadata"]["namespace"]})),
        ..AdmissionInfo::default()
    };
    set.evaluate(r, &info)
        .into_iter()
        .map(|x| (x.rule, x.status, x.message))
        .collect()
}

fn one(set: &PolicySet, r: &Value, rule: &str) -> (Status, String) {
    let all = results(set, r);
    let hits: Vec<_> = all.iter().filter(|(n, _, _)| n == rule).collect();
    assert_eq!(hits.len(), 1, "{rule}: {all:?}");
    (hits[0].1, hits[0].2.clone())
}

#[test]
fn config_maps_and_api_calls_are_read_from_the_cluster() {
    let (url, seen) = serve();
    let (mut set, errors) = PolicySet::from_str("live.yaml", POLICIES);
    assert!(errors.is_empty(), "{errors:?}");
    assert!(set.needs_cluster());

    // without a cluster: a clear error per rule, never a pass
    let (s, m) = one(
        &set,
        &resource("ConfigMap", "apps", "cfg-a", "payments"),
        "team-allowed",
    );
    assert_eq!(s, Status::Error, "{m}");
    assert!(
        m.contains("configMap `apps/teams`") && m.contains("no cluster"),
        "{m}"
    );
    let (s, m) = one(
        &set,
        &resource("Deployment", "apps", "web", "x"),
        "few-deployments",
    );
    assert_eq!(s, Status::Error, "{m}");
    assert!(m.contains("apiCall needs a cluster"), "{m}");

    let config = kube::Config::new(url.parse().unwrap());
    let resolver = KubeResolver::new(config, Duration::from_secs(10)).unwrap();
    set.resolver = Some(Resolver::new(resolver));

    // configMap: the ConfigMap's data, by the substituted namespace
    let (s, m) = one(
        &set,
        &resource("ConfigMap", "apps", "cfg-a", "payments"),
        "team-allowed",
    );
    assert_eq!(s, Status::Pass, "{m}");
    let (s, m) = one(
        &set,
        &resource("ConfigMap", "apps", "cfg-b", "ads"),
        "team-allowed",
    );
    assert_eq!(s, Status::Fail, "{m}");
    assert_eq!(m, "team ads is not one of payments,search");
    // a ConfigMap that does not exist: an error that says which and why
    let (s, m) = one(
        &set,
        &resource("ConfigMap", "dev", "cfg-c", "payments"),
        "team-allowed",
    );
    assert_eq!(s, Status::Error, "{m}");
    assert!(
        m.contains("dev/teams") && m.contains("404") && m.contains("not found"),
        "{m}"
    );
    // forbidden: the API's message reaches the rule's error
    let (s, m) = one(
        &set,
        &resource("ConfigMap", "secret", "cfg-d", "payments"),
        "team-allowed",
    );
    assert_eq!(s, Status::Error, "{m}");
    assert!(m.contains("403") && m.contains("forbidden"), "{m}");

    // apiCall: a list, the JMESPath applied
    let (s, m) = one(
        &set,
        &resource("Deployment", "apps", "web", "x"),
        "few-deployments",
    );
    assert_eq!(s, Status::Fail, "{m}");
    assert_eq!(m, "5 replicas already run in apps");
    let (s, m) = one(
        &set,
        &resource("Deployment", "quiet", "web", "x"),
        "few-deployments",
    );
    assert_eq!(s, Status::Pass, "{m}");
    // a failed call with a default takes the default
    let (s, m) = one(&set, &resource("Secret", "apps", "s", "x"), "with-default");
    assert_eq!(s, Status::Pass, "{m}");

    // a namespaced Policy may read only its own namespace
    let (s, m) = one(
        &set,
        &resource("ConfigMap", "apps", "cfg-a", "payments"),
        "reads-another-namespace",
    );
    assert_eq!(s, Status::Error, "{m}");
    assert!(m.contains("different from policy namespace"), "{m}");

    // a ConfigMap read again within the cache's lifetime is not asked for again
    let asked = |seen: &Arc<Mutex<Vec<String>>>| {
        seen.lock()
            .unwrap()
            .iter()
            .filter(|s| *s == "GET /api/v1/namespaces/apps/configmaps/teams")
            .count()
    };
    let before = asked(&seen);
    let (s, _) = one(
        &set,
        &resource("ConfigMap", "apps", "cfg-e", "search"),
        "team-allowed",
    );
    assert_eq!(s, Status::Pass);
    assert_eq!(asked(&seen), before);

    let seen = seen.lock().unwrap().clone();
    for want in [
        "GET /api/v1/namespaces/apps/configmaps/teams",
        "GET /api/v1/namespaces/dev/configmaps/teams",
        "GET /apis/apps/v1/namespaces/apps/deployments",
        "GET /api/v1/namespaces/secret/configmaps/limits",
    ] {
        assert!(seen.iter().any(|s| s == want), "{want} not asked: {seen:?}");
    }
    // the other namespace was never asked for
    assert!(!seen.iter().any(|s| s.contains("kube-system")), "{seen:?}");
}

#[test]
fn an_unreachable_api_is_an_error_per_rule() {
    // a port nothing listens on
    let url = format!("http://127.0.0.1:{}", harness::free_port());
    let (mut set, _) = PolicySet::from_str("live.yaml", POLICIES);
    let config = kube::Config::new(url.parse().unwrap());
    set.resolver = Some(Resolver::new(
        KubeResolver::new(config, Duration::from_secs(5)).unwrap(),
    ));
    let (s, m) = one(
        &set,
        &resource("Deployment", "apps", "web", "x"),
        "few-deployments",
    );
    assert_eq!(s, Status::Error, "{m}");
    assert!(
        m.contains("apiCall GET /apis/apps/v1/namespaces/apps/deployments failed"),
        "{m}"
    );
}

/// One request as the service saw it: request line, lower-case headers, body.
type Seen = (String, Vec<(String, String)>, String);

/// An HTTPS service (rustls, a certificate for 127.0.0.1 from `ca`) answering `/scan` with a
/// verdict by the image in the JSON body, and `/down` with a 500.
fn scanner(ca: &rcgen::CertifiedIssuer<'static, rcgen::KeyPair>) -> (u16, Arc<Mutex<Vec<Seen>>>) {
    use std::io::{BufRead as _, Read as _, Write as _};
    let key = rcgen::KeyPair::generate().unwrap();
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    p.subject_alt_names = vec![rcgen::SanType::IpAddress("127.0.0.1".parse().unwrap())];
    let cert = p.signed_by(&key, ca).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![cert.der().clone()],
        rustls_pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    )
    .unwrap();
    let config = Arc::new(config);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for tcp in listener.incoming().flatten() {
            let (config, log) = (config.clone(), log.clone());
            std::thread::spawn(move || {
                let Ok(conn) = rustls::ServerConnection::new(config) else {
                    return;
                };
                let mut tls = rustls::StreamOwned::new(conn, tcp);
                let mut reader = std::io::BufReader::new(&mut tls);
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    return; // a client that refused the certificate
                }
                let mut headers = Vec::new();
                loop {
                    let mut h = String::new();
                    reader.read_line(&mut h).unwrap();
                    let Some((k, v)) = h.trim_end().split_once(':') else {
                        break;
                    };
                    headers.push((k.to_ascii_lowercase(), v.trim().to_string()));
                }
                let length: usize = headers
                    .iter()
                    .find(|(k, _)| k == "content-length")
                    .map_or(0, |(_, v)| v.parse().unwrap());
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                let body = String::from_utf8(body).unwrap();
                let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
                let (code, reply) = match path.as_str() {
                    "/scan" if body.contains("evil") => (200, r#"{"verdict": "deny"}"#),
                    "/scan" => (200, r#"{"verdict": "allow"}"#),
                    _ => (500, "scanner down"),
                };
                log.lock()
                    .unwrap()
                    .push((line.trim().to_string(), headers, body));
                let out = format!(
                    "HTTP/1.1 {code} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
                    reply.len()
                );
                let _ = tls.write_all(out.as_bytes());
                let _ = tls.flush();
            });
        }
    });
    (port, seen)
}

fn ca(name: &str) -> rcgen::CertifiedIssuer<'static, rcgen::KeyPair> {
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    p.distinguished_name.push(rcgen::DnType::CommonName, name);
    rcgen::CertifiedIssuer::self_signed(p, rcgen::KeyPair::generate().unwrap()).unwrap()
}

#[test]
fn api_call_services_are_called_over_https_with_the_ca_bundle() {
    let (api, _) = serve();
    let trusted = ca("scanner-ca");
    let (port, seen) = scanner(&trusted);
    let policy = |path: &str, ca_pem: &str| {
        let ca_pem: String = ca_pem
            .lines()
            .map(|l| format!("            {l}\n"))
            .collect();
        format!(
            r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {{name: scanned}}
spec:
  validationFailureAction: Enforce
  rules:
  - name: scanner-allows
    match: {{any: [{{resources: {{kinds: [Pod]}}}}]}}
    context:
    - name: scan
      apiCall:
        method: POST
        data:
        - {{key: image, value: "{{{{ request.object.spec.containers[0].image }}}}"}}
        service:
          url: "https://127.0.0.1:{port}{path}"
          headers:
          - {{key: X-Scanner-Token, value: "token-{{{{ request.object.metadata.namespace }}}}"}}
          caBundle: |
{ca_pem}    validate:
      message: "the scanner denies {{{{ request.object.spec.containers[0].image }}}}"
      deny:
        conditions:
          any:
          - {{key: "{{{{ scan.verdict }}}}", operator: Equals, value: deny}}
"#
        )
    };
    let pod = |image: &str| {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "apps"},
               "spec": {"containers": [{"name": "c", "image": image}]}})
    };
    let with_cluster = |text: &str| {
        let (mut set, errors) = PolicySet::from_str("scan.yaml", text);
        assert!(errors.is_empty(), "{errors:?}");
        let config = kube::Config::new(api.parse().unwrap());
        set.resolver = Some(Resolver::new(
            KubeResolver::new(config, Duration::from_secs(10)).unwrap(),
        ));
        set
    };
    let set = with_cluster(&policy("/scan", &trusted.pem()));
    assert_eq!(
        one(&set, &pod("nginx:1.27"), "scanner-allows").0,
        Status::Pass
    );
    let (s, m) = one(&set, &pod("evil:1"), "scanner-allows");
    assert_eq!(s, Status::Fail, "{m}");
    assert_eq!(m, "the scanner denies evil:1");
    // what the service received: the POST body from `data`, the substituted header
    {
        let seen = seen.lock().unwrap();
        let (line, headers, body) = seen.last().unwrap();
        assert_eq!(line, "POST /scan HTTP/1.1");
        assert_eq!(
            serde_json::from_str::<Value>(body).unwrap(),
            json!({"image": "evil:1"})
        );
        assert!(
            headers.contains(&("x-scanner-token".into(), "token-apps".into())),
            "{headers:?}"
        );
    }
    // a failing service: its status and text, an error for the rule
    let set = with_cluster(&policy("/down", &trusted.pem()));
    let (s, m) = one(&set, &pod("nginx:1.27"), "scanner-allows");
    assert_eq!(s, Status::Error, "{m}");
    assert!(
        m.contains("HTTP 500 Internal Server Error: scanner down"),
        "{m}"
    );
    // a certificate from another CA is not trusted
    let set = with_cluster(&policy("/scan", &ca("other-ca").pem()));
    let (s, m) = one(&set, &pod("nginx:1.27"), "scanner-allows");
    assert_eq!(s, Status::Error, "{m}");
    assert!(m.contains("failed to execute HTTP request"), "{m}");
    // offline (policy test, apply): an error that says where the value comes from
    let (set, _) = PolicySet::from_str("scan.yaml", &policy("/scan", &trusted.pem()));
    let (s, m) = one(&set, &pod("nginx:1.27"), "scanner-allows");
    assert_eq!(s, Status::Error, "{m}");
    assert!(
        m.contains("give its value in the test's values file"),
        "{m}"
    );
}

#[test]
fn global_context_entries_read_the_cluster_once_for_every_rule() {
    let (url, seen) = serve();
    let text = r#"apiVersion: kyverno.io/v2alpha1
kind: GlobalContextEntry
metadata: {name: deployments}
spec:
  kubernetesResource: {group: apps, version: v1, resource: deployments, namespace: apps}
  projections:
  - {name: names, jmesPath: "[].metadata.name"}
---
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: global-context}
spec:
  validationFailureAction: Enforce
  rules:
  - name: few-deployments
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    context:
    - name: count
      globalReference: {name: deployments, jmesPath: "length(@)"}
    - name: names
      globalReference: {name: deployments.names}
    validate:
      message: "{{ count }} deployments: {{ names | join(',', @) }}"
      deny:
        conditions:
          any:
          - {key: "{{ count }}", operator: GreaterThan, value: 1}
  - name: unknown-entry
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    context:
    - name: other
      globalReference: {name: nothere}
    validate:
      deny:
        conditions:
          any:
          - {key: "{{ other }}", operator: Equals, value: x}
"#;
    let (mut set, errors) = PolicySet::from_str("global.yaml", text);
    assert!(errors.is_empty(), "{errors:?}");
    assert!(set.needs_cluster());
    let cm = resource("ConfigMap", "apps", "cfg-x", "payments");
    // without a cluster: an error that says where the value comes from
    let (s, m) = one(&set, &cm, "few-deployments");
    assert_eq!(s, Status::Error, "{m}");
    assert!(m.contains("needs a cluster"), "{m}");
    let config = kube::Config::new(url.parse().unwrap());
    set.resolver = Some(Resolver::new(
        KubeResolver::new(config, Duration::from_secs(10)).unwrap(),
    ));
    let (s, m) = one(&set, &cm, "few-deployments");
    assert_eq!(s, Status::Fail, "{m}");
    assert_eq!(m, "2 deployments: a,b");
    let (s, m) = one(&set, &cm, "unknown-entry");
    assert_eq!(s, Status::Error, "{m}");
    assert!(m.contains("failed to fetch entry key=nothere"), "{m}");
    // the list was read once for both references and both evaluations (kept 2 s)
    let lists = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.contains("/apis/apps/v1/namespaces/apps/deployments"))
        .count();
    assert_eq!(lists, 1);
}
