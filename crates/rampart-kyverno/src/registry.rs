//! An [`ImageVerifier`] over OCI registries, with rampart-images' cosign verifier.

use crate::KyvernoError;
use crate::images::{Attested, Attestor, ImageVerifier, Keyless, SignatureOptions, VerifyError};
use base64::Engine as _;
use rampart_core::InputError;
use rampart_images::keyless::{
    Extension, Identity, KeylessPolicy, Matcher, TrustedRoot, certificate_key,
    verify_certificate_chain,
};
use rampart_images::keys::PublicKey;
use rampart_images::registry::sha256_digest;
use rampart_images::registry::{Client, ClientOptions};
use rampart_images::{
    Policy, Reference, fetch_attestations_with, verify_image_annotated, verify_image_with,
    verify_image_with_roots,
};
use serde_json::{Value, json};

/// Verifies images against their registries. Each call runs on a thread of its own against
/// the verifier's runtime, so it may be made from any thread.
pub struct RegistryVerifier {
    rt: tokio::runtime::Runtime,
    client: Client,
}

impl RegistryVerifier {
    pub fn new(opts: ClientOptions) -> Result<RegistryVerifier, KyvernoError> {
        let bad = |message: String| {
            KyvernoError::Input(InputError {
                file: "<registry>".into(),
                line: 0,
                column: 0,
                message,
            })
        };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("kyverno-images")
            .enable_all()
            .build()
            .map_err(|e| bad(e.to_string()))?;
        let client = {
            let _guard = rt.enter();
            Client::new(opts).map_err(|e| bad(e.to_string()))?
        };
        Ok(RegistryVerifier { rt, client })
    }

    fn run<T: Send>(&self, fut: impl std::future::Future<Output = T> + Send) -> Option<T> {
        std::thread::scope(|s| s.spawn(|| self.rt.block_on(fut)).join().ok())
    }
}

/// The keys an attestor's signatures verify with: its public keys, or its certificate's key
/// once the certificate chains to `certChain`. `None` for a keyless attestor.
fn attestor_keys(attestor: &Attestor) -> Result<Option<Vec<PublicKey>>, VerifyError> {
    match attestor {
        Attestor::Keys(keys) => keys
            .iter()
            .enumerate()
            .map(|(i, pem)| PublicKey::from_pem(&format!("publicKeys[{i}]"), pem))
            .collect::<Result<_, _>>()
            .map(Some)
            .map_err(|e| VerifyError::Error(format!("bad attestor key: {e}"))),
        Attestor::Certificate { cert, .. } if cert.trim().is_empty() => Err(VerifyError::Error(
            "certificate attestors of attestations need `cert` (a certChain alone is supported for signatures)".into(),
        )),
        Attestor::Certificate { cert, chain } => {
            let key = certificate_key("certificates.cert", cert)
                .map_err(|e| VerifyError::Error(format!("bad attestor certificate: {e}")))?;
            if !chain.trim().is_empty() {
                // cosign: "failed to load validate certificate chain", a verification failure
                verify_certificate_chain(cert, chain).map_err(|e| {
                    VerifyError::Failed(format!("failed to load validate certificate chain: {e}"))
                })?;
            }
            Ok(Some(vec![key]))
        }
        Attestor::Keyless(_) => Ok(None),
        Attestor::Notary { .. } => Err(VerifyError::Error(
            "a Notary attestor has trusted certificates, not keys".into(),
        )),
    }
}

/// A verification's digest, or why not: an error when the image did not resolve (the registry
/// could not be reached or has no such image), else a failure.
fn verified(v: rampart_images::Verification) -> Result<String, VerifyError> {
    match (v.result, v.digest) {
        (Ok(_), Some(d)) => Ok(d),
        (Ok(_), None) => Err(VerifyError::Error("no digest".into())),
        (Err(e), None) => Err(VerifyError::Error(e)),
        (Err(e), Some(_)) => Err(VerifyError::Failed(e)),
    }
}

impl RegistryVerifier {
    /// What an attestor's signatures verify with: keys (its own, or its certificate's), or a
    /// keyless identity.
    fn policy(&self, attestor: &Attestor) -> Result<Policy, VerifyError> {
        Ok(match (attestor, attestor_keys(attestor)?) {
            (_, Some(keys)) => Policy {
                keys,
                keyless: None,
            },
            (Attestor::Keyless(k), None) => Policy {
                keys: Vec::new(),
                keyless: Some(keyless_policy(k).map_err(VerifyError::Error)?),
            },
            (_, None) => return Err(VerifyError::Error("an attestor without keys".into())),
        })
    }
}

impl ImageVerifier for RegistryVerifier {
    fn verify(&self, image: &str, attestor: &Attestor) -> Result<String, VerifyError> {
        self.verify_with(image, attestor, &SignatureOptions::default())
    }

    fn verify_with(
        &self,
        image: &str,
        attestor: &Attestor,
        opts: &SignatureOptions,
    ) -> Result<String, VerifyError> {
        if let Attestor::Certificate { cert, chain } = attestor
            && cert.trim().is_empty()
        {
            if opts != &SignatureOptions::default() {
                return Err(VerifyError::Error(
                    "annotations, repository and cosignOCI11 with a certChain-only certificate attestor are not supported yet"
                        .into(),
                ));
            }
            let v = self
                .run(verify_image_with_roots(
                    &self.client,
                    image,
                    chain,
                    rampart_core::civil::now_secs(),
                ))
                .ok_or_else(|| VerifyError::Error("the verification stopped".into()))?;
            return verified(v);
        }
        if let Attestor::Notary { certs } = attestor {
            if opts.repository.is_some() || !opts.annotations.is_empty() {
                return Err(VerifyError::Error(
                    "annotations and repository with Notary attestors are not supported yet".into(),
                ));
            }
            let v = self
                .run(rampart_images::notary::verify_image(
                    &self.client,
                    image,
                    certs,
                    rampart_core::civil::now_secs(),
                ))
                .ok_or_else(|| VerifyError::Error("the verification stopped".into()))?;
            return verified(v);
        }
        let policy = self.policy(attestor)?;
        if opts.sigstore_bundle {
            let a = self
                .run(rampart_images::verify_bundles(
                    &self.client,
                    image,
                    &policy,
                    None,
                ))
                .ok_or_else(|| VerifyError::Error("the verification stopped".into()))?;
            return attested(a).map(|a| a.digest);
        }
        let v = if opts == &SignatureOptions::default() {
            self.run(verify_image_with(&self.client, image, &policy))
        } else {
            self.run(verify_image_annotated(
                &self.client,
                image,
                &policy,
                &opts.annotations,
                opts.repository.as_deref(),
                opts.oci11,
            ))
        }
        .ok_or_else(|| VerifyError::Error("the verification stopped".into()))?;
        verified(v)
    }

    fn attestations(
        &self,
        image: &str,
        attestor: &Attestor,
        opts: &SignatureOptions,
        kind: &str,
    ) -> Result<Attested, VerifyError> {
        let repository = opts.repository.as_deref();
        let a = if opts.sigstore_bundle {
            let policy = self.policy(attestor)?;
            self.run(rampart_images::verify_bundles(
                &self.client,
                image,
                &policy,
                Some(kind),
            ))
        } else if let Attestor::Notary { certs } = attestor {
            if repository.is_some() {
                return Err(VerifyError::Error(
                    "repository with Notary attestors is not supported yet".into(),
                ));
            }
            self.run(rampart_images::notary::attestations(
                &self.client,
                image,
                kind,
                certs,
                rampart_core::civil::now_secs(),
            ))
        } else {
            let policy = self.policy(attestor)?;
            self.run(fetch_attestations_with(
                &self.client,
                image,
                &policy,
                repository,
            ))
        }
        .ok_or_else(|| VerifyError::Error("the verification stopped".into()))?;
        attested(a)
    }

    fn image_data(&self, image: &str) -> Result<Value, VerifyError> {
        let r = Reference::parse(image).map_err(|e| VerifyError::Failed(e.to_string()))?;
        self.run(image_data(&self.client, image, &r))
            .ok_or_else(|| VerifyError::Error("the lookup stopped".into()))?
            .map_err(VerifyError::Error)
    }

    fn digest(&self, image: &str) -> Result<String, VerifyError> {
        let r = Reference::parse(image).map_err(|e| VerifyError::Failed(e.to_string()))?;
        self.run(self.client.resolve_digest(&r))
            .ok_or_else(|| VerifyError::Error("the lookup stopped".into()))?
            .map_err(|e| VerifyError::Error(e.to_string()))
    }
}

/// Fetched attestations as verified statements: an error when the image did not resolve or the
/// registry could not be reached, else a failure.
fn attested(a: rampart_images::Attestations) -> Result<Attested, VerifyError> {
    match (a.result, a.digest) {
        (Ok(statements), Some(digest)) => Ok(Attested { digest, statements }),
        (Ok(_), None) => Err(VerifyError::Error("no digest".into())),
        (Err(e), _) if a.unreachable => Err(VerifyError::Error(e)),
        (Err(e), None) => Err(VerifyError::Error(e)),
        (Err(e), Some(_)) => Err(VerifyError::Failed(e)),
    }
}

/// The DER blocks of a PEM text with the given label.
fn pem_blocks(text: &str, label: &str) -> Vec<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(&begin) {
        let body = rest.get(i + begin.len()..).unwrap_or("");
        let Some(j) = body.find(&end) else { break };
        let b64: String = body
            .get(..j)
            .unwrap_or("")
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        if let Ok(der) = base64::engine::general_purpose::STANDARD.decode(b64) {
            out.push(der);
        }
        rest = body.get(j + end.len()..).unwrap_or("");
    }
    out
}

/// Kyverno's identity matching (`matchCertificateData`): `subject`/`issuer` are wildcards
/// (`*`, `?`) over the whole value, `…RegExp` an unanchored regular expression; either may
/// match when both are given (for the issuer Kyverno asks both: the wildcard is used then).
/// Neither: anything matches. A wildcard without `*` or `?` is an exact match.
fn matcher(glob: &str, re: &str, either: bool) -> Result<Matcher, String> {
    let wildcard = |g: &str| {
        let mut out = String::new();
        for c in g.chars() {
            match c {
                '*' => out.push_str(".*"),
                '?' => out.push('.'),
                c => out.push_str(&regex::escape(&c.to_string())),
            }
        }
        out
    };
    let unanchored = |r: &str| format!(".*(?:{r}).*");
    let pattern = match (glob.is_empty(), re.is_empty()) {
        (true, true) => return Matcher::regex(".*").map_err(|e| e.to_string()),
        (false, true) if !glob.contains(['*', '?']) => return Ok(Matcher::Exact(glob.to_string())),
        (false, true) => wildcard(glob),
        (true, false) => unanchored(re),
        (false, false) if either => format!("(?:{})|(?:{})", wildcard(glob), unanchored(re)),
        (false, false) => wildcard(glob),
    };
    Matcher::regex(&pattern).map_err(|e| e.to_string())
}

/// Kyverno's keyless attestor as rampart-images' offline keyless policy: each certificate of
/// `roots` a trust anchor (the signature's chain annotation gives the intermediates), the
/// Rekor key identified by the SHA-256 of its DER.
fn keyless_policy(k: &Keyless) -> Result<KeylessPolicy, String> {
    let roots = pem_blocks(&k.roots, "CERTIFICATE");
    if roots.is_empty() {
        return Err("keyless roots hold no PEM certificate".into());
    }
    let spki = pem_blocks(&k.rekor_pubkey, "PUBLIC KEY")
        .into_iter()
        .next()
        .ok_or_else(|| "keyless rekor.pubkey holds no PEM public key".to_string())?;
    let key = PublicKey::from_spki_der("rekor.pubkey", &spki).map_err(|e| e.to_string())?;
    let hex = sha256_digest(&spki);
    let hex = hex.trim_start_matches("sha256:");
    let log_id: Vec<u8> = (0..hex.len() / 2)
        .filter_map(|i| {
            hex.get(2 * i..2 * i + 2)
                .and_then(|b| u8::from_str_radix(b, 16).ok())
        })
        .collect();
    Ok(KeylessPolicy {
        root: TrustedRoot {
            fulcio_chains: roots.into_iter().map(|r| vec![r]).collect(),
            rekor_keys: vec![(log_id, key)],
            ..TrustedRoot::default()
        },
        identities: vec![Identity {
            subject: matcher(&k.subject, &k.subject_regexp, true)?,
            issuer: matcher(&k.issuer, &k.issuer_regexp, false)?,
            extensions: k
                .extensions
                .iter()
                .map(|(key, value_text)| {
                    let value = value_text;
                    // an empty wildcard matches only an empty value
                    let value = if value.is_empty() {
                        Matcher::Exact(String::new())
                    } else {
                        matcher(value, "", false)?
                    };
                    Extension::new(key, value_text, value).map_err(|e| e.to_string())
                })
                .collect::<Result<_, _>>()?,
        }],
    })
}

/// Kyverno's image descriptor: for an index, the `linux/amd64` manifest (else the first).
async fn image_data(client: &Client, image: &str, r: &Reference) -> Result<Value, String> {
    let json_of = |bytes: &[u8], what: &str| {
        serde_json::from_slice::<Value>(bytes).map_err(|e| format!("the {what} is not JSON: {e}"))
    };
    let top = client
        .manifest(r, r.manifest_ref())
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("{image}: manifest unknown"))?;
    let top_json = json_of(&top.bytes, "manifest")?;
    let (manifest_list, manifest, digest) =
        match top_json.get("manifests").and_then(Value::as_array) {
            Some(list) => {
                let pick = list
                    .iter()
                    .find(|m| {
                        m.pointer("/platform/os").and_then(Value::as_str) == Some("linux")
                            && m.pointer("/platform/architecture").and_then(Value::as_str)
                                == Some("amd64")
                    })
                    .or_else(|| list.first())
                    .and_then(|m| m.get("digest").and_then(Value::as_str))
                    .ok_or_else(|| format!("{image}: the image index lists no manifest"))?;
                let m = client
                    .manifest(r, pick)
                    .await
                    .map_err(|e| e.to_string())?
                    .ok_or_else(|| format!("{image}: manifest {pick} unknown"))?;
                (
                    top_json.clone(),
                    json_of(&m.bytes, "manifest")?,
                    top.digest.clone(),
                )
            }
            None => (Value::Null, top_json, top.digest.clone()),
        };
    let config = match manifest.pointer("/config/digest").and_then(Value::as_str) {
        Some(d) => json_of(
            &client.blob(r, d).await.map_err(|e| e.to_string())?,
            "config",
        )?,
        None => Value::Null,
    };
    let identifier = r
        .tag
        .clone()
        .or_else(|| r.digest.clone())
        .unwrap_or_else(|| "latest".into());
    Ok(json!({
        "image": image,
        "resolvedImage": format!("{}@{digest}", r.name()),
        "registry": r.registry,
        "repository": r.repository,
        "identifier": identifier,
        "manifestList": manifest_list,
        "manifest": manifest,
        "configData": config,
    }))
}
