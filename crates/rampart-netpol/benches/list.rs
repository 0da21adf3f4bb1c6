#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! `list` on a generated cluster: 10,000 pods, 2,000 policies.

use criterion::{Criterion, criterion_group, criterion_main};
use rampart_manifest::Object;
use serde_json::json;

/// 50 namespaces; per namespace 20 ReplicaSets of 10 pods each (10,000 pods) and 40 policies
/// (2,000): a default deny, per-app ingress and egress allows with named and numeric ports, a
/// cross-namespace allow and an ipBlock.
fn cluster() -> Vec<Object> {
    let mut objs = Vec::new();
    for n in 0..50 {
        let ns = format!("ns-{n}");
        objs.push(Object::from_value(
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {"team": format!("t{}", n % 5)}}}),
            "gen.yaml",
        ));
        for a in 0..20 {
            for r in 0..10 {
                objs.push(Object::from_value(
                    json!({"apiVersion": "v1", "kind": "Pod",
                        "metadata": {"name": format!("app-{a}-{r}"), "namespace": ns,
                            "labels": {"app": format!("app-{a}"), "tier": format!("tier-{}", a % 4)},
                            "ownerReferences": [{"kind": "ReplicaSet", "name": format!("app-{a}-5d8f"), "controller": true}]},
                        "spec": {"containers": [{"name": "c", "image": "x",
                            "ports": [{"name": "http", "containerPort": 8000 + a}, {"name": "metrics", "containerPort": 9090}]}]}}),
                    "gen.yaml",
                ));
            }
        }
        for p in 0..40 {
            let a = p % 20;
            let spec = match p {
                0 => json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
                1 => {
                    json!({"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}], "ports": [{"port": 53, "protocol": "UDP"}]}]})
                }
                2 => {
                    json!({"podSelector": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["tier-0"]}]},
                    "ingress": [{"from": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": [format!("10.{n}.0.0/16")]}}], "ports": [{"port": 443}]}]})
                }
                _ if p % 2 == 0 => {
                    json!({"podSelector": {"matchLabels": {"app": format!("app-{a}")}},
                    "ingress": [{"from": [{"podSelector": {"matchLabels": {"tier": format!("tier-{}", (a + 1) % 4)}}},
                                          {"namespaceSelector": {"matchLabels": {"team": format!("t{}", n % 5)}}, "podSelector": {"matchLabels": {"app": format!("app-{}", (a + 3) % 20)}}}],
                                 "ports": [{"port": "http"}, {"port": 9000, "endPort": 9100}]}]})
                }
                _ => {
                    json!({"podSelector": {"matchLabels": {"app": format!("app-{a}")}}, "policyTypes": ["Egress"],
                    "egress": [{"to": [{"podSelector": {"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": [format!("tier-{}", a % 4)]}]}}],
                                "ports": [{"port": "http"}]}]})
                }
            };
            objs.push(Object::from_value(
                json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                    "metadata": {"name": format!("np-{p}"), "namespace": ns}, "spec": spec}),
                "gen.yaml",
            ));
        }
    }
    objs
}

fn bench(c: &mut Criterion) {
    let objs = cluster();
    let a = rampart_netpol::analyze(&objs).unwrap();
    eprintln!(
        "{} objects, {} workloads, {} connections",
        objs.len(),
        a.workloads.len(),
        a.connections.len()
    );
    let mut g = c.benchmark_group("netpol");
    g.sample_size(10);
    g.bench_function("list_10k_pods_2k_policies", |b| {
        b.iter(|| {
            let a = rampart_netpol::analyze(&objs).unwrap();
            let out = rampart_netpol::render(&a, rampart_netpol::Format::Txt);
            assert!(!out.is_empty());
            out.len()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
