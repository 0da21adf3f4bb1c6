//! Realistic AdmissionReviews for the benchmarks: a Deployment applied with kubectl (with its
//! last-applied annotation and managedFields), and the Pod its ReplicaSet creates.

use serde_json::{Value, json};

fn container(name: &str, image: &str) -> Value {
    json!({
        "name": name,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "args": ["--port=8080", "--log-level=info"],
        "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
        "env": [
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
            {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
            {"name": "LOG_FORMAT", "value": "json"}
        ],
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
        "readinessProbe": {"httpGet": {"path": "/ready", "port": "http", "scheme": "HTTP"}, "periodSeconds": 5, "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 3},
        "livenessProbe": {"httpGet": {"path": "/live", "port": "http", "scheme": "HTTP"}, "periodSeconds": 10, "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 3},
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}, {"name": "kube-api-access-x7k2p", "readOnly": true, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}],
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}, "readOnlyRootFilesystem": true}
    })
}

fn pod_spec() -> Value {
    json!({
        "serviceAccountName": "web",
        "securityContext": {"runAsNonRoot": true, "runAsUser": 10001, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [container("web", "registry.example.com/shop/web:2.14.1"), container("sidecar", "registry.example.com/infra/proxy:1.9.0")],
        "volumes": [
            {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
            {"name": "kube-api-access-x7k2p", "projected": {"defaultMode": 420, "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}
            ]}}
        ],
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst",
        "schedulerName": "default-scheduler",
        "tolerations": [
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
        ],
        "priority": 0,
        "enableServiceLinks": true
    })
}

fn managed_fields() -> Value {
    json!([{
        "manager": "kubectl-client-side-apply", "operation": "Update", "apiVersion": "apps/v1", "time": "2026-11-20T10:12:44Z",
        "fieldsType": "FieldsV1",
        "fieldsV1": {"f:metadata": {"f:annotations": {".": {}, "f:kubectl.kubernetes.io/last-applied-configuration": {}}, "f:labels": {".": {}, "f:app": {}}},
                     "f:spec": {"f:progressDeadlineSeconds": {}, "f:replicas": {}, "f:revisionHistoryLimit": {}, "f:selector": {},
                                "f:strategy": {"f:rollingUpdate": {".": {}, "f:maxSurge": {}, "f:maxUnavailable": {}}, "f:type": {}},
                                "f:template": {"f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                                               "f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {".": {}, "f:image": {}, "f:name": {}, "f:ports": {}}}}}}}
    }])
}

/// A kubectl-applied Deployment (CREATE).
pub fn deployment_review(uid: u64) -> Value {
    let template = json!({"metadata": {"labels": {"app": "web"}}, "spec": pod_spec()});
    let obj = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {
            "name": "web", "namespace": "shop", "labels": {"app": "web", "team": "storefront"},
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": serde_json::to_string(&json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": template})).unwrap_or_default()},
            "managedFields": managed_fields()
        },
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": template,
                 "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
                 "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600}
    });
    review(
        uid,
        "apps",
        "v1",
        "Deployment",
        "deployments",
        "web",
        obj,
        "alice@example.com",
    )
}

/// The Pod a ReplicaSet controller creates (CREATE).
pub fn pod_review(uid: u64) -> Value {
    let obj = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"generateName": "web-5d9c7b8f4-", "namespace": "shop", "labels": {"app": "web", "pod-template-hash": "5d9c7b8f4"},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d9c7b8f4", "uid": "3f0c2d4e-8a1b-4c5d-9e6f-7a8b9c0d1e2f", "controller": true, "blockOwnerDeletion": true}]},
        "spec": pod_spec(),
        "status": {"phase": "Pending", "qosClass": "Burstable"}
    });
    review(
        uid,
        "",
        "v1",
        "Pod",
        "pods",
        "",
        obj,
        "system:serviceaccount:kube-system:replicaset-controller",
    )
}

#[allow(clippy::too_many_arguments)]
fn review(
    uid: u64,
    group: &str,
    version: &str,
    kind: &str,
    resource: &str,
    name: &str,
    obj: Value,
    user: &str,
) -> Value {
    json!({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {
            "uid": format!("6f1f8a5e-0000-4000-8000-{uid:012}"),
            "kind": {"group": group, "version": version, "kind": kind},
            "resource": {"group": group, "version": version, "resource": resource},
            "requestKind": {"group": group, "version": version, "kind": kind},
            "requestResource": {"group": group, "version": version, "resource": resource},
            "name": name, "namespace": "shop", "operation": "CREATE",
            "userInfo": {"username": user, "uid": "b1a2c3d4", "groups": ["system:authenticated"]},
            "object": obj, "oldObject": null, "dryRun": false,
            "options": {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1", "fieldManager": "kubectl-client-side-apply"}
        }
    })
}
