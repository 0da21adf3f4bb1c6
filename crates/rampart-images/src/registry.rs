//! Registry access over the OCI distribution API through the `oci-client` crate (reqwest with
//! rustls and aws-lc-rs): manifests and blobs by tag or digest, Docker registry v2 token auth and
//! basic auth. What stays here is ours: the credentials (docker's `config.json`, image pull
//! Secrets), the checks on what comes back (digests, sizes) and the meaning of each failure
//! ([`Error::Unreachable`]: nothing was learnt; [`Error::Registry`]: the registry answered no).

use crate::Error;
use crate::reference::Reference;
use aws_lc_rs::digest;
use base64::Engine as _;
use futures_util::StreamExt as _;
use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciEnvelope, OciErrorCode};
use oci_client::secrets::RegistryAuth;
use oci_client::{Reference as OciReference, RegistryOperation};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

pub use bytes::Bytes;

/// The manifest media types asked for: OCI index and manifest, Docker v2 list and manifest.
pub const MANIFEST_TYPES: &[&str] = &[
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];

const MAX_MANIFEST: usize = 4 << 20;
const MAX_BLOB: usize = 16 << 20;

/// Where credentials come from when nothing more precise is known.
const DOCKER_CONFIG: &str = "docker's config.json";

/// One registry login and where it was read from (said in messages; never the password).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Login {
    user: String,
    password: String,
    source: String,
}

/// Registry credentials by host.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Credentials {
    by_host: BTreeMap<String, Login>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secrets.
        f.debug_struct("Credentials")
            .field("hosts", &self.by_host.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Credentials {
    /// Adds a user and password for a registry host (said to come from docker's config.json).
    pub fn insert(&mut self, host: &str, user: &str, password: &str) {
        self.insert_from(host, user, password, DOCKER_CONFIG);
    }

    /// Adds a user and password for a registry host, read from `source` (named in the
    /// messages of a refused login, e.g. `Secret prod/regcred`).
    pub fn insert_from(&mut self, host: &str, user: &str, password: &str, source: &str) {
        self.by_host.insert(
            normalise_host(host),
            Login {
                user: user.to_string(),
                password: password.to_string(),
                source: source.to_string(),
            },
        );
    }

    /// Whether there are no credentials at all.
    pub fn is_empty(&self) -> bool {
        self.by_host.is_empty()
    }

    /// Adds `other`'s credentials for the hosts that have none here (the fallback the kubelet
    /// uses: a pod's pull secrets first, then the node's credentials).
    pub fn fill_from(&mut self, other: &Credentials) {
        for (h, l) in &other.by_host {
            self.by_host.entry(h.clone()).or_insert_with(|| l.clone());
        }
    }

    /// Reads docker's `config.json` (`auths.<host>.auth`, base64 of `user:password`, or
    /// `username`/`password`).
    pub fn from_docker_config(name: &str, text: &str) -> Result<Credentials, Error> {
        Self::parse_docker_config(name, text, DOCKER_CONFIG)
    }

    /// [`Credentials::from_docker_config`] with the source named in messages.
    pub fn parse_docker_config(name: &str, text: &str, source: &str) -> Result<Credentials, Error> {
        let bad = |line: usize, column: usize, message: String| Error::Input {
            file: name.to_string(),
            line: u32::try_from(line).unwrap_or(0),
            column: u32::try_from(column).unwrap_or(0),
            message,
        };
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            bad(
                e.line(),
                e.column(),
                format!("not a docker config.json: {e}"),
            )
        })?;
        let mut creds = Credentials::default();
        let Some(auths) = v.get("auths").and_then(|a| a.as_object()) else {
            return Ok(creds);
        };
        for (host, entry) in auths {
            if let Some(auth) = entry.get("auth").and_then(|a| a.as_str()) {
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(auth.trim())
                    .ok()
                    .and_then(|d| String::from_utf8(d).ok());
                let Some((user, pass)) = decoded.as_deref().and_then(|d| d.split_once(':')) else {
                    return Err(bad(
                        0,
                        0,
                        format!("auths.{host}.auth is not base64 of `user:password`"),
                    ));
                };
                creds.insert_from(host, user, pass, source);
            } else if let (Some(u), Some(p)) = (
                entry.get("username").and_then(|u| u.as_str()),
                entry.get("password").and_then(|p| p.as_str()),
            ) {
                creds.insert_from(host, u, p, source);
            }
        }
        Ok(creds)
    }

    /// The credentials of one `kubernetes.io/dockerconfigjson` (or legacy
    /// `kubernetes.io/dockercfg`) Secret's `data` (decoded), named `source` in messages.
    /// `Ok(None)` when the Secret is of another type; the error says which key does not decode
    /// (never its value).
    pub fn from_pull_secret(
        secret_type: &str,
        data: &BTreeMap<String, Vec<u8>>,
        source: &str,
    ) -> Result<Option<Credentials>, String> {
        let (key, wrapped) = match secret_type {
            "kubernetes.io/dockerconfigjson" => (".dockerconfigjson", true),
            "kubernetes.io/dockercfg" => (".dockercfg", false),
            _ => return Ok(None),
        };
        let text = data
            .get(key)
            .and_then(|b| String::from_utf8(b.clone()).ok());
        Self::pull_secret_text(text, wrapped, source)
            .map(Some)
            .ok_or_else(|| format!("{key} is not a docker config with `auths`"))
    }

    fn pull_secret_text(text: Option<String>, wrapped: bool, source: &str) -> Option<Credentials> {
        let t = text?;
        let t = if wrapped {
            t
        } else {
            format!("{{\"auths\": {t}}}")
        };
        Credentials::parse_docker_config("", &t, source).ok()
    }

    /// `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`; none when there is no file.
    pub fn load_default() -> Result<Credentials, Error> {
        let path = match std::env::var_os("DOCKER_CONFIG") {
            Some(d) => Path::new(&d).join("config.json"),
            None => match std::env::var_os("HOME") {
                Some(h) => Path::new(&h).join(".docker").join("config.json"),
                None => return Ok(Credentials::default()),
            },
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => Credentials::from_docker_config(&path.display().to_string(), &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Credentials::default()),
            Err(source) => Err(Error::Io {
                path: path.display().to_string(),
                source,
            }),
        }
    }

    /// Adds the credentials of the `kubernetes.io/dockerconfigjson` (and legacy
    /// `kubernetes.io/dockercfg`) Secrets among `objects`, as a pod's `imagePullSecrets` give
    /// them to the kubelet; credentials already present win. A Secret that does not decode is
    /// an error at its position (its value is never shown).
    pub fn add_pull_secrets(
        &mut self,
        objects: &[rampart_manifest::Object],
    ) -> Vec<rampart_core::InputError> {
        let mut errors = Vec::new();
        for obj in objects
            .iter()
            .filter(|o| o.kind() == "Secret" && o.api_version() == "v1")
        {
            let ty = obj.value.get("type").and_then(|t| t.as_str()).unwrap_or("");
            let (key, wrapped) = match ty {
                "kubernetes.io/dockerconfigjson" => (".dockerconfigjson", true),
                "kubernetes.io/dockercfg" => (".dockercfg", false),
                _ => continue,
            };
            let pointer = format!("/data/{}", key.replace('~', "~0").replace('/', "~1"));
            let text = obj
                .value
                .pointer(&pointer)
                .and_then(|v| v.as_str())
                .and_then(|b| {
                    base64::engine::general_purpose::STANDARD
                        .decode(b.trim())
                        .ok()
                })
                .and_then(|b| String::from_utf8(b).ok())
                .or_else(|| {
                    obj.value
                        .pointer(&format!("/stringData/{key}"))
                        .and_then(|v| v.as_str())
                        .map(str::to_string)
                });
            let source = format!("Secret {:?}", obj.name());
            match Self::pull_secret_text(text, wrapped, &source) {
                Some(c) => self.fill_from(&c),
                None => {
                    let l = obj.location(&pointer);
                    errors.push(rampart_core::InputError {
                        file: l.file.to_string(),
                        line: l.line,
                        column: l.column,
                        message: format!(
                            "Secret {:?}: {key} is not a base64 docker config with `auths`",
                            obj.name()
                        ),
                    });
                }
            }
        }
        errors
    }

    /// The credentials used for `r`'s registry alone (empty when there are none).
    pub fn for_registry(&self, r: &Reference) -> Credentials {
        let mut out = Credentials::default();
        if let Some(l) = self.get(&r.registry).or_else(|| self.get(r.api_host())) {
            out.by_host.insert(normalise_host(r.api_host()), l.clone());
        }
        out
    }

    fn get(&self, host: &str) -> Option<&Login> {
        let h = normalise_host(host);
        self.by_host.get(&h).or_else(|| {
            (h == "registry-1.docker.io")
                .then(|| self.by_host.get("docker.io"))
                .flatten()
        })
    }
}

/// `https://index.docker.io/v1/` → `docker.io`; schemes and paths dropped.
fn normalise_host(host: &str) -> String {
    let h = host
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let h = h.split('/').next().unwrap_or(h);
    match h {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            "docker.io".to_string()
        }
        _ => h.to_string(),
    }
}

/// A manifest that refers to another (its `subject`), as a referrers list describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Referrer {
    pub digest: String,
    /// Its `artifactType` (else its config's media type), when the list gives it.
    pub artifact_type: Option<String>,
}

/// How to reach registries.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Plain HTTP instead of HTTPS (cosign's `--allow-insecure-registry`).
    pub insecure: bool,
    /// Extra trusted CA certificates (PEM), besides the system's.
    pub ca_pem: Option<Vec<u8>>,
    pub credentials: Credentials,
    /// Bound on each operation (a manifest, a blob, a digest), connection and token included.
    pub timeout: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            insecure: false,
            ca_pem: None,
            credentials: Credentials::default(),
            timeout: Duration::from_secs(30),
        }
    }
}

/// An OCI distribution API client: `oci_client::Client` with our credentials, limits and
/// error meanings. One client holds one set of credentials (its token cache is per registry and
/// repository, so clients with other credentials must not share it).
pub struct Client {
    oci: oci_client::Client,
    opts: ClientOptions,
}

/// A manifest as fetched.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub bytes: Bytes,
    /// The manifest's `mediaType` (empty when the manifest does not say).
    pub media_type: String,
    /// `sha256:<hex>` of the bytes.
    pub digest: String,
}

impl Client {
    pub fn new(opts: ClientOptions) -> Result<Client, Error> {
        let mut extra_root_certificates = Vec::new();
        if let Some(pem) = &opts.ca_pem {
            use rustls_pki_types::pem::PemObject as _;
            for c in rustls_pki_types::CertificateDer::pem_slice_iter(pem) {
                let c = c.map_err(|e| Error::Key(format!("registry CA: {e}")))?;
                // what reqwest would only find when connecting
                webpki::anchor_from_trusted_cert(&c)
                    .map_err(|e| Error::Key(format!("registry CA: {e}")))?;
                extra_root_certificates.push(Certificate {
                    encoding: CertificateEncoding::Der,
                    data: c.to_vec(),
                });
            }
            if extra_root_certificates.is_empty() {
                return Err(Error::Key("registry CA: no certificate in the file".into()));
            }
        }
        let config = ClientConfig {
            protocol: if opts.insecure {
                ClientProtocol::Http
            } else {
                ClientProtocol::Https
            },
            extra_root_certificates,
            connect_timeout: Some(opts.timeout),
            read_timeout: Some(opts.timeout),
            user_agent: concat!("rampart/", env!("CARGO_PKG_VERSION")),
            // only raw manifests are asked for; the caller picks from an index
            platform_resolver: None,
            ..ClientConfig::default()
        };
        let oci = oci_client::Client::try_from(config)
            .map_err(|e| Error::Registry(format!("registry client: {}", chain(&e))))?;
        Ok(Client { oci, opts })
    }

    /// `r` for oci-client, naming `reference` (a tag or a digest) in `r`'s repository.
    fn oci_ref(r: &Reference, reference: &str) -> OciReference {
        let (registry, repository) = (r.api_host().to_string(), r.repository.clone());
        if reference.contains(':') {
            OciReference::with_digest(registry, repository, reference.to_string())
        } else {
            OciReference::with_tag(registry, repository, reference.to_string())
        }
    }

    fn login(&self, r: &Reference) -> Option<&Login> {
        let c = &self.opts.credentials;
        c.get(&r.registry).or_else(|| c.get(r.api_host()))
    }

    fn auth(&self, r: &Reference) -> RegistryAuth {
        match self.login(r) {
            Some(l) => RegistryAuth::Basic(l.user.clone(), l.password.clone()),
            None => RegistryAuth::Anonymous,
        }
    }

    /// Runs one registry operation within the timeout; a failure is said with [`Client::error`].
    async fn run<T>(
        &self,
        r: &Reference,
        op: impl Future<Output = Result<T, OciDistributionError>>,
    ) -> Result<T, Failure> {
        match tokio::time::timeout(self.opts.timeout, op).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(Failure::Oci(e)),
            Err(_) => Err(Failure::Said(Error::Unreachable(format!(
                "registry {} unreachable: no answer within {:?}",
                r.api_host(),
                self.opts.timeout
            )))),
        }
    }

    /// The digest a reference points at: its digest if it has one, else the registry's
    /// `Docker-Content-Digest` for the tag (HEAD, then GET when the header is missing).
    pub async fn resolve_digest(&self, r: &Reference) -> Result<String, Error> {
        if let Some(d) = &r.digest {
            return Ok(d.clone());
        }
        let image = Self::oci_ref(r, r.manifest_ref());
        let auth = self.auth(r);
        match self
            .run(r, self.oci.fetch_manifest_digest(&image, &auth))
            .await
        {
            Ok(d) => Ok(d),
            Err(f) if f.is_not_found() => Err(Error::Registry(format!("{r}: manifest unknown"))),
            Err(f) => Err(self.error(r, &image, f).await),
        }
    }

    /// The manifest at `reference` (a tag or a digest) in `r`'s repository; `None` on 404.
    /// Its bytes are checked against the digest asked for and the registry's
    /// `Docker-Content-Digest`.
    pub async fn manifest(
        &self,
        r: &Reference,
        reference: &str,
    ) -> Result<Option<Manifest>, Error> {
        let image = Self::oci_ref(r, reference);
        let auth = self.auth(r);
        let (bytes, _) = match self
            .run(r, self.oci.pull_manifest_raw(&image, &auth, MANIFEST_TYPES))
            .await
        {
            Ok(m) => m,
            Err(f) if f.is_not_found() => return Ok(None),
            Err(Failure::Oci(OciDistributionError::DigestError(
                oci_client::errors::DigestError::VerificationError { expected, actual },
            ))) => {
                return Err(Error::Registry(format!(
                    "{r}: the registry returned a manifest with digest {actual} for {expected}"
                )));
            }
            Err(f) => return Err(self.error(r, &image, f).await),
        };
        if bytes.len() > MAX_MANIFEST {
            return Err(Error::Registry(format!("{r}: manifest larger than 4 MiB")));
        }
        let digest = sha256_digest(&bytes);
        if reference.starts_with("sha256:") && reference != digest {
            return Err(Error::Registry(format!(
                "{r}: the registry returned a manifest with digest {digest} for {reference}"
            )));
        }
        let media_type = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v.get("mediaType")?.as_str().map(str::to_string))
            .unwrap_or_default();
        Ok(Some(Manifest {
            bytes,
            media_type,
            digest,
        }))
    }

    /// The manifests that refer to the manifest `digest` in `r`'s repository (their
    /// `subject`), in the order listed: the OCI 1.1 referrers API, or the referrers tag
    /// schema's index at `sha256-<hex>` where the registry does not have the API. Empty when
    /// there are none.
    pub async fn referrers(&self, r: &Reference, digest: &str) -> Result<Vec<Referrer>, Error> {
        let image = Self::oci_ref(r, digest);
        let auth = self.auth(r);
        let op = async {
            self.oci
                .store_auth_if_needed(image.resolve_registry(), &auth)
                .await;
            self.oci.pull_referrers(&image, None).await
        };
        match self.run(r, op).await {
            Ok(index) => Ok(index
                .manifests
                .into_iter()
                .map(|m| Referrer {
                    digest: m.digest,
                    artifact_type: m.artifact_type,
                })
                .collect()),
            Err(f) if f.is_not_found() => Ok(Vec::new()),
            Err(f) => Err(self.error(r, &image, f).await),
        }
    }

    /// A blob, checked against its digest, read up to 16 MiB.
    pub async fn blob(&self, r: &Reference, digest: &str) -> Result<Bytes, Error> {
        let image = Self::oci_ref(r, r.manifest_ref());
        let auth = self.auth(r);
        let too_large = || Error::Registry(format!("{r}: blob {digest} larger than 16 MiB"));
        let mismatch = || Error::Registry(format!("{r}: blob {digest} does not match its digest"));
        let read = async {
            self.oci
                .store_auth_if_needed(image.resolve_registry(), &auth)
                .await;
            let mut stream = self.oci.pull_blob_stream(&image, digest).await?;
            if stream
                .content_length
                .is_some_and(|n| usize::try_from(n).map_or(true, |n| n > MAX_BLOB))
            {
                return Ok(Err(too_large()));
            }
            let mut body = Vec::new();
            while let Some(chunk) = stream.next().await {
                match chunk {
                    Ok(c) => body.extend_from_slice(&c),
                    Err(e) if is_digest_error(&e) => return Ok(Err(mismatch())),
                    Err(e) => return Err(OciDistributionError::IoError(e)),
                }
                if body.len() > MAX_BLOB {
                    return Ok(Err(too_large()));
                }
            }
            Ok(Ok(Bytes::from(body)))
        };
        let body = match self.run(r, read).await {
            Ok(b) => b?,
            Err(f) => return Err(self.error(r, &image, f).await),
        };
        if digest.starts_with("sha256:") && sha256_digest(&body) != digest {
            return Err(mismatch());
        }
        Ok(body)
    }

    /// What a failure means. A refused request is told apart by asking for a token once more:
    /// the token service refusing, no credentials for a registry that wants some, or
    /// credentials the registry does not accept.
    async fn error(&self, r: &Reference, image: &OciReference, f: Failure) -> Error {
        let e = match f {
            Failure::Said(e) => return e,
            Failure::Oci(e) => e,
        };
        let host = r.api_host();
        match e {
            OciDistributionError::RequestError(e) => {
                Error::Unreachable(format!("registry {host} unreachable: {}", causes(&e)))
            }
            OciDistributionError::IoError(e) => {
                Error::Unreachable(format!("registry {host} unreachable: {}", chain(&e)))
            }
            OciDistributionError::UnauthorizedError { .. } => self.refused(r, image, None).await,
            OciDistributionError::RegistryError { envelope, .. } => {
                let (code, message) = first_error(&envelope);
                match envelope.errors.first().map(|e| &e.code) {
                    Some(OciErrorCode::Unauthorized | OciErrorCode::Denied) => {
                        self.refused(r, image, Some(&code)).await
                    }
                    Some(OciErrorCode::Toomanyrequests) => {
                        Error::Unreachable(format!("{r}: the registry answered {code}: {message}"))
                    }
                    _ => Error::Registry(format!("{r}: the registry answered {code}: {message}")),
                }
            }
            OciDistributionError::ServerError { code, message, .. } => {
                let status = http::StatusCode::from_u16(code)
                    .map_or_else(|_| code.to_string(), |s| s.to_string());
                let detail = serde_json::from_str::<OciEnvelope>(&message)
                    .ok()
                    .map(|e| first_error(&e).1);
                let said = match detail {
                    Some(d) => format!("{r}: the registry answered {status}: {d}"),
                    None => format!("{r}: the registry answered {status}"),
                };
                match code {
                    401 | 403 => self.refused(r, image, Some(&status)).await,
                    // a server error is the registry being unavailable, not an answer about
                    // the image
                    429 | 500.. => Error::Unreachable(said),
                    _ => Error::Registry(said),
                }
            }
            e => Error::Registry(format!("{r}: {}", chain(&e))),
        }
    }

    /// Why the registry refused: `status` is what it answered (401 when not given).
    async fn refused(&self, r: &Reference, image: &OciReference, status: Option<&str>) -> Error {
        let login = self.login(r);
        let auth = self.auth(r);
        let retry = tokio::time::timeout(
            self.opts.timeout,
            self.oci.auth(image, &auth, RegistryOperation::Pull),
        )
        .await;
        if let Ok(Err(OciDistributionError::AuthenticationFailure(body))) = retry {
            let body = body.trim();
            let whose = match login {
                Some(l) => format!("the credentials in {}", l.source),
                None => "an anonymous pull".to_string(),
            };
            let mut m = format!(
                "{r}: the registry's token service refused a token for {whose} (scope repository:{}:pull)",
                r.repository
            );
            if !body.is_empty() {
                m.push_str(": ");
                m.extend(body.chars().take(200));
            }
            return Error::Registry(m);
        }
        match login {
            None => Error::Registry(format!(
                "{r}: the registry asks for credentials and none are configured for {}",
                r.registry
            )),
            Some(l) => Error::Registry(format!(
                "{r}: access denied ({}); check the credentials in {}",
                status.unwrap_or("401 Unauthorized"),
                l.source
            )),
        }
    }
}

/// A failed operation: oci-client's error, or one already said.
enum Failure {
    Oci(OciDistributionError),
    Said(Error),
}

impl Failure {
    /// A 404: the manifest, blob or repository does not exist.
    fn is_not_found(&self) -> bool {
        match self {
            Failure::Oci(OciDistributionError::RegistryError { envelope, .. }) => {
                envelope.errors.first().is_some_and(|e| {
                    matches!(
                        e.code,
                        OciErrorCode::ManifestUnknown
                            | OciErrorCode::NameUnknown
                            | OciErrorCode::BlobUnknown
                            | OciErrorCode::NotFound
                    )
                })
            }
            Failure::Oci(OciDistributionError::ServerError { code: 404, .. }) => true,
            _ => false,
        }
    }
}

/// The first error of an envelope: its code as the registry spelt it, and its message.
fn first_error(envelope: &OciEnvelope) -> (String, String) {
    match envelope.errors.first() {
        Some(e) => (
            serde_json::to_value(&e.code)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            e.message.clone(),
        ),
        None => (String::new(), String::new()),
    }
}

fn is_digest_error(e: &std::io::Error) -> bool {
    e.get_ref()
        .is_some_and(|inner| inner.is::<oci_client::errors::DigestError>())
}

/// A request error's causes without reqwest's own `error sending request for url (…)`.
fn causes(e: &dyn std::error::Error) -> String {
    match e.source() {
        Some(s) => chain(s),
        None => e.to_string(),
    }
}

/// An error with its causes, `a: b: c`.
fn chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut src = e.source();
    while let Some(s) = src {
        let t = s.to_string();
        if !parts.iter().any(|p| p.contains(&t)) {
            parts.push(t);
        }
        src = s.source();
    }
    parts.join(": ")
}

/// `sha256:<hex>` of bytes.
pub fn sha256_digest(bytes: &[u8]) -> String {
    let d = digest::digest(&digest::SHA256, bytes);
    let mut s = String::from("sha256:");
    for b in d.as_ref() {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn reads_docker_config() {
        let c = Credentials::from_docker_config(
            "config.json",
            r#"{"auths": {"https://index.docker.io/v1/": {"auth": "dXNlcjpwYXNz"}, "ghcr.io": {"username": "u", "password": "p"}}}"#,
        )
        .unwrap();
        assert_eq!(c.get("registry-1.docker.io").unwrap().user, "user");
        assert_eq!(c.get("ghcr.io").unwrap().password, "p");
        assert!(!format!("{c:?}").contains("pass"));
        let e = Credentials::from_docker_config(
            "c.json",
            r#"{"auths": {"x": {"auth": "bm9jb2xvbg=="}}}"#,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "c.json: auths.x.auth is not base64 of `user:password`"
        );
    }

    #[test]
    fn reads_image_pull_secrets() {
        let cfg = base64::engine::general_purpose::STANDARD
            .encode(r#"{"auths": {"ghcr.io": {"auth": "Y2k6czNjcmV0"}}}"#);
        let text = format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: pull}}\ntype: kubernetes.io/dockerconfigjson\ndata:\n  .dockerconfigjson: {cfg}\n---\napiVersion: v1\nkind: Secret\nmetadata: {{name: broken}}\ntype: kubernetes.io/dockerconfigjson\ndata:\n  .dockerconfigjson: bm90IGpzb24=\n"
        );
        let loaded = rampart_manifest::load_str("s.yaml", &text);
        let mut c = Credentials::default();
        c.insert("ghcr.io", "mine", "kept");
        let mut fresh = Credentials::default();
        let errors = fresh.add_pull_secrets(&loaded.objects);
        let l = fresh.get("ghcr.io").unwrap();
        assert_eq!((l.user.as_str(), l.password.as_str()), ("ci", "s3cret"));
        assert_eq!(l.source, "Secret \"pull\"");
        assert_eq!(errors.len(), 1);
        assert_eq!(
            errors[0].to_string(),
            "s.yaml:13:3: Secret \"broken\": .dockerconfigjson is not a base64 docker config with `auths`"
        );
        assert!(!errors[0].to_string().contains("bm90"));
        c.add_pull_secrets(&loaded.objects);
        assert_eq!(c.get("ghcr.io").unwrap().user, "mine");
    }

    #[test]
    fn reads_a_pull_secret_from_the_api() {
        let data =
            |key: &str, value: &str| BTreeMap::from([(key.to_string(), value.as_bytes().to_vec())]);
        let json = data(
            ".dockerconfigjson",
            r#"{"auths": {"ghcr.io": {"auth": "Y2k6czNjcmV0"}}}"#,
        );
        let c =
            Credentials::from_pull_secret("kubernetes.io/dockerconfigjson", &json, "Secret a/b")
                .unwrap()
                .unwrap();
        assert_eq!(c.get("ghcr.io").unwrap().source, "Secret a/b");
        let legacy = data(".dockercfg", r#"{"ghcr.io": {"auth": "Y2k6czNjcmV0"}}"#);
        let c = Credentials::from_pull_secret("kubernetes.io/dockercfg", &legacy, "s")
            .unwrap()
            .unwrap();
        assert_eq!(c.get("ghcr.io").unwrap().user, "ci");
        assert_eq!(
            Credentials::from_pull_secret("Opaque", &json, "s").unwrap(),
            None
        );
        assert_eq!(
            Credentials::from_pull_secret("kubernetes.io/dockercfg", &json, "s").unwrap_err(),
            ".dockercfg is not a docker config with `auths`"
        );
    }
}
