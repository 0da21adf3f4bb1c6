//! Kyverno's ImageValidatingPolicy (`policies.kyverno.io`, and its Namespaced kind): image
//! signatures and attestations checked by CEL, as Kyverno's `ivpol` engine evaluates them.
//!
//! On a resource its `matchConstraints` select (Pod-only policies cover the Pod controllers
//! too, as for ValidatingPolicies):
//! 1. `matchConditions`: when one is false the policy does not apply (no result, as Kyverno).
//! 2. The images: by default the `containers`, `initContainers` and `ephemeralContainers` of a
//!    Pod, of a Pod controller's template or of a CronJob's job template; `spec.images` adds
//!    (or replaces, by name) CEL extractors giving lists of references.
//! 3. `matchImageReferences` keeps the images a `glob` (`*` any run of characters, `?` one)
//!    or an `expression` (on `ref`) selects; without any, every image.
//! 4. `validationConfigurations.verifyDigest` (on by default): an image without a digest
//!    fails the policy (`image X does not have a digest`), before any validation, as in
//!    Kyverno (whose mutating webhook pins digests first; `mutateDigest` is not applied here).
//! 5. `variables` and `validations`, in CEL with `images` (category → selected images),
//!    `attestors` (name → the attestor), `attestations` (name → name) and Kyverno's
//!    functions:
//!    - `verifyImageSignatures(image, [attestors…])`: how many of the attestors verify a
//!      signature of the image (0 for an image `matchImageReferences` does not select);
//!    - `verifyAttestationSignatures(image, attestations.x, [attestors…])`: how many verify an
//!      attestation of that in-toto predicate type (cosign) or referrer artifact type (Notary);
//!    - `extractPayload(image, attestations.x)`: the verified in-toto statement (cosign), or the
//!      referrer's JSON content (Notary);
//!    - `getImageData(image)`: the image's reference parts, manifest and config.
//! 6. `validationConfigurations.required` (on by default): a policy that passed still fails
//!    for an image no ImageValidatingPolicy of the same request verified (`image X is not
//!    verified: …`, or `image X failed signature or attestation verification`).
//!
//! Attestors: `cosign` with `key.data` (PEM public keys), `keyless` (each identity checked
//! offline against `roots` and `ctlog.rekorPubKey`) or `certificate` (`cert`, `certChain`),
//! with `annotations` and `source.repository`; `notary` with `certs.value`. What rampart
//! cannot check offline or does not implement makes the policy an error when it loads, never
//! a pass: `key.kms`, `key.expression` and the other expression forms, `trustedRoot`, `tuf`,
//! `source.tagPrefix`, keyless without roots and a Rekor key, Notary `tsaCerts`. A registry
//! error while verifying is the policy's error, not a count of 0.

use crate::cel::{Bindings, CelChecks, CelOutcome, Expr};
use crate::engine::Eval;
use crate::images::{Attestor, ImageVerifier, Keyless, SignatureOptions, VerifyError};
use crate::{Status, wildcard};
use kube_cel::cel::{Context, ExecutionError, Value as CelValue};
use serde_json::{Value, json};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::sync::Arc;

/// What an attestation names: an in-toto predicate type (cosign) or a referrer artifact type
/// (Notary).
#[derive(Debug, Clone)]
enum Attestation {
    InToto(String),
    Referrer(String),
}

enum Reference {
    Glob(String),
    Expr(Expr),
}

/// One attestor: the ways its signatures verify (a keyless attestor, one per identity).
type Ways = Vec<(Attestor, SignatureOptions)>;

/// An ImageValidatingPolicy's image parts, compiled once per variant.
pub struct ImagePolicy {
    /// `matchConditions`.
    conditions: CelChecks,
    /// `spec.images`, as variables giving lists.
    extractors: CelChecks,
    /// What the CEL functions read.
    parts: Arc<PolicyParts>,
    /// The attestors as CEL reads them: name → the attestor's fields.
    attestor_values: Value,
    verify_digest: bool,
    mutate_digest: bool,
    required: bool,
}

/// Compiles a variant's spec: the policy's image parts, and its checks (variables and
/// validations). The JSON pointer and message of the first problem.
pub fn compile(spec: &Value) -> Result<(ImagePolicy, CelChecks), (String, String)> {
    fn at(p: &str) -> impl Fn(String) -> (String, String) + '_ {
        move |e| (p.to_string(), e)
    }
    let conditions = CelChecks::compile(
        &json!({"matchConditions": spec.get("matchConditions").cloned().unwrap_or(Value::Null)}),
        "validations",
    )
    .map_err(at("/spec/matchConditions"))?;
    let mut rest = spec.clone();
    if let Some(o) = rest.as_object_mut() {
        o.remove("matchConditions");
    }
    let checks = CelChecks::compile(&rest, "validations").map_err(at("/spec/validations"))?;
    let extractors = CelChecks::compile(
        &json!({"variables": spec.get("images").cloned().unwrap_or(Value::Null)}),
        "validations",
    )
    .map_err(at("/spec/images"))?;
    let mut refs = Vec::new();
    for (i, r) in list(spec, "matchImageReferences").iter().enumerate() {
        let glob = text(r, "/glob");
        let expr = text(r, "/expression");
        refs.push(match (glob.is_empty(), expr.is_empty()) {
            (false, true) => Reference::Glob(glob),
            (true, false) => Reference::Expr(
                Expr::compile(&expr).map_err(at(&format!("/spec/matchImageReferences/{i}")))?,
            ),
            _ => {
                return Err((
                    format!("/spec/matchImageReferences/{i}"),
                    "a matchImageReferences entry needs exactly one of glob and expression".into(),
                ));
            }
        });
    }
    let mut attestors = HashMap::new();
    let mut values = serde_json::Map::new();
    for (i, a) in list(spec, "attestors").iter().enumerate() {
        let name = text(a, "/name");
        let ways = attestor(a).map_err(|e| {
            (
                format!("/spec/attestors/{i}"),
                format!("attestor `{name}`: {e}"),
            )
        })?;
        values.insert(name.clone(), a.clone());
        attestors.insert(name, ways);
    }
    let mut attestations = HashMap::new();
    for (i, a) in list(spec, "attestations").iter().enumerate() {
        let kind = match (text(a, "/intoto/type"), text(a, "/referrer/type")) {
            (t, r) if !t.is_empty() && r.is_empty() => Attestation::InToto(t),
            (t, r) if t.is_empty() && !r.is_empty() => Attestation::Referrer(r),
            _ => {
                return Err((
                    format!("/spec/attestations/{i}"),
                    "an attestation needs exactly one of intoto.type and referrer.type".into(),
                ));
            }
        };
        attestations.insert(text(a, "/name"), kind);
    }
    let flag = |k: &str| {
        spec.pointer(&format!("/validationConfigurations/{k}"))
            .and_then(Value::as_bool)
            != Some(false)
    };
    Ok((
        ImagePolicy {
            conditions,
            extractors,
            parts: Arc::new(PolicyParts {
                attestors,
                attestations,
                refs,
            }),
            attestor_values: Value::Object(values),
            verify_digest: flag("verifyDigest"),
            mutate_digest: flag("mutateDigest"),
            required: flag("required"),
        },
        checks,
    ))
}

fn list(v: &Value, k: &str) -> Vec<Value> {
    v.get(k)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn text(v: &Value, p: &str) -> String {
    v.pointer(p)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

/// The ways an attestor entry verifies, or why rampart cannot check it.
fn attestor(a: &Value) -> Result<Ways, String> {
    if let Some(n) = a.get("notary") {
        if !text(n, "/certs/expression").is_empty() {
            return Err("notary certs.expression is not supported: give certs.value".into());
        }
        if !text(n, "/tsaCerts/value").is_empty() || !text(n, "/tsaCerts/expression").is_empty() {
            return Err("notary tsaCerts (timestamp countersignatures) are not checked".into());
        }
        let certs = text(n, "/certs/value");
        if certs.trim().is_empty() {
            return Err("notary attestors need certs.value (the trusted certificates)".into());
        }
        let opts = SignatureOptions {
            notary: true,
            ..SignatureOptions::default()
        };
        return Ok(vec![(Attestor::Notary { certs }, opts)]);
    }
    let Some(c) = a.get("cosign") else {
        return Err("an attestor needs cosign or notary".into());
    };
    for (field, why) in [
        ("trustedRoot", "a trusted root (Sigstore trust material)"),
        ("tuf", "TUF trust roots"),
    ] {
        if c.get(field).is_some_and(|v| !v.is_null()) {
            return Err(format!(
                "cosign {field} is not supported: rampart does not load {why}"
            ));
        }
    }
    if !text(c, "/source/tagPrefix").is_empty() {
        return Err("cosign source.tagPrefix is not supported".into());
    }
    let opts = SignatureOptions {
        annotations: c
            .get("annotations")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                    .collect::<BTreeMap<_, _>>()
            })
            .unwrap_or_default(),
        repository: Some(text(c, "/source/repository")).filter(|r| !r.is_empty()),
        ..SignatureOptions::default()
    };
    let ignore_tlog = c
        .pointer("/ctlog/insecureIgnoreTlog")
        .and_then(Value::as_bool)
        == Some(true);
    if let Some(k) = c.get("key") {
        for f in ["kms", "expression"] {
            if !text(k, &format!("/{f}")).is_empty() {
                return Err(format!("cosign key.{f} is not supported: give key.data"));
            }
        }
        let keys = crate::images::split_pem(&text(k, "/data"));
        if keys.is_empty() {
            return Err("cosign key.data holds no PEM public key".into());
        }
        return Ok(vec![(Attestor::Keys(keys), opts)]);
    }
    if let Some(k) = c.get("keyless") {
        let roots = text(k, "/roots");
        let rekor = text(c, "/ctlog/rekorPubKey");
        if roots.trim().is_empty() || rekor.trim().is_empty() {
            return Err(
                "keyless attestors need `roots` (the Fulcio CA) and `ctlog.rekorPubKey`: rampart verifies offline"
                    .into(),
            );
        }
        let extensions: BTreeMap<String, String> = k
            .get("additionalExtensions")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let mut ways = Vec::new();
        for id in list(k, "identities") {
            if !text(&id, "/subjectExpression").is_empty() {
                return Err("keyless subjectExpression is not supported".into());
            }
            ways.push((
                Attestor::Keyless(Keyless {
                    subject: text(&id, "/subject"),
                    subject_regexp: text(&id, "/subjectRegExp"),
                    issuer: text(&id, "/issuer"),
                    issuer_regexp: text(&id, "/issuerRegExp"),
                    roots: roots.clone(),
                    rekor_pubkey: rekor.clone(),
                    extensions: extensions.clone(),
                }),
                opts.clone(),
            ));
        }
        if ways.is_empty() {
            return Err("keyless attestors need identities".into());
        }
        return Ok(ways);
    }
    if let Some(cert) = c.get("certificate") {
        if !text(cert, "/cert/expression").is_empty()
            || !text(cert, "/certChain/expression").is_empty()
        {
            return Err("certificate expressions are not supported: give the values".into());
        }
        let (cert_pem, chain) = (text(cert, "/cert/value"), text(cert, "/certChain/value"));
        if cert_pem.trim().is_empty() && chain.trim().is_empty() {
            return Err("certificate attestors need cert.value or certChain.value".into());
        }
        if cert_pem.trim().is_empty() && !ignore_tlog {
            return Err(
                "certificate attestors with only a certChain need ctlog.insecureIgnoreTlog: the signature's own certificate is then dated by the transparency log, which rampart does not contact".into(),
            );
        }
        return Ok(vec![(
            Attestor::Certificate {
                cert: cert_pem,
                chain,
            },
            opts,
        )]);
    }
    Err("a cosign attestor needs key, keyless or certificate".into())
}

/// The request's verifications: per image, whether one verified (Kyverno's
/// `ImageVerificationResults`, shared by the ImageValidatingPolicies of one request).
pub type Verifications = Rc<RefCell<HashMap<String, bool>>>;

/// What the CEL functions of one evaluation read.
struct Scope {
    verifier: Option<Arc<dyn ImageVerifier>>,
    policy: Arc<PolicyParts>,
    verifications: Verifications,
    /// Verified payloads by (image, attestation).
    payloads: RefCell<HashMap<(String, String), Value>>,
}

struct PolicyParts {
    attestors: HashMap<String, Ways>,
    attestations: HashMap<String, Attestation>,
    refs: Vec<Reference>,
}

thread_local! {
    static SCOPE: RefCell<Option<Rc<Scope>>> = const { RefCell::new(None) };
}

/// Runs one of the functions (`name`) in the evaluation's scope.
fn with_scope<T>(
    name: &str,
    f: impl FnOnce(&Scope) -> Result<T, String>,
) -> Result<T, ExecutionError> {
    let scope = SCOPE.with(|s| s.borrow().clone());
    match scope {
        Some(s) => f(&s).map_err(|e| ExecutionError::function_error(name, e)),
        None => Err(ExecutionError::function_error(
            name,
            "image verification functions run only in an ImageValidatingPolicy",
        )),
    }
}

impl PolicyParts {
    fn selects(&self, image: &str) -> Result<bool, String> {
        if self.refs.is_empty() {
            return Ok(true);
        }
        for r in &self.refs {
            let hit = match r {
                Reference::Glob(g) => wildcard::matches(g, image),
                Reference::Expr(e) => {
                    let mut ctx = Context::default();
                    ctx.add_variable_from_value("ref", CelValue::String(Arc::new(image.into())));
                    match e.eval(&ctx)? {
                        CelValue::Bool(b) => b,
                        other => {
                            return Err(format!(
                                "matchImageReferences expression `{}` returned {other:?}, not a bool",
                                e.src.trim()
                            ));
                        }
                    }
                }
            };
            if hit {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The attestors a CEL list names (by their `name`).
    fn named<'a>(&'a self, list: &CelValue) -> Result<Vec<&'a Ways>, String> {
        let CelValue::List(items) = list else {
            return Err("the attestors must be a list (`[attestors.name]`)".into());
        };
        items
            .iter()
            .map(|a| {
                let name = match crate::cel::cel_to_json(a) {
                    Value::Object(m) => m
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    Value::String(s) => s,
                    _ => String::new(),
                };
                self.attestors
                    .get(&name)
                    .ok_or_else(|| format!("attestor not found in policy: {name}"))
            })
            .collect()
    }
}

fn verifier(s: &Scope, image: &str) -> Result<Arc<dyn ImageVerifier>, String> {
    s.verifier.clone().ok_or_else(|| {
        format!(
            "failed to verify image {image}: no registry access (policy test does not contact registries; `policy apply --registry` and `scan --registry` do)"
        )
    })
}

/// `verifyImageSignatures(image, attestors)`.
fn verify_image_signatures(
    image: Arc<String>,
    attestors: CelValue,
) -> Result<CelValue, ExecutionError> {
    with_scope("verifyImageSignatures", |s| {
        if !s.policy.selects(&image)? {
            return Ok(CelValue::Int(0));
        }
        let named = s.policy.named(&attestors)?;
        let v = verifier(s, &image)?;
        let mut count = 0;
        for ways in &named {
            for (a, opts) in ways.iter() {
                match v.verify_with(&image, a, opts) {
                    Ok(_) => {
                        count += 1;
                        break;
                    }
                    Err(VerifyError::Failed(_)) => {}
                    Err(VerifyError::Error(e)) => {
                        return Err(format!("failed to verify image {image}: {e}"));
                    }
                }
            }
        }
        if !named.is_empty() {
            record(s, &image, count > 0);
        }
        Ok(CelValue::Int(count))
    })
}

fn record(s: &Scope, image: &str, verified: bool) {
    let mut v = s.verifications.borrow_mut();
    let e = v.entry(image.to_string()).or_insert(false);
    *e |= verified;
}

/// `verifyAttestationSignatures(image, attestation, attestors)`.
fn verify_attestation_signatures(
    image: Arc<String>,
    attestation: Arc<String>,
    attestors: CelValue,
) -> Result<CelValue, ExecutionError> {
    with_scope("verifyAttestationSignatures", |s| {
        if !s.policy.selects(&image)? {
            return Ok(CelValue::Int(0));
        }
        let kind = s
            .policy
            .attestations
            .get(attestation.as_str())
            .ok_or_else(|| format!("attestation not found in policy: {attestation}"))?
            .clone();
        let named = s.policy.named(&attestors)?;
        let v = verifier(s, &image)?;
        let mut count = 0;
        for ways in &named {
            for (a, opts) in ways.iter() {
                let (wanted, payload_of): (&str, fn(&Value) -> Option<Value>) = match &kind {
                    // the cosign verifier reads in-toto attestations only, Notary referrers only
                    Attestation::InToto(t) if !opts.notary => (t, |s| Some(s.clone())),
                    Attestation::Referrer(t) if opts.notary => (t, |s| s.get("predicate").cloned()),
                    _ => continue,
                };
                let attested = match v.attestations(&image, a, opts, wanted) {
                    Ok(at) => at,
                    Err(VerifyError::Failed(_)) => continue,
                    Err(VerifyError::Error(e)) => {
                        return Err(format!("failed to verify attestation of {image}: {e}"));
                    }
                };
                let found = attested.statements.iter().find(|st| {
                    st.get("predicateType")
                        .or_else(|| st.get("type"))
                        .and_then(Value::as_str)
                        == Some(wanted)
                });
                if let Some(payload) = found.and_then(payload_of) {
                    s.payloads
                        .borrow_mut()
                        .insert((image.to_string(), attestation.to_string()), payload);
                    count += 1;
                    break;
                }
            }
        }
        if !named.is_empty() {
            record(s, &image, count > 0);
        }
        Ok(CelValue::Int(count))
    })
}

/// `extractPayload(image, attestation)`.
fn extract_payload(
    image: Arc<String>,
    attestation: Arc<String>,
) -> Result<CelValue, ExecutionError> {
    with_scope("extractPayload", |s| {
        let kind = s
            .policy
            .attestations
            .get(attestation.as_str())
            .ok_or_else(|| format!("attestation not found in policy: {attestation}"))?;
        let key = (image.to_string(), attestation.to_string());
        match s.payloads.borrow().get(&key) {
            Some(p) => Ok(crate::cel::json_to_cel(p)),
            None => Err(match kind {
                Attestation::InToto(_) => {
                    "failed to get payload: intoto attestation payload cannot be fetch before verifying intoto attestation".to_string()
                }
                Attestation::Referrer(t) => format!(
                    "failed to get payload: the {t} referrer of {image} was not verified (call verifyAttestationSignatures first)"
                ),
            }),
        }
    })
}

/// `getImageData(image)`: Kyverno's image data fields.
fn get_image_data(image: Arc<String>) -> Result<CelValue, ExecutionError> {
    with_scope("getImageData", |s| {
        let v = verifier(s, &image)?;
        let d = v.image_data(&image).map_err(|e| match e {
            VerifyError::Error(e) | VerifyError::Failed(e) => {
                format!("failed to get imagedata: {e}")
            }
        })?;
        let g = |k: &str| d.get(k).cloned().unwrap_or(Value::Null);
        let identifier = d.get("identifier").and_then(Value::as_str).unwrap_or("");
        let (tag, digest) = if identifier.starts_with("sha256:") {
            (String::new(), identifier.to_string())
        } else {
            let resolved = d.get("resolvedImage").and_then(Value::as_str).unwrap_or("");
            let digest = resolved.rsplit_once('@').map(|(_, dg)| dg).unwrap_or("");
            (identifier.to_string(), digest.to_string())
        };
        Ok(crate::cel::json_to_cel(&json!({
            "image": g("image"),
            "resolvedImage": g("resolvedImage"),
            "registry": g("registry"),
            "repository": g("repository"),
            "tag": tag,
            "digest": digest,
            "imageIndex": g("manifestList"),
            "manifest": g("manifest"),
            "config": g("configData"),
        })))
    })
}

/// Registers the functions in the base CEL context.
pub fn register(ctx: &mut Context<'static>) {
    ctx.add_function("verifyImageSignatures", verify_image_signatures);
    ctx.add_function("verifyAttestationSignatures", verify_attestation_signatures);
    ctx.add_function("extractPayload", extract_payload);
    ctx.add_function("getImageData", get_image_data);
}

/// The default image extractors of a resource kind (Kyverno picks them by the request's
/// resource): the containers of its pod spec.
fn default_images(resource: &Value) -> Vec<(String, Vec<String>)> {
    let kind = resource.get("kind").and_then(Value::as_str).unwrap_or("");
    let api = resource
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    let spec = match (api, kind) {
        ("v1", "Pod") => "/spec",
        ("apps/v1", "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet")
        | ("batch/v1", "Job") => "/spec/template/spec",
        ("batch/v1", "CronJob") => "/spec/jobTemplate/spec/template/spec",
        _ => return Vec::new(),
    };
    ["containers", "initContainers", "ephemeralContainers"]
        .iter()
        .map(|c| {
            let images = resource
                .pointer(&format!("{spec}/{c}"))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|x| x.get("image").and_then(Value::as_str))
                .map(str::to_string)
                .collect();
            (c.to_string(), images)
        })
        .collect()
}

/// The outcome of one ImageValidatingPolicy on a resource: `None` when its match conditions
/// do not hold; else the result and the images it matched (for `required`, when on and the
/// policy passed).
pub fn evaluate(
    ip: &ImagePolicy,
    checks: &CelChecks,
    b: &Bindings<'_>,
    resource: &Value,
    verifier: Option<Arc<dyn ImageVerifier>>,
    verifications: &Verifications,
    ignore_errors: bool,
) -> Option<(Eval, Vec<String>)> {
    match ip.conditions.evaluate(b) {
        CelOutcome::NotApplicable => return None,
        CelOutcome::Error(_) if ignore_errors => return None,
        CelOutcome::Error(e) | CelOutcome::Fail(e) => {
            return Some((Eval::new(Status::Error, e), Vec::new()));
        }
        CelOutcome::Pass => {}
    }
    let mut categories = default_images(resource);
    if !ip.extractors.variables.is_empty() {
        match ip.extractors.values(b) {
            Ok(vals) => {
                for (name, v) in vals {
                    let Value::Array(a) = v else {
                        return Some((
                            Eval::new(
                                Status::Error,
                                format!("image extractor `{name}` did not give a list of strings"),
                            ),
                            Vec::new(),
                        ));
                    };
                    let images: Vec<String> = a
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect();
                    categories.retain(|(n, _)| n != &name);
                    categories.push((name, images));
                }
            }
            Err(e) => return Some((Eval::new(Status::Error, e), Vec::new())),
        }
    }
    let mut selected = serde_json::Map::new();
    let mut matched = Vec::new();
    for (name, images) in categories {
        let mut keep = Vec::new();
        for im in images {
            match ip.parts.selects(&im) {
                Ok(true) => {
                    keep.push(Value::String(im.clone()));
                    matched.push(im);
                }
                Ok(false) => {}
                Err(e) => return Some((Eval::new(Status::Error, e), Vec::new())),
            }
        }
        selected.insert(name, Value::Array(keep));
    }
    if ip.verify_digest
        && let Some(im) = matched.iter().find(|im| !im.contains('@'))
    {
        return Some((
            Eval::new(Status::Fail, format!("image {im} does not have a digest")),
            Vec::new(),
        ));
    }
    let scope = Rc::new(Scope {
        verifier,
        policy: ip.parts.clone(),
        verifications: verifications.clone(),
        payloads: RefCell::new(HashMap::new()),
    });
    let previous = SCOPE.with(|s| s.replace(Some(scope)));
    let mut bound = b.clone();
    let attestations: serde_json::Map<String, Value> = ip
        .parts
        .attestations
        .keys()
        .map(|k| (k.clone(), Value::String(k.clone())))
        .collect();
    bound.extra.push(("images", Value::Object(selected)));
    bound.extra.push(("attestors", ip.attestor_values.clone()));
    bound
        .extra
        .push(("attestations", Value::Object(attestations)));
    let outcome = checks.evaluate(&bound);
    SCOPE.with(|s| *s.borrow_mut() = previous);
    Some(match outcome {
        CelOutcome::Pass => (Eval::new(Status::Pass, "success"), matched),
        CelOutcome::NotApplicable => return None,
        CelOutcome::Fail(m) => (Eval::new(Status::Fail, m), Vec::new()),
        CelOutcome::Error(e) => (Eval::new(Status::Error, e), Vec::new()),
    })
}

/// `validationConfigurations.mutateDigest` (on by default), as Kyverno's mutating webhook
/// applies it: the resource with each selected image of its pod spec that has no digest
/// pinned to the digest its tag resolves to (`image:tag@sha256:…`); `None` when nothing
/// changes. An image that cannot be resolved is left as it is (the validation then fails it
/// for its missing digest).
pub fn pin_digests(
    ip: &ImagePolicy,
    b: &Bindings<'_>,
    resource: &Value,
    verifier: Option<&dyn ImageVerifier>,
) -> Option<Value> {
    if !ip.mutate_digest || ip.conditions.evaluate(b) != CelOutcome::Pass {
        return None;
    }
    let v = verifier?;
    let mut out = resource.clone();
    let mut changed = false;
    for (pointer, image) in crate::images::images_with_pointers(resource) {
        if image.contains('@') || ip.parts.selects(&image) != Ok(true) {
            continue;
        }
        if let (Ok(digest), Some(slot)) = (v.digest(&image), out.pointer_mut(&pointer)) {
            *slot = Value::String(format!("{image}@{digest}"));
            changed = true;
        }
    }
    changed.then_some(out)
}

/// Kyverno's `required` check of a passing policy: every image it matched was verified by
/// some policy of the request; the failure message otherwise.
pub fn unverified(images: &[String], verifications: &Verifications) -> Option<String> {
    let v = verifications.borrow();
    images.iter().find_map(|im| match v.get(im) {
        Some(true) => None,
        Some(false) => Some(format!(
            "image {im} failed signature or attestation verification"
        )),
        None => Some(format!(
            "image {im} is not verified: no policy performed a signature or attestation check on it"
        )),
    })
}

impl ImagePolicy {
    /// Whether `required` is on.
    pub fn required(&self) -> bool {
        self.required
    }
}

thread_local! {
    /// The verifications of the request being evaluated ([`begin_request`]).
    static REQUEST: RefCell<Option<Verifications>> = const { RefCell::new(None) };
}

/// While it lives, the ImageValidatingPolicies evaluated on this thread share their
/// verifications (one admission request), and leave `required` to [`unverified`] at the end.
pub struct RequestGuard {
    previous: Option<Verifications>,
    pub verifications: Verifications,
}

/// Starts a request's verifications (see [`RequestGuard`]).
pub fn begin_request() -> RequestGuard {
    let verifications: Verifications = Rc::default();
    let previous = REQUEST.with(|r| r.replace(Some(verifications.clone())));
    RequestGuard {
        previous,
        verifications,
    }
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        REQUEST.with(|r| *r.borrow_mut() = previous);
    }
}

/// The current request's verifications, if a [`RequestGuard`] lives.
pub fn current() -> Option<Verifications> {
    REQUEST.with(|r| r.borrow().clone())
}
