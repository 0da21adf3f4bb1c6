//! Sigstore bundles, verified offline for an artifact as `cosign verify-blob --bundle` and
//! `sigstore verify identity` do with a trusted root: media types
//! `application/vnd.dev.sigstore.bundle+json;version=0.1|0.2|0.3` and
//! `application/vnd.dev.sigstore.bundle.v0.3+json`, signed by a Fulcio certificate, with a
//! Rekor entry whose signed entry timestamp (the inclusion promise) the trusted root's log key
//! verifies.
//!
//! - A `messageSignature` bundle signs the artifact itself: its digest must be the artifact's
//!   SHA-256, the signature must verify with the certificate's key, and the Rekor entry must be
//!   a `hashedrekord` of that digest, signature and certificate.
//! - A `dsseEnvelope` bundle signs an in-toto statement: the envelope's one signature must
//!   verify over DSSE's pre-authentication encoding, the statement must name the artifact's
//!   SHA-256 among its subjects, and the Rekor entry must be a `dsse` entry of that payload,
//!   signature and certificate.
//!
//! Then the certificate must be for code signing, chain to a Fulcio CA of the trusted root at
//! the time the log integrated the entry, and carry an identity (SAN) and OIDC issuer the
//! policy accepts. Inclusion proofs, checkpoints, RFC 3161 timestamps and certificate
//! transparency are not checked; a bundle without an inclusion promise is refused, saying so.

use crate::Error;
use crate::keyless::{
    KeylessPolicy, cert_identity, cert_spki, check_certificate, check_set, hex, pem_certs,
};
use crate::keys::PublicKey;
use crate::registry::sha256_digest;
use crate::verify::{IN_TOTO_PAYLOAD_TYPE, dsse_pae};
use base64::Engine as _;
use serde_json::Value;

/// The bundle media types understood.
pub const MEDIA_TYPES: &[&str] = &[
    "application/vnd.dev.sigstore.bundle+json;version=0.1",
    "application/vnd.dev.sigstore.bundle+json;version=0.2",
    "application/vnd.dev.sigstore.bundle+json;version=0.3",
    "application/vnd.dev.sigstore.bundle.v0.3+json",
];

/// What a verified bundle vouches for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Verified {
    /// `messageSignature` or `dsseEnvelope`.
    pub content: &'static str,
    /// The certificate's identities (SAN e-mails and URIs).
    pub identities: Vec<String>,
    /// The OIDC issuer that vouched for them.
    pub issuer: String,
    /// When the Rekor log integrated the entry (Unix seconds).
    pub integrated_time: u64,
    pub log_index: u64,
    /// The in-toto statement's predicate type, for a DSSE bundle.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predicate_type: Option<String>,
}

/// Verifies the Sigstore bundle `text` (read from `name`) for `artifact`.
///
/// The outer error is bad input (not a bundle, a field that does not decode), at its position
/// when known; the inner one is why a well-formed bundle does not verify.
pub fn verify_bundle(
    policy: &KeylessPolicy,
    name: &str,
    text: &str,
    artifact: &[u8],
) -> Result<Result<Verified, String>, Error> {
    Ok(Bundle::parse(name, text)?.verify(Signer::Keyless(policy), Target::Artifact(artifact)))
}

/// Who must have signed a bundle.
#[derive(Clone, Copy)]
pub enum Signer<'a> {
    /// A Fulcio certificate with one of the policy's identities, logged in Rekor.
    Keyless(&'a KeylessPolicy),
    /// One of these keys (the bundle's `publicKey` hint names which; its log entry is not
    /// checked, as for cosign's key-signed `.sig` signatures here).
    Keys(&'a [PublicKey]),
}

/// What a bundle must sign.
#[derive(Clone, Copy)]
pub enum Target<'a> {
    /// These bytes: a message signature over them, or a statement naming their SHA-256.
    Artifact(&'a [u8]),
    /// An image by its manifest digest (`sha256:<hex>`): a statement naming it, of this
    /// predicate type when one is given.
    Image {
        digest: &'a str,
        predicate_type: Option<&'a str>,
    },
}

/// A parsed Sigstore bundle.
pub struct Bundle(Parsed);

impl Bundle {
    /// Parses the bundle `text` read from `name`.
    pub fn parse(name: &str, text: &str) -> Result<Bundle, Error> {
        let bad = |line: usize, column: usize, message: String| Error::Input {
            file: name.to_string(),
            line: u32::try_from(line).unwrap_or(0),
            // serde_json counts an end of input as column 0; positions are 1-based.
            column: u32::try_from(if line > 0 { column.max(1) } else { column }).unwrap_or(0),
            message,
        };
        let bundle: Value = serde_json::from_str(text)
            .map_err(|e| bad(e.line(), e.column(), format!("not a Sigstore bundle: {e}")))?;
        let media_type = bundle
            .get("mediaType")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !MEDIA_TYPES.contains(&media_type) {
            return Err(bad(
                0,
                0,
                format!(
                    "mediaType {media_type:?} is not a Sigstore bundle's ({})",
                    MEDIA_TYPES.join(", ")
                ),
            ));
        }
        Ok(Bundle(Parsed::from(&bundle).map_err(|m| bad(0, 0, m))?))
    }

    /// Whether `signer` signed `target` with this bundle; why not when it did not.
    pub fn verify(&self, signer: Signer<'_>, target: Target<'_>) -> Result<Verified, String> {
        self.0.verify(signer, target)
    }

    /// The in-toto statement, for a DSSE bundle (read without verifying: call after
    /// [`Bundle::verify`]).
    pub fn statement(&self) -> Option<Value> {
        match &self.0.content {
            Content::Dsse { payload, .. } => serde_json::from_slice(payload).ok(),
            Content::Message { .. } => None,
        }
    }

    /// The in-toto statement's predicate type, for a DSSE bundle (read without verifying).
    pub fn predicate_type(&self) -> Option<String> {
        match &self.0.content {
            Content::Dsse { payload, .. } => serde_json::from_slice::<Value>(payload)
                .ok()?
                .get("predicateType")?
                .as_str()
                .map(str::to_string),
            Content::Message { .. } => None,
        }
    }
}

/// The parts of a bundle used, decoded.
struct Parsed {
    leaf: Option<Vec<u8>>,
    chain: Vec<Vec<u8>>,
    entry: Option<Entry>,
    content: Content,
}

struct Entry {
    log_index: u64,
    log_id: String,
    integrated_time: u64,
    set: Option<Vec<u8>>,
    body: String,
}

enum Content {
    Message {
        digest: Option<Vec<u8>>,
        signature: Vec<u8>,
    },
    Dsse {
        payload_type: String,
        payload: Vec<u8>,
        signatures: Vec<Vec<u8>>,
    },
}

fn b64(v: Option<&Value>, what: &str) -> Result<Vec<u8>, String> {
    v.and_then(Value::as_str)
        .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
        .ok_or_else(|| format!("{what} is missing or not base64"))
}

/// An int64 as protobuf's JSON writes it (a string) or as a number.
fn int(v: Option<&Value>, what: &str) -> Result<u64, String> {
    match v {
        Some(Value::String(s)) => s.parse().ok(),
        Some(n) => n.as_u64(),
        None => None,
    }
    .ok_or_else(|| format!("{what} is missing or not an integer"))
}

impl Parsed {
    fn from(bundle: &Value) -> Result<Parsed, String> {
        let material = bundle
            .get("verificationMaterial")
            .ok_or("verificationMaterial is missing")?;
        let mut certs: Vec<Vec<u8>> = Vec::new();
        if let Some(c) = material.get("certificate") {
            certs.push(b64(
                c.get("rawBytes"),
                "verificationMaterial.certificate.rawBytes",
            )?);
        } else if let Some(list) = material
            .pointer("/x509CertificateChain/certificates")
            .and_then(Value::as_array)
        {
            for (i, c) in list.iter().enumerate() {
                certs.push(b64(
                    c.get("rawBytes"),
                    &format!(
                        "verificationMaterial.x509CertificateChain.certificates[{i}].rawBytes"
                    ),
                )?);
            }
        }
        let mut certs = certs.into_iter();
        let leaf = certs.next();
        let entry = match material
            .get("tlogEntries")
            .and_then(Value::as_array)
            .and_then(|e| e.first())
        {
            Some(e) => Some(Entry {
                log_index: int(e.get("logIndex"), "tlogEntries[0].logIndex")?,
                log_id: hex(&b64(
                    e.pointer("/logId/keyId"),
                    "tlogEntries[0].logId.keyId",
                )?),
                integrated_time: int(e.get("integratedTime"), "tlogEntries[0].integratedTime")?,
                set: match e.pointer("/inclusionPromise/signedEntryTimestamp") {
                    Some(s) => Some(b64(
                        Some(s),
                        "tlogEntries[0].inclusionPromise.signedEntryTimestamp",
                    )?),
                    None => None,
                },
                body: e
                    .get("canonicalizedBody")
                    .and_then(Value::as_str)
                    .ok_or("tlogEntries[0].canonicalizedBody is missing")?
                    .to_string(),
            }),
            None => None,
        };
        let content = if let Some(m) = bundle.get("messageSignature") {
            Content::Message {
                digest: match m.pointer("/messageDigest/digest") {
                    Some(d) => Some(b64(Some(d), "messageSignature.messageDigest.digest")?),
                    None => None,
                },
                signature: b64(m.get("signature"), "messageSignature.signature")?,
            }
        } else if let Some(env) = bundle.get("dsseEnvelope") {
            Content::Dsse {
                payload_type: env
                    .get("payloadType")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                payload: b64(env.get("payload"), "dsseEnvelope.payload")?,
                signatures: env
                    .get("signatures")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .enumerate()
                    .map(|(i, s)| b64(s.get("sig"), &format!("dsseEnvelope.signatures[{i}].sig")))
                    .collect::<Result<_, _>>()?,
            }
        } else {
            return Err("the bundle has neither a messageSignature nor a dsseEnvelope".into());
        };
        Ok(Parsed {
            leaf,
            chain: certs.collect(),
            entry,
            content,
        })
    }

    fn verify(&self, signer: Signer<'_>, target: Target<'_>) -> Result<Verified, String> {
        let (target_digest, what) = match target {
            Target::Artifact(a) => (sha256_digest(a), "artifact"),
            Target::Image { digest, .. } => (digest.to_string(), "image"),
        };
        let hex_digest = target_digest
            .strip_prefix("sha256:")
            .unwrap_or(&target_digest);
        // The signature, with the certificate's key or one of the keys.
        let cert_key = match signer {
            Signer::Keyless(_) => {
                let leaf = self.leaf.as_deref().ok_or(
                    "the bundle carries no certificate (it is signed with a key): give the key to verify it",
                )?;
                let spki = cert_spki(leaf).ok_or("the certificate does not parse")?;
                Some(PublicKey::from_spki_der("the certificate", spki).map_err(|e| e.to_string())?)
            }
            Signer::Keys(_) => None,
        };
        let verifies = |message: &[u8], sig: &[u8]| match (signer, &cert_key) {
            (Signer::Keys(keys), _) => keys.iter().any(|k| k.verify(message, sig)),
            (Signer::Keyless(_), Some(k)) => k.verify(message, sig),
            (Signer::Keyless(_), None) => false,
        };
        let signed_by = match signer {
            Signer::Keyless(_) => "the certificate's key".to_string(),
            Signer::Keys([key]) => format!("the key {}", key.name),
            Signer::Keys(keys) => format!(
                "any of the keys {}",
                keys.iter()
                    .map(|k| k.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let (content, predicate_type, signature) = match &self.content {
            Content::Message { digest, signature } => {
                let Target::Artifact(artifact) = target else {
                    return Err(
                        "the bundle holds a message signature, not a statement about the image"
                            .into(),
                    );
                };
                if let Some(d) = digest
                    && hex(d) != hex_digest
                {
                    return Err(format!(
                        "the bundle signs sha256:{}, not the artifact's {target_digest}",
                        hex(d)
                    ));
                }
                if !verifies(artifact, signature) {
                    return Err(format!(
                        "the signature does not verify over the artifact with {signed_by}"
                    ));
                }
                ("messageSignature", None, signature)
            }
            Content::Dsse {
                payload_type,
                payload,
                signatures,
            } => {
                if payload_type != IN_TOTO_PAYLOAD_TYPE {
                    return Err(format!(
                        "the envelope's payloadType is {payload_type:?}, not {IN_TOTO_PAYLOAD_TYPE:?}"
                    ));
                }
                let [signature] = signatures.as_slice() else {
                    return Err(format!(
                        "the envelope has {} signatures; a bundle's has exactly one",
                        signatures.len()
                    ));
                };
                if !verifies(&dsse_pae(payload_type, payload), signature) {
                    return Err(format!(
                        "the envelope's signature does not verify with {signed_by}"
                    ));
                }
                let statement: Value = serde_json::from_slice(payload)
                    .map_err(|e| format!("the in-toto statement is not JSON: {e}"))?;
                let names_target = statement
                    .get("subject")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .any(|s| {
                        s.pointer("/digest/sha256").and_then(Value::as_str) == Some(hex_digest)
                    });
                if !names_target {
                    return Err(format!(
                        "the statement's subjects do not include the {what}'s digest {target_digest}"
                    ));
                }
                let got = statement
                    .get("predicateType")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                if let Target::Image {
                    predicate_type: Some(want),
                    ..
                } = target
                    && got.as_deref() != Some(want)
                {
                    return Err(format!(
                        "the statement's predicateType is {:?}, not {want:?}",
                        got.as_deref().unwrap_or("")
                    ));
                }
                ("dsseEnvelope", got, signature)
            }
        };
        let policy = match signer {
            Signer::Keyless(policy) => policy,
            Signer::Keys(keys) => {
                return Ok(Verified {
                    content,
                    identities: keys.iter().map(|k| k.name.clone()).collect(),
                    issuer: String::new(),
                    integrated_time: self.entry.as_ref().map_or(0, |e| e.integrated_time),
                    log_index: self.entry.as_ref().map_or(0, |e| e.log_index),
                    predicate_type,
                });
            }
        };
        // Keyless: the log vouches for the entry, the entry is this signature, and the
        // certificate chains to Fulcio at the time of logging with an accepted identity.
        let leaf = self.leaf.as_deref().unwrap_or_default();
        let entry = self
            .entry
            .as_ref()
            .ok_or("the bundle has no transparency-log entry")?;
        let set = entry.set.as_deref().ok_or(
            "the transparency-log entry has no inclusion promise (signed entry timestamp), which offline verification needs",
        )?;
        let logged = check_set(
            policy,
            set,
            &entry.body,
            entry.integrated_time,
            entry.log_index,
            &entry.log_id,
        )?;
        let logged_cert = |v: Option<&Value>| {
            v.and_then(Value::as_str)
                .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
                .and_then(|pem| String::from_utf8(pem).ok())
                .and_then(|pem| pem_certs(&pem).into_iter().next())
        };
        let sig_b64 = base64::engine::general_purpose::STANDARD.encode(signature);
        let kind = logged.get("kind").and_then(Value::as_str).unwrap_or("");
        let text = |pointer: &str| logged.pointer(pointer).and_then(Value::as_str);
        match &self.content {
            Content::Message { .. } => {
                let matches = kind == "hashedrekord"
                    && text("/spec/data/hash/value") == Some(hex_digest)
                    && text("/spec/signature/content") == Some(sig_b64.as_str())
                    && logged_cert(logged.pointer("/spec/signature/publicKey/content")).as_deref()
                        == Some(leaf);
                if !matches {
                    return Err(
                        "the Rekor entry is for another signature, artifact or certificate".into(),
                    );
                }
            }
            Content::Dsse { payload, .. } => {
                let payload_hash = sha256_digest(payload);
                let signed_entry = logged
                    .pointer("/spec/signatures")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .any(|s| {
                        s.get("signature").and_then(Value::as_str) == Some(sig_b64.as_str())
                            && logged_cert(s.get("verifier")).as_deref() == Some(leaf)
                    });
                let matches = kind == "dsse"
                    && text("/spec/payloadHash/value") == payload_hash.strip_prefix("sha256:")
                    && signed_entry;
                if !matches {
                    return Err(
                        "the Rekor entry is for another envelope, signature or certificate".into(),
                    );
                }
            }
        }
        check_certificate(policy, leaf, &self.chain, entry.integrated_time)?;
        let (identities, issuer) = cert_identity(leaf);
        Ok(Verified {
            content,
            identities,
            issuer: issuer.unwrap_or_default(),
            integrated_time: entry.integrated_time,
            log_index: entry.log_index,
            predicate_type,
        })
    }
}
