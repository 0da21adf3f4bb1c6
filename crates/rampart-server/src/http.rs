//! The HTTP routes: `/validate`, `/mutate`, `/healthz`, `/readyz`, `/metrics`.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use kube::core::DynamicObject;
use kube::core::admission::{AdmissionRequest, AdmissionResponse, META_API_VERSION_V1, META_KIND};
use serde_json::Value;
use tower::limit::ConcurrencyLimitLayer;

use crate::decide::{Decision, Engine, Request};
use crate::metrics::Metrics;

/// Everything the handlers share.
#[derive(Debug)]
pub struct AppState {
    pub(crate) engine: Engine,
    pub(crate) metrics: Metrics,
    /// Set once a serving certificate is loaded (always true when serving without a socket).
    pub(crate) cert_ready: AtomicBool,
}

impl AppState {
    pub fn new(engine: Engine) -> Arc<Self> {
        Arc::new(AppState {
            engine,
            metrics: Metrics::new(),
            cert_ready: AtomicBool::new(true),
        })
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }
}

/// The application router, ready to serve (over TLS with [`crate::serve`], or driven
/// directly in tests).
pub fn router(state: Arc<AppState>) -> Router {
    let limit = state.engine.config.limits.max_concurrency;
    let mut admission = Router::new().route("/validate", post(validate));
    // secure defaults (`mutate: true`), and Kyverno's mutate rules when Kyverno policies are
    // loaded
    if state.engine.config.mutate || state.engine.has_kyverno() {
        admission = admission.route("/mutate", post(mutate));
    }
    let admission = admission.layer(ConcurrencyLimitLayer::new(limit));
    Router::new()
        .merge(admission)
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn readyz(State(st): State<Arc<AppState>>) -> Response {
    if st.cert_ready.load(Ordering::Relaxed) && st.engine.namespaces_ready() {
        (StatusCode::OK, "ok").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready").into_response()
    }
}

async fn metrics(State(st): State<Arc<AppState>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        )],
        st.metrics.encode(),
    )
        .into_response()
}

/// A request rejected before evaluation.
#[derive(Debug)]
pub(crate) struct Reject(StatusCode, String);

impl IntoResponse for Reject {
    fn into_response(self) -> Response {
        (
            self.0,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            )],
            self.1,
        )
            .into_response()
    }
}

/// Reads a body up to `limit` bytes within the configured time.
async fn read_body(st: &AppState, headers: &HeaderMap, mut body: Body) -> Result<Bytes, Reject> {
    let limits = &st.engine.config.limits;
    let limit = limits.max_body_bytes;
    if let Some(ct) = headers.get(header::CONTENT_TYPE)
        && !ct
            .to_str()
            .is_ok_and(|s| s.to_ascii_lowercase().contains("json"))
    {
        return Err(Reject(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "expected Content-Type application/json".into(),
        ));
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large(limit));
    }
    let read = async {
        let mut buf: Vec<u8> = Vec::with_capacity(declared.map_or(8192, |n| n as usize));
        while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
        {
            let frame = frame.map_err(|e| {
                Reject(
                    StatusCode::BAD_REQUEST,
                    format!("reading the request body: {e}"),
                )
            })?;
            if let Ok(data) = frame.into_data() {
                if buf.len() + data.len() > limit {
                    return Err(too_large(limit));
                }
                buf.extend_from_slice(&data);
            }
        }
        Ok(Bytes::from(buf))
    };
    match tokio::time::timeout(limits.body_timeout, read).await {
        Ok(r) => r,
        Err(_) => Err(Reject(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "request body not received within {}s",
                limits.body_timeout.as_secs()
            ),
        )),
    }
}

fn too_large(limit: usize) -> Reject {
    Reject(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("request body larger than the {limit}-byte limit"),
    )
}

/// A parsed AdmissionReview with the request's objects kept as JSON (the new object wrapped
/// for the check catalog).
pub(crate) struct Parsed {
    pub request: AdmissionRequest<DynamicObject>,
    pub object: Option<rampart_manifest::Object>,
    pub old_object: Option<Value>,
}

pub(crate) fn parse_review(bytes: &[u8], keep: crate::lean::Keep) -> Result<Parsed, Reject> {
    let bad = |m: String| Reject(StatusCode::BAD_REQUEST, m);
    let mut v: Value = crate::lean::parse_review_json(bytes, keep)
        .map_err(|e| bad(format!("malformed JSON: {e}")))?;
    let kind = v.get("kind").and_then(Value::as_str).unwrap_or("");
    let api = v.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    if kind != META_KIND || api != META_API_VERSION_V1 {
        return Err(bad(format!(
            "expected kind AdmissionReview, apiVersion {META_API_VERSION_V1}; got kind {kind:?}, apiVersion {api:?}"
        )));
    }
    let mut take = |ptr: &str| v.pointer_mut(ptr).map(Value::take).filter(|x| !x.is_null());
    let object = take("/request/object");
    let old_object = take("/request/oldObject");
    if object.as_ref().is_some_and(|o| !o.is_object())
        || old_object.as_ref().is_some_and(|o| !o.is_object())
    {
        return Err(bad(
            "malformed AdmissionReview: request.object must be an object".into(),
        ));
    }
    // The request is read on its own: `AdmissionReview` flattens its type fields, which makes
    // serde buffer the whole envelope first. Those two fields were checked above.
    let request = v
        .get_mut("request")
        .map(Value::take)
        .filter(|r| !r.is_null())
        .ok_or_else(|| bad("malformed AdmissionReview: no request".into()))?;
    let mut request: AdmissionRequest<DynamicObject> = serde_json::from_value(request)
        .map_err(|e| bad(format!("malformed AdmissionReview: request: {e}")))?;
    request.types = kube::core::TypeMeta {
        api_version: META_API_VERSION_V1.to_string(),
        kind: META_KIND.to_string(),
    };
    if request.uid.is_empty() {
        return Err(bad("malformed AdmissionReview: request.uid is empty".into()));
    }
    Ok(Parsed {
        request,
        object: object.map(|o| rampart_manifest::Object::from_value(o, "admission")),
        old_object,
    })
}

/// The request as the policies see it (`request` of the AdmissionReview), objects included.
fn raw_request(p: &Parsed) -> Value {
    let mut v = serde_json::to_value(&p.request).unwrap_or(Value::Null);
    if let Some(m) = v.as_object_mut() {
        if let Some(o) = &p.object {
            m.insert("object".into(), o.value.clone());
        }
        if let Some(o) = &p.old_object {
            m.insert("oldObject".into(), o.clone());
        }
    }
    v
}

fn respond(resp: AdmissionResponse, patch: Option<Vec<u8>>) -> Response {
    let review = resp.into_review();
    let encoded = match patch {
        // kube's response would write a patch as a list of numbers: the API server wants
        // base64 and a patchType, so those two are set on the JSON
        Some(p) => serde_json::to_value(&review).and_then(|mut v| {
            if let Some(r) = v.get_mut("response").and_then(Value::as_object_mut) {
                r.insert("patchType".into(), Value::String("JSONPatch".into()));
                r.insert("patch".into(), Value::String(crate::certs::base64(&p)));
            }
            serde_json::to_vec(&v)
        }),
        None => serde_json::to_vec(&review),
    };
    let body = match encoded {
        Ok(b) => b,
        Err(e) => {
            return Reject(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("encoding the response: {e}"),
            )
            .into_response();
        }
    };
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

fn kind_of(p: &Parsed) -> &str {
    p.request.kind.kind.as_str()
}

async fn validate(State(st): State<Arc<AppState>>, headers: HeaderMap, body: Body) -> Response {
    let start = Instant::now();
    let resp = handle(&st, &headers, body, Endpoint::Validate).await;
    st.metrics
        .latency("validate", start.elapsed().as_secs_f64());
    resp
}

async fn mutate(State(st): State<Arc<AppState>>, headers: HeaderMap, body: Body) -> Response {
    let start = Instant::now();
    let resp = handle(&st, &headers, body, Endpoint::Mutate).await;
    st.metrics.latency("mutate", start.elapsed().as_secs_f64());
    resp
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Validate,
    Mutate,
}

async fn handle(st: &AppState, headers: &HeaderMap, body: Body, ep: Endpoint) -> Response {
    let bytes = match read_body(st, headers, body).await {
        Ok(b) => b,
        Err(r) => {
            st.metrics.error(r.0.as_u16());
            tracing::warn!(status = r.0.as_u16(), reason = %r.1, "rejected admission request");
            return r.into_response();
        }
    };
    let keep = if st.engine.has_policies() {
        crate::lean::Keep::ForPolicies
    } else {
        crate::lean::Keep::ForChecks
    };
    let parsed = match parse_review(&bytes, keep) {
        Ok(p) => p,
        Err(r) => {
            st.metrics.error(r.0.as_u16());
            // The reason may quote input values: log only where parsing failed.
            tracing::warn!(
                status = r.0.as_u16(),
                bytes = bytes.len(),
                "malformed AdmissionReview"
            );
            return r.into_response();
        }
    };
    let raw = st.engine.has_policies().then(|| raw_request(&parsed));
    let mut req = Request::from_admission(
        &parsed.request,
        parsed.object.as_ref(),
        parsed.old_object.as_ref(),
    );
    req.raw = raw.as_ref();
    let dry_run = parsed.request.dry_run;
    let ns = parsed.request.namespace.as_deref().unwrap_or("");
    let mut response = AdmissionResponse::from(&parsed.request);
    match ep {
        Endpoint::Validate => {
            let mut out = st.engine.validate(&req);
            if st.engine.has_image_policies()
                && !matches!(out.decision, Decision::Ignored | Decision::Exempt)
            {
                let found = st.engine.check_images(&req, false, &st.metrics).await;
                out.add_images(found);
            }
            for (check, mode) in &out.violations {
                st.metrics.violation(check, mode.as_str(), dry_run);
            }
            st.metrics.request(
                "validate",
                out.decision.as_str(),
                kind_of(&parsed),
                ns,
                dry_run,
            );
            tracing::info!(
                uid = %parsed.request.uid,
                operation = ?parsed.request.operation,
                kind = kind_of(&parsed),
                namespace = ns,
                name = %parsed.request.name,
                dry_run,
                decision = out.decision.as_str(),
                violations = ?out.violations.iter().map(|(c, m)| format!("{c}:{}", m.as_str())).collect::<Vec<_>>(),
                "admission review"
            );
            if out.decision == Decision::Denied {
                response = response.deny(&out.message);
                response.result.code = 403;
                response.result.reason = "Forbidden".into();
            }
            if !out.warnings.is_empty() {
                response.warnings = Some(out.warnings);
            }
            response.audit_annotations = out.audit_annotations.into_iter().collect();
            respond(response, None)
        }
        Endpoint::Mutate => {
            let mut ops = match (
                st.engine.config.mutate && st.engine.should_mutate(&req),
                parsed.object.as_ref().map(|o| &o.value),
            ) {
                (true, Some(obj)) => crate::mutate::secure_defaults(obj),
                _ => Vec::new(),
            };
            let images = st.engine.check_images(&req, true, &st.metrics).await;
            let denied = (!images.deny.is_empty()).then(|| {
                images
                    .deny
                    .iter()
                    .map(|(_, t)| t.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            });
            let warnings: Vec<String> = images.warnings.into_iter().map(|(_, t)| t).collect();
            if denied.is_some() {
                ops.clear();
            } else {
                ops.extend(images.patches);
                // Kyverno's mutate rules see the object as the patches so far leave it
                if let Some(obj) = parsed.object.as_ref().map(|o| &o.value) {
                    let mut current = obj.clone();
                    if let Ok(p) = serde_json::from_value::<json_patch::Patch>(
                        serde_json::Value::Array(ops.clone()),
                    ) && json_patch::patch(&mut current, &p).is_ok()
                    {
                        ops.extend(st.engine.kyverno_patches(&req, &current));
                    }
                }
            }
            let decision = if denied.is_some() {
                "denied"
            } else if ops.is_empty() {
                "unchanged"
            } else {
                "patched"
            };
            st.metrics
                .request("mutate", decision, kind_of(&parsed), ns, dry_run);
            tracing::info!(
                uid = %parsed.request.uid,
                kind = kind_of(&parsed),
                namespace = ns,
                name = %parsed.request.name,
                dry_run,
                patches = ops.len(),
                "admission mutation"
            );
            if let Some(message) = &denied {
                response = response.deny(message);
                response.result.code = 403;
                response.result.reason = "Forbidden".into();
            }
            if !warnings.is_empty() {
                response.warnings = Some(warnings);
            }
            let patch = if ops.is_empty() {
                None
            } else {
                serde_json::to_vec(&ops).ok()
            };
            respond(response, patch)
        }
    }
}
