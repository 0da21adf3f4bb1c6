use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use crate::secrets::{SecretKind, detect};
use crate::util::describe;
use rampart_core::Field;

declare_check! {
/// ## What it does
/// Flags `env[].value` literals that are credentials: known key and token formats (AWS, GitHub,
/// GitLab, Slack, Stripe, Google), private keys, JWTs, passwords in URLs, and high-entropy values
/// under secret-like names (`PASSWORD`, `TOKEN`, `API_KEY`, ...). The value is never printed.
///
/// ## Why is this bad?
/// A credential in a manifest is in git history, CI logs and every clone forever, and readable by
/// anyone who can `get` the workload.
///
/// ## Remediation
/// Move the value to a Secret (or an external secret store), mount it as a file, and rotate the
/// leaked credential.
///
/// ## References
/// - CIS Kubernetes Benchmark 5.4.1
/// - OWASP Kubernetes Top 10: K08 Secrets Management Failures
    HardcodedSecretInEnv { slug: "hardcoded-secret-in-env", severity: Critical, summary: "An environment variable holds a literal credential" }
}

impl Check for HardcodedSecretInEnv {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        for c in &cx.containers {
            let Some(env) = c.value.field("env").and_then(|e| e.as_array()) else {
                continue;
            };
            for (i, e) in env.iter().enumerate() {
                let (Some(name), Some(value)) = (
                    e.field("name").and_then(|v| v.as_str()),
                    e.field("value").and_then(|v| v.as_str()),
                ) else {
                    continue;
                };
                if let Some((kind, text)) = detect(name, value) {
                    let f = out.emit(
                        cx.obj,
                        &c.ptr(&format!("env/{i}/value")),
                        format!(
                            "{} env var {name} holds {} ({})",
                            describe(c),
                            kind.describe(),
                            rampart_core::REDACTED
                        ),
                    );
                    f.redact.push(text);
                    if kind != SecretKind::HighEntropy {
                        f.redact.push(value.to_string());
                    }
                }
            }
        }
    }
}
