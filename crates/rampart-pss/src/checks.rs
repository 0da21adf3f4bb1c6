//! The checks of the Pod Security Standards: which apply at a level and version, and how a
//! violation is worded (exactly as Pod Security Admission words it).

use crate::Violation;
use crate::facts::*;
use crate::policy::Level;
use rampart_core::Field;
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// One check of the standard, as Pod Security Admission registers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckInfo {
    /// The upstream check ID, e.g. `runAsNonRoot`.
    pub id: &'static str,
    /// The lowest level the check belongs to.
    pub level: Level,
    /// The first policy version (minor) the check applies at.
    pub since: u32,
    /// One line.
    pub summary: &'static str,
    /// What the check allows, and how it changed across versions (Markdown).
    pub doc: &'static str,
}

/// Every check, baseline first then restricted, each sorted by ID: the order in which Pod
/// Security Admission reports violations.
pub const CHECKS: [CheckInfo; 19] = [
    CheckInfo {
        id: "appArmorProfile",
        level: Level::Baseline,
        since: 0,
        summary: "AppArmor profiles must not be overridden or disabled",
        doc: "`securityContext.appArmorProfile.type` of the pod and every container must be undefined, \
              `RuntimeDefault` or `Localhost`; `container.apparmor.security.beta.kubernetes.io/*` \
              annotations must be empty, `runtime/default` or `localhost/*`. Both at every version.",
    },
    CheckInfo {
        id: "capabilities_baseline",
        level: Level::Baseline,
        since: 0,
        summary: "containers must not add capabilities beyond the default set",
        doc: "`capabilities.add` may only hold AUDIT_WRITE, CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, \
              MKNOD, NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID, SYS_CHROOT. At the restricted \
              level from v1.22, `capabilities_restricted` replaces it.",
    },
    CheckInfo {
        id: "hostNamespaces",
        level: Level::Baseline,
        since: 0,
        summary: "pods must not share the host's network, PID or IPC namespace",
        doc: "`hostNetwork`, `hostPID` and `hostIPC` must be undefined or false.",
    },
    CheckInfo {
        id: "hostPathVolumes",
        level: Level::Baseline,
        since: 0,
        summary: "pods must not mount hostPath volumes",
        doc: "`volumes[*].hostPath` must be undefined. At the restricted level `restrictedVolumes` \
              replaces it.",
    },
    CheckInfo {
        id: "hostPorts",
        level: Level::Baseline,
        since: 0,
        summary: "containers must not bind host ports",
        doc: "`ports[*].hostPort` must be undefined or 0.",
    },
    CheckInfo {
        id: "hostProbesAndHostLifecycle",
        level: Level::Baseline,
        since: 34,
        summary: "probes and lifecycle handlers must not target another host",
        doc: "From v1.34, the `host` of `httpGet` and `tcpSocket` in liveness, readiness and startup \
              probes and in postStart/preStop handlers must be undefined or empty.",
    },
    CheckInfo {
        id: "privileged",
        level: Level::Baseline,
        since: 0,
        summary: "containers must not be privileged",
        doc: "`securityContext.privileged` must be undefined or false.",
    },
    CheckInfo {
        id: "procMount",
        level: Level::Baseline,
        since: 0,
        summary: "containers must keep the default /proc masks",
        doc: "`securityContext.procMount` must be undefined or `Default`. From v1.35 pods in a user \
              namespace (`hostUsers: false`) may set any value; at the restricted level from v1.35 \
              `procMount_restricted` replaces it.",
    },
    CheckInfo {
        id: "seLinuxOptions",
        level: Level::Baseline,
        since: 0,
        summary: "SELinux type must be a container type and user/role must not be set",
        doc: "`seLinuxOptions.type` must be empty, `container_t`, `container_init_t` or \
              `container_kvm_t` (and `container_engine_t` from v1.31); `user` and `role` must be empty.",
    },
    CheckInfo {
        id: "seccompProfile_baseline",
        level: Level::Baseline,
        since: 0,
        summary: "seccomp must not be disabled",
        doc: "Before v1.19 the `seccomp.security.alpha.kubernetes.io/pod` and \
              `container.seccomp.security.alpha.kubernetes.io/*` annotations must be `runtime/default`, \
              `docker/default` or `localhost/*`; from v1.19 `seccompProfile.type` must be undefined, \
              `RuntimeDefault` or `Localhost`. At the restricted level from v1.19 \
              `seccompProfile_restricted` replaces it.",
    },
    CheckInfo {
        id: "sysctls",
        level: Level::Baseline,
        since: 0,
        summary: "pods may only set safe sysctls",
        doc: "`securityContext.sysctls[*].name` must be in the safe set: kernel.shm_rmid_forced, \
              net.ipv4.ip_local_port_range, net.ipv4.tcp_syncookies, net.ipv4.ping_group_range, \
              net.ipv4.ip_unprivileged_port_start; from v1.27 net.ipv4.ip_local_reserved_ports; from \
              v1.29 net.ipv4.tcp_keepalive_time, tcp_fin_timeout, tcp_keepalive_intvl, \
              tcp_keepalive_probes; from v1.32 net.ipv4.tcp_rmem, tcp_wmem; from v1.37 \
              net.ipv4.tcp_slow_start_after_idle, tcp_notsent_lowat.",
    },
    CheckInfo {
        id: "windowsHostProcess",
        level: Level::Baseline,
        since: 0,
        summary: "Windows pods must not run as host processes",
        doc: "`securityContext.windowsOptions.hostProcess` of the pod and every container must be \
              undefined or false.",
    },
    CheckInfo {
        id: "allowPrivilegeEscalation",
        level: Level::Restricted,
        since: 8,
        summary: "containers must set allowPrivilegeEscalation=false",
        doc: "From v1.8 every container must set `securityContext.allowPrivilegeEscalation: false`; \
              from v1.25 Windows pods (`spec.os.name: windows`) are exempt.",
    },
    CheckInfo {
        id: "capabilities_restricted",
        level: Level::Restricted,
        since: 22,
        summary: "containers must drop ALL capabilities and add only NET_BIND_SERVICE",
        doc: "From v1.22 every container must drop `ALL` and may add only `NET_BIND_SERVICE`; from \
              v1.25 Windows pods are exempt.",
    },
    CheckInfo {
        id: "procMount_restricted",
        level: Level::Restricted,
        since: 35,
        summary: "containers must keep the default /proc masks, even in a user namespace",
        doc: "From v1.35, `securityContext.procMount` must be undefined or `Default` whatever `hostUsers` is.",
    },
    CheckInfo {
        id: "restrictedVolumes",
        level: Level::Restricted,
        since: 0,
        summary: "pods may only use core volume types",
        doc: "Volumes must be configMap, csi, downwardAPI, emptyDir, ephemeral, image, \
              persistentVolumeClaim, projected or secret.",
    },
    CheckInfo {
        id: "runAsNonRoot",
        level: Level::Restricted,
        since: 0,
        summary: "containers must run as non-root",
        doc: "`runAsNonRoot: true` on the pod or every container, and never false. From v1.35 pods in a \
              user namespace (`hostUsers: false`) are exempt.",
    },
    CheckInfo {
        id: "runAsUser",
        level: Level::Restricted,
        since: 23,
        summary: "containers must not run as UID 0",
        doc: "From v1.23, `runAsUser` of the pod and every container must not be 0. From v1.35 pods in a \
              user namespace are exempt.",
    },
    CheckInfo {
        id: "seccompProfile_restricted",
        level: Level::Restricted,
        since: 19,
        summary: "a RuntimeDefault or Localhost seccomp profile must be set",
        doc: "From v1.19 `seccompProfile.type` must be `RuntimeDefault` or `Localhost`, on the pod or \
              every container; from v1.25 Windows pods are exempt.",
    },
];

/// The catalog entry of a check ID.
pub fn check_info(id: &str) -> Option<&'static CheckInfo> {
    CHECKS.iter().find(|c| c.id == id)
}

/// Bit `i` set: check `CHECKS[i]` fails.
pub(crate) fn failing(
    facts: &Facts,
    level: Level,
    v: u32,
    seccomp_annotations_bad: impl Fn() -> bool,
) -> u32 {
    if level == Level::Privileged {
        return 0;
    }
    let c = facts.containers;
    let p = facts.pod;
    let restricted = level == Level::Restricted;
    let user_ns = v >= 35 && p & P_USER_NAMESPACE != 0;
    let windows = v >= 25 && p & P_WINDOWS != 0;
    let flags = [
        // appArmorProfile
        c & C_APPARMOR != 0 || p & (P_APPARMOR | P_APPARMOR_ANNOTATION) != 0,
        // capabilities_baseline
        !(restricted && v >= 22) && c & C_CAPS_BASELINE != 0,
        // hostNamespaces
        p & P_HOST_NAMESPACES != 0,
        // hostPathVolumes
        !restricted && p & P_HOST_PATH != 0,
        // hostPorts
        c & C_HOST_PORT != 0,
        // hostProbesAndHostLifecycle
        v >= 34 && c & C_HOST_PROBE != 0,
        // privileged
        c & C_PRIVILEGED != 0,
        // procMount
        !(user_ns || restricted && v >= 35) && c & C_PROC_MOUNT != 0,
        // seLinuxOptions
        if v >= 31 {
            c & C_SELINUX_V1_31 != 0 || p & P_SELINUX_V1_31 != 0
        } else {
            c & C_SELINUX_V1_0 != 0 || p & P_SELINUX_V1_0 != 0
        },
        // seccompProfile_baseline
        !(restricted && v >= 19)
            && if v >= 19 {
                c & C_SECCOMP_BAD != 0 || p & P_SECCOMP_BAD != 0
            } else {
                seccomp_annotations_bad()
            },
        // sysctls
        facts.sysctls_from > v,
        // windowsHostProcess
        c & C_HOST_PROCESS != 0 || p & P_HOST_PROCESS != 0,
        // allowPrivilegeEscalation
        restricted && v >= 8 && !windows && c & C_ESCALATION != 0,
        // capabilities_restricted
        restricted && v >= 22 && !windows && c & (C_CAPS_NO_DROP_ALL | C_CAPS_ADD_RESTRICTED) != 0,
        // procMount_restricted
        restricted && v >= 35 && c & C_PROC_MOUNT != 0,
        // restrictedVolumes
        restricted && p & P_RESTRICTED_VOLUME != 0,
        // runAsNonRoot
        restricted
            && !user_ns
            && (p & P_NON_ROOT_FALSE != 0
                || c & C_NON_ROOT_FALSE != 0
                || (c & C_NON_ROOT_UNSET != 0 && p & P_NON_ROOT_TRUE == 0)),
        // runAsUser
        restricted && v >= 23 && !user_ns && (p & P_RUN_AS_ROOT != 0 || c & C_RUN_AS_ROOT != 0),
        // seccompProfile_restricted
        restricted
            && v >= 19
            && !windows
            && (p & P_SECCOMP_BAD != 0
                || c & C_SECCOMP_BAD != 0
                || (c & C_SECCOMP_UNSET != 0 && p & P_SECCOMP_OK == 0)),
    ];
    flags
        .iter()
        .enumerate()
        .fold(0, |acc, (i, f)| if *f { acc | (1 << i) } else { acc })
}

// ---------------------------------------------------------------------------------------------
// Wording. Only reached for a failing check, so these may allocate freely.

/// The pod being worded: its spec, metadata and where they sit in the object.
pub(crate) struct Pod<'a> {
    pub spec: &'a Map<String, Value>,
    pub metadata: Option<&'a Map<String, Value>>,
    pub spec_pointer: &'a str,
    pub metadata_pointer: String,
    pub minor: u32,
}

pub(crate) struct Container<'a> {
    pub name: &'a str,
    pub value: &'a Map<String, Value>,
    pub(crate) field: &'static str,
    pub(crate) index: usize,
    spec_pointer: &'a str,
}

impl<'a> Container<'a> {
    pub(crate) fn sc(&self, key: &str) -> Option<&'a Value> {
        self.value
            .field("securityContext")?
            .field(key)
            .filter(|v| !v.is_null())
    }

    /// Pointer of a field of the container, built only for an offending field.
    fn ptr(&self, rel: &str) -> String {
        format!("{}/{}/{}/{rel}", self.spec_pointer, self.field, self.index)
    }
}

impl<'a> Pod<'a> {
    /// Init containers, containers, then ephemeral containers, as Pod Security Admission visits them.
    pub(crate) fn containers(&self) -> impl Iterator<Item = Container<'a>> + '_ {
        ["initContainers", "containers", "ephemeralContainers"]
            .into_iter()
            .flat_map(move |field| {
                self.spec
                    .field(field)
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .enumerate()
                    .filter_map(move |(i, c)| {
                        let value = c.as_object()?;
                        Some(Container {
                            name: value.field("name").and_then(Value::as_str).unwrap_or(""),
                            value,
                            field,
                            index: i,
                            spec_pointer: self.spec_pointer,
                        })
                    })
            })
    }

    pub(crate) fn sc(&self, key: &str) -> Option<&'a Value> {
        self.spec
            .field("securityContext")?
            .field(key)
            .filter(|v| !v.is_null())
    }

    fn sc_ptr(&self, rel: &str) -> String {
        format!("{}/securityContext/{rel}", self.spec_pointer)
    }

    pub(crate) fn annotations(&self) -> Option<&'a Map<String, Value>> {
        self.metadata?.field("annotations")?.as_object()
    }

    fn annotation_ptr(&self, key: &str) -> String {
        format!(
            "{}/annotations/{}",
            self.metadata_pointer,
            rampart_manifest::escape_segment(key)
        )
    }
}

/// Go's `joinQuote`: `"a", "b"`, no escaping.
fn join_quote<S: AsRef<str>>(items: &[S]) -> String {
    if items.is_empty() {
        return String::new();
    }
    let mut out = String::from("\"");
    for (i, s) in items.iter().enumerate() {
        if i > 0 {
            out.push_str("\", \"");
        }
        out.push_str(s.as_ref());
    }
    out.push('"');
    out
}

fn pluralize<'s>(singular: &'s str, plural: &'s str, n: usize) -> &'s str {
    if n == 1 { singular } else { plural }
}

fn containers_phrase(names: &[&str]) -> String {
    format!(
        "{} {}",
        pluralize("container", "containers", names.len()),
        join_quote(names)
    )
}

/// Go's `%q` of a string.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c.is_control() => {
                if (c as u32) < 0x10000 {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn violation(
    check: &'static str,
    reason: impl Into<String>,
    detail: String,
    pointers: Vec<String>,
) -> Violation {
    Violation {
        check,
        reason: reason.into(),
        detail,
        pointers,
    }
}

/// Words check `CHECKS[index]` for a pod it fails on.
pub(crate) fn word(index: usize, pod: &Pod) -> Option<Violation> {
    let id = CHECKS.get(index)?.id;
    let v = match id {
        "appArmorProfile" => app_armor(pod),
        "capabilities_baseline" => capabilities_baseline(pod),
        "hostNamespaces" => host_namespaces(pod),
        "hostPathVolumes" => host_path_volumes(pod),
        "hostPorts" => host_ports(pod),
        "hostProbesAndHostLifecycle" => host_probes(pod),
        "privileged" => privileged(pod),
        "procMount" | "procMount_restricted" => proc_mount(pod, id),
        "seLinuxOptions" => selinux(pod),
        "seccompProfile_baseline" if pod.minor < 19 => seccomp_annotations(pod),
        "seccompProfile_baseline" => seccomp(pod, id, false),
        "sysctls" => sysctls(pod),
        "windowsHostProcess" => host_process(pod),
        "allowPrivilegeEscalation" => escalation(pod),
        "capabilities_restricted" => capabilities_restricted(pod),
        "restrictedVolumes" => restricted_volumes(pod),
        "runAsNonRoot" => run_as_non_root(pod),
        "runAsUser" => run_as_user(pod),
        "seccompProfile_restricted" => seccomp(pod, id, true),
        _ => None,
    };
    // A failing check always has words: fall back to the reason upstream uses for a check that
    // forgot to give one, rather than dropping the violation.
    Some(v.unwrap_or_else(|| violation(id, "unknown forbidden reason", String::new(), Vec::new())))
}

fn setters_phrase(pod_bad: bool, containers: &[&str]) -> String {
    let mut setters = Vec::new();
    if pod_bad {
        setters.push("pod".to_string());
    }
    if !containers.is_empty() {
        setters.push(containers_phrase(containers));
    }
    setters.join(" and ")
}

fn app_armor(pod: &Pod) -> Option<Violation> {
    let mut pointers = Vec::new();
    let mut bad_values = BTreeSet::new();
    let mut pod_bad = false;
    if let Some(p) = pod.sc("appArmorProfile").filter(|p| !apparmor_type_ok(p)) {
        pod_bad = true;
        bad_values.insert(
            p.field("type")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
        );
        pointers.push(pod.sc_ptr("appArmorProfile/type"));
    }
    let mut names = Vec::new();
    for c in pod.containers() {
        if let Some(p) = c.sc("appArmorProfile").filter(|p| !apparmor_type_ok(p)) {
            names.push(c.name);
            bad_values.insert(
                p.field("type")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            );
            pointers.push(c.ptr("securityContext/appArmorProfile/type"));
        }
    }
    let mut setters = Vec::new();
    if pod_bad {
        setters.push("pod".to_string());
    }
    if !names.is_empty() {
        setters.push(containers_phrase(&names));
    }
    let mut values: Vec<String> = bad_values.into_iter().collect();
    let mut annotations = Vec::new();
    for (k, v) in pod.annotations().into_iter().flatten() {
        let v = v.as_str().unwrap_or("");
        if k.starts_with(APPARMOR_ANNOTATION_PREFIX) && !apparmor_annotation_ok(v) {
            annotations.push(format!("{k}={}", go_quote(v)));
            pointers.push(pod.annotation_ptr(k));
        }
    }
    if !annotations.is_empty() {
        annotations.sort();
        setters.push(pluralize("annotation", "annotations", annotations.len()).to_string());
        values.extend(annotations);
    }
    if setters.is_empty() {
        return None;
    }
    Some(violation(
        "appArmorProfile",
        pluralize(
            "forbidden AppArmor profile",
            "forbidden AppArmor profiles",
            values.len(),
        ),
        format!(
            "{} must not set AppArmor profile type to {}",
            setters.join(" and "),
            join_quote(&values)
        ),
        pointers,
    ))
}

pub(crate) fn added_capabilities<'a>(c: &Container<'a>) -> impl Iterator<Item = (usize, &'a str)> {
    c.sc("capabilities")
        .and_then(|caps| caps.field("add"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, v)| (i, v.as_str().unwrap_or("")))
}

fn capabilities_baseline(pod: &Pod) -> Option<Violation> {
    let mut names = Vec::new();
    let mut caps = BTreeSet::new();
    let mut pointers = Vec::new();
    for c in pod.containers() {
        let mut bad = false;
        for (i, cap) in added_capabilities(&c) {
            if !BASELINE_CAPABILITIES.contains(&cap) {
                bad = true;
                caps.insert(cap);
                pointers.push(c.ptr(&format!("securityContext/capabilities/add/{i}")));
            }
        }
        if bad {
            names.push(c.name);
        }
    }
    if names.is_empty() {
        return None;
    }
    let caps: Vec<&str> = caps.into_iter().collect();
    Some(violation(
        "capabilities_baseline",
        "non-default capabilities",
        format!(
            "{} must not include {} in securityContext.capabilities.add",
            containers_phrase(&names),
            join_quote(&caps)
        ),
        pointers,
    ))
}

fn host_namespaces(pod: &Pod) -> Option<Violation> {
    // upstream lists them in this order, as `hostNetwork=true, hostPID=true, hostIPC=true`
    let names: Vec<&str> = ["hostNetwork", "hostPID", "hostIPC"]
        .into_iter()
        .filter(|k| pod.spec.field(k).and_then(Value::as_bool) == Some(true))
        .collect();
    if names.is_empty() {
        return None;
    }
    let pointers = names
        .iter()
        .map(|k| format!("{}/{k}", pod.spec_pointer))
        .collect();
    let detail: Vec<String> = names.iter().map(|k| format!("{k}=true")).collect();
    Some(violation(
        "hostNamespaces",
        "host namespaces",
        detail.join(", "),
        pointers,
    ))
}

pub(crate) fn volumes<'a>(pod: &Pod<'a>) -> impl Iterator<Item = (usize, &'a Map<String, Value>)> {
    pod.spec
        .field("volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, v)| Some((i, v.as_object()?)))
}

fn volume_name(v: &Map<String, Value>) -> &str {
    v.field("name").and_then(Value::as_str).unwrap_or("")
}

fn host_path_volumes(pod: &Pod) -> Option<Violation> {
    let mut names = Vec::new();
    let mut pointers = Vec::new();
    for (i, v) in volumes(pod) {
        if v.field("hostPath").is_some_and(|h| !h.is_null()) {
            names.push(volume_name(v));
            pointers.push(format!("{}/volumes/{i}/hostPath", pod.spec_pointer));
        }
    }
    if names.is_empty() {
        return None;
    }
    Some(violation(
        "hostPathVolumes",
        "hostPath volumes",
        format!(
            "{} {}",
            pluralize("volume", "volumes", names.len()),
            join_quote(&names)
        ),
        pointers,
    ))
}

/// A container's non-zero host ports, with their port's index.
pub(crate) fn container_host_ports<'a>(
    c: &Container<'a>,
) -> impl Iterator<Item = (usize, i64)> + 'a {
    c.value
        .field("ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, p)| {
            p.field("hostPort")
                .and_then(Value::as_i64)
                .filter(|h| *h != 0)
                .map(|h| (i, h))
        })
}

fn host_ports(pod: &Pod) -> Option<Violation> {
    let mut names = Vec::new();
    let mut ports = BTreeSet::new();
    let mut pointers = Vec::new();
    for c in pod.containers() {
        let mut bad = false;
        for (i, h) in container_host_ports(&c) {
            bad = true;
            ports.insert(h.to_string());
            pointers.push(c.ptr(&format!("ports/{i}/hostPort")));
        }
        if bad {
            names.push(c.name);
        }
    }
    if names.is_empty() {
        return None;
    }
    let ports: Vec<String> = ports.into_iter().collect();
    Some(violation(
        "hostPorts",
        "hostPort",
        format!(
            "{} {} {} {}",
            containers_phrase(&names),
            pluralize("uses", "use", names.len()),
            pluralize("hostPort", "hostPorts", ports.len()),
            ports.join(", ")
        ),
        pointers,
    ))
}

fn host_probes(pod: &Pod) -> Option<Violation> {
    let mut names = BTreeSet::new();
    let mut hosts = BTreeSet::new();
    let mut pointers = Vec::new();
    for c in pod.containers() {
        let mut handlers: Vec<(String, &Value)> = Vec::new();
        for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
            if let Some(p) = c.value.field(probe) {
                handlers.push((probe.to_string(), p));
            }
        }
        if let Some(l) = c.value.field("lifecycle") {
            for hook in ["postStart", "preStop"] {
                if let Some(h) = l.field(hook) {
                    handlers.push((format!("lifecycle/{hook}"), h));
                }
            }
        }
        for (rel, h) in handlers {
            for action in ["httpGet", "tcpSocket"] {
                if let Some(host) = h.field(action).and_then(|a| a.field("host")) {
                    let host = host_str(host);
                    if !host.is_empty() {
                        names.insert(c.name);
                        hosts.insert(host.into_owned());
                        pointers.push(c.ptr(&format!("{rel}/{action}/host")));
                    }
                }
            }
        }
    }
    if names.is_empty() {
        return None;
    }
    let names: Vec<&str> = names.into_iter().collect();
    let hosts: Vec<String> = hosts.into_iter().collect();
    Some(violation(
        "hostProbesAndHostLifecycle",
        "probe or lifecycle host",
        format!(
            "{} {} {} {}",
            containers_phrase(&names),
            pluralize("uses", "use", names.len()),
            pluralize(
                "probe or lifecycle host",
                "probe or lifecycle hosts",
                hosts.len()
            ),
            join_quote(&hosts)
        ),
        pointers,
    ))
}

fn privileged(pod: &Pod) -> Option<Violation> {
    let mut names = Vec::new();
    let mut pointers = Vec::new();
    for c in pod.containers() {
        if c.sc("privileged").and_then(Value::as_bool) == Some(true) {
            names.push(c.name);
            pointers.push(c.ptr("securityContext/privileged"));
        }
    }
    if names.is_empty() {
        return None;
    }
    Some(violation(
        "privileged",
        "privileged",
        format!(
            "{} must not set securityContext.privileged=true",
            containers_phrase(&names)
        ),
        pointers,
    ))
}

fn proc_mount(pod: &Pod, id: &'static str) -> Option<Violation> {
    let mut names = Vec::new();
    let mut types = BTreeSet::new();
    let mut pointers = Vec::new();
    for c in pod.containers() {
        if let Some(t) = c
            .sc("procMount")
            .and_then(Value::as_str)
            .filter(|t| *t != "Default")
        {
            names.push(c.name);
            types.insert(t);
            pointers.push(c.ptr("securityContext/procMount"));
        }
    }
    if names.is_empty() {
        return None;
    }
    let types: Vec<&str> = types.into_iter().collect();
    Some(violation(
        id,
        "procMount",
        format!(
            "{} must not set securityContext.procMount to {}",
            containers_phrase(&names),
            join_quote(&types)
        ),
        pointers,
    ))
}

fn selinux(pod: &Pod) -> Option<Violation> {
    let new = pod.minor >= 31;
    let mut bad_types = BTreeSet::new();
    let (mut set_user, mut set_role) = (false, false);
    let mut pointers = Vec::new();
    let mut inspect = |opts: &Map<String, Value>, ptr: String| -> bool {
        let (old_bad, new_bad) = selinux_bad(opts);
        if !(if new { new_bad } else { old_bad }) {
            return false;
        }
        let ty = opts.field("type").and_then(Value::as_str).unwrap_or("");
        let type_ok = matches!(
            ty,
            "" | "container_t" | "container_init_t" | "container_kvm_t"
        ) || (new && ty == "container_engine_t");
        if !type_ok {
            bad_types.insert(ty.to_string());
        }
        if opts
            .field("user")
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty())
        {
            set_user = true;
        }
        if opts
            .field("role")
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty())
        {
            set_role = true;
        }
        pointers.push(ptr);
        true
    };
    let pod_bad = pod
        .sc("seLinuxOptions")
        .and_then(Value::as_object)
        .is_some_and(|o| inspect(o, pod.sc_ptr("seLinuxOptions")));
    let mut names = Vec::new();
    for c in pod.containers() {
        if let Some(o) = c.sc("seLinuxOptions").and_then(Value::as_object)
            && inspect(o, c.ptr("securityContext/seLinuxOptions"))
        {
            names.push(c.name);
        }
    }
    if !pod_bad && names.is_empty() {
        return None;
    }
    // Upstream only lists user and role alongside a bad type; kept for identical wording.
    let mut data = Vec::new();
    if !bad_types.is_empty() {
        let types: Vec<String> = bad_types.into_iter().collect();
        data.push(format!(
            "{} {}",
            pluralize("type", "types", types.len()),
            join_quote(&types)
        ));
        if set_user {
            data.push("user may not be set".to_string());
        }
        if set_role {
            data.push("role may not be set".to_string());
        }
    }
    Some(violation(
        "seLinuxOptions",
        "seLinuxOptions",
        format!(
            "{} set forbidden securityContext.seLinuxOptions: {}",
            setters_phrase(pod_bad, &names),
            data.join("; ")
        ),
        pointers,
    ))
}

pub(crate) fn seccomp_annotation_ok(v: &str) -> bool {
    v == "runtime/default" || v == "docker/default" || v.starts_with("localhost/")
}

pub(crate) const SECCOMP_POD_ANNOTATION: &str = "seccomp.security.alpha.kubernetes.io/pod";
pub(crate) const SECCOMP_CONTAINER_PREFIX: &str = "container.seccomp.security.alpha.kubernetes.io/";

/// Whether the pre-v1.19 seccomp annotations of a pod are forbidden (fast path).
pub(crate) fn seccomp_annotations_bad(
    metadata: Option<&Map<String, Value>>,
    spec: &Map<String, Value>,
) -> bool {
    let Some(ann) = metadata
        .and_then(|m| m.field("annotations"))
        .and_then(Value::as_object)
    else {
        return false;
    };
    if ann.is_empty() {
        return false;
    }
    if ann
        .get(SECCOMP_POD_ANNOTATION)
        .is_some_and(|v| !seccomp_annotation_ok(v.as_str().unwrap_or("")))
    {
        return true;
    }
    ann.iter().any(|(k, v)| {
        k.strip_prefix(SECCOMP_CONTAINER_PREFIX)
            .is_some_and(|name| {
                !seccomp_annotation_ok(v.as_str().unwrap_or("")) && has_container_named(spec, name)
            })
    })
}

fn has_container_named(spec: &Map<String, Value>, name: &str) -> bool {
    ["initContainers", "containers", "ephemeralContainers"]
        .iter()
        .any(|f| {
            spec.field(f).and_then(Value::as_array).is_some_and(|l| {
                l.iter()
                    .any(|c| c.field("name").and_then(Value::as_str).unwrap_or("") == name)
            })
        })
}

fn seccomp_annotations(pod: &Pod) -> Option<Violation> {
    let ann = pod.annotations()?;
    let mut forbidden = BTreeSet::new();
    let mut pointers = Vec::new();
    if let Some(v) = ann.get(SECCOMP_POD_ANNOTATION) {
        let v = v.as_str().unwrap_or("");
        if !seccomp_annotation_ok(v) {
            forbidden.insert(format!("{SECCOMP_POD_ANNOTATION}={}", go_quote(v)));
            pointers.push(pod.annotation_ptr(SECCOMP_POD_ANNOTATION));
        }
    }
    for c in pod.containers() {
        let key = format!("{SECCOMP_CONTAINER_PREFIX}{}", c.name);
        if let Some(v) = ann.get(&key) {
            let v = v.as_str().unwrap_or("");
            if !seccomp_annotation_ok(v) && forbidden.insert(format!("{key}={}", go_quote(v))) {
                pointers.push(pod.annotation_ptr(&key));
            }
        }
    }
    if forbidden.is_empty() {
        return None;
    }
    let list: Vec<String> = forbidden.into_iter().collect();
    Some(violation(
        "seccompProfile_baseline",
        "seccompProfile",
        format!(
            "forbidden {} {}",
            pluralize("annotation", "annotations", list.len()),
            list.join(", ")
        ),
        pointers,
    ))
}

fn seccomp(pod: &Pod, id: &'static str, restricted: bool) -> Option<Violation> {
    let mut bad_values = BTreeSet::new();
    let mut pointers = Vec::new();
    let mut pod_bad = false;
    let mut pod_ok = false;
    if let Some(p) = pod.sc("seccompProfile") {
        if seccomp_type_ok(p) {
            pod_ok = true;
        } else {
            pod_bad = true;
            bad_values.insert(
                p.field("type")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            );
            pointers.push(pod.sc_ptr("seccompProfile/type"));
        }
    }
    let mut explicit = Vec::new();
    let mut implicit = Vec::new();
    let mut implicit_ptrs = Vec::new();
    for c in pod.containers() {
        match c.sc("seccompProfile") {
            Some(p) if !seccomp_type_ok(p) => {
                explicit.push(c.name);
                bad_values.insert(
                    p.field("type")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                );
                pointers.push(c.ptr("securityContext/seccompProfile/type"));
            }
            Some(_) => {}
            None if restricted && !pod_ok => {
                implicit.push(c.name);
                implicit_ptrs.push(c.ptr("securityContext/seccompProfile"));
            }
            None => {}
        }
    }
    if pod_bad || !explicit.is_empty() {
        let values: Vec<String> = bad_values.into_iter().collect();
        return Some(violation(
            id,
            "seccompProfile",
            format!(
                "{} must not set securityContext.seccompProfile.type to {}",
                setters_phrase(pod_bad, &explicit),
                join_quote(&values)
            ),
            pointers,
        ));
    }
    if implicit.is_empty() {
        return None;
    }
    implicit_ptrs.insert(0, pod.sc_ptr("seccompProfile"));
    Some(violation(
        id,
        "seccompProfile",
        format!(
            "pod or {} {} must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\"",
            pluralize("container", "containers", implicit.len()),
            join_quote(&implicit)
        ),
        implicit_ptrs,
    ))
}

fn sysctls(pod: &Pod) -> Option<Violation> {
    let mut names = Vec::new();
    let mut pointers = Vec::new();
    for (i, s) in pod
        .sc("sysctls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let name = s.field("name").and_then(Value::as_str).unwrap_or("");
        if sysctl_allowed_from(name).is_none_or(|from| from > pod.minor) {
            names.push(name);
            pointers.push(pod.sc_ptr(&format!("sysctls/{i}/name")));
        }
    }
    if names.is_empty() {
        return None;
    }
    Some(violation(
        "sysctls",
        "forbidden sysctls",
        names.join(", "),
        pointers,
    ))
}

fn host_process(pod: &Pod) -> Option<Violation> {
    let is_host = |sc_opts: Option<&Value>| {
        sc_opts
            .and_then(|o| o.field("hostProcess"))
            .and_then(Value::as_bool)
            == Some(true)
    };
    let mut pointers = Vec::new();
    let mut names = Vec::new();
    for c in pod.containers() {
        if is_host(c.sc("windowsOptions")) {
            names.push(c.name);
            pointers.push(c.ptr("securityContext/windowsOptions/hostProcess"));
        }
    }
    let pod_bad = is_host(pod.sc("windowsOptions"));
    if pod_bad {
        pointers.insert(0, pod.sc_ptr("windowsOptions/hostProcess"));
    }
    if !pod_bad && names.is_empty() {
        return None;
    }
    Some(violation(
        "windowsHostProcess",
        "hostProcess",
        format!(
            "{} must not set securityContext.windowsOptions.hostProcess=true",
            setters_phrase(pod_bad, &names)
        ),
        pointers,
    ))
}

fn escalation(pod: &Pod) -> Option<Violation> {
    let mut names = Vec::new();
    let mut pointers = Vec::new();
    for c in pod.containers() {
        if c.sc("allowPrivilegeEscalation").and_then(Value::as_bool) != Some(false) {
            names.push(c.name);
            pointers.push(c.ptr("securityContext/allowPrivilegeEscalation"));
        }
    }
    if names.is_empty() {
        return None;
    }
    Some(violation(
        "allowPrivilegeEscalation",
        "allowPrivilegeEscalation != false",
        format!(
            "{} must set securityContext.allowPrivilegeEscalation=false",
            containers_phrase(&names)
        ),
        pointers,
    ))
}

fn capabilities_restricted(pod: &Pod) -> Option<Violation> {
    let mut missing_drop = Vec::new();
    let mut adding = Vec::new();
    let mut caps = BTreeSet::new();
    let mut pointers = Vec::new();
    for c in pod.containers() {
        let Some(capabilities) = c.sc("capabilities").and_then(Value::as_object) else {
            missing_drop.push(c.name);
            pointers.push(c.ptr("securityContext/capabilities/drop"));
            continue;
        };
        let dropped_all = capabilities
            .field("drop")
            .and_then(Value::as_array)
            .is_some_and(|d| d.iter().any(|x| x.as_str() == Some("ALL")));
        if !dropped_all {
            missing_drop.push(c.name);
            pointers.push(c.ptr("securityContext/capabilities/drop"));
        }
        let mut bad = false;
        for (i, cap) in added_capabilities(&c) {
            if cap != "NET_BIND_SERVICE" {
                bad = true;
                caps.insert(cap);
                pointers.push(c.ptr(&format!("securityContext/capabilities/add/{i}")));
            }
        }
        if bad {
            adding.push(c.name);
        }
    }
    let mut details = Vec::new();
    if !missing_drop.is_empty() {
        details.push(format!(
            "{} must set securityContext.capabilities.drop=[\"ALL\"]",
            containers_phrase(&missing_drop)
        ));
    }
    if !adding.is_empty() {
        let caps: Vec<&str> = caps.into_iter().collect();
        details.push(format!(
            "{} must not include {} in securityContext.capabilities.add",
            containers_phrase(&adding),
            join_quote(&caps)
        ));
    }
    if details.is_empty() {
        return None;
    }
    Some(violation(
        "capabilities_restricted",
        "unrestricted capabilities",
        details.join("; "),
        pointers,
    ))
}

fn restricted_volumes(pod: &Pod) -> Option<Violation> {
    let mut names = Vec::new();
    let mut types = BTreeSet::new();
    let mut pointers = Vec::new();
    for (i, v) in volumes(pod) {
        if let Some(t) = restricted_volume_type(v) {
            names.push(volume_name(v));
            types.insert(t);
            pointers.push(format!("{}/volumes/{i}/{t}", pod.spec_pointer));
        }
    }
    if names.is_empty() {
        return None;
    }
    let types: Vec<&str> = types.into_iter().collect();
    Some(violation(
        "restrictedVolumes",
        "restricted volume types",
        format!(
            "{} {} {} {} {}",
            pluralize("volume", "volumes", names.len()),
            join_quote(&names),
            pluralize("uses", "use", names.len()),
            pluralize(
                "restricted volume type",
                "restricted volume types",
                types.len()
            ),
            join_quote(&types)
        ),
        pointers,
    ))
}

fn run_as_non_root(pod: &Pod) -> Option<Violation> {
    let mut pointers = Vec::new();
    let mut pod_bad = false;
    let mut pod_true = false;
    match pod.sc("runAsNonRoot").and_then(Value::as_bool) {
        Some(false) => {
            pod_bad = true;
            pointers.push(pod.sc_ptr("runAsNonRoot"));
        }
        Some(true) => pod_true = true,
        None => {}
    }
    let mut explicit = Vec::new();
    let mut implicit = Vec::new();
    let mut implicit_ptrs = vec![pod.sc_ptr("runAsNonRoot")];
    for c in pod.containers() {
        match c.sc("runAsNonRoot").and_then(Value::as_bool) {
            Some(false) => {
                explicit.push(c.name);
                pointers.push(c.ptr("securityContext/runAsNonRoot"));
            }
            Some(true) => {}
            None if !pod_true => {
                implicit.push(c.name);
                implicit_ptrs.push(c.ptr("securityContext/runAsNonRoot"));
            }
            None => {}
        }
    }
    if pod_bad || !explicit.is_empty() {
        return Some(violation(
            "runAsNonRoot",
            "runAsNonRoot != true",
            format!(
                "{} must not set securityContext.runAsNonRoot=false",
                setters_phrase(pod_bad, &explicit)
            ),
            pointers,
        ));
    }
    if implicit.is_empty() {
        return None;
    }
    Some(violation(
        "runAsNonRoot",
        "runAsNonRoot != true",
        format!(
            "pod or {} {} must set securityContext.runAsNonRoot=true",
            pluralize("container", "containers", implicit.len()),
            join_quote(&implicit)
        ),
        implicit_ptrs,
    ))
}

fn run_as_user(pod: &Pod) -> Option<Violation> {
    let mut pointers = Vec::new();
    let pod_bad = pod.sc("runAsUser").and_then(Value::as_i64) == Some(0);
    if pod_bad {
        pointers.push(pod.sc_ptr("runAsUser"));
    }
    let mut names = Vec::new();
    for c in pod.containers() {
        if c.sc("runAsUser").and_then(Value::as_i64) == Some(0) {
            names.push(c.name);
            pointers.push(c.ptr("securityContext/runAsUser"));
        }
    }
    if !pod_bad && names.is_empty() {
        return None;
    }
    Some(violation(
        "runAsUser",
        "runAsUser=0",
        format!(
            "{} must not set runAsUser=0",
            setters_phrase(pod_bad, &names)
        ),
        pointers,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_is_in_reporting_order() {
        let baseline: Vec<&str> = CHECKS
            .iter()
            .filter(|c| c.level == Level::Baseline)
            .map(|c| c.id)
            .collect();
        let restricted: Vec<&str> = CHECKS
            .iter()
            .filter(|c| c.level == Level::Restricted)
            .map(|c| c.id)
            .collect();
        let mut sorted = baseline.clone();
        sorted.sort_unstable();
        assert_eq!(baseline, sorted);
        let mut sorted = restricted.clone();
        sorted.sort_unstable();
        assert_eq!(restricted, sorted);
        assert_eq!(
            CHECKS.get(baseline.len()).map(|c| c.level),
            Some(Level::Restricted)
        );
    }

    #[test]
    fn go_quote_escapes_like_go() {
        assert_eq!(go_quote("unconfined"), "\"unconfined\"");
        assert_eq!(go_quote("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
        assert_eq!(go_quote("\u{1}"), "\"\\x01\"");
    }
}
