//! Load and check a generated corpus of manifests: the `rampart scan` hot path.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rampart_rules::Catalog;

/// A realistic Deployment, Service and ServiceAccount per app, some secure and some not.
pub fn corpus(apps: usize) -> String {
    let mut s = String::new();
    for i in 0..apps {
        let secure = i % 2 == 0;
        s.push_str(&format!(
            r#"---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-{i}
  namespace: team-{ns}
  labels: {{app: app-{i}, team: t{ns}}}
spec:
  replicas: 3
  selector:
    matchLabels: {{app: app-{i}}}
  template:
    metadata:
      labels: {{app: app-{i}}}
    spec:
      serviceAccountName: app-{i}
      automountServiceAccountToken: {secure}
      securityContext:
        runAsNonRoot: {secure}
        seccompProfile: {{type: RuntimeDefault}}
      containers:
      - name: app
        image: registry.example.com/app-{i}:1.{i}.0
        ports:
        - containerPort: 8080
        env:
        - name: LOG_LEVEL
          value: info
        - name: DB_PASSWORD
          valueFrom:
            secretKeyRef: {{name: db, key: password}}
        resources:
          requests: {{cpu: 100m, memory: 128Mi}}
          limits: {{memory: 256Mi}}
        securityContext:
          allowPrivilegeEscalation: {not_secure}
          readOnlyRootFilesystem: true
          capabilities: {{drop: [ALL]}}
        livenessProbe: {{httpGet: {{path: /healthz, port: 8080}}}}
        readinessProbe: {{httpGet: {{path: /ready, port: 8080}}}}
---
apiVersion: v1
kind: Service
metadata: {{name: app-{i}, namespace: team-{ns}}}
spec:
  selector: {{app: app-{i}}}
  ports: [{{port: 80, targetPort: 8080}}]
---
apiVersion: v1
kind: ServiceAccount
metadata: {{name: app-{i}, namespace: team-{ns}}}
automountServiceAccountToken: false
"#,
            ns = i % 20,
            not_secure = !secure,
        ));
    }
    s
}

fn bench(c: &mut Criterion) {
    let text = corpus(1000);
    let catalog = Catalog::default();
    let mut g = c.benchmark_group("scan");
    g.throughput(Throughput::Elements(3000));
    g.bench_function("load_3000_objects", |b| {
        b.iter(|| rampart_manifest::load_str("corpus.yaml", &text))
    });
    let loaded = rampart_manifest::load_str("corpus.yaml", &text);
    assert_eq!(loaded.objects.len(), 3000);
    g.bench_function("check_3000_objects", |b| {
        b.iter(|| catalog.check_all(&loaded.objects))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
