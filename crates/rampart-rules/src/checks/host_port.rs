use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use crate::util::describe;
use rampart_core::Field;

declare_check! {
/// ## What it does
/// Flags container ports with a non-zero `hostPort`.
///
/// ## Why is this bad?
/// A host port exposes the container on every address of the node, bypasses Services and
/// NetworkPolicies, and limits scheduling.
///
/// ## Remediation
/// Remove `hostPort` and expose the pod through a Service.
///
/// ## References
/// - Pod Security Standards, Baseline: HostPorts
    HostPort { slug: "host-port", severity: Medium, summary: "A container port is bound to a host port" }
}

impl Check for HostPort {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        for c in &cx.containers {
            let Some(ports) = c.value.field("ports").and_then(|p| p.as_array()) else {
                continue;
            };
            for (i, p) in ports.iter().enumerate() {
                if let Some(hp) = p
                    .field("hostPort")
                    .and_then(|v| v.as_i64())
                    .filter(|v| *v != 0)
                {
                    out.emit(
                        cx.obj,
                        &c.ptr(&format!("ports/{i}/hostPort")),
                        format!("{} binds host port {hp}", describe(c)),
                    );
                }
            }
        }
    }
}
