//! Pattern, deny and CEL evaluation of one pod: the per-request cost at admission.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use criterion::{Criterion, criterion_group, criterion_main};
use rampart_kyverno::{AdmissionInfo, PolicySet, pattern};
use serde_json::json;
use std::hint::black_box;

const POLICIES: &str = r#"
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: baseline-pattern}
spec:
  rules:
  - name: host-ports
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      pattern:
        spec:
          =(initContainers):
          - =(ports):
            - =(hostPort): 0
          containers:
          - =(ports):
            - =(hostPort): 0
  - name: privileged
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      pattern:
        spec:
          containers:
          - =(securityContext):
              =(privileged): "false"
  - name: limits
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      pattern:
        spec:
          containers:
          - resources:
              limits:
                memory: "<=2Gi"
                cpu: "?*"
---
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: deny-latest}
spec:
  rules:
  - name: no-latest
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      deny:
        conditions:
          any:
          - key: "{{ request.object.spec.containers[].image }}"
            operator: AnyIn
            value: ["*:latest"]
---
apiVersion: policies.kyverno.io/v1alpha1
kind: ValidatingPolicy
metadata: {name: cel-host-ports}
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: ["v1"]
      operations: ["CREATE", "UPDATE"]
      resources: ["pods"]
  validations:
  - expression: object.spec.containers.all(c, c.?ports.orValue([]).all(p, p.?hostPort.orValue(0) == 0))
"#;

fn pod() -> serde_json::Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "namespace": "apps", "labels": {"app": "web"}},
        "spec": {
            "containers": [
                {"name": "app", "image": "nginx:1.27", "ports": [{"containerPort": 8080}],
                 "resources": {"limits": {"memory": "512Mi", "cpu": "500m"}},
                 "securityContext": {"privileged": false}},
                {"name": "sidecar", "image": "envoy:1.30",
                 "resources": {"limits": {"memory": "128Mi", "cpu": "100m"}}}
            ]
        }
    })
}

fn bench(c: &mut Criterion) {
    let (set, errors) = PolicySet::from_str("bench.yaml", POLICIES);
    assert!(errors.is_empty(), "{errors:?}");
    let pod = pod();
    let info = AdmissionInfo::default();
    assert_eq!(set.evaluate(&pod, &info).len(), 5);
    c.bench_function("pattern/match_pattern", |b| {
        let p = json!({"spec": {"containers": [{"=(ports)": [{"=(hostPort)": 0}], "resources": {"limits": {"memory": "<=2Gi"}}}]}});
        b.iter(|| pattern::match_pattern(black_box(&pod), black_box(&p)))
    });
    c.bench_function("policyset/evaluate_pod", |b| {
        b.iter(|| set.evaluate(black_box(&pod), &info))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
