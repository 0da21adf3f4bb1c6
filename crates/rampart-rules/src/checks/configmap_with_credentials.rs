use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use crate::secrets::{
    Detection, SecretKind, detect, detect_in_text, is_placeholder, name_says_credential,
};
use rampart_core::Field;

declare_check! {
/// ## What it does
/// Flags ConfigMap `data` values that contain credentials: a key whose *name says credential*
/// (`DB_PASSWORD`, `api.token`, `clientSecret`) with a literal value, a line of a config file
/// (`password = …`, `"token": "…"`) under such a name, or a *known credential format* anywhere
/// (private keys, JWTs, passwords in URLs, cloud and SaaS tokens, GCP service-account JSON, docker
/// config auths). The message says which rule matched; the value is never printed.
///
/// ## Why is this bad?
/// ConfigMaps are not treated as secret: they are readable by far more identities, logged by audit
/// policies at Request level, and shown by `kubectl describe`.
///
/// ## Remediation
/// Move the credential to a Secret (or an external secret store) and rotate it.
///
/// ## References
/// - CIS Kubernetes Benchmark 5.4.1
/// - OWASP Kubernetes Top 10: K08 Secrets Management Failures
    ConfigmapWithCredentials { slug: "configmap-with-credentials", severity: High, summary: "A ConfigMap holds a credential" }
}

impl Check for ConfigmapWithCredentials {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        if cx.kind() != "ConfigMap" || !cx.obj.group().is_empty() {
            return;
        }
        let Some(data) = cx.obj.value.field("data").and_then(|d| d.as_object()) else {
            return;
        };
        for (key, v) in data {
            let Some(value) = v.as_str() else { continue };
            let hits = if value.contains('\n') {
                // a config file: each `name = value` / `name: value` line, and known formats
                let mut hits = detect_in_text(value);
                // a multi-line value under a credential name: the name rule alone (formats
                // were looked for line by line, comments left out)
                if hits.is_empty() && name_says_credential(key) && !is_placeholder(value) {
                    hits.push(Detection {
                        kind: SecretKind::NamedCredential,
                        text: value.trim().to_string(),
                    });
                }
                hits
            } else {
                detect(key, value).into_iter().collect::<Vec<_>>()
            };
            if let Some(first) = hits.first() {
                let f = out.emit(
                    cx.obj,
                    &format!("/data/{}", rampart_manifest::escape_segment(key)),
                    format!("ConfigMap key {key} {}", first.kind.phrase()),
                );
                f.redact.extend(hits.into_iter().map(|d| d.text));
            }
        }
    }
}
