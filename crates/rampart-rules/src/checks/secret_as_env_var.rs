use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use crate::util::describe;
use rampart_core::Field;

declare_check! {
/// ## What it does
/// Flags `env[].valueFrom.secretKeyRef` and `envFrom[].secretRef`.
///
/// ## Why is this bad?
/// Environment variables leak: they are inherited by child processes, dumped in crash reports and
/// debug endpoints, and visible in `/proc`. Files are easier to protect and rotate.
///
/// ## Remediation
/// Mount the Secret as a volume and read the value from the file.
///
/// ## References
/// - CIS Kubernetes Benchmark 5.4.1
/// - Kubernetes documentation: Good practices for Kubernetes Secrets
    SecretAsEnvVar { slug: "secret-as-env-var", severity: Low, summary: "A Secret is injected as an environment variable" }
}

impl Check for SecretAsEnvVar {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        for c in &cx.containers {
            if let Some(env) = c.value.field("env").and_then(|e| e.as_array()) {
                for (i, e) in env.iter().enumerate() {
                    if let Some(sref) = e.field("valueFrom").and_then(|v| v.field("secretKeyRef")) {
                        let secret = sref.field("name").and_then(|n| n.as_str()).unwrap_or("");
                        out.emit(
                            cx.obj,
                            &c.ptr(&format!("env/{i}/valueFrom/secretKeyRef")),
                            format!(
                                "{} reads Secret \"{secret}\" into env var {}",
                                describe(c),
                                e.field("name").and_then(|n| n.as_str()).unwrap_or("")
                            ),
                        );
                    }
                }
            }
            if let Some(env_from) = c.value.field("envFrom").and_then(|e| e.as_array()) {
                for (i, e) in env_from.iter().enumerate() {
                    if let Some(sref) = e.field("secretRef") {
                        let secret = sref.field("name").and_then(|n| n.as_str()).unwrap_or("");
                        out.emit(
                            cx.obj,
                            &c.ptr(&format!("envFrom/{i}/secretRef")),
                            format!(
                                "{} loads every key of Secret \"{secret}\" as env vars",
                                describe(c)
                            ),
                        );
                    }
                }
            }
        }
    }
}
