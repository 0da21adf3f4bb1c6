use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use rampart_core::Field;

declare_check! {
/// ## What it does
/// Flags Secrets of type `kubernetes.io/service-account-token`.
///
/// ## Why is this bad?
/// These tokens never expire and survive pod deletion; bound, projected tokens are short-lived and
/// tied to a pod.
///
/// ## Remediation
/// Remove the Secret; use projected ServiceAccount tokens (the default since 1.22) or the
/// TokenRequest API.
///
/// ## References
/// - CIS Kubernetes Benchmark 5.1.6
/// - Kubernetes documentation: ServiceAccount token Secrets
    ServiceAccountTokenSecret { slug: "service-account-token-secret", severity: Medium, summary: "A long-lived ServiceAccount token Secret is declared" }
}

impl Check for ServiceAccountTokenSecret {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        if cx.is(&[""], "Secret")
            && cx.obj.value.field("type").and_then(|t| t.as_str())
                == Some("kubernetes.io/service-account-token")
        {
            out.emit(
                cx.obj,
                "/type",
                format!(
                    "Secret {} is a long-lived ServiceAccount token",
                    cx.obj.name()
                ),
            );
        }
    }
}
