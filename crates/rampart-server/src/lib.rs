//! rampart's HTTPS admission webhook over the same engine as `rampart scan` and `rampart pss`.
//!
//! `POST /validate` takes an `admission.k8s.io/v1` AdmissionReview and answers with the Pod
//! Security Standards (per mode, per namespace) and the check catalog, and requires the cosign
//! signatures of the config's `images:` policies; `POST /mutate` (opt-in) fills in secure
//! defaults and pins verified tags to their digests; `/healthz`, `/readyz` and `/metrics` serve
//! operations.
//!
//! ```
//! use std::sync::Arc;
//! use rampart_server::{AppState, Config, Engine, NoNamespaceLabels, RampartPss, router};
//!
//! let engine = Engine::new(Config::default(), Arc::new(RampartPss), Arc::new(NoNamespaceLabels));
//! let app: axum::Router = router(AppState::new(engine));
//! // serve it over TLS with `rampart_server::serve_listener`, or drive it in tests with
//! // `tower::ServiceExt::oneshot`.
//! # drop(app);
//! ```

pub mod audit;
mod certs;
mod config;
mod decide;
mod http;
mod images;
mod lean;
mod metrics;
mod mutate;
mod namespaces;
mod pss;
mod pss_bridge;
mod pull_secrets;
mod server;
mod tls;

pub use certs::{GeneratedCerts, base64, generate as generate_certs, service_dns_names};
pub use config::{
    CheckActions, Config, Exemptions, Limits, Mode, ModePolicies,
    NamespaceLabels as NamespaceLabelSource,
};
pub use decide::{Decision, Engine, NamespaceLabels, NoNamespaceLabels, StaticNamespaceLabels};
pub use http::{AppState, router};
pub use images::{FailurePolicy, ImagePolicy};
pub use metrics::Metrics;
pub use mutate::secure_defaults;
pub use pss::{Level, PodSecurity, PssPolicy, RampartPss, Violation};
pub use pull_secrets::{PullSecrets, SECRET_TTL};
pub use server::{ServeOptions, serve, serve_blocking, serve_listener, shutdown_signal};
pub use tls::{ReloadingCert, install_crypto_provider, server_config};

/// Errors from the server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or a socket bound.
    #[error("{0}")]
    Io(String, #[source] std::io::Error),
    /// Certificate or key problems (never includes key material).
    #[error("tls: {0}")]
    Tls(String),
    /// Certificate generation failed.
    #[error("generating certificates")]
    Certificate(#[source] rcgen::Error),
}
