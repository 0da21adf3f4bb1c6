//! TLS: rustls (aws-lc-rs), TLS 1.2+, ALPN h2 and http/1.1, and a certificate that is reloaded
//! when its files change (polled, so Secret volume symlink swaps are seen).

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::Error;

/// Installs aws-lc-rs as the process's rustls provider (idempotent).
pub fn install_crypto_provider() {
    // Err means a provider is already installed, which is fine.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

fn provider() -> Arc<CryptoProvider> {
    CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
}

/// Parses a PEM certificate chain and private key into a checked [`CertifiedKey`].
pub fn certified_key_from_pem(
    cert_pem: &[u8],
    key_pem: &[u8],
    cert_name: &Path,
    key_name: &Path,
) -> Result<CertifiedKey, Error> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| {
            Error::Tls(format!(
                "{}: invalid PEM certificate: {e}",
                cert_name.display()
            ))
        })?;
    if chain.is_empty() {
        return Err(Error::Tls(format!(
            "{}: no certificate found",
            cert_name.display()
        )));
    }
    // Never include key material in messages.
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|_| {
        Error::Tls(format!(
            "{}: no valid PEM private key found",
            key_name.display()
        ))
    })?;
    CertifiedKey::from_der(chain, key, &provider()).map_err(|e| {
        Error::Tls(format!(
            "{} / {}: {e}",
            cert_name.display(),
            key_name.display()
        ))
    })
}

/// The serving certificate, swapped in place when the files change.
#[derive(Debug)]
pub struct ReloadingCert {
    cert_path: PathBuf,
    key_path: PathBuf,
    current: RwLock<Arc<CertifiedKey>>,
    last: RwLock<(Vec<u8>, Vec<u8>)>,
}

impl ReloadingCert {
    /// Loads the certificate and key; fails if either is missing or invalid.
    pub fn load(
        cert_path: impl Into<PathBuf>,
        key_path: impl Into<PathBuf>,
    ) -> Result<Arc<Self>, Error> {
        let cert_path = cert_path.into();
        let key_path = key_path.into();
        let (c, k) = read_pair(&cert_path, &key_path)?;
        let ck = certified_key_from_pem(&c, &k, &cert_path, &key_path)?;
        Ok(Arc::new(ReloadingCert {
            cert_path,
            key_path,
            current: RwLock::new(Arc::new(ck)),
            last: RwLock::new((c, k)),
        }))
    }

    /// Re-reads the files; swaps the certificate if they changed and parse. Returns whether it
    /// swapped. A broken new pair keeps the old certificate in service.
    pub fn reload(&self) -> Result<bool, Error> {
        let (c, k) = read_pair(&self.cert_path, &self.key_path)?;
        let same = self
            .last
            .read()
            .map(|l| l.0 == c && l.1 == k)
            .unwrap_or(false);
        if same {
            return Ok(false);
        }
        let ck = certified_key_from_pem(&c, &k, &self.cert_path, &self.key_path)?;
        if let Ok(mut cur) = self.current.write() {
            *cur = Arc::new(ck);
        }
        if let Ok(mut l) = self.last.write() {
            *l = (c, k);
        }
        Ok(true)
    }

    /// Polls the files every `interval` until the task is dropped.
    pub fn spawn_poller(self: &Arc<Self>, interval: Duration) -> tokio::task::JoinHandle<()> {
        let me = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                let me2 = Arc::clone(&me);
                match tokio::task::spawn_blocking(move || me2.reload()).await {
                    Ok(Ok(true)) => {
                        tracing::info!(cert = %me.cert_path.display(), "reloaded serving certificate")
                    }
                    Ok(Ok(false)) => {}
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "certificate reload failed; keeping the current one")
                    }
                    Err(e) => tracing::warn!(error = %e, "certificate reload task failed"),
                }
            }
        })
    }

    fn current(&self) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().map(|c| Arc::clone(&c))
    }
}

fn read_pair(cert: &Path, key: &Path) -> Result<(Vec<u8>, Vec<u8>), Error> {
    let c = std::fs::read(cert).map_err(|e| Error::Io(cert.display().to_string(), e))?;
    let k = std::fs::read(key).map_err(|e| Error::Io(key.display().to_string(), e))?;
    Ok((c, k))
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current()
    }
}

/// A rustls server config: TLS 1.3 and 1.2, ALPN `h2` then `http/1.1`.
pub fn server_config(cert: Arc<ReloadingCert>) -> Result<Arc<ServerConfig>, Error> {
    let mut cfg = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| Error::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(cert);
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}
