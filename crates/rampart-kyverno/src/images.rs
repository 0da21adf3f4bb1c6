//! `verifyImages` rules: the images of a resource that a rule's `imageReferences` select are
//! verified by an [`ImageVerifier`] (cosign signatures with the `attestors`' public keys),
//! pinned to their digest (`mutateDigest`) and required to carry one (`verifyDigest`).
//!
//! As Kyverno: a registry that cannot be reached (or an image that cannot be resolved) makes
//! the rule an error, a signature that does not verify a failure ("failed to verify image
//! X: why"); a rule that selects no image of the resource gives no result. Without a
//! verifier (`policy test`, which does not contact registries) every selected image with
//! attestors is an error, as `kyverno test` reports it offline.

use crate::engine::Eval;
use crate::vars::{Ctx, substitute};
use crate::{Status, wildcard};
use serde_json::Value;
use std::sync::Arc;

/// Why an image did not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyError {
    /// The registry could not be reached, the image not resolved or the attestor not used:
    /// the rule errors.
    Error(String),
    /// The image resolved but no signature verified: the rule fails.
    Failed(String),
}

/// What a signature must verify with: one attestor entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attestor {
    /// Any of these PEM public keys (`keys.publicKeys`).
    Keys(Vec<String>),
    /// A Fulcio certificate for an identity (`keyless`).
    Keyless(Keyless),
}

/// A `keyless` attestor entry, verified offline: the certificate must chain to `roots` and the
/// signature be logged in the Rekor log whose key is `rekor_pubkey`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Keyless {
    pub subject: String,
    pub subject_regexp: String,
    pub issuer: String,
    pub issuer_regexp: String,
    /// PEM certificates of the Fulcio CA.
    pub roots: String,
    /// PEM public key of the Rekor log.
    pub rekor_pubkey: String,
}

/// Verifies image signatures against registries.
pub trait ImageVerifier: Send + Sync {
    /// Verifies `image` with `attestor`: the digest it resolved to.
    fn verify(&self, image: &str, attestor: &Attestor) -> Result<String, VerifyError>;
    /// The digest `image`'s tag resolves to.
    fn digest(&self, image: &str) -> Result<String, VerifyError>;
    /// What an `imageRegistry` context entry reads: `image`, `resolvedImage`, `registry`,
    /// `repository`, `identifier`, `manifestList`, `manifest` and `configData`.
    fn image_data(&self, image: &str) -> Result<Value, VerifyError> {
        Err(VerifyError::Error(format!(
            "no image data for {image}: the verifier does not read registries"
        )))
    }
}

/// A shared [`ImageVerifier`].
#[derive(Clone)]
pub struct Verifier(pub Arc<dyn ImageVerifier>);

impl Verifier {
    pub fn new(v: impl ImageVerifier + 'static) -> Verifier {
        Verifier(Arc::new(v))
    }
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Verifier")
    }
}

/// The images of a resource's pod spec with their JSON pointers.
pub fn images_with_pointers(resource: &Value) -> Vec<(String, String)> {
    let base = match resource.get("kind").and_then(Value::as_str) {
        Some("Pod") => "/spec",
        Some("CronJob") => "/spec/jobTemplate/spec/template/spec",
        _ => "/spec/template/spec",
    };
    let mut out = Vec::new();
    let Some(spec) = resource.pointer(base) else {
        return out;
    };
    for field in ["initContainers", "containers", "ephemeralContainers"] {
        for (i, c) in spec
            .get(field)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            if let Some(image) = c.get("image").and_then(Value::as_str) {
                out.push((format!("{base}/{field}/{i}/image"), image.to_string()));
            }
        }
    }
    out
}

fn strs(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

/// Whether `image` (as written, or as Kyverno normalizes it) matches one of the globs.
fn selected(globs: &[String], image: &str) -> bool {
    let normalized = crate::context::image_info(image)
        .get("reference")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    globs
        .iter()
        .any(|g| wildcard::matches(g, image) || wildcard::matches(g, &normalized))
}

/// One attestor entry, or why it cannot be checked.
fn entry_attestor(entry: &Value) -> Result<Attestor, String> {
    let text = |v: &Value, p: &str| {
        v.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    if let Some(k) = entry.get("keys") {
        let pem = k.get("publicKeys").and_then(Value::as_str).unwrap_or("");
        let keys = split_pem(pem);
        if keys.is_empty() {
            return Err("attestor keys.publicKeys holds no PEM public key".into());
        }
        return Ok(Attestor::Keys(keys));
    }
    if let Some(k) = entry.get("keyless") {
        if k.pointer("/rekor/ignoreTlog").and_then(Value::as_bool) == Some(true) {
            return Err("keyless attestors with rekor.ignoreTlog are not supported".into());
        }
        let kl = Keyless {
            subject: text(k, "/subject"),
            subject_regexp: text(k, "/subjectRegExp"),
            issuer: text(k, "/issuer"),
            issuer_regexp: text(k, "/issuerRegExp"),
            roots: text(k, "/roots"),
            rekor_pubkey: text(k, "/rekor/pubkey"),
        };
        if kl.roots.trim().is_empty() || kl.rekor_pubkey.trim().is_empty() {
            return Err(
                "keyless attestors need `roots` (the Fulcio CA) and `rekor.pubkey`: rampart verifies offline".into(),
            );
        }
        return Ok(Attestor::Keyless(kl));
    }
    if entry.get("certificates").is_some() {
        return Err("certificate attestors are not supported yet".into());
    }
    if entry.get("attestor").is_some() {
        return Err("nested attestor sets are not supported yet".into());
    }
    Err("an attestor entry needs keys, keyless or certificates".into())
}

fn split_pem(text: &str) -> Vec<String> {
    let end = "-----END PUBLIC KEY-----";
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("-----BEGIN PUBLIC KEY-----") {
        let Some(j) = rest.get(i..).and_then(|r| r.find(end)) else {
            break;
        };
        out.push(rest.get(i..i + j + end.len()).unwrap_or("").to_string());
        rest = rest.get(i + j + end.len()..).unwrap_or("");
    }
    out
}

/// Verifies one image against the attestor sets: every set must pass, each with `count` of
/// its entries (all when unset). The digest, or the first problem.
fn verify_attestors(
    v: &dyn ImageVerifier,
    image: &str,
    sets: &[Value],
) -> Result<String, VerifyError> {
    let mut digest = String::new();
    for set in sets {
        let entries = set
            .get("entries")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let need = set
            .get("count")
            .and_then(Value::as_u64)
            .map(|c| c as usize)
            .unwrap_or(entries.len())
            .max(1);
        let mut ok = 0;
        let mut last = VerifyError::Failed("the attestor set has no entries".into());
        for e in &entries {
            let attestor = entry_attestor(e).map_err(VerifyError::Error)?;
            match v.verify(image, &attestor) {
                Ok(d) => {
                    digest = d;
                    ok += 1;
                }
                Err(e @ VerifyError::Error(_)) => return Err(e),
                Err(e) => last = e,
            }
        }
        if ok < need {
            return Err(last);
        }
    }
    Ok(digest)
}

/// Evaluates a rule's `verifyImages` on `resource`; `None` when no image is selected.
pub fn verify_images(list: &[Value], resource: &Value, ctx: &Ctx) -> Option<Eval> {
    // Kyverno leaves attestation conditions unsubstituted (they read the attestation).
    let stripped: Vec<Value> = list
        .iter()
        .map(|iv| {
            let mut iv = iv.clone();
            if let Some(atts) = iv.get_mut("attestations").and_then(Value::as_array_mut) {
                for a in atts {
                    if let Some(o) = a.as_object_mut() {
                        o.remove("conditions");
                    }
                }
            }
            iv
        })
        .collect();
    let list = match substitute(&Value::Array(stripped), ctx) {
        Ok(Value::Array(a)) => a,
        Ok(_) => return Some(Eval::new(Status::Error, "verifyImages is not a list")),
        Err(e) => {
            return Some(Eval::new(
                Status::Error,
                format!("failed to substitute variables: {e}"),
            ));
        }
    };
    let verifier = ctx.image_verifier.as_ref().map(|v| v.0.clone());
    let mut patched = resource.clone();
    let mut changed = false;
    let (mut passed, mut failed, mut errors) = (Vec::new(), Vec::new(), Vec::new());
    for iv in &list {
        // the older form: `image` and `key`
        let mut refs = strs(iv.get("imageReferences"));
        refs.extend(strs(iv.get("image")));
        let skip = strs(iv.get("skipImageReferences"));
        let mut sets: Vec<Value> = iv
            .get("attestors")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if let Some(k) = iv.get("key").and_then(Value::as_str) {
            sets.push(serde_json::json!({"entries": [{"keys": {"publicKeys": k}}]}));
        }
        let mutate_digest = iv
            .get("mutateDigest")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        let verify_digest = iv
            .get("verifyDigest")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        for (pointer, image) in images_with_pointers(resource) {
            if !selected(&refs, &image) || selected(&skip, &image) {
                continue;
            }
            let has_digest = image.contains("@sha256:");
            let mut digest = None;
            if !sets.is_empty() {
                let outcome = match &verifier {
                    Some(v) => verify_attestors(v.as_ref(), &image, &sets),
                    None => Err(VerifyError::Error(
                        "no registry access (policy test does not contact registries; `policy apply --registry` and `scan --registry` do)".into(),
                    )),
                };
                match outcome {
                    Ok(d) => {
                        passed.push(format!("verified image signatures for {image}"));
                        digest = Some(d);
                    }
                    Err(VerifyError::Error(e)) => {
                        errors.push(format!("failed to verify image {image}: {e}"));
                        continue;
                    }
                    Err(VerifyError::Failed(e)) => {
                        failed.push(format!("failed to verify image {image}: {e}"));
                        continue;
                    }
                }
            }
            if mutate_digest && !has_digest {
                let d = match (digest, &verifier) {
                    (Some(d), _) if !d.is_empty() => Ok(d),
                    (_, Some(v)) => v.digest(&image),
                    (_, None) => Err(VerifyError::Error("no registry access".into())),
                };
                match d {
                    Ok(d) => {
                        if let Some(slot) = patched.pointer_mut(&pointer) {
                            *slot = Value::String(format!("{image}@{d}"));
                            changed = true;
                        }
                        if sets.is_empty() {
                            passed.push(format!("mutated image digest for {image}"));
                        }
                    }
                    Err(VerifyError::Error(e) | VerifyError::Failed(e)) => {
                        errors.push(format!("failed to update digest of {image}: {e}"));
                    }
                }
            } else if verify_digest && !has_digest {
                failed.push(format!("missing digest for {image}"));
            }
        }
    }
    let mut e = if !errors.is_empty() {
        Eval::new(Status::Error, errors.join("; "))
    } else if !failed.is_empty() {
        Eval::new(Status::Fail, failed.join("; "))
    } else if !passed.is_empty() {
        Eval::new(Status::Pass, passed.join("; "))
    } else {
        return None;
    };
    if changed && e.status == Status::Pass {
        e.patched = Some(patched);
    }
    Some(e)
}
