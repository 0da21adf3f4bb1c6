//! `verifyImages` rules: the images of a resource that a rule's `imageReferences` select are
//! verified by an [`ImageVerifier`] (cosign signatures with the `attestors`' public keys,
//! keyless identities or certificates; in-toto `attestations` of a type, signed by their
//! attestors and meeting their `conditions`), pinned to their digest (`mutateDigest`) and
//! required to carry one (`verifyDigest`).
//!
//! Kyverno runs these rules in two phases, and so does this module in one pass: verification
//! (signatures, then attestations and the `validate` block, then the digest patch), then
//! validation (`verifyDigest`: "missing digest for X"; `required`: an image whose verification
//! failed is "unverified"). As in Kyverno, `required: false` does not turn a failed
//! verification into a pass: it only lifts the validation phase's check, and the verification's
//! failure stands. `useCache` is ignored (rampart keeps no verification cache). `type: Notary` verifies
//! Notary Project signatures and attestations instead, with the `certificates` of each attestor
//! as the trusted certificates ([`rampart_images::notary`]). `type: SigstoreBundle` verifies
//! the Sigstore bundles attached to the image as referrers (any predicate for the signature,
//! the attestation's type for attestations) with keys or offline keyless identities; Kyverno
//! checks key-signed bundles' log entries and SCTs against the public Sigstore instance unless
//! `rekor.ignoreTlog` and `ctlog.ignoreSCT` are set, so such entries must set both here. The transparency log (`rekor`) and certificate transparency
//! (`ctlog`) are not checked for `keys` and `certificates` attestors (keyless ones check the
//! log offline); a `certificates` attestor with only `certChain` needs `rekor.ignoreTlog`.
//! Keyless `additionalExtensions` are matched as cosign reads Fulcio's extensions (the raw
//! values of OIDs 1.3.6.1.4.1.57264.1.1 to .6, named `oidcIssuer`, `githubWorkflowTrigger`,
//! `…Sha`, `…Name`, `…Repository`, `…Ref`), each value a wildcard.
//! `cosignOCI11` also finds signatures attached as OCI 1.1 referrers, as cosign's
//! `--experimental-oci11` does. Not supported yet, an error rather than a pass: attestations
//! without attestors (they need the public Sigstore instance).
//! Keyless attestations are checked as keyless signatures are (certificate, identity, and the
//! `intoto` or `dsse` log entry recording the envelope). Images are named as Kyverno names
//! them (`docker.io/nginx:1.27`, `…/app@sha256:…`) in messages and the digest patch; they are
//! found in the pod spec, or where the rule's `imageExtractors` say for the resource's kind.
//!
//! As Kyverno: a registry that cannot be reached (or an image that cannot be resolved) makes
//! the rule an error, a signature that does not verify a failure (`failed to verify image
//! X: .attestors[0].entries[0].keys: why`); a rule that selects no image of the resource gives
//! no result, one whose images it all skips (`skipImageReferences`) a skip. Without a
//! verifier (`policy test`, which does not contact registries) every selected image with
//! attestors or attestations is an error, as `kyverno test` reports it offline. Policies whose
//! audited entries would mutate digests, or that name no image, do not load
//! ([`lint_verify_images`]).

use crate::engine::Eval;
use crate::vars::{Ctx, substitute};
use crate::{Status, wildcard};
use serde_json::Value;
use std::collections::BTreeMap;
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
    /// A certificate (`certificates.cert`): signatures verify with its key; when `chain` (PEM,
    /// `certificates.certChain`) is not empty, the certificate must chain to its last one.
    /// Without `cert`, each signature's own certificate must chain to one of `chain`'s and be
    /// valid now (`rekor.ignoreTlog: true` required).
    Certificate { cert: String, chain: String },
    /// Notary Project signatures (`type: Notary`) verified with these trusted certificates
    /// (PEM: `certificates.cert` then `certChain`). Empty for an attestation without
    /// attestors, which Kyverno reads unverified.
    Notary { certs: String },
}

/// How a signature is looked up and what its payload must carry, beyond the attestor.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SignatureOptions {
    /// `annotations`: values the signed payload's `optional` section must hold.
    pub annotations: BTreeMap<String, String>,
    /// `repository`: where the signatures are, instead of the image's repository.
    pub repository: Option<String>,
    /// `cosignOCI11`: signatures attached as OCI 1.1 referrers count too (cosign's
    /// `--experimental-oci11`; attestations are looked up as before, as cosign does).
    pub oci11: bool,
    /// `type: Notary`: attestors are [`Attestor::Notary`].
    pub notary: bool,
    /// `type: SigstoreBundle`: signatures and attestations are Sigstore bundles attached as
    /// OCI 1.1 referrers.
    pub sigstore_bundle: bool,
}

/// The attestations of an image that verified with an attestor.
#[derive(Debug, Clone, PartialEq)]
pub struct Attested {
    /// The digest the image resolved to.
    pub digest: String,
    /// The in-toto statements, as the envelopes carry them.
    pub statements: Vec<Value>,
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
    /// `additionalExtensions`: Fulcio certificate extensions (by cosign's name or OID) and
    /// the wildcard each value must match.
    pub extensions: BTreeMap<String, String>,
}

/// Verifies image signatures against registries.
pub trait ImageVerifier: Send + Sync {
    /// Verifies `image` with `attestor`: the digest it resolved to.
    fn verify(&self, image: &str, attestor: &Attestor) -> Result<String, VerifyError>;
    /// [`ImageVerifier::verify`] with Kyverno's signature options: required payload
    /// `annotations`, signatures in another `repository`.
    fn verify_with(
        &self,
        image: &str,
        attestor: &Attestor,
        opts: &SignatureOptions,
    ) -> Result<String, VerifyError> {
        if opts == &SignatureOptions::default() {
            self.verify(image, attestor)
        } else {
            Err(VerifyError::Error(
                "the verifier does not check signature annotations or repositories".into(),
            ))
        }
    }
    /// The digest `image`'s tag resolves to.
    fn digest(&self, image: &str) -> Result<String, VerifyError>;
    /// The attestations of `image` (in `opts.repository` when given) signed by `attestor`: for
    /// cosign, every predicate type (the caller keeps those of `kind`); for Notary, the
    /// referrers of artifact type `kind`; for Sigstore bundles, those of predicate type `kind`.
    /// An error when none verifies.
    fn attestations(
        &self,
        image: &str,
        attestor: &Attestor,
        opts: &SignatureOptions,
        kind: &str,
    ) -> Result<Attested, VerifyError> {
        let _ = (attestor, opts, kind);
        Err(VerifyError::Error(format!(
            "no attestations for {image}: the verifier does not read registries"
        )))
    }
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

/// Kyverno's checks of a rule's `verifyImages` when the policy is admitted (`ImageVerification
/// .Validate`): each entry needs an image reference, and `mutateDigest` (on by default) must be
/// off where failures are audited: the entry's `failureAction`, else the one of the entry
/// before that set one, else the policy's `validationFailureAction` (`Audit` unless
/// `Enforce`). The JSON pointer and the message of the first problem.
pub fn lint_verify_images(
    rule: &Value,
    policy_action: Option<&Value>,
    pointer: &str,
) -> Option<(String, String)> {
    let enforce = |a: &Value| matches!(a.as_str(), Some("Enforce" | "enforce"));
    let entries = rule.get("verifyImages").and_then(Value::as_array);
    let mutates = entries.into_iter().flatten().any(|iv| {
        iv.get("mutateDigest")
            .and_then(Value::as_bool)
            .unwrap_or(true)
    });
    let jmes = rule
        .get("imageExtractors")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|m| m.values())
        .filter_map(Value::as_array)
        .flatten()
        .any(|x| {
            x.get("jmesPath")
                .and_then(Value::as_str)
                .is_some_and(|j| !j.is_empty())
        });
    if mutates && jmes {
        return Some((
            format!("{pointer}/imageExtractors"),
            "jmespath may not be used in an image extractor when mutating digests with verify images"
                .into(),
        ));
    }
    let mut audit = !policy_action.is_some_and(enforce);
    for (j, iv) in rule
        .get("verifyImages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let at = format!("{pointer}/verifyImages/{j}");
        if let Some(a) = iv.get("failureAction") {
            audit = !enforce(a);
        }
        if audit
            && iv
                .get("mutateDigest")
                .and_then(Value::as_bool)
                .unwrap_or(true)
        {
            return Some((
                at,
                "mutateDigest must be set to false for ‘Audit’ failure action".into(),
            ));
        }
        if strs(iv.get("imageReferences")).is_empty() && strs(iv.get("image")).is_empty() {
            return Some((at, "An image reference is required".into()));
        }
    }
    None
}

/// The images a rule's `imageExtractors` find in `resource` (Kyverno's `lookupImageExtractor`
/// and `extract`), with their JSON pointers; the pod spec's when the rule has none for the
/// resource's kind.
pub fn extracted_images(
    resource: &Value,
    extractors: Option<&Value>,
) -> Result<Vec<(String, String)>, String> {
    let kind = resource.get("kind").and_then(Value::as_str).unwrap_or("");
    let Some(configs) = extractors
        .and_then(|e| e.get(kind))
        .and_then(Value::as_array)
    else {
        return Ok(images_with_pointers(resource));
    };
    let mut out = Vec::new();
    for c in configs {
        let text = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("");
        let mut fields: Vec<String> = text("path")
            .split('/')
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .map(str::to_string)
            .collect();
        let value = match text("value") {
            "" => fields.pop().unwrap_or_default(),
            v => v.to_string(),
        };
        extract(
            resource,
            &mut Vec::new(),
            &fields,
            &value,
            text("jmesPath"),
            &mut out,
        )?;
    }
    Ok(out)
}

/// Walks `fields` (`*` for every element or member) down `obj`; at the end, the string at
/// `value` is an image (through `jmes_path` when set).
fn extract(
    obj: &Value,
    path: &mut Vec<String>,
    fields: &[String],
    value: &str,
    jmes_path: &str,
    out: &mut Vec<(String, String)>,
) -> Result<(), String> {
    if obj.is_null() {
        return Ok(());
    }
    if let Some((first, rest)) = fields.split_first()
        && first == "*"
    {
        let children: Vec<(String, &Value)> = match obj {
            Value::Array(a) => a
                .iter()
                .enumerate()
                .map(|(i, v)| (i.to_string(), v))
                .collect(),
            Value::Object(m) => m.iter().map(|(k, v)| (k.clone(), v)).collect(),
            _ => return Err("invalid type".into()),
        };
        for (segment, child) in children {
            path.push(segment);
            extract(child, path, rest, value, jmes_path, out)?;
            path.pop();
        }
        return Ok(());
    }
    let Some(map) = obj.as_object() else {
        return Err("invalid image config".into());
    };
    let Some((first, rest)) = fields.split_first() else {
        let pointer = format!("/{}/{value}", path.join("/"));
        let Some(image) = map
            .get(value)
            .and_then(Value::as_str)
            .filter(|v| !v.trim().is_empty())
        else {
            return Ok(());
        };
        let image = if jmes_path.is_empty() {
            image.to_string()
        } else {
            match Ctx::new(Value::String(image.to_string())).query(jmes_path) {
                Ok(Value::String(s)) => s,
                Ok(other) => {
                    return Err(format!(
                        "jmespath {jmes_path} must produce a string, but produced {other}"
                    ));
                }
                Err(e) => return Err(format!("failed to apply jmespath {jmes_path}: {e}")),
            }
        };
        out.push((pointer, image));
        return Ok(());
    };
    path.push(first.clone());
    let r = extract(
        map.get(first).unwrap_or(&Value::Null),
        path,
        rest,
        value,
        jmes_path,
        out,
    );
    path.pop();
    r
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

/// Whether `image` (as written, with its registry, tag and digest, or as Kyverno names it:
/// registry, path, then the digest or else the tag) matches one of the globs.
fn selected(globs: &[String], image: &str) -> bool {
    let normalized = crate::context::image_info(image)
        .get("reference")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let named = kyverno_name(image);
    globs.iter().any(|g| {
        wildcard::matches(g, image)
            || wildcard::matches(g, &normalized)
            || wildcard::matches(g, &named)
    })
}

/// One attestor entry (of a rule of `type: Notary` or `SigstoreBundle` as `opts` say), or why
/// it cannot be checked.
fn entry_attestor(entry: &Value, opts: &SignatureOptions) -> Result<Attestor, String> {
    let notary = opts.notary;
    let text = |v: &Value, p: &str| {
        v.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    if notary {
        // Kyverno's Notary verifier reads `certificates` only, the certificate then the chain
        let Some(c) = entry.get("certificates") else {
            return Err(
                "Notary attestors need `certificates` (`cert`, `certChain`): the trusted certificates"
                    .into(),
            );
        };
        let certs = [text(c, "/cert"), text(c, "/certChain")]
            .into_iter()
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join("\n");
        return Ok(Attestor::Notary { certs });
    }
    if opts.sigstore_bundle {
        if entry.get("certificates").is_some() {
            return Err("certificate attestors are not supported for SigstoreBundle".into());
        }
        // keys: Kyverno checks the log and SCTs against the public Sigstore instance unless
        // both are ignored
        if let Some(k) = entry.get("keys") {
            let ignored = |p: &str| k.pointer(p).and_then(Value::as_bool) == Some(true);
            if !(ignored("/rekor/ignoreTlog") && ignored("/ctlog/ignoreSCT")) {
                return Err(
                    "SigstoreBundle key attestors check the transparency log and SCTs against the public Sigstore instance, which rampart does not contact: set rekor.ignoreTlog and ctlog.ignoreSCT".into(),
                );
            }
        }
    }
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
            extensions: k
                .get("additionalExtensions")
                .map(string_map)
                .unwrap_or_default(),
        };
        if kl.roots.trim().is_empty() || kl.rekor_pubkey.trim().is_empty() {
            return Err(
                "keyless attestors need `roots` (the Fulcio CA) and `rekor.pubkey`: rampart verifies offline".into(),
            );
        }
        return Ok(Attestor::Keyless(kl));
    }
    if let Some(c) = entry.get("certificates") {
        let cert = text(c, "/cert");
        let chain = text(c, "/certChain");
        if cert.trim().is_empty() && chain.trim().is_empty() {
            return Err("certificate attestors need `cert` or `certChain`".into());
        }
        if cert.trim().is_empty()
            && c.pointer("/rekor/ignoreTlog").and_then(Value::as_bool) != Some(true)
        {
            return Err(
                "certificate attestors with only `certChain` need `rekor.ignoreTlog: true`: the signature's own certificate is then dated by the transparency log, which rampart does not contact".into(),
            );
        }
        return Ok(Attestor::Certificate { cert, chain });
    }
    Err("an attestor entry needs keys, keyless or certificates".into())
}

pub(crate) fn split_pem(text: &str) -> Vec<String> {
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

/// Verifies one image against the attestor sets (Kyverno's `verifyAttestors`): every set must
/// pass. The digest, or the first set's problem: its entries' reasons, each after its path
/// (`.attestors[0].entries[1].keys: …`).
fn verify_attestors(
    v: &dyn ImageVerifier,
    image: &str,
    sets: &[Value],
    opts: &SignatureOptions,
) -> Result<String, VerifyError> {
    let mut digest = String::new();
    for (i, set) in sets.iter().enumerate() {
        digest = verify_attestor_set(v, image, set, &format!(".attestors[{i}]"), opts)?;
    }
    Ok(digest)
}

/// An attestor set's entries, one per public key where an entry lists several (Kyverno's
/// `ExpandStaticKeys`).
pub(crate) fn expanded_entries(set: &Value) -> Vec<Value> {
    let mut entries = Vec::new();
    for e in set
        .get("entries")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let keys = e
            .pointer("/keys/publicKeys")
            .and_then(Value::as_str)
            .map(split_pem)
            .unwrap_or_default();
        if keys.len() > 1 {
            for k in keys {
                let mut one = e.clone();
                if let Some(slot) = one.pointer_mut("/keys/publicKeys") {
                    *slot = Value::String(k);
                }
                entries.push(one);
            }
        } else {
            entries.push(e.clone());
        }
    }
    entries
}

/// One attestor set (Kyverno's `verifyAttestorSet`): an entry with several public keys stands
/// for one entry per key; `count` entries must verify (all when unset); an entry may nest a
/// set (`attestor`).
fn verify_attestor_set(
    v: &dyn ImageVerifier,
    image: &str,
    set: &Value,
    path: &str,
    opts: &SignatureOptions,
) -> Result<String, VerifyError> {
    let entries = expanded_entries(set);
    if entries.is_empty() {
        return Err(VerifyError::Failed(format!(
            "{path}: the attestor set has no entries"
        )));
    }
    let need = required_count(set, entries.len());
    let mut verified = 0;
    let mut errors = Vec::new();
    for (j, e) in entries.iter().enumerate() {
        let entry_path = format!("{path}.entries[{j}]");
        let outcome = match e.get("attestor") {
            Some(nested) => {
                verify_attestor_set(v, image, nested, &format!("{entry_path}.attestor"), opts)
            }
            None => {
                let attestor = entry_attestor(e, opts).map_err(VerifyError::Error)?;
                v.verify_with(image, &attestor, &entry_options(e, opts))
                    .map_err(|err| match err {
                        VerifyError::Failed(why) => {
                            VerifyError::Failed(format!("{entry_path}{}: {why}", sub_path(e)))
                        }
                        other => other,
                    })
            }
        };
        match outcome {
            Ok(d) => {
                verified += 1;
                if verified >= need {
                    return Ok(d);
                }
            }
            Err(e @ VerifyError::Error(_)) => return Err(e),
            Err(VerifyError::Failed(why)) => errors.push(why),
        }
    }
    if errors.is_empty() {
        errors.push(format!("{path}: {verified} of {need} attestors verified"));
    }
    Err(VerifyError::Failed(errors.join("; ")))
}

/// An attestor entry's signature options: its own `annotations` and `repository` replace the
/// image's.
fn entry_options(entry: &Value, image: &SignatureOptions) -> SignatureOptions {
    let mut opts = image.clone();
    if let Some(a) = entry.get("annotations").filter(|a| !a.is_null()) {
        opts.annotations = string_map(a);
    }
    if let Some(r) = entry
        .get("repository")
        .and_then(Value::as_str)
        .filter(|r| !r.is_empty())
    {
        opts.repository = Some(r.to_string());
    }
    opts
}

/// A map of strings (`annotations`); other values are left out.
fn string_map(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, x)| x.as_str().map(|x| (k.clone(), x.to_string())))
        .collect()
}

/// Kyverno's path suffix for an attestor entry in messages.
fn sub_path(entry: &Value) -> &'static str {
    if entry.get("keys").is_some() {
        ".keys"
    } else if entry.get("certificates").is_some() {
        ".certificates"
    } else if entry.get("keyless").is_some() {
        ".keyless"
    } else {
        ""
    }
}

/// How Kyverno names an image (`ImageInfo.String()`): the registry (Docker Hub's when none),
/// the path, then `@digest` when it has one, else `:tag` (`latest` when none).
pub fn kyverno_name(image: &str) -> String {
    let info = crate::context::image_info(image);
    let part = |k: &str| info.get(k).and_then(Value::as_str).unwrap_or("");
    match part("digest") {
        "" => format!("{}/{}:{}", part("registry"), part("path"), part("tag")),
        d => format!("{}/{}@{d}", part("registry"), part("path")),
    }
}

/// `image` pinned to `digest` as Kyverno names it: the repository, `@`, the digest.
fn at_digest(image: &str, digest: &str) -> String {
    let info = crate::context::image_info(image);
    let part = |k: &str| info.get(k).and_then(Value::as_str).unwrap_or("");
    format!("{}/{}@{digest}", part("registry"), part("path"))
}

/// A statement as Kyverno's cosign verifier decodes it: `type` is its `predicateType`; a
/// cosign custom predicate's `Data` is parsed as JSON only when the statement's `_type` is the
/// cosign predicate type (Kyverno compares those two fields, so in practice it stays a string).
fn decoded_statement(mut s: Value) -> Value {
    const COSIGN_CUSTOM: &str = "https://cosign.sigstore.dev/attestation/v1";
    let kind = s.get("predicateType").cloned().unwrap_or(Value::Null);
    if s.get("_type").and_then(Value::as_str) == Some(COSIGN_CUSTOM)
        && let Some(data) = s.pointer_mut("/predicate/Data")
        && let Some(Ok(parsed)) = data
            .as_str()
            .map(serde_json::from_str::<serde_json::Map<String, Value>>)
    {
        *data = Value::Object(parsed);
    }
    if let Some(o) = s.as_object_mut() {
        o.insert("type".into(), kind);
    }
    s
}

/// Kyverno's any/all evaluation of attestation conditions, with the messages of the
/// conditions that decided it; errors are substitution failures.
fn attestation_conditions(conds: &Value, ctx: &Ctx) -> Result<(bool, String), String> {
    let blocks: Vec<&Value> = match conds {
        Value::Array(list) => list.iter().collect(),
        Value::Null => Vec::new(),
        other => vec![other],
    };
    let substituted: Vec<Value> = blocks
        .iter()
        .map(|b| substitute(b, ctx))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("failed to substitute variables in attestation conditions: {e}"))?;
    let one = |c: &Value| -> Result<(bool, String), String> {
        let op = c.get("operator").and_then(Value::as_str).unwrap_or("");
        let ok = crate::conditions::operate(
            op,
            c.get("key").unwrap_or(&Value::Null),
            c.get("value").unwrap_or(&Value::Null),
        )?;
        let msg = c.get("message").and_then(Value::as_str).unwrap_or("");
        Ok((ok, msg.to_string()))
    };
    let join = |v: &[String], sep: &str| {
        v.iter()
            .filter(|m| !m.is_empty())
            .cloned()
            .collect::<Vec<_>>()
            .join(sep)
    };
    let mut true_msgs = Vec::new();
    for block in &substituted {
        let (mut t, mut f) = (Vec::new(), Vec::new());
        let mut any_ok = true;
        if let Some(any) = block.get("any").and_then(Value::as_array) {
            any_ok = false;
            for c in any {
                let (ok, m) = one(c)?;
                if ok {
                    any_ok = true;
                    t.push(m);
                    break;
                }
                f.push(m);
            }
        }
        let mut all_ok = true;
        for c in block
            .get("all")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let (ok, m) = one(c)?;
            if ok {
                t.push(m);
            } else {
                all_ok = false;
                f.push(m);
                break;
            }
        }
        if !(any_ok && all_ok) {
            return Ok((false, join(&f, "; ")));
        }
        true_msgs.push(join(&t, "; "));
    }
    Ok((true, join(&true_msgs, ";")))
}

/// Verifies `image`'s `attestations` (Kyverno's `verifyAttestations`): for each, every
/// attestor set must have `count` entries (all when unset) whose verified attestations hold
/// statements of the type, each meeting the conditions. The pass message and the digest.
fn verify_attestations(
    v: &dyn ImageVerifier,
    image: &str,
    mut digest: String,
    attestations: &[Value],
    image_opts: &SignatureOptions,
    ctx: &mut Ctx,
) -> Result<(String, String), VerifyError> {
    let mut shown = if digest.is_empty() {
        kyverno_name(image)
    } else {
        at_digest(image, &digest)
    };
    for (i, att) in attestations.iter().enumerate() {
        let path = format!(".attestations[{i}]");
        let text = |k: &str| att.get(k).and_then(Value::as_str).unwrap_or("");
        let kind = if text("type").is_empty() {
            text("predicateType")
        } else {
            text("type")
        };
        if kind.is_empty() {
            return Err(VerifyError::Failed(format!("{path}: missing type")));
        }
        let sets = att
            .get("attestors")
            .and_then(Value::as_array)
            .filter(|a| !a.is_empty())
            .cloned()
            .unwrap_or_else(|| vec![serde_json::json!({"entries": [{}]})]);
        for (j, set) in sets.iter().enumerate() {
            let entries = set
                .get("entries")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let need = required_count(set, entries.len());
            let mut verified = 0;
            let mut errors = Vec::new();
            for entry in &entries {
                // Kyverno names the entry with the attestation's index
                let entry_path = format!("{path}.attestors[{j}].entries[{i}]{}", sub_path(entry));
                let attestor = if entry.as_object().is_some_and(|o| o.is_empty()) {
                    // Kyverno's Notary verifier reads them unverified
                    if image_opts.notary {
                        Attestor::Notary {
                            certs: String::new(),
                        }
                    } else {
                        return Err(VerifyError::Error(
                        "attestations without attestors are verified against the public Sigstore roots and log, which rampart does not contact: give the attestation attestors".into(),
                    ));
                    }
                } else {
                    entry_attestor(entry, image_opts).map_err(VerifyError::Error)?
                };
                let opts = entry_options(entry, image_opts);
                // Kyverno checks required annotations against the envelopes, which carry none
                if !opts.annotations.is_empty() {
                    errors.push("no signature matched the required annotations".to_string());
                    continue;
                }
                let attested = match v.attestations(image, &attestor, &opts, kind) {
                    Ok(a) => a,
                    Err(e @ VerifyError::Error(_)) => return Err(e),
                    Err(VerifyError::Failed(e)) => {
                        errors.push(e);
                        continue;
                    }
                };
                // Notary statements are read with their type already
                let statements: Vec<Value> = if opts.notary {
                    attested.statements
                } else {
                    attested
                        .statements
                        .into_iter()
                        .map(decoded_statement)
                        .collect()
                };
                // the named predicate stays in the context, for the `validate` block
                if let Some(name) = att.get("name").and_then(Value::as_str) {
                    match statements.iter().find_map(|s| s.get("predicate")) {
                        Some(p) => ctx.set(name, p.clone()),
                        None => {
                            errors.push("predicate not found in any statement".into());
                            continue;
                        }
                    }
                }
                if digest.is_empty() {
                    digest = attested.digest.clone();
                    shown = at_digest(image, &digest);
                }
                let of_type: Vec<&Value> = statements
                    .iter()
                    .filter(|s| s.get("type").and_then(Value::as_str) == Some(kind))
                    .collect();
                let checked = if of_type.is_empty() {
                    Err(format!("attestions not found for predicate type {kind}"))
                } else {
                    of_type.iter().try_for_each(|s| {
                        let Some(predicate) = s.get("predicate").and_then(Value::as_object)
                        else {
                            return Err(format!(
                                "failed to check attestations: failed to extract predicate from statement: {s}"
                            ));
                        };
                        let mut sctx = ctx.clone();
                        for (k, val) in predicate {
                            sctx.set(k, val.clone());
                        }
                        match attestation_conditions(
                            att.get("conditions").unwrap_or(&Value::Null),
                            &sctx,
                        ) {
                            Ok((true, _)) => Ok(()),
                            Ok((false, msg)) => Err(format!(
                                "attestation checks failed for {shown} and predicate {kind}: {msg}"
                            )),
                            Err(e) => Err(format!("failed to check attestations: {e}")),
                        }
                    })
                };
                match checked {
                    Ok(()) => {
                        verified += 1;
                        if verified >= need {
                            break;
                        }
                    }
                    Err(e) => errors.push(format!("{entry_path}: {e}")),
                }
            }
            if verified < need {
                let why = if errors.is_empty() {
                    "attestations verification failed".to_string()
                } else {
                    errors.join("; ")
                };
                return Err(VerifyError::Failed(format!(
                    "image attestations verification failed, verifiedCount: {verified}, requiredCount: {need}, error: {why}"
                )));
            }
        }
    }
    Ok((format!("verified image attestations for {shown}"), digest))
}

/// The `validate` blocks of a rule's `verifyImages` entries (Kyverno's
/// `HasValidateImageVerification`), checked after an image's attestations verified, with their
/// named predicates in the context: a `deny` that holds fails the rule.
fn validate_blocks(list: &[Value], rule: &str, ctx: &Ctx) -> Result<String, String> {
    for iv in list {
        let Some(v) = iv
            .get("validate")
            .filter(|v| v.as_object().is_some_and(|o| !o.is_empty()))
        else {
            continue;
        };
        let Some(conds) = v.pointer("/deny/conditions") else {
            continue;
        };
        let (deny, msg) = attestation_conditions(conds, ctx)
            .map_err(|e| format!("failed to check deny conditions: {e}"))?;
        if deny {
            let message = v.get("message").and_then(Value::as_str).unwrap_or("");
            let text = if message.is_empty() && msg.is_empty() {
                format!("validation error: imageVerify {message} failed")
            } else {
                let joined: Vec<&str> = [message, msg.as_str()]
                    .into_iter()
                    .filter(|m| !m.is_empty())
                    .collect();
                let joined = joined.join("; ");
                match crate::vars::substitute_str(&joined, ctx) {
                    Ok(Value::String(t)) => t,
                    Ok(_) => "the produced message didn't resolve to a string, check your policy definition.".into(),
                    Err(_) => msg,
                }
            };
            return Err(text);
        }
    }
    Ok(format!("verifyImages validation is passed in {rule} rule"))
}

/// Evaluates a rule's `verifyImages` on `resource` for the rule `(policy, rule)`; `None` when
/// no image is selected. An image that `skipImageReferences` lists is skipped with Kyverno's
/// message (and, unlike Kyverno, not pinned to its digest).
pub fn verify_images(
    list: &[Value],
    (policy, rule): (&str, &str),
    extractors: Option<&Value>,
    resource: &Value,
    ctx: &Ctx,
) -> Option<Eval> {
    let found = match extracted_images(resource, extractors) {
        Ok(found) => found,
        Err(e) => {
            return Some(Eval::new(
                Status::Error,
                format!("failed to extract images: {e}"),
            ));
        }
    };
    let has_validate = list.iter().any(|iv| {
        iv.get("validate")
            .is_some_and(|v| v.as_object().is_some_and(|o| !o.is_empty()))
    });
    // Kyverno leaves attestation conditions and `validate` unsubstituted (they read the
    // attestations).
    let stripped: Vec<Value> = list
        .iter()
        .map(|iv| {
            let mut iv = iv.clone();
            if let Some(o) = iv.as_object_mut() {
                o.remove("validate");
            }
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
    let substituted = match substitute(&Value::Array(stripped), ctx) {
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
    let mut skipped = Vec::new();
    for (iv, original) in substituted.iter().zip(list) {
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
        // the attestations with their conditions as written
        let mut attestations: Vec<Value> = iv
            .get("attestations")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for (a, o) in attestations.iter_mut().zip(
            original
                .get("attestations")
                .and_then(Value::as_array)
                .into_iter()
                .flatten(),
        ) {
            if let (Some(a), Some(c)) = (a.as_object_mut(), o.get("conditions")) {
                a.insert("conditions".into(), c.clone());
            }
        }
        let flag = |k: &str| iv.get(k).and_then(Value::as_bool).unwrap_or(true);
        // `required` only lifts the validation phase's check of a failed verification, which
        // fails the rule anyway (see the module's documentation)
        let (mutate_digest, verify_digest) = (flag("mutateDigest"), flag("verifyDigest"));
        let kind = iv.get("type").and_then(Value::as_str).unwrap_or("Cosign");
        let opts = SignatureOptions {
            annotations: iv.get("annotations").map(string_map).unwrap_or_default(),
            repository: iv
                .get("repository")
                .and_then(Value::as_str)
                .filter(|r| !r.is_empty())
                .map(str::to_string),
            oci11: iv.get("cosignOCI11").and_then(Value::as_bool) == Some(true),
            notary: kind == "Notary",
            sigstore_bundle: kind == "SigstoreBundle",
        };
        for (pointer, image) in &found {
            let (pointer, image) = (pointer.as_str(), image.as_str());
            if !selected(&refs, image) {
                continue;
            }
            // messages and the digest patch name the image as Kyverno does
            let name = kyverno_name(image);
            let has_digest = image.contains('@');
            if selected(&skip, image) {
                // Kyverno's validation phase still asks a skipped image for its digest when
                // it was not pinned
                if !mutate_digest && verify_digest && !has_digest {
                    failed.push(format!("missing digest for {name}"));
                } else {
                    skipped.push(format!(
                        "skipping image reference image {name}, policy {policy} ruleName {rule}"
                    ));
                }
                continue;
            }
            if !["Cosign", "Notary", "SigstoreBundle"].contains(&kind) {
                errors.push(format!(
                    "failed to verify image {name}: verifyImages type {kind} is not supported (rampart verifies Cosign, Notary and SigstoreBundle signatures and attestations)"
                ));
                continue;
            }
            let mut digest = None;
            if !sets.is_empty() || !attestations.is_empty() {
                let outcome = match &verifier {
                    Some(v) => {
                        let signed = if sets.is_empty() {
                            Ok(String::new())
                        } else {
                            verify_attestors(v.as_ref(), image, &sets, &opts)
                                .map_err(|e| (e, true))
                        };
                        match signed {
                            Ok(d) if attestations.is_empty() => {
                                Ok((format!("verified image signatures for {name}"), d))
                            }
                            Ok(d) => {
                                let mut actx = ctx.clone();
                                verify_attestations(
                                    v.as_ref(),
                                    image,
                                    d,
                                    &attestations,
                                    &opts,
                                    &mut actx,
                                )
                                    .map_err(|e| (e, false))
                                    .and_then(|(msg, d)| {
                                        if !has_validate {
                                            return Ok((msg, d));
                                        }
                                        match validate_blocks(list, rule, &actx) {
                                            Ok(msg) => Ok((msg, d)),
                                            Err(e) => Err((
                                                VerifyError::Failed(format!(
                                                    "validation in verifyImages failed: {e}"
                                                )),
                                                false,
                                            )),
                                        }
                                    })
                            }
                            Err(e) => Err(e),
                        }
                    }
                    None => Err((
                        VerifyError::Error(
                            "no registry access (policy test does not contact registries; `policy apply --registry` and `scan --registry` do)".into(),
                        ),
                        true,
                    )),
                };
                // a failed signature check names the image; an attestation's message is its own
                let named = |e: String, sig: bool| {
                    if sig {
                        format!("failed to verify image {name}: {e}")
                    } else {
                        e
                    }
                };
                match outcome {
                    Ok((msg, d)) => {
                        passed.push(msg);
                        digest = Some(d);
                    }
                    Err((VerifyError::Error(e), sig)) => {
                        errors.push(named(e, sig));
                        continue;
                    }
                    Err((VerifyError::Failed(e), sig)) => {
                        failed.push(named(e, sig));
                        continue;
                    }
                }
            }
            if mutate_digest && !has_digest {
                let d = match (digest, &verifier) {
                    (Some(d), _) if !d.is_empty() => Ok(d),
                    (_, Some(v)) => v.digest(image),
                    (_, None) => Err(VerifyError::Error("no registry access".into())),
                };
                match d {
                    Ok(d) => {
                        if let Some(slot) = patched.pointer_mut(pointer) {
                            *slot = Value::String(format!("{name}@{d}"));
                            changed = true;
                        }
                        if sets.is_empty() && attestations.is_empty() {
                            passed.push(format!("mutated image digest for {name}"));
                        }
                    }
                    Err(VerifyError::Error(e) | VerifyError::Failed(e)) => {
                        errors.push(format!("failed to update digest of {name}: {e}"));
                    }
                }
            } else if verify_digest && !has_digest {
                failed.push(format!("missing digest for {name}"));
            }
        }
    }
    let mut e = if !errors.is_empty() {
        Eval::new(Status::Error, errors.join("; "))
    } else if !failed.is_empty() {
        Eval::new(Status::Fail, failed.join("; "))
    } else if !passed.is_empty() {
        Eval::new(Status::Pass, passed.join("; "))
    } else if !skipped.is_empty() {
        Eval::new(Status::Skip, skipped.join("; "))
    } else {
        return None;
    };
    if changed && e.status == Status::Pass {
        e.patched = Some(patched);
    }
    Some(e)
}

/// How many of an attestor set's `entries` must verify: its `count` when positive, else all.
pub(crate) fn required_count(set: &Value, entries: usize) -> usize {
    set.get("count")
        .and_then(Value::as_u64)
        .filter(|c| *c > 0)
        .map_or(entries, |c| usize::try_from(c).unwrap_or(usize::MAX))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn images_are_named_as_kyverno_names_them() {
        for (image, want) in [
            ("nginx:1.27", "docker.io/nginx:1.27"),
            ("nginx", "docker.io/nginx:latest"),
            ("library/nginx:1", "docker.io/library/nginx:1"),
            ("localhost:5000/a/b", "localhost:5000/a/b:latest"),
            ("ghcr.io/a/b:v1@sha256:ab", "ghcr.io/a/b@sha256:ab"),
        ] {
            assert_eq!(kyverno_name(image), want, "{image}");
        }
        assert_eq!(
            at_digest("127.0.0.1:5000/team/app:v1", "sha256:cd"),
            "127.0.0.1:5000/team/app@sha256:cd"
        );
    }

    #[test]
    fn statements_are_decoded_as_kyverno_decodes_them() {
        let s = decoded_statement(serde_json::json!({
            "_type": "https://in-toto.io/Statement/v0.1",
            "predicateType": "https://cosign.sigstore.dev/attestation/v1",
            "predicate": {"Data": "{\"a\": 1}"}}));
        assert_eq!(s["type"], "https://cosign.sigstore.dev/attestation/v1");
        assert_eq!(s["predicate"]["Data"], "{\"a\": 1}");
        // only when `_type` is the cosign predicate type is Data parsed
        let s = decoded_statement(serde_json::json!({
            "_type": "https://cosign.sigstore.dev/attestation/v1",
            "predicateType": "x", "predicate": {"Data": "{\"a\": 1}"}}));
        assert_eq!(s["predicate"]["Data"], serde_json::json!({"a": 1}));
    }

    #[test]
    fn attestation_conditions_report_the_messages_that_decided() {
        let ctx = Ctx::new(serde_json::json!({"result": "FAILED", "n": 3}));
        let conds = serde_json::json!([{
            "any": [{"key": "{{ result }}", "operator": "Equals", "value": "PASSED", "message": "not passed"},
                    {"key": "{{ n }}", "operator": "GreaterThan", "value": 5, "message": "few"}]}]);
        assert_eq!(
            attestation_conditions(&conds, &ctx).unwrap(),
            (false, "not passed; few".to_string())
        );
        let conds = serde_json::json!({"all": [{"key": "{{ n }}", "operator": "Equals", "value": 3, "message": "three"}]});
        assert_eq!(
            attestation_conditions(&conds, &ctx).unwrap(),
            (true, "three".to_string())
        );
        let bad =
            serde_json::json!([{"all": [{"key": "{{ n[ }}", "operator": "Equals", "value": 1}]}]);
        assert!(
            attestation_conditions(&bad, &ctx)
                .unwrap_err()
                .starts_with("failed to substitute variables in attestation conditions"),
        );
    }
}
