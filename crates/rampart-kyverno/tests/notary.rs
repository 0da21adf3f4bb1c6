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

use base64::Engine as _;
use rampart_images::registry::sha256_digest;
use rampart_kyverno::{AdmissionInfo, PolicySet, Status};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

mod common;
use common::{indent, verifier};

#[path = "../../rampart-images/tests/harness/mod.rs"]
mod harness;
use harness::{openssl, push_blob, push_manifest};

const SIGNATURE_TYPE: &str = "application/vnd.cncf.notary.signature";
const PAYLOAD_TYPE: &str = "application/vnd.cncf.notary.payload.v1+json";
const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn b64url(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// A CA, or a code-signing certificate it issues, made by openssl: key and PEM certificate.
struct Pki {
    key: PathBuf,
    cert: PathBuf,
}

impl Pki {
    fn pem(&self) -> String {
        std::fs::read_to_string(&self.cert).unwrap()
    }

    fn der(&self) -> Vec<u8> {
        let pem = self.pem();
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap()
    }
}

/// `-newkey` arguments: an EC P-256 or an RSA 2048 key.
const EC: &str = "ec:P-256";
const RSA: &str = "rsa:2048";

fn newkey(dir: &Path, name: &str, kind: &str) -> PathBuf {
    let key = dir.join(format!("{name}.key"));
    let args: Vec<&str> = match kind {
        EC => vec!["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
        _ => vec!["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
    };
    let mut all = vec!["genpkey"];
    all.extend(args);
    all.extend(["-out", key.to_str().unwrap()]);
    openssl(&all);
    key
}

fn ca(dir: &Path, name: &str) -> Pki {
    let key = newkey(dir, name, EC);
    let cert = dir.join(format!("{name}.pem"));
    openssl(&[
        "req",
        "-x509",
        "-new",
        "-key",
        key.to_str().unwrap(),
        "-out",
        cert.to_str().unwrap(),
        "-days",
        "30",
        "-subj",
        &format!("/CN={name}"),
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign",
    ]);
    Pki { key, cert }
}

/// A signing certificate issued by `ca`, `days` long (0: already expired).
fn leaf(dir: &Path, name: &str, ca: &Pki, kind: &str, usage: &str) -> Pki {
    let key = newkey(dir, name, kind);
    let csr = dir.join(format!("{name}.csr"));
    let cert = dir.join(format!("{name}.pem"));
    let ext = dir.join(format!("{name}.ext"));
    std::fs::write(
        &ext,
        format!(
            "basicConstraints=CA:FALSE\nkeyUsage=critical,{usage}\nextendedKeyUsage=codeSigning\n"
        ),
    )
    .unwrap();
    openssl(&[
        "req",
        "-new",
        "-key",
        key.to_str().unwrap(),
        "-out",
        csr.to_str().unwrap(),
        "-subj",
        &format!("/CN={name}"),
    ]);
    openssl(&[
        "x509",
        "-req",
        "-in",
        csr.to_str().unwrap(),
        "-CA",
        ca.cert.to_str().unwrap(),
        "-CAkey",
        ca.key.to_str().unwrap(),
        "-CAcreateserial",
        "-out",
        cert.to_str().unwrap(),
        "-days",
        "7",
        "-extfile",
        ext.to_str().unwrap(),
    ]);
    Pki { key, cert }
}

/// openssl's signature over `data`: ECDSA (DER, turned into JWS's `r || s`) or RSA-PSS.
fn openssl_sign(dir: &Path, key: &Path, data: &[u8], kind: &str) -> Vec<u8> {
    let how: &[&str] = if kind == EC {
        harness::SHA256
    } else {
        &[
            "dgst",
            "-sha256",
            "-sigopt",
            "rsa_padding_mode:pss",
            "-sigopt",
            "rsa_pss_saltlen:digest",
        ]
    };
    let sig = harness::sign(dir, key, data, how);
    if kind != EC {
        return sig;
    }
    // SEQUENCE { INTEGER r, INTEGER s } → 32-byte r || 32-byte s
    let mut out = Vec::new();
    let mut rest = &sig[2..];
    for _ in 0..2 {
        let len = rest[1] as usize;
        let int = &rest[2..2 + len];
        let int = if int.len() > 32 {
            &int[int.len() - 32..]
        } else {
            int
        };
        out.extend(std::iter::repeat_n(0, 32 - int.len()));
        out.extend_from_slice(int);
        rest = &rest[2 + len..];
    }
    out
}

/// The descriptor of `repo:reference`: media type, digest, size.
fn descriptor(port: u16, repo: &str, reference: &str) -> Value {
    let (st, h, body) = harness::http(
        port,
        "GET",
        &format!("/v2/{repo}/manifests/{reference}"),
        &[("Accept", MANIFEST_TYPE)],
        b"",
    );
    assert_eq!(st, 200);
    json!({"mediaType": harness::header(&h, "content-type"), "digest": sha256_digest(&body), "size": body.len()})
}

/// How one signature is made.
struct Signing<'a> {
    signer: &'a Pki,
    /// The certificates after the signing one in `x5c`.
    chain: Vec<&'a Pki>,
    kind: &'a str,
    /// The `alg` written in the header (default: the key's).
    alg: Option<&'a str>,
    /// Replaces the signed target descriptor.
    target: Option<Value>,
    /// Extra protected header fields, made critical.
    critical: Vec<(&'a str, Value)>,
    envelope_type: &'a str,
    tamper: bool,
}

impl<'a> Signing<'a> {
    fn new(signer: &'a Pki, chain: Vec<&'a Pki>, kind: &'a str) -> Self {
        Signing {
            signer,
            chain,
            kind,
            alg: None,
            target: None,
            critical: Vec::new(),
            envelope_type: "application/jose+json",
            tamper: false,
        }
    }
}

/// The JWS envelope signing `target`.
fn envelope(dir: &Path, target: &Value, s: &Signing<'_>) -> Vec<u8> {
    let alg = s
        .alg
        .unwrap_or(if s.kind == EC { "ES256" } else { "PS256" });
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut protected = json!({
        "alg": alg,
        "cty": PAYLOAD_TYPE,
        "crit": ["io.cncf.notary.signingScheme"],
        "io.cncf.notary.signingScheme": "notary.x509",
        "io.cncf.notary.signingTime": rampart_core::civil::rfc3339(now as i64),
    });
    for (k, v) in &s.critical {
        protected[*k] = v.clone();
        protected["crit"].as_array_mut().unwrap().push(json!(k));
    }
    let payload = json!({"targetArtifact": s.target.clone().unwrap_or_else(|| target.clone())});
    let protected = b64url(&serde_json::to_vec(&protected).unwrap());
    let payload = b64url(&serde_json::to_vec(&payload).unwrap());
    let mut sig = openssl_sign(
        dir,
        &s.signer.key,
        format!("{protected}.{payload}").as_bytes(),
        s.kind,
    );
    if s.tamper {
        sig[5] ^= 1;
    }
    let mut x5c = vec![b64(&s.signer.der())];
    x5c.extend(s.chain.iter().map(|c| b64(&c.der())));
    serde_json::to_vec(&json!({
        "payload": payload,
        "protected": protected,
        "header": {"x5c": x5c, "io.cncf.notary.signingAgent": "rampart-test"},
        "signature": b64url(&sig),
    }))
    .unwrap()
}

/// The COSE_Sign1 envelope signing `target` (the same content as [`envelope`], in CBOR).
fn cose_envelope(dir: &Path, target: &Value, s: &Signing<'_>) -> Vec<u8> {
    use ciborium::Value as Cbor;
    let text = |t: &str| Cbor::Text(t.to_string());
    let alg = match s
        .alg
        .unwrap_or(if s.kind == EC { "ES256" } else { "PS256" })
    {
        "ES256" => -7,
        "PS256" => -37,
        _ => -38,
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut crit = vec![text("io.cncf.notary.signingScheme")];
    let mut header = vec![
        (Cbor::Integer(1.into()), Cbor::Integer(alg.into())),
        (Cbor::Integer(3.into()), text(PAYLOAD_TYPE)),
        (text("io.cncf.notary.signingScheme"), text("notary.x509")),
        (
            text("io.cncf.notary.signingTime"),
            Cbor::Tag(1, Box::new(Cbor::Integer(now.into()))),
        ),
    ];
    for (k, v) in &s.critical {
        let secs = v
            .as_str()
            .and_then(rampart_core::civil::parse_rfc3339)
            .map(|ns| ns / 1_000_000_000);
        let value = match secs {
            Some(secs) => Cbor::Tag(1, Box::new(Cbor::Integer(secs.into()))),
            None => text(v.as_str().unwrap_or("")),
        };
        header.push((text(k), value));
        crit.push(text(k));
    }
    header.push((Cbor::Integer(2.into()), Cbor::Array(crit)));
    let mut protected = Vec::new();
    ciborium::into_writer(&Cbor::Map(header), &mut protected).unwrap();
    let payload = serde_json::to_vec(
        &json!({"targetArtifact": s.target.clone().unwrap_or_else(|| target.clone())}),
    )
    .unwrap();
    let mut to_sign = Vec::new();
    ciborium::into_writer(
        &Cbor::Array(vec![
            text("Signature1"),
            Cbor::Bytes(protected.clone()),
            Cbor::Bytes(Vec::new()),
            Cbor::Bytes(payload.clone()),
        ]),
        &mut to_sign,
    )
    .unwrap();
    let mut sig = openssl_sign(dir, &s.signer.key, &to_sign, s.kind);
    if s.tamper {
        sig[5] ^= 1;
    }
    let mut chain = vec![Cbor::Bytes(s.signer.der())];
    chain.extend(s.chain.iter().map(|c| Cbor::Bytes(c.der())));
    let unprotected = Cbor::Map(vec![
        (Cbor::Integer(33.into()), Cbor::Array(chain)),
        (text("io.cncf.notary.signingAgent"), text("rampart-test")),
    ]);
    let mut out = Vec::new();
    ciborium::into_writer(
        &Cbor::Tag(
            18,
            Box::new(Cbor::Array(vec![
                Cbor::Bytes(protected),
                unprotected,
                Cbor::Bytes(payload),
                Cbor::Bytes(sig),
            ])),
        ),
        &mut out,
    )
    .unwrap();
    out
}

/// Pushes referrer manifests of `subject` and (re)writes its referrers tag schema index.
struct Referrers {
    port: u16,
    repo: String,
    by_subject: std::collections::HashMap<String, Vec<Value>>,
}

impl Referrers {
    /// Pushes a manifest of `artifact_type` with one layer (`layer_type`, `bytes`) referring
    /// to `subject`; its descriptor.
    fn attach(
        &mut self,
        subject: &Value,
        artifact_type: &str,
        layer_type: &str,
        bytes: &[u8],
    ) -> Value {
        let (p, repo) = (self.port, self.repo.clone());
        let empty = push_blob(p, &repo, b"{}");
        let layer = push_blob(p, &repo, bytes);
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "artifactType": artifact_type,
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
            "layers": [{"mediaType": layer_type, "digest": layer, "size": bytes.len()}],
            "subject": subject,
        });
        let raw = serde_json::to_vec(&manifest).unwrap();
        let digest = push_manifest(p, &repo, &sha256_digest(&raw), &manifest);
        let d = json!({"mediaType": MANIFEST_TYPE, "digest": digest, "size": raw.len(), "artifactType": artifact_type});
        let subject_digest = subject["digest"].as_str().unwrap().to_string();
        let list = self.by_subject.entry(subject_digest.clone()).or_default();
        list.push(d.clone());
        let index = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": list,
        }))
        .unwrap();
        let (st, _, body) = harness::http(
            p,
            "PUT",
            &format!(
                "/v2/{repo}/manifests/{}",
                subject_digest.replacen(':', "-", 1)
            ),
            &[("Content-Type", "application/vnd.oci.image.index.v1+json")],
            &index,
        );
        assert_eq!(st, 201, "index push: {}", String::from_utf8_lossy(&body));
        d
    }

    fn sign(&mut self, dir: &Path, subject: &Value, s: &Signing<'_>) {
        let env = if s.envelope_type == "application/cose" {
            cose_envelope(dir, subject, s)
        } else {
            envelope(dir, subject, s)
        };
        self.attach(subject, SIGNATURE_TYPE, s.envelope_type, &env);
    }
}

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
