//! The pod spec inside any workload, and the containers inside a pod spec, with JSON pointers.

use rampart_core::Field;
use serde_json::{Map, Value};

/// A pod spec found in an object, with its pointer and the pod (template) metadata.
#[derive(Debug, Clone, Copy)]
pub struct PodSpecRef<'a> {
    pub spec: &'a Map<String, Value>,
    /// Pointer of the pod spec inside the object, e.g. `/spec/template/spec`.
    pub pointer: &'static str,
    /// The pod's metadata (the template's for workloads), if present.
    pub metadata: Option<&'a Map<String, Value>>,
    /// Pointer of that metadata, e.g. `/spec/template/metadata`.
    pub metadata_pointer: &'static str,
}

impl<'a> PodSpecRef<'a> {
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        rampart_core::field::lookup(self.spec, key)
    }

    /// `true` when the pod spec field is the boolean `true`.
    pub fn flag(&self, key: &str) -> bool {
        self.get(key).and_then(Value::as_bool).unwrap_or(false)
    }

    pub fn labels(&self) -> Option<&'a Map<String, Value>> {
        self.metadata?.field("labels")?.as_object()
    }

    pub fn annotations(&self) -> Option<&'a Map<String, Value>> {
        self.metadata?.field("annotations")?.as_object()
    }

    pub fn containers(&self) -> Vec<ContainerRef<'a>> {
        containers(self)
    }
}

/// Kinds whose pod template sits at `/spec/template`.
const TEMPLATE_KINDS: &[&str] = &[
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "ReplicationController",
];

/// Whether an API group holds the built-in workload kinds (core, `apps`, `batch`,
/// `extensions`), so a CRD that reuses a kind name such as `CronJob` is not taken for one.
pub fn is_workload_group(group: &str) -> bool {
    matches!(group, "" | "apps" | "batch" | "extensions")
}

/// The pod spec of a Pod, Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob,
/// ReplicationController or PodTemplate; `None` for any other kind (and for CRDs that reuse a
/// kind name in another API group).
pub fn pod_spec(obj: &Value) -> Option<PodSpecRef<'_>> {
    let kind = obj.field("kind")?.as_str()?;
    if !matches!(kind, "Pod" | "CronJob" | "PodTemplate") && !TEMPLATE_KINDS.contains(&kind) {
        return None;
    }
    let api = obj
        .field("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !is_workload_group(api.rsplit_once('/').map_or("", |(g, _)| g)) {
        return None;
    }
    let (tmpl, spec_ptr, meta_ptr): (&Value, &'static str, &'static str) = match kind {
        "Pod" => {
            let spec = obj.field("spec")?.as_object()?;
            return Some(PodSpecRef {
                spec,
                pointer: "/spec",
                metadata: obj.field("metadata").and_then(Value::as_object),
                metadata_pointer: "/metadata",
            });
        }
        "CronJob" => (
            obj.field("spec")?
                .field("jobTemplate")?
                .field("spec")?
                .field("template")?,
            "/spec/jobTemplate/spec/template/spec",
            "/spec/jobTemplate/spec/template/metadata",
        ),
        "PodTemplate" => (
            obj.field("template")?,
            "/template/spec",
            "/template/metadata",
        ),
        k if TEMPLATE_KINDS.contains(&k) => (
            obj.field("spec")?.field("template")?,
            "/spec/template/spec",
            "/spec/template/metadata",
        ),
        _ => return None,
    };
    Some(PodSpecRef {
        spec: tmpl.field("spec")?.as_object()?,
        pointer: spec_ptr,
        metadata: tmpl.field("metadata").and_then(Value::as_object),
        metadata_pointer: meta_ptr,
    })
}

/// Which list of a pod spec a container is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContainerKind {
    Container,
    Init,
    Ephemeral,
}

impl ContainerKind {
    pub const ALL: [ContainerKind; 3] = [
        ContainerKind::Init,
        ContainerKind::Container,
        ContainerKind::Ephemeral,
    ];

    /// The pod spec field holding this kind of container.
    pub fn field(self) -> &'static str {
        match self {
            ContainerKind::Container => "containers",
            ContainerKind::Init => "initContainers",
            ContainerKind::Ephemeral => "ephemeralContainers",
        }
    }

    /// How Kubernetes names it in messages: `container`, `init container`, `ephemeral container`.
    pub fn noun(self) -> &'static str {
        match self {
            ContainerKind::Container => "container",
            ContainerKind::Init => "init container",
            ContainerKind::Ephemeral => "ephemeral container",
        }
    }
}

/// One container of a pod spec.
#[derive(Debug, Clone)]
pub struct ContainerRef<'a> {
    pub kind: ContainerKind,
    pub index: usize,
    pub name: &'a str,
    pub value: &'a Map<String, Value>,
    /// Pointer of the container inside the object, e.g. `/spec/template/spec/containers/0`.
    pub pointer: String,
}

impl<'a> ContainerRef<'a> {
    /// The container's `securityContext.<key>`, if set.
    pub fn security(&self, key: &str) -> Option<&'a Value> {
        self.value.field("securityContext")?.field(key)
    }

    /// Pointer of a field under the container, e.g. `securityContext/privileged`.
    pub fn ptr(&self, rel: &str) -> String {
        format!("{}/{}", self.pointer, rel)
    }
}

/// Init containers, then containers, then ephemeral containers, in order.
pub fn containers<'a>(pod: &PodSpecRef<'a>) -> Vec<ContainerRef<'a>> {
    let mut out = Vec::new();
    for kind in ContainerKind::ALL {
        let Some(list) = pod.spec.field(kind.field()).and_then(Value::as_array) else {
            continue;
        };
        for (index, c) in list.iter().enumerate() {
            let Some(value) = c.as_object() else { continue };
            out.push(ContainerRef {
                kind,
                index,
                name: value.field("name").and_then(Value::as_str).unwrap_or(""),
                value,
                pointer: format!("{}/{}/{}", pod.pointer, kind.field(), index),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_pod_specs_of_every_workload_kind() {
        let tmpl =
            json!({"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c"}]}});
        let cases = [
            (
                json!({"apiVersion": "v1", "kind": "Pod", "spec": {"containers": []}}),
                "/spec",
            ),
            (
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"template": tmpl}}),
                "/spec/template/spec",
            ),
            (
                json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "spec": {"template": tmpl}}),
                "/spec/template/spec",
            ),
            (
                json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "spec": {"template": tmpl}}),
                "/spec/template/spec",
            ),
            (
                json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "spec": {"template": tmpl}}),
                "/spec/template/spec",
            ),
            (
                json!({"apiVersion": "batch/v1", "kind": "Job", "spec": {"template": tmpl}}),
                "/spec/template/spec",
            ),
            (
                json!({"apiVersion": "v1", "kind": "ReplicationController", "spec": {"template": tmpl}}),
                "/spec/template/spec",
            ),
            (
                json!({"apiVersion": "batch/v1", "kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": tmpl}}}}),
                "/spec/jobTemplate/spec/template/spec",
            ),
            (
                json!({"apiVersion": "v1", "kind": "PodTemplate", "template": tmpl}),
                "/template/spec",
            ),
        ];
        for (obj, ptr) in cases {
            let p = pod_spec(&obj).unwrap_or_else(|| panic!("no pod spec in {obj}"));
            assert_eq!(p.pointer, ptr);
        }
        assert!(pod_spec(&json!({"apiVersion": "example.com/v1", "kind": "Deployment", "spec": {"template": tmpl}})).is_none());
        assert!(pod_spec(&json!({"apiVersion": "v1", "kind": "ConfigMap"})).is_none());
    }

    #[test]
    fn containers_carry_kind_and_pointer() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "spec": {
            "initContainers": [{"name": "i"}], "containers": [{"name": "a"}, {"name": "b"}],
            "ephemeralContainers": [{"name": "e"}]}});
        let p = pod_spec(&pod).unwrap();
        let cs = containers(&p);
        let got: Vec<_> = cs
            .iter()
            .map(|c| (c.kind, c.name, c.pointer.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (ContainerKind::Init, "i", "/spec/initContainers/0"),
                (ContainerKind::Container, "a", "/spec/containers/0"),
                (ContainerKind::Container, "b", "/spec/containers/1"),
                (ContainerKind::Ephemeral, "e", "/spec/ephemeralContainers/0"),
            ]
        );
    }
}
