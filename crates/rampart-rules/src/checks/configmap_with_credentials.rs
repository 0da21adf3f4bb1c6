use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use crate::secrets::detect;
use rampart_core::Field;

declare_check! {
/// ## What it does
/// Flags ConfigMap `data` values that contain credentials: passwords in URLs, private keys, known
/// token formats, and high-entropy values under secret-like keys. The value is never printed.
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
            // a config file may hold many lines: check each `name = value` / `name: value` line too
            let mut hits = Vec::new();
            if let Some(hit) = detect(key, value) {
                hits.push(hit);
            } else {
                for line in value.lines() {
                    let Some((k, val)) = line.split_once(['=', ':']) else {
                        continue;
                    };
                    let val = val.trim().trim_matches(['"', '\'']);
                    if let Some(hit) = detect(k.trim(), val) {
                        hits.push(hit);
                    }
                }
            }
            if let Some(kind) = hits.first().map(|(k, _)| *k) {
                let f = out.emit(
                    cx.obj,
                    &format!("/data/{}", rampart_manifest::escape_segment(key)),
                    format!(
                        "ConfigMap key {key} holds {} ({})",
                        kind.describe(),
                        rampart_core::REDACTED
                    ),
                );
                f.redact.extend(hits.into_iter().map(|(_, t)| t));
            }
        }
    }
}
