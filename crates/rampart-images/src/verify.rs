//! cosign signature verification with public keys, in cosign's storage format: the signature
//! manifest at tag `sha256-<hex>.sig` in the image's repository, one layer per signature whose
//! blob is the simple-signing payload and whose `dev.cosignproject.cosign/signature`
//! annotation is the base64 signature over the payload bytes.

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

/// Verifies `image`: resolves its digest, fetches its cosign signatures and accepts it when at
/// least one signature verifies with one of `keys` and its payload names the image's digest.
pub async fn verify_image(client: &Client, image: &str, keys: &[PublicKey]) -> Verification {
    let policy = Policy {
        keys: keys.to_vec(),
        keyless: None,
    };
    verify_image_with(client, image, &policy).await
}

/// [`verify_image`] with keys and/or a keyless policy.
pub async fn verify_image_with(client: &Client, image: &str, policy: &Policy) -> Verification {
    let mut v = Verification {
        image: image.to_string(),
        digest: None,
        result: Err(String::new()),
    };
    let r = match Reference::parse(image) {
        Ok(r) => r,
        Err(e) => {
            v.result = Err(e.to_string());
            return v;
        }
    };
    let digest = match client.resolve_digest(&r).await {
        Ok(d) => d,
        Err(e) => {
            v.result = Err(e.to_string());
            return v;
        }
    };
    v.digest = Some(digest.clone());
    v.result = check_signatures(client, &r, &digest, policy).await;
    v
}

async fn check_signatures(
    client: &Client,
    r: &Reference,
    digest: &str,
    policy: &Policy,
) -> Result<usize, String> {
    let tag = signature_tag(digest);
    let manifest = match client.manifest(r, &tag).await {
        Ok(Some(m)) => m,
        Ok(None) => return Err(format!("no signatures found (no {tag} manifest)")),
        Err(e) => return Err(e.to_string()),
    };
    let m: serde_json::Value = serde_json::from_slice(&manifest.bytes)
        .map_err(|e| format!("the signature manifest {tag} is not JSON: {e}"))?;
    let layers = m
        .get("layers")
        .and_then(|l| l.as_array())
        .filter(|l| !l.is_empty())
        .ok_or_else(|| format!("no signatures found (the {tag} manifest has no layers)"))?;
    let mut verified = 0;
    let mut reasons = Vec::new();
    for (i, layer) in layers.iter().enumerate() {
        match check_layer(client, r, digest, layer, policy).await {
            Ok(()) => verified += 1,
            Err(why) => reasons.push(format!("signature {}: {why}", i + 1)),
        }
    }
    if verified > 0 {
        Ok(verified)
    } else {
        Err(reasons.join("; "))
    }
}

async fn check_layer(
    client: &Client,
    r: &Reference,
    digest: &str,
    layer: &serde_json::Value,
    policy: &Policy,
) -> Result<(), String> {
    let keys = &policy.keys;
    let annotations = layer.get("annotations").unwrap_or(&serde_json::Value::Null);
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
    let payload = client.blob(r, blob).await.map_err(|e| e.to_string())?;
    let by_key = keys.iter().any(|k| k.verify(&payload, &sig));
    if !by_key && let Some(kp) = &policy.keyless {
        crate::keyless::verify_layer(kp, annotations, &payload, &sig, sig_b64)?;
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
    let p: serde_json::Value = serde_json::from_slice(&payload)
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
