use super::{name, volumes};
use crate::check::{Check, CheckMeta, Emitter, ObjectContext, declare_check};
use rampart_core::Field;

declare_check! {
/// ## What it does
/// Flags `hostPath` volumes of a container runtime socket: docker (`/var/run/docker.sock`),
/// containerd, cri-o, or the directories holding them.
///
/// ## Why is this bad?
/// Whoever talks to the runtime socket can start a privileged container on the node: it is root on
/// the node.
///
/// ## Remediation
/// Remove the volume. Build images with a rootless builder (kaniko, buildah) instead of the node's
/// runtime.
///
/// ## References
/// - NSA/CISA Kubernetes Hardening Guide: Pod security
/// - CIS Docker Benchmark 5.31
    DockerSocketMount { slug: "docker-socket-mount", severity: Critical, summary: "The pod mounts a container runtime socket" }
}

impl Check for DockerSocketMount {
    fn meta(&self) -> &'static CheckMeta {
        &Self::META
    }

    fn check_object(&self, cx: &ObjectContext<'_>, out: &mut Emitter<'_>) {
        let Some(pod) = &cx.pod else { return };
        const SOCKETS: &[&str] = &[
            "/var/run/docker.sock",
            "/run/docker.sock",
            "/var/run/containerd/containerd.sock",
            "/run/containerd/containerd.sock",
            "/var/run/crio/crio.sock",
            "/run/crio/crio.sock",
            "/var/run/cri-dockerd.sock",
            "/var/run",
            "/run",
            "/var/run/containerd",
            "/run/containerd",
            "/var/run/crio",
            "/run/crio",
        ];
        for (i, v) in volumes(pod) {
            let Some(path) = v
                .field("hostPath")
                .and_then(|h| h.field("path"))
                .and_then(|p| p.as_str())
            else {
                continue;
            };
            let p = path.trim_end_matches('/');
            if SOCKETS.contains(&p)
                || p.ends_with(".sock")
                    && (p.contains("docker") || p.contains("containerd") || p.contains("crio"))
            {
                out.emit(
                    cx.obj,
                    &format!("{}/volumes/{i}/hostPath/path", pod.pointer),
                    format!(
                        "volume \"{}\" mounts the container runtime socket {path}",
                        name(v)
                    ),
                );
            }
        }
    }
}
