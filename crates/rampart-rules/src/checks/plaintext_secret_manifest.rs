use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};

declare_check! {
/// ## What it does
/// Flags Secret objects that carry `data` or `stringData` (base64 is an encoding, not encryption).
/// Service-account-token Secrets without data are not flagged.
///
/// ## Why is this bad?
/// Anyone with read access to the repository has the secret, forever, in every clone and fork.
///
/// ## Remediation
/// Commit an encrypted form (Sealed Secrets, SOPS) or an ExternalSecret instead, and rotate the
/// committed value.
///
/// ## References
/// - CIS Kubernetes Benchmark 5.4.1
/// - Kubernetes documentation: Good practices for Kubernetes Secrets
    PlaintextSecretManifest { slug: "plaintext-secret-manifest", severity: High, summary: "A Secret with data is committed in the manifests" }
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
            let f = out.emit(
                cx.obj,
                &format!("/{field}"),
                format!(
                    "Secret carries {field} keys {} in plain manifests",
                    keys.join(", ")
                ),
            );
            f.redact.extend(
                m.values()
                    .filter_map(|v| v.as_str())
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
            );
        }
    }
}
