//! Pods' `imagePullSecrets` at admission: the `images:` policies' registry lookups use the
//! credentials of the Secrets a pod names, read through kube-rs from an API server in the test
//! that answers as the Kubernetes API does (`Secret` objects, `Status` errors), against a real
//! `docker-registry` that demands bearer tokens.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[path = "common/review.rs"]
mod common_review;
#[path = "../../rampart-images/tests/harness/mod.rs"]
mod harness;
#[path = "../../rampart-images/tests/harness/token.rs"]
mod token_harness;

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use harness::*;
use rampart_server::{
    AppState, Config, Engine, NoNamespaceLabels, PullSecrets, RampartPss, router,
};
use serde_json::{Value, json};
use token_harness::*;

fn status(code: u16, reason: &str, message: &str) -> (u16, Value) {
    (
        code,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": message, "reason": reason, "code": code}),
    )
}

/// The API server's answers: `apps/regcred` holds the registry's credentials, `apps/tls` is a
/// Secret of another type, namespace `locked` is forbidden, anything else is not found.
fn answer(path: &str, registry: &str) -> (u16, Value) {
    let config = json!({"auths": {registry: {"auth": base64::engine::general_purpose::STANDARD.encode("ci:s3cret-pw")}}});
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    match path {
        "/api/v1/namespaces/apps/secrets/regcred" => (
            200,
            json!({"kind": "Secret", "apiVersion": "v1",
                   "metadata": {"name": "regcred", "namespace": "apps", "resourceVersion": "11"},
                   "type": "kubernetes.io/dockerconfigjson",
                   "data": {".dockerconfigjson": b64(&config.to_string())}}),
        ),
        "/api/v1/namespaces/apps/secrets/tls" => (
            200,
            json!({"kind": "Secret", "apiVersion": "v1",
                   "metadata": {"name": "tls", "namespace": "apps", "resourceVersion": "12"},
                   "type": "kubernetes.io/tls",
                   "data": {"tls.crt": b64("x"), "tls.key": b64("y")}}),
        ),
        p if p.starts_with("/api/v1/namespaces/locked/") => {
            let name = p.rsplit('/').next().unwrap();
            status(
                403,
                "Forbidden",
                &format!(
                    "secrets \"{name}\" is forbidden: User \"system:serviceaccount:rampart-system:rampart\" cannot get resource \"secrets\" in API group \"\" in the namespace \"locked\""
                ),
            )
        }
        p if p.contains("/secrets/") => {
            let name = p.rsplit('/').next().unwrap();
            status(404, "NotFound", &format!("secrets \"{name}\" not found"))
        }
        _ => status(
            404,
            "NotFound",
            "the server could not find the requested resource",
        ),
    }
}

/// A plain-HTTP API server answering by [`answer`]; the requests it saw.
fn api_server(registry: String) -> (String, Arc<Mutex<Vec<String>>>) {
    serve_json(move |_, path| answer(path, &registry))
}

fn pod(namespace: &str, image: &str, secrets: &[&str]) -> Value {
    let secrets: Vec<Value> = secrets.iter().map(|s| json!({"name": s})).collect();
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": namespace},
           "spec": {"imagePullSecrets": secrets, "containers": [{"name": "app", "image": image}]}})
}

async fn validate(app: &axum::Router, object: &Value) -> Value {
    let review = json!({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {
            "uid": "0b5c1f52-0000-4000-8000-000000000002",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "name": "p", "namespace": object["metadata"]["namespace"],
            "operation": "CREATE", "userInfo": {"username": "alice"}, "object": object
        }
    });
    common_review::response(app, "/validate", serde_json::to_vec(&review).unwrap()).await
}

fn message(resp: &Value) -> &str {
    resp["status"]["message"].as_str().unwrap_or("")
}

/// The image policies' warnings (the Pod Security and catalog ones left out).
fn warnings(resp: &Value) -> Vec<String> {
    resp["warnings"]
        .as_array()
        .map(|w| {
            w.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .filter(|s| s.starts_with("image policy"))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_pods_pull_secret_opens_the_registry() {
    let Some(open) = start("") else { return };
    if !have_openssl() {
        return;
    }
    let (secured, _tokens) = token_registry(&open, "ci", "s3cret-pw");
    let sp = secured.port;
    let registry = format!("127.0.0.1:{sp}");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let digest = push_image(open.port, "acme/api", "1.0", "api");
    let (key, _) = keypair(d, "cosign", P256);
    let pl = payload(&format!("{registry}/acme/api"), &digest);
    let sig = sign(d, &key, &pl, SHA256);
    push_signatures(open.port, "acme/api", &digest, &[(pl, sig)]);
    let image = format!("{registry}/acme/api:1.0");

    // the webhook's own docker config has no credentials for this registry
    std::fs::write(d.join("docker.json"), r#"{"auths": {}}"#).unwrap();
    let config = format!(
        "images:\n  - name: acme\n    images: [\"{registry}/acme/*\"]\n    keys: [cosign.pub]\n    allowInsecureRegistry: true\n    dockerConfig: docker.json\n"
    );
    let file = d.join("rampart.yaml");
    std::fs::write(&file, &config).unwrap();
    let cfg = Config::parse(&file.display().to_string(), &config).unwrap();
    let (url, seen) = api_server(registry.clone());
    let kube = kube::Client::try_from(kube::Config::new(url.parse().unwrap())).unwrap();
    let engine = Engine::new(cfg, Arc::new(RampartPss), Arc::new(NoNamespaceLabels))
        .with_pull_secrets(Arc::new(PullSecrets::new(kube)));
    let app = router(AppState::new(engine));

    let anonymous = format!(
        "image policy \"acme\": container \"app\" image \"{image}\": {image}: the registry's token service refused a token for an anonymous pull (scope repository:acme/api:pull)"
    );
    // Without a pull secret the registry refuses (the token service's 401 is the reason).
    let denied = validate(&app, &pod("apps", &image, &[])).await;
    assert_eq!(denied["allowed"], false, "{denied}");
    assert_eq!(message(&denied), anonymous);
    assert!(
        seen.lock().unwrap().is_empty(),
        "no secret is read for a pod without any"
    );

    // A pull secret the webhook may not read: said in a warning, and the webhook's own
    // credentials (none) apply; the cached failure holds for that same (absent) login.
    let locked = validate(&app, &pod("locked", &image, &["regcred"])).await;
    assert_eq!(locked["allowed"], false, "{locked}");
    assert_eq!(message(&locked), anonymous);
    assert_eq!(
        warnings(&locked),
        vec![
            "image policy \"acme\": imagePullSecrets: secret \"regcred\": cannot be read: 403 Forbidden: secrets \"regcred\" is forbidden: User \"system:serviceaccount:rampart-system:rampart\" cannot get resource \"secrets\" in API group \"\" in the namespace \"locked\"; the webhook's own registry credentials apply instead".to_string()
        ]
    );

    // The pod's pull secret holds the registry's credentials: verified, although the failure
    // without them is still cached (a failure holds only for the login it was reached with).
    // A missing Secret and one of another type are said, the readable one is used.
    let ok = validate(&app, &pod("apps", &image, &["gone", "tls", "regcred"])).await;
    assert_eq!(ok["allowed"], true, "{ok}");
    assert_eq!(
        warnings(&ok),
        vec![
            "image policy \"acme\": imagePullSecrets: secret \"gone\": cannot be read: 404 NotFound: secrets \"gone\" not found; secret \"tls\" is not of type kubernetes.io/dockerconfigjson or kubernetes.io/dockercfg; the webhook's own registry credentials apply instead".to_string()
        ]
    );

    // Secrets are read once within their 30 s.
    let again = validate(&app, &pod("apps", &image, &["regcred"])).await;
    assert_eq!(again["allowed"], true, "{again}");
    assert!(warnings(&again).is_empty(), "{again}");
    let asked = seen.lock().unwrap().clone();
    assert_eq!(
        asked,
        vec![
            "GET /api/v1/namespaces/locked/secrets/regcred",
            "GET /api/v1/namespaces/apps/secrets/gone",
            "GET /api/v1/namespaces/apps/secrets/tls",
            "GET /api/v1/namespaces/apps/secrets/regcred",
        ]
    );

    // A verified digest holds for every login: the signature does not depend on who reads it
    // (the kubelet, not the webhook, decides who may pull).
    let cached = validate(&app, &pod("apps", &image, &[])).await;
    assert_eq!(cached["allowed"], true, "{cached}");
    // Secret values never reach a response.
    for r in [&denied, &locked, &ok, &again, &cached] {
        assert!(!r.to_string().contains("s3cret"), "{r}");
    }
}
