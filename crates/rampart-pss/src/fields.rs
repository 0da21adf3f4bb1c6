//! The field errors of a failing check, as the Pod Security Admission library reports them
//! with field errors on (Kyverno's build of it, `policy.WithFieldErrors()`): each offending
//! field's path, written as Kubernetes writes field paths
//! (`spec.containers[0].securityContext.capabilities.add`, `metadata.annotations[key]`), and
//! its bad values (none for a field that is missing). Kyverno's `podSecurity.exclude` entries
//! match them by `restrictedField` and `values`.

use crate::Policy;
use crate::checks::{
    Container, Pod, SECCOMP_CONTAINER_PREFIX, SECCOMP_POD_ANNOTATION, added_capabilities,
    container_host_ports, seccomp_annotation_ok, volumes,
};
use crate::facts::*;
use rampart_core::Field;
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// One offending field of a failing check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field's path, e.g. `spec.initContainers[1].securityContext.runAsNonRoot`.
    pub field: String,
    /// Its bad values as the library gives them (`true`, `0`, capability names), empty for a
    /// required field.
    pub bad: Vec<String>,
}

fn err(field: String, bad: Vec<String>) -> FieldError {
    FieldError { field, bad }
}

/// A string bad value: none when empty, as Kyverno reads it.
fn text(s: &str) -> Vec<String> {
    if s.is_empty() {
        Vec::new()
    } else {
        vec![s.to_string()]
    }
}

fn at(c: &Container<'_>, rel: &str) -> String {
    format!("spec.{}[{}].{rel}", c.field, c.index)
}

/// A non-null object field.
fn present<'a>(v: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    v.field(key).filter(|x| !x.is_null())
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.field(key).and_then(Value::as_str).unwrap_or("")
}

/// The field errors of `check` (an ID of [`crate::CHECKS`]) on a pod that fails it; `None`
/// for a check that gives none (`hostProbesAndHostLifecycle`), which no exclusion can lift.
pub fn field_errors(
    policy: Policy,
    metadata: Option<&Map<String, Value>>,
    spec: &Map<String, Value>,
    check: &str,
) -> Option<Vec<FieldError>> {
    let pod = Pod {
        spec,
        metadata,
        spec_pointer: "/spec",
        metadata_pointer: String::from("/metadata"),
        minor: policy.version.effective_minor(),
    };
    let mut out = Vec::new();
    match check {
        "allowPrivilegeEscalation" => {
            for c in pod.containers() {
                let path = at(&c, "securityContext.allowPrivilegeEscalation");
                match present(c.value, "securityContext") {
                    None => out.push(err(path, Vec::new())),
                    Some(sc) => match sc
                        .field("allowPrivilegeEscalation")
                        .and_then(Value::as_bool)
                    {
                        None => out.push(err(path, vec!["nil".into()])),
                        Some(true) => out.push(err(path, vec!["true".into()])),
                        Some(false) => {}
                    },
                }
            }
        }
        "appArmorProfile" => {
            if let Some(p) = pod.sc("appArmorProfile").filter(|p| !apparmor_type_ok(p)) {
                out.push(err(
                    "spec.securityContext.appArmorProfile.type".into(),
                    text(str_of(p, "type")),
                ));
            }
            for c in pod.containers() {
                if let Some(p) = c.sc("appArmorProfile").filter(|p| !apparmor_type_ok(p)) {
                    out.push(err(
                        at(&c, "securityContext.appArmorProfile.type"),
                        text(str_of(p, "type")),
                    ));
                }
            }
            for (k, v) in pod.annotations().into_iter().flatten() {
                let v = v.as_str().unwrap_or("");
                if k.starts_with(APPARMOR_ANNOTATION_PREFIX) && !apparmor_annotation_ok(v) {
                    out.push(err(format!("metadata.annotations[{k}]"), text(v)));
                }
            }
        }
        "capabilities_baseline" => {
            for c in pod.containers() {
                let bad: BTreeSet<String> = added_capabilities(&c)
                    .map(|(_, cap)| cap)
                    .filter(|cap| !BASELINE_CAPABILITIES.contains(cap))
                    .map(str::to_string)
                    .collect();
                if !bad.is_empty() {
                    out.push(err(
                        at(&c, "securityContext.capabilities.add"),
                        bad.into_iter().collect(),
                    ));
                }
            }
        }
        "capabilities_restricted" => {
            let mut adding = Vec::new();
            for c in pod.containers() {
                let drop_path = at(&c, "securityContext.capabilities.drop");
                let Some(caps) = c.sc("capabilities").and_then(Value::as_object) else {
                    out.push(err(drop_path, Vec::new()));
                    continue;
                };
                let drops: Vec<&str> = caps
                    .field("drop")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(|d| d.as_str().unwrap_or(""))
                    .collect();
                if !drops.contains(&"ALL") {
                    let unique: BTreeSet<String> = drops.iter().map(|d| d.to_string()).collect();
                    out.push(err(drop_path, unique.into_iter().collect()));
                }
                let bad: BTreeSet<String> = added_capabilities(&c)
                    .map(|(_, cap)| cap)
                    .filter(|cap| *cap != "NET_BIND_SERVICE")
                    .map(str::to_string)
                    .collect();
                if !bad.is_empty() {
                    adding.push(err(
                        at(&c, "securityContext.capabilities.add"),
                        bad.into_iter().collect(),
                    ));
                }
            }
            out.extend(adding);
        }
        "hostNamespaces" => {
            for k in ["hostNetwork", "hostPID", "hostIPC"] {
                if spec.field(k).and_then(Value::as_bool) == Some(true) {
                    out.push(err(format!("spec.{k}"), vec!["true".into()]));
                }
            }
        }
        "hostPathVolumes" => {
            for (i, v) in volumes(&pod) {
                if let Some(h) = present(v, "hostPath") {
                    out.push(err(
                        format!("spec.volumes[{i}].hostPath"),
                        text(str_of(h, "path")),
                    ));
                }
            }
        }
        "hostPorts" => {
            for c in pod.containers() {
                for (j, h) in container_host_ports(&c) {
                    out.push(err(
                        at(&c, &format!("ports[{j}].hostPort")),
                        vec![h.to_string()],
                    ));
                }
            }
        }
        "privileged" => {
            for c in pod.containers() {
                if c.sc("privileged").and_then(Value::as_bool) == Some(true) {
                    out.push(err(
                        at(&c, "securityContext.privileged"),
                        vec!["true".into()],
                    ));
                }
            }
        }
        "procMount" | "procMount_restricted" => {
            for c in pod.containers() {
                if let Some(t) = c
                    .sc("procMount")
                    .and_then(Value::as_str)
                    .filter(|t| *t != "Default")
                {
                    out.push(err(at(&c, "securityContext.procMount"), text(t)));
                }
            }
        }
        "restrictedVolumes" => {
            for (i, v) in volumes(&pod) {
                if let Some(t) = restricted_volume_type(v) {
                    out.push(err(format!("spec.volumes[{i}].{t}"), Vec::new()));
                }
            }
        }
        "runAsNonRoot" => {
            let pod_value = pod.sc("runAsNonRoot").and_then(Value::as_bool);
            if pod_value == Some(false) {
                out.push(err(
                    "spec.securityContext.runAsNonRoot".into(),
                    vec!["false".into()],
                ));
            }
            let mut implicit = Vec::new();
            for c in pod.containers() {
                let path = at(&c, "securityContext.runAsNonRoot");
                match c.sc("runAsNonRoot").and_then(Value::as_bool) {
                    Some(false) => out.push(err(path, vec!["false".into()])),
                    Some(true) => {}
                    None if pod_value != Some(true) => implicit.push(err(path, Vec::new())),
                    None => {}
                }
            }
            out.extend(implicit);
        }
        "runAsUser" => {
            if pod.sc("runAsUser").and_then(Value::as_i64) == Some(0) {
                out.push(err(
                    "spec.securityContext.runAsUser".into(),
                    vec!["0".into()],
                ));
            }
            for c in pod.containers() {
                if c.sc("runAsUser").and_then(Value::as_i64) == Some(0) {
                    out.push(err(at(&c, "securityContext.runAsUser"), vec!["0".into()]));
                }
            }
        }
        "seLinuxOptions" => {
            let new = pod.minor >= 31;
            let inspect = |o: &Map<String, Value>, prefix: &str, out: &mut Vec<FieldError>| {
                let ty = o.field("type").and_then(Value::as_str).unwrap_or("");
                let type_ok = matches!(
                    ty,
                    "" | "container_t" | "container_init_t" | "container_kvm_t"
                ) || (new && ty == "container_engine_t");
                if !type_ok {
                    out.push(err(format!("{prefix}.seLinuxOptions.type"), text(ty)));
                }
                for k in ["user", "role"] {
                    let v = o.field(k).and_then(Value::as_str).unwrap_or("");
                    if !v.is_empty() {
                        out.push(err(format!("{prefix}.seLinuxOptions.{k}"), text(v)));
                    }
                }
            };
            if let Some(o) = pod.sc("seLinuxOptions").and_then(Value::as_object) {
                inspect(o, "spec.securityContext", &mut out);
            }
            for c in pod.containers() {
                if let Some(o) = c.sc("seLinuxOptions").and_then(Value::as_object) {
                    inspect(o, &at(&c, "securityContext"), &mut out);
                }
            }
        }
        "seccompProfile_baseline" if pod.minor < 19 => {
            let annotations = pod.annotations();
            let bad = |key: &str| {
                annotations
                    .and_then(|a| a.get(key))
                    .map(|v| v.as_str().unwrap_or(""))
                    .filter(|v| !seccomp_annotation_ok(v))
            };
            if let Some(v) = bad(SECCOMP_POD_ANNOTATION) {
                out.push(err(
                    format!("metadata.annotations[{SECCOMP_POD_ANNOTATION}]"),
                    text(v),
                ));
            }
            for c in pod.containers() {
                let key = format!("{SECCOMP_CONTAINER_PREFIX}{}", c.name);
                if let Some(v) = bad(&key) {
                    out.push(err(format!("metadata.annotations[{key}]"), text(v)));
                }
            }
        }
        "seccompProfile_baseline" | "seccompProfile_restricted" => {
            let restricted = check == "seccompProfile_restricted";
            let mut pod_ok = false;
            if let Some(p) = pod.sc("seccompProfile") {
                if seccomp_type_ok(p) {
                    pod_ok = true;
                } else {
                    out.push(err(
                        "spec.securityContext.seccompProfile.type".into(),
                        text(str_of(p, "type")),
                    ));
                }
            }
            let mut implicit = Vec::new();
            for c in pod.containers() {
                let path = at(&c, "securityContext.seccompProfile.type");
                match c.sc("seccompProfile") {
                    Some(p) if !seccomp_type_ok(p) => out.push(err(path, text(str_of(p, "type")))),
                    Some(_) => {}
                    None if restricted && !pod_ok => implicit.push(err(path, Vec::new())),
                    None => {}
                }
            }
            // explicit setters are reported alone; the containers that set nothing otherwise
            if out.is_empty() {
                out = implicit;
            }
        }
        "sysctls" => {
            for (i, s) in pod
                .sc("sysctls")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let name = str_of(s, "name");
                if sysctl_allowed_from(name).is_none_or(|from| from > pod.minor) {
                    out.push(err(
                        format!("spec.securityContext.sysctls[{i}].name"),
                        text(name),
                    ));
                }
            }
        }
        "windowsHostProcess" => {
            let host = |o: Option<&Value>| {
                o.and_then(|o| o.field("hostProcess"))
                    .and_then(Value::as_bool)
                    == Some(true)
            };
            if host(pod.sc("windowsOptions")) {
                out.push(err(
                    "spec.securityContext.windowsOptions.hostProcess".into(),
                    vec!["true".into()],
                ));
            }
            for c in pod.containers() {
                if host(c.sc("windowsOptions")) {
                    out.push(err(
                        at(&c, "securityContext.windowsOptions.hostProcess"),
                        vec!["true".into()],
                    ));
                }
            }
        }
        _ => return None,
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn errors(level: &str, pod: Value, check: &str) -> Vec<(String, Vec<String>)> {
        let policy: Policy = format!("{level}:latest").parse().unwrap();
        let meta = pod.get("metadata").and_then(Value::as_object);
        let spec = pod.get("spec").and_then(Value::as_object).unwrap();
        field_errors(policy, meta, spec, check)
            .unwrap()
            .into_iter()
            .map(|e| (e.field, e.bad))
            .collect()
    }

    #[test]
    fn paths_and_bad_values_as_the_library_gives_them() {
        let pod = json!({
            "metadata": {"annotations": {"container.apparmor.security.beta.kubernetes.io/a": "unconfined"}},
            "spec": {
                "hostNetwork": true, "hostIPC": true,
                "securityContext": {"sysctls": [{"name": "kernel.shm_rmid_forced"}, {"name": "net.core.somaxconn"}]},
                "volumes": [{"name": "v", "emptyDir": {}}, {"name": "h", "hostPath": {"path": "/etc"}}],
                "initContainers": [{"name": "i", "securityContext": {"capabilities": {"add": ["SYS_ADMIN", "CHOWN", "NET_RAW", "SYS_ADMIN"]}}}],
                "containers": [
                    {"name": "a", "ports": [{"containerPort": 80}, {"hostPort": 8080}], "securityContext": {"privileged": true}},
                    {"name": "b", "securityContext": {"allowPrivilegeEscalation": true, "capabilities": {"drop": ["NET_RAW"]}}}
                ]
            }
        });
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            errors("baseline", pod.clone(), "capabilities_baseline"),
            vec![(
                "spec.initContainers[0].securityContext.capabilities.add".into(),
                s(&["NET_RAW", "SYS_ADMIN"])
            )]
        );
        assert_eq!(
            errors("baseline", pod.clone(), "hostNamespaces"),
            vec![
                ("spec.hostNetwork".into(), s(&["true"])),
                ("spec.hostIPC".into(), s(&["true"]))
            ]
        );
        assert_eq!(
            errors("baseline", pod.clone(), "sysctls"),
            vec![(
                "spec.securityContext.sysctls[1].name".into(),
                s(&["net.core.somaxconn"])
            )]
        );
        assert_eq!(
            errors("baseline", pod.clone(), "hostPathVolumes"),
            vec![("spec.volumes[1].hostPath".into(), s(&["/etc"]))]
        );
        assert_eq!(
            errors("baseline", pod.clone(), "hostPorts"),
            vec![("spec.containers[0].ports[1].hostPort".into(), s(&["8080"]))]
        );
        assert_eq!(
            errors("baseline", pod.clone(), "appArmorProfile"),
            vec![(
                "metadata.annotations[container.apparmor.security.beta.kubernetes.io/a]".into(),
                s(&["unconfined"])
            )]
        );
        // restricted: a missing field is required (no bad value); nil is written "nil"
        assert_eq!(
            errors("restricted", pod.clone(), "allowPrivilegeEscalation"),
            vec![
                (
                    "spec.initContainers[0].securityContext.allowPrivilegeEscalation".into(),
                    s(&["nil"])
                ),
                (
                    "spec.containers[0].securityContext.allowPrivilegeEscalation".into(),
                    s(&["nil"])
                ),
                (
                    "spec.containers[1].securityContext.allowPrivilegeEscalation".into(),
                    s(&["true"])
                ),
            ]
        );
        assert_eq!(
            errors("restricted", pod.clone(), "capabilities_restricted"),
            vec![
                (
                    "spec.initContainers[0].securityContext.capabilities.drop".into(),
                    vec![]
                ),
                (
                    "spec.containers[0].securityContext.capabilities.drop".into(),
                    vec![]
                ),
                (
                    "spec.containers[1].securityContext.capabilities.drop".into(),
                    s(&["NET_RAW"])
                ),
                (
                    "spec.initContainers[0].securityContext.capabilities.add".into(),
                    s(&["CHOWN", "NET_RAW", "SYS_ADMIN"])
                ),
            ]
        );
        assert_eq!(
            errors("restricted", pod.clone(), "restrictedVolumes"),
            vec![("spec.volumes[1].hostPath".into(), vec![])]
        );
        // explicit setters alone, else the containers that set nothing
        let seccomp = json!({"spec": {"securityContext": {"seccompProfile": {"type": "Unconfined"}}, "containers": [{"name": "a"}]}});
        assert_eq!(
            errors("restricted", seccomp, "seccompProfile_restricted"),
            vec![(
                "spec.securityContext.seccompProfile.type".into(),
                s(&["Unconfined"])
            )]
        );
        let seccomp = json!({"spec": {"containers": [{"name": "a"}]}});
        assert_eq!(
            errors("restricted", seccomp, "seccompProfile_restricted"),
            vec![(
                "spec.containers[0].securityContext.seccompProfile.type".into(),
                vec![]
            )]
        );
        let policy: Policy = "baseline:latest".parse().unwrap();
        let spec = pod.get("spec").and_then(Value::as_object).unwrap();
        assert!(field_errors(policy, None, spec, "hostProbesAndHostLifecycle").is_none());
    }
}
