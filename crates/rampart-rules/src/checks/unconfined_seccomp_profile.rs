use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use crate::util::describe;

declare_check! {
/// ## What it does
/// Flags pods and containers whose `seccompProfile.type` is `Unconfined`.
///
/// ## Why is this bad?
/// Unconfined turns system-call filtering off on purpose, including for runtimes that would apply a
/// default profile.
///
/// ## Remediation
/// Use `RuntimeDefault`, or a `Localhost` profile tailored to the application.
///
/// ## References
/// - Pod Security Standards, Baseline: Seccomp
    UnconfinedSeccompProfile { slug: "unconfined-seccomp-profile", severity: High, summary: "A seccomp profile is explicitly Unconfined" }
}

impl Check for UnconfinedSeccompProfile {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        let Some(pod) = &cx.pod else { return };
        if pod
            .spec
            .get("securityContext")
            .and_then(|s| s.get("seccompProfile"))
            .and_then(|p| p.get("type"))
            .and_then(|t| t.as_str())
            == Some("Unconfined")
        {
            out.emit(
                cx.obj,
                &format!("{}/securityContext/seccompProfile/type", pod.pointer),
                "the pod's seccomp profile is Unconfined".to_string(),
            );
        }
        for c in &cx.containers {
            if c.security("seccompProfile")
                .and_then(|p| p.get("type"))
                .and_then(|t| t.as_str())
                == Some("Unconfined")
            {
                out.emit(
                    cx.obj,
                    &c.ptr("securityContext/seccompProfile/type"),
                    format!("{} seccomp profile is Unconfined", describe(c)),
                );
            }
        }
    }
}
