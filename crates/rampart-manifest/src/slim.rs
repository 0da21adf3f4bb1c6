//! Objects reduced to what the analyses that look across objects read, so a large scan keeps
//! only that in memory once every per-object check has seen the whole object.

use crate::Object;
use crate::pos::retain_entries;
use serde_json::Value;

/// Kinds the cross-object analyses read in full: RBAC, NetworkPolicy, Service and Ingress
/// routing, PodDisruptionBudgets, ServiceAccounts and Namespaces.
const KEEP_WHOLE: &[&str] = &[
    "Namespace",
    "ServiceAccount",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "NetworkPolicy",
    "PodDisruptionBudget",
    "Service",
    "Ingress",
];

/// Container fields the cross-object analyses read (NetworkPolicy named ports).
const CONTAINER_FIELDS: &[&str] = &["name", "ports"];

/// Pod spec fields the cross-object analyses read (the ServiceAccount and its token, ports).
const POD_SPEC_FIELDS: &[&str] = &[
    "serviceAccountName",
    "serviceAccount",
    "automountServiceAccountToken",
    "hostNetwork",
    "containers",
    "initContainers",
    "ephemeralContainers",
];

/// Workload spec fields the cross-object analyses read (replicas and selectors for
/// PodDisruptionBudgets, the pod template).
const WORKLOAD_SPEC_FIELDS: &[&str] = &["replicas", "selector", "template", "jobTemplate"];

/// The annotation `kubectl apply` writes: a second copy of the whole object.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

impl Object {
    /// The object with only the fields that the analyses across objects read: every field of
    /// RBAC objects, NetworkPolicies, Services, Ingresses, PodDisruptionBudgets,
    /// ServiceAccounts and Namespaces; for workloads everything but their containers, which
    /// keep their names and ports; for Secrets their `apiVersion`, `kind`, `metadata` and
    /// `type`. Anything else keeps its identity (`kind()`, `name()`, `namespace()`) and no
    /// value. Positions are kept for every field that remains.
    ///
    /// The identity, file and document are unchanged, and the `kubectl apply` annotation is
    /// dropped everywhere.
    pub fn slim(mut self) -> Object {
        self.object_ref(); // the identity is read from the whole object
        self.retain_at("/metadata/annotations", |k| k != LAST_APPLIED);
        self.prune();
        self
    }

    fn prune(&mut self) {
        if KEEP_WHOLE.contains(&self.kind()) {
            return;
        }
        if let Some(pointer) = crate::pod_spec(&self.value).map(|p| p.pointer) {
            if pointer != "/spec" {
                self.retain_at("/spec", |k| WORKLOAD_SPEC_FIELDS.contains(&k));
            }
            self.retain_at(pointer, |k| POD_SPEC_FIELDS.contains(&k));
            for list in ["containers", "initContainers", "ephemeralContainers"] {
                let at = format!("{pointer}/{list}");
                let n = self
                    .value
                    .pointer(&at)
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len);
                for i in 0..n {
                    self.retain_at(&format!("{at}/{i}"), |k| CONTAINER_FIELDS.contains(&k));
                }
            }
            return;
        }
        if self.kind() == "Secret" && self.group().is_empty() {
            // RBAC paths follow ServiceAccount token Secrets: their type and annotations
            self.retain_at("", |k| {
                matches!(k, "apiVersion" | "kind" | "metadata" | "type")
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
    use serde_json::json;

    #[test]
    fn workloads_keep_everything_but_their_containers_details() {
        let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  annotations:\n    kubectl.kubernetes.io/last-applied-configuration: '{}'\n    team: a\nspec:\n  replicas: 2\n  strategy: {type: Recreate}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      serviceAccountName: web\n      securityContext: {runAsNonRoot: true}\n      containers:\n      - name: app\n        image: nginx\n        env: [{name: A, value: b}]\n        ports: [{name: http, containerPort: 80}]\n";
        let obj = load_str("d.yaml", text).objects.remove(0).slim();
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
            .map(|o| o.slim())
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
