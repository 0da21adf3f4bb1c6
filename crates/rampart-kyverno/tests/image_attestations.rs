//! `verifyImages` attestations, certificate attestors and the flags around them, against a
//! real registry (the images crate's harness: `docker-registry` on loopback). Signatures and
//! DSSE attestation envelopes are made by the `openssl` command line in cosign's storage
//! format; certificates by rcgen. The cases are the documents of `tests/images/*.yaml`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use base64::Engine as _;
use rampart_images::registry::{ClientOptions, sha256_digest};
use rampart_kyverno::images::Verifier;
use rampart_kyverno::registry::RegistryVerifier;
use rampart_kyverno::{AdmissionInfo, PolicySet, Status};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

#[path = "../../rampart-images/tests/harness/mod.rs"]
mod harness;
use harness::{
    P256, SHA256, keypair, push_blob, push_manifest, push_signatures, rekor_entry, sign,
};

const REPO: &str = "team/app";

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// An in-toto statement about `digest` with this predicate, as cosign attests it.
fn statement(host: &str, digest: &str, predicate_type: &str, predicate: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": predicate_type,
        "subject": [{"name": format!("{host}/{REPO}"),
                     "digest": {"sha256": digest.trim_start_matches("sha256:")}}],
        "predicate": predicate,
    }))
    .unwrap()
}

/// Pushes the `.att` manifest for `digest`: one DSSE envelope per statement, each signed (over
/// DSSE's pre-authentication encoding) by openssl with its key.
fn push_attestations(port: u16, digest: &str, dir: &Path, atts: &[(Vec<u8>, &Path)]) {
    harness::push_dsse_attestations(port, REPO, digest, dir, atts);
}

/// A keyless attestation as cosign stores it: the DSSE envelope signed with the key of a
/// Fulcio-style certificate, the certificate, its chain and the Rekor bundle (an `intoto`
/// v0.0.2 entry recording the envelope's hash, countersigned by the log key) as annotations.
/// `logged_envelope` is what the log recorded (the envelope itself, or another to tamper).
#[allow(clippy::too_many_arguments)]
fn push_keyless_attestation(
    port: u16,
    digest: &str,
    dir: &Path,
    statement: &[u8],
    (leaf_pem, leaf_key): (&str, &Path),
    chain_pem: &str,
    (rekor_key, log_id): (&Path, &str),
    tamper: bool,
) {
    let kind = "application/vnd.in-toto+json";
    let mut pae = format!("DSSEv1 {} {kind} {} ", kind.len(), statement.len()).into_bytes();
    pae.extend_from_slice(statement);
    let sig = sign(dir, leaf_key, &pae, SHA256);
    let envelope = serde_json::to_vec(&json!({
        "payloadType": kind, "payload": b64(statement),
        "signatures": [{"keyid": "", "sig": b64(&sig)}],
    }))
    .unwrap();
    let logged = if tamper {
        [&envelope[..], b" "].concat()
    } else {
        envelope.clone()
    };
    let hex = |b: &[u8]| sha256_digest(b).trim_start_matches("sha256:").to_string();
    let body = json!({"apiVersion": "0.0.2", "kind": "intoto", "spec": {"content": {
        "envelope": {"payloadType": kind,
                     "signatures": [{"sig": b64(b64(&sig).as_bytes()), "publicKey": b64(leaf_pem.as_bytes())}]},
        "hash": {"algorithm": "sha256", "value": hex(&logged)},
        "payloadHash": {"algorithm": "sha256", "value": hex(statement)}}}});
    let integrated = 1_577_880_000u64; // 2020-01-01T12:00:00Z
    let (body_b64, set) = rekor_entry(dir, rekor_key, log_id, &body, integrated, 7);
    let bundle = json!({"SignedEntryTimestamp": b64(&set),
        "Payload": {"body": body_b64, "integratedTime": integrated, "logIndex": 7, "logID": log_id}});
    let config =
        br#"{"architecture":"","os":"","config":{},"rootfs":{"type":"layers","diff_ids":[]}}"#;
    let cd = push_blob(port, REPO, config);
    let layer = json!({
        "mediaType": "application/vnd.dsse.envelope.v1+json",
        "digest": push_blob(port, REPO, &envelope),
        "size": envelope.len(),
        "annotations": {
            "dev.cosignproject.cosign/signature": "",
            "dev.sigstore.cosign/certificate": leaf_pem,
            "dev.sigstore.cosign/chain": chain_pem,
            "dev.sigstore.cosign/bundle": bundle.to_string(),
            "predicateType": "https://slsa.dev/provenance/v0.2",
        },
    });
    push_manifest(
        port,
        REPO,
        &format!("{}.att", digest.replacen(':', "-", 1)),
        &json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": config.len()},
            "layers": [layer],
        }),
    );
}

/// A Fulcio-style certificate for `dev@acme.example` from `https://issuer.example`, issued by
/// the CA and valid on 2020-01-01: (its PEM, the path of its key).
fn fulcio_leaf(
    dir: &Path,
    issuer: &(rcgen::CertificateParams, rcgen::KeyPair, rcgen::Certificate),
) -> (String, std::path::PathBuf) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut p = rcgen::CertificateParams::default();
    p.subject_alt_names = vec![rcgen::SanType::Rfc822Name(
        "dev@acme.example".try_into().unwrap(),
    )];
    p.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::CodeSigning];
    p.custom_extensions = vec![rcgen::CustomExtension::from_oid_content(
        &[1, 3, 6, 1, 4, 1, 57264, 1, 1],
        b"https://issuer.example".to_vec(),
    )];
    p.not_before = rcgen::date_time_ymd(2020, 1, 1);
    p.not_after = rcgen::date_time_ymd(2020, 1, 2);
    let cert = p
        .signed_by(&key, &rcgen::Issuer::from_params(&issuer.0, &issuer.1))
        .unwrap();
    let path = dir.join("fulcio-leaf.key");
    std::fs::write(&path, key.serialize_pem()).unwrap();
    (cert.pem(), path)
}

/// A CA made by rcgen: (params, key, certificate).
fn ca(name: &str) -> (rcgen::CertificateParams, rcgen::KeyPair, rcgen::Certificate) {
    let mut p = rcgen::CertificateParams::default();
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    p.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    p.distinguished_name.push(rcgen::DnType::CommonName, name);
    p.not_before = rcgen::date_time_ymd(2020, 1, 1);
    p.not_after = rcgen::date_time_ymd(2040, 1, 1);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = p.self_signed(&key).unwrap();
    (p, key, cert)
}

/// A code-signing certificate issued by the CA, valid from `from` for `years` (1 day when 0):
/// (its PEM, the path of its PKCS#8 key).
fn leaf(
    dir: &Path,
    name: &str,
    issuer: &(rcgen::CertificateParams, rcgen::KeyPair, rcgen::Certificate),
    from: i32,
    years: i32,
) -> (String, std::path::PathBuf) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut p = rcgen::CertificateParams::default();
    p.distinguished_name.push(rcgen::DnType::CommonName, name);
    p.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::CodeSigning];
    p.not_before = rcgen::date_time_ymd(from, 1, 1);
    p.not_after = if years == 0 {
        rcgen::date_time_ymd(from, 1, 2)
    } else {
        rcgen::date_time_ymd(from + years, 1, 1)
    };
    let cert = p
        .signed_by(&key, &rcgen::Issuer::from_params(&issuer.0, &issuer.1))
        .unwrap();
    let path = dir.join(format!("{name}.key"));
    std::fs::write(&path, key.serialize_pem()).unwrap();
    (cert.pem(), path)
}

/// Replaces the placeholders of a case's strings.
fn fill(v: &mut Value, vars: &HashMap<&str, String>) {
    match v {
        Value::String(s) => {
            if let Some(x) = vars.get(s.as_str()) {
                *s = x.clone();
            } else {
                for (k, x) in vars {
                    if k.starts_with('$') && !x.contains('\n') {
                        *s = s.replace(k, x);
                    }
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| fill(x, vars)),
        Value::Object(o) => o.values_mut().for_each(|x| fill(x, vars)),
        _ => {}
    }
}

#[test]
fn attestation_and_certificate_cases() {
    let Some(reg) = harness::start("") else {
        return;
    };
    let port = reg.port;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let host = format!("127.0.0.1:{port}");
    let (team_key, team_pub) = keypair(d, "team", P256);
    let (other_key, other_pub) = keypair(d, "other", P256);
    let (test_ca, other_ca) = (ca("test CA"), ca("other CA"));
    let (cert, cert_key) = leaf(d, "signer", &test_ca, 2021, 0);
    let (other_cert, _) = leaf(d, "stranger", &other_ca, 2021, 0);
    let (current, current_key) = leaf(d, "current", &test_ca, 2020, 20);

    let mut digests = HashMap::new();
    for tag in [
        "v1",
        "bare",
        "foreign",
        "certsigned",
        "certattached",
        "certexpired",
        "keyless",
        "kltampered",
    ] {
        digests.insert(tag, harness::push_image(port, REPO, tag, tag));
    }
    let signed = |tag: &str, key: &Path| {
        let digest = &digests[tag];
        let payload = harness::payload(&format!("{host}/{REPO}"), digest);
        let sig = sign(d, key, &payload, SHA256);
        push_signatures(port, REPO, digest, &[(payload, sig)]);
    };
    signed("v1", &team_key);
    // signatures that carry their certificate, as cosign attaches it
    let attached = |tag: &str, key: &Path, cert: &str| {
        let digest = &digests[tag];
        let payload = harness::payload(&format!("{host}/{REPO}"), digest);
        let sig = sign(d, key, &payload, SHA256);
        let mut annotations = serde_json::Map::new();
        annotations.insert("dev.sigstore.cosign/certificate".into(), json!(cert));
        harness::push_signature_layers(port, REPO, digest, &[(payload, sig, annotations)]);
    };
    attached("certattached", &current_key, &current);
    // signatures and an attestation of v1 kept in another repository, by the other key
    {
        let digest = &digests["v1"];
        let payload = harness::payload(&format!("{host}/{REPO}"), digest);
        let sig = sign(d, &other_key, &payload, SHA256);
        push_signatures(port, "team/sigs", digest, &[(payload, sig)]);
        harness::push_dsse_attestations(
            port,
            "team/sigs",
            digest,
            d,
            &[(
                statement(
                    &host,
                    digest,
                    "https://example.com/elsewhere/v1",
                    json!({"kept": "apart"}),
                ),
                &other_key,
            )],
        );
    }
    attached("certexpired", &cert_key, &cert);
    signed("certsigned", &cert_key);
    let slsa = |digest: &str| {
        statement(
            &host,
            digest,
            "https://slsa.dev/provenance/v0.2",
            json!({"builder": {"id": "https://github.com/acme/builder"},
                   "buildType": "https://acme.example/build/v1"}),
        )
    };
    push_attestations(
        port,
        &digests["v1"],
        d,
        &[
            (slsa(&digests["v1"]), &team_key),
            (
                statement(
                    &host,
                    &digests["v1"],
                    "https://cosign.sigstore.dev/attestation/v1",
                    json!({"Data": "{\"reviewed\": true}", "Timestamp": "2026-01-01T00:00:00Z"}),
                ),
                &team_key,
            ),
            (
                statement(
                    &host,
                    &digests["v1"],
                    "https://example.com/scan/v1",
                    json!({"result": "FAILED"}),
                ),
                &other_key,
            ),
        ],
    );
    push_attestations(
        port,
        &digests["foreign"],
        d,
        &[(slsa(&digests["foreign"]), &other_key)],
    );
    push_attestations(
        port,
        &digests["certsigned"],
        d,
        &[(slsa(&digests["certsigned"]), &cert_key)],
    );

    // keyless attestations: a Fulcio-style CA, a Rekor log key (its log id the SHA-256 of its
    // DER), and one attestation logged as it is, one logged with another envelope's hash
    let fulcio = ca("test fulcio");
    let (fulcio_leaf_pem, fulcio_leaf_key) = fulcio_leaf(d, &fulcio);
    let (rekor_key, rekor_pub) = keypair(d, "rekor", P256);
    let rekor_der = d.join("rekor.der");
    harness::openssl(&[
        "pkey",
        "-pubin",
        "-in",
        rekor_pub.to_str().unwrap(),
        "-outform",
        "DER",
        "-out",
        rekor_der.to_str().unwrap(),
    ]);
    let log_id = sha256_digest(&std::fs::read(&rekor_der).unwrap())
        .trim_start_matches("sha256:")
        .to_string();
    for (tag, tamper) in [("keyless", false), ("kltampered", true)] {
        push_keyless_attestation(
            port,
            &digests[tag],
            d,
            &slsa(&digests[tag]),
            (&fulcio_leaf_pem, &fulcio_leaf_key),
            &fulcio.2.pem(),
            (&rekor_key, &log_id),
            tamper,
        );
    }
    let verifier = Verifier::new(
        RegistryVerifier::new(ClientOptions {
            insecure: true,
            timeout: Duration::from_secs(10),
            ..ClientOptions::default()
        })
        .unwrap(),
    );
    let mut vars: HashMap<&str, String> = HashMap::new();
    vars.insert("$TEAM_KEY", std::fs::read_to_string(team_pub).unwrap());
    vars.insert("$OTHER_KEY", std::fs::read_to_string(other_pub).unwrap());
    vars.insert("$CERT", cert);
    vars.insert("$OTHER_CERT", other_cert);
    vars.insert("$CA", test_ca.2.pem());
    vars.insert("$OTHER_CA", other_ca.2.pem());
    vars.insert("$HOST", host.clone());
    vars.insert("$FULCIO", fulcio.2.pem());
    vars.insert("$REKOR_KEY", std::fs::read_to_string(&rekor_pub).unwrap());
    vars.insert(
        "$BOTH_KEYS",
        format!(
            "{}\n{}",
            vars["$TEAM_KEY"].trim(),
            vars["$OTHER_KEY"].trim()
        ),
    );

    let dir_cases = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/images");
    let mut ran = 0;
    for entry in std::fs::read_dir(&dir_cases).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let (docs, errs) = rampart_manifest::parse_yaml(&path.display().to_string(), &text);
        assert!(errs.is_empty(), "{errs:?}");
        for doc in docs {
            let case = doc.value;
            let note = case["note"].as_str().unwrap().to_string();
            let tag = case["image"].as_str().unwrap();
            let digest = &digests[tag];
            let image = format!("{host}/{REPO}:{tag}");
            let mut vars = vars.clone();
            vars.insert("$IMAGE", image.clone());
            vars.insert("$DIGEST", digest.clone());
            vars.insert("$ATT_TAG", format!("{}.att", digest.replacen(':', "-", 1)));
            vars.insert("$SIG_TAG", digest.replacen(':', "-", 1));
            let mut entry = case["verifyImage"].clone();
            fill(&mut entry, &vars);
            entry["imageReferences"] = json!([format!("{host}/{REPO}:*")]);
            // the resource: a Pod running the image, or the case's own (`resource`, its
            // `imageExtractors` in the rule)
            let mut resource = case["resource"].clone();
            fill(&mut resource, &vars);
            let pod = if resource.is_null() {
                json!({"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": "p", "namespace": "apps"},
                    "spec": {"containers": [{"name": "c", "image": image}]}})
            } else {
                resource
            };
            let mut rule = json!({
                "name": "verify",
                "match": {"any": [{"resources": {"kinds": [pod["kind"].clone()]}}]},
                "verifyImages": [entry]});
            if !case["imageExtractors"].is_null() {
                rule["imageExtractors"] = case["imageExtractors"].clone();
            }
            let policy = json!({
                "apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy",
                "metadata": {"name": "images"},
                "spec": {"validationFailureAction": "Enforce", "rules": [rule]}
            });
            let (mut set, errors) = PolicySet::from_str("p.yaml", &policy.to_string());
            assert!(errors.is_empty(), "{note}: {errors:?}");
            set.image_verifier = Some(verifier.clone());
            let r = set.evaluate(&pod, &AdmissionInfo::default());
            assert_eq!(r.len(), 1, "{note}: {r:?}");
            let want_status = match case["status"].as_str().unwrap() {
                "pass" => Status::Pass,
                "fail" => Status::Fail,
                "error" => Status::Error,
                s => panic!("{note}: unknown status {s}"),
            };
            // `message` is exact; `contains`, for a message with parts the test does not fix
            if let Some(part) = case["contains"].as_str() {
                assert_eq!(r[0].status, want_status, "{note}: {r:?}");
                assert!(r[0].message.contains(part), "{note}: {r:?}");
            } else {
                let mut want = case["message"].clone();
                fill(&mut want, &vars);
                assert_eq!(
                    (r[0].status, r[0].message.as_str()),
                    (want_status, want.as_str().unwrap()),
                    "{note}"
                );
            }
            let at = case["pinnedAt"]
                .as_str()
                .unwrap_or("/spec/containers/0/image");
            let pinned = r[0].patched.as_ref().and_then(|p| p.pointer(at).cloned());
            if case["pinned"] == json!(true) {
                assert_eq!(pinned, Some(json!(format!("{image}@{digest}"))), "{note}");
            } else if want_status != Status::Pass {
                assert_eq!(pinned, None, "{note}");
            }
            ran += 1;
        }
    }
    assert!(ran >= 20, "ran {ran} cases");
}

/// Offline (`policy test`): attestations need the registry, an error per rule as for
/// signatures.
#[test]
fn attestations_offline_are_an_error() {
    let text = r#"
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: images}
spec:
  validationFailureAction: Enforce
  rules:
  - name: verify
    match: {any: [{resources: {kinds: [Pod]}}]}
    verifyImages:
    - imageReferences: ["ghcr.io/acme/*"]
      attestations:
      - type: https://slsa.dev/provenance/v0.2
        attestors:
        - entries:
          - keys: {publicKeys: "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----"}
        conditions:
        - all:
          - {key: "{{ builder.id }}", operator: Equals, value: x}
"#;
    let (set, errors) = PolicySet::from_str("p.yaml", text);
    assert!(errors.is_empty(), "{errors:?}");
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "a"},
        "spec": {"containers": [{"name": "c", "image": "ghcr.io/acme/app:v1"}]}});
    let r = set.evaluate(&pod, &AdmissionInfo::default());
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0].status, Status::Error, "{r:?}");
    assert!(
        r[0].message
            .starts_with("failed to verify image ghcr.io/acme/app:v1: no registry access"),
        "{r:?}"
    );
}

/// Kyverno refuses a policy whose audited `verifyImages` would mutate digests (`mutateDigest`
/// is on by default, `validationFailureAction` is `Audit` by default), or that names no image.
#[test]
fn policies_that_kyverno_refuses_do_not_load() {
    let policy = |spec: &str, entry: &str| {
        format!(
            "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {{name: images}}\nspec:\n{spec}  rules:\n  - name: verify\n    match: {{any: [{{resources: {{kinds: [Pod]}}}}]}}\n    verifyImages:\n    - {entry}\n"
        )
    };
    let refs = "imageReferences: [\"ghcr.io/*\"]";
    for (spec, entry, want) in [
        (
            "",
            refs.to_string(),
            Some((
                9,
                "mutateDigest must be set to false for ‘Audit’ failure action",
            )),
        ),
        (
            "  validationFailureAction: Audit\n",
            refs.to_string(),
            Some((
                10,
                "mutateDigest must be set to false for ‘Audit’ failure action",
            )),
        ),
        ("", format!("{refs}\n      mutateDigest: false"), None),
        ("", format!("{refs}\n      failureAction: Enforce"), None),
        (
            "  validationFailureAction: Enforce\n",
            refs.to_string(),
            None,
        ),
        (
            "  validationFailureAction: Enforce\n",
            format!("{refs}\n      failureAction: Audit"),
            Some((
                10,
                "mutateDigest must be set to false for ‘Audit’ failure action",
            )),
        ),
        (
            "  validationFailureAction: Enforce\n",
            "mutateDigest: true".to_string(),
            Some((10, "An image reference is required")),
        ),
    ] {
        let text = policy(spec, &entry);
        let (_, errors) = PolicySet::from_str("p.yaml", &text);
        let got: Vec<(u32, String)> = errors
            .iter()
            .map(|e| match e {
                rampart_kyverno::KyvernoError::Policy { pos, .. } => {
                    (pos.line, pos.message.clone())
                }
                other => panic!("{other:?}"),
            })
            .collect();
        let want: Vec<(u32, String)> = want
            .into_iter()
            .map(|(l, m)| (l, format!("policy `images`: {m}")))
            .collect();
        assert_eq!(got, want, "{text}");
    }
}

/// Kyverno refuses image extractors with a JMESPath in a rule that mutates digests.
#[test]
fn extractors_with_jmespath_and_mutate_digest_do_not_load() {
    let text = |mutate: &str| {
        format!(
            "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {{name: images}}\nspec:\n  validationFailureAction: Enforce\n  rules:\n  - name: verify\n    match: {{any: [{{resources: {{kinds: [Task]}}}}]}}\n    imageExtractors:\n      Task:\n      - {{path: /spec/steps/*/ref, jmesPath: \"trim_prefix(@, 'oci://')\"}}\n    verifyImages:\n    - imageReferences: [\"ghcr.io/*\"]\n{mutate}"
        )
    };
    let (_, errors) = PolicySet::from_str("p.yaml", &text(""));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].to_string().contains(
            "p.yaml:9:5: policy `images`: jmespath may not be used in an image extractor when mutating digests with verify images"
        ),
        "{}",
        errors[0]
    );
    let (_, errors) = PolicySet::from_str("p.yaml", &text("      mutateDigest: false\n"));
    assert!(errors.is_empty(), "{errors:?}");
}
