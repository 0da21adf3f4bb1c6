use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use crate::util::describe;
use rampart_core::Field;

declare_check! {
/// ## What it does
/// Flags container ports 22 (TCP).
///
/// ## Why is this bad?
/// An SSH server in a container is a second way in that bypasses `kubectl exec` auditing and RBAC.
///
/// ## Remediation
/// Remove the SSH server; use `kubectl exec` or ephemeral debug containers.
///
/// ## References
/// - kube-linter: ssh-port
    SshPortExposed { slug: "ssh-port-exposed", severity: Medium, summary: "A container exposes the SSH port" }
}

impl Check for SshPortExposed {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        for c in &cx.containers {
            let Some(ports) = c.value.field("ports").and_then(|p| p.as_array()) else {
                continue;
            };
            for (i, p) in ports.iter().enumerate() {
                if p.field("containerPort").and_then(|v| v.as_i64()) == Some(22)
                    && p.field("protocol")
                        .and_then(|v| v.as_str())
                        .is_none_or(|v| v == "TCP")
                {
                    out.emit(
                        cx.obj,
                        &c.ptr(&format!("ports/{i}/containerPort")),
                        format!("{} exposes port 22 (SSH)", describe(c)),
                    );
                }
            }
        }
    }
}
