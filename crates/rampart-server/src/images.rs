//! Image signature policies at admission (`images:` in the config): for the images matching a
//! policy's patterns, in the namespaces it covers, the cosign signatures it requires (keys or
//! keyless identities, `count` of them), optionally a digest in the reference (`requireDigest`)
//! and, in `/mutate`, the tag pinned to the verified digest (`mutateDigest`). Verified digests
//! are cached per (policy, image) for `cacheTTL`, failures (a bad or missing signature) for at
//! most 30 s; registry calls are bounded by
//! `timeoutSeconds`, and a registry that cannot be reached is the policy's `failurePolicy`.
//!
//! ```yaml
//! images:
//!   - name: acme-signed
//!     images: ["ghcr.io/acme/*"]
//!     namespaces: [prod]             # default: every namespace
//!     keys: [cosign.pub]             # PEM files (relative to the config) or inline PEM
//!     requireDigest: false
//!     mutateDigest: true
//!     failurePolicy: Fail            # or Ignore (admit with a warning)
//!     timeoutSeconds: 5
//!     cacheTTL: 5m
//! ```

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rampart_core::InputError;
use rampart_images::keyless::{Extension, Identity, KeylessPolicy, Matcher, TrustedRoot};
use rampart_images::keys::PublicKey;
use rampart_images::{Client, ClientOptions, Credentials, Reference};
use rampart_manifest::YamlDoc;
use serde_json::{Value, json};

use crate::metrics::Metrics;
use crate::pull_secrets::PullSecrets;

/// What a registry that cannot be reached (or answers too slowly) means for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailurePolicy {
    /// Deny, saying why.
    #[default]
    Fail,
    /// Admit, with a warning saying why.
    Ignore,
}

/// Entries the digest cache holds at most (each a few hundred bytes).
pub const CACHE_CAPACITY: usize = 10_000;
/// Default bound on a verification's registry calls: inside the API server's 10 s default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default lifetime of a verified digest in the cache.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(300);

/// One `images:` policy, its keys loaded and its registry client built.
#[derive(Clone)]
pub struct ImagePolicy {
    pub name: String,
    /// Image reference patterns as written (`*` any characters, `?` one).
    pub images: Vec<String>,
    /// Namespaces covered (patterns; empty: all).
    pub namespaces: Vec<String>,
    pub exclude_namespaces: Vec<String>,
    /// Every key, then every keyless identity: each one attestor.
    attestors: Vec<rampart_images::Policy>,
    /// How many attestors must verify.
    pub count: usize,
    pub require_digest: bool,
    pub mutate_digest: bool,
    pub failure_policy: FailurePolicy,
    pub timeout: Duration,
    pub cache_ttl: Duration,
    client: Arc<Client>,
    /// How `client` was built: clients with a pod's pull-secret credentials are built alike.
    options: ClientOptions,
    /// The entry as written, for equality.
    source: Value,
}

impl std::fmt::Debug for ImagePolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImagePolicy")
            .field("name", &self.name)
            .field("images", &self.images)
            .field("namespaces", &self.namespaces)
            .field("exclude_namespaces", &self.exclude_namespaces)
            .field("attestors", &self.attestors.len())
            .field("count", &self.count)
            .field("require_digest", &self.require_digest)
            .field("mutate_digest", &self.mutate_digest)
            .field("failure_policy", &self.failure_policy)
            .field("timeout", &self.timeout)
            .field("cache_ttl", &self.cache_ttl)
            .finish_non_exhaustive()
    }
}

impl PartialEq for ImagePolicy {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.source == other.source
    }
}

impl Eq for ImagePolicy {}

impl ImagePolicy {
    /// Whether the policy covers this namespace.
    pub fn in_scope(&self, namespace: Option<&str>) -> bool {
        let ns = namespace.unwrap_or("");
        (self.namespaces.is_empty()
            || self
                .namespaces
                .iter()
                .any(|p| rampart_kyverno::wildcard::matches(p, ns)))
            && !self
                .exclude_namespaces
                .iter()
                .any(|p| rampart_kyverno::wildcard::matches(p, ns))
    }

    /// Whether one of the policy's image patterns matches this reference.
    pub fn matches(&self, image: &str) -> bool {
        self.images
            .iter()
            .any(|p| rampart_kyverno::wildcard::matches(p, image))
    }
}

/// `300`, `300s`, `5m`, `1h30m`, `0` (no caching).
fn parse_duration(v: &Value) -> Option<Duration> {
    if let Some(n) = v.as_u64() {
        return Some(Duration::from_secs(n));
    }
    let s = v.as_str()?.trim();
    if s.is_empty() {
        return None;
    }
    let mut total = 0u64;
    let mut num = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: u64 = num.parse().ok()?;
        num.clear();
        total = total.checked_add(n.checked_mul(match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            _ => return None,
        })?)?;
    }
    if !num.is_empty() {
        if total != 0 {
            return None;
        }
        total = num.parse().ok()?;
    }
    Some(Duration::from_secs(total))
}

const POLICY_KEYS: &[&str] = &[
    "name",
    "images",
    "namespaces",
    "excludeNamespaces",
    "keys",
    "keyless",
    "count",
    "requireDigest",
    "mutateDigest",
    "failurePolicy",
    "timeoutSeconds",
    "cacheTTL",
    "allowInsecureRegistry",
    "registryCA",
    "dockerConfig",
];
const KEYLESS_KEYS: &[&str] = &["trustedRoot", "identities"];
const IDENTITY_KEYS: &[&str] = &[
    "identity",
    "identityRegexp",
    "issuer",
    "issuerRegexp",
    "extensions",
];

/// Reads the `images:` list of a config file; problems are positioned in `errs`.
pub(crate) fn parse_policies(
    doc: &YamlDoc,
    file: &str,
    errs: &mut Vec<InputError>,
) -> Vec<ImagePolicy> {
    let mut p = Parser {
        doc,
        file,
        base: Path::new(file)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default(),
        errs,
    };
    let Some(list) = doc.value.get("images") else {
        return Vec::new();
    };
    let Some(list) = list.as_array() else {
        p.err("/images", "`images` must be a list of policies".into());
        return Vec::new();
    };
    let mut out: Vec<ImagePolicy> = Vec::new();
    for (i, entry) in list.iter().enumerate() {
        let at = format!("/images/{i}");
        if let Some(policy) = p.policy(entry, &at) {
            if out.iter().any(|q| q.name == policy.name) {
                p.err(
                    &format!("{at}/name"),
                    format!("a second image policy named {:?}", policy.name),
                );
                continue;
            }
            out.push(policy);
        }
    }
    out
}

struct Parser<'a> {
    doc: &'a YamlDoc,
    file: &'a str,
    base: PathBuf,
    errs: &'a mut Vec<InputError>,
}

impl Parser<'_> {
    fn err(&mut self, ptr: &str, message: String) {
        self.errs
            .push(crate::config::err_at(self.doc, self.file, ptr, message));
    }

    fn keys_of(&mut self, v: &Value, at: &str, allowed: &[&str]) -> bool {
        let Some(m) = v.as_object() else {
            self.err(at, "expected a mapping".into());
            return false;
        };
        let mut ok = true;
        for k in m.keys() {
            if !allowed.contains(&k.as_str()) {
                self.err(
                    &format!("{at}/{}", rampart_manifest::escape_segment(k)),
                    format!("unknown key `{k}`, expected one of {}", allowed.join(", ")),
                );
                ok = false;
            }
        }
        ok
    }

    fn string(&mut self, v: &Value, key: &str, at: &str) -> Option<String> {
        match v.get(key)? {
            Value::String(s) => Some(s.clone()),
            _ => {
                self.err(&format!("{at}/{key}"), format!("`{key}` must be a string"));
                None
            }
        }
    }

    fn strings(&mut self, v: &Value, key: &str, at: &str) -> Vec<String> {
        match v.get(key) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => {
                let mut out = Vec::new();
                for (i, x) in a.iter().enumerate() {
                    match x.as_str() {
                        Some(s) => out.push(s.to_string()),
                        None => self.err(
                            &format!("{at}/{key}/{i}"),
                            format!("`{key}` must be a list of strings"),
                        ),
                    }
                }
                out
            }
            Some(_) => {
                self.err(
                    &format!("{at}/{key}"),
                    format!("`{key}` must be a list of strings"),
                );
                Vec::new()
            }
        }
    }

    fn boolean(&mut self, v: &Value, key: &str, at: &str) -> bool {
        match v.get(key) {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                self.err(
                    &format!("{at}/{key}"),
                    format!("`{key}` must be true or false"),
                );
                false
            }
        }
    }

    fn path(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base.join(p)
        }
    }

    fn read(&mut self, p: &str, ptr: &str, what: &str) -> Option<String> {
        let path = self.path(p);
        match std::fs::read_to_string(&path) {
            Ok(t) => Some(t),
            Err(e) => {
                self.err(ptr, format!("reading the {what} {}: {e}", path.display()));
                None
            }
        }
    }

    fn policy(&mut self, v: &Value, at: &str) -> Option<ImagePolicy> {
        if !self.keys_of(v, at, POLICY_KEYS) {
            return None;
        }
        let before = self.errs.len();
        let name = self.string(v, "name", at);
        if name.as_deref().is_none_or(str::is_empty) {
            self.err(at, "an image policy needs a `name`".into());
        }
        let images = self.strings(v, "images", at);
        if images.is_empty() {
            self.err(
                at,
                "an image policy needs `images`: the reference patterns it covers".into(),
            );
        }
        let namespaces = self.strings(v, "namespaces", at);
        let exclude_namespaces = self.strings(v, "excludeNamespaces", at);

        let mut attestors = Vec::new();
        let key_list = self.strings(v, "keys", at);
        for (i, k) in key_list.iter().enumerate() {
            let ptr = format!("{at}/keys/{i}");
            let (label, pem) = if k.trim_start().starts_with("-----BEGIN") {
                (format!("keys[{i}]"), Some(k.clone()))
            } else {
                (k.clone(), self.read(k, &ptr, "key"))
            };
            if let Some(pem) = pem {
                match PublicKey::from_pem(&label, &pem) {
                    Ok(key) => attestors.push(rampart_images::Policy {
                        keys: vec![key],
                        keyless: None,
                    }),
                    Err(e) => self.err(&ptr, e.to_string()),
                }
            }
        }
        if let Some(kl) = v.get("keyless") {
            attestors.extend(self.keyless(kl, &format!("{at}/keyless")));
        }
        if attestors.is_empty() && self.errs.len() == before {
            self.err(
                at,
                "an image policy needs `keys` or `keyless` identities to verify with".into(),
            );
        }
        let count = match v.get("count") {
            None | Some(Value::Null) => 1,
            Some(c) => match c.as_u64().and_then(|n| usize::try_from(n).ok()) {
                Some(n) if n >= 1 && n <= attestors.len().max(1) => n,
                _ => {
                    self.err(
                        &format!("{at}/count"),
                        format!(
                            "`count` must be between 1 and the number of attestors ({})",
                            attestors.len()
                        ),
                    );
                    1
                }
            },
        };
        let require_digest = self.boolean(v, "requireDigest", at);
        let mutate_digest = self.boolean(v, "mutateDigest", at);
        let failure_policy = match v.get("failurePolicy") {
            None | Some(Value::Null) => FailurePolicy::Fail,
            Some(Value::String(s)) if s == "Fail" => FailurePolicy::Fail,
            Some(Value::String(s)) if s == "Ignore" => FailurePolicy::Ignore,
            Some(_) => {
                self.err(
                    &format!("{at}/failurePolicy"),
                    "`failurePolicy` must be Fail or Ignore".into(),
                );
                FailurePolicy::Fail
            }
        };
        let timeout = match v.get("timeoutSeconds") {
            None | Some(Value::Null) => DEFAULT_TIMEOUT,
            Some(t) => match t.as_u64() {
                Some(n @ 1..=30) => Duration::from_secs(n),
                _ => {
                    self.err(
                        &format!("{at}/timeoutSeconds"),
                        "`timeoutSeconds` must be a whole number of seconds from 1 to 30 (keep it under the webhook's own timeoutSeconds)".into(),
                    );
                    DEFAULT_TIMEOUT
                }
            },
        };
        let cache_ttl = match v.get("cacheTTL") {
            None | Some(Value::Null) => DEFAULT_CACHE_TTL,
            Some(t) => parse_duration(t).unwrap_or_else(|| {
                self.err(
                    &format!("{at}/cacheTTL"),
                    "`cacheTTL` must be a duration such as 300s, 5m or 1h (0: no caching)".into(),
                );
                DEFAULT_CACHE_TTL
            }),
        };
        let insecure = self.boolean(v, "allowInsecureRegistry", at);
        let ca_pem = self
            .string(v, "registryCA", at)
            .and_then(|p| self.read(&p, &format!("{at}/registryCA"), "registry CA"))
            .map(String::into_bytes);
        let credentials = match self.string(v, "dockerConfig", at) {
            Some(p) => {
                let ptr = format!("{at}/dockerConfig");
                self.read(&p, &ptr, "docker config").and_then(|text| {
                    let shown = self.path(&p).display().to_string();
                    Credentials::from_docker_config(&shown, &text)
                        .map_err(|e| self.err(&ptr, e.to_string()))
                        .ok()
                })
            }
            None => Credentials::load_default()
                .map_err(|e| self.err(at, format!("docker credentials: {e}")))
                .ok(),
        }
        .unwrap_or_default();
        let options = ClientOptions {
            insecure,
            ca_pem,
            credentials,
            timeout,
        };
        let client = Client::new(options.clone());
        let client = match client {
            Ok(c) => Arc::new(c),
            Err(e) => {
                self.err(&format!("{at}/registryCA"), e.to_string());
                return None;
            }
        };
        if self.errs.len() != before {
            return None;
        }
        Some(ImagePolicy {
            name: name.unwrap_or_default(),
            images,
            namespaces,
            exclude_namespaces,
            attestors,
            count,
            require_digest,
            mutate_digest,
            failure_policy,
            timeout,
            cache_ttl,
            client,
            options,
            source: v.clone(),
        })
    }

    /// `keyless: {trustedRoot, identities: [...]}`: one attestor per identity.
    fn keyless(&mut self, v: &Value, at: &str) -> Vec<rampart_images::Policy> {
        if !self.keys_of(v, at, KEYLESS_KEYS) {
            return Vec::new();
        }
        let root = match self.string(v, "trustedRoot", at) {
            Some(p) => self
                .read(&p, &format!("{at}/trustedRoot"), "trusted root")
                .and_then(|text| {
                    let shown = self.path(&p).display().to_string();
                    TrustedRoot::from_json(&shown, &text)
                        .map_err(|e| self.err(&format!("{at}/trustedRoot"), e.to_string()))
                        .ok()
                }),
            None => {
                self.err(
                    at,
                    "`keyless` needs `trustedRoot`: a Sigstore trusted_root.json file".into(),
                );
                None
            }
        };
        let ids = match v.get("identities").and_then(Value::as_array) {
            Some(a) if !a.is_empty() => a.clone(),
            _ => {
                self.err(
                    at,
                    "`keyless` needs `identities`: a list of identity and issuer".into(),
                );
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            let ptr = format!("{at}/identities/{i}");
            if !self.keys_of(id, &ptr, IDENTITY_KEYS) {
                continue;
            }
            let subject = self.matcher(id, "identity", &ptr);
            let issuer = self.matcher(id, "issuer", &ptr);
            let extensions = self.extensions(id, &ptr);
            if let (Some(subject), Some(issuer), Some(extensions), Some(root)) =
                (subject, issuer, extensions, &root)
            {
                out.push(rampart_images::Policy {
                    keys: Vec::new(),
                    keyless: Some(KeylessPolicy {
                        root: root.clone(),
                        identities: vec![Identity {
                            subject,
                            issuer,
                            extensions,
                        }],
                    }),
                });
            }
        }
        out
    }

    /// An identity's `extensions`: Fulcio certificate extensions (`githubWorkflowRepository`,
    /// …, or their OIDs) and the exact value each must hold. `None` when one is not usable.
    fn extensions(&mut self, id: &Value, at: &str) -> Option<Vec<Extension>> {
        let Some(v) = id.get("extensions") else {
            return Some(Vec::new());
        };
        let at = format!("{at}/extensions");
        let Some(map) = v.as_object() else {
            self.err(
                &at,
                "`extensions` must map extension names to values".into(),
            );
            return None;
        };
        let mut out = Vec::new();
        for (key, value) in map {
            let ptr = format!("{at}/{key}");
            let Some(value) = value.as_str() else {
                self.err(&ptr, "an extension's value must be a string".into());
                return None;
            };
            match Extension::new(key, value, Matcher::Exact(value.to_string())) {
                Ok(e) => out.push(e),
                Err(e) => {
                    self.err(&ptr, format!("{e} (give githubWorkflowTrigger, githubWorkflowSha, githubWorkflowName, githubWorkflowRepository, githubWorkflowRef or oidcIssuer)"));
                    return None;
                }
            }
        }
        Some(out)
    }

    /// `<key>` (exact) or `<key>Regexp`, exactly one of them.
    fn matcher(&mut self, v: &Value, key: &str, at: &str) -> Option<Matcher> {
        let re_key = format!("{key}Regexp");
        match (self.string(v, key, at), self.string(v, &re_key, at)) {
            (Some(s), None) => Some(Matcher::Exact(s)),
            (None, Some(r)) => Matcher::regex(&r)
                .map_err(|e| self.err(&format!("{at}/{re_key}"), e.to_string()))
                .ok(),
            _ => {
                self.err(at, format!("give one of `{key}` or `{re_key}`"));
                None
            }
        }
    }
}

// ---- at admission ---------------------------------------------------------------------------

/// A verification's outcome, until it expires: the verified digest, or why the image failed
/// (a bad or missing signature; an unreachable registry is never cached).
struct Cached {
    result: Result<String, String>,
    /// Which registry login the result was reached with ([`login_identity`]): a failure holds
    /// only for the same login (a pod whose pull secret opens the registry must not inherit
    /// another pod's 401); a verified digest holds for every login (a signature does not depend
    /// on who reads it).
    login: u64,
    expires: Instant,
}

/// How long a failed verification is remembered at most: a controller that retries a pod with
/// an unsigned image does not send every retry to the registry, and a newly signed image is
/// admitted soon after.
const FAILED_TTL: Duration = Duration::from_secs(30);

/// Verified digests by policy (index) and image reference as written, bounded in size.
pub(crate) struct DigestCache {
    by_policy: Mutex<Vec<HashMap<String, Cached>>>,
    capacity: usize,
    /// Registry clients with pods' pull-secret logins, by policy and login, and when last used.
    clients: Mutex<ClientsByLogin>,
}

/// Registry clients by (policy index, login), with when each was last used.
type ClientsByLogin = HashMap<(usize, Credentials), (Arc<Client>, Instant)>;

/// How long an unused pull-secret client (and its registry tokens) is kept.
const CLIENT_IDLE: Duration = Duration::from_secs(300);
/// Pull-secret clients kept at most.
const CLIENTS_CAPACITY: usize = 256;

/// A login's identity for the cache: 0 for the policy's own credentials, else a hash of the
/// login (user, password and where it was read from; the value itself is never kept here).
fn login_identity(login: &Credentials) -> u64 {
    use std::hash::{Hash as _, Hasher as _};
    if login.is_empty() {
        return 0;
    }
    let mut h = std::collections::hash_map::DefaultHasher::new();
    login.hash(&mut h);
    h.finish().max(1)
}

impl DigestCache {
    pub(crate) fn new(policies: usize, capacity: usize) -> Self {
        DigestCache {
            by_policy: Mutex::new((0..policies).map(|_| HashMap::new()).collect()),
            capacity,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// The client for policy `index` with a pod's `login` (its pull secret's, for the image's
    /// registry): the policy's own when there is none, else one built like it and kept while in
    /// use.
    fn client(
        &self,
        p: &ImagePolicy,
        index: usize,
        login: &Credentials,
    ) -> Result<Arc<Client>, String> {
        if login.is_empty() {
            return Ok(Arc::clone(&p.client));
        }
        let now = Instant::now();
        let key = (index, login.clone());
        let mut clients = self.clients.lock().map_err(|e| e.to_string())?;
        if let Some((c, used)) = clients.get_mut(&key) {
            *used = now;
            return Ok(Arc::clone(c));
        }
        let mut credentials = login.clone();
        credentials.fill_from(&p.options.credentials);
        let c = Arc::new(
            Client::new(ClientOptions {
                credentials,
                ..p.options.clone()
            })
            .map_err(|e| e.to_string())?,
        );
        if clients.len() >= CLIENTS_CAPACITY {
            clients.retain(|_, (_, used)| now.duration_since(*used) < CLIENT_IDLE);
        }
        if clients.len() < CLIENTS_CAPACITY {
            clients.insert(key, (Arc::clone(&c), now));
        }
        Ok(c)
    }

    fn get(
        &self,
        policy: usize,
        image: &str,
        now: Instant,
    ) -> Option<(Result<String, String>, u64)> {
        let maps = self.by_policy.lock().ok()?;
        let c = maps.get(policy)?.get(image)?;
        (c.expires > now).then(|| (c.result.clone(), c.login))
    }

    fn insert(
        &self,
        policy: usize,
        image: String,
        result: Result<String, String>,
        login: u64,
        expires: Instant,
    ) {
        let Ok(mut maps) = self.by_policy.lock() else {
            return;
        };
        let len: usize = maps.iter().map(HashMap::len).sum();
        if len >= self.capacity {
            let now = Instant::now();
            for m in maps.iter_mut() {
                m.retain(|_, c| c.expires > now);
            }
            // still full: drop the entries closest to expiry, a tenth at a time
            let len: usize = maps.iter().map(HashMap::len).sum();
            if len >= self.capacity {
                let mut all: Vec<Instant> = maps
                    .iter()
                    .flat_map(|m| m.values().map(|c| c.expires))
                    .collect();
                all.sort_unstable();
                let cut = all
                    .get(self.capacity / 10)
                    .copied()
                    .unwrap_or_else(Instant::now);
                for m in maps.iter_mut() {
                    m.retain(|_, c| c.expires > cut);
                }
            }
        }
        if let Some(m) = maps.get_mut(policy) {
            m.insert(
                image,
                Cached {
                    result,
                    login,
                    expires,
                },
            );
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.by_policy
            .lock()
            .map(|m| m.iter().map(HashMap::len).sum())
            .unwrap_or(0)
    }
}

/// What the image policies say about a request.
#[derive(Debug, Default)]
pub(crate) struct ImageFindings {
    /// `(policy, message)` for every denial.
    pub deny: Vec<(String, String)>,
    /// `(policy, message)` for images admitted by `failurePolicy: Ignore`.
    pub warnings: Vec<(String, String)>,
    /// JSONPatch `replace` operations pinning tags to verified digests (`/mutate` only).
    pub patches: Vec<Value>,
}

/// The reference as written without its tag (`ghcr.io/acme/api:1.4` → `ghcr.io/acme/api`).
fn without_tag(image: &str, r: &Reference) -> String {
    match &r.tag {
        Some(t) if r.digest.is_none() => image
            .strip_suffix(t.as_str())
            .and_then(|s| s.strip_suffix(':'))
            .unwrap_or(image)
            .to_string(),
        _ => image.to_string(),
    }
}

/// One container image under one policy.
struct Job<'a> {
    policy: usize,
    container: String,
    pointer: String,
    image: &'a str,
    reference: Reference,
    /// The client with the pod's login for this image's registry, and the login's identity.
    client: Arc<Client>,
    login: u64,
}

/// Where a request's image checks look things up: verified digests and clients, metrics, and
/// the pod's pull secrets (when the cluster is read).
pub(crate) struct Lookups<'a> {
    pub cache: &'a DigestCache,
    pub metrics: &'a Metrics,
    pub secrets: Option<&'a PullSecrets>,
}

/// A pod's pull-secret credentials, read once per request when first needed.
struct PodLogins<'a> {
    secrets: Option<&'a PullSecrets>,
    namespace: Option<&'a str>,
    names: Vec<String>,
    read: Option<crate::pull_secrets::PodCredentials>,
}

impl PodLogins<'_> {
    /// The pod's login for `r`'s registry (empty: the policy's own credentials apply).
    async fn login(&mut self, r: &Reference) -> Credentials {
        let (Some(secrets), Some(ns)) = (self.secrets, self.namespace) else {
            return Credentials::default();
        };
        if self.names.is_empty() {
            return Credentials::default();
        }
        if self.read.is_none() {
            self.read = Some(secrets.for_pod(ns, &self.names).await);
        }
        self.read
            .as_ref()
            .map(|p| p.credentials.for_registry(r))
            .unwrap_or_default()
    }

    /// Why some of the pod's pull secrets gave no credentials (once read).
    fn problems(&self) -> Option<String> {
        let p = self.read.as_ref()?;
        (!p.problems.is_empty()).then(|| {
            format!(
                "imagePullSecrets: {}; the webhook's own registry credentials apply instead",
                p.problems.join("; ")
            )
        })
    }
}

/// The images of `obj`'s pod spec (workload templates included), each checked against the
/// policies that cover it. On updates, images the old object already ran are not checked
/// again. `mutate`: pin tags to digests for `mutateDigest` policies and leave `requireDigest`
/// to the validating call (which sees the pinned reference).
pub(crate) async fn check(
    policies: &[ImagePolicy],
    lookups: Lookups<'_>,
    namespace: Option<&str>,
    obj: &Value,
    old: Option<&Value>,
    mutate: bool,
) -> ImageFindings {
    let Lookups {
        cache,
        metrics,
        secrets,
    } = lookups;
    let mut out = ImageFindings::default();
    let Some(pod) = rampart_manifest::pod_spec(obj) else {
        return out;
    };
    let mut logins = PodLogins {
        secrets,
        namespace,
        names: crate::pull_secrets::names(pod.spec),
        read: None,
    };
    // the first policy that needed the pod's pull secrets: their problems are said under it
    let mut needed_by: Option<usize> = None;
    let old_images: Vec<&str> = old
        .and_then(rampart_manifest::pod_spec)
        .map(|p| {
            rampart_manifest::containers(&p)
                .iter()
                .filter_map(|c| c.value.get("image").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    let mut jobs: Vec<Job<'_>> = Vec::new();
    let now = Instant::now();
    for c in rampart_manifest::containers(&pod) {
        let Some(image) = c.value.get("image").and_then(Value::as_str) else {
            continue;
        };
        if old_images.contains(&image) {
            continue;
        }
        // parsed only when needed: a cached verification of the reference as written is the
        // hot path and costs a pattern match and a map lookup
        let mut parsed: Option<Result<Reference, rampart_images::ReferenceError>> = None;
        for (i, p) in policies.iter().enumerate() {
            if !p.in_scope(namespace) {
                continue;
            }
            let matched = p.matches(image) || {
                let r = parsed.get_or_insert_with(|| Reference::parse(image));
                r.as_ref().is_ok_and(|r| p.matches(&r.to_string()))
            };
            if !matched {
                continue;
            }
            let container = || format!("{} {:?}", c.kind.noun(), c.name);
            let pinned = image.contains('@');
            if p.require_digest && !mutate && !pinned {
                out.deny.push((
                    p.name.clone(),
                    deny_text(
                        p,
                        &container(),
                        image,
                        "the reference has no digest and the policy requires one (requireDigest)",
                    ),
                ));
                continue;
            }
            let cached = match (p.cache_ttl > Duration::ZERO)
                .then(|| cache.get(i, image, now))
                .flatten()
            {
                // a failure holds only for the login it was reached with
                Some((Err(why), login)) => {
                    match parsed.get_or_insert_with(|| Reference::parse(image)) {
                        Ok(r) => {
                            needed_by.get_or_insert(i);
                            let mine = login_identity(&logins.login(r).await);
                            (mine == login).then_some(Err(why))
                        }
                        Err(_) => Some(Err(why)),
                    }
                }
                other => other.map(|(result, _)| result),
            };
            if let Some(cached) = cached {
                metrics.image_cache(true);
                let digest = match cached {
                    Ok(digest) => digest,
                    Err(why) => {
                        out.deny
                            .push((p.name.clone(), deny_text(p, &container(), image, &why)));
                        continue;
                    }
                };
                if mutate
                    && p.mutate_digest
                    && !pinned
                    && let Ok(r) = parsed.get_or_insert_with(|| Reference::parse(image))
                {
                    pin(&mut out, &c.pointer, image, r, &digest);
                }
                continue;
            }
            let r = match parsed.get_or_insert_with(|| Reference::parse(image)) {
                Ok(r) => r.clone(),
                Err(e) => {
                    out.deny.push((
                        p.name.clone(),
                        deny_text(p, &container(), image, &e.to_string()),
                    ));
                    continue;
                }
            };
            metrics.image_cache(false);
            needed_by.get_or_insert(i);
            let login = logins.login(&r).await;
            let client = match cache.client(p, i, &login) {
                Ok(c) => c,
                Err(e) => {
                    out.deny.push((
                        p.name.clone(),
                        deny_text(p, &container(), image, &format!("registry client: {e}")),
                    ));
                    continue;
                }
            };
            jobs.push(Job {
                policy: i,
                container: container(),
                pointer: c.pointer.clone(),
                image,
                reference: r,
                client,
                login: login_identity(&login),
            });
        }
    }
    let problems = logins.problems();
    if let (Some(problems), Some(p)) = (&problems, needed_by.and_then(|i| policies.get(i))) {
        out.warnings.push((
            p.name.clone(),
            format!("image policy {:?}: {problems}", p.name),
        ));
    }
    if jobs.is_empty() {
        return out;
    }
    // each (policy, image) verified once, concurrently; containers sharing one share its result
    let mut unique: Vec<&Job<'_>> = Vec::new();
    for j in &jobs {
        if !unique
            .iter()
            .any(|u| u.policy == j.policy && u.image == j.image)
        {
            unique.push(j);
        }
    }
    let results = futures_util::future::join_all(unique.iter().map(|j| async move {
        let p = policies.get(j.policy)?;
        Some(verify(p, j, cache, metrics).await)
    }))
    .await;
    for j in &jobs {
        let found = unique
            .iter()
            .zip(&results)
            .find(|(u, _)| u.policy == j.policy && u.image == j.image);
        let (Some(p), Some((_, Some(result)))) = (policies.get(j.policy), found) else {
            continue;
        };
        let result = result.clone();
        match result {
            Ok(digest) => {
                if mutate && p.mutate_digest && j.reference.digest.is_none() {
                    pin(&mut out, &j.pointer, j.image, &j.reference, &digest);
                }
            }
            Err((why, true)) if p.failure_policy == FailurePolicy::Ignore => out.warnings.push((
                p.name.clone(),
                format!(
                    "{}; admitted by failurePolicy Ignore",
                    deny_text(p, &j.container, j.image, &why)
                ),
            )),
            Err((why, true)) => out.deny.push((
                p.name.clone(),
                format!(
                    "{} (failurePolicy Fail)",
                    deny_text(p, &j.container, j.image, &why)
                ),
            )),
            Err((why, false)) => out
                .deny
                .push((p.name.clone(), deny_text(p, &j.container, j.image, &why))),
        }
    }
    out
}

/// The `/mutate` patch pinning a container's image to the verified digest.
fn pin(out: &mut ImageFindings, pointer: &str, image: &str, r: &Reference, digest: &str) {
    let pinned = format!("{}@{digest}", without_tag(image, r));
    let op = json!({"op": "replace", "path": format!("{pointer}/image"), "value": pinned});
    if !out.patches.contains(&op) {
        out.patches.push(op);
    }
}

fn deny_text(p: &ImagePolicy, container: &str, image: &str, why: &str) -> String {
    format!(
        "image policy {:?}: {container} image {image:?}: {why}",
        p.name
    )
}

/// A cold verification, bounded by the policy's timeout: the digest, or why not and whether
/// the registry is to blame. Verified digests are cached under the reference as written and
/// as `/mutate` pins it.
async fn verify(
    p: &ImagePolicy,
    job: &Job<'_>,
    cache: &DigestCache,
    metrics: &Metrics,
) -> Result<String, (String, bool)> {
    let (index, image, r) = (job.policy, job.image, &job.reference);
    let start = Instant::now();
    let attestors: Vec<rampart_images::Policy>;
    let (list, count) = if p.count == 1 && p.attestors.len() > 1 {
        // any-of: one merged attestor, so the reasons read as the CLI's
        attestors = vec![merge(&p.attestors)];
        (attestors.as_slice(), 1)
    } else {
        (p.attestors.as_slice(), p.count)
    };
    let v = tokio::time::timeout(
        p.timeout,
        rampart_images::verify_image_count(&job.client, image, list, count),
    )
    .await;
    let elapsed = start.elapsed();
    metrics.registry_latency(&p.name, elapsed.as_secs_f64());
    tracing::debug!(
        policy = %p.name,
        image,
        verified = matches!(&v, Ok(v) if v.ok()),
        elapsed_ms = elapsed.as_millis() as u64,
        "image verification"
    );
    let v = match v {
        Ok(v) => v,
        Err(_) => {
            metrics.image_verification(&p.name, "unreachable");
            return Err((
                format!(
                    "the registry did not answer within {}s (timeoutSeconds)",
                    p.timeout.as_secs()
                ),
                true,
            ));
        }
    };
    match (v.result, v.digest) {
        (Ok(_), Some(digest)) => {
            metrics.image_verification(&p.name, "verified");
            if p.cache_ttl > Duration::ZERO {
                let expires = Instant::now() + p.cache_ttl;
                let pinned = format!("{}@{digest}", without_tag(image, r));
                if pinned != image {
                    cache.insert(index, pinned, Ok(digest.clone()), job.login, expires);
                }
                cache.insert(
                    index,
                    image.to_string(),
                    Ok(digest.clone()),
                    job.login,
                    expires,
                );
            }
            Ok(digest)
        }
        (Ok(_), None) => Err(("the image resolved to no digest".into(), false)),
        (Err(why), _) => {
            if !v.unreachable && p.cache_ttl > Duration::ZERO {
                let expires = Instant::now() + p.cache_ttl.min(FAILED_TTL);
                cache.insert(
                    index,
                    image.to_string(),
                    Err(why.clone()),
                    job.login,
                    expires,
                );
            }
            metrics.image_verification(
                &p.name,
                if v.unreachable {
                    "unreachable"
                } else {
                    "failed"
                },
            );
            Err((why, v.unreachable))
        }
    }
}

/// Any-of attestors as one policy: every key, and the identities (of the policy's one trusted
/// root).
fn merge(attestors: &[rampart_images::Policy]) -> rampart_images::Policy {
    let mut out = rampart_images::Policy::default();
    for a in attestors {
        out.keys.extend(a.keys.iter().cloned());
        if let Some(k) = &a.keyless {
            match &mut out.keyless {
                None => out.keyless = Some(k.clone()),
                Some(m) => m.identities.extend(k.identities.iter().cloned()),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn globs_and_durations() {
        let g = |t: &str| rampart_kyverno::wildcard::matches("ghcr.io/acme/*", t);
        assert!(g("ghcr.io/acme/api:1.4"));
        assert!(g("ghcr.io/acme/team/api@sha256:00"));
        assert!(!g("ghcr.io/acmex/api:1.4"));
        assert!(!rampart_kyverno::wildcard::matches("a?c", "abbc"));
        assert!(rampart_kyverno::wildcard::matches("a?c", "abc"));
        assert!(rampart_kyverno::wildcard::matches("*", ""));
        assert!(rampart_kyverno::wildcard::matches(
            "*.io/*/api:*",
            "ghcr.io/acme/api:1"
        ));
        assert!(!rampart_kyverno::wildcard::matches(
            "*.io/*/api:*",
            "ghcr.io/acme/web:1"
        ));
        assert!(rampart_kyverno::wildcard::matches("a*b*c", "aXbYbZc"));
        assert!(!rampart_kyverno::wildcard::matches("a*b*c", "aXbYbZ"));
        assert_eq!(parse_duration(&json!("5m")), Some(Duration::from_secs(300)));
        assert_eq!(
            parse_duration(&json!("1h30m")),
            Some(Duration::from_secs(5400))
        );
        assert_eq!(parse_duration(&json!(42)), Some(Duration::from_secs(42)));
        assert_eq!(parse_duration(&json!("0")), Some(Duration::ZERO));
        assert_eq!(parse_duration(&json!("5 minutes")), None);
        assert_eq!(parse_duration(&json!("5m3")), None);
    }

    #[test]
    fn pinned_references_keep_what_was_written() {
        let r = Reference::parse("nginx:1.25").unwrap();
        assert_eq!(without_tag("nginx:1.25", &r), "nginx");
        let r = Reference::parse("127.0.0.1:5000/acme/api:1.4").unwrap();
        assert_eq!(
            without_tag("127.0.0.1:5000/acme/api:1.4", &r),
            "127.0.0.1:5000/acme/api"
        );
        let r = Reference::parse("127.0.0.1:5000/acme/api").unwrap();
        assert_eq!(
            without_tag("127.0.0.1:5000/acme/api", &r),
            "127.0.0.1:5000/acme/api"
        );
    }

    #[test]
    fn the_cache_expires_and_stays_bounded() {
        let c = DigestCache::new(2, 20);
        let now = Instant::now();
        let later = now + Duration::from_secs(60);
        c.insert(0, "a".into(), Ok("sha256:1".into()), 0, later);
        assert_eq!(c.get(0, "a", now), Some((Ok("sha256:1".to_string()), 0)));
        // a failure is remembered with its reason
        c.insert(1, "b".into(), Err("no signatures found".into()), 7, later);
        assert_eq!(
            c.get(1, "b", now),
            Some((Err("no signatures found".to_string()), 7))
        );
        assert_eq!(c.get(1, "a", now), None);
        assert_eq!(c.get(0, "a", later + Duration::from_secs(1)), None);
        for i in 0..100 {
            c.insert(
                i % 2,
                format!("img{i}"),
                Ok("sha256:2".into()),
                0,
                later + Duration::from_secs(i as u64),
            );
        }
        assert!(c.len() <= 20, "{}", c.len());
        // the newest entry is kept
        assert!(c.get(1, "img99", now).is_some());
    }
}
