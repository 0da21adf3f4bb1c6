//! cosign signature verification with public keys, in cosign's storage format: the signature
//! manifest at tag `sha256-<hex>.sig` in the image's repository, one layer per signature whose
//! blob is the simple-signing payload and whose `dev.cosignproject.cosign/signature`
//! annotation is the base64 signature over the payload bytes. Images signed as cosign 3 signs
//! them by default count too: a Sigstore bundle (a DSSE statement naming the image's digest,
//! predicate `https://sigstore.dev/cosign/sign/v1`) attached as an OCI 1.1 referrer, found
//! through the referrers API or the referrers tag schema's index at `sha256-<hex>`
//! ([`crate::bundle`]).

use crate::keyless::KeylessPolicy;
use crate::keys::PublicKey;
use crate::reference::Reference;
use crate::registry::Client;
use base64::Engine as _;
use serde::Serialize;

/// The annotation holding a layer's signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// The simple-signing payload's `critical.type`.
pub const PAYLOAD_TYPE: &str = "cosign container image signature";

/// The outcome for one image.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    /// The image as given.
    pub image: String,
    /// The digest it resolved to, when it did.
    pub digest: Option<String>,
    /// How many signatures verified (at least one), or why none did.
    pub result: Result<usize, String>,
    /// The failure is the registry's: unreachable, too slow, or a server error (a webhook's
    /// `failurePolicy` decides what that means), not a missing or bad signature.
    #[serde(skip)]
    pub unreachable: bool,
}

impl Verification {
    pub fn ok(&self) -> bool {
        self.result.is_ok()
    }
}

/// The cosign signature tag of a digest: `sha256:abc…` → `sha256-abc….sig`.
pub fn signature_tag(digest: &str) -> String {
    format!("{}.sig", digest.replacen(':', "-", 1))
}

/// What a signature must verify with: any of the keys, or a keyless identity.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub keys: Vec<PublicKey>,
    pub keyless: Option<KeylessPolicy>,
}

/// Why a verification failed, and whether the registry is to blame.
struct Failure {
    reason: String,
    unreachable: bool,
}

impl From<crate::Error> for Failure {
    fn from(e: crate::Error) -> Self {
        Failure {
            unreachable: matches!(e, crate::Error::Unreachable(_)),
            reason: e.to_string(),
        }
    }
}

impl From<String> for Failure {
    fn from(reason: String) -> Self {
        Failure {
            reason,
            unreachable: false,
        }
    }
}

/// Verifies `image`: resolves its digest, fetches its cosign signatures and accepts it when at
/// least one signature verifies with one of `keys` and its payload names the image's digest.
pub async fn verify_image(client: &Client, image: &str, keys: &[PublicKey]) -> Verification {
    let policy = Policy {
        keys: keys.to_vec(),
        keyless: None,
    };
    verify_image_with(client, image, &policy).await
}

/// The image's reference and the digest its tag resolves to, or the failed verification
/// saying why they could not be had.
async fn resolve(client: &Client, image: &str) -> Result<(Reference, String), Verification> {
    let failed = |f: Failure| Verification {
        image: image.to_string(),
        digest: None,
        result: Err(f.reason),
        unreachable: f.unreachable,
    };
    let r = Reference::parse(image).map_err(|e| failed(e.to_string().into()))?;
    let digest = client
        .resolve_digest(&r)
        .await
        .map_err(|e| failed(e.into()))?;
    Ok((r, digest))
}

/// [`verify_image`] with keys and/or a keyless policy.
pub async fn verify_image_with(client: &Client, image: &str, policy: &Policy) -> Verification {
    verify_image_count(client, image, std::slice::from_ref(policy), 1).await
}

/// Verifies `image` against several attestors (each a [`Policy`]: a key, or a keyless
/// identity) of which at least `count` must each have a signature that verifies. The image is
/// resolved and its signatures fetched once. `Ok` holds how many attestors verified.
pub async fn verify_image_count(
    client: &Client,
    image: &str,
    attestors: &[Policy],
    count: usize,
) -> Verification {
    let (r, digest) = match resolve(client, image).await {
        Ok(found) => found,
        Err(failed) => return failed,
    };
    let outcome = check_signatures(client, &r, &digest, attestors, count).await;
    verified(image, digest, outcome)
}

/// The verification of `image`, resolved to `digest`, with its outcome.
fn verified(image: &str, digest: String, outcome: Result<usize, Failure>) -> Verification {
    let (result, unreachable) = match outcome {
        Ok(n) => (Ok(n), false),
        Err(f) => (Err(f.reason), f.unreachable),
    };
    Verification {
        image: image.to_string(),
        digest: Some(digest),
        result,
        unreachable,
    }
}

/// One signature layer, fetched: its annotations, signature and signed payload.
struct Layer<'a> {
    annotations: &'a serde_json::Value,
    sig: Vec<u8>,
    sig_b64: &'a str,
    payload: crate::registry::Bytes,
}

/// The layers of the manifest cosign stores at `tag` (`sha256-<hex>.sig` for signatures,
/// `.att` for attestations; or a referrer's digest), or why there are none; `what` names them
/// in the reasons.
async fn cosign_layers(
    client: &Client,
    r: &Reference,
    tag: &str,
    what: &str,
) -> Result<Vec<serde_json::Value>, Failure> {
    let manifest = match client.manifest(r, tag).await {
        Ok(Some(m)) => m,
        Ok(None) => return Err(format!("no {what}s found (no {tag} manifest)").into()),
        Err(e) => return Err(e.into()),
    };
    let mut m: serde_json::Value = serde_json::from_slice(&manifest.bytes)
        .map_err(|e| format!("the {what} manifest {tag} is not JSON: {e}"))?;
    match m.get_mut("layers").map(serde_json::Value::take) {
        Some(serde_json::Value::Array(layers)) if !layers.is_empty() => Ok(layers),
        _ => Err(format!("no {what}s found (the {tag} manifest has no layers)").into()),
    }
}

/// The artifact type of the signature manifests `cosign sign --experimental-oci11` attaches
/// as OCI 1.1 referrers (layers as in a `.sig` manifest).
pub const OCI11_SIGNATURE_TYPE: &str = "application/vnd.dev.cosign.artifact.sig.v1+json";

/// The signature layers of `digest` as `cosign verify --experimental-oci11` finds them: those
/// of the last referrer of artifact type [`OCI11_SIGNATURE_TYPE`] (cosign takes the last when
/// there are several), then, as cosign falls back, those of the `.sig` manifest. An error
/// when neither has any.
async fn oci11_signature_layers(
    client: &Client,
    r: &Reference,
    digest: &str,
) -> Result<Vec<serde_json::Value>, Failure> {
    let referrers = client.referrers(r, digest).await?;
    let mut layers = match referrers
        .iter()
        .rfind(|m| m.artifact_type.as_deref() == Some(OCI11_SIGNATURE_TYPE))
    {
        Some(m) => cosign_layers(client, r, &m.digest, "signature").await?,
        None => Vec::new(),
    };
    match cosign_layers(client, r, &signature_tag(digest), "signature").await {
        Ok(more) => layers.extend(more),
        Err(f) if f.unreachable => return Err(f),
        Err(f) if layers.is_empty() => {
            return Err(format!(
                "{} and no referrer of artifact type {OCI11_SIGNATURE_TYPE}",
                f.reason
            )
            .into());
        }
        Err(_) => {}
    }
    Ok(layers)
}

/// The predicate type of the in-toto statement `cosign sign` (v3, new bundle format) signs.
pub const COSIGN_SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";

/// Referrer manifests looked at, at most.
const MAX_REFERRERS: usize = 64;

/// One signature to check: a cosign `.sig` layer or a Sigstore bundle attached as a referrer.
enum Candidate<'a> {
    Layer(Result<Layer<'a>, String>),
    Bundle(Result<crate::bundle::Bundle, String>),
}

/// The Sigstore bundles attached to `digest` as cosign 3 attaches them: OCI 1.1 referrer
/// manifests whose one layer is a bundle, listed by the registry's referrers API or, where it
/// has none, the referrers tag schema's index at `sha256-<hex>`.
async fn referrer_bundles(
    client: &Client,
    r: &Reference,
    digest: &str,
) -> Result<Vec<Result<crate::bundle::Bundle, String>>, Failure> {
    let referrers = client.referrers(r, digest).await?;
    let mut bundles = Vec::new();
    for md in referrers.iter().take(MAX_REFERRERS) {
        let md = md.digest.as_str();
        let manifest = match client.manifest(r, md).await {
            Ok(Some(m)) => m,
            Ok(None) => continue,
            Err(e) => return Err(e.into()),
        };
        let Ok(manifest) = serde_json::from_slice::<serde_json::Value>(&manifest.bytes) else {
            continue;
        };
        // Other referrers (SBOMs, other tools' artifacts) are not signatures.
        let Some(layer) = manifest
            .get("layers")
            .and_then(|l| l.as_array())
            .and_then(|l| l.first())
            .filter(|l| {
                l.get("mediaType")
                    .and_then(|t| t.as_str())
                    .is_some_and(|t| t.starts_with("application/vnd.dev.sigstore.bundle"))
            })
        else {
            continue;
        };
        let blob = layer.get("digest").and_then(|d| d.as_str()).unwrap_or("");
        bundles.push(match client.blob(r, blob).await {
            Ok(bytes) => std::str::from_utf8(&bytes)
                .map_err(|e| format!("bundle {md} is not UTF-8: {e}"))
                .and_then(|text| crate::bundle::Bundle::parse(md, text).map_err(|e| e.to_string())),
            Err(e) => {
                let f = Failure::from(e);
                if f.unreachable {
                    return Err(f);
                }
                Err(f.reason)
            }
        });
    }
    Ok(bundles)
}

async fn check_signatures(
    client: &Client,
    r: &Reference,
    digest: &str,
    attestors: &[Policy],
    count: usize,
) -> Result<usize, Failure> {
    let sig_tag = signature_tag(digest);
    let layers = match cosign_layers(client, r, &sig_tag, "signature").await {
        Ok(layers) => layers,
        Err(f) if f.unreachable => return Err(f),
        Err(f) => {
            // cosign v3 attaches Sigstore bundles as referrers instead.
            let bundles = referrer_bundles(client, r, digest).await?;
            if bundles.is_empty() {
                return Err(
                    format!("{} and no Sigstore bundles among its referrers", f.reason).into(),
                );
            }
            let candidates: Vec<Candidate<'_>> =
                bundles.into_iter().map(Candidate::Bundle).collect();
            return judge(&candidates, digest, attestors, count);
        }
    };
    let mut candidates: Vec<Candidate<'_>> = fetch_layers(client, r, &layers)
        .await?
        .into_iter()
        .map(Candidate::Layer)
        .collect();
    // Bundles beside `.sig` signatures count too (an image signed by cosign 2 and 3).
    if let Ok(bundles) = referrer_bundles(client, r, digest).await {
        candidates.extend(bundles.into_iter().map(Candidate::Bundle));
    }
    judge(&candidates, digest, attestors, count)
}

/// The Sigstore bundles attached to `image` as referrers that verify with `policy` for the
/// image's digest (message signatures of it, or in-toto statements naming it), of
/// `predicate_type` when given, as Kyverno's `type: SigstoreBundle` reads them: `Ok` holds the
/// statements of those that verified (none for message signatures); an error when none did.
pub async fn verify_bundles(
    client: &Client,
    image: &str,
    policy: &Policy,
    predicate_type: Option<&str>,
) -> Attestations {
    let (r, digest) = match resolve(client, image).await {
        Ok(found) => found,
        Err(v) => return Attestations::unresolved(v),
    };
    let outcome = async {
        let bundles = referrer_bundles(client, &r, &digest).await?;
        let mut reasons = Vec::new();
        let mut statements = Vec::new();
        let mut verified = 0;
        for (i, bundle) in bundles.iter().enumerate() {
            let bundle = match bundle {
                Ok(b) => b,
                Err(why) => {
                    reasons.push(format!("bundle {}: {why}", i + 1));
                    continue;
                }
            };
            if let Some(want) = predicate_type
                && bundle.predicate_type().as_deref() != Some(want)
            {
                continue;
            }
            let target = crate::bundle::Target::Image {
                digest: &digest,
                predicate_type,
            };
            match verify_bundle_with(bundle, policy, target) {
                Ok(()) => {
                    verified += 1;
                    statements.extend(bundle.statement());
                }
                Err(why) => reasons.push(format!("bundle {}: {why}", i + 1)),
            }
        }
        if verified == 0 {
            let why = if reasons.is_empty() {
                "no Sigstore bundle among the image's referrers".to_string()
            } else {
                reasons.join("; ")
            };
            return Err(Failure::from(format!(
                "sigstore bundle verification failed: no matching signatures found: {why}"
            )));
        }
        Ok(statements)
    }
    .await;
    Attestations::of(image, digest, outcome)
}

/// Whether `bundle` verifies for `target` with `policy`'s keys or keyless identities.
fn verify_bundle_with(
    bundle: &crate::bundle::Bundle,
    policy: &Policy,
    target: crate::bundle::Target<'_>,
) -> Result<(), String> {
    use crate::bundle::Signer;
    let by_key = if policy.keys.is_empty() {
        None
    } else {
        Some(bundle.verify(Signer::Keys(&policy.keys), target))
    };
    match (by_key, &policy.keyless) {
        (Some(Ok(_)), _) => Ok(()),
        (_, Some(kp)) => bundle.verify(Signer::Keyless(kp), target).map(|_| ()),
        (Some(Err(why)), None) => Err(why),
        (None, None) => Err("no key or keyless identity to verify with".into()),
    }
}

/// Whether a bundle attached to the image `digest` is a signature by `policy`'s keys or
/// keyless identities.
fn check_bundle(
    bundle: &crate::bundle::Bundle,
    digest: &str,
    policy: &Policy,
) -> Result<(), String> {
    let target = crate::bundle::Target::Image {
        digest,
        predicate_type: Some(COSIGN_SIGN_PREDICATE),
    };
    verify_bundle_with(bundle, policy, target)
}

/// Counts the attestors with a signature among `candidates` that verifies.
fn judge(
    candidates: &[Candidate<'_>],
    digest: &str,
    attestors: &[Policy],
    count: usize,
) -> Result<usize, Failure> {
    let mut verified = 0;
    let mut failed = Vec::new();
    for (a, policy) in attestors.iter().enumerate() {
        let mut reasons = Vec::new();
        let mut ok = false;
        let (mut sigs, mut bundles) = (0, 0);
        for candidate in candidates {
            let (label, checked) = match candidate {
                Candidate::Layer(layer) => {
                    sigs += 1;
                    (
                        format!("signature {sigs}"),
                        layer
                            .as_ref()
                            .map_err(Clone::clone)
                            .and_then(|l| check_layer(l, digest, policy)),
                    )
                }
                Candidate::Bundle(bundle) => {
                    bundles += 1;
                    (
                        format!("bundle {bundles}"),
                        bundle
                            .as_ref()
                            .map_err(Clone::clone)
                            .and_then(|b| check_bundle(b, digest, policy)),
                    )
                }
            };
            match checked {
                Ok(()) => {
                    ok = true;
                    break;
                }
                Err(why) => reasons.push(format!("{label}: {why}")),
            }
        }
        if ok {
            verified += 1;
        } else if attestors.len() == 1 {
            failed.push(reasons.join("; "));
        } else {
            failed.push(format!(
                "attestor {} ({}): {}",
                a + 1,
                attestor_name(policy),
                reasons.join("; ")
            ));
        }
    }
    if verified >= count.max(1) {
        Ok(verified)
    } else if attestors.len() == 1 {
        Err(failed.join("; ").into())
    } else {
        Err(format!(
            "{verified} of {} attestors verified, {} required: {}",
            attestors.len(),
            count.max(1),
            failed.join("; ")
        )
        .into())
    }
}

/// How an attestor is named in messages: its keys, or its keyless identities.
fn attestor_name(policy: &Policy) -> String {
    let mut names: Vec<String> = policy.keys.iter().map(|k| k.name.clone()).collect();
    if let Some(kp) = &policy.keyless {
        names.extend(
            kp.identities
                .iter()
                .map(|i| format!("identity {} issuer {}", i.subject, i.issuer)),
        );
    }
    names.join(", ")
}

/// Each of `layers` fetched, or why it could not be; a registry that cannot be reached stops.
async fn fetch_layers<'a>(
    client: &Client,
    r: &Reference,
    layers: &'a [serde_json::Value],
) -> Result<Vec<Result<Layer<'a>, String>>, Failure> {
    let mut fetched = Vec::with_capacity(layers.len());
    for layer in layers {
        fetched.push(match fetch_layer(client, r, layer).await {
            Ok(l) => Ok(l),
            Err(f) if f.unreachable => return Err(f),
            Err(f) => Err(f.reason),
        });
    }
    Ok(fetched)
}

async fn fetch_layer<'a>(
    client: &Client,
    r: &Reference,
    layer: &'a serde_json::Value,
) -> Result<Layer<'a>, Failure> {
    static NULL: serde_json::Value = serde_json::Value::Null;
    let annotations = layer.get("annotations").unwrap_or(&NULL);
    let sig_b64 = annotations
        .get(SIGNATURE_ANNOTATION)
        .and_then(|s| s.as_str())
        .ok_or_else(|| format!("no {SIGNATURE_ANNOTATION} annotation"))?;
    let sig = base64::engine::general_purpose::STANDARD
        .decode(sig_b64.trim())
        .map_err(|e| format!("the signature annotation is not base64: {e}"))?;
    let blob = layer
        .get("digest")
        .and_then(|d| d.as_str())
        .ok_or_else(|| "the layer has no digest".to_string())?;
    let payload = client.blob(r, blob).await?;
    Ok(Layer {
        annotations,
        sig,
        sig_b64,
        payload,
    })
}

fn check_layer(layer: &Layer<'_>, digest: &str, policy: &Policy) -> Result<(), String> {
    let keys = &policy.keys;
    let (payload, sig) = (&layer.payload, &layer.sig);
    let by_key = keys.iter().any(|k| k.verify(payload, sig));
    if !by_key && let Some(kp) = &policy.keyless {
        crate::keyless::verify_layer(kp, layer.annotations, payload, sig, layer.sig_b64)?;
    } else if !by_key {
        let names: Vec<&str> = keys.iter().map(|k| k.name.as_str()).collect();
        return Err(format!(
            "the signature does not verify with {} {}",
            if names.len() == 1 {
                "the key"
            } else {
                "any of the keys"
            },
            names.join(", ")
        ));
    }
    let p: serde_json::Value = serde_json::from_slice(payload)
        .map_err(|e| format!("the signed payload is not JSON: {e}"))?;
    let critical = p.get("critical");
    let kind = critical
        .and_then(|c| c.get("type"))
        .and_then(|t| t.as_str())
        .unwrap_or("");
    if kind != PAYLOAD_TYPE {
        return Err(format!(
            "the signed payload's type is {kind:?}, not {PAYLOAD_TYPE:?}"
        ));
    }
    let signed = critical
        .and_then(|c| c.get("image"))
        .and_then(|i| i.get("docker-manifest-digest"))
        .and_then(|d| d.as_str())
        .unwrap_or("");
    if signed != digest {
        return Err(format!(
            "the signature is for {signed}, not for the image's digest {digest}"
        ));
    }
    Ok(())
}

/// [`verify_image_with`] for a signature whose payload's `optional` section also holds each of
/// `annotations` (string values, compared exactly), as cosign's `-a key=value`: among the
/// signatures that verify, one must carry them all ("no signature matched the required
/// annotations" otherwise).
///
/// With `repository` (`registry/path`), the signatures are looked up there rather than in the
/// image's repository (cosign's `COSIGN_REPOSITORY`).
///
/// With `oci11`, signatures attached as OCI 1.1 referrers count too, as `cosign verify
/// --experimental-oci11` finds them ([`OCI11_SIGNATURE_TYPE`]).
pub async fn verify_image_annotated(
    client: &Client,
    image: &str,
    policy: &Policy,
    annotations: &std::collections::BTreeMap<String, String>,
    repository: Option<&str>,
    oci11: bool,
) -> Verification {
    let (image_ref, digest) = match resolve(client, image).await {
        Ok(found) => found,
        Err(failed) => return failed,
    };
    let r = match signatures_repository(image, image_ref, repository) {
        Ok(r) => r,
        Err(failed) => return failed,
    };
    let outcome = async {
        let layers = if oci11 {
            oci11_signature_layers(client, &r, &digest).await?
        } else {
            cosign_layers(client, &r, &signature_tag(&digest), "signature").await?
        };
        let mut reasons = Vec::new();
        let mut verified = Vec::new();
        for (i, layer) in fetch_layers(client, &r, &layers).await?.iter().enumerate() {
            let checked = layer
                .as_ref()
                .map_err(Clone::clone)
                .and_then(|l| check_layer(l, &digest, policy).map(|()| l.payload.clone()));
            match checked {
                Ok(payload) => verified.push(payload),
                Err(why) => reasons.push(format!("signature {}: {why}", i + 1)),
            }
        }
        if verified.is_empty() {
            return Err(Failure::from(reasons.join("; ")));
        }
        let carries_all = |payload: &crate::registry::Bytes| {
            let p: serde_json::Value = serde_json::from_slice(payload).unwrap_or_default();
            annotations.iter().all(|(k, v)| {
                p.get("optional")
                    .and_then(|o| o.get(k))
                    .and_then(|x| x.as_str())
                    == Some(v.as_str())
            })
        };
        if verified.iter().any(carries_all) {
            Ok(verified.len())
        } else {
            Err(Failure::from(
                "no signature matched the required annotations".to_string(),
            ))
        }
    }
    .await;
    verified(image, digest, outcome)
}

/// Where `image`'s signatures and attestations are: `repository` (`registry/path`) when given,
/// else the image's own repository.
fn signatures_repository(
    image: &str,
    image_ref: Reference,
    repository: Option<&str>,
) -> Result<Reference, Verification> {
    match repository {
        None => Ok(image_ref),
        Some(repo) => Reference::parse(repo).map_err(|e| Verification {
            image: image.to_string(),
            digest: None,
            result: Err(format!("bad signature repository {repo:?}: {e}")),
            unreachable: false,
        }),
    }
}

/// Verifies `image` with the certificates its signatures carry (cosign's
/// `--certificate-chain` without `--certificate`, the transparency log ignored): a signature
/// verifies when its certificate chains to one of the PEM `roots` (see
/// [`crate::keyless::roots_key`]), is valid at `now` (seconds since the epoch), and its key
/// signed the payload, which names the image's digest.
pub async fn verify_image_with_roots(
    client: &Client,
    image: &str,
    roots: &str,
    now: u64,
) -> Verification {
    let (r, digest) = match resolve(client, image).await {
        Ok(found) => found,
        Err(failed) => return failed,
    };
    let outcome = async {
        let layers = cosign_layers(client, &r, &signature_tag(&digest), "signature").await?;
        let mut reasons = Vec::new();
        for (i, layer) in layers.iter().enumerate() {
            let checked = match fetch_layer(client, &r, layer).await {
                Ok(l) => {
                    let text =
                        |k: &str| l.annotations.get(k).and_then(|c| c.as_str()).unwrap_or("");
                    crate::keyless::roots_key(
                        text(crate::keyless::CERTIFICATE_ANNOTATION),
                        text(crate::keyless::CHAIN_ANNOTATION),
                        roots,
                        now,
                    )
                    .and_then(|key| {
                        let policy = Policy {
                            keys: vec![key],
                            keyless: None,
                        };
                        check_layer(&l, &digest, &policy)
                    })
                }
                Err(f) if f.unreachable => return Err(f),
                Err(f) => Err(f.reason),
            };
            match checked {
                Ok(()) => return Ok(1),
                Err(why) => reasons.push(format!("signature {}: {why}", i + 1)),
            }
        }
        Err(Failure::from(reasons.join("; ")))
    }
    .await;
    verified(image, digest, outcome)
}

/// The DSSE payload type of in-toto statements.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// DSSE's pre-authentication encoding, what an envelope's signatures sign.
pub fn dsse_pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// Verifies `image`'s cosign attestations (tag `sha256-<hex>.att`, one DSSE envelope per
/// layer): accepted when an envelope of an in-toto statement whose subject names the image's
/// digest, and whose `predicateType` is `predicate_type` when one is given, is signed by one of
/// `keys`. The count is of the attestations that verified.
pub async fn verify_attestations(
    client: &Client,
    image: &str,
    keys: &[PublicKey],
    predicate_type: Option<&str>,
) -> Verification {
    let (r, digest) = match resolve(client, image).await {
        Ok(found) => found,
        Err(failed) => return failed,
    };
    let outcome = check_attestations(client, &r, &digest, keys, predicate_type).await;
    verified(image, digest, outcome)
}

/// The layers of `digest`'s cosign attestation manifest (tag `sha256-<hex>.att`), each with
/// its DSSE envelope fetched or why it could not be; a registry that cannot be reached stops.
async fn fetch_envelopes(
    client: &Client,
    r: &Reference,
    digest: &str,
) -> Result<Vec<(serde_json::Value, Result<crate::registry::Bytes, String>)>, Failure> {
    let tag = format!("{}.att", digest.replacen(':', "-", 1));
    let layers = cosign_layers(client, r, &tag, "attestation").await?;
    let mut fetched = Vec::with_capacity(layers.len());
    for layer in layers {
        let blob = layer.get("digest").and_then(|d| d.as_str()).unwrap_or("");
        let envelope = match client.blob(r, blob).await {
            Ok(envelope) => Ok(envelope),
            Err(e) => {
                let f = Failure::from(e);
                if f.unreachable {
                    return Err(f);
                }
                Err(f.reason)
            }
        };
        fetched.push((layer, envelope));
    }
    Ok(fetched)
}

async fn check_attestations(
    client: &Client,
    r: &Reference,
    digest: &str,
    keys: &[PublicKey],
    predicate_type: Option<&str>,
) -> Result<usize, Failure> {
    let policy = Policy {
        keys: keys.to_vec(),
        keyless: None,
    };
    let mut verified = 0;
    let mut reasons = Vec::new();
    for (i, (layer, envelope)) in fetch_envelopes(client, r, digest).await?.iter().enumerate() {
        let checked = envelope
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|envelope| {
                check_envelope(envelope, layer, digest, &policy, predicate_type).map(|_| ())
            });
        match checked {
            Ok(()) => verified += 1,
            Err(why) => reasons.push(format!("attestation {}: {why}", i + 1)),
        }
    }
    if verified > 0 {
        Ok(verified)
    } else {
        Err(reasons.join("; ").into())
    }
}

/// Checks one DSSE envelope (the blob of `layer`, whose annotations carry a keyless
/// signature's certificate and log entry); the in-toto statement it signs.
fn check_envelope(
    envelope: &[u8],
    layer: &serde_json::Value,
    digest: &str,
    policy: &Policy,
    predicate_type: Option<&str>,
) -> Result<serde_json::Value, String> {
    let keys = &policy.keys;
    let b64 = base64::engine::general_purpose::STANDARD;
    let env: serde_json::Value =
        serde_json::from_slice(envelope).map_err(|e| format!("not a DSSE envelope: {e}"))?;
    let payload_type = env
        .get("payloadType")
        .and_then(|t| t.as_str())
        .unwrap_or("");
    if payload_type != IN_TOTO_PAYLOAD_TYPE {
        return Err(format!(
            "the envelope's payloadType is {payload_type:?}, not {IN_TOTO_PAYLOAD_TYPE:?}"
        ));
    }
    let payload = env
        .get("payload")
        .and_then(|p| p.as_str())
        .and_then(|p| b64.decode(p).ok())
        .ok_or_else(|| "the envelope's payload is missing or not base64".to_string())?;
    let pae = dsse_pae(payload_type, &payload);
    let sigs: Vec<Vec<u8>> = env
        .get("signatures")
        .and_then(|s| s.as_array())
        .into_iter()
        .flatten()
        .filter_map(|s| s.get("sig").and_then(|s| s.as_str()))
        .filter_map(|s| b64.decode(s).ok())
        .collect();
    let by_key = sigs
        .iter()
        .any(|sig| keys.iter().any(|k| k.verify(&pae, sig)));
    if !by_key && let Some(kp) = &policy.keyless {
        static NULL: serde_json::Value = serde_json::Value::Null;
        let annotations = layer.get("annotations").unwrap_or(&NULL);
        let mut last = "the envelope has no signature".to_string();
        let ok = sigs.iter().any(|sig| {
            crate::keyless::verify_signed(
                kp,
                annotations,
                &pae,
                sig,
                crate::keyless::Logged::Envelope(envelope),
            )
            .map_err(|e| last = e)
            .is_ok()
        });
        if !ok {
            return Err(last);
        }
    } else if !by_key {
        let names: Vec<&str> = keys.iter().map(|k| k.name.as_str()).collect();
        return Err(format!(
            "no envelope signature verifies with {} {}",
            if names.len() == 1 {
                "the key"
            } else {
                "any of the keys"
            },
            names.join(", ")
        ));
    }
    let statement: serde_json::Value = serde_json::from_slice(&payload)
        .map_err(|e| format!("the in-toto statement is not JSON: {e}"))?;
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    let names_image = statement
        .get("subject")
        .and_then(|s| s.as_array())
        .into_iter()
        .flatten()
        .any(|s| s.pointer("/digest/sha256").and_then(|d| d.as_str()) == Some(hex));
    if !names_image {
        return Err(format!(
            "the statement's subjects do not include the image's digest {digest}"
        ));
    }
    if let Some(want) = predicate_type {
        let got = statement
            .get("predicateType")
            .and_then(|p| p.as_str())
            .unwrap_or("");
        if got != want {
            return Err(format!("the predicateType is {got:?}, not {want:?}"));
        }
    }
    Ok(statement)
}

/// The attestations of one image that verified.
#[derive(Debug, Clone)]
pub struct Attestations {
    /// The image as given.
    pub image: String,
    /// The digest it resolved to, when it did.
    pub digest: Option<String>,
    /// The in-toto statements of every attestation signed by one of the keys for the image's
    /// digest (at least one), or why none verified.
    pub result: Result<Vec<serde_json::Value>, String>,
    /// The failure is the registry's (see [`Verification::unreachable`]).
    pub unreachable: bool,
}

/// Fetches `image`'s cosign attestations (as [`verify_attestations`]) and returns the in-toto
/// statements of those that verify with one of `keys`, whatever their predicate type, as
/// cosign's `VerifyImageAttestations` does; an error when none does.
pub async fn fetch_attestations(client: &Client, image: &str, keys: &[PublicKey]) -> Attestations {
    fetch_attestations_from(client, image, keys, None).await
}

/// [`fetch_attestations`] from `repository` (`registry/path`) when given (cosign's
/// `COSIGN_REPOSITORY`), else from the image's repository.
pub async fn fetch_attestations_from(
    client: &Client,
    image: &str,
    keys: &[PublicKey],
    repository: Option<&str>,
) -> Attestations {
    let policy = Policy {
        keys: keys.to_vec(),
        keyless: None,
    };
    fetch_attestations_with(client, image, &policy, repository).await
}

/// [`fetch_attestations_from`] with keys and/or a keyless policy: a keyless attestation's
/// certificate, Rekor entry (`intoto` or `dsse`, recording the envelope) and identity are
/// checked as for signatures.
pub async fn fetch_attestations_with(
    client: &Client,
    image: &str,
    policy: &Policy,
    repository: Option<&str>,
) -> Attestations {
    let (r, digest) = match resolve(client, image).await {
        Ok((image_ref, digest)) => match signatures_repository(image, image_ref, repository) {
            Ok(r) => (r, digest),
            Err(f) => return Attestations::unresolved(f),
        },
        Err(f) => return Attestations::unresolved(f),
    };
    let outcome = verified_statements(client, &r, &digest, policy).await;
    Attestations::of(image, digest, outcome)
}

impl Attestations {
    /// The attestations of `image`, resolved to `digest`, with their outcome.
    fn of(
        image: &str,
        digest: String,
        outcome: Result<Vec<serde_json::Value>, Failure>,
    ) -> Attestations {
        let (result, unreachable) = match outcome {
            Ok(s) => (Ok(s), false),
            Err(f) => (Err(f.reason), f.unreachable),
        };
        Attestations {
            image: image.to_string(),
            digest: Some(digest),
            result,
            unreachable,
        }
    }

    /// The image did not resolve (or its signature repository did not parse): why.
    fn unresolved(v: Verification) -> Attestations {
        Attestations {
            image: v.image,
            digest: None,
            result: Err(v.result.err().unwrap_or_default()),
            unreachable: v.unreachable,
        }
    }
}

async fn verified_statements(
    client: &Client,
    r: &Reference,
    digest: &str,
    policy: &Policy,
) -> Result<Vec<serde_json::Value>, Failure> {
    let mut statements = Vec::new();
    let mut reasons = Vec::new();
    for (i, (layer, envelope)) in fetch_envelopes(client, r, digest).await?.iter().enumerate() {
        let checked = envelope
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|envelope| check_envelope(envelope, layer, digest, policy, None));
        match checked {
            Ok(s) => statements.push(s),
            Err(why) => reasons.push(format!("attestation {}: {why}", i + 1)),
        }
    }
    if statements.is_empty() {
        Err(format!("no matching attestations: {}", reasons.join("; ")).into())
    } else {
        Ok(statements)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_as_the_dsse_spec_writes_it() {
        assert_eq!(
            dsse_pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
        );
        assert_eq!(signature_tag("sha256:ab"), "sha256-ab.sig");
    }
}
