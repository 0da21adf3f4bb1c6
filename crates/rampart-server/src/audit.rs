//! `rampart audit serve`: the API server's audit webhook backend. Batches (`EventList`) are
//! accepted into a bounded queue and evaluated by a worker with the detection rules; alerts are
//! written as JSON lines. A full queue answers 429, which the API server's webhook backend
//! retries with backoff, so no batch is dropped silently.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rampart_audit::Ruleset;
use serde_json::Value;
use tokio::sync::mpsc;

/// Counters exposed on `/metrics`.
#[derive(Debug, Default)]
pub struct AuditCounters {
    pub batches: AtomicU64,
    pub events: AtomicU64,
    pub alerts: AtomicU64,
    pub rejected_full: AtomicU64,
    pub rejected_bad: AtomicU64,
}

/// What the HTTP side shares: the queue's sending end and the counters.
pub struct AuditState {
    queue: mpsc::Sender<Vec<Value>>,
    counters: Arc<AuditCounters>,
    max_body_bytes: usize,
}

impl AuditState {
    pub fn counters(&self) -> &AuditCounters {
        &self.counters
    }
}

/// Where alerts go.
pub type AlertSink = Box<dyn Write + Send>;

/// Starts the worker that evaluates queued batches with `rules` and writes alerts to `sink`,
/// one JSON object a line. The queue holds at most `capacity` batches. The worker ends when
/// every [`AuditState`] is dropped and the queue is drained.
pub fn start_audit_worker(
    rules: Arc<Ruleset>,
    mut sink: AlertSink,
    capacity: usize,
    max_body_bytes: usize,
) -> (Arc<AuditState>, std::thread::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::channel::<Vec<Value>>(capacity.max(1));
    let counters = Arc::new(AuditCounters::default());
    let worker_counters = Arc::clone(&counters);
    // evaluation is CPU work: a plain thread, so it never stalls the async workers
    let handle = std::thread::spawn(move || {
        let mut scratch = rampart_audit::Scratch::default();
        let mut alerts = Vec::new();
        while let Some(batch) = rx.blocking_recv() {
            alerts.clear();
            for ev in &batch {
                rules.evaluate_into(ev, &mut scratch, &mut alerts);
            }
            worker_counters
                .alerts
                .fetch_add(alerts.len() as u64, Ordering::Relaxed);
            for a in &alerts {
                if serde_json::to_writer(&mut sink, a).is_err() || sink.write_all(b"\n").is_err() {
                    tracing::error!("cannot write alerts");
                }
            }
            let _ = sink.flush();
        }
    });
    let state = Arc::new(AuditState {
        queue: tx,
        counters,
        max_body_bytes,
    });
    (state, handle)
}

/// `POST /` (and `/audit`) for batches, `/healthz`, `/metrics`.
pub fn audit_router(state: Arc<AuditState>) -> Router {
    let limit = state.max_body_bytes;
    Router::new()
        .route("/", post(receive))
        .route("/audit", post(receive))
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

fn reply(status: StatusCode, msg: impl Into<String>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        msg.into(),
    )
        .into_response()
}

async fn receive(State(st): State<Arc<AuditState>>, body: Body) -> Response {
    let bytes: Bytes = match axum::body::to_bytes(body, st.max_body_bytes).await {
        Ok(b) => b,
        Err(_) => {
            st.counters.rejected_bad.fetch_add(1, Ordering::Relaxed);
            return reply(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("batch larger than the {}-byte limit", st.max_body_bytes),
            );
        }
    };
    let Ok(text) = std::str::from_utf8(&bytes) else {
        st.counters.rejected_bad.fetch_add(1, Ordering::Relaxed);
        return reply(StatusCode::BAD_REQUEST, "batch is not UTF-8 JSON");
    };
    let events = match rampart_audit::parse_events("audit-webhook", text) {
        Ok(e) => e.events,
        Err(e) => {
            st.counters.rejected_bad.fetch_add(1, Ordering::Relaxed);
            // the error names a position, never event content
            return reply(
                StatusCode::BAD_REQUEST,
                format!("malformed audit batch: {e}"),
            );
        }
    };
    let n = events.len() as u64;
    match st.queue.try_send(events) {
        Ok(()) => {
            st.counters.batches.fetch_add(1, Ordering::Relaxed);
            st.counters.events.fetch_add(n, Ordering::Relaxed);
            reply(StatusCode::OK, "")
        }
        Err(mpsc::error::TrySendError::Full(_)) => {
            st.counters.rejected_full.fetch_add(1, Ordering::Relaxed);
            let mut r = reply(StatusCode::TOO_MANY_REQUESTS, "queue full, retry later");
            r.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
            r
        }
        Err(mpsc::error::TrySendError::Closed(_)) => {
            reply(StatusCode::SERVICE_UNAVAILABLE, "shutting down")
        }
    }
}

async fn metrics(State(st): State<Arc<AuditState>>) -> Response {
    let c = &st.counters;
    let mut out = String::new();
    for (name, help, v) in [
        (
            "rampart_audit_batches_total",
            "Audit batches accepted.",
            &c.batches,
        ),
        (
            "rampart_audit_events_total",
            "Audit events accepted.",
            &c.events,
        ),
        ("rampart_audit_alerts_total", "Alerts raised.", &c.alerts),
        (
            "rampart_audit_rejected_queue_full_total",
            "Batches refused with 429 because the queue was full.",
            &c.rejected_full,
        ),
        (
            "rampart_audit_rejected_malformed_total",
            "Batches refused as malformed or too large.",
            &c.rejected_bad,
        ),
    ] {
        out.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}\n",
            v.load(Ordering::Relaxed)
        ));
    }
    out.push_str("# EOF\n");
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        out,
    )
        .into_response()
}

/// What `rampart audit serve` needs.
pub struct AuditServeOptions {
    pub listen: std::net::SocketAddr,
    pub tls_cert: std::path::PathBuf,
    pub tls_key: std::path::PathBuf,
    pub rules: Arc<Ruleset>,
    pub sink: AlertSink,
    pub queue_capacity: usize,
    pub max_body_bytes: usize,
}

/// Runs the audit webhook backend until SIGTERM, then drains the queue.
pub fn serve_audit_blocking(opts: AuditServeOptions) -> Result<(), crate::Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| crate::Error::Io("starting the async runtime".into(), e))?;
    let (state, worker) = start_audit_worker(
        opts.rules,
        opts.sink,
        opts.queue_capacity,
        opts.max_body_bytes,
    );
    runtime.block_on(async {
        crate::install_crypto_provider();
        let cert = crate::ReloadingCert::load(&opts.tls_cert, &opts.tls_key)?;
        let _poller = cert.spawn_poller(Duration::from_secs(10));
        let tls = crate::server_config(Arc::clone(&cert))?;
        let listener = tokio::net::TcpListener::bind(opts.listen)
            .await
            .map_err(|e| crate::Error::Io(opts.listen.to_string(), e))?;
        tracing::info!(listen = %opts.listen, "rampart audit webhook listening");
        crate::serve_listener(
            listener,
            tls,
            audit_router(state),
            &crate::Limits::default(),
            crate::shutdown_signal(),
            Duration::from_secs(25),
        )
        .await
    })?;
    drop(runtime);
    // the router (and its queue sender) is gone: the worker drains what was accepted and ends
    let _ = worker.join();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use tower::ServiceExt;

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    const EXEC: &str = r#"{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[
      {"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Request","auditID":"a1","stage":"ResponseComplete",
       "requestURI":"/api/v1/namespaces/shop/pods/web/exec?command=sh","verb":"create",
       "user":{"username":"mallory","groups":["system:authenticated"]},
       "objectRef":{"resource":"pods","namespace":"shop","name":"web","apiVersion":"v1","subresource":"exec"},
       "responseStatus":{"code":101},"requestReceivedTimestamp":"2026-11-23T01:00:00.000000Z","stageTimestamp":"2026-11-23T01:00:00.100000Z"}]}"#;

    async fn post(app: Router, body: &str) -> u16 {
        let req = axum::http::Request::builder()
            .method("POST")
            .uri("/")
            .body(Body::from(body.to_string()))
            .unwrap();
        app.oneshot(req).await.unwrap().status().as_u16()
    }

    #[tokio::test]
    async fn batches_are_evaluated_and_alerts_written() {
        let rules = Arc::new(Ruleset::builtin().unwrap());
        let out = Shared::default();
        let (state, worker) = start_audit_worker(rules, Box::new(out.clone()), 8, 1 << 20);
        let app = audit_router(Arc::clone(&state));
        assert_eq!(post(app.clone(), EXEC).await, 200);
        assert_eq!(post(app.clone(), "{not json").await, 400);
        assert_eq!(state.counters().events.load(Ordering::Relaxed), 1);
        drop(app);
        drop(state);
        worker.join().unwrap();
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let alert: Value = serde_json::from_str(text.lines().next().expect("an alert")).unwrap();
        assert_eq!(alert["auditID"], "a1");
        assert!(
            alert["rule"]
                .as_str()
                .unwrap()
                .to_lowercase()
                .contains("exec"),
            "{alert}"
        );
    }

    #[tokio::test]
    async fn a_full_queue_answers_429_so_the_api_server_retries() {
        // a sender with no worker draining it: the second batch finds the queue full
        let (tx, _rx) = mpsc::channel(1);
        let state = Arc::new(AuditState {
            queue: tx,
            counters: Arc::default(),
            max_body_bytes: 1 << 20,
        });
        let app = audit_router(Arc::clone(&state));
        assert_eq!(post(app.clone(), EXEC).await, 200);
        assert_eq!(post(app.clone(), EXEC).await, 429);
        assert_eq!(state.counters().rejected_full.load(Ordering::Relaxed), 1);
    }
}
