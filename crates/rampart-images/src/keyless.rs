//! Keyless (Fulcio certificate) cosign signatures, verified offline against a Sigstore
//! `trusted_root.json`: the signing certificate chains to a Fulcio CA of the root and was valid
//! when the Rekor log integrated the entry, its identity (SAN e-mail or URI) and OIDC issuer
//! match the policy, the Rekor signed entry timestamp verifies with a log key of the root, and
//! the logged entry is this signature over this payload. Certificate transparency (SCT) checks
//! are not done.

use crate::Error;
use crate::keys::PublicKey;
use crate::registry::sha256_digest;
use base64::Engine as _;
use rustls_pki_types::{CertificateDer, UnixTime};
use std::time::Duration;

/// Layer annotations cosign writes for keyless signatures.
pub const CERTIFICATE_ANNOTATION: &str = "dev.sigstore.cosign/certificate";
pub const CHAIN_ANNOTATION: &str = "dev.sigstore.cosign/chain";
pub const BUNDLE_ANNOTATION: &str = "dev.sigstore.cosign/bundle";

/// Fulcio's OIDC issuer extensions: the raw-string one (v1) and the DER UTF8String one (v2).
const OID_ISSUER_V1: &[u8] = &[0x2b, 6, 1, 4, 1, 0x83, 0xbf, 0x30, 1, 1];
const OID_ISSUER_V2: &[u8] = &[0x2b, 6, 1, 4, 1, 0x83, 0xbf, 0x30, 1, 8];
const OID_SAN: &[u8] = &[0x55, 0x1d, 0x11];
const OID_EKU: &[u8] = &[0x55, 0x1d, 0x25];
/// id-kp-codeSigning.
const CODE_SIGNING: &[u8] = &[0x2b, 6, 1, 5, 5, 7, 3, 3];

/// A string matched exactly or by a regular expression (anchored).
#[derive(Debug, Clone)]
pub enum Matcher {
    Exact(String),
    Regex(regex::Regex),
}

impl Matcher {
    /// An anchored regular expression.
    pub fn regex(re: &str) -> Result<Matcher, Error> {
        regex::Regex::new(&format!("^(?:{re})$"))
            .map(Matcher::Regex)
            .map_err(|e| Error::Key(format!("bad regular expression {re:?}: {e}")))
    }

    pub fn matches(&self, s: &str) -> bool {
        match self {
            Matcher::Exact(e) => e == s,
            Matcher::Regex(r) => r.is_match(s),
        }
    }
}

impl std::fmt::Display for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Matcher::Exact(e) => write!(f, "{e:?}"),
            Matcher::Regex(r) => write!(f, "/{}/", r.as_str()),
        }
    }
}

/// Who may have signed: a certificate identity and the OIDC issuer that vouched for it, and
/// the Fulcio extensions its certificate must carry.
#[derive(Debug, Clone)]
pub struct Identity {
    pub subject: Matcher,
    pub issuer: Matcher,
    /// Each extension's value must match (all of them).
    pub extensions: Vec<Extension>,
}

/// Fulcio's first certificate extensions, whose values are the raw strings (cosign's
/// `CertExtensionMap`): OID arc under 1.3.6.1.4.1.57264.1, and the name cosign and Kyverno
/// give it.
const FULCIO_EXTENSIONS: [(u8, &str); 6] = [
    (1, "oidcIssuer"),
    (2, "githubWorkflowTrigger"),
    (3, "githubWorkflowSha"),
    (4, "githubWorkflowName"),
    (5, "githubWorkflowRepository"),
    (6, "githubWorkflowRef"),
];

/// A Fulcio certificate extension whose value must match: the OIDC issuer or one of the
/// GitHub workflow's trigger, SHA, name, repository and ref (cosign's
/// `--certificate-github-workflow-*`, Kyverno's keyless `additionalExtensions`).
#[derive(Debug, Clone)]
pub struct Extension {
    /// The key as given: the name (`githubWorkflowRef`) or the dotted OID.
    pub key: String,
    arc: u8,
    pub value: Matcher,
    /// The value as written, for messages.
    pub expected: String,
}

impl Extension {
    /// The extension named by `key`, a name of cosign's (`githubWorkflowTrigger`) or its OID
    /// (`1.3.6.1.4.1.57264.1.2`), whose value `value` (written `expected`) must match; an
    /// error for any other key, as cosign and Kyverno raise.
    pub fn new(key: &str, expected: &str, value: Matcher) -> Result<Extension, Error> {
        let arc = FULCIO_EXTENSIONS
            .iter()
            .find(|(arc, name)| *name == key || key == format!("1.3.6.1.4.1.57264.1.{arc}"))
            .map(|(arc, _)| *arc)
            .ok_or_else(|| Error::Key(format!("invalid certificate extension {key}")))?;
        Ok(Extension {
            key: key.to_string(),
            arc,
            value,
            expected: expected.to_string(),
        })
    }

    /// Why `cert` does not carry the value (the received value is empty when it lacks the
    /// extension, as cosign reads it).
    fn check(&self, cert: &[u8]) -> Result<(), String> {
        let oid = [0x2b, 6, 1, 4, 1, 0x83, 0xbf, 0x30, 1, self.arc];
        let got = extensions(cert)
            .into_iter()
            .find(|(o, _)| *o == oid)
            .map(|(_, v)| String::from_utf8_lossy(v).to_string())
            .unwrap_or_default();
        if self.value.matches(&got) {
            Ok(())
        } else {
            Err(format!(
                "extension mismatch: expected {} for key {}, received {got}",
                self.expected, self.key
            ))
        }
    }
}

/// The parts of a Sigstore `trusted_root.json` used here.
#[derive(Debug, Clone, Default)]
pub struct TrustedRoot {
    /// Each Fulcio CA's chain, as DER: the first is the issuing CA, the last the root.
    pub fulcio_chains: Vec<Vec<Vec<u8>>>,
    /// Rekor log keys by log id (SHA-256 of the key's DER).
    pub rekor_keys: Vec<(Vec<u8>, PublicKey)>,
    /// When each Fulcio CA (same order as `fulcio_chains`) issued certificates; one missing
    /// is valid at all times.
    pub fulcio_valid: Vec<Validity>,
    /// When each log key (same order as `rekor_keys`) signed entries.
    pub rekor_valid: Vec<Validity>,
}

/// A trusted root entry's `validFor`: Unix seconds, each end open when absent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Validity {
    pub start: Option<i64>,
    pub end: Option<i64>,
}

impl Validity {
    /// Whether `t` (Unix seconds) lies within.
    pub fn contains(&self, t: u64) -> bool {
        let t = i64::try_from(t).unwrap_or(i64::MAX);
        self.start.is_none_or(|s| s <= t) && self.end.is_none_or(|e| t <= e)
    }

    fn of(entry: &serde_json::Value, what: &str) -> Result<Validity, String> {
        let at = |k: &str| -> Result<Option<i64>, String> {
            match entry
                .pointer(&format!("/validFor/{k}"))
                .and_then(|v| v.as_str())
            {
                None => Ok(None),
                Some(s) => rampart_core::civil::parse_rfc3339(s)
                    .and_then(|ns| i64::try_from(ns / 1_000_000_000).ok())
                    .map(Some)
                    .ok_or_else(|| format!("{what}.validFor.{k} {s:?} is not an RFC 3339 time")),
            }
        };
        Ok(Validity {
            start: at("start")?,
            end: at("end")?,
        })
    }
}

impl TrustedRoot {
    /// Parses `trusted_root.json` (`certificateAuthorities[].certChain.certificates[].rawBytes`,
    /// `tlogs[].publicKey.rawBytes` and `tlogs[].logId.keyId`).
    pub fn from_json(name: &str, text: &str) -> Result<TrustedRoot, Error> {
        let bad = |message: String| Error::Input {
            file: name.to_string(),
            line: 0,
            column: 0,
            message,
        };
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| Error::Input {
            file: name.to_string(),
            line: u32::try_from(e.line()).unwrap_or(0),
            column: u32::try_from(e.column()).unwrap_or(0),
            message: format!("not a Sigstore trusted root: {e}"),
        })?;
        let b64 = |s: Option<&str>, what: &str| {
            s.and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
                .ok_or_else(|| bad(format!("{what} is missing or not base64")))
        };
        let mut root = TrustedRoot::default();
        for (i, ca) in v
            .get("certificateAuthorities")
            .and_then(|c| c.as_array())
            .into_iter()
            .flatten()
            .enumerate()
        {
            let certs = ca
                .pointer("/certChain/certificates")
                .and_then(|c| c.as_array())
                .ok_or_else(|| bad(format!("certificateAuthorities[{i}] has no certChain")))?;
            let chain = certs
                .iter()
                .map(|c| {
                    b64(
                        c.get("rawBytes").and_then(|r| r.as_str()),
                        &format!("certificateAuthorities[{i}].certChain rawBytes"),
                    )
                })
                .collect::<Result<Vec<_>, _>>()?;
            root.fulcio_chains.push(chain);
            root.fulcio_valid
                .push(Validity::of(ca, &format!("certificateAuthorities[{i}]")).map_err(&bad)?);
        }
        for (i, t) in v
            .get("tlogs")
            .and_then(|c| c.as_array())
            .into_iter()
            .flatten()
            .enumerate()
        {
            let der = b64(
                t.pointer("/publicKey/rawBytes").and_then(|r| r.as_str()),
                &format!("tlogs[{i}].publicKey.rawBytes"),
            )?;
            let id = b64(
                t.pointer("/logId/keyId").and_then(|r| r.as_str()),
                &format!("tlogs[{i}].logId.keyId"),
            )?;
            let key = PublicKey::from_spki_der(&format!("{name}: tlogs[{i}]"), &der)?;
            root.rekor_keys.push((id, key));
            root.rekor_valid.push(
                Validity::of(&t["publicKey"], &format!("tlogs[{i}].publicKey")).map_err(&bad)?,
            );
        }
        if root.fulcio_chains.is_empty() {
            return Err(bad(
                "no certificateAuthorities (Fulcio) in the trusted root".into(),
            ));
        }
        Ok(root)
    }
}

/// A keyless verification policy.
#[derive(Debug, Clone)]
pub struct KeylessPolicy {
    pub root: TrustedRoot,
    /// Any of these identities may have signed.
    pub identities: Vec<Identity>,
}

/// What the transparency-log entry must record.
#[derive(Clone, Copy)]
pub(crate) enum Logged<'a> {
    /// A signature (a `hashedrekord` entry): this base64 signature over this payload.
    Signature { payload: &'a [u8], sig_b64: &'a str },
    /// An attestation (an `intoto` or `dsse` entry): this DSSE envelope, as the layer holds it.
    Envelope(&'a [u8]),
}

/// Verifies one signature layer keylessly; why not when it does not.
pub(crate) fn verify_layer(
    policy: &KeylessPolicy,
    annotations: &serde_json::Value,
    payload: &[u8],
    sig: &[u8],
    sig_b64: &str,
) -> Result<(), String> {
    verify_signed(
        policy,
        annotations,
        payload,
        sig,
        Logged::Signature { payload, sig_b64 },
    )
}

/// Verifies keylessly that `sig` over `signed` (a payload, or a DSSE envelope's
/// pre-authentication encoding) was made with the layer's certificate, which the log recorded
/// with `logged`.
pub(crate) fn verify_signed(
    policy: &KeylessPolicy,
    annotations: &serde_json::Value,
    payload: &[u8],
    sig: &[u8],
    logged: Logged<'_>,
) -> Result<(), String> {
    let pem = annotations
        .get(CERTIFICATE_ANNOTATION)
        .and_then(|c| c.as_str())
        .ok_or_else(|| {
            format!("no {CERTIFICATE_ANNOTATION} annotation (not a keyless signature)")
        })?;
    let mut certs = pem_certs(pem);
    let leaf = certs
        .first()
        .cloned()
        .ok_or_else(|| "the certificate annotation holds no certificate".to_string())?;
    certs.clear();
    if let Some(chain) = annotations.get(CHAIN_ANNOTATION).and_then(|c| c.as_str()) {
        certs = pem_certs(chain);
    }
    // The signature over the payload, with the certificate's key.
    let spki = cert_spki(&leaf).ok_or_else(|| "the certificate does not parse".to_string())?;
    let key = PublicKey::from_spki_der("the certificate", spki).map_err(|e| e.to_string())?;
    if !key.verify(payload, sig) {
        return Err("the signature does not verify with the certificate's key".to_string());
    }
    check_code_signing(&leaf)?;
    // The Rekor bundle: when the entry was logged, and that the log vouches for it.
    let bundle: serde_json::Value = annotations
        .get(BUNDLE_ANNOTATION)
        .and_then(|b| b.as_str())
        .ok_or_else(|| format!("no {BUNDLE_ANNOTATION} annotation (no transparency-log entry)"))
        .and_then(|b| serde_json::from_str(b).map_err(|e| format!("bad Rekor bundle: {e}")))?;
    let integrated = check_bundle(policy, &bundle, &leaf, logged)?;
    check_certificate(policy, &leaf, &certs, integrated)
}

/// Checks that `leaf` is a code-signing certificate that chains (through `chain`, the
/// signature's own intermediates, if any) to a Fulcio CA of the trusted root at `integrated`,
/// the time the log integrated the entry, and whose identity one of the policy's identities
/// accepts.
pub(crate) fn check_certificate(
    policy: &KeylessPolicy,
    leaf: &[u8],
    chain: &[Vec<u8>],
    integrated: u64,
) -> Result<(), String> {
    check_code_signing(leaf)?;
    // The chain to a Fulcio CA, at the time of logging.
    let leaf_der = CertificateDer::from(leaf);
    let ee = webpki::EndEntityCert::try_from(&leaf_der)
        .map_err(|e| format!("the certificate does not parse: {e:?}"))?;
    let mut last = String::from("no Fulcio CA in the trusted root");
    let mut chained = false;
    for (i, ca) in policy.root.fulcio_chains.iter().enumerate() {
        let Some(root_der) = ca.last() else {
            continue;
        };
        if let Some(v) = policy.root.fulcio_valid.get(i)
            && !v.contains(integrated)
        {
            last = format!(
                "the Fulcio CA {} of the trusted root did not issue certificates at that time (its validFor)",
                i + 1
            );
            continue;
        }
        let root_cert = CertificateDer::from(root_der.as_slice());
        let Ok(anchor) = webpki::anchor_from_trusted_cert(&root_cert) else {
            continue;
        };
        let mut intermediates: Vec<CertificateDer<'_>> = ca
            .iter()
            .take(ca.len().saturating_sub(1))
            .map(|c| CertificateDer::from(c.as_slice()))
            .collect();
        intermediates.extend(chain.iter().map(|c| CertificateDer::from(c.as_slice())));
        match chains_to(&ee, &[anchor], &intermediates, integrated) {
            Ok(()) => {
                chained = true;
                break;
            }
            Err(e) => last = e,
        }
    }
    if !chained {
        return Err(format!(
            "the certificate does not chain to a Fulcio CA of the trusted root at the time it was logged ({integrated}): {last}"
        ));
    }
    // The identity.
    let (sans, issuer) = cert_identity(leaf);
    let issuer = issuer.unwrap_or_default();
    let mut extension_error = None;
    let ok = policy.identities.iter().any(|id| {
        id.issuer.matches(&issuer)
            && sans.iter().any(|s| id.subject.matches(s))
            && match id.extensions.iter().try_for_each(|e| e.check(leaf)) {
                Ok(()) => true,
                Err(e) => {
                    extension_error.get_or_insert(e);
                    false
                }
            }
    });
    if let (false, Some(e)) = (ok, extension_error) {
        return Err(format!("the certificate's identity matches, but {e}"));
    }
    if !ok {
        let wanted: Vec<String> = policy
            .identities
            .iter()
            .map(|id| format!("{} from {}", id.subject, id.issuer))
            .collect();
        return Err(format!(
            "the certificate's identity {} from issuer {issuer:?} is not {}",
            if sans.is_empty() {
                "(none)".to_string()
            } else {
                sans.iter()
                    .map(|s| format!("{s:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
            wanted.join(" or ")
        ));
    }
    Ok(())
}

/// Whether the certificate `ee` chains to one of `anchors` through `intermediates` at `at`
/// (seconds since the epoch), for code signing when it names extended key usages; webpki's
/// reason when it does not.
pub(crate) fn chains_to(
    ee: &webpki::EndEntityCert<'_>,
    anchors: &[rustls_pki_types::TrustAnchor<'_>],
    intermediates: &[CertificateDer<'_>],
    at: u64,
) -> Result<(), String> {
    let algs = rustls::crypto::aws_lc_rs::default_provider()
        .signature_verification_algorithms
        .all;
    ee.verify_for_usage(
        algs,
        anchors,
        intermediates,
        UnixTime::since_unix_epoch(Duration::from_secs(at)),
        webpki::KeyUsage::required_if_present(CODE_SIGNING),
        None,
        None,
    )
    .map(|_| ())
    .map_err(|e| format!("{e:?}"))
}

fn check_code_signing(leaf: &[u8]) -> Result<(), String> {
    if has_code_signing(leaf) {
        Ok(())
    } else {
        Err("the certificate is not for code signing (no extended key usage codeSigning)".into())
    }
}

/// Checks the Rekor signed entry timestamp and that the entry is this signature; the time the
/// entry was integrated.
fn check_bundle(
    policy: &KeylessPolicy,
    bundle: &serde_json::Value,
    leaf: &[u8],
    logged: Logged<'_>,
) -> Result<u64, String> {
    let set = bundle
        .get("SignedEntryTimestamp")
        .and_then(|s| s.as_str())
        .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
        .ok_or_else(|| "the Rekor bundle has no SignedEntryTimestamp".to_string())?;
    let p = bundle
        .get("Payload")
        .ok_or_else(|| "the Rekor bundle has no Payload".to_string())?;
    let body = p.get("body").and_then(|b| b.as_str()).unwrap_or("");
    let integrated = p
        .get("integratedTime")
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| "the Rekor bundle has no integratedTime".to_string())?;
    let index = p
        .get("logIndex")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0);
    let log_id = p.get("logID").and_then(|b| b.as_str()).unwrap_or("");
    let entry = check_set(policy, &set, body, integrated, index, log_id)?;
    let text = |p: &str| entry.pointer(p).and_then(|s| s.as_str()).unwrap_or("");
    let certs_at = |p: &str| {
        base64::engine::general_purpose::STANDARD
            .decode(text(p))
            .ok()
            .and_then(|pem| String::from_utf8(pem).ok())
            .map(|pem| pem_certs(&pem))
            .unwrap_or_default()
    };
    match logged {
        Logged::Signature { payload, sig_b64 } => {
            let logged_cert = certs_at("/spec/signature/publicKey/content");
            let payload_hash = sha256_digest(payload);
            if text("/spec/signature/content") != sig_b64.trim()
                || Some(text("/spec/data/hash/value")) != payload_hash.strip_prefix("sha256:")
                || logged_cert.first().map(Vec::as_slice) != Some(leaf)
            {
                return Err(
                    "the Rekor entry is for another signature, payload or certificate".into(),
                );
            }
        }
        Logged::Envelope(envelope) => {
            // cosign: the entry's hash is the envelope's, its key the certificate
            let (hash, key) = match (text("/kind"), text("/apiVersion")) {
                ("intoto", "0.0.2") => (
                    "/spec/content/hash/value",
                    "/spec/content/envelope/signatures/0/publicKey",
                ),
                ("intoto", _) => ("/spec/content/hash/value", "/spec/publicKey"),
                ("dsse", _) => ("/spec/envelopeHash/value", "/spec/signatures/0/verifier"),
                (kind, version) => {
                    return Err(format!(
                        "the Rekor entry is a {kind} {version} entry, not an attestation's (intoto or dsse)"
                    ));
                }
            };
            let envelope_hash = sha256_digest(envelope);
            if Some(text(hash)) != envelope_hash.strip_prefix("sha256:")
                || certs_at(key).first().map(Vec::as_slice) != Some(leaf)
            {
                return Err("the Rekor entry is for another attestation or certificate".into());
            }
        }
    }
    Ok(integrated)
}

/// Checks a Rekor signed entry timestamp `set`: the signature, by the key of the log `log_id`
/// (hex) in the trusted root, over the entry's canonical JSON. The logged entry, decoded.
pub(crate) fn check_set(
    policy: &KeylessPolicy,
    set: &[u8],
    body: &str,
    integrated: u64,
    index: u64,
    log_id: &str,
) -> Result<serde_json::Value, String> {
    let (at, key) = policy
        .root
        .rekor_keys
        .iter()
        .enumerate()
        .find(|(_, (id, _))| hex(id) == log_id)
        .map(|(i, (_, k))| (i, k))
        .ok_or_else(|| format!("the Rekor log {log_id} is not in the trusted root"))?;
    if let Some(v) = policy.root.rekor_valid.get(at)
        && !v.contains(integrated)
    {
        return Err(format!(
            "the Rekor log {log_id}'s key was not valid at {} (its validFor in the trusted root)",
            rampart_core::civil::rfc3339(i64::try_from(integrated).unwrap_or(i64::MAX))
        ));
    }
    // RFC 8785 canonical JSON: keys sorted, no white space.
    let canonical = format!(
        "{{\"body\":{},\"integratedTime\":{integrated},\"logID\":{},\"logIndex\":{index}}}",
        serde_json::Value::from(body),
        serde_json::Value::from(log_id)
    );
    if !key.verify(canonical.as_bytes(), set) {
        return Err("the Rekor signed entry timestamp does not verify with the log's key".into());
    }
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| "the Rekor entry body is not base64 JSON".to_string())
}

pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The DER certificates of a PEM text.
pub(crate) fn pem_certs(pem: &str) -> Vec<Vec<u8>> {
    use rustls_pki_types::pem::PemObject as _;
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .filter_map(Result::ok)
        .map(|c| c.as_ref().to_vec())
        .collect()
}

/// One DER element: tag, contents, the whole element, and what follows.
pub(crate) type Tlv<'a> = (u8, &'a [u8], &'a [u8], &'a [u8]);
/// A TBSCertificate element: tag, contents, the whole element.
type Element<'a> = (u8, &'a [u8], &'a [u8]);

pub(crate) fn tlv(input: &[u8]) -> Option<Tlv<'_>> {
    let (&tag, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let mut header = 2;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for _ in 0..n {
            let (&b, r) = rest.split_first()?;
            len = (len << 8) | usize::from(b);
            rest = r;
        }
        header += n;
        len
    };
    if rest.len() < len {
        return None;
    }
    let (contents, after) = rest.split_at(len);
    Some((tag, contents, input.get(..header + len)?, after))
}

/// The elements of the TBSCertificate.
fn tbs_elements(cert: &[u8]) -> Option<Vec<Element<'_>>> {
    let (_, c, _, _) = tlv(cert)?;
    let (_, tbs, _, _) = tlv(c)?;
    let mut out = Vec::new();
    let mut rest = tbs;
    while !rest.is_empty() {
        let (tag, contents, whole, after) = tlv(rest)?;
        out.push((tag, contents, whole));
        rest = after;
    }
    Some(out)
}

/// The certificate's SubjectPublicKeyInfo (the sixth SEQUENCE-or-INTEGER after the version).
pub(crate) fn cert_spki(cert: &[u8]) -> Option<&[u8]> {
    tbs_elements(cert)?
        .into_iter()
        .filter(|(tag, _, _)| *tag == 0x30)
        .nth(4)
        .map(|(_, _, whole)| whole)
}

/// Whether the certificate's extended key usage names code signing.
fn has_code_signing(cert: &[u8]) -> bool {
    extensions(cert).into_iter().any(|(oid, value)| {
        oid == OID_EKU
            && tlv(value).is_some_and(|(_, mut list, _, _)| {
                while let Some((_, purpose, _, after)) = tlv(list) {
                    if purpose == CODE_SIGNING {
                        return true;
                    }
                    list = after;
                }
                false
            })
    })
}

/// The certificate's extensions: (OID, value) pairs.
pub(crate) fn extensions(cert: &[u8]) -> Vec<(&[u8], &[u8])> {
    let mut out = Vec::new();
    let Some(elements) = tbs_elements(cert) else {
        return out;
    };
    let Some((_, exts, _)) = elements.iter().find(|(t, _, _)| *t == 0xa3) else {
        return out;
    };
    let Some((_, mut list, _, _)) = tlv(exts) else {
        return out;
    };
    while let Some((_, ext, _, after)) = tlv(list) {
        list = after;
        let Some((_, oid, _, mut rest)) = tlv(ext) else {
            continue;
        };
        if let Some((0x01, _, _, r)) = tlv(rest) {
            rest = r;
        }
        if let Some((0x04, value, _, _)) = tlv(rest) {
            out.push((oid, value));
        }
    }
    out
}

/// The SAN e-mail addresses and URIs, and the Fulcio OIDC issuer.
pub(crate) fn cert_identity(cert: &[u8]) -> (Vec<String>, Option<String>) {
    let mut sans = Vec::new();
    let mut issuer_v1 = None;
    let mut issuer_v2 = None;
    for (oid, value) in extensions(cert) {
        if oid == OID_SAN {
            let Some((_, mut names, _, _)) = tlv(value) else {
                continue;
            };
            while let Some((tag, v, _, after)) = tlv(names) {
                names = after;
                if matches!(tag, 0x81 | 0x86) {
                    sans.push(String::from_utf8_lossy(v).to_string());
                }
            }
        } else if oid == OID_ISSUER_V1 {
            issuer_v1 = Some(String::from_utf8_lossy(value).to_string());
        } else if oid == OID_ISSUER_V2 {
            issuer_v2 = tlv(value).map(|(_, v, _, _)| String::from_utf8_lossy(v).to_string());
        }
    }
    (sans, issuer_v2.or(issuer_v1))
}

/// The public key of a PEM certificate (a `certificates.cert` attestor: signatures verify with
/// the certificate's key, as cosign's `--certificate`).
pub fn certificate_key(name: &str, pem: &str) -> Result<PublicKey, Error> {
    let certs = pem_certs(pem);
    let leaf = certs
        .first()
        .ok_or_else(|| Error::Key(format!("{name}: no PEM certificate")))?;
    let spki = cert_spki(leaf)
        .ok_or_else(|| Error::Key(format!("{name}: the certificate does not parse")))?;
    PublicKey::from_spki_der(name, spki)
}

/// The key of a signature's own certificate (PEM, with the intermediates of its `chain`
/// annotation) once it chains to one of the PEM `roots` at its `notBefore` (cosign's
/// `TrustedCert`) and is valid at `now` (cosign's expiry check when no transparency-log entry
/// says when the signature was made).
pub fn roots_key(cert: &str, chain: &str, roots: &str, now: u64) -> Result<PublicKey, String> {
    let leaf = pem_certs(cert)
        .into_iter()
        .next()
        .ok_or_else(|| "no certificate found on signature".to_string())?;
    let (not_before, not_after) = cert_validity(&leaf)
        .ok_or_else(|| "the certificate's validity does not parse".to_string())?;
    let leaf_der = CertificateDer::from(leaf.as_slice());
    let ee = webpki::EndEntityCert::try_from(&leaf_der)
        .map_err(|e| format!("the certificate does not parse: {e:?}"))?;
    let roots_der = pem_certs(roots);
    let anchors: Vec<_> = roots_der
        .iter()
        .filter_map(|r| {
            webpki::anchor_from_trusted_cert(&CertificateDer::from(r.as_slice()))
                .ok()
                .map(|a| a.to_owned())
        })
        .collect();
    if anchors.is_empty() {
        return Err("no PEM certificate in certificates.certChain".into());
    }
    let intermediates: Vec<CertificateDer<'_>> = pem_certs(chain)
        .into_iter()
        .map(CertificateDer::from)
        .collect();
    chains_to(&ee, &anchors, &intermediates, not_before)
        .map_err(|e| format!("the certificate does not chain to certificates.certChain: {e}"))?;
    if now > not_after {
        return Err(format!(
            "the certificate expired at {not_after} (seconds since the epoch) and no transparency-log entry dates the signature"
        ));
    }
    if now < not_before {
        return Err(format!("the certificate is not valid before {not_before}"));
    }
    let spki = cert_spki(&leaf).ok_or_else(|| "the certificate does not parse".to_string())?;
    PublicKey::from_spki_der("the signature's certificate", spki).map_err(|e| e.to_string())
}

/// Checks that the PEM certificate `cert` chains to the last certificate of the PEM `chain`
/// (the others intermediates), at the certificate's `notBefore` and for code signing when it
/// names extended key usages: cosign's `--certificate-chain` check.
pub fn verify_certificate_chain(cert: &str, chain: &str) -> Result<(), String> {
    let leaf = pem_certs(cert)
        .into_iter()
        .next()
        .ok_or_else(|| "no PEM certificate in certificates.cert".to_string())?;
    let chain = pem_certs(chain);
    let root = chain
        .last()
        .ok_or_else(|| "no PEM certificate in certificates.certChain".to_string())?;
    let not_before = cert_not_before(&leaf)
        .ok_or_else(|| "the certificate's validity does not parse".to_string())?;
    let leaf_der = CertificateDer::from(leaf.as_slice());
    let ee = webpki::EndEntityCert::try_from(&leaf_der)
        .map_err(|e| format!("the certificate does not parse: {e:?}"))?;
    let root_der = CertificateDer::from(root.as_slice());
    let anchor = webpki::anchor_from_trusted_cert(&root_der)
        .map_err(|e| format!("the chain's root does not parse: {e:?}"))?;
    let intermediates: Vec<CertificateDer<'_>> = chain
        .iter()
        .take(chain.len().saturating_sub(1))
        .map(|c| CertificateDer::from(c.as_slice()))
        .collect();
    chains_to(&ee, &[anchor], &intermediates, not_before)
        .map_err(|e| format!("the certificate does not chain to certificates.certChain: {e}"))
}

/// The certificate's `notBefore`, in seconds since the epoch.
fn cert_not_before(cert: &[u8]) -> Option<u64> {
    cert_validity(cert).map(|(nb, _)| nb)
}

/// The certificate's `notBefore` and `notAfter`, in seconds since the epoch.
pub(crate) fn cert_validity(cert: &[u8]) -> Option<(u64, u64)> {
    let elements = tbs_elements(cert)?;
    let (_, validity, _) = elements.into_iter().filter(|(t, _, _)| *t == 0x30).nth(2)?;
    let (t1, time1, _, rest) = tlv(validity)?;
    let (t2, time2, _, _) = tlv(rest)?;
    Some((asn1_time(t1, time1)?, asn1_time(t2, time2)?))
}

/// A UTCTime (0x17) or GeneralizedTime (0x18) in seconds since the epoch.
fn asn1_time(tag: u8, time: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(time).ok()?.strip_suffix('Z')?;
    let (year, rest) = match tag {
        0x17 => {
            let yy: i64 = text.get(..2)?.parse().ok()?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, text.get(2..)?)
        }
        0x18 => (text.get(..4)?.parse().ok()?, text.get(4..)?),
        _ => return None,
    };
    let field = |i: usize| -> Option<i64> { rest.get(i..i + 2)?.parse().ok() };
    let (month, day, hour, min, sec) = (field(0)?, field(2)?, field(4)?, field(6)?, field(8)?);
    let days = rampart_core::civil::days_from_civil(year, month, day);
    u64::try_from(days * 86_400 + hour * 3600 + min * 60 + sec).ok()
}

#[cfg(test)]
mod cert_tests {
    use super::*;

    #[test]
    fn not_before_of_utc_and_generalized_times() {
        // a minimal TBS: SEQUENCE { SEQUENCE { [0] v3, INTEGER, SEQ alg, SEQ issuer, SEQ validity } }
        let validity = |t: &[u8]| {
            let mut v = vec![0x30, (t.len() * 2) as u8];
            v.extend_from_slice(t);
            v.extend_from_slice(t);
            v
        };
        for (time, want) in [
            (&b"\x17\x0d200101120000Z"[..], 1_577_880_000u64),
            (&b"\x18\x0f20200101120000Z"[..], 1_577_880_000u64),
            (&b"\x17\x0d700101000001Z"[..], 1),
        ] {
            let mut tbs = vec![0xa0, 3, 0x02, 1, 2, 0x02, 1, 1, 0x30, 0, 0x30, 0];
            tbs.extend(validity(time));
            let mut inner = vec![0x30, tbs.len() as u8];
            inner.extend(tbs);
            let mut cert = vec![0x30, inner.len() as u8];
            cert.extend(inner);
            assert_eq!(cert_not_before(&cert), Some(want), "{time:?}");
        }
    }
}
