//! Images signed as cosign 3 signs them by default: a Sigstore bundle (a DSSE envelope of an
//! in-toto statement naming the image's digest, predicate `https://sigstore.dev/cosign/sign/v1`)
//! attached as an OCI 1.1 referrer, found through the referrers tag schema's index
//! (`sha256-<hex>`) on a registry without the referrers API (Debian's distribution 2.8).
//! Envelopes and Rekor entries are signed by the `openssl` command line.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod harness;
#[path = "harness/keyless.rs"]
mod keyless_harness;

use base64::Engine as _;
use harness::*;
use keyless_harness::*;
use rampart_images::keyless::{Identity, KeylessPolicy, Matcher, TrustedRoot};
use rampart_images::registry::sha256_digest;
use rampart_images::verify::{COSIGN_SIGN_PREDICATE, Policy};
use rampart_images::{verify_image, verify_image_with};
use serde_json::{Value, json};

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// An SBOM-like referrer of another tool: not a signature, skipped.
fn other_artifact(p: u16, repo: &str, digest: &str) -> Value {
    let empty = push_blob(p, repo, b"{}");
    let sbom = push_blob(p, repo, b"{\"spdxVersion\":\"SPDX-2.3\"}");
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/spdx+json",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
        "layers": [{"mediaType": "application/spdx+json", "digest": sbom, "size": 25}],
        "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": 0}
    });
    let bytes = serde_json::to_vec(&manifest).unwrap();
    let md = push_manifest(p, repo, &sha256_digest(&bytes), &manifest);
    json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": bytes.len(), "artifactType": "application/spdx+json"})
}

#[tokio::test]
async fn key_signed_bundles_attached_as_referrers_verify() {
    let Some(reg) = start("") else { return };
    let p = reg.port;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let repo = "acme/v3";
    let digest = push_image(p, repo, "1.0", "v3 signed");
    let (key, pubk) = keypair(d, "team", P256);
    let (_, other_pub) = keypair(d, "other", P256);
    let material = json!({"publicKey": {"hint": "team"}, "tlogEntries": []});
    let (good, _) = dsse_bundle(
        d,
        &key,
        &in_toto_statement(&digest, COSIGN_SIGN_PREDICATE),
        material.clone(),
    );
    let sbom = other_artifact(p, repo, &digest);
    attach_bundles(p, repo, &digest, &[good], &[sbom]);
    let client = insecure_client();
    let image = format!("127.0.0.1:{p}/{repo}:1.0");

    let v = verify_image(&client, &image, &[load_key(&pubk)]).await;
    assert_eq!(v.result, Ok(1), "{v:?}");
    assert_eq!(v.digest.as_deref(), Some(digest.as_str()));

    let v = verify_image(&client, &image, &[load_key(&other_pub)]).await;
    assert_eq!(
        v.result,
        Err("bundle 1: the envelope's signature does not verify with the key other.pub".into())
    );

    // A bundle for another image, and an attestation of another predicate: not signatures of
    // this image.
    let second = push_image(p, repo, "2.0", "v3 other");
    let (for_other, _) = dsse_bundle(
        d,
        &key,
        &in_toto_statement(&digest, COSIGN_SIGN_PREDICATE),
        material.clone(),
    );
    let (sbom_att, _) = dsse_bundle(
        d,
        &key,
        &in_toto_statement(&second, "https://spdx.dev/Document"),
        material,
    );
    attach_bundles(p, repo, &second, &[for_other, sbom_att], &[]);
    let v = verify_image(
        &client,
        &format!("127.0.0.1:{p}/{repo}:2.0"),
        &[load_key(&pubk)],
    )
    .await;
    assert_eq!(
        v.result,
        Err(format!(
            "bundle 1: the statement's subjects do not include the image's digest {second}; bundle 2: the statement's predicateType is \"https://spdx.dev/Document\", not \"{COSIGN_SIGN_PREDICATE}\""
        ))
    );

    // Neither `.sig` signatures nor referrers.
    let bare = push_image(p, repo, "3.0", "v3 bare");
    let hex = bare.trim_start_matches("sha256:");
    let v = verify_image(
        &client,
        &format!("127.0.0.1:{p}/{repo}:3.0"),
        &[load_key(&pubk)],
    )
    .await;
    assert_eq!(
        v.result,
        Err(format!(
            "no signatures found (no sha256-{hex}.sig manifest) and no Sigstore bundles among its referrers"
        ))
    );
}

#[tokio::test]
async fn keyless_bundles_attached_as_referrers_verify_with_their_log_entry() {
    let Some(reg) = start("") else { return };
    let p = reg.port;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let repo = "acme/keyless-v3";
    let digest = push_image(p, repo, "1.0", "v3 keyless");
    let ca = fulcio("v3");
    let log = rekor(d);
    let (cert_pem, key_pem) = leaf(&ca, "release@acme.example", "https://issuer.example");
    let key = d.join("leaf.key");
    std::fs::write(&key, key_pem).unwrap();
    let payload = in_toto_statement(&digest, COSIGN_SIGN_PREDICATE);
    let pae = rampart_images::verify::dsse_pae("application/vnd.in-toto+json", &payload);
    let sig = sign(d, &key, &pae, SHA256);
    let body = json!({
        "apiVersion": "0.0.1", "kind": "dsse",
        "spec": {
            "payloadHash": {"algorithm": "sha256", "value": sha256_digest(&payload).trim_start_matches("sha256:")},
            "signatures": [{"signature": b64(&sig), "verifier": b64(cert_pem.as_bytes())}]
        }
    });
    let integrated = 1_577_880_000u64;
    let (body_b64, set) = rekor_entry(d, &log.key, &log.log_id_hex, &body, integrated, 3);
    use rustls_pki_types::pem::PemObject as _;
    let der = rustls_pki_types::CertificateDer::from_pem_slice(cert_pem.as_bytes()).unwrap();
    let bundle = json!({
        "mediaType": BUNDLE_TYPE,
        "verificationMaterial": {
            "certificate": {"rawBytes": b64(der.as_ref())},
            "tlogEntries": [{
                "logIndex": "3", "logId": {"keyId": b64(&log.log_id)},
                "kindVersion": {"kind": "dsse", "version": "0.0.1"},
                "integratedTime": integrated.to_string(),
                "inclusionPromise": {"signedEntryTimestamp": b64(&set)},
                "canonicalizedBody": body_b64
            }]
        },
        "dsseEnvelope": {"payload": b64(&payload), "payloadType": "application/vnd.in-toto+json", "signatures": [{"sig": b64(&sig)}]}
    });
    attach_bundles(p, repo, &digest, &[bundle], &[]);
    let root = TrustedRoot::from_json("root", &trusted_root(&ca, &log).to_string()).unwrap();
    let policy = |email: &str| Policy {
        keys: vec![],
        keyless: Some(KeylessPolicy {
            root: root.clone(),
            identities: vec![Identity {
                subject: Matcher::Exact(email.into()),
                issuer: Matcher::Exact("https://issuer.example".into()),
                extensions: Vec::new(),
            }],
        }),
    };
    let client = insecure_client();
    let image = format!("127.0.0.1:{p}/{repo}:1.0");
    let v = verify_image_with(&client, &image, &policy("release@acme.example")).await;
    assert_eq!(v.result, Ok(1), "{v:?}");
    let v = verify_image_with(&client, &image, &policy("someone@acme.example")).await;
    assert_eq!(
        v.result,
        Err("bundle 1: the certificate's identity \"release@acme.example\" from issuer \"https://issuer.example\" is not \"someone@acme.example\" from \"https://issuer.example\"".into())
    );
}
