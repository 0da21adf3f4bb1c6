//! `/mutate`: a JSONPatch that fills in secure defaults the user left unset, never overriding
//! an explicit value.

use serde_json::{Map, Value, json};

const SECCOMP_POD_ANNOTATION: &str = "seccomp.security.alpha.kubernetes.io/pod";

fn add(ops: &mut Vec<Value>, path: String, value: Value) {
    ops.push(json!({"op": "add", "path": path, "value": value}));
}

fn runs_as_root_explicitly(sc: Option<&Value>) -> bool {
    sc.and_then(|s| s.get("runAsUser")).and_then(Value::as_i64) == Some(0)
}

/// The JSONPatch operations for an object (empty when there is nothing to fill in or the
/// object has no pod spec).
pub fn secure_defaults(obj: &Value) -> Vec<Value> {
    let mut ops = Vec::new();
    let Some(pod) = rampart_manifest::pod_spec(obj) else {
        return ops;
    };
    // Windows pods may not set these Linux fields.
    if pod
        .get("os")
        .and_then(|o| o.get("name"))
        .and_then(Value::as_str)
        == Some("windows")
    {
        return ops;
    }
    let base = pod.pointer;
    let containers = rampart_manifest::containers(&pod);
    let pod_sc = pod.get("securityContext");
    let any_root = runs_as_root_explicitly(pod_sc)
        || containers
            .iter()
            .any(|c| runs_as_root_explicitly(c.value.get("securityContext")));
    let legacy_seccomp = pod
        .annotations()
        .is_some_and(|a| a.contains_key(SECCOMP_POD_ANNOTATION));

    let mut pod_add = Map::new();
    if !legacy_seccomp && pod_sc.and_then(|s| s.get("seccompProfile")).is_none() {
        pod_add.insert("seccompProfile".into(), json!({"type": "RuntimeDefault"}));
    }
    if !any_root && pod_sc.and_then(|s| s.get("runAsNonRoot")).is_none() {
        pod_add.insert("runAsNonRoot".into(), Value::Bool(true));
    }
    match pod_sc {
        Some(Value::Object(_)) => {
            for (k, v) in pod_add {
                add(&mut ops, format!("{base}/securityContext/{k}"), v);
            }
        }
        None | Some(Value::Null) if !pod_add.is_empty() => {
            add(
                &mut ops,
                format!("{base}/securityContext"),
                Value::Object(pod_add),
            );
        }
        _ => {}
    }

    for c in containers {
        if c.kind == rampart_manifest::ContainerKind::Ephemeral {
            continue;
        }
        let sc = c.value.get("securityContext");
        let privileged = sc
            .and_then(|s| s.get("privileged"))
            .and_then(Value::as_bool)
            == Some(true);
        let caps = sc.and_then(|s| s.get("capabilities"));
        let adds_sys_admin = caps
            .and_then(|c| c.get("add"))
            .and_then(Value::as_array)
            .is_some_and(|a| {
                a.iter()
                    .any(|x| matches!(x.as_str(), Some("SYS_ADMIN" | "CAP_SYS_ADMIN")))
            });
        let mut c_add = Map::new();
        // The API server rejects allowPrivilegeEscalation=false with privileged or CAP_SYS_ADMIN.
        if !privileged
            && !adds_sys_admin
            && sc.and_then(|s| s.get("allowPrivilegeEscalation")).is_none()
        {
            c_add.insert("allowPrivilegeEscalation".into(), Value::Bool(false));
        }
        let p = c.pointer.as_str();
        match (sc, caps) {
            (Some(Value::Object(_)), Some(Value::Object(cm))) => {
                for (k, v) in c_add {
                    add(&mut ops, format!("{p}/securityContext/{k}"), v);
                }
                if !cm.contains_key("drop") {
                    add(
                        &mut ops,
                        format!("{p}/securityContext/capabilities/drop"),
                        json!(["ALL"]),
                    );
                }
            }
            (Some(Value::Object(_)), None | Some(Value::Null)) => {
                for (k, v) in c_add {
                    add(&mut ops, format!("{p}/securityContext/{k}"), v);
                }
                add(
                    &mut ops,
                    format!("{p}/securityContext/capabilities"),
                    json!({"drop": ["ALL"]}),
                );
            }
            (None | Some(Value::Null), _) => {
                c_add.insert("capabilities".into(), json!({"drop": ["ALL"]}));
                add(
                    &mut ops,
                    format!("{p}/securityContext"),
                    Value::Object(c_add),
                );
            }
            _ => {}
        }
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(mut doc: Value, ops: &[Value]) -> Value {
        for op in ops {
            let path = op["path"].as_str().unwrap();
            let (parent, key) = path.rsplit_once('/').unwrap();
            let target = doc.pointer_mut(parent).unwrap();
            target
                .as_object_mut()
                .unwrap()
                .insert(key.to_string(), op["value"].clone());
        }
        doc
    }

    #[test]
    fn fills_an_empty_pod() {
        let pod = json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"x"}]}});
        let out = apply(pod.clone(), &secure_defaults(&pod));
        assert_eq!(
            out["spec"]["securityContext"],
            json!({"seccompProfile":{"type":"RuntimeDefault"},"runAsNonRoot":true})
        );
        assert_eq!(
            out["spec"]["containers"][0]["securityContext"],
            json!({"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]}})
        );
    }

    #[test]
    fn never_overrides_explicit_values() {
        let dep = json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"template":{"spec":{
            "securityContext":{"runAsNonRoot":false,"seccompProfile":{"type":"Unconfined"}},
            "containers":[{"name":"c","image":"x","securityContext":{"allowPrivilegeEscalation":true,"capabilities":{"drop":["NET_RAW"]}}},
                          {"name":"d","image":"x","securityContext":{"privileged":true}}]}}}});
        let ops = secure_defaults(&dep);
        assert_eq!(
            ops,
            vec![
                json!({"op":"add","path":"/spec/template/spec/containers/1/securityContext/capabilities","value":{"drop":["ALL"]}})
            ]
        );
    }

    #[test]
    fn root_user_keeps_run_as_non_root_unset() {
        let pod = json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"securityContext":{},"containers":[{"name":"c","image":"x","securityContext":{"runAsUser":0}}]}});
        let out = apply(pod.clone(), &secure_defaults(&pod));
        assert!(out["spec"]["securityContext"].get("runAsNonRoot").is_none());
        assert_eq!(
            out["spec"]["securityContext"]["seccompProfile"]["type"],
            "RuntimeDefault"
        );
    }
}
