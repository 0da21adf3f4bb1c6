#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! Pod evaluations per second over a mix of passing and failing pods, at every level.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rampart_pss::{Level, Policy, Version, evaluate_pod, failing_checks};
use serde_json::{Map, Value, json};
use std::hint::black_box;

fn container(name: &str, hardened: bool) -> Value {
    if hardened {
        json!({"name": name, "image": "registry.example/app:1.2.3",
               "ports": [{"containerPort": 8080, "protocol": "TCP"}],
               "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}},
               "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
               "securityContext": {"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
                                   "capabilities": {"drop": ["ALL"]}}})
    } else {
        json!({"name": name, "image": "nginx", "ports": [{"containerPort": 80}]})
    }
}

/// A pod's metadata and spec.
type PodParts = (Option<Map<String, Value>>, Map<String, Value>);

fn pods() -> Vec<PodParts> {
    let restricted = json!({
        "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
        "initContainers": [container("init", true)],
        "containers": [container("app", true), container("sidecar", true)],
        "volumes": [{"name": "cfg", "configMap": {"name": "cfg"}}, {"name": "tmp", "emptyDir": {}}],
    });
    let plain = json!({"containers": [container("web", false)]});
    let windows = json!({"os": {"name": "windows"}, "securityContext": {"runAsNonRoot": true},
                         "containers": [{"name": "win", "image": "mcr.microsoft.com/windows"}]});
    let bad = json!({"hostNetwork": true,
                     "containers": [{"name": "bad", "image": "x", "securityContext": {"privileged": true,
                        "capabilities": {"add": ["SYS_ADMIN"]}}, "ports": [{"containerPort": 80, "hostPort": 80}]}],
                     "volumes": [{"name": "root", "hostPath": {"path": "/"}}]});
    let meta = json!({"name": "p", "labels": {"app": "web"}, "annotations": {"team": "a"}});
    [restricted, plain, windows, bad]
        .into_iter()
        .map(|s| (meta.as_object().cloned(), s.as_object().cloned().unwrap()))
        .collect()
}

fn bench(c: &mut Criterion) {
    let pods = pods();
    let mut g = c.benchmark_group("evaluate_pod");
    g.throughput(Throughput::Elements(1));
    for (name, level) in [
        ("restricted", Level::Restricted),
        ("baseline", Level::Baseline),
    ] {
        let policy = Policy::new(level, Version::Latest);
        // the pod every well-run cluster is full of: hardened, passing
        g.bench_function(format!("{name}/passing"), |b| {
            let (m, s) = &pods[0];
            b.iter(|| {
                black_box(evaluate_pod(
                    policy,
                    black_box(m.as_ref()),
                    black_box(s),
                    "/spec",
                ))
            })
        });
        // the mix: one passing, one default pod, one Windows pod, one violating everything
        g.bench_function(format!("{name}/mix"), |b| {
            let mut i = 0usize;
            b.iter(|| {
                let (m, s) = &pods[i % pods.len()];
                i += 1;
                black_box(evaluate_pod(policy, m.as_ref(), s, "/spec"))
            })
        });
        // the same mix, verdict only (what an admission check needs before it words a denial)
        g.bench_function(format!("{name}/mix-verdict"), |b| {
            let mut i = 0usize;
            b.iter(|| {
                let (m, s) = &pods[i % pods.len()];
                i += 1;
                black_box(failing_checks(policy, m.as_ref(), s))
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
