use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use crate::secrets::{Detection, SecretKind, detect, detect_in_text, high_entropy, is_placeholder};
use base64::Engine;
use rampart_core::Severity;

declare_check! {
/// ## What it does
/// Flags Secret objects that carry `data` or `stringData` (base64 is an encoding, not encryption).
/// Each value (`data` decoded from base64) goes through the credential detector: a key whose
/// name says credential (`password`, `api-key`, `token`), a known format (private keys, docker
/// config auths, cloud and SaaS tokens, passwords in URLs), a key named `key` (`userKey`,
/// `keyring`: where volume plugins read theirs), or a long high-entropy value. A
/// Secret with a credential is reported at the check's severity and the message names the key
/// and the rule that matched; a Secret that holds only configuration (a timezone, a URL without
/// credentials, placeholders) is reported at low severity with a message that says so.
/// Service-account-token Secrets without data are not flagged. Values are never printed.
///
/// ## Why is this bad?
/// Anyone with read access to the repository has the secret, forever, in every clone and fork.
///
/// ## Remediation
/// Commit an encrypted form (Sealed Secrets, SOPS) or an ExternalSecret instead, and rotate the
/// committed value. Move configuration that is not secret to a ConfigMap.
///
/// ## References
/// - CIS Kubernetes Benchmark 5.4.1
/// - Kubernetes documentation: Good practices for Kubernetes Secrets
    PlaintextSecretManifest { slug: "plaintext-secret-manifest", severity: High, summary: "A Secret with data is committed in the manifests" }
}

/// The credential in one Secret value, if any. In a Secret a key named `key` (or `userKey`,
/// `admin.key`, `keyring`) holds one: volume plugins (Ceph, GlusterFS) read their secret there.
fn credential(key: &str, value: &str) -> Option<Detection> {
    if let Some(d) = detect(key, value) {
        return Some(d);
    }
    let lower = key.to_ascii_lowercase();
    if (lower.ends_with("key") || lower.ends_with("keyring")) && !is_placeholder(value) {
        return Some(Detection {
            kind: SecretKind::NamedCredential,
            text: value.to_string(),
        });
    }
    if let Some(d) = detect_in_text(value).into_iter().next() {
        return Some(d);
    }
    high_entropy(value).then(|| Detection {
        kind: SecretKind::HighEntropy,
        text: value.to_string(),
    })
}

impl Check for PlaintextSecretManifest {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        if cx.kind() != "Secret" || !cx.obj.group().is_empty() {
            return;
        }
        for field in ["data", "stringData"] {
            let Some(m) = cx
                .obj
                .value
                .get(field)
                .and_then(|d| d.as_object())
                .filter(|m| !m.is_empty())
            else {
                continue;
            };
            let keys: Vec<&str> = m.keys().map(String::as_str).collect();
            let mut redact = Vec::new();
            let mut found: Option<(&str, SecretKind)> = None;
            for (key, v) in m {
                let Some(raw) = v.as_str().filter(|s| !s.is_empty()) else {
                    continue;
                };
                redact.push(raw.to_string());
                let value = if field == "data" {
                    let compact: String = raw.split_whitespace().collect();
                    match base64::engine::general_purpose::STANDARD.decode(compact.as_bytes()) {
                        Ok(bytes) => match String::from_utf8(bytes) {
                            Ok(s) => s,
                            // binary data (a keystore, a DER key) is treated as a credential
                            Err(_) => {
                                found.get_or_insert((key, SecretKind::HighEntropy));
                                continue;
                            }
                        },
                        Err(_) => raw.to_string(),
                    }
                } else {
                    raw.to_string()
                };
                if let Some(d) = credential(key, &value) {
                    found.get_or_insert((key, d.kind));
                    redact.push(d.text);
                }
                if !value.is_empty() && value != raw {
                    redact.push(value);
                }
            }
            let message = match found {
                Some((key, kind)) => format!(
                    "Secret carries {field} keys {} in plain manifests; {key} {}",
                    keys.join(", "),
                    kind.phrase()
                ),
                None => format!(
                    "Secret carries {field} keys {} in plain manifests, but no credential was found in them: only configuration, which belongs in a ConfigMap",
                    keys.join(", ")
                ),
            };
            let f = out.emit(cx.obj, &format!("/{field}"), message);
            if found.is_none() {
                f.severity = f.severity.min(Severity::Low);
            }
            f.redact.extend(redact);
        }
    }
}
