use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use crate::secrets::{detect, detect_in_args};
use crate::util::describe;
use rampart_core::Field;

declare_check! {
/// ## What it does
/// Flags credentials written into a container: an `env[].value` literal, or a `command`/`args`
/// item (`--password=…`, `--token …`, `PASSWORD=…` in a shell string). Two rules find them, and
/// the message says which matched: the variable's or flag's *name says credential* (`PASSWORD`,
/// `dbPassword`, `API_KEY`, `client-secret`, … — weak values like `changeme` included), or the
/// value has a *known credential format* (AWS, GitHub, GitLab, Slack, Stripe, Google keys,
/// private keys, JWTs, passwords in URLs and connection strings). References (`$(VAR)`,
/// `${VAR}`), templates, paths and placeholders (`<your-password>`, `REPLACE_ME`) are not
/// credentials; the list is in the `secrets` module's documentation. The value is never printed.
///
/// ## Why is this bad?
/// A credential in a manifest is in git history, CI logs and every clone forever, and readable by
/// anyone who can `get` the workload.
///
/// ## Remediation
/// Move the value to a Secret (or an external secret store), reference it with
/// `valueFrom.secretKeyRef` or mount it as a file, and rotate the leaked credential.
///
/// ## References
/// - CIS Kubernetes Benchmark 5.4.1
/// - OWASP Kubernetes Top 10: K08 Secrets Management Failures
    HardcodedSecretInEnv { slug: "hardcoded-secret-in-env", severity: Critical, summary: "A container's env or command line holds a literal credential" }
}

impl Check for HardcodedSecretInEnv {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        for c in &cx.containers {
            if let Some(env) = c.value.field("env").and_then(|e| e.as_array()) {
                for (i, e) in env.iter().enumerate() {
                    let (Some(name), Some(value)) = (
                        e.field("name").and_then(|v| v.as_str()),
                        e.field("value").and_then(|v| v.as_str()),
                    ) else {
                        continue;
                    };
                    if let Some(d) = detect(name, value) {
                        let f = out.emit(
                            cx.obj,
                            &c.ptr(&format!("env/{i}/value")),
                            format!("{} env var {name} {}", describe(c), d.kind.phrase()),
                        );
                        f.redact.push(d.text);
                    }
                }
            }
            for field in ["command", "args"] {
                let Some(items) = c.value.field(field).and_then(|a| a.as_array()) else {
                    continue;
                };
                let found = detect_in_args(items.iter().map(|v| v.as_str().unwrap_or("")));
                for (i, d) in found {
                    let f = out.emit(
                        cx.obj,
                        &c.ptr(&format!("{field}/{i}")),
                        format!("{} {field}[{i}] {}", describe(c), d.kind.phrase()),
                    );
                    f.redact.push(d.text);
                }
            }
        }
    }
}
