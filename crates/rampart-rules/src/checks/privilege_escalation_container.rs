use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use crate::util::describe;

declare_check! {
/// ## What it does
/// Flags containers whose `securityContext.allowPrivilegeEscalation` is not explicitly `false`.
///
/// ## Why is this bad?
/// Unless it is false, a process can gain more privileges than its parent through setuid binaries
/// or file capabilities; the kernel default allows it.
///
/// ## Remediation
/// Set `securityContext.allowPrivilegeEscalation: false` on every container.
///
/// ## References
/// - Pod Security Standards, Restricted: Privilege Escalation
/// - CIS Kubernetes Benchmark 5.2.5
    PrivilegeEscalationContainer { slug: "privilege-escalation-container", severity: High, summary: "allowPrivilegeEscalation is not set to false" }
}

impl Check for PrivilegeEscalationContainer {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        for c in &cx.containers {
            if c.security("allowPrivilegeEscalation")
                .and_then(|v| v.as_bool())
                != Some(false)
            {
                let ptr = if c.security("allowPrivilegeEscalation").is_some() {
                    "securityContext/allowPrivilegeEscalation"
                } else {
                    "securityContext"
                };
                out.emit(
                    cx.obj,
                    &c.ptr(ptr),
                    format!(
                        "{} does not set securityContext.allowPrivilegeEscalation=false",
                        describe(c)
                    ),
                );
            }
        }
    }
}
