use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use crate::util::describe;
use rampart_core::Field;

declare_check! {
/// ## What it does
/// Flags `seLinuxOptions` that set `user` or `role`, or a `type` other than `container_t`,
/// `container_init_t`, `container_kvm_t` or `container_engine_t`.
///
/// ## Why is this bad?
/// A custom SELinux type can lift the confinement that keeps a container away from host files and
/// processes.
///
/// ## Remediation
/// Remove the custom SELinux options or use one of the standard container types.
///
/// ## References
/// - Pod Security Standards, Baseline: SELinux
    CustomSelinuxOptions { slug: "custom-selinux-options", severity: Medium, summary: "A custom SELinux type or user/role is set" }
}

impl Check for CustomSelinuxOptions {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        let Some(pod) = &cx.pod else { return };
        let bad = |o: &serde_json::Value| {
            o.field("user")
                .is_some_and(|v| v.as_str().is_some_and(|s| !s.is_empty()))
                || o.field("role")
                    .is_some_and(|v| v.as_str().is_some_and(|s| !s.is_empty()))
                || o.field("type").and_then(|t| t.as_str()).is_some_and(|t| {
                    !t.is_empty()
                        && !matches!(
                            t,
                            "container_t"
                                | "container_init_t"
                                | "container_kvm_t"
                                | "container_engine_t"
                        )
                })
        };
        if let Some(o) = pod
            .spec
            .field("securityContext")
            .and_then(|s| s.field("seLinuxOptions"))
            .filter(|o| bad(o))
        {
            let _ = o;
            out.emit(
                cx.obj,
                &format!("{}/securityContext/seLinuxOptions", pod.pointer),
                "the pod sets custom SELinux options".to_string(),
            );
        }
        for c in &cx.containers {
            if c.security("seLinuxOptions").is_some_and(bad) {
                out.emit(
                    cx.obj,
                    &c.ptr("securityContext/seLinuxOptions"),
                    format!("{} sets custom SELinux options", describe(c)),
                );
            }
        }
    }
}
