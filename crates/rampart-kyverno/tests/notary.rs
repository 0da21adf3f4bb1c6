//! `verifyImages` rules of `type: Notary` against a real registry (Debian's `docker-registry`
//! on loopback): Notary Project JWS signatures made here with the `openssl` command line (a CA
//! and signing certificates it issues, ECDSA and RSA-PSS signatures), attached as OCI 1.1
//! referrers through the referrers tag schema, as `notation sign` attaches them.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use rampart_kyverno::{AdmissionInfo, PolicySet, Status};
use serde_json::{Value, json};

mod common;
use common::{indent, verifier};

#[path = "../../rampart-images/tests/harness/mod.rs"]
mod harness;
#[path = "../../rampart-images/tests/harness/notary.rs"]
mod notary_harness;
use notary_harness::*;

fn policy(host: &str, cert: &str, attestations: &str) -> PolicySet {
    let text = format!(
        r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {{name: notary}}
spec:
  validationFailureAction: Enforce
  rules:
  - name: verify
    match: {{any: [{{resources: {{kinds: [Pod]}}}}]}}
    verifyImages:
    - type: Notary
      imageReferences: ["{host}/team/*"]
      attestors:
      - entries:
        - certificates:
            cert: |-
{}{attestations}"#,
        indent(cert, 14)
    );
    let (mut set, errors) = PolicySet::from_str("p.yaml", &text);
    assert!(errors.is_empty(), "{errors:?}\n{text}");
    set.image_verifier = Some(verifier());
    set
}

fn run(set: &PolicySet, image: &str) -> (Status, String, Option<Value>) {
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "apps"},
        "spec": {"containers": [{"name": "c", "image": image}]}});
    let r = set.evaluate(&pod, &AdmissionInfo::default());
    assert_eq!(r.len(), 1, "{r:?}");
    (r[0].status, r[0].message.clone(), r[0].patched.clone())
}

/// The registry, a trusted root CA and another, a signing certificate from each, and the
/// `team/app` repository's referrers.
struct Setup {
    reg: harness::Registry,
    dir: tempfile::TempDir,
    root: Pki,
    other_root: Pki,
    ec: Pki,
    untrusted: Pki,
    refs: Referrers,
}

fn setup() -> Option<Setup> {
    let reg = harness::start("")?;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let root = ca(d, "root");
    let other_root = ca(d, "other-root");
    let ec = leaf(d, "ec", &root, EC, "digitalSignature");
    let untrusted = leaf(d, "untrusted", &other_root, EC, "digitalSignature");
    let refs = Referrers {
        port: reg.port,
        repo: "team/app".into(),
        by_subject: Default::default(),
    };
    Some(Setup {
        reg,
        dir,
        root,
        other_root,
        ec,
        untrusted,
        refs,
    })
}

#[test]
fn notary_signatures_verify_with_the_trusted_certificates() {
    let Some(Setup {
        reg: _reg,
        dir,
        root,
        other_root,
        ec,
        untrusted,
        mut refs,
    }) = setup()
    else {
        return;
    };
    let d = dir.path();
    let (p, host) = (refs.port, format!("127.0.0.1:{}", refs.port));
    let rsa = leaf(d, "rsa", &root, RSA, "digitalSignature");
    let no_signing = leaf(d, "no-signing", &root, EC, "keyEncipherment");
    let image = |tag: &str| {
        harness::push_image(p, "team/app", tag, tag);
        (
            format!("{host}/team/app:{tag}"),
            descriptor(p, "team/app", tag),
        )
    };
    let mut cases: Vec<(String, Result<(), String>)> = Vec::new();
    let mut case =
        |refs: &mut Referrers, tag: &str, signings: Vec<Signing<'_>>, want: Result<(), &str>| {
            let (name, target) = image(tag);
            for s in &signings {
                refs.sign(d, &target, s);
            }
            cases.push((name, want.map_err(str::to_string)));
        };
    case(
        &mut refs,
        "ec",
        vec![Signing::new(&ec, vec![&root], EC)],
        Ok(()),
    );
    case(
        &mut refs,
        "rsa",
        vec![Signing::new(&rsa, vec![&root], RSA)],
        Ok(()),
    );
    // a bad signature first, then a good one: the second verifies
    let mut bad = Signing::new(&ec, vec![&root], EC);
    bad.tamper = true;
    case(
        &mut refs,
        "second",
        vec![bad, Signing::new(&ec, vec![&root], EC)],
        Ok(()),
    );
    case(
        &mut refs,
        "unsigned",
        vec![],
        Err("no signature is associated with"),
    );
    let mut tampered = Signing::new(&ec, vec![&root], EC);
    tampered.tamper = true;
    case(
        &mut refs,
        "tampered",
        vec![tampered],
        Err("signature 1: the signature does not verify with the signing certificate's key"),
    );
    case(
        &mut refs,
        "untrusted",
        vec![Signing::new(&untrusted, vec![&other_root], EC)],
        Err("contains no trusted certificate"),
    );
    // the trusted root in the chain, but not the signing certificate's issuer
    case(
        &mut refs,
        "smuggled",
        vec![Signing::new(&untrusted, vec![&root, &other_root], EC)],
        Err("does not chain to the trusted certificate at the signing time"),
    );
    case(
        &mut refs,
        "key-usage",
        vec![Signing::new(&no_signing, vec![&root], EC)],
        Err("key usage does not allow digital signatures"),
    );
    let mut other_target = Signing::new(&ec, vec![&root], EC);
    other_target.target = Some(
        json!({"mediaType": MANIFEST_TYPE, "digest": format!("sha256:{}", "0".repeat(64)), "size": 10}),
    );
    case(
        &mut refs,
        "other-target",
        vec![other_target],
        Err("the signature is for sha256:0000"),
    );
    let mut alg = Signing::new(&rsa, vec![&root], RSA);
    alg.alg = Some("PS384");
    case(
        &mut refs,
        "alg",
        vec![alg],
        Err(
            "mismatch between signature algorithm derived from signing certificate (PS256) and signing algorithm specified (PS384)",
        ),
    );
    let mut expired = Signing::new(&ec, vec![&root], EC);
    expired.critical = vec![("io.cncf.notary.expiry", json!("2021-01-01T00:00:00Z"))];
    case(
        &mut refs,
        "expired",
        vec![expired],
        Err("digital signature has expired on 2021-01-01T00:00:00Z"),
    );
    let mut unknown = Signing::new(&ec, vec![&root], EC);
    unknown.critical = vec![("io.example.policy", json!("x"))];
    case(
        &mut refs,
        "unknown-critical",
        vec![unknown],
        Err("critical header \"io.example.policy\" is not known"),
    );
    // COSE envelopes: ECDSA and RSA-PSS, and the same checks
    let cose = |signer, chain, kind| {
        let mut s = Signing::new(signer, chain, kind);
        s.envelope_type = "application/cose";
        s
    };
    case(
        &mut refs,
        "cose-ec",
        vec![cose(&ec, vec![&root], EC)],
        Ok(()),
    );
    case(
        &mut refs,
        "cose-rsa",
        vec![cose(&rsa, vec![&root], RSA)],
        Ok(()),
    );
    let mut tampered = cose(&ec, vec![&root], EC);
    tampered.tamper = true;
    case(
        &mut refs,
        "cose-tampered",
        vec![tampered],
        Err("signature 1: the signature does not verify with the signing certificate's key"),
    );
    case(
        &mut refs,
        "cose-untrusted",
        vec![cose(&untrusted, vec![&other_root], EC)],
        Err("contains no trusted certificate"),
    );
    let mut expired = cose(&ec, vec![&root], EC);
    expired.critical = vec![("io.cncf.notary.expiry", json!("2021-01-01T00:00:00Z"))];
    case(
        &mut refs,
        "cose-expired",
        vec![expired],
        Err("digital signature has expired on 2021-01-01T00:00:00Z"),
    );
    let mut other = Signing::new(&ec, vec![&root], EC);
    other.envelope_type = "application/pkcs7";
    case(
        &mut refs,
        "pkcs7",
        vec![other],
        Err("signature envelope type \"application/pkcs7\" is not supported"),
    );

    let set = policy(&host, &root.pem(), "");
    for (image, want) in &cases {
        let (status, message, patched) = run(&set, image);
        match want {
            Ok(()) => {
                assert_eq!(status, Status::Pass, "{image}: {message}");
                assert_eq!(message, format!("verified image signatures for {image}"));
                assert!(patched.is_some(), "{image}: the digest is pinned");
            }
            Err(why) => {
                assert_eq!(status, Status::Fail, "{image}: {message}");
                assert!(
                    message.starts_with(&format!(
                        "failed to verify image {image}: .attestors[0].entries[0]"
                    )),
                    "{image}: {message}"
                );
                assert!(
                    message.contains(why.as_str()),
                    "{image}: {message}\nwanted: {why}"
                );
            }
        }
    }
    // the signing certificate itself trusted
    let set = policy(&host, &ec.pem(), "");
    assert_eq!(run(&set, &format!("{host}/team/app:ec")).0, Status::Pass);
    // another trust store
    let set = policy(&host, &other_root.pem(), "");
    assert_eq!(run(&set, &format!("{host}/team/app:ec")).0, Status::Fail);
}

#[test]
fn notary_attestations_are_referrers_of_their_type_signed_by_a_trusted_certificate() {
    let Some(Setup {
        reg: _reg,
        dir,
        root,
        other_root,
        ec,
        untrusted,
        mut refs,
    }) = setup()
    else {
        return;
    };
    let d = dir.path();
    let (p, host) = (refs.port, format!("127.0.0.1:{}", refs.port));
    let sbom = br#"{"bomFormat": "CycloneDX", "specVersion": "1.5", "components": [{"name": "openssl", "licenses": [{"license": {"id": "Apache-2.0"}}]}]}"#;
    // the image signed; its SBOM attached and signed by the trusted signer
    let image = |refs: &mut Referrers, tag: &str, sbom_signer: Option<&Pki>| {
        harness::push_image(p, "team/app", tag, tag);
        let target = descriptor(p, "team/app", tag);
        refs.sign(d, &target, &Signing::new(&ec, vec![&root], EC));
        let mut att = refs.attach(
            &target,
            "application/vnd.cyclonedx+json",
            "application/vnd.cyclonedx+json",
            sbom,
        );
        att.as_object_mut().unwrap().remove("artifactType");
        if let Some(signer) = sbom_signer {
            let chain = if std::ptr::eq(signer, &untrusted) {
                &other_root
            } else {
                &root
            };
            refs.sign(d, &att, &Signing::new(signer, vec![chain], EC));
        }
        format!("{host}/team/app:{tag}")
    };
    let signed = image(&mut refs, "signed", Some(&ec));
    let foreign = image(&mut refs, "foreign", Some(&untrusted));
    let bare = image(&mut refs, "bare", None);
    let attestations = |condition: &str| {
        format!(
            "      attestations:\n      - type: application/vnd.cyclonedx+json\n        attestors:\n        - entries:\n          - certificates:\n              cert: |-\n{}        conditions:\n        - all:\n          - key: \"{condition}\"\n            operator: Equals\n            value: CycloneDX\n",
            indent(&root.pem(), 16)
        )
    };
    let set = policy(&host, &root.pem(), &attestations("{{ bomFormat }}"));
    let (status, message, _) = run(&set, &signed);
    assert_eq!(status, Status::Pass, "{message}");
    let (status, message, _) = run(&set, &foreign);
    assert_eq!(status, Status::Fail, "{message}");
    assert!(
        message.contains("contains no trusted certificate"),
        "{message}"
    );
    let (status, message, _) = run(&set, &bare);
    assert_eq!(status, Status::Fail, "{message}");
    assert!(
        message.contains("no signature is associated with"),
        "{message}"
    );
    // the conditions read the predicate
    let set = policy(&host, &root.pem(), &attestations("{{ specVersion }}"));
    let (status, message, _) = run(&set, &signed);
    assert_eq!(status, Status::Fail, "{message}");
    assert!(
        message.contains("attestation checks failed for")
            && message.contains("and predicate application/vnd.cyclonedx+json"),
        "{message}"
    );
    // another type: none found
    let set = policy(
        &host,
        &root.pem(),
        &attestations("{{ bomFormat }}").replace(
            "type: application/vnd.cyclonedx+json",
            "type: application/spdx+json",
        ),
    );
    let (status, message, _) = run(&set, &signed);
    assert_eq!(status, Status::Fail, "{message}");
    assert!(
        message.contains("no matching attestations found for image")
            && message.contains("with type application/spdx+json"),
        "{message}"
    );
}
