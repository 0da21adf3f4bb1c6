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
        jmesPath: "sum(items[].spec.replicas)"
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
