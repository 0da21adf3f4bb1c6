use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};

declare_check! {
/// ## What it does
/// Flags Services of type `LoadBalancer` or `NodePort`.
///
/// ## Why is this bad?
/// These Services are reachable from outside the cluster — often from the internet — on every node
/// or a public IP, bypassing the Ingress layer's TLS and authentication.
///
/// ## Remediation
/// Use a `ClusterIP` Service behind an Ingress or gateway; if exposure is intended, restrict
/// `loadBalancerSourceRanges` and annotate the reason.
///
/// ## References
/// - NSA/CISA Kubernetes Hardening Guide: network separation
    ExposedService { slug: "exposed-service", severity: Medium, summary: "A Service is exposed outside the cluster" }
}

impl Check for ExposedService {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        if cx.kind() != "Service" || !cx.obj.group().is_empty() {
            return;
        }
        if let Some(t) = cx
            .obj
            .value
            .pointer("/spec/type")
            .and_then(|t| t.as_str())
            .filter(|t| matches!(*t, "LoadBalancer" | "NodePort"))
        {
            out.emit(
                cx.obj,
                "/spec/type",
                format!("Service {} is of type {t}", cx.obj.name()),
            );
        }
    }
}
