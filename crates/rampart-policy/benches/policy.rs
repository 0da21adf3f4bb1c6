#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! Policy throughput: pods per second through Gatekeeper templates (Rego, and their CEL code)
//! and a ValidatingAdmissionPolicy.
//!
//! Templates come from `RAMPART_BENCH_GATEKEEPER_LIBRARY` (a gatekeeper-library checkout's
//! `library/` directory: every `pod-security-policy/*/template.yaml` with its first sample
//! constraint) when set, else from a small template written here. Each template is measured
//! on its own (`gatekeeper-template/<engine>/<template>`: 1,000 pods, so µs per pod is µs per
//! evaluation) and all of them together (`policy/gatekeeper-<set>-<engine>`: pods/s).
//!
//! Times are the bench thread's CPU time (`/proc/thread-self/schedstat`), not wall time, so
//! that other work on a shared machine does not count: one core's throughput. The allocator
//! is mimalloc, as in the `rampart` binary and the server: regorus allocates on every step,
//! and the system allocator would make these figures about a third slower than what ships.

use criterion::measurement::WallTime;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rampart_manifest::Object;
use rampart_policy::{Engine, PolicySet};
use serde_json::json;
use std::path::Path;
use std::time::Duration;

#[path = "support/cpu_time.rs"]
mod cpu_time;
use cpu_time::CpuTime;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const PODS: usize = 1_000;

const SMALL: &str = r#"
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {name: k8sbenchprivileged}
spec:
  crd: {spec: {names: {kind: K8sBenchPrivileged}}}
  targets:
  - target: admission.k8s.gatekeeper.sh
    code:
    - engine: K8sNativeValidation
      source:
        variables:
        - name: bad
          expression: "variables.anyObject.spec.containers.filter(c, has(c.securityContext) && has(c.securityContext.privileged) && c.securityContext.privileged)"
        validations:
        - expression: "size(variables.bad) == 0"
          messageExpression: "'privileged: ' + variables.bad.map(c, c.name).join(', ')"
    - engine: Rego
      source:
        rego: |
          package k8sbenchprivileged
          violation[{"msg": msg}] {
            c := input.review.object.spec.containers[_]
            c.securityContext.privileged
            not startswith(c.image, input.parameters.exemptPrefix)
            msg := sprintf("privileged container %v", [c.name])
          }
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sBenchPrivileged
metadata: {name: bench-privileged}
spec:
  match: {kinds: [{apiGroups: [""], kinds: [Pod]}], excludedNamespaces: ["kube-*"]}
  parameters: {exemptPrefix: "registry.internal/"}
"#;

const VAP: &str = r#"
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: bench-vap}
spec:
  matchConstraints:
    resourceRules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}]
  variables:
  - name: containers
    expression: "object.spec.containers"
  validations:
  - expression: "variables.containers.all(c, !has(c.securityContext) || !has(c.securityContext.privileged) || !c.securityContext.privileged)"
    messageExpression: "'privileged container in ' + object.metadata.name"
  - expression: "variables.containers.all(c, !c.image.endsWith(':latest'))"
    message: "no latest tags"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: bench-vap}
spec: {policyName: bench-vap, validationActions: [Deny]}
"#;

fn pods() -> Vec<Object> {
    (0..PODS)
        .map(|i| {
            let v = json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": format!("pod-{i}"), "namespace": format!("ns-{}", i % 7), "labels": {"app": "web"}},
                "spec": {
                    "hostNetwork": i % 11 == 0,
                    "securityContext": {"runAsNonRoot": i % 2 == 0, "seccompProfile": {"type": "RuntimeDefault"}},
                    "volumes": [{"name": "data", "emptyDir": {}}],
                    "containers": [
                        {"name": "app", "image": if i % 5 == 0 { "nginx:latest" } else { "nginx:1.27" },
                         "securityContext": {"privileged": i % 3 == 0, "runAsUser": 1000 + i, "allowPrivilegeEscalation": false,
                                              "capabilities": {"drop": ["ALL"], "add": if i % 4 == 0 { vec!["NET_ADMIN"] } else { vec![] }}},
                         "ports": [{"containerPort": 8080}]},
                        {"name": "sidecar", "image": "registry.internal/proxy:2", "securityContext": {"readOnlyRootFilesystem": true}}
                    ]
                }
            });
            Object::from_value(v, "bench.yaml")
        })
        .collect()
}

/// Each `pod-security-policy/*/template.yaml` of a gatekeeper-library checkout with its first
/// sample constraint, by template directory name.
fn library_templates(dir: &Path) -> Vec<(String, Vec<Object>)> {
    let mut dirs: Vec<_> = std::fs::read_dir(dir.join("pod-security-policy"))
        .expect("pod-security-policy dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("template.yaml").exists())
        .collect();
    dirs.sort();
    dirs.into_iter()
        .map(|d| {
            let mut paths = vec![d.join("template.yaml")];
            let mut samples: Vec<_> = std::fs::read_dir(d.join("samples"))
                .into_iter()
                .flatten()
                .flatten()
                .map(|s| s.path())
                .collect();
            samples.sort();
            if let Some(c) = samples
                .into_iter()
                .map(|s| s.join("constraint.yaml"))
                .find(|c| c.exists())
            {
                paths.push(c);
            }
            let loaded = rampart_manifest::load_paths(&paths);
            assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
            let name = d.file_name().unwrap().to_string_lossy().into_owned();
            (name, loaded.objects)
        })
        .collect()
}

/// The templates to measure, one by one: the library's PSP templates when
/// `RAMPART_BENCH_GATEKEEPER_LIBRARY` is set, else the small template above.
fn templates() -> (String, Vec<(String, Vec<Object>)>) {
    match std::env::var("RAMPART_BENCH_GATEKEEPER_LIBRARY") {
        Ok(dir) => ("library-psp".into(), library_templates(Path::new(&dir))),
        Err(_) => (
            "small".into(),
            vec![(
                "privileged".into(),
                rampart_manifest::load_str("bench.yaml", SMALL).objects,
            )],
        ),
    }
}

/// Evaluates every pod once through a session; the violation count keeps the work observable.
fn run(session: &rampart_policy::Session<'_>, pods: &[Object]) -> usize {
    pods.iter()
        .map(|p| session.evaluate(p).violations.len())
        .sum::<usize>()
}

/// `policy/gatekeeper-<set>-<engine>`: pods/s through every template of the set at once;
/// `gatekeeper-template/<engine>/<template>`: evaluations/s of one template (one constraint)
/// on its own, the time per pod being the time of one evaluation.
fn bench(c: &mut Criterion<CpuTime>) {
    let pods = pods();
    let (name, templates) = templates();
    let all: Vec<Object> = templates.iter().flat_map(|(_, o)| o.clone()).collect();
    let engines = [(Engine::Rego, "rego"), (Engine::Cel, "cel")];
    let mut g = c.benchmark_group("policy");
    g.throughput(Throughput::Elements(pods.len() as u64));
    g.sample_size(10);
    for (engine, label) in engines {
        let set = PolicySet::from_objects(all.clone()).with_engine(engine);
        assert!(set.problems().is_empty(), "{:?}", set.problems());
        let session = set.session(&[]);
        g.bench_function(format!("gatekeeper-{name}-{label}"), |b| {
            b.iter(|| run(&session, &pods))
        });
    }
    let vap = PolicySet::from_objects(rampart_manifest::load_str("vap.yaml", VAP).objects);
    let session = vap.session(&[]);
    g.bench_function("vap-cel", |b| b.iter(|| run(&session, &pods)));
    g.finish();

    let mut g = c.benchmark_group("gatekeeper-template");
    g.throughput(Throughput::Elements(pods.len() as u64));
    g.sample_size(10);
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(2));
    for (engine, label) in engines {
        for (template, objs) in &templates {
            let set = PolicySet::from_objects(objs.clone()).with_engine(engine);
            assert!(set.problems().is_empty(), "{:?}", set.problems());
            assert_eq!(set.len(), 1, "{template}: one constraint");
            let session = set.session(&[]);
            g.bench_function(format!("{label}/{template}"), |b| {
                b.iter(|| run(&session, &pods))
            });
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
