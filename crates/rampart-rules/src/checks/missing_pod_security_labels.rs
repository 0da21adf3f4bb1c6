use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use rampart_core::Field;

declare_check! {
/// ## What it does
/// Flags Namespaces without a `pod-security.kubernetes.io/enforce` label.
///
/// ## Why is this bad?
/// Without an enforce label Pod Security Admission applies the cluster default, usually
/// `privileged`: any pod is admitted.
///
/// ## Remediation
/// Label the namespace `pod-security.kubernetes.io/enforce: restricted` (or `baseline`), with
/// `enforce-version` pinned.
///
/// ## References
/// - Kubernetes documentation: Enforce Pod Security Standards with Namespace Labels
/// - CIS Kubernetes Benchmark 5.2.1
    MissingPodSecurityLabels { slug: "missing-pod-security-labels", severity: Medium, summary: "A Namespace has no Pod Security enforce label" }
}

impl Check for MissingPodSecurityLabels {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        if cx.kind() != "Namespace" || !cx.obj.group().is_empty() {
            return;
        }
        if cx
            .obj
            .labels()
            .and_then(|l| l.field("pod-security.kubernetes.io/enforce"))
            .is_none()
        {
            out.emit(
                cx.obj,
                "/metadata/labels",
                format!(
                    "namespace {} has no pod-security.kubernetes.io/enforce label",
                    cx.obj.name()
                ),
            );
        }
    }
}
