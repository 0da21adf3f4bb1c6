use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use crate::util::{describe, is_true};

declare_check! {
/// ## What it does
/// Flags containers with `securityContext.privileged: true` (YAML 1.1 spellings such as `yes` and
/// `on` included).
///
/// ## Why is this bad?
/// A privileged container has every capability and sees all of the host's devices; escaping to the
/// node is one step.
///
/// ## Remediation
/// Remove `privileged` or set it to `false`, and add back only the capabilities the application
/// needs.
///
/// ## References
/// - Pod Security Standards, Baseline: Privileged Containers
/// - CIS Kubernetes Benchmark 5.2.2
/// - NSA/CISA Kubernetes Hardening Guide: Pod security
    PrivilegedContainer { slug: "privileged-container", severity: Critical, summary: "A container runs privileged" }
}

impl Check for PrivilegedContainer {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        for c in &cx.containers {
            if is_true(c.security("privileged")) {
                out.emit(
                    cx.obj,
                    &c.ptr("securityContext/privileged"),
                    format!("{} is privileged", describe(c)),
                );
            }
        }
    }
}
