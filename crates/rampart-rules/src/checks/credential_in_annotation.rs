use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use crate::secrets::detect_format;

declare_check! {
/// ## What it does
/// Flags annotations of any object whose value holds a credential: a known credential format
/// (AWS, GitHub, GitLab, Slack, Stripe, Google keys, private keys, JWTs, passwords in URLs,
/// docker config auths). Annotation names are not used: many name a Secret by reference
/// (`nginx.ingress.kubernetes.io/auth-secret: basic-auth`). `kubectl.kubernetes.io/last-applied-configuration` is skipped: it
/// repeats the object, whose fields the other checks read. The value is never printed.
///
/// ## Why is this bad?
/// Annotations are metadata: readable by anyone who can `get` or `list` the object, copied by
/// tools, and never treated as secret.
///
/// ## Remediation
/// Move the credential to a Secret and reference it; rotate the leaked credential.
///
/// ## References
/// - CIS Kubernetes Benchmark 5.4.1
/// - OWASP Kubernetes Top 10: K08 Secrets Management Failures
    CredentialInAnnotation { slug: "credential-in-annotation", severity: High, summary: "An annotation holds a credential" }
}

impl Check for CredentialInAnnotation {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        let Some(ann) = cx.obj.annotations() else {
            return;
        };
        for (key, v) in ann {
            let Some(value) = v.as_str() else { continue };
            if key == "kubectl.kubernetes.io/last-applied-configuration" {
                continue;
            }
            let Some(d) = detect_format(value) else {
                continue;
            };
            let f = out.emit(
                cx.obj,
                &format!(
                    "/metadata/annotations/{}",
                    rampart_manifest::escape_segment(key)
                ),
                format!("annotation {key} {}", d.kind.phrase()),
            );
            f.redact.push(d.text);
        }
    }
}
