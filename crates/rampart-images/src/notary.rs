//! Notary Project signatures (what `notation sign` attaches), verified as notation's `strict`
//! level with a CA trust store and any identity (Kyverno's `type: Notary` trust policy):
//!
//! - Signatures are OCI 1.1 referrers of the image with artifact type
//!   `application/vnd.cncf.notary.signature`, one layer each: a JWS envelope
//!   (`application/jose+json`, JSON serialization with the chain in `header.x5c`) or a COSE
//!   one (`application/cose`, COSE_Sign1 with the chain in `x5chain`). At most 10 are tried;
//!   the first that verifies is the image's signature.
//! - Integrity: the protected header names the `notary.x509` signing scheme, the notation
//!   payload content type, a signing time, and marks the scheme (and the expiry, when set)
//!   critical, with no critical header unknown; the algorithm is the one the signing
//!   certificate's key implies, and the signature verifies with that key.
//! - The payload's `targetArtifact` is the image's manifest: same media type, digest, size.
//! - Authenticity: a certificate of the envelope's chain is one of the trusted certificates,
//!   and the signing certificate chains to it (through the envelope's certificates) at the
//!   signing time, for code signing; a key usage, when present, allows digital signatures.
//! - Expiry: an `io.cncf.notary.expiry` in the past fails the signature.
//! - Authentic timestamp (`notary.x509` without a timestamp countersignature): every
//!   certificate of the chain is valid now.
//!
//! Not checked: revocation (OCSP, CRLs) and timestamp countersignatures; the
//! `notary.x509.signingAuthority` scheme is reported as unsupported, never passed.
//!
//! Attestations signed with notation ([`attestations`]) are referrers of the image of a given
//! artifact type, themselves signed as above; each one's statement is its manifest with
//! `type` (the artifact type) and `predicate` (its one layer, as JSON), as Kyverno reads them.

use crate::keyless::{cert_spki, cert_validity, chains_to, extensions, pem_certs};
use crate::keys::PublicKey;
use crate::reference::Reference;
use crate::registry::Client;
use crate::verify::Verification;
use base64::Engine as _;
use rustls_pki_types::CertificateDer;
use serde_json::Value;

/// The artifact type of Notary Project signature manifests.
pub const SIGNATURE_ARTIFACT_TYPE: &str = "application/vnd.cncf.notary.signature";
/// The JWS envelope's media type.
pub const JWS_MEDIA_TYPE: &str = "application/jose+json";
/// The content type of a notation payload.
pub const PAYLOAD_CONTENT_TYPE: &str = "application/vnd.cncf.notary.payload.v1+json";
/// Signatures tried per artifact, as notation's `MaxSignatureAttempts` in Kyverno.
const MAX_SIGNATURE_ATTEMPTS: usize = 10;
/// Referrers an image may have for its attestations to be read (Kyverno's limit).
const MAX_REFERRERS: usize = 50;

const SCHEME: &str = "io.cncf.notary.signingScheme";
const SIGNING_TIME: &str = "io.cncf.notary.signingTime";
const EXPIRY: &str = "io.cncf.notary.expiry";
const AUTHENTIC_SIGNING_TIME: &str = "io.cncf.notary.authenticSigningTime";
/// id-ce-keyUsage.
const OID_KEY_USAGE: &[u8] = &[0x55, 0x1d, 0x0f];

/// What a signature must sign: the image's manifest descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
}

/// The trusted certificates (a CA trust store): DER.
#[derive(Debug, Clone, Default)]
pub struct TrustStore {
    certs: Vec<Vec<u8>>,
}

impl TrustStore {
    /// The certificates of a PEM text (Kyverno's `cert` and `certChain`, together).
    pub fn from_pem(pem: &str) -> Result<TrustStore, String> {
        let certs = pem_certs(pem);
        if certs.is_empty() {
            return Err("the trust store holds no PEM certificate".into());
        }
        Ok(TrustStore { certs })
    }
}

/// What an envelope says, whatever its format: the checks of [`verify_envelope`] run on it.
struct Envelope {
    /// The signature algorithm, by its JWS name (`ES256`, `PS256`, …).
    alg: String,
    /// The bytes the signature signs.
    signing_input: Vec<u8>,
    signature: Vec<u8>,
    /// The signed payload (JSON).
    payload: Vec<u8>,
    scheme: Option<String>,
    content_type: Option<String>,
    /// The critical header names; `None` when the header has no `crit`.
    crit: Option<Vec<String>>,
    /// The protected header names present.
    present: Vec<String>,
    signing_time: Option<u64>,
    expiry: Option<u64>,
    /// DER certificates, the signing one first.
    chain: Vec<Vec<u8>>,
}

/// The COSE envelope's media type.
pub const COSE_MEDIA_TYPE: &str = "application/cose";

/// A JWS envelope (JSON serialization).
fn parse_jws(envelope: &[u8]) -> Result<Envelope, String> {
    fn b64url<'v>(what: &str, v: Option<&'v Value>) -> Result<(&'v str, Vec<u8>), String> {
        let text = v
            .and_then(Value::as_str)
            .ok_or_else(|| format!("the JWS envelope has no {what}"))?;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text.trim_end_matches('='))
            .map(|bytes| (text, bytes))
            .map_err(|e| format!("the JWS {what} is not base64url: {e}"))
    }
    let env: Value = serde_json::from_slice(envelope)
        .map_err(|e| format!("the JWS envelope is not JSON: {e}"))?;
    let (protected_b64, protected) = b64url("protected header", env.get("protected"))?;
    let (payload_b64, payload) = b64url("payload", env.get("payload"))?;
    let (_, signature) = b64url("signature", env.get("signature"))?;
    let header: Value = serde_json::from_slice(&protected)
        .map_err(|e| format!("the JWS protected header is not JSON: {e}"))?;
    let text = |k: &str| header.get(k).and_then(Value::as_str).map(str::to_string);
    let time = |k: &str| -> Result<Option<u64>, String> {
        text(k)
            .map(|t| {
                rampart_core::civil::parse_rfc3339(&t)
                    .map(|ns| ns / 1_000_000_000)
                    .ok_or(format!("{k} {t:?} is not an RFC 3339 time"))
            })
            .transpose()
    };
    let chain: Vec<Vec<u8>> = env
        .pointer("/header/x5c")
        .and_then(Value::as_array)
        .ok_or("the JWS envelope has no x5c certificate chain")?
        .iter()
        .map(|c| {
            c.as_str()
                .and_then(|c| base64::engine::general_purpose::STANDARD.decode(c).ok())
                .ok_or_else(|| "an x5c certificate is not base64".to_string())
        })
        .collect::<Result<_, _>>()?;
    let mut signing_input = Vec::with_capacity(protected_b64.len() + payload_b64.len() + 1);
    signing_input.extend_from_slice(protected_b64.as_bytes());
    signing_input.push(b'.');
    signing_input.extend_from_slice(payload_b64.as_bytes());
    Ok(Envelope {
        alg: text("alg").unwrap_or_default(),
        signing_input,
        signature,
        payload,
        scheme: text(SCHEME),
        content_type: text("cty"),
        crit: header.get("crit").and_then(Value::as_array).map(|a| {
            a.iter()
                .map(|c| c.as_str().unwrap_or("").to_string())
                .collect()
        }),
        present: header
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default(),
        signing_time: time(SIGNING_TIME)?,
        expiry: time(EXPIRY)?,
        chain,
    })
}

/// A COSE_Sign1 envelope (RFC 9052): the algorithm by its COSE number, the times as CBOR
/// epoch dates (tag 1), the chain in `x5chain` (label 33, RFC 9360).
fn parse_cose(envelope: &[u8]) -> Result<Envelope, String> {
    use ciborium::Value as Cbor;
    let bad = |what: &str| format!("the COSE envelope {what}");
    let value: Cbor =
        ciborium::from_reader(envelope).map_err(|e| bad(&format!("is not CBOR: {e}")))?;
    let parts = match value {
        Cbor::Tag(18, inner) => *inner,
        other => other,
    };
    let Cbor::Array(parts) = parts else {
        return Err(bad("is not a COSE_Sign1 array"));
    };
    let [
        Cbor::Bytes(protected),
        Cbor::Map(unprotected),
        Cbor::Bytes(payload),
        Cbor::Bytes(signature),
    ] = <[Cbor; 4]>::try_from(parts).map_err(|_| bad("does not have four parts"))?
    else {
        return Err(bad(
            "parts are not protected bytes, a map, payload bytes and a signature",
        ));
    };
    let header: Cbor = ciborium::from_reader(protected.as_slice())
        .map_err(|e| bad(&format!("protected header is not CBOR: {e}")))?;
    let Cbor::Map(header) = header else {
        return Err(bad("protected header is not a map"));
    };
    let label = |k: &Cbor| match k {
        Cbor::Integer(i) => i128::from(*i).to_string(),
        Cbor::Text(t) => t.clone(),
        _ => String::new(),
    };
    let get = |name: &str| {
        header
            .iter()
            .find(|(k, _)| label(k) == name)
            .map(|(_, v)| v)
    };
    let text = |name: &str| get(name).and_then(|v| v.as_text()).map(str::to_string);
    let time = |name: &str| -> Result<Option<u64>, String> {
        match get(name) {
            None => Ok(None),
            Some(Cbor::Tag(1, t)) => match t.as_ref() {
                Cbor::Integer(i) => u64::try_from(i128::from(*i))
                    .map(Some)
                    .map_err(|_| format!("{name} is before 1970")),
                _ => Err(format!("{name} is not an epoch date")),
            },
            Some(_) => Err(format!("{name} is not a tagged date (CBOR tag 1)")),
        }
    };
    let alg = match get("1").and_then(|v| v.as_integer()).map(i128::from) {
        Some(-7) => "ES256",
        Some(-35) => "ES384",
        Some(-36) => "ES512",
        Some(-37) => "PS256",
        Some(-38) => "PS384",
        Some(-39) => "PS512",
        Some(other) => return Err(format!("COSE algorithm {other} is not supported")),
        None => return Err(bad("protected header has no algorithm")),
    };
    let chain = match unprotected
        .iter()
        .find(|(k, _)| label(k) == "33")
        .map(|(_, v)| v)
    {
        Some(Cbor::Array(certs)) => certs
            .iter()
            .map(|c| {
                c.as_bytes()
                    .cloned()
                    .ok_or_else(|| bad("x5chain holds a non-byte-string"))
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(Cbor::Bytes(one)) => vec![one.clone()],
        _ => return Err(bad("has no x5chain certificate chain")),
    };
    // Sig_structure: ["Signature1", protected, external_aad, payload]
    let to_sign = Cbor::Array(vec![
        Cbor::Text("Signature1".into()),
        Cbor::Bytes(protected.clone()),
        Cbor::Bytes(Vec::new()),
        Cbor::Bytes(payload.clone()),
    ]);
    let mut signing_input = Vec::new();
    ciborium::into_writer(&to_sign, &mut signing_input).map_err(|e| e.to_string())?;
    Ok(Envelope {
        alg: alg.to_string(),
        signing_input,
        signature,
        payload,
        scheme: text(SCHEME),
        content_type: text("3"),
        crit: get("2")
            .and_then(|v| v.as_array())
            .map(|a| a.iter().map(label).collect()),
        present: header.iter().map(|(k, _)| label(k)).collect(),
        signing_time: time(SIGNING_TIME)?,
        expiry: time(EXPIRY)?,
        chain,
    })
}

/// Verifies one envelope (`media_type`, `envelope` bytes: JWS or COSE) as a signature of
/// `target` by a certificate that `trust` trusts, at `now` (seconds since the epoch); why not
/// when it is not.
pub fn verify_envelope(
    media_type: &str,
    envelope: &[u8],
    target: &Target,
    trust: &TrustStore,
    now: u64,
) -> Result<(), String> {
    let env = match media_type {
        JWS_MEDIA_TYPE => parse_jws(envelope)?,
        COSE_MEDIA_TYPE => parse_cose(envelope)?,
        other => {
            return Err(format!(
                "signature envelope type {other:?} is not supported (JWS {JWS_MEDIA_TYPE} and COSE {COSE_MEDIA_TYPE} are)"
            ));
        }
    };
    // the protected header
    match env.scheme.as_deref() {
        Some("notary.x509") => {}
        Some(other) => {
            return Err(format!(
                "signing scheme {other:?} is not supported (notary.x509 is; the trust store is a CA store)"
            ));
        }
        None => return Err(format!("the protected header has no {SCHEME}")),
    }
    if env.content_type.as_deref() != Some(PAYLOAD_CONTENT_TYPE) {
        return Err(format!(
            "the payload content type is {:?}, not {PAYLOAD_CONTENT_TYPE:?}",
            env.content_type.as_deref().unwrap_or("")
        ));
    }
    let crit = env
        .crit
        .as_ref()
        .ok_or("the protected header has no crit list")?;
    let required = [Some(SCHEME), env.expiry.map(|_| EXPIRY)];
    for required in required.into_iter().flatten() {
        if !crit.iter().any(|c| c == required) {
            return Err(format!(
                "{required} is not marked critical in the protected header"
            ));
        }
    }
    if let Some(unknown) = crit.iter().find(|c| {
        ![SCHEME, EXPIRY, AUTHENTIC_SIGNING_TIME].contains(&c.as_str()) || !env.present.contains(c)
    }) {
        return Err(format!(
            "critical header {unknown:?} is not known or not present"
        ));
    }
    let signing_time = env
        .signing_time
        .ok_or(format!("the protected header has no {SIGNING_TIME}"))?;
    let expiry = env.expiry;
    let chain = &env.chain;
    // the signature (integrity)
    let leaf = chain.first().ok_or("the certificate chain is empty")?;
    let spki = cert_spki(leaf).ok_or("the signing certificate does not parse")?;
    let key =
        PublicKey::from_spki_der("the signing certificate", spki).map_err(|e| e.to_string())?;
    key.verify_jws(&env.alg, &env.signing_input, &env.signature)?;
    let payload = &env.payload;
    // what was signed
    let payload: Value = serde_json::from_slice(payload)
        .map_err(|e| format!("the signed payload is not JSON: {e}"))?;
    let signed = payload
        .get("targetArtifact")
        .ok_or("the signed payload has no targetArtifact")?;
    let signed_target = Target {
        media_type: signed
            .get("mediaType")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        digest: signed
            .get("digest")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        size: signed.get("size").and_then(Value::as_u64).unwrap_or(0),
    };
    if &signed_target != target {
        return Err(format!(
            "the signature is for {} ({}, {} bytes), not for {} ({}, {} bytes)",
            signed_target.digest,
            signed_target.media_type,
            signed_target.size,
            target.digest,
            target.media_type,
            target.size
        ));
    }
    // authenticity
    check_chain(chain, trust, signing_time)?;
    // expiry
    if let Some(expiry) = expiry
        && now > expiry
    {
        return Err(format!(
            "digital signature has expired on {}",
            rampart_core::civil::rfc3339(i64::try_from(expiry).unwrap_or(i64::MAX))
        ));
    }
    // authentic timestamp: without a countersignature, every certificate valid now
    for (i, cert) in chain.iter().enumerate() {
        let (from, until) =
            cert_validity(cert).ok_or("a certificate of the chain does not parse")?;
        if now < from || now > until {
            return Err(format!(
                "certificate {} of the chain is not valid now (valid from {} to {})",
                i + 1,
                rampart_core::civil::rfc3339(i64::try_from(from).unwrap_or(0)),
                rampart_core::civil::rfc3339(i64::try_from(until).unwrap_or(i64::MAX))
            ));
        }
    }
    Ok(())
}

/// The signing certificate (`chain[0]`) chains to a certificate of `chain` that `trust`
/// trusts, through the certificates of `chain` before it, at `at`.
fn check_chain(chain: &[Vec<u8>], trust: &TrustStore, at: u64) -> Result<(), String> {
    let Some(k) = chain.iter().position(|c| trust.certs.contains(c)) else {
        return Err(
            "the signature's certificate chain contains no trusted certificate (the signature is not produced by a trusted signer)"
                .into(),
        );
    };
    let leaf = chain.first().ok_or("the certificate chain is empty")?;
    if let Some((_, ku)) = extensions(leaf)
        .into_iter()
        .find(|(oid, _)| *oid == OID_KEY_USAGE)
    {
        // BIT STRING: unused bits, then the flags; digitalSignature is the first bit
        let digital_signature = crate::keyless::tlv(ku)
            .and_then(|(_, bits, _, _)| bits.get(1).copied())
            .is_some_and(|b| b & 0x80 != 0);
        if !digital_signature {
            return Err(
                "the signing certificate's key usage does not allow digital signatures".into(),
            );
        }
    }
    if k == 0 {
        // the signing certificate itself is trusted: it must be valid at the signing time
        let (from, until) = cert_validity(leaf).ok_or("the signing certificate does not parse")?;
        if at < from || at > until {
            return Err("the signing certificate was not valid at the signing time".into());
        }
        return Ok(());
    }
    let leaf_der = CertificateDer::from(leaf.as_slice());
    let ee = webpki::EndEntityCert::try_from(&leaf_der)
        .map_err(|e| format!("the signing certificate does not parse: {e:?}"))?;
    let anchor_der = CertificateDer::from(chain.get(k).map_or(&[][..], Vec::as_slice));
    let anchor = webpki::anchor_from_trusted_cert(&anchor_der)
        .map_err(|e| format!("the trusted certificate does not parse: {e:?}"))?;
    let intermediates: Vec<CertificateDer<'_>> = chain
        .get(1..k)
        .unwrap_or(&[])
        .iter()
        .map(|c| CertificateDer::from(c.as_slice()))
        .collect();
    chains_to(&ee, &[anchor], &intermediates, at).map_err(|e| {
        format!("the signing certificate does not chain to the trusted certificate at the signing time: {e}")
    })
}

/// The descriptor of `r`'s manifest at `reference` (a tag or digest), or why not.
async fn descriptor(
    client: &Client,
    r: &Reference,
    reference: &str,
) -> Result<Target, crate::Error> {
    let m = client
        .manifest(r, reference)
        .await?
        .ok_or_else(|| crate::Error::Registry(format!("{r}: manifest unknown")))?;
    Ok(Target {
        media_type: m.media_type,
        digest: m.digest,
        size: m.bytes.len() as u64,
    })
}

/// `image`'s reference and the descriptor of the manifest it names.
async fn resolve(client: &Client, image: &str) -> Result<(Reference, Target), crate::Error> {
    let r = Reference::parse(image)?;
    let target = descriptor(client, &r, r.manifest_ref()).await?;
    Ok((r, target))
}

/// Why the notation signatures of the artifact `target` (in `r`'s repository) do not verify
/// with `trust`; `Ok` when one does. An unreachable registry is an `Err(Error)`.
async fn verify_target(
    client: &Client,
    r: &Reference,
    target: &Target,
    trust: &TrustStore,
    now: u64,
    shown: &str,
) -> Result<Result<(), String>, crate::Error> {
    let referrers = client.referrers(r, &target.digest).await?;
    let signatures: Vec<_> = referrers
        .iter()
        .filter(|m| m.artifact_type.as_deref() == Some(SIGNATURE_ARTIFACT_TYPE))
        .take(MAX_SIGNATURE_ATTEMPTS)
        .collect();
    if signatures.is_empty() {
        return Ok(Err(format!(
            "no signature is associated with {shown}, make sure the artifact was signed successfully"
        )));
    }
    let mut reasons = Vec::new();
    for (i, s) in signatures.iter().enumerate() {
        let checked = match signature_envelope(client, r, &s.digest).await? {
            Ok((media_type, bytes)) => verify_envelope(&media_type, &bytes, target, trust, now),
            Err(why) => Err(why),
        };
        match checked {
            Ok(()) => return Ok(Ok(())),
            Err(why) => reasons.push(format!("signature {}: {why}", i + 1)),
        }
    }
    Ok(Err(format!(
        "signature verification failed for all the signatures associated with {shown}: {}",
        reasons.join("; ")
    )))
}

/// The manifest `digest` of `r`'s repository as JSON, or why not (`what` names it); an
/// unreachable registry is the outer error.
async fn manifest_json(
    client: &Client,
    r: &Reference,
    digest: &str,
    what: &str,
) -> Result<Result<Value, String>, crate::Error> {
    let Some(m) = client.manifest(r, digest).await? else {
        return Ok(Err(format!("{what} manifest {digest} not found")));
    };
    Ok(serde_json::from_slice::<Value>(&m.bytes)
        .map_err(|_| format!("{what} manifest {digest} is not JSON")))
}

/// The blob a layer descriptor names, or why not; an unreachable registry is the outer error.
async fn layer_blob(
    client: &Client,
    r: &Reference,
    layer: &Value,
) -> Result<Result<crate::registry::Bytes, String>, crate::Error> {
    let blob = layer.get("digest").and_then(Value::as_str).unwrap_or("");
    match client.blob(r, blob).await {
        Ok(bytes) => Ok(Ok(bytes)),
        Err(e @ crate::Error::Unreachable(_)) => Err(e),
        Err(e) => Ok(Err(e.to_string())),
    }
}

/// The envelope of the signature manifest `digest`: its one layer's media type and bytes.
async fn signature_envelope(
    client: &Client,
    r: &Reference,
    digest: &str,
) -> Result<Result<(String, Vec<u8>), String>, crate::Error> {
    let m = match manifest_json(client, r, digest, "signature").await? {
        Ok(m) => m,
        Err(why) => return Ok(Err(why)),
    };
    let Some(layer) = m
        .get("layers")
        .and_then(Value::as_array)
        .and_then(|l| l.first())
    else {
        return Ok(Err(format!("signature manifest {digest} has no layer")));
    };
    let media_type = layer
        .get("mediaType")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    Ok(layer_blob(client, r, layer)
        .await?
        .map(|bytes| (media_type, bytes.to_vec())))
}

/// Verifies `image`'s Notary Project signatures with the trusted certificates `trust_pem`, at
/// `now` (seconds since the epoch). `Ok(1)` when one verifies.
pub async fn verify_image(client: &Client, image: &str, trust_pem: &str, now: u64) -> Verification {
    let failed = |digest: Option<String>, e: crate::Error| Verification {
        image: image.to_string(),
        digest,
        unreachable: matches!(e, crate::Error::Unreachable(_)),
        result: Err(e.to_string()),
    };
    let (r, target) = match resolve(client, image).await {
        Ok(found) => found,
        Err(e) => return failed(None, e),
    };
    let digest = Some(target.digest.clone());
    let trust = match TrustStore::from_pem(trust_pem) {
        Ok(t) => t,
        Err(why) => return failed(digest, crate::Error::Key(why)),
    };
    match verify_target(client, &r, &target, &trust, now, image).await {
        Ok(result) => Verification {
            image: image.to_string(),
            digest,
            result: result.map(|()| 1),
            unreachable: false,
        },
        Err(e) => failed(digest, e),
    }
}

/// The attestations of `image` of `artifact_type` (referrers of that type), each signed with
/// notation by a certificate `trust_pem` trusts (when it is not empty; Kyverno skips the check
/// without certificates), as Kyverno's Notary verifier reads them: the first such referrer's
/// statement. An error when there are more than 50 referrers or none of the type verifies.
pub async fn attestations(
    client: &Client,
    image: &str,
    artifact_type: &str,
    trust_pem: &str,
    now: u64,
) -> crate::verify::Attestations {
    let done = |digest: Option<String>, result: Result<Vec<Value>, String>, unreachable: bool| {
        crate::verify::Attestations {
            image: image.to_string(),
            digest,
            result,
            unreachable,
        }
    };
    let failed = |digest: Option<String>, e: crate::Error| {
        let unreachable = matches!(e, crate::Error::Unreachable(_));
        done(digest, Err(e.to_string()), unreachable)
    };
    let (r, target) = match resolve(client, image).await {
        Ok(found) => found,
        Err(e) => return failed(None, e),
    };
    let digest = Some(target.digest.clone());
    let trust = if trust_pem.trim().is_empty() {
        None
    } else {
        match TrustStore::from_pem(trust_pem) {
            Ok(t) => Some(t),
            Err(why) => return failed(digest, crate::Error::Key(why)),
        }
    };
    let referrers = match client.referrers(&r, &target.digest).await {
        Ok(list) => list,
        Err(e) => return failed(digest, e),
    };
    if referrers.len() > MAX_REFERRERS {
        return done(
            digest,
            Err(format!(
                "failed to fetch referrers: too many referrers found, max limit is {MAX_REFERRERS}"
            )),
            false,
        );
    }
    let Some(found) = referrers
        .iter()
        .find(|m| m.artifact_type.as_deref() == Some(artifact_type))
    else {
        return done(
            digest,
            Err(format!(
                "no matching attestations found for image {image} with type {artifact_type}"
            )),
            false,
        );
    };
    let attested = match descriptor(client, &r, &found.digest).await {
        Ok(t) => t,
        Err(e) => return failed(digest, e),
    };
    if let Some(trust) = &trust {
        let shown = format!("{}@{}", r.name(), attested.digest);
        match verify_target(client, &r, &attested, trust, now, &shown).await {
            Ok(Ok(())) => {}
            Ok(Err(why)) => return done(digest, Err(why), false),
            Err(e) => return failed(digest, e),
        }
    }
    match statement(client, &r, &found.digest, artifact_type).await {
        Ok(Ok(s)) => done(digest, Ok(vec![s]), false),
        Ok(Err(why)) => done(digest, Err(why), false),
        Err(e) => failed(digest, e),
    }
}

/// An attestation referrer as a statement: its manifest, with `type` and `predicate` (its one
/// layer, JSON) when it does not have them.
async fn statement(
    client: &Client,
    r: &Reference,
    digest: &str,
    artifact_type: &str,
) -> Result<Result<Value, String>, crate::Error> {
    let mut manifest = match manifest_json(client, r, digest, "attestation").await? {
        Ok(m) => m,
        Err(why) => return Ok(Err(why)),
    };
    let layers = manifest
        .get("layers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let layer = match layers.as_slice() {
        [one] => one,
        [] => return Ok(Err(format!("no predicate found in {digest}"))),
        _ => {
            return Ok(Err(format!(
                "multiple layers in predicate not supported ({digest})"
            )));
        }
    };
    let bytes = match layer_blob(client, r, layer).await? {
        Ok(b) => b,
        Err(why) => return Ok(Err(why)),
    };
    let predicate: Value = match serde_json::from_slice(&bytes) {
        Ok(p) => p,
        Err(e) => return Ok(Err(format!("the predicate of {digest} is not JSON: {e}"))),
    };
    if let Some(o) = manifest.as_object_mut() {
        o.entry("type")
            .or_insert_with(|| Value::String(artifact_type.to_string()));
        o.entry("predicate").or_insert(predicate);
    }
    Ok(Ok(manifest))
}
