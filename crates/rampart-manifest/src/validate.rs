//! Type checks the API server would reject with a decode error (`containers: "x"`,
//! `labels: {version: 1.0}`), so every check downstream can rely on the shapes it reads.

use crate::Object;
use crate::workload::{ContainerKind, pod_spec};
use rampart_core::{Field, InputError};
use serde_json::Value;

#[derive(Clone, Copy)]
enum Ty {
    Str,
    Bool,
    Int,
    Map,
    List,
    /// a list of mappings
    ListOfMaps,
    /// a list of strings
    ListOfStr,
    /// a mapping of strings to strings
    StrMap,
}

impl Ty {
    fn describe(self) -> &'static str {
        match self {
            Ty::Str => "a string",
            Ty::Bool => "a boolean",
            Ty::Int => "an integer",
            Ty::Map => "a mapping",
            Ty::List => "a list",
            Ty::ListOfMaps => "a list of mappings",
            Ty::ListOfStr => "a list of strings",
            Ty::StrMap => "a mapping of strings to strings",
        }
    }
}

fn found(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// `Err((relative pointer of the bad element, what was found))`
fn check(v: &Value, ty: Ty) -> Result<(), (String, &'static str)> {
    let ok = match ty {
        Ty::Str => v.is_string(),
        Ty::Bool => v.is_boolean(),
        Ty::Int => v.is_i64() || v.is_u64(),
        Ty::Map => v.is_object(),
        Ty::List => v.is_array(),
        Ty::ListOfMaps => {
            let Some(a) = v.as_array() else {
                return Err((String::new(), found(v)));
            };
            if let Some((i, bad)) = a.iter().enumerate().find(|(_, x)| !x.is_object()) {
                return Err((format!("/{i}"), found(bad)));
            }
            true
        }
        Ty::ListOfStr => {
            let Some(a) = v.as_array() else {
                return Err((String::new(), found(v)));
            };
            if let Some((i, bad)) = a.iter().enumerate().find(|(_, x)| !x.is_string()) {
                return Err((format!("/{i}"), found(bad)));
            }
            true
        }
        Ty::StrMap => {
            let Some(m) = v.as_object() else {
                return Err((String::new(), found(v)));
            };
            if let Some((k, bad)) = m.iter().find(|(_, x)| !x.is_string()) {
                return Err((format!("/{}", crate::escape_segment(k)), found(bad)));
            }
            true
        }
    };
    if ok {
        Ok(())
    } else {
        Err((String::new(), found(v)))
    }
}

const METADATA: &[(&str, Ty)] = &[
    ("name", Ty::Str),
    ("namespace", Ty::Str),
    ("labels", Ty::StrMap),
    ("annotations", Ty::StrMap),
];

const POD_SPEC: &[(&str, Ty)] = &[
    ("containers", Ty::ListOfMaps),
    ("initContainers", Ty::ListOfMaps),
    ("ephemeralContainers", Ty::ListOfMaps),
    ("volumes", Ty::ListOfMaps),
    ("securityContext", Ty::Map),
    ("hostNetwork", Ty::Bool),
    ("hostPID", Ty::Bool),
    ("hostIPC", Ty::Bool),
    ("hostUsers", Ty::Bool),
    ("serviceAccountName", Ty::Str),
    ("automountServiceAccountToken", Ty::Bool),
    ("nodeSelector", Ty::StrMap),
    ("securityContext/runAsUser", Ty::Int),
    ("securityContext/runAsGroup", Ty::Int),
    ("securityContext/runAsNonRoot", Ty::Bool),
    ("securityContext/sysctls", Ty::ListOfMaps),
    ("securityContext/seccompProfile", Ty::Map),
    ("securityContext/supplementalGroups", Ty::List),
];

const CONTAINER: &[(&str, Ty)] = &[
    ("name", Ty::Str),
    ("image", Ty::Str),
    ("command", Ty::ListOfStr),
    ("args", Ty::ListOfStr),
    ("ports", Ty::ListOfMaps),
    ("env", Ty::ListOfMaps),
    ("envFrom", Ty::ListOfMaps),
    ("resources", Ty::Map),
    ("volumeMounts", Ty::ListOfMaps),
    ("securityContext", Ty::Map),
    ("securityContext/privileged", Ty::Bool),
    ("securityContext/allowPrivilegeEscalation", Ty::Bool),
    ("securityContext/readOnlyRootFilesystem", Ty::Bool),
    ("securityContext/runAsNonRoot", Ty::Bool),
    ("securityContext/runAsUser", Ty::Int),
    ("securityContext/runAsGroup", Ty::Int),
    ("securityContext/capabilities", Ty::Map),
    ("securityContext/capabilities/add", Ty::ListOfStr),
    ("securityContext/capabilities/drop", Ty::ListOfStr),
    ("securityContext/seccompProfile", Ty::Map),
    ("securityContext/procMount", Ty::Str),
    ("livenessProbe", Ty::Map),
    ("readinessProbe", Ty::Map),
    ("startupProbe", Ty::Map),
];

const PORT: &[(&str, Ty)] = &[
    ("containerPort", Ty::Int),
    ("hostPort", Ty::Int),
    ("name", Ty::Str),
];
const ENV: &[(&str, Ty)] = &[
    ("name", Ty::Str),
    ("value", Ty::Str),
    ("valueFrom", Ty::Map),
];

fn dotted(ptr: &str) -> String {
    ptr.trim_start_matches('/').replace('/', ".")
}

/// Walks `rel` (`a/b/c`, plain keys) under `v` without allocating.
fn walk<'v>(v: &'v Value, rel: &str) -> Option<&'v Value> {
    rel.split('/').try_fold(v, |cur, seg| cur.field(seg))
}

fn apply(obj: &Object, base: &str, v: &Value, table: &[(&str, Ty)]) -> Result<(), InputError> {
    for (rel, ty) in table {
        let Some(field) = walk(v, rel) else { continue };
        if field.is_null() {
            continue;
        }
        if let Err((sub, what)) = check(field, *ty) {
            let ptr = format!("/{rel}");
            let full = format!("{base}{ptr}{sub}");
            let loc = obj.pos.find_nearest(&obj.value, &full).0;
            let msg = if sub.is_empty() {
                format!(
                    "{}: expected {}, found {what}",
                    dotted(&format!("{base}{ptr}")),
                    ty.describe()
                )
            } else {
                format!(
                    "{}: expected {}, found {what} at {}",
                    dotted(&format!("{base}{ptr}")),
                    ty.describe(),
                    dotted(&full)
                )
            };
            return Err(InputError {
                file: obj.file.to_string(),
                line: loc.0,
                column: loc.1,
                message: msg,
            });
        }
    }
    Ok(())
}

/// Whether any field of `table` has the wrong type (no allocation on the good path).
fn apply_quiet(v: &Value, table: &[(&str, Ty)]) -> bool {
    table
        .iter()
        .any(|(rel, ty)| walk(v, rel).is_some_and(|f| !f.is_null() && check_ok(f, *ty).is_err()))
}

fn check_ok(v: &Value, ty: Ty) -> Result<(), ()> {
    match ty {
        Ty::ListOfMaps | Ty::ListOfStr | Ty::StrMap => check(v, ty).map_err(|_| ()),
        Ty::Str if v.is_string() => Ok(()),
        Ty::Bool if v.is_boolean() => Ok(()),
        Ty::Int if v.is_i64() || v.is_u64() => Ok(()),
        Ty::Map if v.is_object() => Ok(()),
        Ty::List if v.is_array() => Ok(()),
        _ => Err(()),
    }
}

pub(crate) fn validate(obj: &Object) -> Result<(), InputError> {
    if let Some(meta) = obj.value.field("metadata") {
        if !meta.is_object() {
            let (l, c) = obj.pos.find_nearest(&obj.value, "/metadata").0;
            return Err(InputError {
                file: obj.file.to_string(),
                line: l,
                column: c,
                message: format!("metadata: expected a mapping, found {}", found(meta)),
            });
        }
        apply(obj, "/metadata", meta, METADATA)?;
    }
    // a workload whose template or spec is not a mapping cannot be decoded either
    for (ptr, kinds) in [
        (
            "/spec",
            &[
                "Pod",
                "Deployment",
                "StatefulSet",
                "DaemonSet",
                "ReplicaSet",
                "Job",
                "CronJob",
                "ReplicationController",
            ][..],
        ),
        (
            "/spec/template",
            &[
                "Deployment",
                "StatefulSet",
                "DaemonSet",
                "ReplicaSet",
                "Job",
                "ReplicationController",
            ][..],
        ),
        (
            "/spec/template/spec",
            &[
                "Deployment",
                "StatefulSet",
                "DaemonSet",
                "ReplicaSet",
                "Job",
                "ReplicationController",
            ][..],
        ),
    ] {
        let applies = kinds.contains(&obj.kind()) && crate::is_workload_group(obj.group());
        if let Some(v) = obj
            .value
            .pointer(ptr)
            .filter(|v| applies && !v.is_object() && !v.is_null())
        {
            let (l, c) = obj.pos.find_nearest(&obj.value, ptr).0;
            return Err(InputError {
                file: obj.file.to_string(),
                line: l,
                column: c,
                message: format!("{}: expected a mapping, found {}", dotted(ptr), found(v)),
            });
        }
    }
    let Some(pod) = pod_spec(&obj.value) else {
        return Ok(());
    };
    let spec_value = obj.value.pointer(pod.pointer).unwrap_or(&Value::Null);
    apply(obj, pod.pointer, spec_value, POD_SPEC)?;
    if let Some(meta) = obj
        .value
        .pointer(pod.metadata_pointer)
        .filter(|_| pod.metadata_pointer != "/metadata")
    {
        apply(obj, pod.metadata_pointer, meta, METADATA)?;
    }
    for kind in ContainerKind::ALL {
        let Some(list) = pod.spec.field(kind.field()).and_then(Value::as_array) else {
            continue;
        };
        for (i, c) in list.iter().enumerate() {
            let base = || format!("{}/{}/{}", pod.pointer, kind.field(), i);
            // the base pointer is only formatted when something is wrong
            if apply_quiet(c, CONTAINER) {
                apply(obj, &base(), c, CONTAINER)?;
            }
            for (field, table) in [("ports", PORT), ("env", ENV)] {
                if let Some(items) = c.field(field).and_then(Value::as_array) {
                    for (j, item) in items.iter().enumerate() {
                        if apply_quiet(item, table) {
                            apply(obj, &format!("{}/{field}/{j}", base()), item, table)?;
                        }
                    }
                }
            }
        }
    }
    Ok(())
}
