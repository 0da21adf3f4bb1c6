//! Which updates Pod Security Admission evaluates again.

use serde_json::Value;

const SECCOMP_POD: &str = "seccomp.security.alpha.kubernetes.io/pod";
const SECCOMP_CONTAINER_PREFIX: &str = "container.seccomp.security.alpha.kubernetes.io/";

/// Pod Security Admission's update rule: a pod update is evaluated only if it changes images,
/// the number of containers, ephemeral containers or seccomp annotations (the rest of a pod
/// spec is immutable). For a workload, any change of its pod template is.
pub fn significant_update(new: &Value, old: &Value, is_pod: bool) -> bool {
    let (Some(n), Some(o)) = (
        rampart_manifest::pod_spec(new),
        rampart_manifest::pod_spec(old),
    ) else {
        return true;
    };
    if !is_pod {
        return n.spec != o.spec || n.metadata != o.metadata;
    }
    let ann = |p: &rampart_manifest::PodSpecRef<'_>, k: &str| -> Option<Value> {
        p.annotations()?.get(k).cloned()
    };
    if ann(&n, SECCOMP_POD) != ann(&o, SECCOMP_POD) {
        return true;
    }
    let list = |p: &rampart_manifest::PodSpecRef<'_>, f: &str| -> Vec<Value> {
        p.get(f)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let field = |c: &Value, f: &str| c.get(f).cloned();
    for f in ["containers", "initContainers"] {
        let (nc, oc) = (list(&n, f), list(&o, f));
        if nc.len() != oc.len() {
            return true;
        }
        for (a, b) in nc.iter().zip(oc.iter()) {
            if field(a, "image") != field(b, "image") {
                return true;
            }
            let name = a.get("name").and_then(Value::as_str).unwrap_or("");
            let key = format!("{SECCOMP_CONTAINER_PREFIX}{name}");
            if ann(&n, &key) != ann(&o, &key) {
                return true;
            }
        }
    }
    let (ne, oe) = (
        list(&n, "ephemeralContainers"),
        list(&o, "ephemeralContainers"),
    );
    if ne.len() != oe.len() {
        return true;
    }
    for e in &ne {
        let name = field(e, "name");
        match oe.iter().find(|x| field(x, "name") == name) {
            None => return true,
            Some(old_e) if old_e != e => return true,
            Some(_) => {}
        }
    }
    false
}
