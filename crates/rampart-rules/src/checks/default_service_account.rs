use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};

declare_check! {
/// ## What it does
/// Flags pods whose `serviceAccountName` is unset or `default`.
///
/// ## Why is this bad?
/// Every pod of the namespace shares the default ServiceAccount: any permission granted to it for
/// one app is granted to all, and its token is one compromise away.
///
/// ## Remediation
/// Create a ServiceAccount per application and set `serviceAccountName`.
///
/// ## References
/// - CIS Kubernetes Benchmark 5.1.5
/// - NSA/CISA Kubernetes Hardening Guide: service accounts
    DefaultServiceAccount { slug: "default-service-account", severity: Low, summary: "The pod runs as the default ServiceAccount" }
}

impl Check for DefaultServiceAccount {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        let Some(pod) = &cx.pod else { return };
        let sa = pod
            .get("serviceAccountName")
            .or_else(|| pod.get("serviceAccount"))
            .and_then(|v| v.as_str())
            .unwrap_or("");
        if sa.is_empty() || sa == "default" {
            out.emit(
                cx.obj,
                &format!("{}/serviceAccountName", pod.pointer),
                "the pod runs as the default ServiceAccount".to_string(),
            );
        }
    }
}
