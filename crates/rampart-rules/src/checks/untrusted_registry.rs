use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use crate::util::describe;
use rampart_core::Field;

declare_check! {
/// ## What it does
/// Flags images whose reference does not start with one of `settings.allowedRegistries`. Runs only
/// when that setting is configured.
///
/// ## Why is this bad?
/// Images from arbitrary registries bypass your scanning, signing and provenance controls;
/// typosquatted images are a known supply-chain attack.
///
/// ## Remediation
/// Mirror the image into an allowed registry, or add the registry to `settings.allowedRegistries`
/// after review.
///
/// ## References
/// - NSA/CISA Kubernetes Hardening Guide: image registries
/// - SLSA
    UntrustedRegistry { slug: "untrusted-registry", severity: High, summary: "An image comes from a registry that is not allowed" }
}

impl Check for UntrustedRegistry {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        let allowed = &cx.config.settings.allowed_registries;
        if allowed.is_empty() {
            return;
        }
        for c in &cx.containers {
            let Some(image) = c.value.field("image").and_then(|v| v.as_str()) else {
                continue;
            };
            if !allowed.iter().any(|r| image.starts_with(r.as_str())) {
                out.emit(
                    cx.obj,
                    &c.ptr("image"),
                    format!(
                        "{} image {image} is not from an allowed registry",
                        describe(c)
                    ),
                );
            }
        }
    }
}
