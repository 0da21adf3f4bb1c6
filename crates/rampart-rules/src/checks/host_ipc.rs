use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};

declare_check! {
/// ## What it does
/// Flags pods (and workload templates) with `hostIPC: true`.
///
/// ## Why is this bad?
/// A pod in the host IPC namespace can read and write shared memory of every process on the node.
///
/// ## Remediation
/// Remove `hostIPC` or set it to `false`.
///
/// ## References
/// - Pod Security Standards, Baseline: Host Namespaces
/// - CIS Kubernetes Benchmark 5.2.3-5.2.4
    HostIpc { slug: "host-ipc", severity: High, summary: "The pod shares the host's IPC namespace" }
}

impl Check for HostIpc {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        let Some(pod) = &cx.pod else { return };
        if pod.flag("hostIPC") {
            out.emit(
                cx.obj,
                &format!("{}/hostIPC", pod.pointer),
                "the pod shares the host's IPC namespace (hostIPC: true)".to_string(),
            );
        }
    }
}
