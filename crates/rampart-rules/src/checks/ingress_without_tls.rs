use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};

declare_check! {
/// ## What it does
/// Flags Ingresses without a `spec.tls` section.
///
/// ## Why is this bad?
/// Without TLS, credentials and session cookies cross the network in clear text and can be read or
/// altered on the way.
///
/// ## Remediation
/// Add `spec.tls` with the hosts and a certificate Secret (cert-manager can issue it).
///
/// ## References
/// - NSA/CISA Kubernetes Hardening Guide: encrypt traffic
/// - OWASP Kubernetes Top 10
    IngressWithoutTls { slug: "ingress-without-tls", severity: Medium, summary: "An Ingress has no TLS section" }
}

impl Check for IngressWithoutTls {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        if cx.kind() != "Ingress" || !matches!(cx.obj.group(), "networking.k8s.io" | "extensions") {
            return;
        }
        if cx
            .obj
            .value
            .pointer("/spec/tls")
            .and_then(|t| t.as_array())
            .is_none_or(|t| t.is_empty())
        {
            out.emit(
                cx.obj,
                "/spec",
                format!("Ingress {} serves without TLS", cx.obj.name()),
            );
        }
    }
}
