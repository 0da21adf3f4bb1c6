//! Keyless signing for the registry tests: a Fulcio-like CA made by rcgen, a Rekor log key
//! made by openssl, the Sigstore `trusted_root.json` holding both, and cosign's keyless
//! signature layers (certificate, chain, Rekor bundle). Included by path next to `harness`.
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
use std::path::{Path, PathBuf};

/// A Fulcio-like CA (root and intermediate) made by rcgen.
pub struct Fulcio {
    pub root_params: rcgen::CertificateParams,
    pub root_key: rcgen::KeyPair,
    pub root: rcgen::Certificate,
    pub inter_params: rcgen::CertificateParams,
    pub inter_key: rcgen::KeyPair,
    pub inter: rcgen::Certificate,
}

pub fn fulcio(name: &str) -> Fulcio {
    let ca_params = |cn: &str| {
        let mut p = rcgen::CertificateParams::default();
        p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        p.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        p.distinguished_name.push(rcgen::DnType::CommonName, cn);
        p.not_before = rcgen::date_time_ymd(2019, 1, 1);
        p.not_after = rcgen::date_time_ymd(2035, 1, 1);
        p
    };
    let root_key = rcgen::KeyPair::generate().unwrap();
    let root_params = ca_params(&format!("{name} root"));
    let root = root_params.self_signed(&root_key).unwrap();
    let inter_key = rcgen::KeyPair::generate().unwrap();
    let inter_params = ca_params(&format!("{name} intermediate"));
    let inter = inter_params
        .signed_by(
            &inter_key,
            &rcgen::Issuer::from_params(&root_params, &root_key),
        )
        .unwrap();
    Fulcio {
        root_params,
        root_key,
        root,
        inter_params,
        inter_key,
        inter,
    }
}

/// A Fulcio-style signing certificate valid on 2020-01-01: SAN e-mail, code signing, OIDC
/// issuer extension (v1, raw string); its PEM and the private key's PEM.
pub fn leaf(ca: &Fulcio, email: &str, issuer: &str) -> (String, String) {
    let _ = (&ca.root_params, &ca.root_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let mut p = rcgen::CertificateParams::default();
    p.subject_alt_names = vec![rcgen::SanType::Rfc822Name(email.try_into().unwrap())];
    p.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::CodeSigning];
    p.custom_extensions = vec![rcgen::CustomExtension::from_oid_content(
        &[1, 3, 6, 1, 4, 1, 57264, 1, 1],
        issuer.as_bytes().to_vec(),
    )];
    p.not_before = rcgen::date_time_ymd(2020, 1, 1);
    p.not_after = rcgen::date_time_ymd(2020, 1, 2);
    let cert = p
        .signed_by(
            &key,
            &rcgen::Issuer::from_params(&ca.inter_params, &ca.inter_key),
        )
        .unwrap();
    (cert.pem(), key.serialize_pem())
}

/// A Rekor log key made by openssl: the private key's path, the public key's DER and its log id.
pub struct Rekor {
    pub key: PathBuf,
    pub spki: Vec<u8>,
    pub log_id: Vec<u8>,
    pub log_id_hex: String,
}

pub fn rekor(d: &Path) -> Rekor {
    let (rekor_key, _) = keypair(d, "rekor", P256);
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
    let spki = std::fs::read(&spki_path).unwrap();
    let log_id_hex = sha256_digest(&spki)
        .trim_start_matches("sha256:")
        .to_string();
    let log_id: Vec<u8> = (0..log_id_hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&log_id_hex[i..i + 2], 16).unwrap())
        .collect();
    Rekor {
        key: rekor_key,
        spki,
        log_id,
        log_id_hex,
    }
}

fn std_b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// A Sigstore `trusted_root.json` with `ca` as its Fulcio CA and `rekor` as its log.
pub fn trusted_root(ca: &Fulcio, rekor: &Rekor) -> serde_json::Value {
    serde_json::json!({
        "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "tlogs": [{
            "baseUrl": "https://rekor.example",
            "hashAlgorithm": "SHA2_256",
            "publicKey": {"rawBytes": std_b64(&rekor.spki), "keyDetails": "PKIX_ECDSA_P256_SHA_256", "validFor": {"start": "2019-01-01T00:00:00Z"}},
            "logId": {"keyId": std_b64(&rekor.log_id)}
        }],
        "certificateAuthorities": [{
            "subject": {"organization": "test", "commonName": "fulcio"},
            "uri": "https://fulcio.example",
            "certChain": {"certificates": [{"rawBytes": std_b64(ca.inter.der())}, {"rawBytes": std_b64(ca.root.der())}]},
            "validFor": {"start": "2019-01-01T00:00:00Z"}
        }],
        "ctlogs": [],
        "timestampAuthorities": []
    })
}

/// Pushes an image at `repo:tag` and signs it keylessly: openssl signs the payload with a
/// certificate's key (identity `email`, issuer `https://issuer.example`) and the SET with the
/// log's key; `integrated` is the log time, `tamper` alters the SET's payload after signing.
/// The image reference.
#[allow(clippy::too_many_arguments)]
pub fn sign_keyless(
    p: u16,
    repo: &str,
    tag: &str,
    d: &Path,
    ca: &Fulcio,
    rekor: &Rekor,
    email: &str,
    integrated: u64,
    tamper: bool,
) -> String {
    let log_id_hex = &rekor.log_id_hex;
    let digest = push_image(p, repo, tag, tag);
    let (cert_pem, key_pem) = leaf(ca, email, "https://issuer.example");
    let key_path = d.join(format!("{tag}.key"));
    std::fs::write(&key_path, key_pem).unwrap();
    let pl = payload(&format!("127.0.0.1:{p}/{repo}"), &digest);
    let sig = sign(d, &key_path, &pl, SHA256);
    let body = serde_json::json!({
        "apiVersion": "0.0.1", "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": sha256_digest(&pl).trim_start_matches("sha256:")}},
            "signature": {"content": std_b64(&sig), "publicKey": {"content": std_b64(cert_pem.as_bytes())}}
        }
    });
    let (body_b64, set) = rekor_entry(d, &rekor.key, log_id_hex, &body, integrated, 42);
    let bundle = serde_json::json!({
        "SignedEntryTimestamp": std_b64(&set),
        "Payload": {"body": body_b64, "integratedTime": integrated, "logIndex": if tamper { 43 } else { 42 }, "logID": log_id_hex}
    });
    let mut extra = serde_json::Map::new();
    extra.insert("dev.sigstore.cosign/certificate".into(), cert_pem.into());
    extra.insert(
        "dev.sigstore.cosign/chain".into(),
        format!("{}{}", ca.inter.pem(), ca.root.pem()).into(),
    );
    extra.insert(
        "dev.sigstore.cosign/bundle".into(),
        bundle.to_string().into(),
    );
    push_signature_layers(p, repo, &digest, &[(pl, sig, extra)]);
    format!("127.0.0.1:{p}/{repo}:{tag}")
}
