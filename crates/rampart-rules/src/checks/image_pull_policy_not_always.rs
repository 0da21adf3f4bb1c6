use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use crate::util::{describe, parse_image};
use rampart_core::Field;

declare_check! {
/// ## What it does
/// Reports containers with a tagged (not digest-pinned) image whose `imagePullPolicy` is
/// `IfNotPresent` or `Never`.
///
/// ## Why is this bad?
/// With a mutable tag and a cached image, a node may run an old build — or a poisoned image left by
/// another tenant — without checking the registry or its credentials.
///
/// ## Remediation
/// Pin by digest, or set `imagePullPolicy: Always`.
///
/// ## References
/// - Kubernetes documentation: Images (AlwaysPullImages admission)
    ImagePullPolicyNotAlways { slug: "image-pull-policy-not-always", severity: Info, summary: "A mutable image tag is not pulled on every start" }
}

impl Check for ImagePullPolicyNotAlways {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        for c in &cx.containers {
            let Some(image) = c.value.field("image").and_then(|v| v.as_str()) else {
                continue;
            };
            let (_, tag, digest) = parse_image(image);
            if digest.is_some() {
                continue;
            }
            // the API server defaults the policy to Always for `:latest` or no tag, else IfNotPresent
            let defaulted = if matches!(tag, None | Some("latest")) {
                "Always"
            } else {
                "IfNotPresent"
            };
            let explicit = c.value.field("imagePullPolicy").and_then(|v| v.as_str());
            let policy = explicit.unwrap_or(defaulted);
            if matches!(policy, "IfNotPresent" | "Never") {
                let how = if explicit.is_some() {
                    ""
                } else {
                    " (the default for a tagged image)"
                };
                let ptr = if explicit.is_some() {
                    c.ptr("imagePullPolicy")
                } else {
                    c.ptr("image")
                };
                out.emit(
                    cx.obj,
                    &ptr,
                    format!(
                        "{} pulls mutable image {image} with policy {policy}{how}",
                        describe(c)
                    ),
                );
            }
        }
    }
}
