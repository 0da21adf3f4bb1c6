#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! Detection throughput: Falco's k8s_audit rules (from `RAMPART_BENCH_FALCO_RULES`, else
//! rampart's own) over a generated stream of realistic audit events.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rampart_audit::{RulesSource, Ruleset, Scratch};
use rayon::prelude::*;
use serde_json::{Value, json};

const N: usize = 20_000;

fn event(i: usize) -> Value {
    let ts = format!(
        "2024-05-01T12:{:02}:{:02}.{:06}Z",
        (i / 60) % 60,
        i % 60,
        i % 1_000_000
    );
    let base = |verb: &str,
                user: &str,
                groups: &[&str],
                resource: &str,
                ns: &str,
                name: &str,
                code: u32| {
        json!({
            "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata",
            "auditID": format!("{i:08x}-7b09-4964-af09-b7987367e1ba"), "stage": "ResponseComplete",
            "requestURI": format!("/api/v1/namespaces/{ns}/{resource}/{name}"), "verb": verb,
            "user": {"username": user, "groups": groups},
            "sourceIPs": ["10.0.0.12"], "userAgent": "kube-controller-manager/v1.30.0",
            "objectRef": {"resource": resource, "namespace": ns, "name": name, "apiVersion": "v1"},
            "responseStatus": {"metadata": {}, "code": code},
            "requestReceivedTimestamp": ts, "stageTimestamp": ts,
            "annotations": {"authorization.k8s.io/decision": "allow", "authorization.k8s.io/reason": "RBAC: allowed by ClusterRoleBinding"}
        })
    };
    match i % 20 {
        0..=7 => base(
            "get",
            "system:node:node-1",
            &["system:nodes", "system:authenticated"],
            "configmaps",
            "kube-system",
            "kube-proxy",
            200,
        ),
        8..=10 => base(
            "watch",
            "system:kube-controller-manager",
            &["system:authenticated"],
            "endpoints",
            "default",
            "",
            200,
        ),
        11 => base(
            "list",
            "system:serviceaccount:monitoring:prometheus",
            &["system:serviceaccounts"],
            "pods",
            "",
            "",
            200,
        ),
        12 => base(
            "get",
            "jane@example.com",
            &["devs", "system:authenticated"],
            "secrets",
            "prod",
            "db-password",
            200,
        ),
        13 => base(
            "update",
            "system:kube-scheduler",
            &["system:authenticated"],
            "leases",
            "kube-system",
            "kube-scheduler",
            200,
        ),
        14 => {
            let mut e = base(
                "create",
                "system:serviceaccount:kube-system:replicaset-controller",
                &["system:serviceaccounts"],
                "pods",
                "prod",
                "",
                201,
            );
            e["level"] = json!("RequestResponse");
            e["requestObject"] = json!({"kind": "Pod", "apiVersion": "v1", "metadata": {"generateName": "web-"},
                "spec": {"containers": [{"name": "web", "image": "registry.example.com/web:1.4", "securityContext": {"privileged": i % 40 == 14}},
                                        {"name": "proxy", "image": "envoyproxy/envoy:v1.30"}],
                         "initContainers": [{"name": "init", "image": "busybox:1.36"}],
                         "volumes": [{"name": "data", "emptyDir": {}}, {"name": "logs", "hostPath": {"path": "/var/log"}}]}});
            e["responseObject"] = json!({"metadata": {"name": format!("web-{i}")}});
            e
        }
        15 => {
            let mut e = base(
                "create",
                "jane@example.com",
                &["devs"],
                "pods",
                "prod",
                "web-1",
                101,
            );
            e["stage"] = json!("ResponseStarted");
            e["objectRef"]["subresource"] = json!("exec");
            e["requestURI"] = json!(
                "/api/v1/namespaces/prod/pods/web-1/exec?command=sh&container=web&stdin=true&tty=true"
            );
            e
        }
        16 => {
            let mut e = base(
                "create",
                "admin",
                &["system:masters"],
                "configmaps",
                "prod",
                "app-config",
                201,
            );
            e["requestObject"] =
                json!({"data": {"app.properties": "color=blue\npassword=hunter2\n"}});
            e
        }
        17 => {
            let mut e = base(
                "create",
                "admin",
                &["system:masters"],
                "clusterrolebindings",
                "",
                "ops",
                201,
            );
            e["objectRef"] = json!({"resource": "clusterrolebindings", "name": "ops", "apiGroup": "rbac.authorization.k8s.io"});
            e["requestObject"] = json!({"roleRef": {"name": if i.is_multiple_of(3) { "cluster-admin" } else { "view" }}, "subjects": [{"kind": "User", "name": "bob"}]});
            e
        }
        18 => base(
            "get",
            "system:anonymous",
            &["system:unauthenticated"],
            "namespaces",
            "",
            "default",
            200,
        ),
        _ => base(
            "delete",
            "ci-bot",
            &["ci"],
            "deployments",
            "staging",
            "api",
            200,
        ),
    }
}

fn rules() -> Ruleset {
    match std::env::var("RAMPART_BENCH_FALCO_RULES") {
        Ok(path) => {
            let text = std::fs::read_to_string(&path).expect("RAMPART_BENCH_FALCO_RULES");
            Ruleset::load(&[RulesSource { name: path, text }]).expect("rules load")
        }
        Err(_) => Ruleset::builtin().expect("builtin rules"),
    }
}

fn bench(c: &mut Criterion) {
    let rules = rules();
    let events: Vec<Value> = (0..N).map(event).collect();
    let lines: Vec<String> = events.iter().map(|e| e.to_string()).collect();
    let mut g = c.benchmark_group("detect");
    g.throughput(Throughput::Elements(N as u64));
    g.sample_size(10);
    g.bench_function("evaluate_parsed_1thread", |b| {
        let mut scratch = Scratch::default();
        let mut out = Vec::new();
        b.iter(|| {
            out.clear();
            for e in &events {
                rules.evaluate_into(e, &mut scratch, &mut out);
            }
            out.len()
        })
    });
    g.bench_function("parse_and_evaluate_1thread", |b| {
        let mut scratch = Scratch::default();
        let mut out = Vec::new();
        b.iter(|| {
            out.clear();
            for l in &lines {
                let e: Value = serde_json::from_str(l).unwrap();
                rules.evaluate_into(&e, &mut scratch, &mut out);
            }
            out.len()
        })
    });
    g.bench_function("parse_and_evaluate_parallel", |b| {
        b.iter(|| {
            lines
                .par_chunks(512)
                .map(|chunk| {
                    let mut scratch = Scratch::default();
                    let mut out = Vec::new();
                    for l in chunk {
                        let e: Value = serde_json::from_str(l).unwrap();
                        rules.evaluate_into(&e, &mut scratch, &mut out);
                    }
                    out.len()
                })
                .sum::<usize>()
        })
    });
    g.finish();
    cpu_throughput(&rules, &lines);
}

/// Process CPU seconds (user + system) from /proc, so the figure does not depend on how many
/// other processes share the cores.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// Events per CPU-second of parse + evaluate on one thread; detection is embarrassingly
/// parallel, so N cores give about N times this.
fn cpu_throughput(rules: &Ruleset, lines: &[String]) {
    let Some(start) = cpu_seconds() else { return };
    let mut scratch = Scratch::default();
    let mut out = Vec::new();
    let mut n = 0u64;
    while cpu_seconds().unwrap_or(start) - start < 3.0 {
        for l in lines {
            let e: Value = serde_json::from_str(l).unwrap();
            rules.evaluate_into(&e, &mut scratch, &mut out);
            out.clear();
        }
        n += lines.len() as u64;
    }
    let cpu = cpu_seconds().unwrap_or(start) - start;
    println!(
        "parse+evaluate, 1 thread: {:.0} events per CPU-second ({n} events in {cpu:.2} CPU-s)",
        n as f64 / cpu
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
