use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use crate::util::describe;

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
        let Some(pod) = &cx.pod else { return };
        if pod
            .spec
            .get("securityContext")
            .and_then(|s| s.get("windowsOptions"))
            .and_then(|w| w.get("hostProcess"))
            .and_then(|v| v.as_bool())
            == Some(true)
        {
            out.emit(
                cx.obj,
                &format!("{}/securityContext/windowsOptions/hostProcess", pod.pointer),
                "the pod runs as a Windows HostProcess".to_string(),
            );
        }
        for c in &cx.containers {
            if c.security("windowsOptions")
                .and_then(|w| w.get("hostProcess"))
                .and_then(|v| v.as_bool())
                == Some(true)
            {
                out.emit(
                    cx.obj,
                    &c.ptr("securityContext/windowsOptions/hostProcess"),
                    format!("{} runs as a Windows HostProcess", describe(c)),
                );
            }
        }
    }
}
