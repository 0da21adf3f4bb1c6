#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! Rendering 10,000 findings over 2,000 objects in each format.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rampart_core::{Finding, Location, ObjectRef, Severity};
use rampart_report::{Format, Report, RuleMeta, render};
use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;

const OBJECTS: usize = 2_000;
const PER_OBJECT: usize = 5;

type Corpus = (
    Vec<Finding>,
    Vec<RuleMeta>,
    Vec<(Arc<ObjectRef>, Arc<str>)>,
    HashMap<String, Arc<str>>,
);

fn corpus() -> Corpus {
    let checks = [
        "privileged-container",
        "run-as-root",
        "latest-tag",
        "missing-cpu-limit",
        "hardcoded-secret-in-env",
    ];
    let rules: Vec<RuleMeta> = checks
        .iter()
        .map(|c| RuleMeta {
            slug: c.to_string(),
            severity: Severity::High,
            summary: format!("{c} summary"),
            help_markdown: format!("## What it does\nFlags {c}.\n"),
            cis: Vec::new(),
        })
        .collect();
    let mut findings = Vec::new();
    let mut objects = Vec::new();
    let mut files = HashMap::new();
    for i in 0..OBJECTS {
        let file = format!("deploy/app-{}.yaml", i / 10);
        let text: &mut String = files.entry(file.clone()).or_default();
        let base = text.lines().count() as u32;
        text.push_str(&format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-{i}\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: nginx:latest\n          env:\n            - name: TOKEN\n              value: tok_{i:020}\n          securityContext:\n            privileged: true\n---\n"
        ));
        let obj = Arc::new(ObjectRef {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            namespace: Some("prod".into()),
            name: format!("app-{i}"),
        });
        let file: Arc<str> = Arc::from(file);
        objects.push((obj.clone(), file.clone()));
        for (k, check) in checks.iter().enumerate().take(PER_OBJECT) {
            let mut f = Finding::new(
                *check,
                Severity::ALL[k],
                format!("container \"app\" of app-{i}: {check}"),
            )
            .with_object(obj.clone())
            .with_location(Location {
                file: file.clone(),
                line: base + 10 + k as u32,
                column: 11,
                pointer: "/spec/template/spec/containers/0".into(),
                template: None,
            });
            if *check == "hardcoded-secret-in-env" {
                f.redact.push(format!("tok_{i:020}"));
            }
            findings.push(f);
        }
    }
    let files = files.into_iter().map(|(k, v)| (k, Arc::from(v))).collect();
    (findings, rules, objects, files)
}

fn bench(c: &mut Criterion) {
    let (findings, rules, objects, files) = corpus();
    let sources = |name: &str| files.get(name).cloned();
    let report = Report {
        findings: &findings,
        errors: &[],
        rules: &rules,
        objects: &objects,
        sources: &sources,
        tool_version: "0.1.0",
        fail_on: Severity::High,
    };
    let mut group = c.benchmark_group("render");
    group.throughput(Throughput::Elements(findings.len() as u64));
    group.sample_size(10);
    for format in Format::ALL {
        group.bench_function(format.as_str(), |b| {
            b.iter(|| {
                let mut out = Vec::with_capacity(1 << 20);
                render(format, black_box(&report), &mut out, false).unwrap();
                out.len()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
