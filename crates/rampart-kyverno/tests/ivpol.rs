//! ImageValidatingPolicies against a real registry (Debian's `docker-registry` on loopback):
//! cosign signatures and in-toto attestations made by the `openssl` command line in cosign's
//! storage format, Notary signatures and an SBOM referrer made likewise, so the verifier is not
//! checked against itself.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use rampart_kyverno::{AdmissionInfo, PolicySet, RuleResult, Status};
use serde_json::{Value, json};

mod common;
use common::{indent, verifier};

#[path = "../../rampart-images/tests/harness/mod.rs"]
mod harness;
#[path = "../../rampart-images/tests/harness/notary.rs"]
mod notary_harness;

const VULNS: &str = "https://example.com/vulnerabilities/v1";

/// The cosign policy: signatures and a vulnerability attestation of `{host}/team/*`, with the
/// key `pem`; and a catch-all policy that verifies nothing itself, for `required`.
fn cosign_policies(host: &str, pem: &str) -> String {
    format!(
        r#"apiVersion: policies.kyverno.io/v1beta1
kind: ImageValidatingPolicy
metadata: {{name: team-images}}
spec:
  validationActions: [Deny]
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: [v1]
      operations: [CREATE]
      resources: [pods]
  matchConditions:
  - name: not-skipped
    expression: "!has(object.metadata.labels) || !('skip-verify' in object.metadata.labels)"
  matchImageReferences:
  - glob: "{host}/team/*"
  attestors:
  - name: team
    cosign:
      key:
        data: |
{key}
  attestations:
  - name: vulns
    intoto:
      type: {VULNS}
  validations:
  - expression: images.containers.map(i, verifyImageSignatures(i, [attestors.team])).all(n, n > 0)
    message: image signature verification failed
  - expression: images.containers.all(i, verifyAttestationSignatures(i, attestations.vulns, [attestors.team]) > 0)
    message: vulnerability attestation verification failed
  - expression: images.containers.all(i, extractPayload(i, attestations.vulns).predicate.critical == 0)
    messageExpression: "'critical vulnerabilities in ' + images.containers.join(', ')"
---
apiVersion: policies.kyverno.io/v1beta1
kind: ImageValidatingPolicy
metadata: {{name: everything-verified}}
spec:
  validationActions: [Deny]
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: [v1]
      operations: [CREATE]
      resources: [pods]
  matchImageReferences:
  - expression: ref.startsWith("{host}/")
  validations:
  - expression: "true"
"#,
        key = indent(pem, 10)
    )
}

fn pod(images: &[String], labels: Value) -> Value {
    let containers: Vec<Value> = images
        .iter()
        .enumerate()
        .map(|(i, im)| json!({"name": format!("c{i}"), "image": im}))
        .collect();
    json!({"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "p", "namespace": "apps", "labels": labels},
           "spec": {"containers": containers}})
}

fn by_policy(r: &[RuleResult], policy: &str) -> (Status, String) {
    let x = r
        .iter()
        .find(|x| x.policy == policy)
        .unwrap_or_else(|| panic!("no result for {policy}: {r:?}"));
    (x.status, x.message.clone())
}

#[test]
fn cosign_signatures_attestations_and_required() {
    let Some(reg) = harness::start("") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = reg.port;
    let host = format!("127.0.0.1:{p}");
    let (key, pubk) = harness::keypair(d, "team", harness::P256);
    let pem = std::fs::read_to_string(pubk).unwrap();
    let (other, _) = harness::keypair(d, "other", harness::P256);
    let statement = |digest: &str, critical: u32| {
        serde_json::to_vec(&json!({
            "_type": "https://in-toto.io/Statement/v0.1",
            "predicateType": VULNS,
            "subject": [{"name": format!("{host}/team/app"),
                         "digest": {"sha256": digest.trim_start_matches("sha256:")}}],
            "predicate": {"critical": critical},
        }))
        .unwrap()
    };
    // v1: signed, attested clean; v2: signed, attested with a critical finding;
    // unsigned; foreign: signed with another key
    let mut digests = std::collections::HashMap::new();
    for (tag, signer, critical) in [
        ("v1", Some(&key), Some(0)),
        ("v2", Some(&key), Some(2)),
        ("unsigned", None, None),
        ("foreign", Some(&other), Some(0)),
    ] {
        let digest = harness::push_image(p, "team/app", tag, tag);
        if let Some(k) = signer {
            let payload = harness::payload(&format!("{host}/team/app"), &digest);
            let sig = harness::sign(d, k, &payload, harness::SHA256);
            harness::push_signatures(p, "team/app", &digest, &[(payload, sig)]);
        }
        if let (Some(k), Some(c)) = (signer, critical) {
            harness::push_dsse_attestations(
                p,
                "team/app",
                &digest,
                d,
                &[(statement(&digest, c), k.as_path())],
            );
        }
        digests.insert(tag, format!("{host}/team/app@{digest}"));
    }
    let other_image = harness::push_image(p, "other/tool", "v1", "tool");
    let other_image = format!("{host}/other/tool@{other_image}");

    let (mut set, errors) = PolicySet::from_str("ivp.yaml", &cosign_policies(&host, &pem));
    assert!(errors.is_empty(), "{errors:?}");
    let run = |set: &PolicySet, images: &[String]| {
        set.evaluate(&pod(images, json!({})), &AdmissionInfo::default())
    };

    // offline: an error naming the missing registry access, not a pass
    let r = run(&set, &[digests["v1"].clone()]);
    let (st, msg) = by_policy(&r, "team-images");
    assert_eq!(st, Status::Error, "{r:?}");
    assert!(msg.contains("no registry access"), "{msg}");

    set.image_verifier = Some(verifier());
    // signed and attested clean: both policies pass (the catch-all sees the verification)
    let r = run(&set, &[digests["v1"].clone()]);
    assert_eq!(
        by_policy(&r, "team-images"),
        (Status::Pass, "success".into()),
        "{r:?}"
    );
    assert_eq!(
        by_policy(&r, "everything-verified").0,
        Status::Pass,
        "{r:?}"
    );
    // the attestation's predicate decides the third validation
    let r = run(&set, &[digests["v2"].clone()]);
    assert_eq!(
        by_policy(&r, "team-images"),
        (
            Status::Fail,
            format!("critical vulnerabilities in {}", digests["v2"])
        ),
        "{r:?}"
    );
    // unsigned, and signed with another key: the signature validation fails; the catch-all
    // fails `required` since the check failed
    for tag in ["unsigned", "foreign"] {
        let r = run(&set, &[digests[tag].clone()]);
        assert_eq!(
            by_policy(&r, "team-images"),
            (Status::Fail, "image signature verification failed".into()),
            "{tag}: {r:?}"
        );
        assert_eq!(
            by_policy(&r, "everything-verified"),
            (
                Status::Fail,
                format!(
                    "image {} failed signature or attestation verification",
                    digests[tag]
                )
            ),
            "{tag}: {r:?}"
        );
    }
    // an image no policy verifies: team-images passes (it selects none), the catch-all fails
    let r = run(&set, std::slice::from_ref(&other_image));
    assert_eq!(by_policy(&r, "team-images").0, Status::Pass, "{r:?}");
    assert_eq!(
        by_policy(&r, "everything-verified"),
        (
            Status::Fail,
            format!(
                "image {other_image} is not verified: no policy performed a signature or attestation check on it"
            )
        ),
        "{r:?}"
    );
    // a tag: verifyDigest fails it before any validation
    let tagged = format!("{host}/team/app:v1");
    let r = run(&set, std::slice::from_ref(&tagged));
    assert_eq!(
        by_policy(&r, "team-images"),
        (
            Status::Fail,
            format!("image {tagged} does not have a digest")
        ),
        "{r:?}"
    );
    // match conditions: a pod labelled skip-verify is not checked by team-images
    let r = set.evaluate(
        &pod(&[digests["v1"].clone()], json!({"skip-verify": "yes"})),
        &AdmissionInfo::default(),
    );
    assert!(r.iter().all(|x| x.policy != "team-images"), "{r:?}");
    // evaluated alone, `required` counts the policy's own verifications
    let catch_all = set
        .policies
        .iter()
        .find(|p| p.name == "everything-verified")
        .unwrap();
    let alone = catch_all.evaluate(
        &pod(&[digests["v1"].clone()], json!({})),
        &AdmissionInfo {
            image_verifier: Some(verifier()),
            ..AdmissionInfo::default()
        },
    );
    assert_eq!(alone[0].status, Status::Fail, "{alone:?}");
    // a Deployment: the Pod policy covers its template's images
    let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "d", "namespace": "apps"},
        "spec": {"template": {"metadata": {"labels": {"app": "a"}},
                              "spec": {"containers": [{"name": "c", "image": digests["unsigned"]}]}}}});
    let r = set.evaluate(&deploy, &AdmissionInfo::default());
    assert_eq!(
        by_policy(&r, "team-images"),
        (Status::Fail, "image signature verification failed".into()),
        "{r:?}"
    );
}

#[test]
fn notary_signatures_and_referrer_payloads() {
    use notary_harness::*;
    let Some(reg) = harness::start("") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = reg.port;
    let host = format!("127.0.0.1:{p}");
    let root = ca(d, "root");
    let other_root = ca(d, "other-root");
    let signer = leaf(d, "signer", &root, EC, "digitalSignature");
    let stranger = leaf(d, "stranger", &other_root, EC, "digitalSignature");
    let mut refs = Referrers {
        port: p,
        repo: "team/app".into(),
        by_subject: Default::default(),
    };
    let sbom_type = "application/vnd.cyclonedx+json";
    let mut images = std::collections::HashMap::new();
    for (tag, who, format) in [
        ("good", &signer, "CycloneDX"),
        ("spdx", &signer, "SPDX"),
        ("stranger", &stranger, "CycloneDX"),
    ] {
        harness::push_image(p, "team/app", tag, tag);
        let target = descriptor(p, "team/app", tag);
        let chain = if tag == "stranger" {
            &other_root
        } else {
            &root
        };
        refs.sign(d, &target, &Signing::new(who, vec![chain], EC));
        let sbom = serde_json::to_vec(&json!({"bomFormat": format, "specVersion": "1.5"})).unwrap();
        let att = refs.attach(&target, sbom_type, sbom_type, &sbom);
        refs.sign(d, &att, &Signing::new(who, vec![chain], EC));
        images.insert(
            tag,
            format!("{host}/team/app@{}", target["digest"].as_str().unwrap()),
        );
    }
    let text = format!(
        r#"apiVersion: policies.kyverno.io/v1beta1
kind: ImageValidatingPolicy
metadata: {{name: notary-sbom}}
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: [v1]
      operations: [CREATE]
      resources: [pods]
  attestors:
  - name: notary
    notary:
      certs:
        value: |-
{certs}
  attestations:
  - name: sbom
    referrer:
      type: {sbom_type}
  validations:
  - expression: images.containers.map(i, verifyImageSignatures(i, [attestors.notary])).all(n, n > 0)
    message: failed to verify image with notary cert
  - expression: images.containers.map(i, verifyAttestationSignatures(i, attestations.sbom, [attestors.notary])).all(n, n > 0)
    message: failed to verify attestation with notary cert
  - expression: images.containers.map(i, extractPayload(i, attestations.sbom).bomFormat == 'CycloneDX').all(e, e)
    message: sbom is not a cyclone dx sbom
"#,
        certs = indent(&root.pem(), 10)
    );
    let (mut set, errors) = PolicySet::from_str("notary.yaml", &text);
    assert!(errors.is_empty(), "{errors:?}");
    set.image_verifier = Some(verifier());
    let run = |tag: &str| {
        let r = set.evaluate(
            &pod(&[images[tag].clone()], json!({})),
            &AdmissionInfo::default(),
        );
        by_policy(&r, "notary-sbom")
    };
    assert_eq!(run("good"), (Status::Pass, "success".into()));
    assert_eq!(
        run("spdx"),
        (Status::Fail, "sbom is not a cyclone dx sbom".into())
    );
    assert_eq!(
        run("stranger"),
        (
            Status::Fail,
            "failed to verify image with notary cert".into()
        )
    );
}

#[test]
fn what_cannot_be_checked_is_an_error_at_its_position() {
    let text = r#"apiVersion: policies.kyverno.io/v1beta1
kind: ImageValidatingPolicy
metadata: {name: kms}
spec:
  matchConstraints:
    resourceRules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}]
  attestors:
  - name: cloud
    cosign:
      key: {kms: "awskms:///alias/signer"}
  validations:
  - expression: images.containers.all(i, verifyImageSignatures(i, [attestors.cloud]) > 0)
---
apiVersion: policies.kyverno.io/v1beta1
kind: ImageValidatingPolicy
metadata: {name: public-keyless}
spec:
  matchConstraints:
    resourceRules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}]
  attestors:
  - name: github
    cosign:
      keyless:
        identities: [{issuer: "https://token.actions.githubusercontent.com", subjectRegExp: ".*"}]
  validations:
  - expression: images.containers.all(i, verifyImageSignatures(i, [attestors.github]) > 0)
---
apiVersion: policies.kyverno.io/v1beta1
kind: ImageValidatingPolicy
metadata: {name: unknown-attestor}
spec:
  validationConfigurations: {verifyDigest: false}
  matchConstraints:
    resourceRules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}]
  validations:
  - expression: images.containers.all(i, verifyImageSignatures(i, [attestors.missing]) > 0)
"#;
    let (set, errors) = PolicySet::from_str("bad.yaml", text);
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(shown.len(), 2, "{shown:?}");
    assert!(
        shown[0].starts_with("bad.yaml:8:")
            && shown[0].contains("attestor `cloud`: cosign key.kms is not supported"),
        "{shown:?}"
    );
    assert!(
        shown[1].starts_with("bad.yaml:21:") && shown[1].contains("keyless attestors need `roots`"),
        "{shown:?}"
    );
    // each broken policy is an error on the pods it matches; the valid one still runs and
    // errors on the attestor it does not have
    let r = set.evaluate(
        &pod(&["registry.example/app:1".into()], json!({})),
        &AdmissionInfo::default(),
    );
    assert_eq!(r.len(), 3, "{r:?}");
    assert!(r.iter().all(|x| x.status == Status::Error), "{r:?}");
    assert!(
        by_policy(&r, "unknown-attestor").1.contains("missing"),
        "{r:?}"
    );
    // a ConfigMap is matched by none of them
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "a"}});
    assert!(set.evaluate(&cm, &AdmissionInfo::default()).is_empty());
}
