//! One pass over a pod spec that records, as bits, every fact a check decides on.
//!
//! This is the fast path: it allocates nothing and reads each map once by iterating its entries
//! (cheaper than a hashed lookup per field when most fields are absent). Only when a check fails
//! does [`crate::checks`] walk the pod again to word the violation.

use rampart_core::Field;
use serde_json::{Map, Value};

// Per-container facts.
pub(crate) const C_PRIVILEGED: u32 = 1 << 0;
pub(crate) const C_CAPS_BASELINE: u32 = 1 << 1;
pub(crate) const C_CAPS_NO_DROP_ALL: u32 = 1 << 2;
pub(crate) const C_CAPS_ADD_RESTRICTED: u32 = 1 << 3;
pub(crate) const C_HOST_PORT: u32 = 1 << 4;
pub(crate) const C_HOST_PROBE: u32 = 1 << 5;
pub(crate) const C_PROC_MOUNT: u32 = 1 << 6;
pub(crate) const C_SELINUX_V1_0: u32 = 1 << 7;
pub(crate) const C_SELINUX_V1_31: u32 = 1 << 8;
pub(crate) const C_SECCOMP_BAD: u32 = 1 << 9;
pub(crate) const C_SECCOMP_UNSET: u32 = 1 << 10;
pub(crate) const C_NON_ROOT_FALSE: u32 = 1 << 11;
pub(crate) const C_NON_ROOT_UNSET: u32 = 1 << 12;
pub(crate) const C_RUN_AS_ROOT: u32 = 1 << 13;
pub(crate) const C_ESCALATION: u32 = 1 << 14;
pub(crate) const C_HOST_PROCESS: u32 = 1 << 15;
pub(crate) const C_APPARMOR: u32 = 1 << 16;

// Pod-level facts.
pub(crate) const P_HOST_NAMESPACES: u32 = 1 << 0;
pub(crate) const P_SELINUX_V1_0: u32 = 1 << 1;
pub(crate) const P_SELINUX_V1_31: u32 = 1 << 2;
pub(crate) const P_SECCOMP_BAD: u32 = 1 << 3;
pub(crate) const P_SECCOMP_OK: u32 = 1 << 4;
pub(crate) const P_NON_ROOT_FALSE: u32 = 1 << 5;
pub(crate) const P_NON_ROOT_TRUE: u32 = 1 << 6;
pub(crate) const P_RUN_AS_ROOT: u32 = 1 << 7;
pub(crate) const P_HOST_PROCESS: u32 = 1 << 8;
pub(crate) const P_APPARMOR: u32 = 1 << 9;
pub(crate) const P_HOST_PATH: u32 = 1 << 10;
pub(crate) const P_RESTRICTED_VOLUME: u32 = 1 << 11;
pub(crate) const P_USER_NAMESPACE: u32 = 1 << 12;
pub(crate) const P_WINDOWS: u32 = 1 << 13;
pub(crate) const P_APPARMOR_ANNOTATION: u32 = 1 << 14;

/// What one pass found.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Facts {
    /// OR of every container's `C_*` bits.
    pub containers: u32,
    pub pod: u32,
    /// The oldest version at which every sysctl set is allowed (0 when none is set,
    /// `u32::MAX` when one never is).
    pub sysctls_from: u32,
}

pub(crate) const BASELINE_CAPABILITIES: [&str; 13] = [
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

/// The version from which a sysctl is in the safe set, `None` if never.
pub(crate) fn sysctl_allowed_from(name: &str) -> Option<u32> {
    match name {
        "kernel.shm_rmid_forced"
        | "net.ipv4.ip_local_port_range"
        | "net.ipv4.tcp_syncookies"
        | "net.ipv4.ping_group_range"
        | "net.ipv4.ip_unprivileged_port_start" => Some(0),
        "net.ipv4.ip_local_reserved_ports" => Some(27),
        "net.ipv4.tcp_keepalive_time"
        | "net.ipv4.tcp_fin_timeout"
        | "net.ipv4.tcp_keepalive_intvl"
        | "net.ipv4.tcp_keepalive_probes" => Some(29),
        "net.ipv4.tcp_rmem" | "net.ipv4.tcp_wmem" => Some(32),
        "net.ipv4.tcp_slow_start_after_idle" | "net.ipv4.tcp_notsent_lowat" => Some(37),
        _ => None,
    }
}

/// `Some(type)` of a `seLinuxOptions` that is not allowed: `(bad at v1.0, bad at v1.31)`.
pub(crate) fn selinux_bad(opts: &Map<String, Value>) -> (bool, bool) {
    let mut user_or_role = false;
    let mut ty = "";
    for (k, v) in opts {
        match k.as_str() {
            "type" => ty = v.as_str().unwrap_or(""),
            "user" | "role" => user_or_role |= v.as_str().is_some_and(|s| !s.is_empty()),
            _ => {}
        }
    }
    let old = !matches!(
        ty,
        "" | "container_t" | "container_init_t" | "container_kvm_t"
    );
    let new = old && ty != "container_engine_t";
    (old || user_or_role, new || user_or_role)
}

pub(crate) fn seccomp_type_ok(profile: &Value) -> bool {
    matches!(
        profile.field("type").and_then(Value::as_str),
        Some("RuntimeDefault" | "Localhost")
    )
}

pub(crate) fn apparmor_type_ok(profile: &Value) -> bool {
    matches!(
        profile.field("type").and_then(Value::as_str),
        Some("RuntimeDefault" | "Localhost")
    )
}

pub(crate) const APPARMOR_ANNOTATION_PREFIX: &str =
    "container.apparmor.security.beta.kubernetes.io/";

pub(crate) fn apparmor_annotation_ok(v: &str) -> bool {
    v.is_empty() || v == "runtime/default" || v.starts_with("localhost/")
}

/// Volume sources the restricted level allows.
pub(crate) const ALLOWED_VOLUME_SOURCES: [&str; 9] = [
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "image",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

/// Restricted volume sources, in the order Pod Security Admission names a volume's type.
pub(crate) const RESTRICTED_VOLUME_SOURCES: [(&str, &str); 21] = [
    ("hostPath", "hostPath"),
    ("gcePersistentDisk", "gcePersistentDisk"),
    ("awsElasticBlockStore", "awsElasticBlockStore"),
    ("gitRepo", "gitRepo"),
    ("nfs", "nfs"),
    ("iscsi", "iscsi"),
    ("glusterfs", "glusterfs"),
    ("rbd", "rbd"),
    ("flexVolume", "flexVolume"),
    ("cinder", "cinder"),
    ("cephfs", "cephfs"),
    ("flocker", "flocker"),
    ("fc", "fc"),
    ("azureFile", "azureFile"),
    ("vsphereVolume", "vsphereVolume"),
    ("quobyte", "quobyte"),
    ("azureDisk", "azureDisk"),
    ("photonPersistentDisk", "photonPersistentDisk"),
    ("portworxVolume", "portworxVolume"),
    ("scaleIO", "scaleIO"),
    ("storageos", "storageos"),
];

/// The restricted type of a volume, `None` if it is allowed. A volume with no known source is
/// an `emptyDir` once the API server has defaulted it.
pub(crate) fn restricted_volume_type(volume: &Map<String, Value>) -> Option<&'static str> {
    let mut first: Option<usize> = None;
    for (k, v) in volume {
        if v.is_null() {
            continue;
        }
        if ALLOWED_VOLUME_SOURCES.contains(&k.as_str()) {
            return None;
        }
        if let Some(i) = RESTRICTED_VOLUME_SOURCES
            .iter()
            .position(|(key, _)| *key == k)
        {
            first = Some(first.map_or(i, |f| f.min(i)));
        }
    }
    first
        .and_then(|i| RESTRICTED_VOLUME_SOURCES.get(i))
        .map(|(_, name)| *name)
}

fn is_true(v: &Value) -> bool {
    v.as_bool() == Some(true)
}

fn has_host(handler: &Value) -> bool {
    let Some(h) = handler.as_object() else {
        return false;
    };
    ["httpGet", "tcpSocket"].iter().any(|k| {
        h.field(k)
            .and_then(|a| a.field("host"))
            .is_some_and(|host| !host_str(host).is_empty())
    })
}

/// A probe host as the API server would read it (a YAML scalar resolved to a number is still
/// text the user wrote).
pub(crate) fn host_str(v: &Value) -> std::borrow::Cow<'_, str> {
    match v {
        Value::String(s) => std::borrow::Cow::Borrowed(s.as_str()),
        Value::Null => std::borrow::Cow::Borrowed(""),
        other => std::borrow::Cow::Owned(other.to_string()),
    }
}

pub(crate) fn container_facts(c: &Map<String, Value>) -> u32 {
    let mut bits = 0;
    let mut sc_seen = false;
    for (k, v) in c {
        match k.as_str() {
            "securityContext" => {
                if let Some(sc) = v.as_object() {
                    sc_seen = true;
                    bits |= security_context_facts(sc);
                }
            }
            "ports" => {
                if let Some(ports) = v.as_array() {
                    let host = ports.iter().any(|p| {
                        p.field("hostPort")
                            .and_then(Value::as_i64)
                            .is_some_and(|h| h != 0)
                    });
                    if host {
                        bits |= C_HOST_PORT;
                    }
                }
            }
            "livenessProbe" | "readinessProbe" | "startupProbe" if has_host(v) => {
                bits |= C_HOST_PROBE;
            }
            "lifecycle" => {
                if let Some(l) = v.as_object()
                    && (l.field("postStart").is_some_and(has_host)
                        || l.field("preStop").is_some_and(has_host))
                {
                    bits |= C_HOST_PROBE;
                }
            }
            _ => {}
        }
    }
    if !sc_seen {
        bits |= C_CAPS_NO_DROP_ALL | C_SECCOMP_UNSET | C_NON_ROOT_UNSET | C_ESCALATION;
    }
    bits
}

fn security_context_facts(sc: &Map<String, Value>) -> u32 {
    let mut bits = 0;
    let mut caps_seen = false;
    let mut seccomp_seen = false;
    let mut non_root_seen = false;
    let mut escalation_false = false;
    for (k, v) in sc {
        match k.as_str() {
            "privileged" if is_true(v) => {
                bits |= C_PRIVILEGED;
            }
            "capabilities" => {
                if let Some(caps) = v.as_object() {
                    caps_seen = true;
                    bits |= capabilities_facts(caps);
                }
            }
            "procMount" => {
                if let Some(p) = v.as_str()
                    && p != "Default"
                {
                    bits |= C_PROC_MOUNT;
                }
            }
            "seLinuxOptions" => {
                if let Some(opts) = v.as_object() {
                    let (old, new) = selinux_bad(opts);
                    if old {
                        bits |= C_SELINUX_V1_0;
                    }
                    if new {
                        bits |= C_SELINUX_V1_31;
                    }
                }
            }
            "seccompProfile" if !v.is_null() => {
                seccomp_seen = true;
                if !seccomp_type_ok(v) {
                    bits |= C_SECCOMP_BAD;
                }
            }
            "runAsNonRoot" => {
                if let Some(b) = v.as_bool() {
                    non_root_seen = true;
                    if !b {
                        bits |= C_NON_ROOT_FALSE;
                    }
                }
            }
            "runAsUser" if v.as_i64() == Some(0) => {
                bits |= C_RUN_AS_ROOT;
            }
            "allowPrivilegeEscalation" => escalation_false = v.as_bool() == Some(false),
            "windowsOptions" if v.field("hostProcess").is_some_and(is_true) => {
                bits |= C_HOST_PROCESS;
            }
            "appArmorProfile" if !v.is_null() && !apparmor_type_ok(v) => {
                bits |= C_APPARMOR;
            }
            _ => {}
        }
    }
    if !caps_seen {
        bits |= C_CAPS_NO_DROP_ALL;
    }
    if !seccomp_seen {
        bits |= C_SECCOMP_UNSET;
    }
    if !non_root_seen {
        bits |= C_NON_ROOT_UNSET;
    }
    if !escalation_false {
        bits |= C_ESCALATION;
    }
    bits
}

fn capabilities_facts(caps: &Map<String, Value>) -> u32 {
    let mut bits = C_CAPS_NO_DROP_ALL;
    if let Some(drop) = caps.field("drop").and_then(Value::as_array)
        && drop.iter().any(|d| d.as_str() == Some("ALL"))
    {
        bits = 0;
    }
    if let Some(add) = caps.field("add").and_then(Value::as_array) {
        for a in add {
            let a = a.as_str().unwrap_or("");
            if !BASELINE_CAPABILITIES.contains(&a) {
                bits |= C_CAPS_BASELINE;
            }
            if a != "NET_BIND_SERVICE" {
                bits |= C_CAPS_ADD_RESTRICTED;
            }
        }
    }
    bits
}

fn pod_security_context_facts(sc: &Map<String, Value>, facts: &mut Facts) {
    for (k, v) in sc {
        match k.as_str() {
            "seLinuxOptions" => {
                if let Some(opts) = v.as_object() {
                    let (old, new) = selinux_bad(opts);
                    if old {
                        facts.pod |= P_SELINUX_V1_0;
                    }
                    if new {
                        facts.pod |= P_SELINUX_V1_31;
                    }
                }
            }
            "seccompProfile" if !v.is_null() => {
                facts.pod |= if seccomp_type_ok(v) {
                    P_SECCOMP_OK
                } else {
                    P_SECCOMP_BAD
                };
            }
            "runAsNonRoot" => match v.as_bool() {
                Some(true) => facts.pod |= P_NON_ROOT_TRUE,
                Some(false) => facts.pod |= P_NON_ROOT_FALSE,
                None => {}
            },
            "runAsUser" if v.as_i64() == Some(0) => {
                facts.pod |= P_RUN_AS_ROOT;
            }
            "windowsOptions" if v.field("hostProcess").is_some_and(is_true) => {
                facts.pod |= P_HOST_PROCESS;
            }
            "appArmorProfile" if !v.is_null() && !apparmor_type_ok(v) => {
                facts.pod |= P_APPARMOR;
            }
            "sysctls" => {
                if let Some(list) = v.as_array() {
                    for s in list {
                        let name = s.field("name").and_then(Value::as_str).unwrap_or("");
                        let from = sysctl_allowed_from(name).unwrap_or(u32::MAX);
                        facts.sysctls_from = facts.sysctls_from.max(from);
                    }
                }
            }
            _ => {}
        }
    }
}

/// Scans a pod spec (and its metadata's AppArmor annotations).
pub(crate) fn scan(metadata: Option<&Map<String, Value>>, spec: &Map<String, Value>) -> Facts {
    let mut facts = Facts::default();
    for (k, v) in spec {
        match k.as_str() {
            "containers" | "initContainers" | "ephemeralContainers" => {
                if let Some(list) = v.as_array() {
                    for c in list {
                        if let Some(c) = c.as_object() {
                            facts.containers |= container_facts(c);
                        }
                    }
                }
            }
            "hostNetwork" | "hostPID" | "hostIPC" if is_true(v) => {
                facts.pod |= P_HOST_NAMESPACES;
            }
            "hostUsers" if v.as_bool() == Some(false) => {
                facts.pod |= P_USER_NAMESPACE;
            }
            "os" if v.field("name").and_then(Value::as_str) == Some("windows") => {
                facts.pod |= P_WINDOWS;
            }
            "securityContext" => {
                if let Some(sc) = v.as_object() {
                    pod_security_context_facts(sc, &mut facts);
                }
            }
            "volumes" => {
                if let Some(list) = v.as_array() {
                    for vol in list.iter().filter_map(Value::as_object) {
                        if vol.field("hostPath").is_some_and(|h| !h.is_null()) {
                            facts.pod |= P_HOST_PATH;
                        }
                        if restricted_volume_type(vol).is_some() {
                            facts.pod |= P_RESTRICTED_VOLUME;
                        }
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(annotations) = metadata
        .and_then(|m| m.field("annotations"))
        .and_then(Value::as_object)
    {
        for (k, v) in annotations {
            if k.starts_with(APPARMOR_ANNOTATION_PREFIX)
                && !apparmor_annotation_ok(v.as_str().unwrap_or(""))
            {
                facts.pod |= P_APPARMOR_ANNOTATION;
            }
        }
    }
    facts
}
