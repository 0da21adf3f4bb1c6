use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use crate::util::security_settings;

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
        for (ptr, who, v) in security_settings(cx, "seccompProfile/type") {
            if v.as_str() == Some("Unconfined") {
                out.emit(
                    cx.obj,
                    &ptr,
                    format!("{who}: seccomp profile is Unconfined"),
                );
            }
        }
    }
}
