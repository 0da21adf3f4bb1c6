use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use rampart_core::Field;

declare_check! {
/// ## What it does
/// Flags Ingress rules without a `host` or with a `*` host.
///
/// ## Why is this bad?
/// A catch-all rule serves the backend for any Host header, which exposes it under names you do not
/// control and defeats host-based routing and TLS.
///
/// ## Remediation
/// Set an explicit `host` on every rule.
///
/// ## References
/// - Kubernetes documentation: Ingress
    IngressWildcardHost { slug: "ingress-wildcard-host", severity: Low, summary: "An Ingress rule matches any host" }
}

impl Check for IngressWildcardHost {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        if !cx.is(&["networking.k8s.io", "extensions"], "Ingress") {
            return;
        }
        let Some(rules) = cx
            .obj
            .value
            .pointer("/spec/rules")
            .and_then(|r| r.as_array())
        else {
            return;
        };
        for (i, r) in rules.iter().enumerate() {
            let host = r.field("host").and_then(|h| h.as_str()).unwrap_or("");
            if host.is_empty() || host == "*" {
                out.emit(
                    cx.obj,
                    &format!("/spec/rules/{i}"),
                    format!("Ingress {} rule {i} matches any host", cx.obj.name()),
                );
            }
        }
    }
}
