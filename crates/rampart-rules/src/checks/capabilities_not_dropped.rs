use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use crate::util::{describe, strings};
use rampart_core::Field;

declare_check! {
/// ## What it does
/// Flags containers whose `securityContext.capabilities.drop` does not contain `ALL`.
///
/// ## Why is this bad?
/// Container runtimes grant a default set of capabilities (e.g. `NET_RAW`, `CHOWN`, `SETUID`) that
/// most applications never need and attackers use for spoofing and escalation.
///
/// ## Remediation
/// Add `capabilities: {drop: ["ALL"]}` and add back only what is needed, such as
/// `NET_BIND_SERVICE`.
///
/// ## References
/// - Pod Security Standards, Restricted: Capabilities
/// - CIS Kubernetes Benchmark 5.2.9
    CapabilitiesNotDropped { slug: "capabilities-not-dropped", severity: Medium, summary: "The container does not drop ALL capabilities" }
}

impl Check for CapabilitiesNotDropped {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        for c in &cx.containers {
            let drop = strings(
                c.value
                    .field("securityContext")
                    .and_then(|s| s.field("capabilities"))
                    .and_then(|c| c.field("drop")),
            );
            if !drop.iter().any(|d| d.eq_ignore_ascii_case("ALL")) {
                out.emit(
                    cx.obj,
                    &c.ptr("securityContext/capabilities/drop"),
                    format!("{} does not drop ALL capabilities", describe(c)),
                );
            }
        }
    }
}
