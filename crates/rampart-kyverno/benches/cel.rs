//! Kyverno CEL policies on one pod: the per-request cost at admission of N policies.
//!
//! Policies come from `RAMPART_BENCH_KYVERNO_LIBRARY` (a kyverno/policies checkout: every
//! policy file under `pod-security-vpol/` — ValidatingPolicies — and `pod-security-cel/` —
//! ClusterPolicies with `validate.cel` rules) when set, else from the small set written here.
//! `kyverno-cel/<set>/all-N` evaluates the pod through every policy of the set (time per pod);
//! `kyverno-cel/<set>/<policy>` through one.
//!
//! Times are the bench thread's CPU time (`/proc/thread-self/schedstat`), not wall time, so
//! that other work on a shared machine does not count: one core's throughput.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use criterion::measurement::WallTime;
use criterion::{Criterion, criterion_group, criterion_main};
use rampart_kyverno::{AdmissionInfo, PolicySet};
use serde_json::json;
use std::hint::black_box;
use std::path::{Path, PathBuf};

use std::time::Duration;

#[path = "../../rampart-policy/benches/support/cpu_time.rs"]
mod cpu_time;
use cpu_time::CpuTime;

const SMALL: &str = r#"
apiVersion: policies.kyverno.io/v1alpha1
kind: ValidatingPolicy
metadata: {name: host-ports}
spec:
  matchConstraints:
    resourceRules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [pods]}]
  variables:
  - name: allContainers
    expression: object.spec.containers + object.spec.?initContainers.orValue([])
  validations:
  - expression: variables.allContainers.all(c, c.?ports.orValue([]).all(p, p.?hostPort.orValue(0) == 0))
    message: host ports are not allowed
---
apiVersion: policies.kyverno.io/v1alpha1
kind: ValidatingPolicy
metadata: {name: privileged}
spec:
  matchConstraints:
    resourceRules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [pods]}]
  validations:
  - expression: object.spec.containers.all(c, !c.?securityContext.?privileged.orValue(false))
    messageExpression: "'privileged container in ' + object.metadata.name"
"#;

fn pod() -> serde_json::Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "namespace": "apps", "labels": {"app": "web"}},
        "spec": {
            "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
            "volumes": [{"name": "data", "emptyDir": {}}],
            "containers": [
                {"name": "app", "image": "nginx:1.27", "ports": [{"containerPort": 8080}],
                 "resources": {"limits": {"memory": "512Mi", "cpu": "500m"}},
                 "securityContext": {"privileged": false, "allowPrivilegeEscalation": false,
                                     "capabilities": {"drop": ["ALL"]}}},
                {"name": "sidecar", "image": "envoy:1.30",
                 "resources": {"limits": {"memory": "128Mi", "cpu": "100m"}},
                 "securityContext": {"readOnlyRootFilesystem": true}}
            ]
        }
    })
}

/// Policy files below `dir`, outside the tests' `.kyverno-test` directories.
fn policy_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("policy dir").flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if p.is_dir() {
                if !name.starts_with('.') {
                    stack.push(p);
                }
            } else if name.ends_with(".yaml") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The sets to measure, by name, each as its policy files (or the small set's text).
fn sets() -> Vec<(String, Vec<(String, PolicySet)>)> {
    let one = |paths: &[PathBuf]| {
        let (set, errors) = PolicySet::load(paths);
        assert!(errors.is_empty(), "{errors:?}");
        set
    };
    match std::env::var("RAMPART_BENCH_KYVERNO_LIBRARY") {
        Ok(dir) => ["pod-security-vpol", "pod-security-cel"]
            .into_iter()
            .map(|set| {
                let files = policy_files(&Path::new(&dir).join(set));
                let mut policies = vec![("all".to_string(), one(&files))];
                policies.extend(files.iter().map(|f| {
                    let name = f.file_stem().unwrap().to_string_lossy().into_owned();
                    (name, one(std::slice::from_ref(f)))
                }));
                (set.to_string(), policies)
            })
            .collect(),
        Err(_) => {
            let (set, errors) = PolicySet::from_str("bench.yaml", SMALL);
            assert!(errors.is_empty(), "{errors:?}");
            vec![("small".into(), vec![("all".into(), set)])]
        }
    }
}

fn bench(c: &mut Criterion<CpuTime>) {
    let pod = pod();
    let info = AdmissionInfo {
        request: Some(json!({"operation": "CREATE", "object": pod.clone()})),
        ..AdmissionInfo::default()
    };
    let mut g = c.benchmark_group("kyverno-cel");
    g.sample_size(20);
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(2));
    for (name, policies) in sets() {
        let n = policies.len().saturating_sub(1).max(2);
        for (policy, set) in policies {
            let results = set.evaluate(&pod, &info);
            assert!(!results.is_empty(), "{name}/{policy}: no rule applies");
            let id = if policy == "all" {
                format!("{name}/all-{n}")
            } else {
                format!("{name}/{policy}")
            };
            g.bench_function(id, |b| b.iter(|| set.evaluate(black_box(&pod), &info)));
        }
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(CpuTime { wall: WallTime });
    targets = bench
}
criterion_main!(benches);
