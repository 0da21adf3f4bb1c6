use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use crate::util::describe;
use rampart_core::Field;

declare_check! {
/// ## What it does
/// Flags containers for which neither the container nor the pod sets `seccompProfile.type` to
/// `RuntimeDefault` or `Localhost` (the `seccomp.security.alpha.kubernetes.io` annotations count
/// too).
///
/// ## Why is this bad?
/// Without a seccomp profile a container can make any system call, including the ones most kernel
/// exploits use.
///
/// ## Remediation
/// Set `securityContext.seccompProfile.type: RuntimeDefault` at the pod level.
///
/// ## References
/// - Pod Security Standards, Restricted: Seccomp
/// - CIS Kubernetes Benchmark 5.7.2
    MissingSeccompProfile { slug: "missing-seccomp-profile", severity: Medium, summary: "No seccomp profile is set" }
}

impl Check for MissingSeccompProfile {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        let Some(pod) = &cx.pod else { return };
        let ok = |v: Option<&serde_json::Value>| {
            matches!(
                v.and_then(|p| p.field("type")).and_then(|t| t.as_str()),
                Some("RuntimeDefault" | "Localhost")
            )
        };
        let ann = pod.annotations();
        let ann_ok = |key: &str| {
            ann.and_then(|a| a.get(key))
                .and_then(|v| v.as_str())
                .is_some_and(|v| {
                    v == "runtime/default" || v == "docker/default" || v.starts_with("localhost/")
                })
        };
        let pod_ok = ok(pod
            .spec
            .field("securityContext")
            .and_then(|s| s.field("seccompProfile")))
            || ann_ok("seccomp.security.alpha.kubernetes.io/pod");
        for c in &cx.containers {
            let explicit = c.security("seccompProfile");
            let c_ok = if explicit.is_some() {
                ok(explicit)
            } else {
                pod_ok
                    || ann_ok(&format!(
                        "container.seccomp.security.alpha.kubernetes.io/{}",
                        c.name
                    ))
            };
            if !c_ok {
                out.emit(
                    cx.obj,
                    &c.ptr("securityContext/seccompProfile"),
                    format!(
                        "{} has no RuntimeDefault or Localhost seccomp profile",
                        describe(c)
                    ),
                );
            }
        }
    }
}
