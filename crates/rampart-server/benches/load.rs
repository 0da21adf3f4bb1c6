//! Load benchmark: `/validate` over TLS (HTTP/2) on loopback with realistic AdmissionReviews,
//! against a no-op endpoint on the same server stack.
//!
//! ```text
//! cargo bench -p rampart-server --bench load
//! RAMPART_LOAD_RATE=2000 RAMPART_LOAD_SECS=5 RAMPART_PEAK_SECS=5 cargo bench -p rampart-server --bench load
//! RAMPART_LOAD_RATE=1000 RAMPART_BENCH_KYVERNO=../shared/conformance/kyverno/pod-security cargo bench -p rampart-server --bench load
//! ```
//!
//! `RAMPART_BENCH_POLICIES=DIR` loads Gatekeeper and ValidatingAdmissionPolicy policies as
//! `serve --policies` does; `RAMPART_BENCH_KYVERNO=DIR` loads Kyverno policies.
//!
//! Phase 1 (open loop): requests start at a fixed rate (default 2,000/s) for a fixed time
//! (default 5 s) over 4 HTTP/2 connections, each started on schedule whether or not earlier
//! ones finished; latency is measured per request from send to full response.
//! Phase 2 (closed loop): 64 requests in flight on each of four endpoints in turn, in 1-second
//! slices, for a fixed time per endpoint (default 5 s, so five rounds). The endpoints take
//! turns so that a machine that gets slower or faster during the run (a shared host does)
//! moves all of them alike; the ratios are of the totals, and the range of the per-round
//! ratios is printed beside them.
//! - `/noop` reads the body and answers a constant AdmissionReview;
//! - `/validate` is the real endpoint;
//! - two reference endpoints answer like `/noop` after reading the body as JSON, to show how
//!   much of the no-op's rate any JSON webhook keeps on this stack: `/ceiling/json-syntax`
//!   only checks the JSON (serde's `IgnoredAny`, nothing is built), `/ceiling/json-tree`
//!   builds the whole body as a `serde_json::Value` and drops it.
//!
//! Loopback only; bounded in count and time. Server and client share the machine's cores.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "support/fixtures.rs"]
mod fixtures;

/// The allocator the shipped binary uses.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use rampart_server::{AppState, Config, Engine, NoNamespaceLabels, RampartPss, router};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

const CONNS: usize = 4;
const IN_FLIGHT: usize = 64;

const ALLOWED: &str = r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"","allowed":true,"status":{}}}"#;

async fn body_bytes(body: axum::body::Body) -> Bytes {
    axum::body::to_bytes(body, 3 * 1024 * 1024)
        .await
        .unwrap_or_default()
}

fn allowed() -> impl axum::response::IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        ALLOWED,
    )
}

async fn noop(body: axum::body::Body) -> impl axum::response::IntoResponse {
    let b = body_bytes(body).await;
    let _ = b.len();
    allowed()
}

async fn json_syntax(body: axum::body::Body) -> impl axum::response::IntoResponse {
    let b = body_bytes(body).await;
    serde_json::from_slice::<serde::de::IgnoredAny>(&b).unwrap();
    allowed()
}

async fn json_tree(body: axum::body::Body) -> impl axum::response::IntoResponse {
    let b = body_bytes(body).await;
    std::hint::black_box(serde_json::from_slice::<serde_json::Value>(&b).unwrap());
    allowed()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn bodies() -> Vec<Bytes> {
    (0..64u64)
        .map(|i| {
            let v = if i % 2 == 0 {
                fixtures::deployment_review(i)
            } else {
                fixtures::pod_review(i)
            };
            Bytes::from(serde_json::to_vec(&v).unwrap())
        })
        .collect()
}

async fn connections(addr: std::net::SocketAddr, ca: &[String]) -> Vec<common::Conn> {
    let cfg = common::client_config(ca, &[b"h2"]);
    let mut out = Vec::new();
    for _ in 0..CONNS {
        out.push(common::connect(addr, Arc::clone(&cfg)).await.conn);
    }
    out
}

fn request(path: &str, body: &Bytes) -> hyper::Request<axum::body::Body> {
    hyper::Request::builder()
        .method("POST")
        .uri(format!("https://localhost{path}"))
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.clone()))
        .unwrap()
}

async fn open_loop(
    conns: &[common::Conn],
    bodies: &[Bytes],
    rate: u64,
    secs: u64,
) -> (Vec<Duration>, u64) {
    let total = rate * secs;
    let period = Duration::from_nanos(1_000_000_000 / rate.max(1));
    let start = tokio::time::Instant::now();
    let errors = Arc::new(AtomicU64::new(0));
    let mut handles = Vec::with_capacity(total as usize);
    for i in 0..total {
        tokio::time::sleep_until(start + period * i as u32).await;
        let mut conn = conns[i as usize % conns.len()].clone_h2().unwrap();
        let req = request("/validate", &bodies[i as usize % bodies.len()]);
        let errors = Arc::clone(&errors);
        handles.push(tokio::spawn(async move {
            let t = Instant::now();
            let (status, _) = conn.send(req).await;
            if status != 200 {
                errors.fetch_add(1, Ordering::Relaxed);
            }
            t.elapsed()
        }));
    }
    let mut lat = Vec::with_capacity(handles.len());
    for h in handles {
        lat.push(h.await.unwrap());
    }
    let achieved = total as f64 / start.elapsed().as_secs_f64();
    eprintln!("  offered {rate}/s for {secs}s, achieved {achieved:.0}/s");
    lat.sort();
    (lat, errors.load(Ordering::Relaxed))
}

/// Requests completed on `path` in `secs`, and the time taken.
async fn closed_loop(
    conns: &[common::Conn],
    bodies: &[Bytes],
    path: &'static str,
    secs: u64,
) -> (u64, Duration) {
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let start = Instant::now();
    let mut handles = Vec::new();
    for w in 0..IN_FLIGHT {
        let mut conn = conns[w % conns.len()].clone_h2().unwrap();
        let bodies = bodies.to_vec();
        let done = Arc::clone(&done);
        handles.push(tokio::spawn(async move {
            let mut i = w;
            while Instant::now() < deadline {
                let (status, _) = conn.send(request(path, &bodies[i % bodies.len()])).await;
                assert_eq!(status, 200);
                done.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    (done.load(Ordering::Relaxed), start.elapsed())
}

const PEAK_PATHS: [&str; 4] = [
    "/noop",
    "/validate",
    "/ceiling/json-syntax",
    "/ceiling/json-tree",
];

/// Phase 2: the endpoints in turns of one second, `rounds` times; prints rates and ratios.
async fn peak(conns: &[common::Conn], bodies: &[Bytes], rounds: u64) {
    let mut total = [(0u64, Duration::ZERO); PEAK_PATHS.len()];
    let mut per_round: Vec<[f64; PEAK_PATHS.len()]> = Vec::new();
    for round in 0..rounds {
        let mut rates = [0.0; PEAK_PATHS.len()];
        // alternate the order so no endpoint always runs first
        let mut order: Vec<usize> = (0..PEAK_PATHS.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for i in order {
            let (n, t) = closed_loop(conns, bodies, PEAK_PATHS[i], 1).await;
            total[i].0 += n;
            total[i].1 += t;
            rates[i] = n as f64 / t.as_secs_f64();
        }
        per_round.push(rates);
    }
    let rate = |i: usize| total[i].0 as f64 / total[i].1.as_secs_f64();
    let noop = rate(0);
    for (i, path) in PEAK_PATHS.iter().enumerate() {
        let ratios: Vec<f64> = per_round.iter().map(|r| 100.0 * r[i] / r[0]).collect();
        let (lo, hi) = ratios
            .iter()
            .fold((f64::MAX, f64::MIN), |(l, h), &x| (l.min(x), h.max(x)));
        if i == 0 {
            eprintln!("  {path:<21} {noop:.0} req/s");
        } else {
            eprintln!(
                "  {path:<21} {:.0} req/s, {:.1}% of /noop (rounds {lo:.1}-{hi:.1}%)",
                rate(i),
                100.0 * rate(i) / noop
            );
        }
    }
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument that is not ours means "not me".
    if std::env::args()
        .skip(1)
        .any(|a| !a.starts_with("--") && a != "load")
    {
        return;
    }
    let rate = env_u64("RAMPART_LOAD_RATE", 2000).clamp(1, 20_000);
    let secs = env_u64("RAMPART_LOAD_SECS", 5).clamp(1, 30);
    let peak_secs = env_u64("RAMPART_PEAK_SECS", 5).clamp(1, 30);

    rampart_server::install_crypto_provider();
    let certs = common::write_certs();
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut engine = Engine::new(
        Config::default(),
        Arc::new(RampartPss),
        Arc::new(NoNamespaceLabels),
    );
    // RAMPART_BENCH_POLICIES=dir loads Gatekeeper/VAP policies too (`serve --policies`)
    if let Ok(dir) = std::env::var("RAMPART_BENCH_POLICIES") {
        let set = rampart_policy::PolicySet::load(&[dir]).unwrap();
        eprintln!("policies loaded, {} skipped", set.problems().len());
        engine = engine.with_policies(Arc::new(set));
    }
    // RAMPART_BENCH_KYVERNO=dir loads Kyverno policies (e.g. the kyverno/policies
    // pod-security set)
    if let Ok(dir) = std::env::var("RAMPART_BENCH_KYVERNO") {
        let (set, errors) = rampart_kyverno::PolicySet::load(&[dir]);
        eprintln!("kyverno policies loaded, {} errors", errors.len());
        engine = engine.with_kyverno(Arc::new(set));
    }
    let app = router(AppState::new(engine))
        .route("/noop", axum::routing::post(noop))
        .route("/ceiling/json-syntax", axum::routing::post(json_syntax))
        .route("/ceiling/json-tree", axum::routing::post(json_tree));
    let (addr, stop, handle, _rc) = server_rt.block_on(common::start(
        app,
        &certs.cert_path(),
        &certs.key_path(),
        rampart_server::Limits::default(),
    ));

    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    client_rt.block_on(async {
        let bodies = bodies();
        let avg = bodies.iter().map(Bytes::len).sum::<usize>() / bodies.len();
        eprintln!("rampart-server load benchmark: TLS 1.3 + HTTP/2 on loopback, {CONNS} connections, AdmissionReview bodies avg {avg} bytes");
        let conns = connections(addr, &certs.ca_pem).await;
        // warm up
        closed_loop(&conns, &bodies, "/validate", 1).await;

        eprintln!("open loop on /validate:");
        let (lat, errors) = open_loop(&conns, &bodies, rate, secs).await;
        eprintln!(
            "  n={} errors={errors} p50={:?} p90={:?} p99={:?} p99.9={:?} max={:?}",
            lat.len(),
            percentile(&lat, 0.50),
            percentile(&lat, 0.90),
            percentile(&lat, 0.99),
            percentile(&lat, 0.999),
            lat.last().copied().unwrap_or_default()
        );

        eprintln!("closed loop, {IN_FLIGHT} in flight, {peak_secs} rounds of 1 s per endpoint:");
        peak(&conns, &bodies, peak_secs).await;
    });
    stop.send(()).unwrap();
    server_rt.block_on(handle).unwrap();
}
