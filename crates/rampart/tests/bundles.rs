//! `rampart images verify-blob`: Sigstore bundles verified offline against a trusted root.
//!
//! Two sources of bundles:
//! - bundles made here: a Fulcio-like CA by rcgen, the signatures and the Rekor signed entry
//!   timestamp by the `openssl` command line (the images crate's keyless harness), for the
//!   `messageSignature` and `dsseEnvelope` shapes and each way they can be wrong;
//! - real bundles made by Sigstore's own clients against the public-good and staging
//!   instances, with Sigstore's published trusted roots: public test data that `.ci/run`
//!   downloads from PyPI (the `pypi-attestations` and `sigstore` source distributions) and
//!   names in `RAMPART_SIGSTORE_PUBLIC`. Nothing of it is kept in this repository.
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

use assert_cmd::Command;
use base64::Engine as _;
use harness::*;
use keyless_harness::*;
use predicates::prelude::*;
use rampart_images::registry::sha256_digest;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn der_of(pem: &str) -> Vec<u8> {
    use rustls_pki_types::pem::PemObject as _;
    rustls_pki_types::CertificateDer::from_pem_slice(pem.as_bytes())
        .unwrap()
        .as_ref()
        .to_vec()
}

/// The Rekor parts of a bundle for `body`, its SET signed by openssl with the log's key.
fn tlog_entry(d: &Path, rekor: &Rekor, body: &Value, integrated: u64) -> Value {
    let (body_b64, set) = rekor_entry(d, &rekor.key, &rekor.log_id_hex, body, integrated, 7);
    json!({
        "logIndex": "7",
        "logId": {"keyId": b64(&rekor.log_id)},
        "kindVersion": {"kind": body["kind"], "version": "0.0.1"},
        "integratedTime": integrated.to_string(),
        "inclusionPromise": {"signedEntryTimestamp": b64(&set)},
        "canonicalizedBody": body_b64
    })
}

struct Fixture {
    dir: tempfile::TempDir,
    root: PathBuf,
    blob: PathBuf,
    ca: Fulcio,
    rekor: Rekor,
}

/// 2020-01-01T12:00:00Z, inside the leaf certificates' validity.
const LOGGED: u64 = 1_577_880_000;

fn fixture() -> Option<Fixture> {
    if !have_openssl() {
        eprintln!("openssl is not installed: .ci/run installs it");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let ca = fulcio("bundles");
    let rekor = rekor(dir.path());
    let root = dir.path().join("trusted_root.json");
    std::fs::write(&root, trusted_root(&ca, &rekor).to_string()).unwrap();
    let blob = dir.path().join("release.tar.gz");
    std::fs::write(&blob, b"the release artifact\n").unwrap();
    Some(Fixture {
        dir,
        root,
        blob,
        ca,
        rekor,
    })
}

/// A v0.3 bundle whose messageSignature signs the blob, by `email`.
fn message_bundle(f: &Fixture, email: &str, artifact: &[u8], integrated: u64) -> Value {
    let d = f.dir.path();
    let (cert_pem, key_pem) = leaf(&f.ca, email, "https://issuer.example");
    let key = d.join("leaf.key");
    std::fs::write(&key, key_pem).unwrap();
    let sig = sign(d, &key, artifact, SHA256);
    let hex = sha256_digest(artifact)
        .trim_start_matches("sha256:")
        .to_string();
    let body = json!({
        "apiVersion": "0.0.1", "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": hex}},
            "signature": {"content": b64(&sig), "publicKey": {"content": b64(cert_pem.as_bytes())}}
        }
    });
    let digest: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    json!({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {
            "certificate": {"rawBytes": b64(&der_of(&cert_pem))},
            "tlogEntries": [tlog_entry(d, &f.rekor, &body, integrated)]
        },
        "messageSignature": {
            "messageDigest": {"algorithm": "SHA2_256", "digest": b64(&digest)},
            "signature": b64(&sig)
        }
    })
}

/// A v0.2 bundle (certificate chain) whose DSSE envelope holds an in-toto statement naming
/// the blob.
fn dsse_bundle(f: &Fixture, email: &str, artifact: &[u8]) -> Value {
    let d = f.dir.path();
    let (cert_pem, key_pem) = leaf(&f.ca, email, "https://issuer.example");
    let key = d.join("leaf.key");
    std::fs::write(&key, key_pem).unwrap();
    let statement = json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "release.tar.gz", "digest": {"sha256": sha256_digest(artifact).trim_start_matches("sha256:")}}],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {"buildDefinition": {"buildType": "https://example.com/build"}}
    })
    .to_string();
    let pae =
        rampart_images::verify::dsse_pae("application/vnd.in-toto+json", statement.as_bytes());
    let sig = sign(d, &key, &pae, SHA256);
    let body = json!({
        "apiVersion": "0.0.1", "kind": "dsse",
        "spec": {
            "envelopeHash": {"algorithm": "sha256", "value": "00"},
            "payloadHash": {"algorithm": "sha256", "value": sha256_digest(statement.as_bytes()).trim_start_matches("sha256:")},
            "signatures": [{"signature": b64(&sig), "verifier": b64(cert_pem.as_bytes())}]
        }
    });
    json!({
        "mediaType": "application/vnd.dev.sigstore.bundle+json;version=0.2",
        "verificationMaterial": {
            "x509CertificateChain": {"certificates": [{"rawBytes": b64(&der_of(&cert_pem))}]},
            "tlogEntries": [tlog_entry(d, &f.rekor, &body, LOGGED)]
        },
        "dsseEnvelope": {
            "payload": b64(statement.as_bytes()),
            "payloadType": "application/vnd.in-toto+json",
            "signatures": [{"sig": b64(&sig), "keyid": ""}]
        }
    })
}

fn verify_blob(blob: &Path, bundle: &Path, root: &Path, identity: &str, issuer: &str) -> Command {
    let mut c = Command::cargo_bin("rampart").unwrap();
    c.args(["images", "verify-blob"])
        .arg(blob)
        .arg("--bundle")
        .arg(bundle)
        .args(["--certificate-identity", identity])
        .args(["--certificate-oidc-issuer", issuer])
        .arg("--trusted-root")
        .arg(root);
    c
}

fn write(f: &Fixture, name: &str, v: &Value) -> PathBuf {
    let p = f.dir.path().join(name);
    std::fs::write(&p, serde_json::to_string_pretty(v).unwrap()).unwrap();
    p
}

const ISSUER: &str = "https://issuer.example";

#[test]
fn message_signature_bundles_verify_and_every_alteration_fails() {
    let Some(f) = fixture() else { return };
    let artifact = std::fs::read(&f.blob).unwrap();
    let good = message_bundle(&f, "dev@example.com", &artifact, LOGGED);
    let path = write(&f, "good.sigstore.json", &good);
    verify_blob(&f.blob, &path, &f.root, "dev@example.com", ISSUER)
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "release.tar.gz: verified: signed by dev@example.com (issuer https://issuer.example), Rekor entry 7 logged at 2020-01-01T12:00:00Z",
        ));
    // JSON output.
    let out = verify_blob(&f.blob, &path, &f.root, "dev@example.com", ISSUER)
        .args(["-o", "json"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["verified"], true);
    assert_eq!(v["bundle"]["content"], "messageSignature");
    assert_eq!(v["bundle"]["integratedTime"], LOGGED);

    let fails = |bundle: &Path, blob: &Path, identity: &str, why: &str| {
        verify_blob(blob, bundle, &f.root, identity, ISSUER)
            .assert()
            .code(1)
            .stdout(predicate::str::contains(format!("not verified: {why}")));
    };
    // Another file.
    let other = f.dir.path().join("other.tar.gz");
    std::fs::write(&other, b"something else\n").unwrap();
    fails(
        &path,
        &other,
        "dev@example.com",
        &format!(
            "the bundle signs {}, not the artifact's {}",
            sha256_digest(&artifact),
            sha256_digest(b"something else\n")
        ),
    );
    // Another identity.
    fails(
        &path,
        &f.blob,
        "ops@example.com",
        "the certificate's identity \"dev@example.com\" from issuer \"https://issuer.example\" is not \"ops@example.com\" from \"https://issuer.example\"",
    );
    // The signed entry timestamp altered (the log index no longer the one signed).
    let mut set_altered = good.clone();
    set_altered["verificationMaterial"]["tlogEntries"][0]["logIndex"] = json!("8");
    fails(
        &write(&f, "set.json", &set_altered),
        &f.blob,
        "dev@example.com",
        "the Rekor signed entry timestamp does not verify with the log's key",
    );
    // The signature of another artifact, with this artifact's digest.
    let mut sig_swapped = good.clone();
    let other_bundle = message_bundle(&f, "dev@example.com", b"something else\n", LOGGED);
    sig_swapped["messageSignature"]["signature"] =
        other_bundle["messageSignature"]["signature"].clone();
    fails(
        &write(&f, "sig.json", &sig_swapped),
        &f.blob,
        "dev@example.com",
        "the signature does not verify over the artifact with the certificate's key",
    );
    // A log entry of another signature.
    let mut entry_swapped = good.clone();
    entry_swapped["verificationMaterial"]["tlogEntries"] =
        other_bundle["verificationMaterial"]["tlogEntries"].clone();
    fails(
        &write(&f, "entry.json", &entry_swapped),
        &f.blob,
        "dev@example.com",
        "the Rekor entry is for another signature, artifact or certificate",
    );
    // Logged after the certificate expired (2020-01-02).
    let late = message_bundle(&f, "dev@example.com", &artifact, LOGGED + 3 * 86_400);
    fails(
        &write(&f, "late.json", &late),
        &f.blob,
        "dev@example.com",
        "the certificate does not chain to a Fulcio CA of the trusted root at the time it was logged (1578139200)",
    );
    // The trusted root's validity windows: a CA that had stopped issuing, a log key not yet
    // in use, at the time of logging.
    let mut root: Value = serde_json::from_str(&std::fs::read_to_string(&f.root).unwrap()).unwrap();
    root["certificateAuthorities"][0]["validFor"] =
        json!({"start": "2019-01-01T00:00:00Z", "end": "2019-12-31T23:59:59.999Z"});
    let retired = write(&f, "retired-ca.json", &root);
    verify_blob(&f.blob, &path, &retired, "dev@example.com", ISSUER)
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "not verified: the certificate does not chain to a Fulcio CA of the trusted root at the time it was logged (1577880000): the Fulcio CA 1 of the trusted root did not issue certificates at that time (its validFor)",
        ));
    let mut root: Value = serde_json::from_str(&std::fs::read_to_string(&f.root).unwrap()).unwrap();
    root["tlogs"][0]["publicKey"]["validFor"] = json!({"start": "2021-01-01T00:00:00Z"});
    let later_log = write(&f, "later-log.json", &root);
    verify_blob(&f.blob, &path, &later_log, "dev@example.com", ISSUER)
        .assert()
        .code(1)
        .stdout(predicate::str::contains(format!(
            "not verified: the Rekor log {}'s key was not valid at 2020-01-01T12:00:00Z (its validFor in the trusted root)",
            f.rekor.log_id_hex
        )));
    // No inclusion promise.
    let mut no_promise = good.clone();
    no_promise["verificationMaterial"]["tlogEntries"][0]
        .as_object_mut()
        .unwrap()
        .remove("inclusionPromise");
    fails(
        &write(&f, "promise.json", &no_promise),
        &f.blob,
        "dev@example.com",
        "the transparency-log entry has no inclusion promise (signed entry timestamp), which offline verification needs",
    );
}

#[test]
fn dsse_bundles_verify_for_the_artifact_their_statement_names() {
    let Some(f) = fixture() else { return };
    let artifact = std::fs::read(&f.blob).unwrap();
    let good = dsse_bundle(&f, "ci@example.com", &artifact);
    let path = write(&f, "att.sigstore.json", &good);
    verify_blob(&f.blob, &path, &f.root, "ci@example.com", ISSUER)
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "verified: signed by ci@example.com (issuer https://issuer.example), in-toto statement https://slsa.dev/provenance/v1, Rekor entry 7",
        ));
    let other = f.dir.path().join("other.tar.gz");
    std::fs::write(&other, b"something else\n").unwrap();
    verify_blob(&other, &path, &f.root, "ci@example.com", ISSUER)
        .assert()
        .code(1)
        .stdout(predicate::str::contains(format!(
            "not verified: the statement's subjects do not include the artifact's digest {}",
            sha256_digest(b"something else\n")
        )));
    // The statement altered after signing.
    let mut tampered = good.clone();
    let statement = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(good["dsseEnvelope"]["payload"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap()
    .replace("https://example.com/build", "https://evil.example/build");
    tampered["dsseEnvelope"]["payload"] = json!(b64(statement.as_bytes()));
    verify_blob(
        &f.blob,
        &write(&f, "tampered.json", &tampered),
        &f.root,
        "ci@example.com",
        ISSUER,
    )
    .assert()
    .code(1)
    .stdout(predicate::str::contains(
        "not verified: the envelope's signature does not verify with the certificate's key",
    ));
}

#[test]
fn bad_bundles_are_input_errors() {
    let Some(f) = fixture() else { return };
    let path = f.dir.path().join("broken.json");
    std::fs::write(&path, "{\n  \"mediaType\": \n").unwrap();
    verify_blob(&f.blob, &path, &f.root, "a@b", ISSUER)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!(
            "{}:3:1: not a Sigstore bundle",
            path.display()
        )));
    std::fs::write(&path, r#"{"mediaType": "application/json"}"#).unwrap();
    verify_blob(&f.blob, &path, &f.root, "a@b", ISSUER)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "mediaType \"application/json\" is not a Sigstore bundle's",
        ));
    // Keyless flags are required.
    Command::cargo_bin("rampart")
        .unwrap()
        .args(["images", "verify-blob"])
        .arg(&f.blob)
        .arg("--bundle")
        .arg(&path)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "verify-blob needs --certificate-identity",
        ));
}

/// Real bundles: Sigstore clients' own, from the public-good and staging instances.
#[test]
fn real_sigstore_bundles_verify() {
    let Some(dir) = std::env::var_os("RAMPART_SIGSTORE_PUBLIC") else {
        eprintln!(
            "RAMPART_SIGSTORE_PUBLIC is not set: .ci/run downloads the public bundles and sets it"
        );
        return;
    };
    let dir = PathBuf::from(dir);
    let assets = dir.join("pypi_attestations-0.0.30/test/assets");
    let roots = dir.join("sigstore-3.6.1/sigstore/_store");
    assert!(assets.is_dir(), "{} is missing", assets.display());
    let prod = roots.join("prod/trusted_root.json");
    let staging = roots.join("staging/trusted_root.json");
    // GitHub Actions keyless signing against the public-good instance.
    let sdist = assets.join("pypi_attestation_models-0.0.4a2.tar.gz");
    let sdist_bundle = assets.join("pypi_attestation_models-0.0.4a2.tar.gz.sigstore");
    let workflow = "https://github.com/trailofbits/pypi-attestation-models/.github/workflows/release.yml@refs/tags/v0.0.4a2";
    let actions = "https://token.actions.githubusercontent.com";
    verify_blob(&sdist, &sdist_bundle, &prod, workflow, actions)
        .assert()
        .code(0)
        .stdout(predicate::str::contains(format!(
            "verified: signed by {workflow} (issuer {actions}), in-toto statement https://docs.pypi.org/attestations/publish/v1, Rekor entry 101487427 logged at 2024-06-10T19:47:25Z"
        )));
    // The workflow's Fulcio extensions, as cosign's --certificate-github-workflow-* flags.
    verify_blob(&sdist, &sdist_bundle, &prod, workflow, actions)
        .args([
            "--certificate-github-workflow-repository",
            "trailofbits/pypi-attestation-models",
            "--certificate-github-workflow-ref",
            "refs/tags/v0.0.4a2",
            "--certificate-github-workflow-trigger",
            "release",
        ])
        .assert()
        .code(0);
    verify_blob(&sdist, &sdist_bundle, &prod, workflow, actions)
        .args(["--certificate-github-workflow-ref", "refs/heads/main"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "not verified: the certificate's identity matches, but extension mismatch: expected refs/heads/main for key githubWorkflowRef, received refs/tags/v0.0.4a2",
        ));
    // An e-mail identity against the staging instance.
    let wheel = assets.join("rfc8785-0.1.2-py3-none-any.whl");
    let wheel_bundle = assets.join("rfc8785-0.1.2-py3-none-any.whl.sigstore");
    verify_blob(
        &wheel,
        &wheel_bundle,
        &staging,
        "william@yossarian.net",
        "https://github.com/login/oauth",
    )
    .assert()
    .code(0)
    .stdout(predicate::str::contains(
        "verified: signed by william@yossarian.net (issuer https://github.com/login/oauth)",
    ));
    // The staging bundle against the public-good root: its log is not trusted there.
    verify_blob(
        &wheel,
        &wheel_bundle,
        &prod,
        "william@yossarian.net",
        "https://github.com/login/oauth",
    )
    .assert()
    .code(1)
    .stdout(predicate::str::contains(
        "not verified: the Rekor log d32f30a3c32d639c2b762205a21c7bb07788e68283a4ae6f42118723a1bea496 is not in the trusted root",
    ));
    // Another workflow; another artifact.
    verify_blob(
        &sdist,
        &sdist_bundle,
        &prod,
        "https://github.com/trailofbits/pypi-attestation-models/.github/workflows/other.yml@refs/tags/v0.0.4a2",
        actions,
    )
    .assert()
    .code(1)
    .stdout(predicate::str::contains("not verified: the certificate's identity"));
    verify_blob(&wheel, &sdist_bundle, &prod, workflow, actions)
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "not verified: the statement's subjects do not include the artifact's digest sha256:",
        ));
}
