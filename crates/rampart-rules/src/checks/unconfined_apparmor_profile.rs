use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use crate::util::security_settings;

declare_check! {
/// ## What it does
/// Flags `appArmorProfile.type: Unconfined` on pods or containers and
/// `container.apparmor.security.beta.kubernetes.io/*: unconfined` annotations.
///
/// ## Why is this bad?
/// Disabling AppArmor removes the mandatory access control that blocks many container escapes.
///
/// ## Remediation
/// Use `RuntimeDefault` or a `Localhost` profile.
///
/// ## References
/// - Pod Security Standards, Baseline: AppArmor
    UnconfinedApparmorProfile { slug: "unconfined-apparmor-profile", severity: High, summary: "An AppArmor profile is explicitly unconfined" }
}

impl Check for UnconfinedApparmorProfile {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        for (ptr, who, v) in security_settings(cx, "appArmorProfile/type") {
            if v.as_str() == Some("Unconfined") {
                out.emit(
                    cx.obj,
                    &ptr,
                    format!("{who}: AppArmor profile is Unconfined"),
                );
            }
        }
        let Some(pod) = &cx.pod else { return };
        if let Some(ann) = pod.annotations() {
            for (k, v) in ann {
                if k.starts_with("container.apparmor.security.beta.kubernetes.io/")
                    && v.as_str() == Some("unconfined")
                {
                    out.emit(
                        cx.obj,
                        &format!(
                            "{}/annotations/{}",
                            pod.metadata_pointer,
                            rampart_manifest::escape_segment(k)
                        ),
                        format!("annotation {k} disables AppArmor"),
                    );
                }
            }
        }
    }
}
