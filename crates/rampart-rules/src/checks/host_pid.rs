use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};

declare_check! {
/// ## What it does
/// Flags pods (and workload templates) with `hostPID: true`.
///
/// ## Why is this bad?
/// A pod in the host PID namespace sees and can signal every process on the node, and can read
/// their environment and memory.
///
/// ## Remediation
/// Remove `hostPID` or set it to `false`.
///
/// ## References
/// - Pod Security Standards, Baseline: Host Namespaces
/// - CIS Kubernetes Benchmark 5.2.3-5.2.4
    HostPid { slug: "host-pid", severity: High, summary: "The pod shares the host's process namespace" }
}

impl Check for HostPid {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        let Some(pod) = &cx.pod else { return };
        if pod.flag("hostPID") {
            out.emit(
                cx.obj,
                &format!("{}/hostPID", pod.pointer),
                "the pod shares the host's process namespace (hostPID: true)".to_string(),
            );
        }
    }
}
