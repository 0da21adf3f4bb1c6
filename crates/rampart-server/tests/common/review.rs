//! An AdmissionReview posted through the router, no network: for the tests that read the
//! webhook's answer. Included by path.
#![allow(dead_code, clippy::unwrap_used)]

use axum::body::Body;
use axum::http::Request;
use tower::ServiceExt;

/// Posts `body` (an AdmissionReview's JSON) to `path`; the review's `response`. The HTTP
/// status must be 200.
pub async fn response(app: &axum::Router, path: &str, body: Vec<u8>) -> serde_json::Value {
    let req = Request::builder()
        .method("POST")
        .uri(path)
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    serde_json::from_slice::<serde_json::Value>(&bytes).unwrap()["response"].clone()
}
