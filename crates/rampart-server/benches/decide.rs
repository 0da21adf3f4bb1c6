//! Per-request cost of `/validate` without the network: body parse, PSS at three modes, the
//! check catalog, response encoding (the router driven with `tower::ServiceExt::oneshot`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[path = "support/fixtures.rs"]
mod fixtures;

/// The allocator the shipped binary uses.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use rampart_server::{AppState, Config, Engine, NoNamespaceLabels, RampartPss, router};
use tower::ServiceExt;

fn bench(c: &mut Criterion) {
    let app = router(AppState::new(Engine::new(
        Config::default(),
        Arc::new(RampartPss),
        Arc::new(NoNamespaceLabels),
    )));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for (name, review) in [
        ("deployment", fixtures::deployment_review(1)),
        ("pod", fixtures::pod_review(2)),
    ] {
        let body = axum::body::Bytes::from(serde_json::to_vec(&review).unwrap());
        c.bench_function(&format!("validate/{name}"), |b| {
            b.iter(|| {
                let req = axum::http::Request::post("/validate")
                    .header("content-type", "application/json")
                    .body(axum::body::Body::from(body.clone()))
                    .unwrap();
                rt.block_on(async {
                    let resp = app.clone().oneshot(req).await.unwrap();
                    axum::body::to_bytes(resp.into_body(), usize::MAX)
                        .await
                        .unwrap()
                })
            });
        });
    }
}

fn parts(c: &mut Criterion) {
    let review = fixtures::deployment_review(1);
    let bytes = serde_json::to_vec(&review).unwrap();
    let obj = review["request"]["object"].clone();
    c.bench_function("part/parse-json", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(&bytes).unwrap())
    });
    let mut r2 = review.clone();
    r2["request"]["object"]["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("managedFields");
    let b2 = serde_json::to_vec(&r2).unwrap();
    c.bench_function("part/parse-json-no-managed-fields", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(&b2).unwrap())
    });
    r2["request"]["object"]["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("annotations");
    let b3 = serde_json::to_vec(&r2).unwrap();
    c.bench_function("part/parse-json-no-mf-no-annotations", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(&b3).unwrap())
    });
    c.bench_function("part/parse-ignored", |b| {
        b.iter(|| serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).unwrap())
    });
    eprintln!(
        "sizes: full {} no-mf {} no-mf-no-ann {}",
        bytes.len(),
        b2.len(),
        b3.len()
    );
    let object = rampart_manifest::Object::from_value(obj.clone(), "admission");
    let catalog = rampart_rules::Catalog::default();
    c.bench_function("part/check-catalog", |b| {
        b.iter(|| catalog.check_object(&object))
    });
    let policy =
        rampart_pss::Policy::new(rampart_pss::Level::Restricted, rampart_pss::Version::Latest);
    c.bench_function("part/pss-restricted", |b| {
        b.iter(|| rampart_pss::evaluate_object(policy, &obj))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(std::time::Duration::from_secs(3)).warm_up_time(std::time::Duration::from_secs(1));
    targets = bench, parts
}
criterion_main!(benches);
