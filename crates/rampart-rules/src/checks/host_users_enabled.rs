use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};

declare_check! {
/// ## What it does
/// Reports pods that do not set `hostUsers: false` (user namespaces, stable in Kubernetes 1.33+).
///
/// ## Why is this bad?
/// With a user namespace, root in the container maps to an unprivileged user on the node: most
/// container escapes stop being node compromises.
///
/// ## Remediation
/// Set `hostUsers: false` where the node's runtime supports it.
///
/// ## References
/// - Kubernetes documentation: Use a User Namespace With a Pod
    HostUsersEnabled { slug: "host-users-enabled", severity: Info, summary: "The pod does not use a user namespace" }
}

impl Check for HostUsersEnabled {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        let Some(pod) = &cx.pod else { return };
        if pod.get("hostUsers").and_then(|v| v.as_bool()) != Some(false) {
            out.emit(
                cx.obj,
                pod.pointer,
                "the pod does not use a user namespace: set hostUsers: false".to_string(),
            );
        }
    }
}
