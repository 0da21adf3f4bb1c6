//! A TLS client for tests and the load benchmark: hyper over tokio-rustls, ALPN h2/http1.1.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls_pki_types::pem::PemObject;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Test certificates on disk.
pub struct Certs {
    pub dir: tempfile::TempDir,
    pub ca_pem: Vec<String>,
}

impl Certs {
    pub fn cert_path(&self) -> std::path::PathBuf {
        self.dir.path().join("tls.crt")
    }
    pub fn key_path(&self) -> std::path::PathBuf {
        self.dir.path().join("tls.key")
    }
}

pub fn write_certs() -> Certs {
    let dir = tempfile::tempdir().unwrap();
    let g = rampart_server::generate_certs(&["localhost".to_string()], 30).unwrap();
    std::fs::write(dir.path().join("tls.crt"), &g.cert_pem).unwrap();
    std::fs::write(dir.path().join("tls.key"), &g.key_pem).unwrap();
    Certs {
        dir,
        ca_pem: vec![g.ca_pem],
    }
}

pub fn client_config(ca_pems: &[String], alpn: &[&[u8]]) -> Arc<rustls::ClientConfig> {
    rampart_server::install_crypto_provider();
    let mut roots = rustls::RootCertStore::empty();
    for pem in ca_pems {
        for c in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            roots.add(c.unwrap()).unwrap();
        }
    }
    let mut cfg = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    // Full handshakes only: a resumed session reports the first session's certificate.
    cfg.resumption = rustls::client::Resumption::disabled();
    Arc::new(cfg)
}

/// One TLS connection; `send` works for both protocols.
pub enum Conn {
    H1(hyper::client::conn::http1::SendRequest<Body>),
    H2(hyper::client::conn::http2::SendRequest<Body>),
}

pub struct Connected {
    pub conn: Conn,
    pub alpn: Option<Vec<u8>>,
    pub peer_cert: Vec<u8>,
}

pub async fn connect(addr: SocketAddr, cfg: Arc<rustls::ClientConfig>) -> Connected {
    let tcp = TcpStream::connect(addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    let tls = TlsConnector::from(cfg)
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let (_, session) = tls.get_ref();
    let alpn = session.alpn_protocol().map(<[u8]>::to_vec);
    let peer_cert = session.peer_certificates().unwrap()[0].as_ref().to_vec();
    let io = TokioIo::new(tls);
    let conn = if alpn.as_deref() == Some(b"h2") {
        let (send, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
            .await
            .unwrap();
        tokio::spawn(conn);
        Conn::H2(send)
    } else {
        let (send, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
        tokio::spawn(conn);
        Conn::H1(send)
    };
    Connected {
        conn,
        alpn,
        peer_cert,
    }
}

impl Conn {
    pub async fn send(&mut self, req: Request<Body>) -> (u16, Vec<u8>) {
        let resp = match self {
            Conn::H1(s) => {
                s.ready().await.unwrap();
                s.send_request(req).await.unwrap()
            }
            Conn::H2(s) => {
                s.ready().await.unwrap();
                s.send_request(req).await.unwrap()
            }
        };
        let status = resp.status().as_u16();
        let body = axum::body::to_bytes(Body::new(resp.into_body()), usize::MAX)
            .await
            .unwrap();
        (status, body.to_vec())
    }

    pub fn clone_h2(&self) -> Option<Conn> {
        match self {
            Conn::H2(s) => Some(Conn::H2(s.clone())),
            Conn::H1(_) => None,
        }
    }
}

pub fn post(path: &str, body: Vec<u8>) -> Request<Body> {
    Request::builder()
        .method("POST")
        .uri(format!("https://localhost{path}"))
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap()
}

/// Starts the server on a loopback port; returns its address and a shutdown trigger.
pub async fn start(
    app: axum::Router,
    cert: &Path,
    key: &Path,
    limits: rampart_server::Limits,
) -> (
    SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
    Arc<rampart_server::ReloadingCert>,
) {
    rampart_server::install_crypto_provider();
    let rc = rampart_server::ReloadingCert::load(cert, key).unwrap();
    let tls = rampart_server::server_config(Arc::clone(&rc)).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(async move {
        let shutdown = async {
            let _ = rx.await;
        };
        rampart_server::serve_listener(
            listener,
            tls,
            app,
            &limits,
            shutdown,
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    });
    (addr, tx, handle, rc)
}
