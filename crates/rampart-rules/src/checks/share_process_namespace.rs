use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};

declare_check! {
/// ## What it does
/// Flags pods with `shareProcessNamespace: true`.
///
/// ## Why is this bad?
/// Every container sees the others' processes and can read their environment and filesystem through
/// `/proc`: a sidecar compromise exposes the app's secrets.
///
/// ## Remediation
/// Remove `shareProcessNamespace` unless a debugging sidecar needs it.
///
/// ## References
/// - Kubernetes documentation: Share Process Namespace between Containers
    ShareProcessNamespace { slug: "share-process-namespace", severity: Low, summary: "Containers of the pod share a process namespace" }
}

impl Check for ShareProcessNamespace {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        let Some(pod) = &cx.pod else { return };
        if pod.flag("shareProcessNamespace") {
            out.emit(
                cx.obj,
                &format!("{}/shareProcessNamespace", pod.pointer),
                "the pod's containers share a process namespace".to_string(),
            );
        }
    }
}
