use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};

declare_check! {
/// ## What it does
/// Flags Services with `spec.externalIPs`.
///
/// ## Why is this bad?
/// Any user who can create a Service with externalIPs can intercept traffic to those IPs from
/// inside the cluster (CVE-2020-8554).
///
/// ## Remediation
/// Remove `externalIPs`; block them cluster-wide with an admission policy.
///
/// ## References
/// - CVE-2020-8554
    ServiceExternalIps { slug: "service-external-ips", severity: High, summary: "A Service sets externalIPs" }
}

impl Check for ServiceExternalIps {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        if cx.is(&[""], "Service")
            && cx
                .obj
                .value
                .pointer("/spec/externalIPs")
                .and_then(|e| e.as_array())
                .is_some_and(|e| !e.is_empty())
        {
            out.emit(
                cx.obj,
                "/spec/externalIPs",
                format!("Service {} sets externalIPs", cx.obj.name()),
            );
        }
    }
}
