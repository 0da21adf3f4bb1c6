use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use crate::util::{describe, effective};

/// UIDs below this collide with the users of a typical host.
const MIN_UID: i64 = 10000;

declare_check! {
/// ## What it does
/// Flags containers whose effective `runAsUser` (container, else pod) is set to a UID from 1 to
/// 9999. UID 0 is `run-as-root`'s; an unset `runAsUser` (the image's user) is not judged here.
///
/// ## Why is this bad?
/// Low UIDs are the host's own users and system accounts. A process that escapes the container
/// without user namespaces keeps its UID on the host, and with a low one it owns whatever that
/// host user owns (files on shared volumes, `hostPath` mounts, processes).
///
/// ## Remediation
/// Run as a UID of 10000 or more (`runAsUser: 10001`), build the image with that `USER`, and
/// set `runAsGroup` and `fsGroup` to match.
///
/// ## References
/// - checkov CKV_K8S_40: Containers should run as a high UID to avoid host conflict
/// - kube-score: container-security-context-user-group-id
    RunAsLowUid { slug: "run-as-low-uid", severity: Low, summary: "A container runs as a UID below 10000" }
}

impl Check for RunAsLowUid {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        let Some(pod) = &cx.pod else { return };
        for c in &cx.containers {
            let Some(uid) = effective(pod, c, "runAsUser").and_then(|v| v.as_i64()) else {
                continue;
            };
            if !(1..MIN_UID).contains(&uid) {
                continue;
            }
            let ptr = if c.security("runAsUser").is_some() {
                c.ptr("securityContext/runAsUser")
            } else {
                format!("{}/securityContext/runAsUser", pod.pointer)
            };
            out.emit(
                cx.obj,
                &ptr,
                format!(
                    "{} runs as UID {uid}, below {MIN_UID}: it may collide with a host user",
                    describe(c)
                ),
            );
        }
    }
}
