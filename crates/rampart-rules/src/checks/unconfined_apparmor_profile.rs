use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use crate::util::describe;

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
        let Some(pod) = &cx.pod else { return };
        if pod
            .spec
            .get("securityContext")
            .and_then(|s| s.get("appArmorProfile"))
            .and_then(|p| p.get("type"))
            .and_then(|t| t.as_str())
            == Some("Unconfined")
        {
            out.emit(
                cx.obj,
                &format!("{}/securityContext/appArmorProfile/type", pod.pointer),
                "the pod's AppArmor profile is Unconfined".to_string(),
            );
        }
        for c in &cx.containers {
            if c.security("appArmorProfile")
                .and_then(|p| p.get("type"))
                .and_then(|t| t.as_str())
                == Some("Unconfined")
            {
                out.emit(
                    cx.obj,
                    &c.ptr("securityContext/appArmorProfile/type"),
                    format!("{} AppArmor profile is Unconfined", describe(c)),
                );
            }
        }
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
