//! The server over real TLS on loopback: HTTP/1.1 and HTTP/2, the admission fixtures,
//! certificate rotation through a Secret-style symlink swap, graceful shutdown.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use rampart_server::{AppState, Config, Engine, Limits, NoNamespaceLabels, RampartPss, router};
use serde_json::{Value, json};

fn app(config: Config) -> axum::Router {
    router(AppState::new(Engine::new(
        config,
        Arc::new(RampartPss),
        Arc::new(NoNamespaceLabels),
    )))
}

fn pod_review(uid: &str, privileged: bool, plain: bool) -> Vec<u8> {
    let sc = if plain {
        json!({})
    } else {
        json!({"privileged": privileged})
    };
    serde_json::to_vec(&json!({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "name": "p", "namespace": "team-a", "operation": "CREATE",
            "userInfo": {"username": "alice"},
            "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "team-a"},
                       "spec": {"containers": [{"name": "c", "image": "x", "securityContext": sc}]}}
        }
    }))
    .unwrap()
}

fn response(body: &[u8]) -> Value {
    let v: Value = serde_json::from_slice(body).unwrap();
    v["response"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_over_h2_and_http1() {
    let certs = common::write_certs();
    let limits = Limits {
        max_body_bytes: 4096,
        ..Limits::default()
    };
    let config = Config {
        mutate: true,
        limits: limits.clone(),
        ..Config::default()
    };
    let (addr, stop, handle, _rc) = common::start(
        app(config),
        &certs.cert_path(),
        &certs.key_path(),
        limits.clone(),
    )
    .await;

    for alpn in [&b"h2"[..], &b"http/1.1"[..]] {
        let cfg = common::client_config(&certs.ca_pem, &[alpn]);
        let mut c = common::connect(addr, cfg).await;
        assert_eq!(c.alpn.as_deref(), Some(alpn));

        // denied
        let (s, b) = c
            .conn
            .send(common::post(
                "/validate",
                pod_review("u-denied", true, false),
            ))
            .await;
        assert_eq!(s, 200);
        let r = response(&b);
        assert_eq!(r["uid"], "u-denied");
        assert_eq!(r["allowed"], false);
        assert!(
            r["status"]["message"]
                .as_str()
                .unwrap()
                .contains("privileged"),
            "{r}"
        );

        // warned
        let (s, b) = c
            .conn
            .send(common::post(
                "/validate",
                pod_review("u-warned", false, true),
            ))
            .await;
        assert_eq!(s, 200);
        let r = response(&b);
        assert_eq!(r["allowed"], true);
        assert!(
            r["warnings"][0]
                .as_str()
                .unwrap()
                .starts_with("would violate PodSecurity \"restricted:latest\""),
            "{r}"
        );

        // mutated
        let (s, b) = c
            .conn
            .send(common::post("/mutate", pod_review("u-mut", false, true)))
            .await;
        assert_eq!(s, 200);
        let r = response(&b);
        assert_eq!(r["patchType"], "JSONPatch");

        // malformed and oversized
        let (s, _) = c.conn.send(common::post("/validate", b"{]".to_vec())).await;
        assert_eq!(s, 400);
        let (s, _) = c
            .conn
            .send(common::post("/validate", vec![b' '; 5000]))
            .await;
        assert_eq!(s, 413);
        // the connection survives (h2) or a new one works (http/1.1 may close after 413)
    }
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), handle)
        .await
        .unwrap()
        .unwrap();
}

/// Kubernetes Secret volumes: `tls.crt -> ..data/tls.crt`, `..data -> ..<timestamp>`; an
/// update writes a new timestamped dir and swaps the `..data` symlink atomically.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_rotation_via_symlink_swap() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let names = vec!["localhost".to_string()];
    let first = rampart_server::generate_certs(&names, 30).unwrap();
    let second = rampart_server::generate_certs(&names, 30).unwrap();
    let write_gen = |name: &str, g: &rampart_server::GeneratedCerts| {
        let d = root.join(name);
        std::fs::create_dir(&d).unwrap();
        std::fs::write(d.join("tls.crt"), &g.cert_pem).unwrap();
        std::fs::write(d.join("tls.key"), &g.key_pem).unwrap();
    };
    write_gen("..gen1", &first);
    symlink("..gen1", root.join("..data")).unwrap();
    symlink("..data/tls.crt", root.join("tls.crt")).unwrap();
    symlink("..data/tls.key", root.join("tls.key")).unwrap();

    let (addr, stop, handle, rc) = common::start(
        app(Config::default()),
        &root.join("tls.crt"),
        &root.join("tls.key"),
        Limits::default(),
    )
    .await;
    let poller = rc.spawn_poller(Duration::from_millis(100));
    let cfg = common::client_config(&[first.ca_pem.clone(), second.ca_pem.clone()], &[b"h2"]);

    let fingerprint = |pem: &str| {
        use rustls_pki_types::pem::PemObject;
        rustls_pki_types::CertificateDer::from_pem_slice(pem.as_bytes())
            .unwrap()
            .as_ref()
            .to_vec()
    };
    let mut before = common::connect(addr, Arc::clone(&cfg)).await;
    assert_eq!(before.peer_cert, fingerprint(&first.cert_pem));

    // swap
    write_gen("..gen2", &second);
    symlink("..gen2", root.join("..data_tmp")).unwrap();
    std::fs::rename(root.join("..data_tmp"), root.join("..data")).unwrap();
    assert_eq!(
        std::fs::read_to_string(root.join("tls.crt")).unwrap(),
        second.cert_pem
    );

    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let c = common::connect(addr, Arc::clone(&cfg)).await;
        if c.peer_cert == fingerprint(&second.cert_pem) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "new connections still see the old certificate"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The old connection keeps working.
    let (s, _) = before
        .conn
        .send(common::post("/validate", pod_review("u1", false, false)))
        .await;
    assert_eq!(s, 200);

    // A broken pair keeps the current certificate in service.
    std::fs::write(root.join("..gen2/tls.key"), "not a key").unwrap();
    assert!(rc.reload().is_err());
    let c = common::connect(addr, Arc::clone(&cfg)).await;
    assert_eq!(c.peer_cert, fingerprint(&second.cert_pem));

    poller.abort();
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), handle)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_in_flight_requests() {
    let certs = common::write_certs();
    // A handler that takes a while, to be in flight when shutdown starts.
    let slow = axum::Router::new().route(
        "/slow",
        axum::routing::post(|| async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            "done"
        }),
    );
    let (addr, stop, handle, _rc) = common::start(
        slow,
        &certs.cert_path(),
        &certs.key_path(),
        Limits::default(),
    )
    .await;
    let cfg = common::client_config(&certs.ca_pem, &[b"h2"]);
    let mut c = common::connect(addr, cfg).await;
    let req = tokio::spawn(async move { c.conn.send(common::post("/slow", Vec::new())).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    stop.send(()).unwrap();
    let (s, b) = req.await.unwrap();
    assert_eq!(s, 200);
    assert_eq!(b, b"done");
    tokio::time::timeout(Duration::from_secs(5), handle)
        .await
        .unwrap()
        .unwrap();
}
