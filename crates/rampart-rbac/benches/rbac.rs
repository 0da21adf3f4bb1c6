//! A generated RBAC set of 10,000 roles and 50,000 bindings (plus 2,000 workloads): who-can,
//! risks and paths.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use criterion::{Criterion, criterion_group, criterion_main};
use rampart_manifest::Object;
use rampart_rbac::{Options, Policy, Request};
use serde_json::{Value, json};
use std::hint::black_box;
use std::time::Duration;

const NAMESPACES: usize = 100;

fn rule(i: usize) -> Value {
    match i % 9 {
        0 => {
            json!({"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list", "watch"]})
        }
        1 => {
            json!({"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"], "resourceNames": [format!("s{i}")]})
        }
        2 => {
            json!({"apiGroups": ["apps"], "resources": ["deployments", "deployments/scale"], "verbs": ["get", "update", "patch"]})
        }
        3 => json!({"apiGroups": [""], "resources": ["configmaps"], "verbs": ["*"]}),
        4 => {
            json!({"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"], "verbs": ["create", "delete"]})
        }
        5 => json!({"apiGroups": [""], "resources": ["pods"], "verbs": ["create"]}),
        6 => json!({"apiGroups": ["example.com"], "resources": ["*"], "verbs": ["get", "list"]}),
        7 => json!({"nonResourceURLs": ["/metrics", "/healthz/*"], "verbs": ["get"]}),
        _ => json!({"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}),
    }
}

fn generate() -> Vec<Object> {
    let mut out = Vec::new();
    let push = |out: &mut Vec<Object>, v: Value| out.push(Object::from_value(v, "generated.yaml"));
    for i in 0..5_000 {
        let rules: Vec<Value> = (0..4).map(|k| rule(i * 7 + k)).collect();
        push(
            &mut out,
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": format!("cr-{i}"), "labels": {"team": format!("t{}", i % 50)}}, "rules": rules}),
        );
    }
    for i in 0..5_000 {
        let rules: Vec<Value> = (0..4).map(|k| rule(i * 5 + k + 1)).collect();
        push(
            &mut out,
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": format!("r-{i}"), "namespace": format!("ns-{}", i % NAMESPACES)}, "rules": rules}),
        );
    }
    for i in 0..10_000 {
        push(
            &mut out,
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": format!("crb-{i}")},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": format!("cr-{}", (i * 13) % 5_000)},
            "subjects": [{"kind": "User", "name": format!("user-{}", i % 3_000)},
                         {"kind": "ServiceAccount", "name": format!("sa-{}", i % 20), "namespace": format!("ns-{}", i % NAMESPACES)}]}),
        );
    }
    for i in 0..40_000 {
        let ns = format!("ns-{}", i % NAMESPACES);
        let role_ref = if i % 2 == 0 {
            json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": format!("r-{}", (i / 2) % 5_000 / NAMESPACES * NAMESPACES + i % NAMESPACES)})
        } else {
            json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": format!("cr-{}", (i * 7) % 5_000)})
        };
        push(
            &mut out,
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": format!("rb-{i}"), "namespace": ns}, "roleRef": role_ref,
            "subjects": [{"kind": "ServiceAccount", "name": format!("sa-{}", i % 20)},
                         {"kind": "Group", "name": format!("group-{}", i % 200)}]}),
        );
    }
    for i in 0..2_000 {
        push(
            &mut out,
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": format!("web-{i}"), "namespace": format!("ns-{}", i % NAMESPACES)},
            "spec": {"template": {"spec": {"serviceAccountName": format!("sa-{}", i % 20),
                "containers": [{"name": "app", "image": "example.com/app:1"}]}}}}),
        );
    }
    out
}

fn bench(c: &mut Criterion) {
    let objects = generate();
    let policy = Policy::from_objects(&objects, Options::default());
    assert_eq!(policy.roles.iter().filter(|r| !r.bootstrap).count(), 10_000);
    assert_eq!(
        policy.bindings.iter().filter(|b| !b.bootstrap).count(),
        50_000
    );
    eprintln!(
        "generated: {} objects; risks: {} findings; paths: {} findings",
        objects.len(),
        rampart_rbac::risks_findings(&objects).len(),
        rampart_rbac::paths_findings(&objects).len()
    );
    let mut g = c.benchmark_group("rbac-10k-roles-50k-bindings");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(5))
        .warm_up_time(Duration::from_secs(1));
    g.bench_function("build-policy", |b| {
        b.iter(|| Policy::from_objects(black_box(&objects), Options::default()))
    });
    let req = Request::resource("list", "ns-7", "", "secrets", "", "");
    g.bench_function("who-can list secrets -n ns-7", |b| {
        b.iter(|| policy.who_can(black_box(&req)).len())
    });
    let pods = Request::resource("create", "ns-42", "", "pods", "", "");
    g.bench_function("who-can create pods -n ns-42", |b| {
        b.iter(|| policy.who_can(black_box(&pods)).len())
    });
    g.bench_function("risks (build + analyze)", |b| {
        b.iter(|| rampart_rbac::risks_findings(black_box(&objects)).len())
    });
    g.bench_function("paths (build + analyze)", |b| {
        b.iter(|| rampart_rbac::paths_findings(black_box(&objects)).len())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
