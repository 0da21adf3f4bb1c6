//! A small client for the OCI distribution API: manifests and blobs by tag or digest, Docker
//! registry v2 token auth (the `WWW-Authenticate` challenge) and basic auth with credentials
//! from docker's `config.json`, TLS through rustls with aws-lc-rs.

use crate::Error;
use crate::reference::Reference;
use aws_lc_rs::digest;
use base64::Engine as _;
use http_body_util::{BodyExt as _, Empty};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The manifest media types asked for: OCI index and manifest, Docker v2 list and manifest.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";

const MAX_MANIFEST: usize = 4 << 20;
const MAX_BLOB: usize = 16 << 20;

/// Registry credentials by host.
#[derive(Clone, Default)]
pub struct Credentials {
    by_host: HashMap<String, (String, String)>,
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
    /// Adds a user and password for a registry host.
    pub fn insert(&mut self, host: &str, user: &str, password: &str) {
        self.by_host.insert(
            normalise_host(host),
            (user.to_string(), password.to_string()),
        );
    }

    /// Reads docker's `config.json` (`auths.<host>.auth`, base64 of `user:password`, or
    /// `username`/`password`).
    pub fn from_docker_config(name: &str, text: &str) -> Result<Credentials, Error> {
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
                creds.insert(host, user, pass);
            } else if let (Some(u), Some(p)) = (
                entry.get("username").and_then(|u| u.as_str()),
                entry.get("password").and_then(|p| p.as_str()),
            ) {
                creds.insert(host, u, p);
            }
        }
        Ok(creds)
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
            let parsed = text.and_then(|t| {
                let t = if wrapped {
                    t
                } else {
                    format!("{{\"auths\": {t}}}")
                };
                Credentials::from_docker_config("", &t).ok()
            });
            match parsed {
                Some(c) => {
                    for (h, v) in c.by_host {
                        self.by_host.entry(h).or_insert(v);
                    }
                }
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

    fn get(&self, host: &str) -> Option<&(String, String)> {
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

/// How to reach registries.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Plain HTTP instead of HTTPS (cosign's `--allow-insecure-registry`).
    pub insecure: bool,
    /// Extra trusted CA certificates (PEM), besides the system's.
    pub ca_pem: Option<Vec<u8>>,
    pub credentials: Credentials,
    /// Bound on each request, connection included.
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

type Http = HyperClient<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// An OCI distribution API client.
pub struct Client {
    http: Http,
    opts: ClientOptions,
    /// Bearer tokens by (host, scope).
    tokens: Mutex<HashMap<(String, String), String>>,
}

/// A response, its body read.
struct Response {
    status: StatusCode,
    headers: hyper::HeaderMap,
    body: Bytes,
}

/// A manifest as fetched.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub bytes: Bytes,
    pub media_type: String,
    /// `sha256:<hex>` of the bytes.
    pub digest: String,
}

impl Client {
    pub fn new(opts: ClientOptions) -> Result<Client, Error> {
        let mut roots = rustls::RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        for c in native.certs {
            let _ = roots.add(c);
        }
        if let Some(pem) = &opts.ca_pem {
            use rustls_pki_types::pem::PemObject as _;
            let mut n = 0;
            for c in rustls_pki_types::CertificateDer::pem_slice_iter(pem) {
                let c = c.map_err(|e| Error::Key(format!("registry CA: {e}")))?;
                roots
                    .add(c)
                    .map_err(|e| Error::Key(format!("registry CA: {e}")))?;
                n += 1;
            }
            if n == 0 {
                return Err(Error::Key("registry CA: no certificate in the file".into()));
            }
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Registry(format!("TLS: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
        let http = HyperClient::builder(TokioExecutor::new()).build(connector);
        Ok(Client {
            http,
            opts,
            tokens: Mutex::new(HashMap::new()),
        })
    }

    fn base(&self, r: &Reference) -> String {
        let scheme = if self.opts.insecure { "http" } else { "https" };
        format!("{scheme}://{}", r.api_host())
    }

    /// The digest a reference points at: its digest if it has one, else the registry's
    /// `Docker-Content-Digest` for the tag (HEAD, then GET when the header is missing).
    pub async fn resolve_digest(&self, r: &Reference) -> Result<String, Error> {
        if let Some(d) = &r.digest {
            return Ok(d.clone());
        }
        let url = format!(
            "{}/v2/{}/manifests/{}",
            self.base(r),
            r.repository,
            r.manifest_ref()
        );
        let resp = self.send(Method::HEAD, &url, r, MANIFEST_ACCEPT).await?;
        if resp.status == StatusCode::NOT_FOUND {
            return Err(Error::Registry(format!("{r}: manifest unknown")));
        }
        if !resp.status.is_success() {
            return Err(status_error(r, &resp));
        }
        if let Some(d) = resp
            .headers
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
        {
            return Ok(d.to_string());
        }
        match self.manifest(r, r.manifest_ref()).await? {
            Some(m) => Ok(m.digest),
            None => Err(Error::Registry(format!("{r}: manifest unknown"))),
        }
    }

    /// The manifest at `reference` (a tag or a digest) in `r`'s repository; `None` on 404.
    pub async fn manifest(
        &self,
        r: &Reference,
        reference: &str,
    ) -> Result<Option<Manifest>, Error> {
        let url = format!("{}/v2/{}/manifests/{reference}", self.base(r), r.repository);
        let resp = self.send(Method::GET, &url, r, MANIFEST_ACCEPT).await?;
        if resp.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !resp.status.is_success() {
            return Err(status_error(r, &resp));
        }
        if resp.body.len() > MAX_MANIFEST {
            return Err(Error::Registry(format!("{r}: manifest larger than 4 MiB")));
        }
        let media_type = resp
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let digest = sha256_digest(&resp.body);
        if reference.starts_with("sha256:") && reference != digest {
            return Err(Error::Registry(format!(
                "{r}: the registry returned a manifest with digest {digest} for {reference}"
            )));
        }
        Ok(Some(Manifest {
            bytes: resp.body,
            media_type,
            digest,
        }))
    }

    /// A blob, checked against its digest.
    pub async fn blob(&self, r: &Reference, digest: &str) -> Result<Bytes, Error> {
        let url = format!("{}/v2/{}/blobs/{digest}", self.base(r), r.repository);
        let resp = self.send(Method::GET, &url, r, "*/*").await?;
        if !resp.status.is_success() {
            return Err(status_error(r, &resp));
        }
        if resp.body.len() > MAX_BLOB {
            return Err(Error::Registry(format!(
                "{r}: blob {digest} larger than 16 MiB"
            )));
        }
        if digest.starts_with("sha256:") && sha256_digest(&resp.body) != digest {
            return Err(Error::Registry(format!(
                "{r}: blob {digest} does not match its digest"
            )));
        }
        Ok(resp.body)
    }

    /// Sends a request with auth: a cached token, else the answer to a 401 challenge; follows
    /// up to five redirects (without credentials to another host).
    async fn send(
        &self,
        method: Method,
        url: &str,
        r: &Reference,
        accept: &str,
    ) -> Result<Response, Error> {
        let host = r.api_host().to_string();
        let scope = format!("repository:{}:pull", r.repository);
        let mut url = url.to_string();
        let mut auth = self.cached_auth(&host, &scope);
        let mut challenged = false;
        for _ in 0..6 {
            let uri: Uri = url
                .parse()
                .map_err(|e| Error::Registry(format!("{r}: bad URL {url}: {e}")))?;
            let same_host = uri.authority().is_some_and(|a| a.as_str() == host);
            let mut req = Request::builder()
                .method(method.clone())
                .uri(uri.clone())
                .header("accept", accept)
                .header("user-agent", concat!("rampart/", env!("CARGO_PKG_VERSION")));
            if same_host && let Some(a) = &auth {
                req = req.header("authorization", a.as_str());
            }
            let req = req
                .body(Empty::new())
                .map_err(|e| Error::Registry(format!("{r}: {e}")))?;
            let resp = self.roundtrip(req, &host).await?;
            if resp.status == StatusCode::UNAUTHORIZED && same_host && !challenged {
                challenged = true;
                let challenge = resp
                    .headers
                    .get("www-authenticate")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                auth = Some(self.authenticate(r, &host, &scope, &challenge).await?);
                continue;
            }
            if resp.status.is_redirection()
                && let Some(loc) = resp.headers.get("location").and_then(|v| v.to_str().ok())
            {
                url = if loc.starts_with("http://") || loc.starts_with("https://") {
                    loc.to_string()
                } else {
                    let scheme = uri.scheme_str().unwrap_or("https");
                    let authority = uri.authority().map_or("", |a| a.as_str());
                    format!("{scheme}://{authority}{loc}")
                };
                continue;
            }
            return Ok(resp);
        }
        Err(Error::Registry(format!("{r}: too many redirects")))
    }

    async fn roundtrip(&self, req: Request<Empty<Bytes>>, host: &str) -> Result<Response, Error> {
        let unreachable =
            |e: String| Error::Unreachable(format!("registry {host} unreachable: {e}"));
        let fut = async {
            let resp = self
                .http
                .request(req)
                .await
                .map_err(|e| unreachable(chain(&e)))?;
            let (parts, body) = resp.into_parts();
            let body = body
                .collect()
                .await
                .map_err(|e| unreachable(chain(&e)))?
                .to_bytes();
            Ok(Response {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        };
        tokio::time::timeout(self.opts.timeout, fut)
            .await
            .map_err(|_| unreachable(format!("no answer within {:?}", self.opts.timeout)))?
    }

    fn cached_auth(&self, host: &str, scope: &str) -> Option<String> {
        self.tokens
            .lock()
            .ok()?
            .get(&(host.to_string(), scope.to_string()))
            .cloned()
    }

    /// Answers a `WWW-Authenticate` challenge: `Basic` with the host's credentials, `Bearer`
    /// with a token from the realm (asked with the credentials when there are some).
    async fn authenticate(
        &self,
        r: &Reference,
        host: &str,
        scope: &str,
        challenge: &str,
    ) -> Result<String, Error> {
        let creds = self
            .opts
            .credentials
            .get(&r.registry)
            .or_else(|| self.opts.credentials.get(host));
        let basic = creds.map(|(u, p)| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            )
        });
        let (kind, params) = challenge.split_once(' ').unwrap_or((challenge, ""));
        let header = if kind.eq_ignore_ascii_case("basic") {
            basic.ok_or_else(|| {
                Error::Registry(format!(
                    "{r}: the registry asks for credentials and none are configured for {}",
                    r.registry
                ))
            })?
        } else if kind.eq_ignore_ascii_case("bearer") {
            let params = parse_challenge(params);
            let realm = params
                .get("realm")
                .ok_or_else(|| Error::Registry(format!("{r}: bearer challenge without a realm")))?;
            let mut url = format!(
                "{realm}?scope={}",
                encode(params.get("scope").map_or(scope, String::as_str))
            );
            if let Some(service) = params.get("service") {
                url.push_str(&format!("&service={}", encode(service)));
            }
            let uri: Uri = url
                .parse()
                .map_err(|e| Error::Registry(format!("{r}: bad token realm {realm}: {e}")))?;
            let mut req = Request::builder().method(Method::GET).uri(uri);
            if let Some(b) = &basic {
                req = req.header("authorization", b.as_str());
            }
            let req = req
                .body(Empty::new())
                .map_err(|e| Error::Registry(format!("{r}: {e}")))?;
            let resp = self.roundtrip(req, host).await?;
            if !resp.status.is_success() {
                return Err(Error::Registry(format!(
                    "{r}: the token service {realm} answered {}",
                    resp.status
                )));
            }
            let v: serde_json::Value = serde_json::from_slice(&resp.body)
                .map_err(|e| Error::Registry(format!("{r}: bad token response: {e}")))?;
            let token = v
                .get("token")
                .or_else(|| v.get("access_token"))
                .and_then(|t| t.as_str())
                .ok_or_else(|| Error::Registry(format!("{r}: token response without a token")))?;
            format!("Bearer {token}")
        } else {
            return Err(Error::Registry(format!(
                "{r}: unauthorized, and the registry's challenge {kind:?} is not supported"
            )));
        };
        if let Ok(mut t) = self.tokens.lock() {
            t.insert((host.to_string(), scope.to_string()), header.clone());
        }
        Ok(header)
    }
}

fn status_error(r: &Reference, resp: &Response) -> Error {
    let detail = serde_json::from_slice::<serde_json::Value>(&resp.body)
        .ok()
        .and_then(|v| {
            v.get("errors")?
                .as_array()?
                .first()?
                .get("message")?
                .as_str()
                .map(str::to_string)
        });
    match (resp.status, detail) {
        (StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN, _) => Error::Registry(format!(
            "{r}: access denied ({}); check the credentials in docker's config.json",
            resp.status
        )),
        // a server error is the registry being unavailable, not an answer about the image
        (s, Some(d)) if s.is_server_error() => {
            Error::Unreachable(format!("{r}: the registry answered {s}: {d}"))
        }
        (s, None) if s.is_server_error() => {
            Error::Unreachable(format!("{r}: the registry answered {s}"))
        }
        (s, Some(d)) => Error::Registry(format!("{r}: the registry answered {s}: {d}")),
        (s, None) => Error::Registry(format!("{r}: the registry answered {s}")),
    }
}

/// `key="value", key2="value2"` of a challenge.
fn parse_challenge(params: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut rest = params.trim();
    while let Some((k, v)) = rest.split_once('=') {
        let k = k.trim().trim_start_matches(',').trim().to_ascii_lowercase();
        let v = v.trim_start();
        let (value, after) = if let Some(q) = v.strip_prefix('"') {
            match q.find('"') {
                Some(i) => (q.get(..i).unwrap_or(""), q.get(i + 1..).unwrap_or("")),
                None => (q, ""),
            }
        } else {
            match v.find(',') {
                Some(i) => (v.get(..i).unwrap_or(""), v.get(i..).unwrap_or("")),
                None => (v, ""),
            }
        };
        out.insert(k, value.to_string());
        rest = after;
    }
    out
}

/// Percent-encodes a query value.
fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
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
        assert_eq!(c.get("registry-1.docker.io").unwrap().0, "user");
        assert_eq!(c.get("ghcr.io").unwrap().1, "p");
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
        assert_eq!(
            fresh.get("ghcr.io").unwrap(),
            &("ci".to_string(), "s3cret".to_string())
        );
        assert_eq!(errors.len(), 1);
        assert_eq!(
            errors[0].to_string(),
            "s.yaml:13:3: Secret \"broken\": .dockerconfigjson is not a base64 docker config with `auths`"
        );
        assert!(!errors[0].to_string().contains("bm90"));
        c.add_pull_secrets(&loaded.objects);
        assert_eq!(c.get("ghcr.io").unwrap().0, "mine");
    }

    #[test]
    fn parses_challenges() {
        let p = parse_challenge(
            r#"realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull""#,
        );
        assert_eq!(p["realm"], "https://auth.docker.io/token");
        assert_eq!(p["service"], "registry.docker.io");
        assert_eq!(p["scope"], "repository:library/nginx:pull");
    }
}
