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
//! constraint) when set, else from a small template written here.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rampart_manifest::Object;
use rampart_policy::{Engine, PolicySet};
use serde_json::json;
use std::path::Path;

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

fn library_policies(dir: &Path) -> Vec<Object> {
    let mut paths = Vec::new();
    let psp = dir.join("pod-security-policy");
    for e in std::fs::read_dir(&psp)
        .expect("pod-security-policy dir")
        .flatten()
    {
        let t = e.path().join("template.yaml");
        if !t.exists() {
            continue;
        }
        paths.push(t);
        let mut samples: Vec<_> = std::fs::read_dir(e.path().join("samples"))
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
    }
    let loaded = rampart_manifest::load_paths(&paths);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    loaded.objects
}

fn policies() -> (String, Vec<Object>) {
    match std::env::var("RAMPART_BENCH_GATEKEEPER_LIBRARY") {
        Ok(dir) => ("library-psp".into(), library_policies(Path::new(&dir))),
        Err(_) => (
            "small".into(),
            rampart_manifest::load_str("bench.yaml", SMALL).objects,
        ),
    }
}

fn bench(c: &mut Criterion) {
    let pods = pods();
    let (name, objs) = policies();
    let mut g = c.benchmark_group("policy");
    g.throughput(Throughput::Elements(pods.len() as u64));
    g.sample_size(10);
    for (engine, label) in [(Engine::Rego, "rego"), (Engine::Cel, "cel")] {
        let set = PolicySet::from_objects(objs.clone()).with_engine(engine);
        assert!(set.problems().is_empty(), "{:?}", set.problems());
        let session = set.session(&[]);
        g.bench_function(format!("gatekeeper-{name}-{label}"), |b| {
            b.iter(|| {
                pods.iter()
                    .map(|p| session.evaluate(p).violations.len())
                    .sum::<usize>()
            })
        });
    }
    let vap = PolicySet::from_objects(rampart_manifest::load_str("vap.yaml", VAP).objects);
    let session = vap.session(&[]);
    g.bench_function("vap-cel", |b| {
        b.iter(|| {
            pods.iter()
                .map(|p| session.evaluate(p).violations.len())
                .sum::<usize>()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
