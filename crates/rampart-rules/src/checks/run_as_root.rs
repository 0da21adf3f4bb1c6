use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use crate::util::{describe, effective, is_true};

declare_check! {
/// ## What it does
/// Flags containers that may run as UID 0: the effective `runAsNonRoot` (container, else pod) is
/// not `true` and the effective `runAsUser` is not greater than 0, or `runAsUser` is `0`.
///
/// ## Why is this bad?
/// A process running as root inside the container is root on the host if it escapes, and can modify
/// the container's filesystem freely.
///
/// ## Remediation
/// Set `runAsNonRoot: true` and a non-zero `runAsUser` in the pod or container securityContext, and
/// build the image with a non-root `USER`.
///
/// ## References
/// - Pod Security Standards, Restricted: Running as Non-root
/// - CIS Kubernetes Benchmark 5.2.6
    RunAsRoot { slug: "run-as-root", severity: High, summary: "A container may run as root" }
}

impl Check for RunAsRoot {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        let Some(pod) = &cx.pod else { return };
        for c in &cx.containers {
            let user = effective(pod, c, "runAsUser").and_then(|v| v.as_i64());
            let non_root = is_true(effective(pod, c, "runAsNonRoot"));
            if user == Some(0) {
                let ptr = if c.security("runAsUser").is_some() {
                    c.ptr("securityContext/runAsUser")
                } else {
                    format!("{}/securityContext/runAsUser", pod.pointer)
                };
                out.emit(
                    cx.obj,
                    &ptr,
                    format!("{} runs as root (runAsUser: 0)", describe(c)),
                );
            } else if !non_root && user.is_none_or(|u| u <= 0) {
                out.emit(
                    cx.obj,
                    &c.ptr("securityContext"),
                    format!(
                        "{} may run as root: set runAsNonRoot: true or a non-zero runAsUser",
                        describe(c)
                    ),
                );
            }
        }
    }
}
