//! Kyverno `verifyImages` at admission through the router, against a real registry (the images
//! crate's harness: `docker-registry` on loopback, signatures made by the openssl command
//! line): `/mutate` pins a verified image's tag to its digest (`mutateDigest`) in the
//! AdmissionReview's JSONPatch; an unsigned image gets no patch and `/validate` denies it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[path = "../../rampart-images/tests/harness/mod.rs"]
mod harness;
#[path = "common/review.rs"]
mod review;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use harness::*;
use rampart_server::{AppState, Config, Engine, NoNamespaceLabels, RampartPss, router};
use serde_json::{Value, json};

fn review(image: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {
            "uid": "0b5c1f52-0000-4000-8000-000000000018",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "name": "p", "namespace": "apps", "operation": "CREATE",
            "userInfo": {"username": "alice"},
            "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "apps"},
                       "spec": {"containers": [{"name": "app", "image": image}]}}
        }
    }))
    .unwrap()
}

/// The AdmissionReview's `response`.
async fn post(app: &axum::Router, path: &str, image: &str) -> Value {
    review::response(app, path, review(image)).await
}

fn patch(resp: &Value) -> Option<Value> {
    resp["patch"].as_str().map(|p| {
        serde_json::from_slice(&base64::engine::general_purpose::STANDARD.decode(p).unwrap())
            .unwrap()
    })
}

fn indent(text: &str, n: usize) -> String {
    text.lines()
        .map(|l| format!("{}{l}\n", " ".repeat(n)))
        .collect()
}

/// The router with these Kyverno policies, verifying images against the loopback registry.
fn app_verifying(mut set: rampart_kyverno::PolicySet) -> axum::Router {
    set.image_verifier = Some(rampart_kyverno::images::Verifier::new(
        rampart_kyverno::registry::RegistryVerifier::new(rampart_images::ClientOptions {
            insecure: true,
            timeout: Duration::from_secs(10),
            ..rampart_images::ClientOptions::default()
        })
        .unwrap(),
    ));
    let engine = Engine::new(
        Config::default(),
        Arc::new(RampartPss),
        Arc::new(NoNamespaceLabels),
    )
    .with_kyverno(Arc::new(set));
    router(AppState::new(engine))
}

// A plain test with a runtime of its own: the registry verifier owns a runtime, which must
// not be dropped inside an async context.
#[test]
fn kyverno_mutate_digest_pins_verified_images_at_mutate() {
    let Some(reg) = start("") else { return };
    let p = reg.port;
    let dir = tempfile::tempdir().unwrap();
    let (key, pubk) = keypair(dir.path(), "cosign", P256);
    let digest = push_image(p, "acme/api", "1.0", "api");
    let signed = format!("127.0.0.1:{p}/acme/api:1.0");
    let payload = payload(&format!("127.0.0.1:{p}/acme/api"), &digest);
    let sig = sign(dir.path(), &key, &payload, SHA256);
    push_signatures(p, "acme/api", &digest, &[(payload, sig)]);
    let unsigned_digest = push_image(p, "acme/api", "2.0", "unsigned");
    let unsigned = format!("127.0.0.1:{p}/acme/api:2.0");

    let policy = format!(
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {{name: signed}}\nspec:\n  validationFailureAction: Enforce\n  rules:\n  - name: verify\n    match: {{any: [{{resources: {{kinds: [Pod]}}}}]}}\n    verifyImages:\n    - imageReferences: [\"127.0.0.1:{p}/acme/*\"]\n      attestors:\n      - entries:\n        - keys:\n            publicKeys: |-\n{}",
        indent(&std::fs::read_to_string(pubk).unwrap(), 14)
    );
    let (set, errs) = rampart_kyverno::PolicySet::from_str("kyverno.yaml", &policy);
    assert!(errs.is_empty(), "{errs:?}");
    let app = app_verifying(set);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // signed: allowed, and the patch pins the tag to the digest the signature names
        let resp = post(&app, "/mutate", &signed).await;
        assert_eq!(resp["allowed"], true, "{resp:#}");
        assert_eq!(resp["patchType"], "JSONPatch", "{resp:#}");
        assert_eq!(
            patch(&resp),
            Some(json!([{"op": "replace", "path": "/spec/containers/0/image",
                         "value": format!("{signed}@{digest}")}]))
        );
        // already pinned: nothing to patch
        let resp = post(&app, "/mutate", &format!("{signed}@{digest}")).await;
        assert_eq!(resp["allowed"], true, "{resp:#}");
        assert_eq!(patch(&resp), None, "{resp:#}");
        // unsigned: no patch at /mutate, denied at /validate with the reason
        let resp = post(&app, "/mutate", &unsigned).await;
        assert_eq!(patch(&resp), None, "{resp:#}");
        let resp = post(&app, "/validate", &unsigned).await;
        assert_eq!(resp["allowed"], false, "{resp:#}");
        let tag = format!("{}.sig", unsigned_digest.replacen(':', "-", 1));
        let msg = resp["status"]["message"].as_str().unwrap();
        assert!(
            msg.contains(&format!(
                "[signed/verify] failed to verify image {unsigned}: .attestors[0].entries[0].keys: no signatures found (no {tag} manifest)"
            )),
            "{msg}"
        );
        // signed, at /validate: allowed
        let resp = post(&app, "/validate", &signed).await;
        assert_eq!(resp["allowed"], true, "{resp:#}");
    });
    drop(rt);
    drop(app);
}

/// An ImageValidatingPolicy at admission: `/mutate` pins the selected images' tags to their
/// digests (`mutateDigest`), `/validate` verifies the pinned image and denies an unsigned one
/// (and a tag it was never given the chance to pin, for its missing digest).
#[test]
fn image_validating_policies_pin_at_mutate_and_verify_at_validate() {
    let Some(reg) = start("") else { return };
    let p = reg.port;
    let dir = tempfile::tempdir().unwrap();
    let (key, pubk) = keypair(dir.path(), "cosign", P256);
    let digest = push_image(p, "acme/api", "1.0", "api");
    let payload = payload(&format!("127.0.0.1:{p}/acme/api"), &digest);
    let sig = sign(dir.path(), &key, &payload, SHA256);
    push_signatures(p, "acme/api", &digest, &[(payload, sig)]);
    let unsigned_digest = push_image(p, "acme/api", "2.0", "unsigned");
    let signed = format!("127.0.0.1:{p}/acme/api:1.0");
    let policy = format!(
        r#"apiVersion: policies.kyverno.io/v1beta1
kind: ImageValidatingPolicy
metadata: {{name: acme-signed}}
spec:
  validationActions: [Deny]
  matchConstraints:
    resourceRules:
    - {{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}}
  matchImageReferences:
  - glob: "127.0.0.1:{p}/acme/*"
  attestors:
  - name: acme
    cosign:
      key:
        data: |
{}
  validations:
  - expression: images.containers.all(i, verifyImageSignatures(i, [attestors.acme]) > 0)
    message: acme images must be signed
"#,
        indent(&std::fs::read_to_string(pubk).unwrap(), 10)
    );
    let (set, errs) = rampart_kyverno::PolicySet::from_str("ivpol.yaml", &policy);
    assert!(errs.is_empty(), "{errs:?}");
    assert!(set.verifies_images());
    let app = app_verifying(set);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let resp = post(&app, "/mutate", &signed).await;
        assert_eq!(
            patch(&resp),
            Some(json!([{"op": "replace", "path": "/spec/containers/0/image",
                         "value": format!("{signed}@{digest}")}])),
            "{resp:#}"
        );
        let resp = post(&app, "/validate", &format!("{signed}@{digest}")).await;
        assert_eq!(resp["allowed"], true, "{resp:#}");
        let unsigned = format!("127.0.0.1:{p}/acme/api:2.0@{unsigned_digest}");
        let resp = post(&app, "/validate", &unsigned).await;
        assert_eq!(resp["allowed"], false, "{resp:#}");
        let msg = resp["status"]["message"].as_str().unwrap();
        assert!(msg.contains("acme images must be signed"), "{msg}");
        let resp = post(&app, "/validate", &signed).await;
        assert_eq!(resp["allowed"], false, "{resp:#}");
        let msg = resp["status"]["message"].as_str().unwrap();
        assert!(
            msg.contains(&format!("image {signed} does not have a digest")),
            "{msg}"
        );
        // an image the policy does not select: allowed, unpinned
        let resp = post(&app, "/mutate", "nginx:1.27").await;
        assert_eq!(patch(&resp), None, "{resp:#}");
        let resp = post(&app, "/validate", "nginx:1.27").await;
        assert_eq!(resp["allowed"], true, "{resp:#}");
    });
    drop(rt);
    drop(app);
}
