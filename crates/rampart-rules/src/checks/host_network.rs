use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};

declare_check! {
/// ## What it does
/// Flags pods (and workload templates) with `hostNetwork: true`.
///
/// ## Why is this bad?
/// A pod on the host network can sniff node traffic, reach services bound to localhost on the node,
/// and bypass NetworkPolicies.
///
/// ## Remediation
/// Remove `hostNetwork` or set it to `false`.
///
/// ## References
/// - Pod Security Standards, Baseline: Host Namespaces
/// - CIS Kubernetes Benchmark 5.2.3-5.2.4
    HostNetwork { slug: "host-network", severity: High, summary: "The pod shares the host's network namespace" }
}

impl Check for HostNetwork {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        let Some(pod) = &cx.pod else { return };
        if pod.flag("hostNetwork") {
            out.emit(
                cx.obj,
                &format!("{}/hostNetwork", pod.pointer),
                "the pod shares the host's network namespace (hostNetwork: true)".to_string(),
            );
        }
    }
}
