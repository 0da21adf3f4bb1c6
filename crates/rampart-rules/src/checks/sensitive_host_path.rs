use super::{name, volumes};
use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use rampart_core::Field;

declare_check! {
/// ## What it does
/// Flags `hostPath` volumes of sensitive host paths (`/`, `/etc`, `/proc`, `/var/run`,
/// `/var/lib/kubelet`, `/root`, ... — setting `sensitiveHostPaths`) or paths under them.
///
/// ## Why is this bad?
/// These paths hold node credentials (kubelet keys, kubeconfigs), runtime sockets and the host's
/// configuration: mounting them is node takeover.
///
/// ## Remediation
/// Remove the volume; if a node agent really needs it, run it in a dedicated, tightly controlled
/// namespace.
///
/// ## References
/// - CIS Kubernetes Benchmark 5.2.12
/// - NSA/CISA Kubernetes Hardening Guide: Pod security
    SensitiveHostPath { slug: "sensitive-host-path", severity: Critical, summary: "A hostPath volume mounts a sensitive host directory" }
}

impl Check for SensitiveHostPath {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        let Some(pod) = &cx.pod else { return };
        for (i, v) in volumes(pod) {
            let Some(path) = v
                .field("hostPath")
                .and_then(|h| h.field("path"))
                .and_then(|p| p.as_str())
            else {
                continue;
            };
            let p = path.trim_end_matches('/');
            let p = if p.is_empty() { "/" } else { p };
            let hit = cx.config.settings.sensitive_host_paths.iter().find(|s| {
                let s = s.trim_end_matches('/');
                if s.is_empty() {
                    p == "/"
                } else {
                    p == s || p.strip_prefix(s).is_some_and(|rest| rest.starts_with('/'))
                }
            });
            if let Some(s) = hit {
                out.emit(
                    cx.obj,
                    &format!("{}/volumes/{i}/hostPath/path", pod.pointer),
                    format!(
                        "volume \"{}\" mounts sensitive host path {path} (under {s})",
                        name(v)
                    ),
                );
            }
        }
    }
}
