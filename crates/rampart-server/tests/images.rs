//! `images:` policies at admission, against a real registry (the images crate's harness:
//! `docker-registry` on loopback, signatures made by the openssl command line), through the
//! router's `/validate` and `/mutate`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[path = "../../rampart-images/tests/harness/mod.rs"]
mod harness;
#[path = "../../rampart-images/tests/harness/keyless.rs"]
mod keyless_harness;
#[path = "common/review.rs"]
mod review;

use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use base64::Engine as _;
use harness::*;
use rampart_server::{AppState, Config, Engine, NoNamespaceLabels, RampartPss, router};
use serde_json::{Value, json};
use tower::ServiceExt;

/// A config file written next to its key files; the engine built from it.
fn app_for(dir: &Path, config: &str) -> (axum::Router, Arc<AppState>) {
    let file = dir.join("rampart.yaml");
    std::fs::write(&file, config).unwrap();
    let cfg =
        Config::parse(&file.display().to_string(), config).unwrap_or_else(|e| panic!("{e:?}"));
    let state = AppState::new(Engine::new(
        cfg,
        Arc::new(RampartPss),
        Arc::new(NoNamespaceLabels),
    ));
    (router(Arc::clone(&state)), state)
}

fn pod(namespace: &str, image: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": namespace},
           "spec": {"containers": [{"name": "app", "image": image}]}})
}

fn review(object: &Value) -> Vec<u8> {
    let kind = object["kind"].as_str().unwrap();
    let api = object["apiVersion"].as_str().unwrap();
    let (group, version) = api.rsplit_once('/').unwrap_or(("", api));
    serde_json::to_vec(&json!({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {
            "uid": "0b5c1f52-0000-4000-8000-000000000001",
            "kind": {"group": group, "version": version, "kind": kind},
            "resource": {"group": group, "version": version, "resource": format!("{}s", kind.to_lowercase())},
            "name": object["metadata"]["name"], "namespace": object["metadata"]["namespace"],
            "operation": "CREATE", "userInfo": {"username": "alice"}, "object": object
        }
    }))
    .unwrap()
}

/// The AdmissionReview's `response`.
async fn post(app: &axum::Router, path: &str, object: &Value) -> Value {
    review::response(app, path, review(object)).await
}

fn message(resp: &Value) -> &str {
    resp["status"]["message"].as_str().unwrap_or("")
}

fn patch(resp: &Value) -> Value {
    let b = base64::engine::general_purpose::STANDARD
        .decode(resp["patch"].as_str().expect("a patch"))
        .unwrap();
    serde_json::from_slice(&b).unwrap()
}

async fn metrics(app: &axum::Router) -> String {
    let resp = app
        .clone()
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let b = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    String::from_utf8(b.to_vec()).unwrap()
}

/// A signed image and an unsigned one in a fresh registry, and the signing key.
struct World {
    reg: Registry,
    dir: tempfile::TempDir,
    signed: String,
    signed_digest: String,
    unsigned: String,
    unsigned_digest: String,
}

fn world() -> Option<World> {
    let reg = start("")?;
    let p = reg.port;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key, _) = keypair(d, "cosign", P256);
    let signed_digest = push_image(p, "acme/api", "1.0", "api");
    let signed = format!("127.0.0.1:{p}/acme/api:1.0");
    let sig = sign(d, &key, &payload(&signed, &signed_digest), SHA256);
    push_signatures(
        p,
        "acme/api",
        &signed_digest,
        &[(payload(&signed, &signed_digest), sig)],
    );
    let unsigned_digest = push_image(p, "acme/unsigned", "1.0", "unsigned");
    let unsigned = format!("127.0.0.1:{p}/acme/unsigned:1.0");
    Some(World {
        reg,
        dir,
        signed,
        signed_digest,
        unsigned,
        unsigned_digest,
    })
}

#[tokio::test]
async fn signed_admitted_unsigned_denied_pinned_by_mutate_and_cached() {
    let Some(w) = world() else { return };
    let p = w.reg.port;
    let config = format!(
        "mutate: true\nimages:\n  - name: acme\n    images: [\"127.0.0.1:{p}/acme/*\"]\n    namespaces: [prod]\n    keys: [cosign.pub]\n    allowInsecureRegistry: true\n    mutateDigest: true\n"
    );
    let (app, _) = app_for(w.dir.path(), &config);

    let ok = post(&app, "/validate", &pod("prod", &w.signed)).await;
    assert_eq!(ok["allowed"], true, "{ok}");

    let denied = post(&app, "/validate", &pod("prod", &w.unsigned)).await;
    assert_eq!(denied["allowed"], false);
    let hex = w.unsigned_digest.strip_prefix("sha256:").unwrap();
    assert_eq!(
        message(&denied),
        format!(
            "image policy \"acme\": container \"app\" image \"{}\": no signatures found (no sha256-{hex}.sig manifest) and no Sigstore bundles among its referrers",
            w.unsigned
        )
    );

    // out of the policy's namespaces, not checked
    let other = post(&app, "/validate", &pod("dev", &w.unsigned)).await;
    assert_eq!(other["allowed"], true, "{other}");

    // workload templates and init containers too
    let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "prod"},
        "spec": {"template": {"spec": {"initContainers": [{"name": "init", "image": w.unsigned}],
                                       "containers": [{"name": "app", "image": w.signed}]}}}});
    let denied = post(&app, "/validate", &deploy).await;
    assert_eq!(denied["allowed"], false);
    assert!(
        message(&denied).starts_with(&format!(
            "image policy \"acme\": init container \"init\" image \"{}\": no signatures found",
            w.unsigned
        )),
        "{}",
        message(&denied)
    );

    // /mutate pins the verified tag to its digest
    let m = post(&app, "/mutate", &pod("prod", &w.signed)).await;
    assert_eq!(m["allowed"], true, "{m}");
    let ops = patch(&m);
    let pin = json!({"op": "replace", "path": "/spec/containers/0/image",
                     "value": format!("127.0.0.1:{p}/acme/api@{}", w.signed_digest)});
    assert!(ops.as_array().unwrap().contains(&pin), "{ops}");
    let m = post(&app, "/mutate", &pod("prod", &w.unsigned)).await;
    assert_eq!(m["allowed"], false);
    assert!(m.get("patch").is_none());

    // the registry gone, the verified image (as written and as pinned) is admitted from cache
    drop(w.reg);
    let again = post(&app, "/validate", &pod("prod", &w.signed)).await;
    assert_eq!(again["allowed"], true, "{again}");
    let pinned = format!("127.0.0.1:{p}/acme/api@{}", w.signed_digest);
    let again = post(&app, "/validate", &pod("prod", &pinned)).await;
    assert_eq!(again["allowed"], true, "{again}");
    // a failed verification is remembered (briefly): the unsigned image is denied for the
    // same reason without the registry
    let cached = post(&app, "/validate", &pod("prod", &w.unsigned)).await;
    assert_eq!(cached["allowed"], false);
    assert!(
        message(&cached).ends_with(&format!(
            "no signatures found (no sha256-{hex}.sig manifest) and no Sigstore bundles among its referrers"
        )),
        "{}",
        message(&cached)
    );
    // while an image not in the cache needs the registry
    let never = format!("127.0.0.1:{p}/acme/never-seen:1.0");
    let down = post(&app, "/validate", &pod("prod", &never)).await;
    assert_eq!(down["allowed"], false);
    assert!(
        message(&down).contains(&format!("registry 127.0.0.1:{p} unreachable"))
            && message(&down).ends_with("(failurePolicy Fail)"),
        "{}",
        message(&down)
    );

    let text = metrics(&app).await;
    // the unsigned image went to the registry once: every later look (the Deployment, /mutate,
    // the registry gone) was answered from the cache
    assert!(
        text.contains("rampart_image_cache_total{result=\"hit\"} 7"),
        "{text}"
    );
    assert!(
        text.contains("rampart_image_verifications_total{policy=\"acme\",result=\"failed\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("rampart_image_verifications_total{policy=\"acme\",result=\"verified\"} 1"),
        "{text}"
    );
    assert!(
        text.contains(
            "rampart_image_verifications_total{policy=\"acme\",result=\"unreachable\"} 1"
        ),
        "{text}"
    );
    assert!(
        text.contains("rampart_image_registry_duration_seconds_count{policy=\"acme\"}"),
        "{text}"
    );
}

#[tokio::test]
async fn require_digest_denies_tags() {
    let Some(w) = world() else { return };
    let p = w.reg.port;
    let config = format!(
        "images:\n  - name: pinned\n    images: [\"127.0.0.1:{p}/acme/*\"]\n    keys: [cosign.pub]\n    allowInsecureRegistry: true\n    requireDigest: true\n"
    );
    let (app, _) = app_for(w.dir.path(), &config);
    let tag = post(&app, "/validate", &pod("prod", &w.signed)).await;
    assert_eq!(tag["allowed"], false);
    assert_eq!(
        message(&tag),
        format!(
            "image policy \"pinned\": container \"app\" image \"{}\": the reference has no digest and the policy requires one (requireDigest)",
            w.signed
        )
    );
    let pinned = format!("127.0.0.1:{p}/acme/api@{}", w.signed_digest);
    let ok = post(&app, "/validate", &pod("prod", &pinned)).await;
    assert_eq!(ok["allowed"], true, "{ok}");
}

#[tokio::test]
async fn an_unreachable_registry_is_the_failure_policy() {
    if !have_openssl() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    keypair(dir.path(), "cosign", P256);
    let port = free_port();
    let image = format!("127.0.0.1:{port}/acme/api:1.0");
    for (policy, allowed) in [("Fail", false), ("Ignore", true)] {
        let config = format!(
            "images:\n  - name: down\n    images: [\"127.0.0.1:{port}/*\"]\n    keys: [cosign.pub]\n    allowInsecureRegistry: true\n    failurePolicy: {policy}\n    timeoutSeconds: 2\n"
        );
        let (app, _) = app_for(dir.path(), &config);
        let resp = post(&app, "/validate", &pod("prod", &image)).await;
        assert_eq!(resp["allowed"], allowed, "{resp}");
        let prefix = format!(
            "image policy \"down\": container \"app\" image \"{image}\": registry 127.0.0.1:{port} unreachable: "
        );
        if allowed {
            let warnings: Vec<&str> = resp["warnings"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_str)
                .filter(|w| w.starts_with("image policy"))
                .collect();
            assert_eq!(warnings.len(), 1, "{resp}");
            assert!(warnings[0].starts_with(&prefix), "{}", warnings[0]);
            assert!(
                warnings[0].ends_with("; admitted by failurePolicy Ignore"),
                "{}",
                warnings[0]
            );
        } else {
            assert!(message(&resp).starts_with(&prefix), "{}", message(&resp));
            assert!(
                message(&resp).ends_with(" (failurePolicy Fail)"),
                "{}",
                message(&resp)
            );
        }
    }
}

#[tokio::test]
async fn count_of_attestors() {
    let Some(w) = world() else { return };
    let p = w.reg.port;
    keypair(w.dir.path(), "second", P256);
    let config = format!(
        "images:\n  - name: two\n    images: [\"127.0.0.1:{p}/acme/*\"]\n    keys: [cosign.pub, second.pub]\n    count: 2\n    allowInsecureRegistry: true\n"
    );
    let (app, _) = app_for(w.dir.path(), &config);
    let resp = post(&app, "/validate", &pod("prod", &w.signed)).await;
    assert_eq!(resp["allowed"], false);
    assert_eq!(
        message(&resp),
        format!(
            "image policy \"two\": container \"app\" image \"{}\": 1 of 2 attestors verified, 2 required: attestor 2 (second.pub): signature 1: the signature does not verify with the key second.pub",
            w.signed
        )
    );
    // any-of (the default count) admits it
    let config = config.replace("    count: 2\n", "");
    let (app, _) = app_for(w.dir.path(), &config);
    let resp = post(&app, "/validate", &pod("prod", &w.signed)).await;
    assert_eq!(resp["allowed"], true, "{resp}");
}

#[test]
fn bad_policies_are_named_at_their_position() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.yaml").display().to_string();
    let cases = [
        (
            "images:\n  - name: a\n    images: [x/*]\n    keys: [missing.pub]\n",
            "4:12",
            "reading the key ",
        ),
        (
            "images:\n  - name: a\n    images: [x/*]\n    keyz: [k.pub]\n",
            "4:5",
            "unknown key `keyz`",
        ),
        (
            "images:\n  - name: a\n    images: [x/*]\n    keys: [\"-----BEGIN PUBLIC KEY-----\\nAAAA\\n-----END PUBLIC KEY-----\"]\n    count: 3\n",
            "4:",
            "keys[0]:",
        ),
        (
            "images:\n  - name: a\n    images: [x/*]\n    keys: []\n    failurePolicy: Sometimes\n",
            "5:5",
            "`failurePolicy` must be Fail or Ignore",
        ),
        (
            "images:\n  - name: a\n    images: [x/*]\n    keyless: {identities: [{identity: me}]}\n",
            "4:",
            "`keyless` needs `trustedRoot`",
        ),
        (
            "images:\n  - name: a\n    images: [x/*]\n    keys: [\"-----BEGIN PUBLIC KEY-----\\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEAGxhhV1tjmqiS8ZxDJqX8WWGGvR4Bj9MtnvmMJhCDANig27qdaBF3/P1qUcMcCtlWm93Ed8cJYxEEzICY+2aVA==\\n-----END PUBLIC KEY-----\"]\n    mutateDigest: true\n",
            "5:5",
            "set `mutate: true`",
        ),
        (
            "images:\n  - name: a\n    images: [x/*]\n    keyless:\n      trustedRoot: r.json\n      identities:\n        - identity: me\n          issuer: https://i\n          extensions: {githubWorkflowBranch: main}\n",
            "9:24",
            "invalid certificate extension githubWorkflowBranch (give githubWorkflowTrigger",
        ),
        (
            "images:\n  - name: a\n    images: [x/*]\n    timeoutSeconds: 60\n    keys: []\n",
            "4:5",
            "`timeoutSeconds` must be",
        ),
    ];
    for (text, at, want) in cases {
        let errs = Config::parse(&file, text).unwrap_err();
        let all: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert!(
            all.iter()
                .any(|e| e.starts_with(&format!("{file}:{at}")) && e.contains(want)),
            "{text}: {all:?}"
        );
    }
}

/// A registry stand-in on loopback: every connection gets `answer` (or nothing at all, held
/// open, when `None`).
fn fake_registry(answer: Option<&'static str>) -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            match answer {
                Some(a) => {
                    use std::io::{Read as _, Write as _};
                    let mut buf = [0u8; 4096];
                    let _ = s.read(&mut buf);
                    let _ = s.write_all(a.as_bytes());
                }
                None => held.push(s),
            }
        }
    });
    port
}

#[tokio::test]
async fn a_failing_or_silent_registry_is_the_failure_policy_within_the_timeout() {
    if !have_openssl() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    keypair(dir.path(), "cosign", P256);
    let failing = fake_registry(Some(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    ));
    let silent = fake_registry(None);
    for (port, policy, reason) in [
        (
            failing,
            "Ignore",
            format!(
                "127.0.0.1:{failing}/acme/api:1.0: the registry answered 503 Service Unavailable"
            ),
        ),
        (
            silent,
            "Fail",
            format!("registry 127.0.0.1:{silent} unreachable: no answer within 1s"),
        ),
    ] {
        let image = format!("127.0.0.1:{port}/acme/api:1.0");
        let config = format!(
            "images:\n  - name: flaky\n    images: [\"127.0.0.1:{port}/*\"]\n    keys: [cosign.pub]\n    allowInsecureRegistry: true\n    failurePolicy: {policy}\n    timeoutSeconds: 1\n"
        );
        let (app, _) = app_for(dir.path(), &config);
        let start = std::time::Instant::now();
        let resp = post(&app, "/validate", &pod("prod", &image)).await;
        assert!(
            start.elapsed() < std::time::Duration::from_secs(5),
            "bounded by timeoutSeconds"
        );
        let text = format!("image policy \"flaky\": container \"app\" image \"{image}\": ");
        if policy == "Ignore" {
            assert_eq!(resp["allowed"], true, "{resp}");
            let w = resp["warnings"].as_array().unwrap();
            assert!(
                w.contains(&Value::String(format!(
                    "{text}{reason}; admitted by failurePolicy Ignore"
                ))),
                "{resp}"
            );
        } else {
            assert_eq!(resp["allowed"], false, "{resp}");
            let m = message(&resp);
            // the client's own bound or the verification's, whichever fires first
            assert!(
                m == format!("{text}{reason} (failurePolicy Fail)")
                    || m == format!(
                        "{text}the registry did not answer within 1s (timeoutSeconds) (failurePolicy Fail)"
                    ),
                "{m}"
            );
        }
    }
}

#[tokio::test]
async fn keyless_identities_and_keys_as_attestors() {
    let Some(reg) = start("") else { return };
    let p = reg.port;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    keypair(d, "cosign", P256);
    let ca = keyless_harness::fulcio("fulcio");
    let rekor = keyless_harness::rekor(d);
    std::fs::write(
        d.join("trusted_root.json"),
        keyless_harness::trusted_root(&ca, &rekor).to_string(),
    )
    .unwrap();
    // 2020-01-01T12:00:00Z, inside the certificate's validity
    let image = keyless_harness::sign_keyless(
        p,
        "acme/kl",
        "good",
        d,
        &ca,
        &rekor,
        "dev@acme.example",
        1_577_880_000,
        false,
    );
    let config = |identity: &str, count: u32| {
        format!(
            "images:\n  - name: kl\n    images: [\"127.0.0.1:{p}/acme/*\"]\n    keys: [cosign.pub]\n    keyless:\n      trustedRoot: trusted_root.json\n      identities:\n        - {{identity: {identity}, issuer: https://issuer.example}}\n    count: {count}\n    allowInsecureRegistry: true\n"
        )
    };
    // any of the key and the identity: the identity verifies
    let (app, _) = app_for(d, &config("dev@acme.example", 1));
    let resp = post(&app, "/validate", &pod("prod", &image)).await;
    assert_eq!(resp["allowed"], true, "{resp}");
    // both required: the key has no signature
    let (app, _) = app_for(d, &config("dev@acme.example", 2));
    let resp = post(&app, "/validate", &pod("prod", &image)).await;
    assert_eq!(
        message(&resp),
        format!(
            "image policy \"kl\": container \"app\" image \"{image}\": 1 of 2 attestors verified, 2 required: attestor 1 (cosign.pub): signature 1: the signature does not verify with the key cosign.pub"
        )
    );
    // Fulcio extensions the certificate must hold: the issuer's holds, a workflow ref it lacks
    let (app, _) = app_for(
        d,
        &config(
            "dev@acme.example, extensions: {oidcIssuer: https://issuer.example}",
            1,
        ),
    );
    let resp = post(&app, "/validate", &pod("prod", &image)).await;
    assert_eq!(resp["allowed"], true, "{resp}");
    let (app, _) = app_for(
        d,
        &config(
            "dev@acme.example, extensions: {githubWorkflowRef: refs/heads/main}",
            2,
        ),
    );
    let resp = post(&app, "/validate", &pod("prod", &image)).await;
    assert!(
        message(&resp).ends_with(
            "signature 1: the certificate's identity matches, but extension mismatch: expected refs/heads/main for key githubWorkflowRef, received "
        ),
        "{}",
        message(&resp)
    );
    // another identity
    let (app, _) = app_for(d, &config("ops@acme.example", 2));
    let resp = post(&app, "/validate", &pod("prod", &image)).await;
    assert!(
        message(&resp).ends_with(
            "attestor 2 (identity \"ops@acme.example\" issuer \"https://issuer.example\"): signature 1: the certificate's identity \"dev@acme.example\" from issuer \"https://issuer.example\" is not \"ops@acme.example\" from \"https://issuer.example\""
        ),
        "{}",
        message(&resp)
    );
}
