//! A synthetic cluster, for tests and benchmarks: namespaces of apps (a Deployment, its
//! ReplicaSet and two Pods, a Service, a ServiceAccount, a Secret with data, a Role and its
//! binding), half of the namespaces with a default-deny NetworkPolicy and Pod Security labels,
//! nodes, cluster roles, a policy engine's webhook that fails open and exempts namespaces, a
//! ValidatingAdmissionPolicy and a control-plane mirror pod. Objects are as `kubectl get -o
//! json` shows them (with `apiVersion` and `kind`).

// `value["key"] = …` on a serde_json object inserts the key; every value indexed here is an
// object literal built just above, so the indexing cannot panic.
#![allow(clippy::indexing_slicing)]

use serde_json::{Value, json};

/// The base64 of the value every generated Secret holds: no report may ever contain it.
pub const SECRET_VALUE_B64: &str = "c3VwZXJzZWNyZXQtdmFsdWU=";

/// `namespaces` namespaces of `apps` apps each, plus the cluster-scoped objects;
/// `9 × namespaces × apps + 2 × namespaces + 20`-odd objects in all.
pub fn cluster(namespaces: usize, apps: usize) -> Vec<Value> {
    let mut out = Vec::new();
    let meta = |name: &str, ns: &str| {
        json!({"name": name, "namespace": ns, "uid": format!("uid-{ns}-{name}"), "resourceVersion": "1",
               "creationTimestamp": "2026-01-01T00:00:00Z"})
    };
    for n in 0..namespaces {
        let ns = format!("team-{n:03}");
        let mut labels = json!({"kubernetes.io/metadata.name": ns});
        if n % 2 == 0 {
            labels["pod-security.kubernetes.io/enforce"] = json!("baseline");
            labels["pod-security.kubernetes.io/warn"] = json!("restricted");
        }
        if n % 5 == 4 {
            labels["policy"] = json!("off");
        }
        out.push(json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": ns, "labels": labels, "uid": format!("uid-ns-{ns}"), "resourceVersion": "1",
                         "managedFields": [{"manager": "kubectl", "operation": "Update"}]},
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}));
        if n % 2 == 0 {
            let mut m = meta("default-deny", &ns);
            m["labels"] = json!({"app.kubernetes.io/managed-by": "rampart-test"});
            out.push(
                json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": m,
                "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}),
            );
        }
        for a in 0..apps {
            let app = format!("app-{a:03}");
            let privileged = (n + a) % 7 == 0;
            let image = if a % 3 == 0 {
                format!("registry.example.com/{app}:latest")
            } else {
                format!("registry.example.com/{app}:1.{a}.0")
            };
            let mut container = json!({"name": app, "image": image,
                "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
                "env": [{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": format!("{app}-db"), "key": "password"}}}]});
            if privileged {
                container["securityContext"] = json!({"privileged": true});
            } else if a % 2 == 0 {
                container["securityContext"] = json!({"allowPrivilegeEscalation": false, "runAsNonRoot": true,
                    "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}, "readOnlyRootFilesystem": true});
            }
            let pod_spec = json!({"serviceAccountName": app, "containers": [container]});
            let labels = json!({"app": app});
            let mut dm = meta(&app, &ns);
            dm["labels"] = labels.clone();
            dm["generation"] = json!(1);
            out.push(
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": dm,
                "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                         "template": {"metadata": {"labels": labels}, "spec": pod_spec}},
                "status": {"replicas": 2, "readyReplicas": 2}}),
            );
            let rs = format!("{app}-5d9c7b");
            let mut rm = meta(&rs, &ns);
            rm["labels"] = labels.clone();
            rm["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": "Deployment", "name": app,
                "uid": format!("uid-{ns}-{app}"), "controller": true, "blockOwnerDeletion": true}]);
            out.push(
                json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": rm,
                "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                         "template": {"metadata": {"labels": labels}, "spec": pod_spec}},
                "status": {"replicas": 2}}),
            );
            for p in 0..2 {
                let pod = format!("{rs}-x{p}");
                let mut pm = meta(&pod, &ns);
                pm["labels"] = labels.clone();
                pm["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs,
                    "uid": format!("uid-{ns}-{rs}"), "controller": true, "blockOwnerDeletion": true}]);
                let mut spec = pod_spec.clone();
                spec["nodeName"] = json!(format!("node-{}", (n + a + p) % 5));
                out.push(json!({"apiVersion": "v1", "kind": "Pod", "metadata": pm, "spec": spec,
                    "status": {"phase": "Running", "podIP": format!("10.{}.{}.{}", n % 250, a % 250, p + 1)}}));
            }
            let svc_type = if a % 10 == 1 {
                "LoadBalancer"
            } else {
                "ClusterIP"
            };
            out.push(json!({"apiVersion": "v1", "kind": "Service", "metadata": meta(&app, &ns),
                "spec": {"type": svc_type, "selector": labels, "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}]}}));
            out.push(
                json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(&app, &ns)}),
            );
            let mut sm = meta(&format!("{app}-db"), &ns);
            sm["annotations"] = json!({"kubectl.kubernetes.io/last-applied-configuration":
                format!("{{\"apiVersion\":\"v1\",\"data\":{{\"password\":\"{SECRET_VALUE_B64}\"}},\"kind\":\"Secret\"}}")});
            out.push(
                json!({"apiVersion": "v1", "kind": "Secret", "metadata": sm, "type": "Opaque",
                "data": {"password": SECRET_VALUE_B64}}),
            );
            let verbs = if a % 4 == 0 {
                json!(["get", "list", "watch"])
            } else {
                json!(["get"])
            };
            let resources = if a % 4 == 0 {
                json!(["secrets"])
            } else {
                json!(["configmaps"])
            };
            out.push(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta(&app, &ns),
                "rules": [{"apiGroups": [""], "resources": resources, "verbs": verbs}]}));
            out.push(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": meta(&app, &ns),
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": app},
                "subjects": [{"kind": "ServiceAccount", "name": app, "namespace": ns}]}));
        }
    }
    for i in 0..5 {
        out.push(json!({"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": format!("node-{i}"), "labels": {"kubernetes.io/hostname": format!("node-{i}")}},
            "spec": {"podCIDR": format!("10.244.{i}.0/24"), "providerID": format!("aws:///eu-west-1a/i-{i:017x}")},
            "status": {"nodeInfo": {"kubeletVersion": "v1.33.1"}}}));
    }
    out.push(json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "kube-system", "labels": {"kubernetes.io/metadata.name": "kube-system"}}}));
    out.push(json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "kube-apiserver-node-0", "namespace": "kube-system",
                     "annotations": {"kubernetes.io/config.mirror": "abc"},
                     "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": "node-0", "uid": "uid-node-0", "controller": true}]},
        "spec": {"hostNetwork": true, "nodeName": "node-0", "containers": [{"name": "kube-apiserver",
            "image": "registry.k8s.io/kube-apiserver:v1.33.1",
            "command": ["kube-apiserver", "--anonymous-auth=true", "--authorization-mode=Node,RBAC",
                        "--profiling=true", "--etcd-servers=https://127.0.0.1:2379"]}]}}));
    out.push(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": "cluster-admin"}, "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]}));
    out.push(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": "secret-reader"}, "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}]}));
    out.push(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": "ci-admin"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "ServiceAccount", "name": "app-000", "namespace": "team-000"}]}));
    out.push(json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "kyverno-resource-validating-webhook-cfg"},
        "webhooks": [{"name": "validate.kyverno.svc-fail", "failurePolicy": "Ignore", "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
            "clientConfig": {"service": {"namespace": "kyverno", "name": "kyverno-svc", "path": "/validate"}},
            "namespaceSelector": {"matchExpressions": [{"key": "policy", "operator": "NotIn", "values": ["off"]}]},
            "rules": [{"operations": ["CREATE", "UPDATE"], "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"]}]}]}));
    out.push(json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": "cert-manager-webhook"},
        "webhooks": [{"name": "webhook.cert-manager.io", "failurePolicy": "Fail", "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
            "clientConfig": {"service": {"namespace": "cert-manager", "name": "cert-manager-webhook"}},
            "rules": [{"operations": ["CREATE"], "apiGroups": ["cert-manager.io"], "apiVersions": ["v1"], "resources": ["certificates"]}]}]}));
    out.push(json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": "no-host-network"},
        "spec": {"failurePolicy": "Ignore", "matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"]}]},
                 "validations": [{"expression": "!has(object.spec.hostNetwork) || !object.spec.hostNetwork"}]}}));
    out.push(json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": "no-host-network"},
        "spec": {"policyName": "no-host-network", "validationActions": ["Warn"]}}));
    out
}

/// The objects as one `kubectl get … -o json` `List`.
pub fn list(items: &[Value]) -> Value {
    json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items})
}

/// What `GET /api/v1/nodes/<node>/proxy/configz` answers for a generated node: a kubeadm
/// kubelet's running configuration (`node-0`'s allows anonymous requests and serves the
/// read-only port, the others are hardened).
pub fn kubelet_configz(node: &str) -> Value {
    let lax = node == "node-0";
    json!({"kubeletconfig": {
        "enableServer": true,
        "staticPodPath": "/etc/kubernetes/manifests",
        "syncFrequency": "1m0s",
        "authentication": {
            "x509": {"clientCAFile": "/etc/kubernetes/pki/ca.crt"},
            "webhook": {"enabled": true, "cacheTTL": "2m0s"},
            "anonymous": {"enabled": lax}
        },
        "authorization": {"mode": if lax { "AlwaysAllow" } else { "Webhook" },
                          "webhook": {"cacheAuthorizedTTL": "5m0s", "cacheUnauthorizedTTL": "30s"}},
        "readOnlyPort": if lax { 10255 } else { 0 },
        "streamingConnectionIdleTimeout": "4h0m0s",
        "makeIPTablesUtilChains": true,
        "eventRecordQPS": 50,
        "rotateCertificates": true,
        "serverTLSBootstrap": true,
        "tlsCipherSuites": ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"],
        "podPidsLimit": 4096,
        "clusterDomain": "cluster.local",
        "clusterDNS": ["10.96.0.10"],
        "cgroupDriver": "systemd"
    }})
}

/// Writes each node's configz response of `items` where a dump keeps it,
/// `<dir>/nodes/<name>/configz.json`.
pub fn write_configz(dir: &std::path::Path, items: &[Value]) -> std::io::Result<()> {
    for node in items
        .iter()
        .filter(|o| o.get("kind").and_then(Value::as_str) == Some("Node"))
        .filter_map(|o| o.pointer("/metadata/name").and_then(Value::as_str))
    {
        let d = dir.join("nodes").join(node);
        std::fs::create_dir_all(&d)?;
        std::fs::write(d.join("configz.json"), kubelet_configz(node).to_string())?;
    }
    Ok(())
}
