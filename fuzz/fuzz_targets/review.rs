//! The webhook's `/validate` and `/mutate` on arbitrary request bodies, through the router as
//! the HTTP server calls it: every body gets a 200 with an AdmissionReview whose response
//! echoes a uid, or a 4xx with a reason. Never a panic, never a 5xx.
//!
//! The first byte picks the endpoint; the rest is the body. Seed it with AdmissionReviews
//! (`fuzz/seeds/review/`) so that mutations reach the engine, not only the JSON parser.
#![no_main]

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use libfuzzer_sys::fuzz_target;
use rampart_server::{AppState, Config, Engine, NoNamespaceLabels, RampartPss, router};
use tower::ServiceExt;

fn app() -> &'static (tokio::runtime::Runtime, axum::Router) {
    static APP: OnceLock<(tokio::runtime::Runtime, axum::Router)> = OnceLock::new();
    APP.get_or_init(|| {
        let config = Config {
            mutate: true,
            ..Config::default()
        };
        let engine = Engine::new(config, Arc::new(RampartPss), Arc::new(NoNamespaceLabels));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        (rt, router(AppState::new(engine)))
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let path = if pick % 2 == 0 { "/validate" } else { "/mutate" };
    let (rt, app) = app();
    let req = axum::http::Request::post(path)
        .header("content-type", "application/json")
        .body(Body::from(body.to_vec()))
        .expect("request");
    let resp = rt.block_on(app.clone().oneshot(req)).expect("infallible");
    let status = resp.status();
    let bytes = rt
        .block_on(axum::body::to_bytes(resp.into_body(), usize::MAX))
        .expect("body");
    assert!(
        status.is_success() || status.is_client_error(),
        "{status} for {path}"
    );
    if status.is_success() {
        let v: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON answer");
        assert!(v["response"]["uid"].is_string(), "no uid in {v}");
        assert!(v["response"]["allowed"].is_boolean(), "no decision in {v}");
    } else {
        assert!(!bytes.is_empty(), "{status} without a reason");
    }
});
