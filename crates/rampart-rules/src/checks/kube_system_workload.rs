use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};

declare_check! {
/// ## What it does
/// Flags workloads placed in `kube-system`, `kube-public` or `kube-node-lease`.
///
/// ## Why is this bad?
/// System namespaces are usually exempt from admission policies and hold highly privileged
/// ServiceAccounts; application workloads there inherit that exposure.
///
/// ## Remediation
/// Deploy the workload to its own namespace.
///
/// ## References
/// - CIS Kubernetes Benchmark 5.7.4
    KubeSystemWorkload { slug: "kube-system-workload", severity: Medium, summary: "An application workload is deployed to kube-system" }
}

impl Check for KubeSystemWorkload {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        if cx.pod.is_some()
            && matches!(
                cx.obj.namespace(),
                Some("kube-system" | "kube-public" | "kube-node-lease")
            )
        {
            out.emit(
                cx.obj,
                "/metadata/namespace",
                format!(
                    "{} {} is deployed to system namespace {}",
                    cx.kind(),
                    cx.obj.name(),
                    cx.obj.namespace().unwrap_or("")
                ),
            );
        }
    }
}
