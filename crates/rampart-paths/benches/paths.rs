//! A generated cluster of 10,000 workloads, 50,000 RBAC bindings, 5,000 roles, Services,
//! NetworkPolicies, Secrets and 20 nodes in two pools, built in memory: `analyze` end to end.
#![allow(
    clippy::manual_is_multiple_of,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use criterion::{Criterion, criterion_group, criterion_main};
use rampart_manifest::Object;
use rampart_paths::{Options, analyze};
use serde_json::{Value, json};
use std::hint::black_box;
use std::time::Duration;

const NAMESPACES: usize = 100;
const WORKLOADS: usize = 10_000;
const BINDINGS: usize = 50_000;
const ROLES: usize = 5_000;
const NODES: usize = 20;

fn rule(i: usize) -> Value {
    match i % 8 {
        0 => {
            json!({"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list", "watch"]})
        }
        1 => {
            json!({"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"], "resourceNames": [format!("s{i}")]})
        }
        2 => {
            json!({"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "update", "patch"]})
        }
        3 => json!({"apiGroups": [""], "resources": ["configmaps"], "verbs": ["*"]}),
        4 => json!({"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create", "delete"]}),
        5 => json!({"apiGroups": [""], "resources": ["pods"], "verbs": ["create"]}),
        6 => json!({"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]}),
        _ => json!({"apiGroups": [""], "resources": ["services"], "verbs": ["get", "list"]}),
    }
}

fn workload(i: usize) -> Value {
    let ns = format!("ns-{}", i % NAMESPACES);
    let name = format!("w-{i}");
    let mut container = json!({"name": "app", "image": format!("registry.example.com/app-{i}:1"),
        "ports": [{"containerPort": 8080}]});
    let mut spec = json!({"serviceAccountName": format!("sa-{i}"), "containers": []});
    if i % 50 == 0 {
        container["securityContext"] = json!({"privileged": true});
    }
    if i % 97 == 0 {
        container["volumeMounts"] = json!([{"name": "sock", "mountPath": "/var/run/docker.sock"}]);
        spec["volumes"] = json!([{"name": "sock", "hostPath": {"path": "/var/run/docker.sock"}}]);
    }
    if i % 10 == 1 {
        container["envFrom"] = json!([{"secretRef": {"name": format!("secret-{i}")}}]);
    }
    if i % 3 == 0 {
        spec["nodeSelector"] = json!({"pool": "batch"});
        spec["tolerations"] =
            json!([{"key": "pool", "operator": "Equal", "value": "batch", "effect": "NoSchedule"}]);
    }
    spec["containers"] = json!([container]);
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name, "tier": format!("t{}", i % 4)}},
                              "spec": spec}}})
}

fn generate() -> Vec<Object> {
    let mut out = Vec::new();
    let push = |out: &mut Vec<Object>, v: Value| out.push(Object::from_value(v, "generated.yaml"));
    for n in 0..NODES {
        let mut node = json!({"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": format!("node-{n}"), "labels": {"pool": if n % 2 == 0 { "web" } else { "batch" }}}});
        if n % 2 == 1 {
            node["spec"] =
                json!({"taints": [{"key": "pool", "value": "batch", "effect": "NoSchedule"}]});
        }
        push(&mut out, node);
    }
    for n in 0..NAMESPACES {
        push(
            &mut out,
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": format!("ns-{n}")}}),
        );
        if n % 2 == 0 {
            push(
                &mut out,
                json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                    "metadata": {"name": "same-namespace", "namespace": format!("ns-{n}")},
                    "spec": {"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}]}]}}),
            );
        }
    }
    for i in 0..WORKLOADS {
        push(&mut out, workload(i));
        let ns = format!("ns-{}", i % NAMESPACES);
        push(
            &mut out,
            json!({"apiVersion": "v1", "kind": "ServiceAccount",
                "metadata": {"name": format!("sa-{i}"), "namespace": ns}}),
        );
        // in odd namespaces, which have no NetworkPolicy
        if i % 10 == 3 {
            push(
                &mut out,
                json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": format!("w-{i}"), "namespace": ns},
                    "spec": {"type": "LoadBalancer", "selector": {"app": format!("w-{i}")}, "ports": [{"port": 80, "targetPort": 8080}]}}),
            );
        }
        if i % 10 == 1 {
            push(
                &mut out,
                json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                    "metadata": {"name": format!("secret-{i}"), "namespace": ns}}),
            );
        }
    }
    for r in 0..ROLES {
        let rules: Vec<Value> = (0..3).map(|k| rule(r * 3 + k)).collect();
        push(
            &mut out,
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                "metadata": {"name": format!("cr-{r}")}, "rules": rules}),
        );
    }
    push(
        &mut out,
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "read-secrets"},
            "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}]}),
    );
    for b in 0..BINDINGS {
        let sa = b % WORKLOADS;
        let subject = json!({"kind": "ServiceAccount", "name": format!("sa-{sa}"),
            "namespace": format!("ns-{}", sa % NAMESPACES)});
        let v = if b % 1000 == 0 {
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                "metadata": {"name": format!("crb-{b}")},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                            "name": if b % 2000 == 0 { "read-secrets".to_string() } else { format!("cr-{}", b % ROLES) }},
                "subjects": [subject]})
        } else {
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                "metadata": {"name": format!("rb-{b}"), "namespace": format!("ns-{}", (b / 7) % NAMESPACES)},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": format!("cr-{}", b % ROLES)},
                "subjects": [subject]})
        };
        push(&mut out, v);
    }
    out
}

fn bench(c: &mut Criterion) {
    let objects = generate();
    let started = std::time::Instant::now();
    let analysis = analyze(&objects, &Options::default());
    eprintln!(
        "{} objects: {} paths from {} workloads ({} exposed) in {:?}",
        objects.len(),
        analysis.paths.len(),
        analysis.entries,
        analysis.exposed_entries,
        started.elapsed()
    );
    assert_eq!(analysis.entries, WORKLOADS);
    assert!(!analysis.paths.is_empty());
    assert_eq!(analysis.exposed_entries, WORKLOADS / 10);
    let mut g = c.benchmark_group("paths");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.bench_function("analyze 10k workloads, 50k bindings", |b| {
        b.iter(|| analyze(black_box(&objects), &Options::default()))
    });
    // what `rampart paths` does on a file: parse it, then analyze
    let text: String = objects
        .iter()
        .map(|o| serde_json::to_string(&o.value).unwrap())
        .collect::<Vec<_>>()
        .join("\n---\n");
    g.bench_function("load and analyze 10k workloads, 50k bindings", |b| {
        b.iter(|| {
            let loaded = rampart_manifest::load_str("generated.yaml", black_box(&text));
            analyze(&loaded.objects, &Options::default())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
