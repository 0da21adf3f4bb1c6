//! Table-driven AdmissionReview cases (tests/cases/*.yaml) through the router without a socket,
//! plus the endpoints' operational behaviour (metrics, health, slow bodies).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use rampart_server::{AppState, Config, Engine, RampartPss, StaticNamespaceLabels, router};
use serde_json::{Map, Value, json};
use tower::ServiceExt;

struct Case {
    file: String,
    note: String,
    value: Value,
}

fn cases() -> Vec<Case> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(&f).unwrap();
        let (docs, errs) = rampart_manifest::parse_yaml(&name, &text);
        assert!(errs.is_empty(), "{errs:?}");
        for d in docs {
            let note = d.value["note"]
                .as_str()
                .unwrap_or_else(|| panic!("{name}: case without note"))
                .to_string();
            out.push(Case {
                file: name.clone(),
                note,
                value: d.value,
            });
        }
    }
    assert!(
        out.len() >= 20,
        "expected the case files, found {}",
        out.len()
    );
    out
}

/// Wraps a case's `request` into a full AdmissionReview with defaults.
pub fn review(request: &Value) -> Value {
    let mut r = request.as_object().cloned().unwrap_or_default();
    let obj = r
        .get("object")
        .or_else(|| r.get("oldObject"))
        .cloned()
        .unwrap_or(Value::Null);
    let kind = obj["kind"].as_str().unwrap_or("Pod").to_string();
    let api = obj["apiVersion"].as_str().unwrap_or("v1").to_string();
    let (group, version) = api
        .rsplit_once('/')
        .map_or((String::new(), api.clone()), |(g, v)| {
            (g.to_string(), v.to_string())
        });
    let resource = format!("{}s", kind.to_lowercase());
    let defaults = json!({
        "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
        "kind": {"group": group, "version": version, "kind": kind},
        "resource": {"group": group, "version": version, "resource": resource},
        "name": obj["metadata"]["name"].clone(),
        "namespace": obj["metadata"]["namespace"].clone(),
        "operation": "CREATE",
        "userInfo": {"username": "alice", "groups": ["system:authenticated"]},
        "dryRun": false,
    });
    for (k, v) in defaults.as_object().unwrap() {
        r.entry(k.clone()).or_insert(v.clone());
    }
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": r})
}

fn engine_for(case: &Value) -> Engine {
    let config = match case.get("config") {
        Some(c) => Config::parse("case-config", &serde_json::to_string(c).unwrap()).unwrap(),
        None => Config::default(),
    };
    let mut labels: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    if let Some(ns) = case.get("namespaces").and_then(Value::as_object) {
        for (k, v) in ns {
            labels.insert(k.clone(), v.as_object().cloned().unwrap());
        }
    }
    Engine::new(
        config,
        Arc::new(RampartPss),
        Arc::new(StaticNamespaceLabels(labels)),
    )
}

async fn call(app: axum::Router, path: &str, content_type: &str, body: Vec<u8>) -> (u16, Vec<u8>) {
    let req = Request::builder()
        .method("POST")
        .uri(path)
        .header("content-type", content_type)
        .body(Body::from(body))
        .unwrap();
    let resp = app.oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, bytes.to_vec())
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn decode_b64(s: &str) -> Vec<u8> {
    let val = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("bad base64"),
        }
    };
    let mut out = Vec::new();
    for chunk in s.as_bytes().chunks(4) {
        let n = chunk.iter().filter(|&&c| c != b'=').count();
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= if c == b'=' { 0 } else { val(c) } << (18 - 6 * i);
        }
        let bytes = [(acc >> 16) as u8, (acc >> 8) as u8, acc as u8];
        out.extend_from_slice(&bytes[..n - 1]);
    }
    out
}

/// Checks one response against a case's `expect`; returns the failures.
pub fn check(expect: &Value, status: u16, body: &[u8], sent: Option<&Value>) -> Vec<String> {
    let mut fails = Vec::new();
    let want_status = expect["status"].as_u64().unwrap_or(200) as u16;
    if status != want_status {
        fails.push(format!(
            "status {status}, want {want_status}: {}",
            String::from_utf8_lossy(body)
        ));
        return fails;
    }
    if let Some(s) = expect["bodyContains"].as_str()
        && !String::from_utf8_lossy(body).contains(s)
    {
        fails.push(format!(
            "body does not contain {s:?}: {}",
            String::from_utf8_lossy(body)
        ));
    }
    // what must never be sent back, e.g. a secret value the request carried
    for s in strings(&expect["bodyLacks"]) {
        if String::from_utf8_lossy(body).contains(&s) {
            fails.push(format!("body contains {s:?}"));
        }
    }
    if status != 200 {
        return fails;
    }
    let v: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(v["apiVersion"], "admission.k8s.io/v1");
    assert_eq!(v["kind"], "AdmissionReview");
    let resp = &v["response"];
    if let Some(sent) = sent
        && resp["uid"] != sent["request"]["uid"]
    {
        fails.push(format!("uid {} not echoed", resp["uid"]));
    }
    if let Some(a) = expect["allowed"].as_bool()
        && resp["allowed"] != a
    {
        fails.push(format!(
            "allowed {}, want {a}; status {}",
            resp["allowed"], resp["status"]
        ));
    }
    if let Some(c) = expect["code"].as_u64()
        && resp["status"]["code"] != c
    {
        fails.push(format!("code {}, want {c}", resp["status"]["code"]));
    }
    let message = resp["status"]["message"].as_str().unwrap_or("");
    for m in strings(&expect["messageContains"]) {
        if !message.contains(&m) {
            fails.push(format!("message {message:?} lacks {m:?}"));
        }
    }
    let warnings = strings(&resp["warnings"]);
    if let Some(w) = expect.get("warnings")
        && strings(w) != warnings
    {
        fails.push(format!("warnings {warnings:?}, want {w}"));
    }
    for m in strings(&expect["warningsContain"]) {
        if !warnings.iter().any(|w| w.contains(&m)) {
            fails.push(format!("no warning contains {m:?}: {warnings:?}"));
        }
    }
    let audit: Vec<String> = resp["auditAnnotations"]
        .as_object()
        .map(|m| {
            m.values()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    for m in strings(&expect["auditContains"]) {
        if !audit.iter().any(|w| w.contains(&m)) {
            fails.push(format!("no audit annotation contains {m:?}: {audit:?}"));
        }
    }
    if let Some(p) = expect.get("patch") {
        let got = match resp["patch"].as_str() {
            Some(b64) => {
                if resp["patchType"] != "JSONPatch" {
                    fails.push(format!("patchType {}", resp["patchType"]));
                }
                serde_json::from_slice::<Value>(&decode_b64(b64)).unwrap()
            }
            None => json!([]),
        };
        if &got != p {
            fails.push(format!("patch {got}, want {p}"));
        }
    }
    fails
}

#[tokio::test]
async fn admission_cases_through_the_router() {
    let mut failures = Vec::new();
    let all = cases();
    for case in &all {
        let app = router(AppState::new(engine_for(&case.value)));
        let path = case.value["endpoint"].as_str().unwrap_or("/validate");
        let ct = case.value["contentType"]
            .as_str()
            .unwrap_or("application/json");
        let (sent, body) = match case.value.get("rawBody").and_then(Value::as_str) {
            Some(raw) => (None, raw.as_bytes().to_vec()),
            None => {
                let r = review(&case.value["request"]);
                let b = serde_json::to_vec(&r).unwrap();
                (Some(r), b)
            }
        };
        let (status, resp) = call(app, path, ct, body).await;
        for f in check(&case.value["expect"], status, &resp, sent.as_ref()) {
            failures.push(format!("{}: {}: {f}", case.file, case.note));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
}

fn privileged_pod_review(dry_run: bool) -> Vec<u8> {
    let r = review(&json!({
        "dryRun": dry_run,
        "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "ns1"},
                   "spec": {"containers": [{"name": "c", "image": "x", "securityContext": {"privileged": true}}]}}
    }));
    serde_json::to_vec(&r).unwrap()
}

#[tokio::test]
async fn metrics_count_decisions_dry_runs_and_violations() {
    let state = AppState::new(Engine::new(
        Config::default(),
        Arc::new(RampartPss),
        Arc::new(rampart_server::NoNamespaceLabels),
    ));
    let app = router(Arc::clone(&state));
    call(
        app.clone(),
        "/validate",
        "application/json",
        privileged_pod_review(false),
    )
    .await;
    call(
        app.clone(),
        "/validate",
        "application/json",
        privileged_pod_review(true),
    )
    .await;
    call(
        app.clone(),
        "/validate",
        "application/json",
        b"nope".to_vec(),
    )
    .await;
    let resp = app
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let text = String::from_utf8(
        axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec(),
    )
    .unwrap();
    for want in [
        r#"rampart_admission_requests_total{endpoint="validate",decision="denied",kind="Pod",namespace="ns1",dry_run="false"} 1"#,
        r#"rampart_admission_requests_total{endpoint="validate",decision="denied",kind="Pod",namespace="ns1",dry_run="true"} 1"#,
        r#"rampart_admission_violations_total{check="pss:privileged",mode="enforce",dry_run="false"} 1"#,
        r#"rampart_http_errors_total{code="400"} 1"#,
        "rampart_admission_duration_seconds_bucket",
    ] {
        assert!(text.contains(want), "metrics lack {want}:\n{text}");
    }
}

#[tokio::test]
async fn health_and_readiness() {
    let app = router(AppState::new(Engine::new(
        Config::default(),
        Arc::new(RampartPss),
        Arc::new(rampart_server::NoNamespaceLabels),
    )));
    for path in ["/healthz", "/readyz"] {
        let resp = app
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{path}");
    }
    let resp = app
        .oneshot(Request::get("/validate").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
}

#[tokio::test]
async fn a_body_that_never_finishes_is_a_408() {
    let config = Config::parse("c", "limits: {bodyTimeoutSeconds: 1}").unwrap();
    let app = router(AppState::new(Engine::new(
        config,
        Arc::new(RampartPss),
        Arc::new(rampart_server::NoNamespaceLabels),
    )));
    let body = Body::from_stream(futures_util::stream::pending::<
        Result<Vec<u8>, std::io::Error>,
    >());
    let req = Request::post("/validate")
        .header("content-type", "application/json")
        .body(body)
        .unwrap();
    let resp = tokio::time::timeout(Duration::from_secs(5), app.oneshot(req))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(resp.status(), 408);
}

const POLICIES: &str = r#"apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {name: teamlabel}
spec:
  crd:
    spec:
      names: {kind: TeamLabel}
  targets:
  - target: admission.k8s.gatekeeper.sh
    rego: |
      package teamlabel
      violation[{"msg": msg}] {
        not input.review.object.metadata.labels.team
        msg := sprintf("%v has no team label (by %v)", [input.review.object.metadata.name, input.review.userInfo.username])
      }
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: TeamLabel
metadata: {name: pods-need-team}
spec:
  match:
    kinds: [{apiGroups: [""], kinds: [Pod]}]
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: TeamLabel
metadata: {name: pods-should-have-team}
spec:
  enforcementAction: warn
  match:
    kinds: [{apiGroups: [""], kinds: [Pod]}]
"#;

fn plain_pod_review(labels: Value) -> Vec<u8> {
    let r = review(&json!({
        "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "ns1", "labels": labels},
                   "spec": {"containers": [{"name": "c", "image": "x"}]}}
    }));
    serde_json::to_vec(&r).unwrap()
}

#[tokio::test]
async fn gatekeeper_policies_deny_and_warn_at_admission() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("policies.yaml"), POLICIES).unwrap();
    let set = rampart_policy::PolicySet::load(&[dir.path()]).unwrap();
    assert!(set.problems().is_empty(), "{:?}", set.problems());
    let engine = Engine::new(
        Config::default(),
        Arc::new(RampartPss),
        Arc::new(rampart_server::NoNamespaceLabels),
    )
    .with_policies(Arc::new(set));
    let app = router(AppState::new(engine));

    let (status, body) = call(
        app.clone(),
        "/validate",
        "application/json",
        plain_pod_review(json!({})),
    )
    .await;
    assert_eq!(status, 200);
    let v: Value = serde_json::from_slice(&body).unwrap();
    let resp = &v["response"];
    assert_eq!(resp["allowed"], false, "{v:#}");
    let msg = resp["status"]["message"].as_str().unwrap();
    assert!(
        msg.contains("[pods-need-team] web has no team label (by alice)"),
        "{msg}"
    );
    let warnings = strings(&resp["warnings"]);
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("[pods-should-have-team]")),
        "{warnings:?}"
    );

    let (_, body) = call(
        app,
        "/validate",
        "application/json",
        plain_pod_review(json!({"team": "a"})),
    )
    .await;
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["response"]["allowed"], true, "{v:#}");
}

/// The router with the default configuration and these Kyverno policies (which must load).
fn kyverno_app(policies: &str) -> axum::Router {
    let (set, errs) = rampart_kyverno::PolicySet::from_str("kyverno.yaml", policies);
    assert!(errs.is_empty(), "{errs:?}");
    let engine = Engine::new(
        Config::default(),
        Arc::new(RampartPss),
        Arc::new(rampart_server::NoNamespaceLabels),
    )
    .with_kyverno(Arc::new(set));
    router(AppState::new(engine))
}

const KYVERNO: &str = r#"
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: require-team}
spec:
  validationFailureAction: Enforce
  rules:
  - name: team-label
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      message: "{{ request.object.metadata.name }} needs a team label"
      pattern: {metadata: {labels: {team: "?*"}}}
---
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: prefer-owner}
spec:
  validationFailureAction: Audit
  rules:
  - name: owner-label
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      message: "pods should name their owner"
      pattern: {metadata: {labels: {owner: "?*"}}}
"#;

/// Kyverno policies at admission: an Enforce policy's failed rule denies with its message
/// (variables resolved), an Audit policy's warns; a pod that satisfies both is allowed.
#[tokio::test]
async fn kyverno_policies_deny_and_warn_at_admission() {
    let app = kyverno_app(KYVERNO);
    let (status, body) = call(
        app.clone(),
        "/validate",
        "application/json",
        plain_pod_review(json!({})),
    )
    .await;
    assert_eq!(status, 200);
    let v: Value = serde_json::from_slice(&body).unwrap();
    let resp = &v["response"];
    assert_eq!(resp["allowed"], false, "{v:#}");
    let msg = resp["status"]["message"].as_str().unwrap();
    assert!(
        msg.contains("[require-team/team-label] web needs a team label"),
        "{msg}"
    );
    let warnings = strings(&resp["warnings"]);
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("[prefer-owner/owner-label]")),
        "{warnings:?}"
    );

    let (_, body) = call(
        app,
        "/validate",
        "application/json",
        plain_pod_review(json!({"team": "a", "owner": "b"})),
    )
    .await;
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["response"]["allowed"], true, "{v:#}");
    assert!(
        strings(&v["response"]["warnings"])
            .iter()
            .all(|w| !w.contains("prefer-owner")),
        "{v:#}"
    );
}

/// What decides at admission besides a rule's verdict: a policy's `failurePolicy` (an error
/// denies unless it is `Ignore`) and its admission processing (a background-only policy never
/// runs at admission).
#[tokio::test]
async fn kyverno_failure_policy_and_background_only_policies_at_admission() {
    let policy = |name: &str, extra: &str| {
        format!(
            "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {{name: {name}}}\nspec:\n  validationFailureAction: Enforce\n{extra}  rules:\n  - name: r\n    match: {{any: [{{resources: {{kinds: [Pod]}}}}]}}\n    validate:\n      deny:\n        conditions:\n          any:\n          - {{key: \"{{{{ request.object.metadata.nothere.value }}}}\", operator: Equals, value: x}}\n"
        )
    };
    let decide = |policies: String| async move {
        let (status, body) = call(
            kyverno_app(&policies),
            "/validate",
            "application/json",
            plain_pod_review(json!({})),
        )
        .await;
        assert_eq!(status, 200);
        let v: Value = serde_json::from_slice(&body).unwrap();
        (
            v["response"]["allowed"].as_bool().unwrap(),
            strings(&v["response"]["warnings"]),
        )
    };
    // the condition cannot be resolved: an error
    let (allowed, _) = decide(policy("fails", "")).await;
    assert!(!allowed);
    let (allowed, warnings) = decide(policy("ignores", "  failurePolicy: Ignore\n")).await;
    assert!(
        allowed && warnings.iter().any(|w| w.contains("policy error")),
        "{warnings:?}"
    );
    let (allowed, warnings) = decide(policy(
        "ignores-too",
        "  webhookConfiguration: {failurePolicy: Ignore}\n",
    ))
    .await;
    assert!(allowed, "{warnings:?}");
    let (allowed, warnings) = decide(policy(
        "background",
        "  admission: false\n  background: true\n",
    ))
    .await;
    assert!(
        allowed && warnings.iter().all(|w| !w.contains("[background/")),
        "{warnings:?}"
    );
}

/// The requester's whole userInfo reaches Kyverno policies at admission: `subjects` select by
/// group, and `request.userInfo.groups` is there to read.
#[tokio::test]
async fn kyverno_policies_see_the_requesters_groups() {
    let policies = r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: team-label}
spec:
  validationFailureAction: Enforce
  background: false
  rules:
  - name: team
    match: {any: [{resources: {kinds: [Pod]}}]}
    exclude: {any: [{subjects: [{kind: Group, name: platform-admins}]}]}
    validate:
      message: "{{ request.userInfo.username }} in {{ request.userInfo.groups | join(',', @) }} needs a team label"
      pattern: {metadata: {labels: {team: "?*"}}}
"#;
    let app = kyverno_app(policies);
    let pod = |groups: Value| {
        let r = review(&json!({
            "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "ns1"},
                       "spec": {"containers": [{"name": "c", "image": "x"}]}},
            "userInfo": {"username": "bob", "groups": groups}
        }));
        serde_json::to_vec(&r).unwrap()
    };
    let (_, body) = call(
        app.clone(),
        "/validate",
        "application/json",
        pod(json!(["platform-admins", "system:authenticated"])),
    )
    .await;
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["response"]["allowed"], true, "{v:#}");
    let (_, body) = call(
        app,
        "/validate",
        "application/json",
        pod(json!(["devs", "system:authenticated"])),
    )
    .await;
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["response"]["allowed"], false, "{v:#}");
    let msg = v["response"]["status"]["message"].as_str().unwrap();
    assert!(
        msg.contains("bob in devs,system:authenticated needs a team label"),
        "{msg}"
    );
}

/// A PolicyException loaded beside the policies lifts an Enforce rule at admission for the
/// resources it selects, and only for them.
#[tokio::test]
async fn kyverno_exceptions_lift_rules_at_admission() {
    let policies = format!(
        "{KYVERNO}---\n{}",
        r#"apiVersion: kyverno.io/v2
kind: PolicyException
metadata: {name: legacy-web, namespace: kyverno}
spec:
  exceptions:
  - policyName: require-team
    ruleNames: [team-label]
  match:
    any:
    - resources:
        kinds: [Pod]
        names: [web]
"#
    );
    let app = kyverno_app(&policies);
    let (_, body) = call(
        app.clone(),
        "/validate",
        "application/json",
        plain_pod_review(json!({"owner": "b"})),
    )
    .await;
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["response"]["allowed"], true, "{v:#}");
    // another pod is still denied
    let other = review(&json!({
        "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "api", "namespace": "ns1"},
                   "spec": {"containers": [{"name": "c", "image": "x"}]}}
    }));
    let (_, body) = call(
        app,
        "/validate",
        "application/json",
        serde_json::to_vec(&other).unwrap(),
    )
    .await;
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["response"]["allowed"], false, "{v:#}");
}

/// A policy message that quotes a credential the detectors find in the object is masked in the
/// admission response: the API server relays it to the user's terminal and its audit log.
#[tokio::test]
async fn policy_messages_at_admission_mask_the_object_s_secrets() {
    const TOKEN: &str = "Zq8vT3kL9mWx2Rb7Yc4Np6Hd1Fs5Gj0U";
    let policy = r#"
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: no-inline-env}
spec:
  validationFailureAction: Enforce
  rules:
  - name: env
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      message: "inline value {{ request.object.spec.containers[0].env[0].value }} in container c"
      deny: {}
"#;
    let app = kyverno_app(policy);
    let r = review(&json!({
        "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "ns1"},
                   "spec": {"containers": [{"name": "c", "image": "x",
                       "env": [{"name": "DB_PASSWORD", "value": TOKEN}]}]}}
    }));
    let (status, body) = call(
        app,
        "/validate",
        "application/json",
        serde_json::to_vec(&r).unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    let text = String::from_utf8_lossy(&body);
    assert!(!text.contains(TOKEN), "{text}");
    let v: Value = serde_json::from_slice(&body).unwrap();
    let msg = v["response"]["status"]["message"].as_str().unwrap();
    assert!(
        msg.contains("[no-inline-env/env] inline value <redacted> in container c"),
        "{msg}"
    );
}

/// `/mutate` applies Kyverno's mutate rules: the response's JSONPatch adds what a
/// `patchStrategicMerge` rule sets, and a pod that already has it gets no patch.
#[tokio::test]
async fn kyverno_mutate_rules_patch_at_mutate() {
    let policy = r#"
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: add-team}
spec:
  rules:
  - name: team
    match: {any: [{resources: {kinds: [Pod]}}]}
    mutate:
      patchStrategicMerge:
        metadata:
          labels:
            +(team): platform
"#;
    let app = kyverno_app(policy);
    let patch_of = |body: &[u8]| {
        let v: Value = serde_json::from_slice(body).unwrap();
        let resp = &v["response"];
        assert_eq!(resp["allowed"], true, "{v:#}");
        resp["patch"]
            .as_str()
            .map(|b64| serde_json::from_slice::<Value>(&decode_b64(b64)).unwrap())
    };
    let (status, body) = call(
        app.clone(),
        "/mutate",
        "application/json",
        plain_pod_review(json!({"app": "web"})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        patch_of(&body),
        Some(json!([{"op": "add", "path": "/metadata/labels/team", "value": "platform"}]))
    );
    // `+()` adds only when absent: a pod with a team keeps it, and gets no patch
    let (_, body) = call(
        app,
        "/mutate",
        "application/json",
        plain_pod_review(json!({"team": "payments"})),
    )
    .await;
    assert_eq!(patch_of(&body), None);
}
