use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use crate::util::{describe, parse_image};
use rampart_core::Field;

declare_check! {
/// ## What it does
/// Flags images with no tag or the tag `latest`, unless they are pinned by digest.
///
/// ## Why is this bad?
/// `latest` changes under you: two nodes may run different code, a rollback redeploys the new
/// image, and nothing records what ran.
///
/// ## Remediation
/// Use an immutable version tag, or better a digest (`image@sha256:...`).
///
/// ## References
/// - NSA/CISA Kubernetes Hardening Guide: use immutable images
    LatestTag { slug: "latest-tag", severity: Medium, summary: "An image has no tag or the `latest` tag" }
}

impl Check for LatestTag {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        for c in &cx.containers {
            let Some(image) = c.value.field("image").and_then(|v| v.as_str()) else {
                continue;
            };
            let (_, tag, digest) = parse_image(image);
            if digest.is_none() && matches!(tag, None | Some("latest")) {
                out.emit(
                    cx.obj,
                    &c.ptr("image"),
                    format!("{} uses image {image} without a version tag", describe(c)),
                );
            }
        }
    }
}
