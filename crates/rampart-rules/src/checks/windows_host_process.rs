use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use crate::util::security_settings;

declare_check! {
/// ## What it does
/// Flags pods and containers with `windowsOptions.hostProcess: true`.
///
/// ## Why is this bad?
/// A HostProcess container runs directly on the Windows node with the node's privileges: the
/// equivalent of a privileged container.
///
/// ## Remediation
/// Remove `hostProcess`; run node administration through a managed node agent.
///
/// ## References
/// - Pod Security Standards, Baseline: HostProcess
    WindowsHostProcess { slug: "windows-host-process", severity: Critical, summary: "A Windows container runs as a HostProcess" }
}

impl Check for WindowsHostProcess {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        for (ptr, who, v) in security_settings(cx, "windowsOptions/hostProcess") {
            if v.as_bool() == Some(true) {
                out.emit(
                    cx.obj,
                    &ptr,
                    format!("{who}: runs as a Windows HostProcess"),
                );
            }
        }
    }
}
