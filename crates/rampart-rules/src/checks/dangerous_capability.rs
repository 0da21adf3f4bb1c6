use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use crate::util::{describe, strings};
use rampart_core::Field;

declare_check! {
/// ## What it does
/// Flags capabilities added in `securityContext.capabilities.add` other than the allowed ones (by
/// default only `NET_BIND_SERVICE`; setting `allowedCapabilities`).
///
/// ## Why is this bad?
/// Capabilities such as `SYS_ADMIN`, `NET_ADMIN`, `SYS_PTRACE` or `DAC_READ_SEARCH` give near-root
/// power over the node or other processes.
///
/// ## Remediation
/// Remove the capability from `capabilities.add`; if the application truly needs it, document why
/// and list it in `settings.allowedCapabilities`.
///
/// ## References
/// - Pod Security Standards, Baseline: Capabilities
/// - CIS Kubernetes Benchmark 5.2.8
    DangerousCapability { slug: "dangerous-capability", severity: High, summary: "A container adds a capability other than NET_BIND_SERVICE" }
}

impl Check for DangerousCapability {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        for c in &cx.containers {
            let add = strings(
                c.value
                    .field("securityContext")
                    .and_then(|s| s.field("capabilities"))
                    .and_then(|c| c.field("add")),
            );
            for (i, cap) in add.iter().enumerate() {
                let norm = cap.trim_start_matches("CAP_").to_ascii_uppercase();
                if !cx
                    .config
                    .settings
                    .allowed_capabilities
                    .iter()
                    .any(|a| a.trim_start_matches("CAP_").eq_ignore_ascii_case(&norm))
                {
                    out.emit(
                        cx.obj,
                        &c.ptr(&format!("securityContext/capabilities/add/{i}")),
                        format!("{} adds capability {cap}", describe(c)),
                    );
                }
            }
        }
    }
}
