//! Which pod configurations give root on the node, and which give the node's pod volumes.
//!
//! Only configurations that really give root count, not every hardening miss:
//!
//! | configuration | technique |
//! |---|---|
//! | `privileged` with `hostPID` | `CE_NSENTER`: enter PID 1's namespaces |
//! | `privileged` | `CE_PRIV_MOUNT`: mount the node's disk |
//! | `SYS_ADMIN` (or `ALL`) added, no seccomp profile | `CE_PRIV_MOUNT`: mount and cgroup `release_agent` |
//! | `SYS_MODULE` (or `ALL`) added | `CE_MODULE_LOAD`: load a kernel module |
//! | `SYS_PTRACE` (or `ALL`) added with `hostPID` | `CE_SYS_PTRACE`: inject into a host process |
//! | `DAC_READ_SEARCH` added, no seccomp profile | `EXPLOIT_HOST_READ`: `open_by_handle_at` reads any host file |
//! | hostPath over a container runtime socket (read-only too) | `EXPLOIT_CONTAINERD_SOCK`: start a privileged container |
//! | writable hostPath over `/`, `/etc/...` (static pod manifests, cron, systemd, sudoers, passwd, shadow), `/root/.ssh`, binaries and libraries, `/boot`, the runtime's image store, `/opt/cni/bin` | `EXPLOIT_HOST_WRITE` |
//! | writable hostPath over `/proc/sys/kernel/core_pattern` or `/sys/kernel/uevent_helper` | `CE_UMH_CORE_PATTERN` |
//! | read-only hostPath over `/`, `/etc/shadow`, `/etc/kubernetes`, `/root/.ssh`, `/root/.kube` | `EXPLOIT_HOST_READ`: credentials of the node and the cluster |
//! | hostPath over `/var/lib/kubelet/pods` | `EXPLOIT_HOST_TRAVERSE`: the tokens and Secrets of every pod on the node, not root |
//!
//! A hostPath covers a sensitive file when it is that file or one of its parent directories.
//! Not root on their own: `hostPID`, `hostIPC`, `hostNetwork`, `allowPrivilegeEscalation`,
//! running as root, `NET_ADMIN`/`NET_RAW`, read-only mounts of other host paths.

use crate::Technique;
use rampart_core::Field;
use rampart_manifest::PodSpecRef;
use serde_json::Value;

/// One way out of a workload's containers.
#[derive(Debug, Clone)]
pub(crate) struct Escape {
    pub technique: Technique,
    /// Pointer of the field that allows it.
    pub pointer: String,
    pub why: String,
}

const SOCKETS: &[&str] = &[
    "/var/run/docker.sock",
    "/run/docker.sock",
    "/var/run/containerd/containerd.sock",
    "/run/containerd/containerd.sock",
    "/var/run/crio/crio.sock",
    "/run/crio/crio.sock",
    "/var/run/cri-dockerd.sock",
    "/run/cri-dockerd.sock",
    "/var/run/dockershim.sock",
    "/run/k3s/containerd/containerd.sock",
];

const WRITE_ROOT: &[&str] = &[
    "/etc/kubernetes/manifests",
    "/etc/cron.d",
    "/etc/crontab",
    "/etc/systemd/system",
    "/etc/sudoers",
    "/etc/sudoers.d",
    "/etc/passwd",
    "/etc/shadow",
    "/etc/ld.so.preload",
    "/root/.ssh",
    "/bin",
    "/sbin",
    "/usr/bin",
    "/usr/sbin",
    "/usr/local/bin",
    "/lib",
    "/usr/lib",
    "/boot",
    "/var/lib/docker",
    "/var/lib/containerd",
    "/var/spool/cron",
    "/opt/cni/bin",
];

const UMH: &[&str] = &["/proc/sys/kernel/core_pattern", "/sys/kernel/uevent_helper"];

const READ_ROOT: &[&str] = &[
    "/etc/shadow",
    "/etc/kubernetes/admin.conf",
    "/etc/kubernetes/pki",
    "/root/.ssh",
    "/root/.kube",
];

const POD_VOLUMES: &str = "/var/lib/kubelet/pods";

/// `/a//b/./c/../d/` as `/a/b/d`; `None` for a relative path.
pub(crate) fn normalize(path: &str) -> Option<String> {
    if !path.starts_with('/') {
        return None;
    }
    let mut parts = Vec::new();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    Some(format!("/{}", parts.join("/")))
}

/// Whether `dir` is `file` or one of its parent directories.
fn covers(dir: &str, file: &str) -> bool {
    dir == "/"
        || file == dir
        || (file.starts_with(dir) && file.as_bytes().get(dir.len()) == Some(&b'/'))
}

fn covers_any(dir: &str, files: &[&str]) -> Option<String> {
    files
        .iter()
        .find(|f| covers(dir, f))
        .map(|f| (*f).to_string())
}

/// The escapes a hostPath mount allows, best first.
fn host_path(path: &str, read_only: bool) -> Option<(Technique, String)> {
    let p = normalize(path)?;
    if p == "/" {
        return Some(if read_only {
            (
                Technique::HostRead,
                "read-only hostPath / exposes the node's credentials (/etc/shadow, kubelet and cluster keys)".to_string(),
            )
        } else {
            (
                Technique::HostWrite,
                "writable hostPath / : plant code the node runs as root (cron, systemd, static pods)".to_string(),
            )
        });
    }
    if let Some(s) = covers_any(&p, SOCKETS) {
        return Some((
            Technique::RuntimeSocket,
            format!(
                "hostPath {p} holds the container runtime socket {s}: start a privileged container on the node"
            ),
        ));
    }
    if !read_only {
        if let Some(f) = covers_any(&p, WRITE_ROOT) {
            return Some((
                Technique::HostWrite,
                format!("writable hostPath {p} covers {f}: plant code the node runs as root"),
            ));
        }
        if let Some(f) = covers_any(&p, UMH) {
            return Some((
                Technique::UmhCorePattern,
                format!(
                    "writable hostPath {p} covers {f}: the kernel runs a helper of the attacker's as root"
                ),
            ));
        }
    }
    if let Some(f) = covers_any(&p, READ_ROOT) {
        return Some((
            Technique::HostRead,
            format!("hostPath {p} exposes {f}: credentials of the node or the cluster"),
        ));
    }
    None
}

fn capabilities(c: &rampart_manifest::ContainerRef<'_>) -> Vec<(String, String)> {
    c.security("capabilities")
        .and_then(|caps| caps.field("add"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .enumerate()
                .filter_map(|(i, v)| {
                    let s = v.as_str()?.to_ascii_uppercase();
                    let s = s.strip_prefix("CAP_").unwrap_or(&s).to_string();
                    Some((s, c.ptr(&format!("securityContext/capabilities/add/{i}"))))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn seccomp_confined(spec: &PodSpecRef<'_>, c: &rampart_manifest::ContainerRef<'_>) -> bool {
    let ty = |v: Option<&Value>| {
        v.and_then(|p| p.field("type"))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let t = ty(c.security("seccompProfile")).or_else(|| {
        ty(spec
            .get("securityContext")
            .and_then(|s| s.field("seccompProfile")))
    });
    matches!(t.as_deref(), Some("RuntimeDefault" | "Localhost"))
}

/// How a workload's containers get root on their node, best first (empty: they cannot).
pub(crate) fn node_escapes(spec: &PodSpecRef<'_>) -> Vec<Escape> {
    let mut out = Vec::new();
    let host_pid = spec.flag("hostPID");
    let pid_ptr = format!("{}/hostPID", spec.pointer);
    let volumes: Vec<(usize, &str, &str)> = spec
        .get("volumes")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .enumerate()
                .filter_map(|(i, v)| {
                    let name = v.field("name")?.as_str()?;
                    let path = v.field("hostPath")?.field("path")?.as_str()?;
                    Some((i, name, path))
                })
                .collect()
        })
        .unwrap_or_default();
    for c in spec.containers() {
        let privileged = c
            .security("privileged")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if privileged && host_pid {
            out.push(Escape {
                technique: Technique::Nsenter,
                pointer: pid_ptr.clone(),
                why: format!(
                    "container {} is privileged and shares the node's PID namespace: nsenter into PID 1",
                    c.name
                ),
            });
        }
        if privileged {
            out.push(Escape {
                technique: Technique::PrivMount,
                pointer: c.ptr("securityContext/privileged"),
                why: format!("container {} is privileged: mount the node's disk", c.name),
            });
        }
        let confined = seccomp_confined(spec, &c);
        for (cap, ptr) in capabilities(&c) {
            let all = cap == "ALL";
            if all || cap == "SYS_MODULE" {
                out.push(Escape {
                    technique: Technique::ModuleLoad,
                    pointer: ptr.clone(),
                    why: format!("container {} adds {cap}: load a kernel module", c.name),
                });
            }
            if (all || cap == "SYS_PTRACE") && host_pid {
                out.push(Escape {
                    technique: Technique::SysPtrace,
                    pointer: ptr.clone(),
                    why: format!(
                        "container {} adds {cap} and shares the node's PID namespace: inject code into a host process",
                        c.name
                    ),
                });
            }
            if (all || cap == "SYS_ADMIN") && !confined {
                out.push(Escape {
                    technique: Technique::PrivMount,
                    pointer: ptr.clone(),
                    why: format!(
                        "container {} adds {cap} without a seccomp profile: mount cgroups and the node's disk",
                        c.name
                    ),
                });
            }
            if cap == "DAC_READ_SEARCH" && !confined {
                out.push(Escape {
                    technique: Technique::HostRead,
                    pointer: ptr.clone(),
                    why: format!(
                        "container {} adds DAC_READ_SEARCH without a seccomp profile: open_by_handle_at reads any file of the node",
                        c.name
                    ),
                });
            }
        }
        for m in c
            .value
            .field("volumeMounts")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(name) = m.field("name").and_then(Value::as_str) else {
                continue;
            };
            let read_only = m.field("readOnly").and_then(Value::as_bool) == Some(true);
            for (vi, _, path) in volumes.iter().filter(|(_, n, _)| *n == name) {
                if let Some((technique, why)) = host_path(path, read_only) {
                    out.push(Escape {
                        technique,
                        pointer: format!("{}/volumes/{vi}/hostPath/path", spec.pointer),
                        why: format!("container {}: {why}", c.name),
                    });
                }
            }
        }
    }
    out.sort_by_key(|e| e.technique);
    out
}

/// The hostPath mounts that read the pod volumes of the node (tokens and Secrets of every pod
/// on it) without giving root.
pub(crate) fn pod_volume_reads(spec: &PodSpecRef<'_>) -> Option<Escape> {
    let volumes = spec.get("volumes").and_then(Value::as_array)?;
    let mounted: Vec<&str> = spec
        .containers()
        .iter()
        .flat_map(|c| {
            c.value
                .field("volumeMounts")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|m| m.field("name").and_then(Value::as_str))
                .collect::<Vec<_>>()
        })
        .collect();
    volumes.iter().enumerate().find_map(|(i, v)| {
        let name = v.field("name")?.as_str()?;
        let path = normalize(v.field("hostPath")?.field("path")?.as_str()?)?;
        (mounted.contains(&name) && covers(&path, POD_VOLUMES)).then(|| Escape {
            technique: Technique::HostTraverse,
            pointer: format!("{}/volumes/{i}/hostPath/path", spec.pointer),
            why: format!(
                "hostPath {path} holds the service account tokens and Secrets of every pod on the node"
            ),
        })
    })
}
