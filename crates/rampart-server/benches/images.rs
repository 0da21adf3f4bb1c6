//! What `images:` policies cost a `/validate` request (the router driven with
//! `tower::ServiceExt::oneshot`): the same Pod with no images policy, with its verification
//! cached, and verified cold against a `docker-registry` on loopback (`cacheTTL: 0`), open and
//! with token auth. The
//! registry and the openssl-made signature come from the images crate's test harness; without
//! `docker-registry` or openssl only the baseline runs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[allow(dead_code)]
#[path = "support/fixtures.rs"]
mod fixtures;
#[path = "../../rampart-images/tests/harness/mod.rs"]
mod harness;
#[path = "../../rampart-images/tests/harness/token.rs"]
mod token_harness;

/// The allocator the shipped binary uses.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use harness::*;
use rampart_server::{AppState, Config, Engine, NoNamespaceLabels, RampartPss, router};
use serde_json::Value;
use token_harness::*;
use tower::ServiceExt;

fn app(dir: &std::path::Path, config: &str) -> axum::Router {
    let file = dir.join("rampart.yaml");
    std::fs::write(&file, config).unwrap();
    let cfg = Config::parse(&file.display().to_string(), config).unwrap();
    router(AppState::new(Engine::new(
        cfg,
        Arc::new(RampartPss),
        Arc::new(NoNamespaceLabels),
    )))
}

/// The fixture Pod with every container running `image`.
fn review(image: &str) -> axum::body::Bytes {
    let mut r = fixtures::pod_review(7);
    for list in ["containers", "initContainers"] {
        if let Some(cs) = r["request"]["object"]["spec"][list].as_array_mut() {
            for c in cs {
                c["image"] = Value::String(image.to_string());
            }
        }
    }
    axum::body::Bytes::from(serde_json::to_vec(&r).unwrap())
}

fn call(rt: &tokio::runtime::Runtime, app: &axum::Router, body: &axum::body::Bytes) -> Value {
    let req = axum::http::Request::post("/validate")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.clone()))
        .unwrap();
    rt.block_on(async {
        let resp = app.clone().oneshot(req).await.unwrap();
        let b = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        serde_json::from_slice(&b).unwrap()
    })
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let Some(reg) = start("") else {
        let plain = app(dir.path(), "");
        let body = review("nginx:1.25");
        c.bench_function("images/validate-no-policy", |b| {
            b.iter(|| call(&rt, &plain, &body))
        });
        return;
    };
    let p = reg.port;
    let d = dir.path();
    let (key, _) = keypair(d, "cosign", P256);
    let digest = push_image(p, "acme/api", "1.0", "api");
    let image = format!("127.0.0.1:{p}/acme/api:1.0");
    let sig = sign(d, &key, &payload(&image, &digest), SHA256);
    push_signatures(p, "acme/api", &digest, &[(payload(&image, &digest), sig)]);
    let policy = |ttl: &str| {
        format!(
            "images:\n  - name: acme\n    images: [\"127.0.0.1:{p}/acme/*\"]\n    keys: [cosign.pub]\n    allowInsecureRegistry: true\n    cacheTTL: {ttl}\n"
        )
    };
    let body = review(&image);

    let plain = app(d, "");
    c.bench_function("images/validate-no-policy", |b| {
        b.iter(|| call(&rt, &plain, &body))
    });

    let cached = app(d, &policy("1h"));
    let first = call(&rt, &cached, &body);
    assert_eq!(first["response"]["allowed"], true, "{first}");
    c.bench_function("images/validate-cached", |b| {
        b.iter(|| call(&rt, &cached, &body))
    });

    // the difference alone, paired request by request so the shared machine's drift cancels
    let n = 2000;
    let mut diffs: Vec<f64> = Vec::with_capacity(n);
    for _ in 0..n {
        let t = std::time::Instant::now();
        call(&rt, &plain, &body);
        let a = t.elapsed().as_secs_f64();
        let t = std::time::Instant::now();
        call(&rt, &cached, &body);
        diffs.push(t.elapsed().as_secs_f64() - a);
    }
    diffs.sort_by(f64::total_cmp);
    eprintln!(
        "images/cached-minus-no-policy: median {:.1} µs, mean {:.1} µs over {n} pairs",
        diffs[n / 2] * 1e6,
        diffs.iter().sum::<f64>() / n as f64 * 1e6
    );

    let cold = app(d, &policy("0"));
    c.bench_function("images/validate-cold-loopback-registry", |b| {
        b.iter(|| call(&rt, &cold, &body))
    });

    // the same storage behind a registry that demands bearer tokens (the usual case: Docker
    // Hub, GHCR, private registries), with docker config credentials; the token is fetched once
    // per repository and reused until it expires
    let (secured, _tokens) = token_registry(&reg, "ci", "s3cret-pw");
    let sp = secured.port;
    let image = format!("127.0.0.1:{sp}/acme/api:1.0");
    let sig = sign(d, &key, &payload(&image, &digest), SHA256);
    push_signatures(p, "acme/api", &digest, &[(payload(&image, &digest), sig)]);
    std::fs::write(
        d.join("docker.json"),
        format!(
            r#"{{"auths": {{"127.0.0.1:{sp}": {{"username": "ci", "password": "s3cret-pw"}}}}}}"#
        ),
    )
    .unwrap();
    let token_cold = app(
        d,
        &format!(
            "images:\n  - name: acme\n    images: [\"127.0.0.1:{sp}/acme/*\"]\n    keys: [cosign.pub]\n    allowInsecureRegistry: true\n    dockerConfig: docker.json\n    cacheTTL: 0\n"
        ),
    );
    let body = review(&image);
    let first = call(&rt, &token_cold, &body);
    assert_eq!(first["response"]["allowed"], true, "{first}");
    c.bench_function("images/validate-cold-token-registry", |b| {
        b.iter(|| call(&rt, &token_cold, &body))
    });
    drop(secured);
    drop(reg);
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(std::time::Duration::from_secs(3)).warm_up_time(std::time::Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
