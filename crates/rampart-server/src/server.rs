//! The HTTPS server: accept loop, TLS handshake, HTTP/1.1 and HTTP/2, timeouts, graceful
//! shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use rustls::ServerConfig;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::Error;
use crate::config::{Config, Limits, NamespaceLabels as NsMode};
use crate::decide::{Engine, NamespaceLabels, NoNamespaceLabels};
use crate::http::{AppState, router};
use crate::pss::RampartPss;
use crate::tls::{ReloadingCert, install_crypto_provider, server_config};

/// Connections served at once (a bound against connection floods; requests are bounded
/// separately by `limits.maxConcurrency`).
const MAX_CONNECTIONS: usize = 4096;

/// What `rampart serve` needs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub listen: SocketAddr,
    pub tls_cert: PathBuf,
    pub tls_key: PathBuf,
    pub config: Config,
    /// Longest wait for in-flight requests after SIGTERM.
    pub shutdown_grace: Duration,
    /// Gatekeeper and ValidatingAdmissionPolicy policies to enforce too.
    pub policies: Option<Arc<rampart_policy::PolicySet>>,
    /// Kyverno policies to enforce too.
    pub kyverno: Option<Arc<rampart_kyverno::PolicySet>>,
}

/// Runs the webhook until SIGTERM or Ctrl-C, then drains in-flight requests.
pub async fn serve(opts: ServeOptions) -> Result<(), Error> {
    install_crypto_provider();
    let cert = ReloadingCert::load(&opts.tls_cert, &opts.tls_key)?;
    let _poller = cert.spawn_poller(opts.config.cert_reload_interval);
    let tls = server_config(Arc::clone(&cert))?;
    let namespaces: Arc<dyn NamespaceLabels> = match opts.config.namespace_labels {
        NsMode::Auto => match crate::namespaces::start().await {
            Some(n) => n,
            None => Arc::new(NoNamespaceLabels),
        },
        NsMode::Off => Arc::new(NoNamespaceLabels),
    };
    let limits = opts.config.limits.clone();
    let mut engine = Engine::new(opts.config, Arc::new(RampartPss), namespaces);
    if let Some(p) = opts.policies {
        engine = engine.with_policies(p);
    }
    if let Some(k) = opts.kyverno {
        engine = engine.with_kyverno(k);
    }
    if engine.has_image_policies()
        && let Some(secrets) = crate::pull_secrets::PullSecrets::infer().await
    {
        engine = engine.with_pull_secrets(Arc::new(secrets));
    }
    let state = AppState::new(engine);
    let app = router(state);
    let listener = TcpListener::bind(opts.listen)
        .await
        .map_err(|e| Error::Io(opts.listen.to_string(), e))?;
    tracing::info!(listen = %opts.listen, "rampart admission webhook listening");
    serve_listener(
        listener,
        tls,
        app,
        &limits,
        shutdown_signal(),
        opts.shutdown_grace,
    )
    .await
}

/// Serves `app` over TLS on an already bound listener until `shutdown` completes, then waits
/// up to `grace` for in-flight connections to finish. Tests and the load benchmark call this
/// with their own router and listener.
pub async fn serve_listener(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    app: Router,
    limits: &Limits,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) -> Result<(), Error> {
    let acceptor = TlsAcceptor::from(tls);
    let graceful = GracefulShutdown::new();
    let conns = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let header_timeout = limits.header_timeout;
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = Arc::clone(&conns).acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            () = &mut shutdown => break,
        };
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let app = app.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let _permit = permit;
            let stream = match tokio::time::timeout(header_timeout, acceptor.accept(tcp)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            let mut builder = auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .keep_alive(true);
            builder
                .http2()
                .timer(TokioTimer::new())
                .keep_alive_interval(Some(Duration::from_secs(30)))
                .keep_alive_timeout(Duration::from_secs(20))
                .max_concurrent_streams(256);
            let conn =
                builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app));
            if let Err(e) = watcher.watch(conn).await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tracing::info!("shutting down: finishing in-flight requests");
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections closed"),
        () = tokio::time::sleep(grace) => tracing::warn!("shutdown grace period over; closing remaining connections"),
    }
    Ok(())
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = term.recv() => {},
            _ = tokio::signal::ctrl_c() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Runs [`serve`] on its own multi-threaded runtime. With `dispatch`, every runtime thread
/// logs through it (for a binary whose global subscriber is already set).
pub fn serve_blocking(
    opts: ServeOptions,
    dispatch: Option<tracing::Dispatch>,
) -> Result<(), Error> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    if let Some(d) = dispatch.clone() {
        builder.on_thread_start(move || {
            // A worker thread lives as long as the runtime: keep its default for its lifetime.
            std::mem::forget(tracing::dispatcher::set_default(&d));
        });
    }
    let runtime = builder
        .build()
        .map_err(|e| Error::Io("starting the async runtime".into(), e))?;
    match dispatch {
        Some(d) => tracing::dispatcher::with_default(&d, || runtime.block_on(serve(opts))),
        None => runtime.block_on(serve(opts)),
    }
}
