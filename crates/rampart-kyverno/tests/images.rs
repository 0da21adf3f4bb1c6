//! `verifyImages` rules against a real registry: Debian's `docker-registry` on loopback, images
//! pushed with plain HTTP calls, signatures made by the `openssl` command line in cosign's
//! storage format (so the verifier is not checked against itself).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use base64::Engine as _;
use rampart_images::registry::sha256_digest;
use rampart_kyverno::{AdmissionInfo, PolicySet, Status};
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;

mod common;
use common::{indent, verifier};

#[path = "../../rampart-images/tests/harness/mod.rs"]
mod harness;
use harness::{free_port, openssl, push_blob, rekor_entry, start as start_registry};

fn start() -> Option<harness::Registry> {
    start_registry("")
}

/// Pushes an image manifest with these layers (and an empty config) under `tag`; its digest.
fn push_manifest(port: u16, repo: &str, tag: &str, layers: Vec<Value>) -> String {
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let cd = push_blob(port, repo, config);
    harness::push_manifest(
        port,
        repo,
        tag,
        &json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": config.len()},
            "layers": layers,
        }),
    )
}

fn push_image(port: u16, repo: &str, tag: &str) -> String {
    harness::push_image(port, repo, tag, &format!("{repo}:{tag}"))
}

/// Signs `digest` of `reference` with the openssl key and pushes it as cosign stores it.
fn sign(port: u16, repo: &str, reference: &str, digest: &str, key: &Path, dir: &Path) {
    let payload = harness::payload(reference, digest);
    let sig = harness::sign(dir, key, &payload, harness::SHA256);
    harness::push_signatures(port, repo, digest, &[(payload, sig)]);
}

/// An ECDSA P-256 key pair: (private key path, public key PEM).
fn keypair(dir: &Path, name: &str) -> (std::path::PathBuf, String) {
    let (key, pubk) = harness::keypair(dir, name, harness::P256);
    (key, std::fs::read_to_string(pubk).unwrap())
}

fn policy(registry: &str, pem: &str, extra: &str) -> PolicySet {
    let entry = format!(
        "        - keys:\n            publicKeys: |-\n{}",
        indent(pem, 14)
    );
    policy_with(registry, &entry, extra)
}

fn policy_with(registry: &str, entries: &str, extra: &str) -> PolicySet {
    let text = format!(
        r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {{name: signed-images}}
spec:
  validationFailureAction: Enforce
  rules:
  - name: verify-signature
    match: {{any: [{{resources: {{kinds: [Pod]}}}}]}}
    verifyImages:
    - imageReferences: ["{registry}/team/*"]
      skipImageReferences: ["{registry}/team/skipped:*"]
{extra}      attestors:
      - entries:
{entries}"#
    );
    let (set, errors) = PolicySet::from_str("p.yaml", &text);
    assert!(errors.is_empty(), "{errors:?}\n{text}");
    set
}

fn pod(images: &[&str]) -> Value {
    let containers: Vec<Value> = images
        .iter()
        .enumerate()
        .map(|(i, im)| json!({"name": format!("c{i}"), "image": im}))
        .collect();
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "apps"},
           "spec": {"containers": containers}})
}

fn run(set: &PolicySet, pod: &Value) -> Vec<(Status, String, Option<Value>)> {
    set.evaluate(pod, &AdmissionInfo::default())
        .into_iter()
        .map(|r| (r.status, r.message, r.patched))
        .collect()
}

#[test]
fn signed_images_pass_and_unsigned_ones_fail_with_the_reason() {
    let Some(reg) = start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let host = format!("127.0.0.1:{}", reg.port);
    let (key, pem) = keypair(dir.path(), "team");
    let (other_key, _) = keypair(dir.path(), "other");
    let signed = push_image(reg.port, "team/app", "v1");
    sign(
        reg.port,
        "team/app",
        &format!("{host}/team/app"),
        &signed,
        &key,
        dir.path(),
    );
    let unsigned = push_image(reg.port, "team/app", "unsigned");
    let foreign = push_image(reg.port, "team/app", "foreign");
    sign(
        reg.port,
        "team/app",
        &format!("{host}/team/app"),
        &foreign,
        &other_key,
        dir.path(),
    );

    let mut set = policy(&host, &pem, "");
    // offline (policy test): an error per rule, as `kyverno test` reports an unreachable registry
    let r = run(&set, &pod(&[&format!("{host}/team/app:v1")]));
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0].0, Status::Error, "{r:?}");
    assert!(
        r[0].1.starts_with(&format!(
            "failed to verify image {host}/team/app:v1: no registry access"
        )),
        "{r:?}"
    );

    set.image_verifier = Some(verifier());
    // signed: passes, and the image is pinned to its digest (mutateDigest)
    let r = run(&set, &pod(&[&format!("{host}/team/app:v1")]));
    assert_eq!(r[0].0, Status::Pass, "{r:?}");
    assert_eq!(
        r[0].1,
        format!("verified image signatures for {host}/team/app:v1")
    );
    let patched = r[0].2.as_ref().expect("patched");
    assert_eq!(
        patched["spec"]["containers"][0]["image"],
        json!(format!("{host}/team/app:v1@{signed}"))
    );
    // a Deployment: the autogen rule verifies and pins its pod template's image
    let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "d", "namespace": "apps"},
        "spec": {"template": {"spec": {"containers": [{"name": "c", "image": format!("{host}/team/app:v1")}]}}}});
    let r: Vec<_> = set.evaluate(&deploy, &AdmissionInfo::default());
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(
        (r[0].rule.as_str(), r[0].status),
        ("autogen-verify-signature", Status::Pass),
        "{r:?}"
    );
    assert_eq!(
        r[0].patched.as_ref().unwrap()["spec"]["template"]["spec"]["containers"][0]["image"],
        json!(format!("{host}/team/app:v1@{signed}"))
    );
    // unsigned: fails, saying why
    let r = run(&set, &pod(&[&format!("{host}/team/app:unsigned")]));
    assert_eq!(r[0].0, Status::Fail, "{r:?}");
    let tag = unsigned.replacen(':', "-", 1);
    assert_eq!(
        r[0].1,
        format!(
            "failed to verify image {host}/team/app:unsigned: .attestors[0].entries[0].keys: no signatures found (no {tag}.sig manifest) and no Sigstore bundles among its referrers"
        )
    );
    // signed with another key: fails
    let r = run(&set, &pod(&[&format!("{host}/team/app:foreign")]));
    assert_eq!(r[0].0, Status::Fail, "{r:?}");
    assert!(
        r[0].1
            .contains("does not verify with the key publicKeys[0]"),
        "{r:?}"
    );
    // one bad image of two fails the rule
    let r = run(
        &set,
        &pod(&[
            &format!("{host}/team/app:v1"),
            &format!("{host}/team/app:unsigned"),
        ]),
    );
    assert_eq!(r[0].0, Status::Fail, "{r:?}");
    // images the rule does not select, or skips: no result
    assert!(run(&set, &pod(&["nginx:1.27"])).is_empty());
    // an image the rule skips: a skip, with Kyverno's message
    let r = run(&set, &pod(&[&format!("{host}/team/skipped:v1")]));
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(
        (r[0].0, r[0].1.as_str()),
        (
            Status::Skip,
            format!(
                "skipping image reference image {host}/team/skipped:v1, policy signed-images ruleName verify-signature"
            )
            .as_str()
        )
    );
    // an image that does not exist: an error (it cannot be resolved)
    let r = run(&set, &pod(&[&format!("{host}/team/missing:v1")]));
    assert_eq!(r[0].0, Status::Error, "{r:?}");

    // mutateDigest off: verifyDigest asks for a digest
    let mut set = policy(&host, &pem, "      mutateDigest: false\n");
    set.image_verifier = Some(verifier());
    let r = run(&set, &pod(&[&format!("{host}/team/app:v1")]));
    assert_eq!(r[0].0, Status::Fail, "{r:?}");
    assert_eq!(r[0].1, format!("missing digest for {host}/team/app:v1"));
    let r = run(&set, &pod(&[&format!("{host}/team/app:v1@{signed}")]));
    assert_eq!(r[0].0, Status::Pass, "{r:?}");
    assert!(r[0].2.is_none());
    // a skipped image is still asked for its digest (Kyverno's validation phase)
    let r = run(&set, &pod(&[&format!("{host}/team/skipped:v1")]));
    assert_eq!(r[0].0, Status::Fail, "{r:?}");
    assert_eq!(r[0].1, format!("missing digest for {host}/team/skipped:v1"));
}

#[test]
fn an_unreachable_registry_is_an_error() {
    if Command::new("openssl").arg("version").output().is_err() {
        eprintln!("SKIPPED: openssl is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_, pem) = keypair(dir.path(), "k");
    let port = free_port();
    let host = format!("127.0.0.1:{port}");
    let mut set = policy(&host, &pem, "");
    set.image_verifier = Some(verifier());
    let r = run(&set, &pod(&[&format!("{host}/team/app:v1")]));
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0].0, Status::Error, "{r:?}");
    assert!(
        r[0].1
            .starts_with(&format!("failed to verify image {host}/team/app:v1:")),
        "{r:?}"
    );
    assert!(!r[0].1.contains("bad attestor key"), "{r:?}");
}

/// A Fulcio-like CA made by rcgen: (params, key, self-signed certificate).
fn fulcio() -> (rcgen::CertificateParams, rcgen::KeyPair, rcgen::Certificate) {
    let mut p = rcgen::CertificateParams::default();
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    p.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    p.distinguished_name
        .push(rcgen::DnType::CommonName, "test fulcio root");
    p.not_before = rcgen::date_time_ymd(2019, 1, 1);
    p.not_after = rcgen::date_time_ymd(2035, 1, 1);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = p.self_signed(&key).unwrap();
    (p, key, cert)
}

fn openssl_sign(dir: &Path, key: &Path, data: &[u8]) -> Vec<u8> {
    let input = dir.join("to-sign");
    let out = dir.join("signature");
    std::fs::write(&input, data).unwrap();
    openssl(&[
        "dgst",
        "-sha256",
        "-sign",
        key.to_str().unwrap(),
        "-out",
        out.to_str().unwrap(),
        input.to_str().unwrap(),
    ]);
    std::fs::read(out).unwrap()
}

#[test]
fn keyless_attestors_check_the_identity_the_ca_and_the_log() {
    let Some(reg) = start() else { return };
    let port = reg.port;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let host = format!("127.0.0.1:{port}");
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let (ca_params, ca_key, ca) = fulcio();
    // the Rekor log's key
    let (rekor_key, rekor_pem) = keypair(d, "rekor");
    let spki_path = d.join("rekor.der");
    openssl(&[
        "pkey",
        "-in",
        rekor_key.to_str().unwrap(),
        "-pubout",
        "-outform",
        "DER",
        "-out",
        spki_path.to_str().unwrap(),
    ]);
    let log_id = sha256_digest(&std::fs::read(&spki_path).unwrap())
        .trim_start_matches("sha256:")
        .to_string();
    // a Fulcio-style certificate for dev@acme.example, valid on 2020-01-01
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let mut p = rcgen::CertificateParams::default();
    p.subject_alt_names = vec![rcgen::SanType::Rfc822Name(
        "dev@acme.example".try_into().unwrap(),
    )];
    p.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::CodeSigning];
    // the OIDC issuer, and the workflow's repository and ref as Fulcio writes them (raw strings)
    p.custom_extensions = [
        (1, "https://issuer.example"),
        (5, "acme/app"),
        (6, "refs/heads/main"),
    ]
    .into_iter()
    .map(|(arc, v)| {
        rcgen::CustomExtension::from_oid_content(
            &[1, 3, 6, 1, 4, 1, 57264, 1, arc],
            v.as_bytes().to_vec(),
        )
    })
    .collect();
    p.not_before = rcgen::date_time_ymd(2020, 1, 1);
    p.not_after = rcgen::date_time_ymd(2020, 1, 2);
    let leaf = p
        .signed_by(&leaf_key, &rcgen::Issuer::from_params(&ca_params, &ca_key))
        .unwrap();
    let leaf_key_path = d.join("leaf.key");
    std::fs::write(&leaf_key_path, leaf_key.serialize_pem()).unwrap();

    // the image, signed with the certificate's key and logged (a signed entry timestamp)
    let digest = push_image(port, "team/kl", "v1");
    let payload = serde_json::to_vec(&json!({
        "critical": {"identity": {"docker-reference": format!("{host}/team/kl")},
                     "image": {"docker-manifest-digest": digest},
                     "type": "cosign container image signature"},
        "optional": null
    }))
    .unwrap();
    let sig = openssl_sign(d, &leaf_key_path, &payload);
    let body = json!({"apiVersion": "0.0.1", "kind": "hashedrekord", "spec": {
        "data": {"hash": {"algorithm": "sha256", "value": sha256_digest(&payload).trim_start_matches("sha256:")}},
        "signature": {"content": b64(&sig), "publicKey": {"content": b64(leaf.pem().as_bytes())}}}});
    let integrated = 1_577_880_000u64; // 2020-01-01T12:00:00Z
    let (body_b64, set) = rekor_entry(d, &rekor_key, &log_id, &body, integrated, 42);
    let bundle = json!({"SignedEntryTimestamp": b64(&set),
        "Payload": {"body": body_b64, "integratedTime": integrated, "logIndex": 42, "logID": log_id}});
    let pd = push_blob(port, "team/kl", &payload);
    push_manifest(
        port,
        "team/kl",
        &format!("{}.sig", digest.replacen(':', "-", 1)),
        vec![json!({
            "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
            "digest": pd, "size": payload.len(),
            "annotations": {
                "dev.cosignproject.cosign/signature": b64(&sig),
                "dev.sigstore.cosign/certificate": leaf.pem(),
                "dev.sigstore.cosign/chain": ca.pem(),
                "dev.sigstore.cosign/bundle": bundle.to_string(),
            }
        })],
    );

    let entry = |subject: &str, roots: &str| {
        format!(
            "        - keyless:\n            subject: {subject}\n            issuer: https://issuer.example\n            roots: |-\n{}            rekor:\n              pubkey: |-\n{}",
            indent(roots, 14),
            indent(&rekor_pem, 16)
        )
    };
    let image = format!("{host}/team/kl:v1");
    let mut set = policy_with(&host, &entry("dev@acme.example", &ca.pem()), "");
    set.image_verifier = Some(verifier());
    let r = run(&set, &pod(&[&image]));
    assert_eq!(r[0].0, Status::Pass, "{r:?}");
    assert_eq!(r[0].1, format!("verified image signatures for {image}"));

    // another identity: fails, naming both
    let mut set = policy_with(&host, &entry("ops@acme.example", &ca.pem()), "");
    set.image_verifier = Some(verifier());
    let r = run(&set, &pod(&[&image]));
    assert_eq!(r[0].0, Status::Fail, "{r:?}");
    assert!(
        r[0].1.contains("\"dev@acme.example\"") && r[0].1.contains("is not \"ops@acme.example\""),
        "{r:?}"
    );

    // another CA: the certificate does not chain
    let (_, _, other) = fulcio();
    let mut set = policy_with(&host, &entry("dev@acme.example", &other.pem()), "");
    set.image_verifier = Some(verifier());
    let r = run(&set, &pod(&[&image]));
    assert_eq!(r[0].0, Status::Fail, "{r:?}");
    assert!(r[0].1.contains("does not chain"), "{r:?}");

    // additionalExtensions: by name or OID, wildcards; every one must match
    let with_extensions = |extensions: &str| {
        let entry = entry("dev@acme.example", &ca.pem()).replacen(
            "            issuer:",
            &format!("            additionalExtensions: {extensions}\n            issuer:"),
            1,
        );
        let mut set = policy_with(&host, &entry, "");
        set.image_verifier = Some(verifier());
        run(&set, &pod(&[&image]))
    };
    for ok in [
        "{githubWorkflowRepository: acme/app}",
        "{githubWorkflowRepository: acme/*, githubWorkflowRef: refs/heads/main}",
        "{1.3.6.1.4.1.57264.1.6: refs/heads/ma?n, oidcIssuer: https://issuer.example}",
    ] {
        let r = with_extensions(ok);
        assert_eq!(r[0].0, Status::Pass, "{ok}: {r:?}");
    }
    let r = with_extensions("{githubWorkflowRepository: acme/app, githubWorkflowRef: refs/tags/*}");
    assert_eq!(r[0].0, Status::Fail, "{r:?}");
    assert!(
        r[0].1.contains(
            "extension mismatch: expected refs/tags/* for key githubWorkflowRef, received refs/heads/main"
        ),
        "{r:?}"
    );
    // an extension the certificate does not carry reads as empty, as cosign reads it
    let r = with_extensions("{githubWorkflowTrigger: push}");
    assert_eq!(r[0].0, Status::Fail, "{r:?}");
    assert!(
        r[0].1.ends_with(
            "extension mismatch: expected push for key githubWorkflowTrigger, received "
        ),
        "{r:?}"
    );
    // an unknown key is no silent pass
    let r = with_extensions("{githubWorkflowBranch: main}");
    assert_eq!(r[0].0, Status::Error, "{r:?}");
    assert!(
        r[0].1
            .contains("invalid certificate extension githubWorkflowBranch"),
        "{r:?}"
    );

    // no roots: rampart cannot verify offline, an error
    let no_roots = "        - keyless:\n            subject: dev@acme.example\n            issuer: https://issuer.example\n";
    let mut set = policy_with(&host, no_roots, "");
    set.image_verifier = Some(verifier());
    let r = run(&set, &pod(&[&image]));
    assert_eq!(r[0].0, Status::Error, "{r:?}");
    assert!(r[0].1.contains("need `roots`"), "{r:?}");
}

#[test]
fn image_registry_context_entries_read_the_manifest_and_config() {
    let Some(reg) = start() else { return };
    let host = format!("127.0.0.1:{}", reg.port);
    let digest = push_image(reg.port, "team/app", "v2");
    let text = r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: image-data}
spec:
  rules:
  - name: linux-only
    match: {any: [{resources: {kinds: [Pod]}}]}
    context:
    - name: img
      imageRegistry:
        reference: "{{ request.object.spec.containers[0].image }}"
    validate:
      message: "{{ img.resolvedImage }} is for {{ img.configData.os }}"
      deny:
        conditions:
          any:
          - {key: "{{ img.configData.os }}", operator: Equals, value: linux}
  - name: layers
    match: {any: [{resources: {kinds: [Pod]}}]}
    context:
    - name: layers
      imageRegistry:
        reference: "{{ request.object.spec.containers[0].image }}"
        jmesPath: "manifest.layers | length(@)"
    validate:
      deny:
        conditions:
          any:
          - {key: "{{ layers }}", operator: GreaterThan, value: 1}
"#;
    let (mut set, errors) = PolicySet::from_str("p.yaml", text);
    assert!(errors.is_empty(), "{errors:?}");
    assert!(set.verifies_images());
    let image = format!("{host}/team/app:v2");
    // without registry access: an error per rule
    let r = run(&set, &pod(&[&image]));
    assert!(r.iter().all(|x| x.0 == Status::Error), "{r:?}");
    set.image_verifier = Some(verifier());
    let r = run(&set, &pod(&[&image]));
    assert_eq!(r.len(), 2, "{r:?}");
    assert_eq!(r[0].0, Status::Fail, "{r:?}");
    assert_eq!(r[0].1, format!("{host}/team/app@{digest} is for linux"));
    assert_eq!(r[1].0, Status::Pass, "{r:?}");
    // an image that is not there: an error that names it
    let r = run(&set, &pod(&[&format!("{host}/team/none:v1")]));
    assert_eq!(r[0].0, Status::Error, "{r:?}");
    assert!(
        r[0].1.contains(&format!(
            "failed to fetch image descriptor: {host}/team/none:v1"
        )),
        "{r:?}"
    );
}

#[test]
fn cosign_oci11_finds_signatures_attached_as_referrers() {
    let Some(reg) = start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let host = format!("127.0.0.1:{}", reg.port);
    let (key, pem) = keypair(d, "team");
    let (other_key, _) = keypair(d, "other");
    let signed_by = |digest: &str, key: &Path| {
        let payload = harness::payload(&format!("{host}/team/oci11"), digest);
        let sig = harness::sign(d, key, &payload, harness::SHA256);
        (payload, sig)
    };
    // signed by the team's key as a referrer only
    let referred = push_image(reg.port, "team/oci11", "referred");
    harness::push_oci11_signatures(
        reg.port,
        "team/oci11",
        &referred,
        &[signed_by(&referred, &other_key), signed_by(&referred, &key)],
    );
    // the last referrer is another key's (cosign reads the last one only)
    let last_other = push_image(reg.port, "team/oci11", "last-other");
    harness::push_oci11_signatures(
        reg.port,
        "team/oci11",
        &last_other,
        &[
            signed_by(&last_other, &key),
            signed_by(&last_other, &other_key),
        ],
    );
    // a .sig signature only: cosign falls back to it
    let tagged = push_image(reg.port, "team/oci11", "tagged");
    sign(
        reg.port,
        "team/oci11",
        &format!("{host}/team/oci11"),
        &tagged,
        &key,
        d,
    );
    let unsigned = push_image(reg.port, "team/oci11", "unsigned");

    let with = |oci11: bool| {
        let extra = if oci11 {
            "      cosignOCI11: true\n"
        } else {
            ""
        };
        let mut set = policy(&host, &pem, extra);
        set.image_verifier = Some(verifier());
        set
    };
    let status = |set: &PolicySet, tag: &str| {
        let r = run(set, &pod(&[&format!("{host}/team/oci11:{tag}")]));
        assert_eq!(r.len(), 1, "{r:?}");
        (r[0].0, r[0].1.clone())
    };
    let set = with(true);
    assert_eq!(status(&set, "referred").0, Status::Pass);
    assert_eq!(status(&set, "tagged").0, Status::Pass);
    let (st, why) = status(&set, "last-other");
    assert_eq!(st, Status::Fail, "{why}");
    assert!(
        why.ends_with("signature 1: the signature does not verify with the key publicKeys[0]"),
        "{why}"
    );
    let (st, why) = status(&set, "unsigned");
    assert_eq!(st, Status::Fail, "{why}");
    assert!(
        why.contains(&format!(
            "no signatures found (no {}.sig manifest) and no referrer of artifact type application/vnd.dev.cosign.artifact.sig.v1+json",
            unsigned.replacen(':', "-", 1)
        )),
        "{why}"
    );
    // without cosignOCI11 a referrer is no signature, as for cosign without the flag
    let set = with(false);
    assert_eq!(status(&set, "referred").0, Status::Fail);
    assert_eq!(status(&set, "tagged").0, Status::Pass);
}

#[test]
fn sigstore_bundle_rules_verify_bundles_attached_as_referrers() {
    let Some(reg) = start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (p, host) = (reg.port, format!("127.0.0.1:{}", reg.port));
    let (key, pem) = keypair(d, "team");
    let (other_key, _) = keypair(d, "other");
    let material = json!({"publicKey": {"hint": "team"}, "tlogEntries": []});
    let provenance = |digest: &str, builder: &str| {
        serde_json::to_vec(&json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "app", "digest": {"sha256": digest.trim_start_matches("sha256:")}}],
            "predicateType": "https://slsa.dev/provenance/v1",
            "predicate": {"builder": {"id": builder}}
        }))
        .unwrap()
    };
    // signed (cosign 3's statement) with the team's key, and with SLSA provenance
    let signed = push_image(p, "team/bundled", "v1");
    let (sig, _) = harness::dsse_bundle(
        d,
        &key,
        &harness::in_toto_statement(&signed, "https://sigstore.dev/cosign/sign/v1"),
        material.clone(),
    );
    let (att, _) = harness::dsse_bundle(d, &key, &provenance(&signed, "ci"), material.clone());
    harness::attach_bundles(p, "team/bundled", &signed, &[sig, att], &[]);
    // signed by another key
    let foreign = push_image(p, "team/bundled", "foreign");
    let (sig, _) = harness::dsse_bundle(
        d,
        &other_key,
        &harness::in_toto_statement(&foreign, "https://sigstore.dev/cosign/sign/v1"),
        material.clone(),
    );
    harness::attach_bundles(p, "team/bundled", &foreign, &[sig], &[]);
    push_image(p, "team/bundled", "unsigned");

    let entry = |ignore: bool| {
        let flags = if ignore {
            "            rekor: {ignoreTlog: true}\n            ctlog: {ignoreSCT: true}\n"
        } else {
            ""
        };
        format!(
            "        - keys:\n            publicKeys: |-\n{}{flags}",
            indent(&pem, 14)
        )
    };
    let set = |ignore: bool, extra: &str| {
        let mut set = policy_with(
            &host,
            &entry(ignore),
            &format!("      type: SigstoreBundle\n{extra}"),
        );
        set.image_verifier = Some(verifier());
        set
    };
    let one = |set: &PolicySet, tag: &str| {
        let r = run(set, &pod(&[&format!("{host}/team/bundled:{tag}")]));
        assert_eq!(r.len(), 1, "{r:?}");
        (r[0].0, r[0].1.clone())
    };
    let plain = set(true, "");
    let (st, msg) = one(&plain, "v1");
    assert_eq!(st, Status::Pass, "{msg}");
    let (st, msg) = one(&plain, "foreign");
    assert_eq!(st, Status::Fail, "{msg}");
    assert!(
        msg.contains("sigstore bundle verification failed: no matching signatures found")
            && msg.contains("bundle 1: "),
        "{msg}"
    );
    let (st, msg) = one(&plain, "unsigned");
    assert_eq!(st, Status::Fail, "{msg}");
    assert!(
        msg.contains("no Sigstore bundle among the image's referrers"),
        "{msg}"
    );
    // without ignoring the log and SCTs Kyverno asks the public instance: an error here
    let (st, msg) = one(&set(false, ""), "v1");
    assert_eq!(st, Status::Error, "{msg}");
    assert!(
        msg.contains("set rekor.ignoreTlog and ctlog.ignoreSCT"),
        "{msg}"
    );
    // attestations: the bundles of the predicate type, their conditions
    let attestations = |builder: &str| {
        format!(
            "      attestations:\n      - type: https://slsa.dev/provenance/v1\n        attestors:\n        - entries:\n{}        conditions:\n        - all:\n          - key: \"{{{{ builder.id }}}}\"\n            operator: Equals\n            value: {builder}\n",
            indent(&entry(true), 4)
        )
    };
    let (st, msg) = one(&set(true, &attestations("ci")), "v1");
    assert_eq!(st, Status::Pass, "{msg}");
    let (st, msg) = one(&set(true, &attestations("release")), "v1");
    assert_eq!(st, Status::Fail, "{msg}");
    assert!(
        msg.contains("attestation checks failed for")
            && msg.contains("predicate https://slsa.dev/provenance/v1"),
        "{msg}"
    );
}
