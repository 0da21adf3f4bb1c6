//! Objects reduced to what the analyses that look across objects read, so a large scan keeps
//! only that in memory once every per-object check has seen the whole object.

use crate::Object;
use crate::pos::retain_entries;
use serde_json::Value;

/// What one analysis across objects reads of each object, declared by the analysis itself
/// (`rampart_rules::READS`, `rampart_rbac::READS`, …) so the scan can keep only that in memory
/// once every per-object check has seen the whole object. [`Keep::of`] unites the declarations
/// of the analyses a scan runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Reads {
    /// Kinds read in full.
    pub kinds: &'static [&'static str],
    /// Fields of a workload controller's `spec` (the path to its pod template is always kept).
    pub workload_spec: &'static [&'static str],
    /// Fields of every pod spec (a Pod's or a workload's template).
    pub pod_spec: &'static [&'static str],
    /// Fields of every container, init container and ephemeral container.
    pub container: &'static [&'static str],
    /// Top-level fields of core Secrets besides `apiVersion`, `kind` and `metadata`; when no
    /// analysis reads any, a Secret keeps its identity only.
    pub secret: &'static [&'static str],
}

/// The union of what the analyses across objects read: what [`Object::slim`] keeps.
#[derive(Debug, Clone, Default)]
pub struct Keep {
    kinds: Vec<&'static str>,
    workload_spec: Vec<&'static str>,
    pod_spec: Vec<&'static str>,
    container: Vec<&'static str>,
    secret: Vec<&'static str>,
}

impl Keep {
    /// Keeps what any of `reads` reads.
    pub fn of(reads: &[Reads]) -> Keep {
        let mut keep = Keep::default();
        for r in reads {
            for (into, from) in [
                (&mut keep.kinds, r.kinds),
                (&mut keep.workload_spec, r.workload_spec),
                (&mut keep.pod_spec, r.pod_spec),
                (&mut keep.container, r.container),
                (&mut keep.secret, r.secret),
            ] {
                into.extend(
                    from.iter()
                        .filter(|f| !into.contains(f))
                        .collect::<Vec<_>>(),
                );
            }
        }
        keep
    }
}

/// The path from a workload controller's `spec` to its pod template.
const TEMPLATE_PATH: &[&str] = &["template", "jobTemplate"];

/// The annotation `kubectl apply` writes: a second copy of the whole object.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

impl Object {
    /// The object with only the fields that `keep` says the analyses across objects read:
    /// every field of the kinds read in full; for workloads the declared fields of their
    /// `spec`, pod spec and containers (and the path to the pod template, with its metadata);
    /// for core Secrets their `apiVersion`, `kind`, `metadata` and declared fields. Anything
    /// else keeps its identity (`kind()`, `name()`, `namespace()`) and no value. Positions are
    /// kept for every field that remains.
    ///
    /// The identity, file and document are unchanged, and the `kubectl apply` annotation is
    /// dropped everywhere.
    pub fn slim(mut self, keep: &Keep) -> Object {
        self.object_ref(); // the identity is read from the whole object
        self.retain_at("/metadata/annotations", |k| k != LAST_APPLIED);
        self.prune(keep);
        self
    }

    fn prune(&mut self, keep: &Keep) {
        if keep.kinds.contains(&self.kind()) {
            return;
        }
        if let Some(pointer) = crate::pod_spec(&self.value).map(|p| p.pointer) {
            if pointer != "/spec" {
                self.retain_at("/spec", |k| {
                    keep.workload_spec.contains(&k) || TEMPLATE_PATH.contains(&k)
                });
            }
            self.retain_at(pointer, |k| keep.pod_spec.contains(&k));
            for list in ["containers", "initContainers", "ephemeralContainers"] {
                let at = format!("{pointer}/{list}");
                let n = self
                    .value
                    .pointer(&at)
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len);
                for i in 0..n {
                    self.retain_at(&format!("{at}/{i}"), |k| keep.container.contains(&k));
                }
            }
            return;
        }
        if self.kind() == "Secret" && self.group().is_empty() && !keep.secret.is_empty() {
            self.retain_at("", |k| {
                matches!(k, "apiVersion" | "kind" | "metadata") || keep.secret.contains(&k)
            });
        } else {
            // nothing across objects reads other kinds beyond their identity, which the
            // object keeps (read above, before the value goes)
            self.value = Value::Null;
            self.pos = crate::PosNode::leaf(self.pos.line, self.pos.col);
        }
    }

    /// Keeps only the fields `keep` accepts of the mapping at `pointer`, and their positions.
    fn retain_at(&mut self, pointer: &str, keep: impl Fn(&str) -> bool) {
        let pos = self.pos.subtree_mut(&self.value, pointer);
        if let Some(Value::Object(m)) = self.value.pointer_mut(pointer) {
            retain_entries(m, pos, keep);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::load_str;
    use crate::slim::{Keep, Reads};
    use serde_json::json;

    /// What the tests keep: RBAC whole, Secret types, service accounts and container ports.
    fn keep() -> Keep {
        Keep::of(&[
            Reads {
                kinds: &["Role"],
                secret: &["type"],
                pod_spec: &["serviceAccountName", "containers"],
                ..Reads::default()
            },
            Reads {
                workload_spec: &["replicas"],
                container: &["name", "ports"],
                ..Reads::default()
            },
        ])
    }

    #[test]
    fn workloads_keep_everything_but_their_containers_details() {
        let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  annotations:\n    kubectl.kubernetes.io/last-applied-configuration: '{}'\n    team: a\nspec:\n  replicas: 2\n  strategy: {type: Recreate}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      serviceAccountName: web\n      securityContext: {runAsNonRoot: true}\n      containers:\n      - name: app\n        image: nginx\n        env: [{name: A, value: b}]\n        ports: [{name: http, containerPort: 80}]\n";
        let obj = load_str("d.yaml", text).objects.remove(0).slim(&keep());
        assert_eq!(
            obj.value,
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "web", "annotations": {"team": "a"}},
                "spec": {"replicas": 2, "template": {"metadata": {"labels": {"app": "web"}},
                    "spec": {"serviceAccountName": "web",
                        "containers": [{"name": "app", "ports": [{"name": "http", "containerPort": 80}]}]}}}})
        );
        assert_eq!(
            obj.location("/spec/template/spec/containers/0/ports/0")
                .line,
            20
        );
        assert_eq!(obj.location("/metadata/annotations/team").line, 7);
        // a field that is gone is located at its nearest remaining ancestor
        assert_eq!(
            obj.location("/spec/template/spec/containers/0/image").line,
            17
        );
    }

    #[test]
    fn other_kinds_keep_identity_and_rbac_stays_whole() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: x}\ndata: {a: b}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: s}\ntype: Opaque\nstringData: {password: hunter2}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: r}\nrules: [{apiGroups: [''], resources: [pods], verbs: [get]}]\n";
        let objs: Vec<_> = load_str("m.yaml", text)
            .objects
            .into_iter()
            .map(|o| o.slim(&keep()))
            .collect();
        assert_eq!(objs[0].value, json!(null));
        assert_eq!(
            (objs[0].kind(), objs[0].name(), objs[0].namespace()),
            ("ConfigMap", "c", Some("x"))
        );
        assert_eq!(objs[0].location("/metadata/name").line, 1);
        assert_eq!(objs[1].value["type"], json!("Opaque"));
        assert!(objs[1].value.get("stringData").is_none());
        assert_eq!(objs[2].value["rules"][0]["verbs"], json!(["get"]));
        assert_eq!(objs[2].location("/rules/0/verbs").line, 15);
    }
}
