use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use crate::util::describe;
use rampart_core::Field;

declare_check! {
/// ## What it does
/// Flags container ports below 1024.
///
/// ## Why is this bad?
/// Binding a port below 1024 needs root or `NET_BIND_SERVICE`; it usually means the container runs
/// with more privilege than it needs.
///
/// ## Remediation
/// Listen on a port ≥ 1024 and map it in the Service.
///
/// ## References
/// - kube-linter: privileged-ports
    PrivilegedPort { slug: "privileged-port", severity: Low, summary: "A container listens on a privileged port" }
}

impl Check for PrivilegedPort {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        for c in &cx.containers {
            let Some(ports) = c.value.field("ports").and_then(|p| p.as_array()) else {
                continue;
            };
            for (i, p) in ports.iter().enumerate() {
                if let Some(port) = p
                    .field("containerPort")
                    .and_then(|v| v.as_i64())
                    .filter(|p| (1..1024).contains(p))
                {
                    out.emit(
                        cx.obj,
                        &c.ptr(&format!("ports/{i}/containerPort")),
                        format!("{} listens on privileged port {port}", describe(c)),
                    );
                }
            }
        }
    }
}
