use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};

declare_check! {
/// ## What it does
/// Flags Ingresses carrying an `nginx.ingress.kubernetes.io/*-snippet` annotation
/// (configuration-snippet, server-snippet, auth-snippet, ...).
///
/// ## Why is this bad?
/// Snippets inject raw nginx configuration into the controller, which can read every Secret in the
/// cluster (CVE-2021-25742, and the 2025 IngressNightmare CVEs).
///
/// ## Remediation
/// Remove the snippet; use the controller's dedicated annotations, and disable
/// `allow-snippet-annotations` in the controller.
///
/// ## References
/// - CVE-2021-25742
/// - CVE-2025-1974
    NginxIngressSnippetAnnotation { slug: "nginx-ingress-snippet-annotation", severity: High, summary: "An Ingress uses an ingress-nginx snippet annotation" }
}

impl Check for NginxIngressSnippetAnnotation {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        if !cx.is(&["networking.k8s.io", "extensions"], "Ingress") {
            return;
        }
        let Some(ann) = cx.obj.annotations() else {
            return;
        };
        for key in ann.keys() {
            if key.starts_with("nginx.ingress.kubernetes.io/") && key.ends_with("-snippet") {
                out.emit(
                    cx.obj,
                    &format!(
                        "/metadata/annotations/{}",
                        rampart_manifest::escape_segment(key)
                    ),
                    format!(
                        "Ingress {} uses the snippet annotation {key}",
                        cx.obj.name()
                    ),
                );
            }
        }
    }
}
