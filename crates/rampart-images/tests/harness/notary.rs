//! Notary Project signing for the registry tests: a CA and the certificates it issues, made by
//! openssl; JWS and COSE envelopes signed by openssl (ECDSA and RSA-PSS); signature and other
//! manifests attached as OCI 1.1 referrers through the referrers tag schema, as `notation
//! sign` attaches them. Included by path next to `harness`.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use super::harness::*;
use base64::Engine as _;
use rampart_images::registry::sha256_digest;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

pub const SIGNATURE_TYPE: &str = "application/vnd.cncf.notary.signature";
pub const PAYLOAD_TYPE: &str = "application/vnd.cncf.notary.payload.v1+json";
pub const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";

pub fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

pub fn b64url(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// A CA, or a code-signing certificate it issues, made by openssl: key and PEM certificate.
pub struct Pki {
    pub key: PathBuf,
    pub cert: PathBuf,
}

impl Pki {
    pub fn pem(&self) -> String {
        std::fs::read_to_string(&self.cert).unwrap()
    }

    pub fn der(&self) -> Vec<u8> {
        let pem = self.pem();
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap()
    }
}

/// `-newkey` arguments: an EC P-256 or an RSA 2048 key.
pub const EC: &str = "ec:P-256";
pub const RSA: &str = "rsa:2048";

pub fn newkey(dir: &Path, name: &str, kind: &str) -> PathBuf {
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

pub fn ca(dir: &Path, name: &str) -> Pki {
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
pub fn leaf(dir: &Path, name: &str, ca: &Pki, kind: &str, usage: &str) -> Pki {
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
pub fn openssl_sign(dir: &Path, key: &Path, data: &[u8], kind: &str) -> Vec<u8> {
    let how: &[&str] = if kind == EC {
        SHA256
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
    let sig = sign(dir, key, data, how);
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
pub fn descriptor(port: u16, repo: &str, reference: &str) -> Value {
    let (st, h, body) = http(
        port,
        "GET",
        &format!("/v2/{repo}/manifests/{reference}"),
        &[("Accept", MANIFEST_TYPE)],
        b"",
    );
    assert_eq!(st, 200);
    json!({"mediaType": header(&h, "content-type"), "digest": sha256_digest(&body), "size": body.len()})
}

/// How one signature is made.
pub struct Signing<'a> {
    pub signer: &'a Pki,
    /// The certificates after the signing one in `x5c`.
    pub chain: Vec<&'a Pki>,
    pub kind: &'a str,
    /// The `alg` written in the header (default: the key's).
    pub alg: Option<&'a str>,
    /// Replaces the signed target descriptor.
    pub target: Option<Value>,
    /// Extra protected header fields, made critical.
    pub critical: Vec<(&'a str, Value)>,
    pub envelope_type: &'a str,
    pub tamper: bool,
}

impl<'a> Signing<'a> {
    pub fn new(signer: &'a Pki, chain: Vec<&'a Pki>, kind: &'a str) -> Self {
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
pub fn envelope(dir: &Path, target: &Value, s: &Signing<'_>) -> Vec<u8> {
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
pub fn cose_envelope(dir: &Path, target: &Value, s: &Signing<'_>) -> Vec<u8> {
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
pub struct Referrers {
    pub port: u16,
    pub repo: String,
    pub by_subject: std::collections::HashMap<String, Vec<Value>>,
}

impl Referrers {
    /// Pushes a manifest of `artifact_type` with one layer (`layer_type`, `bytes`) referring
    /// to `subject`; its descriptor.
    pub fn attach(
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
        let (st, _, body) = http(
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

    pub fn sign(&mut self, dir: &Path, subject: &Value, s: &Signing<'_>) {
        let env = if s.envelope_type == "application/cose" {
            cose_envelope(dir, subject, s)
        } else {
            envelope(dir, subject, s)
        };
        self.attach(subject, SIGNATURE_TYPE, s.envelope_type, &env);
    }
}
