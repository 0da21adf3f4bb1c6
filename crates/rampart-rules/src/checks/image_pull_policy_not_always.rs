use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use crate::util::{describe, parse_image};

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
            let Some(image) = c.value.get("image").and_then(|v| v.as_str()) else { continue };
            if parse_image(image).2.is_some() {
                continue;
            }
            if let Some(p) = c.value.get("imagePullPolicy").and_then(|v| v.as_str()).filter(|p| matches!(*p, "IfNotPresent" | "Never")) {
                out.emit(cx.obj, &c.ptr("imagePullPolicy"), format!("{} pulls mutable image {image} with policy {p}", describe(c)));
            }
        }
    }
}
