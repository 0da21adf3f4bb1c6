use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use crate::util::{describe, parse_image};
use rampart_core::Field;

declare_check! {
/// ## What it does
/// Flags images without an `@sha256:` digest.
///
/// ## Why is this bad?
/// Tags are mutable: whoever can push to the registry can change what a tag runs. A digest names
/// exactly one image.
///
/// ## Remediation
/// Reference images by digest (`registry/app:1.2.3@sha256:...`), and let a bot such as Renovate
/// update them.
///
/// ## References
/// - SLSA: pin dependencies
/// - NSA/CISA Kubernetes Hardening Guide: image integrity
    ImageNotPinnedByDigest { slug: "image-not-pinned-by-digest", severity: Low, summary: "An image is not pinned by digest" }
}

impl Check for ImageNotPinnedByDigest {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        for c in &cx.containers {
            let Some(image) = c.value.field("image").and_then(|v| v.as_str()) else {
                continue;
            };
            if !parse_image(image)
                .2
                .is_some_and(|d| d.starts_with("sha256:"))
            {
                out.emit(
                    cx.obj,
                    &c.ptr("image"),
                    format!("{} image {image} is not pinned by digest", describe(c)),
                );
            }
        }
    }
}
