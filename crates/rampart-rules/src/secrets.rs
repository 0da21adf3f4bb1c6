//! Credential detection for literal values. Two rules find a credential, and a finding says which
//! one matched; the value itself is never echoed (callers put it in `Finding::redact`).
//!
//! 1. **Known format**, wherever the value appears: AWS access key ids (`AKIA…`, `ASIA…`),
//!    GitHub (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`, `github_pat_`), GitLab (`glpat-`), Slack
//!    tokens (`xoxb-`, `xoxp-`, `xoxa-`, `xoxs-`, `xoxr-`) and webhook URLs, Stripe live keys
//!    (`sk_live_`, `rk_live_`), Google API keys (`AIza…`), OpenAI/Anthropic keys (`sk-proj-`,
//!    `sk-ant-`), SendGrid keys, npm tokens, Hugging Face tokens, PEM private keys, JWTs, GCP
//!    service-account JSON (`"type": "service_account"` with a `private_key`), URLs with a password
//!    (`scheme://user:pass@host`), connection strings with `Password=`/`AccountKey=`, and docker
//!    config JSON whose `auths` hold an `auth` or `password`.
//! 2. **Name says credential**: the value of an env var, flag or config key whose name holds a
//!    credential word — password, passwd, pwd, pass, passphrase, secret, token, auth,
//!    authorization, bearer, credential(s), salt, psk, or the pairs api key, access key, secret
//!    key, private key, signing key, encryption key, master key, app key, storage key, erlang
//!    cookie — in any naming style (`MYSQL_ROOT_PASSWORD`, `dbPassword`, `db-password`,
//!    `db.password`, `SecretKey`, `apikey`). Weak values (`changeme`, `minio123`) count: weak ones
//!    are the worst.
//!    A name is a *setting*, not a credential, when its last word is one of [`SETTING_WORDS`]
//!    (`PASSWORD_FILE`, `TOKEN_URL`, `PASSWORD_MIN_LENGTH`, `AUTH_ENABLED`, `SECRET_NAME`,
//!    `ACCESS_KEY_ID`, ...) or it holds `min`/`max`.
//!
//! Never a credential:
//! - empty values, values without a letter or digit (`{`, `|-` in a config file), booleans
//!   (`true`, `yes`, `off`, ...), numbers of at most three digits, durations (`30s`, `24h`);
//! - references and templates: `$(VAR)`, `$VAR`, `${…}`, `{{ … }}`, `<% … %>`, `%{…}`,
//!   `vault:…`, `ref+…`, `arn:…`, `projects/…/secrets/…`, `secretmanager://`, `awssm:`, `azkv:`;
//! - file paths (`/run/secrets/db`, `./key`, `~/.ssh/id`, `file:…`) and URLs without a password;
//! - where a credential is rather than the credential: a Secret's name under a `…_SECRET` name
//!   (`TLS_SECRET: shop-tls`, `AUTH_SECRET: basic-auth`: a Kubernetes name with a part `tls`,
//!   `auth`, `creds`, `credentials`, `secret(s)`, `cert(s)`, `keys`), a Secret key under a
//!   `PASSWORD_KEY`/`TOKEN_KEY` name (`password`);
//! - placeholders, matched case-insensitively: a value wrapped in `<…>` or `[…]`; one that starts
//!   with `insert`, `replace`, `your`, `enter`, `fill`, `put-`, `add-`, or `my-` + a credential
//!   word (`my-password`); one that contains `replace_me`/`replace-me`/`replaceme`, an
//!   `-in-prod`/`_in_prod`/`-before-prod`/`-in-production` marker (`changeit-in-prod`),
//!   `placeholder`, `example`, `redacted`, `dummy`, `fake`, `not-a-real`, `notreal`, `sample`,
//!   `todo`, `fixme`, `tbd`, `xxxx`, `****`, `...`, `…`, `goes-here`/`goes_here`, `your-`,
//!   `your_`, `<` or `>`; an upper-snake value holding a credential word (`YOUR_API_KEY`,
//!   `INSERT_ETCD_DISCOVERY_TOKEN`).

use aho_corasick::AhoCorasick;
use regex::Regex;
use std::sync::LazyLock;

/// What kind of credential a value holds, and so which rule found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    AwsAccessKey,
    GithubToken,
    GitlabToken,
    SlackToken,
    SlackWebhook,
    StripeKey,
    GoogleApiKey,
    AiApiKey,
    SendgridKey,
    NpmToken,
    HuggingfaceToken,
    PrivateKey,
    GcpServiceAccount,
    Jwt,
    PasswordInUrl,
    ConnectionStringPassword,
    DockerConfigAuth,
    /// A literal under a name that says credential.
    NamedCredential,
    /// A high-entropy value in a Secret's data, whatever its key.
    HighEntropy,
}

impl SecretKind {
    /// What the value is, for messages: `an AWS access key id`.
    pub fn describe(self) -> &'static str {
        match self {
            SecretKind::AwsAccessKey => "an AWS access key id",
            SecretKind::GithubToken => "a GitHub token",
            SecretKind::GitlabToken => "a GitLab token",
            SecretKind::SlackToken => "a Slack token",
            SecretKind::SlackWebhook => "a Slack webhook URL",
            SecretKind::StripeKey => "a Stripe live key",
            SecretKind::GoogleApiKey => "a Google API key",
            SecretKind::AiApiKey => "an OpenAI or Anthropic API key",
            SecretKind::SendgridKey => "a SendGrid API key",
            SecretKind::NpmToken => "an npm token",
            SecretKind::HuggingfaceToken => "a Hugging Face token",
            SecretKind::PrivateKey => "a private key",
            SecretKind::GcpServiceAccount => "a GCP service-account key",
            SecretKind::Jwt => "a JSON Web Token",
            SecretKind::PasswordInUrl => "a password in a URL",
            SecretKind::ConnectionStringPassword => "a password in a connection string",
            SecretKind::DockerConfigAuth => "registry credentials",
            SecretKind::NamedCredential => "a literal credential",
            SecretKind::HighEntropy => "a high-entropy value",
        }
    }

    /// Which rule matched, for messages: the confidence of the finding.
    pub fn rule(self) -> &'static str {
        match self {
            SecretKind::NamedCredential => "name says credential",
            SecretKind::HighEntropy => "high entropy",
            SecretKind::PasswordInUrl => "user:password@ in a URL",
            SecretKind::ConnectionStringPassword => "Password= in a connection string",
            SecretKind::PrivateKey => "PEM private key block",
            SecretKind::Jwt => "JWT format",
            SecretKind::GcpServiceAccount => "service-account JSON with a private_key",
            SecretKind::DockerConfigAuth => "docker config auths",
            SecretKind::AwsAccessKey => "AWS access key format",
            SecretKind::GithubToken => "GitHub token format",
            SecretKind::GitlabToken => "GitLab token format",
            SecretKind::SlackToken => "Slack token format",
            SecretKind::SlackWebhook => "Slack webhook URL format",
            SecretKind::StripeKey => "Stripe key format",
            SecretKind::GoogleApiKey => "Google API key format",
            SecretKind::AiApiKey => "OpenAI/Anthropic key format",
            SecretKind::SendgridKey => "SendGrid key format",
            SecretKind::NpmToken => "npm token format",
            SecretKind::HuggingfaceToken => "Hugging Face token format",
        }
    }

    /// `holds an AWS access key id (AWS access key format)`: the part of a message after the
    /// field's name.
    pub fn phrase(self) -> String {
        format!("holds {} ({})", self.describe(), self.rule())
    }
}

/// A credential found in a value: its kind and the exact text to redact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detection {
    pub kind: SecretKind,
    pub text: String,
}

struct Pattern {
    kind: SecretKind,
    re: Regex,
}

/// Cheap literal prefilter: a value with none of these substrings cannot match a known format.
static PREFILTER: LazyLock<Option<AhoCorasick>> = LazyLock::new(|| {
    AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .build([
            "AKIA",
            "ASIA",
            "ABIA",
            "ACCA",
            "ghp_",
            "gho_",
            "ghu_",
            "ghs_",
            "ghr_",
            "github_pat_",
            "glpat-",
            "xox",
            "hooks.slack.com",
            "k_live_",
            "AIza",
            "sk-",
            "SG.",
            "npm_",
            "hf_",
            "PRIVATE KEY",
            "eyJ",
            "://",
            "password",
            "pwd",
            "accountkey",
            "service_account",
            "auths",
        ])
        .ok()
});

static PATTERNS: LazyLock<Vec<Pattern>> =
    LazyLock::new(|| {
        let p = |kind, re: &str| Regex::new(re).ok().map(|re| Pattern { kind, re });
        [
        p(
            SecretKind::PrivateKey,
            r"(?s)-----BEGIN [A-Z ]*PRIVATE KEY(?: BLOCK)?-----.*?(?:-----END [A-Z ]*-----|\z)",
        ),
        p(SecretKind::AwsAccessKey, r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b"),
        p(
            SecretKind::GithubToken,
            r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})",
        ),
        p(SecretKind::GitlabToken, r"\bglpat-[A-Za-z0-9_\-]{20,}"),
        p(SecretKind::SlackToken, r"\bxox[baprs]-[0-9]+-[A-Za-z0-9-]{8,}"),
        p(
            SecretKind::SlackWebhook,
            r"https://hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]{16,}",
        ),
        p(SecretKind::StripeKey, r"\b[rs]k_live_[A-Za-z0-9]{20,}"),
        p(SecretKind::GoogleApiKey, r"\bAIza[0-9A-Za-z_\-]{35}"),
        p(
            SecretKind::AiApiKey,
            r"\bsk-(?:proj-|ant-(?:api|admin)\d\d-)[A-Za-z0-9_\-]{20,}",
        ),
        p(
            SecretKind::SendgridKey,
            r"\bSG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}\b",
        ),
        p(SecretKind::NpmToken, r"\bnpm_[A-Za-z0-9]{36}\b"),
        p(SecretKind::HuggingfaceToken, r"\bhf_[A-Za-z]{34}\b"),
        p(
            SecretKind::Jwt,
            r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}",
        ),
        p(
            SecretKind::PasswordInUrl,
            r"[a-zA-Z][a-zA-Z0-9+.\-]*://[^/\s:@]*:([^/\s@]+)@[^\s/@]",
        ),
        p(
            SecretKind::ConnectionStringPassword,
            r"(?i)(?:^|[;\s?&])(?:password|pwd|accountkey|sharedaccesskey)\s*=\s*([^;&\s'\x22]+)",
        ),
    ]
    .into_iter()
    .flatten()
    .collect()
    });

/// Last words that make a credential-sounding name a setting: `PASSWORD_FILE` is a path,
/// `TOKEN_TTL` a duration, `AUTH_ENABLED` a switch, `SECRET_NAME` a reference.
pub const SETTING_WORDS: &[&str] = &[
    "file",
    "files",
    "path",
    "paths",
    "dir",
    "directory",
    "location",
    "mount",
    "volume",
    "ref",
    "reference",
    "url",
    "uri",
    "urls",
    "endpoint",
    "host",
    "hostname",
    "server",
    "port",
    "addr",
    "address",
    "name",
    "names",
    "id",
    "ids",
    "user",
    "username",
    "login",
    "email",
    "header",
    "type",
    "mode",
    "kind",
    "enabled",
    "enable",
    "disabled",
    "disable",
    "required",
    "length",
    "len",
    "size",
    "count",
    "ttl",
    "expiry",
    "expiration",
    "expires",
    "lifetime",
    "duration",
    "timeout",
    "interval",
    "age",
    "days",
    "hours",
    "minutes",
    "seconds",
    "secs",
    "ms",
    "policy",
    "policies",
    "strength",
    "complexity",
    "rules",
    "pattern",
    "regex",
    "format",
    "algorithm",
    "alg",
    "provider",
    "providers",
    "backend",
    "store",
    "source",
    "method",
    "methods",
    "mechanism",
    "strategy",
    "scheme",
    "realm",
    "issuer",
    "audience",
    "scope",
    "scopes",
    "version",
    "namespace",
    "prefix",
    "suffix",
    "field",
    "attribute",
    "param",
    "env",
    "var",
    "label",
    "annotation",
    "hint",
    "description",
    "help",
    "prompt",
    "rotation",
    "reset",
    "cache",
    "db",
    "database",
    "role",
    "plugin",
    "class",
    "template",
    "config",
    "configuration",
    "settings",
    "level",
    "limit",
    "threshold",
    "retries",
    "attempts",
    "count",
    "key_id",
    "store",
    "manager",
    "vault",
    "service",
    "server",
    "client",
    "mapping",
    "map",
    "list",
    "type",
    "route",
    "routes",
    "domain",
    "domains",
    "claim",
    "claims",
    "audiences",
    "algorithms",
    "webhook",
    "group",
    "groups",
    "encryption",
    "validity",
];

/// Words that mark a name as a credential wherever they stand.
const CREDENTIAL_WORDS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "pw",
    "pass",
    "passphrase",
    "passcode",
    "secret",
    "token",
    "auth",
    "authorization",
    "bearer",
    "credential",
    "credentials",
    "creds",
    "salt",
    "psk",
    "apikey",
    "accesskey",
    "secretkey",
    "privatekey",
    "authtoken",
    "accesstoken",
    "apitoken",
    "dsn",
];

/// Two-word credentials: `API_KEY`, `accessKey`, `client-secret` is covered by `secret` alone.
const CREDENTIAL_PAIRS: &[(&str, &str)] = &[
    ("api", "key"),
    ("access", "key"),
    ("private", "key"),
    ("signing", "key"),
    ("encryption", "key"),
    ("master", "key"),
    ("license", "key"),
    ("shared", "key"),
    ("account", "key"),
    ("hmac", "key"),
    ("nonce", "key"),
    ("session", "key"),
    ("cookie", "key"),
    ("in", "key"),
    ("app", "key"),
    ("storage", "key"),
    ("erlang", "cookie"),
];

/// Splits a name into lowercase words on `_ - . / : space` and camelCase boundaries
/// (`AWSSecretKey` → aws, secret, key).
fn words(name: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    let chars: Vec<char> = name.chars().collect();
    for (i, &ch) in chars.iter().enumerate() {
        if !ch.is_ascii_alphanumeric() {
            out.push(std::mem::take(&mut cur));
            continue;
        }
        let prev = i.checked_sub(1).and_then(|j| chars.get(j)).copied();
        let next = chars.get(i + 1).copied();
        if ch.is_ascii_uppercase() {
            let after_lower = prev.is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit());
            let acronym_end = prev.is_some_and(|p| p.is_ascii_uppercase())
                && next.is_some_and(|n| n.is_ascii_lowercase());
            if after_lower || acronym_end {
                out.push(std::mem::take(&mut cur));
            }
        }
        cur.push(ch.to_ascii_lowercase());
    }
    out.push(cur);
    out.retain(|w| !w.is_empty());
    out
}

fn is_credential_word(w: &str) -> bool {
    CREDENTIAL_WORDS.contains(&w)
        || w.ends_with("password")
        || w.ends_with("passwd")
        || w.ends_with("secret")
        || (w.ends_with("token") && w.len() > 5)
        || w.ends_with("apikey")
        || w.ends_with("secretkey")
        || w.ends_with("accesskey")
        || w.ends_with("privatekey")
        || (w.ends_with("pass")
            && w.len() > 4
            && !matches!(
                w,
                "bypass" | "compass" | "surpass" | "overpass" | "underpass" | "trespass" | "sass"
            ))
}

/// Whether a name (env var, flag, config key) says its value is a credential.
pub fn name_says_credential(name: &str) -> bool {
    let words = words(name);
    let Some(last) = words.last() else {
        return false;
    };
    if SETTING_WORDS.contains(&last.as_str())
        || words.iter().any(|w| {
            matches!(
                w.as_str(),
                "min" | "max" | "minimum" | "maximum" | "existing"
            )
        })
    {
        return false;
    }
    words.iter().any(|w| is_credential_word(w))
        || words
            .windows(2)
            .any(|p| matches!(p, [a, b] if CREDENTIAL_PAIRS.contains(&(a.as_str(), b.as_str()))))
}

/// Former name of [`name_says_credential`].
pub fn is_secret_like_name(name: &str) -> bool {
    name_says_credential(name)
}

static UPPER_SNAKE: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$").ok());
static DURATION: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^\d+(?:\.\d+)?(?:ns|us|ms|s|m|h|d|w)$").ok());
static REFERENCE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"^\$[A-Za-z_][A-Za-z0-9_]*$|^projects/[^/]+/secrets/|^(?:vault|ref\+|arn|awssm|azkv|gcpsm|secretmanager|sops|op|bw|keyvault)[:+]").ok()
});

/// Values that are not literal credentials: references, templates, placeholders, booleans,
/// small numbers, durations, paths, URLs without a password.
pub fn is_placeholder(v: &str) -> bool {
    let t = v.trim().trim_matches(['"', '\'']).trim();
    if t.is_empty() {
        return true;
    }
    // structure, not a value: `{`, `[`, `|-` after a key in a config file
    if !t.chars().any(char::is_alphanumeric) {
        return true;
    }
    let lower = t.to_ascii_lowercase();
    let matches = |re: &LazyLock<Option<Regex>>| re.as_ref().is_some_and(|r| r.is_match(t));
    if t.contains("$(")
        || t.contains("${")
        || t.contains("{{")
        || t.contains("<%")
        || t.contains("%{")
        || t.starts_with('/')
        || t.starts_with("./")
        || t.starts_with("../")
        || t.starts_with("~/")
        || lower.starts_with("file:")
        || matches(&REFERENCE)
        || matches(&DURATION)
        || (t.contains("://") && !t.contains('@'))
    {
        return true;
    }
    if matches!(
        lower.as_str(),
        "true"
            | "false"
            | "yes"
            | "no"
            | "on"
            | "off"
            | "y"
            | "n"
            | "null"
            | "none"
            | "nil"
            | "enabled"
            | "disabled"
            | "required"
            | "optional"
            | "~"
    ) || (t.len() <= 3 && t.bytes().all(|b| b.is_ascii_digit()))
    {
        return true;
    }
    if (t.starts_with('<') && t.ends_with('>')) || (t.starts_with('[') && t.ends_with(']')) {
        return true;
    }
    const STARTS: &[&str] = &[
        "insert", "replace", "your", "enter", "put-", "put_", "add-", "add_", "fill",
    ];
    const CONTAINS: &[&str] = &[
        "replace_me",
        "replace-me",
        "replaceme",
        "-in-prod",
        "_in_prod",
        "inprod",
        "-before-prod",
        "_before_prod",
        "-in-production",
        "placeholder",
        "example",
        "redacted",
        "dummy",
        "fake",
        "not-a-real",
        "not_a_real",
        "notreal",
        "sample",
        "todo",
        "fixme",
        "tbd",
        "xxxx",
        "****",
        "...",
        "\u{2026}",
        "goes-here",
        "goes_here",
        "goeshere",
        "your-",
        "your_",
        "<",
        ">",
    ];
    if STARTS.iter().any(|s| lower.starts_with(s)) || CONTAINS.iter().any(|s| lower.contains(s)) {
        return true;
    }
    // `my-password`, `my_secret_token`: a name standing in for a value
    if lower.starts_with("my-") || lower.starts_with("my_") {
        let rest = lower.get(3..).unwrap_or("");
        if name_says_credential(rest) || rest == "key" {
            return true;
        }
    }
    // `YOUR_API_KEY`, `INSERT_ETCD_DISCOVERY_TOKEN`: an env-var-like name in the value's place
    matches(&UPPER_SNAKE)
        && (name_says_credential(t) || words(t).iter().any(|w| w == "key" || w == "secret"))
}

/// Shannon entropy in bits per character.
pub fn entropy(s: &str) -> f64 {
    let mut counts = [0u32; 256];
    let bytes = s.as_bytes();
    for b in bytes {
        if let Some(c) = counts.get_mut(*b as usize) {
            *c += 1;
        }
    }
    let n = bytes.len() as f64;
    counts
        .iter()
        .filter(|c| **c > 0)
        .map(|c| {
            let p = f64::from(*c) / n;
            -p * p.log2()
        })
        .sum()
}

/// A known credential format anywhere in `text` (an env value, a command line, a config file,
/// decoded Secret data).
pub fn detect_format(text: &str) -> Option<Detection> {
    if PREFILTER.as_ref().is_some_and(|ac| !ac.is_match(text)) {
        return None;
    }
    if let Some(d) = structured(text) {
        return Some(d);
    }
    for p in PATTERNS.iter() {
        for c in p.re.captures_iter(text) {
            // for a password in a URL or connection string only the password is the secret
            let Some(m) = c.get(1).or_else(|| c.get(0)) else {
                continue;
            };
            let secret = m.as_str();
            if matches!(
                p.kind,
                SecretKind::PasswordInUrl | SecretKind::ConnectionStringPassword
            ) && is_placeholder(secret)
            {
                continue;
            }
            return Some(Detection {
                kind: p.kind,
                text: secret.to_string(),
            });
        }
    }
    None
}

/// GCP service-account JSON and docker config JSON.
fn structured(text: &str) -> Option<Detection> {
    let t = text.trim_start();
    if !t.starts_with('{') || !(t.contains("service_account") || t.contains("auths")) {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(t).ok()?;
    let obj = v.as_object()?;
    if obj.get("type").and_then(|t| t.as_str()) == Some("service_account")
        && let Some(k) = obj
            .get("private_key")
            .and_then(|k| k.as_str())
            .filter(|k| k.contains("PRIVATE KEY"))
    {
        return Some(Detection {
            kind: SecretKind::GcpServiceAccount,
            text: k.to_string(),
        });
    }
    let auths = obj.get("auths").and_then(|a| a.as_object())?;
    for entry in auths.values().filter_map(|e| e.as_object()) {
        for key in ["auth", "password", "identitytoken", "registrytoken"] {
            if let Some(s) = entry
                .get(key)
                .and_then(|s| s.as_str())
                .filter(|s| !is_placeholder(s))
            {
                return Some(Detection {
                    kind: SecretKind::DockerConfigAuth,
                    text: s.to_string(),
                });
            }
        }
    }
    None
}

/// The credential in a literal value named `name` (an env var, a ConfigMap key, a flag), if any:
/// a known format first, then the name rule.
pub fn detect(name: &str, value: &str) -> Option<Detection> {
    if let Some(d) = detect_format(value) {
        return Some(d);
    }
    if name_says_credential(name)
        && !is_placeholder(value)
        && !looks_like_prose(value)
        && !names_a_reference(name, value)
    {
        return Some(Detection {
            kind: SecretKind::NamedCredential,
            text: value.trim().to_string(),
        });
    }
    // `JAVA_OPTS: -Dspring.datasource.password=x`: assignments inside the value
    if value.contains('=') && !value.contains('\n') && value.len() < 4096 {
        return detect_in_args([value]).into_iter().next().map(|(_, d)| d);
    }
    None
}

static KUBE_NAME: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$").ok());

/// A value that names where the credential is rather than being it: a Secret's name under
/// `TLS_SECRET`/`AUTH_SECRET` (`shop-tls`, `basic-auth`, `db-creds`), or a key inside a Secret
/// under `PASSWORD_KEY` (`password`).
fn names_a_reference(name: &str, value: &str) -> bool {
    let words = words(name);
    let last = words.last().map(String::as_str);
    let v = value.trim();
    let kube_name = KUBE_NAME.as_ref().is_some_and(|r| r.is_match(v));
    match last {
        Some("secret") => {
            kube_name
                && v.split('-').any(|w| {
                    matches!(
                        w,
                        "tls"
                            | "secret"
                            | "secrets"
                            | "creds"
                            | "credentials"
                            | "auth"
                            | "cert"
                            | "certs"
                            | "certificate"
                            | "keys"
                    )
                })
        }
        Some("key") => {
            words.len() > 1
                && words.iter().rev().nth(1).is_some_and(|w| {
                    matches!(
                        w.as_str(),
                        "password" | "passwd" | "token" | "credentials" | "username" | "user"
                    )
                })
                && v.len() <= 32
                && name_says_credential(v)
        }
        _ => false,
    }
}

/// A sentence, not a credential: five or more words with spaces.
fn looks_like_prose(v: &str) -> bool {
    v.split_whitespace().count() >= 5
}

/// Credentials on a command line: known formats in any argument, `--password=x`, `--token x`,
/// `PASSWORD=x` assignments, also inside shell strings (`sh -c "… --password=x …"`). Returns the
/// index of the argument each was found in.
pub fn detect_in_args<'a>(args: impl IntoIterator<Item = &'a str>) -> Vec<(usize, Detection)> {
    let mut out = Vec::new();
    // a flag whose value is the next token (`--token`, then `abc`)
    let mut pending: Option<String> = None;
    for (i, arg) in args.into_iter().enumerate() {
        if let Some(d) = detect_format(arg) {
            out.push((i, d));
            pending = None;
            continue;
        }
        for token in arg.split_whitespace() {
            let token = token.trim_matches(['"', '\'', ';', ',']);
            if let Some(flag) = pending.take()
                && !token.starts_with('-')
                && let Some(d) = detect(&flag, token)
            {
                out.push((i, d));
                continue;
            }
            let Some((name, value)) = token.split_once('=') else {
                if token.starts_with("--") && name_says_credential(token.trim_start_matches('-')) {
                    pending = Some(token.trim_start_matches('-').to_string());
                }
                continue;
            };
            let name = name.trim_start_matches('-');
            let value = value.trim_matches(['"', '\'']);
            if !name.is_empty()
                && !name.contains(['/', '$', '('])
                && let Some(d) = detect(name, value)
            {
                out.push((i, d));
            }
        }
    }
    out
}

/// Credentials in a config file's text (a ConfigMap value, an annotation): known formats, and
/// `name = value`, `name: value`, `"name": "value"` lines whose name says credential.
pub fn detect_in_text(text: &str) -> Vec<Detection> {
    if let Some(d) = structured(text) {
        return vec![d];
    }
    if text.contains("PRIVATE KEY")
        && let Some(d) = detect_format(text)
    {
        return vec![d];
    }
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim().trim_end_matches(',');
        if line.starts_with('#') || line.starts_with("//") || line.starts_with(';') {
            continue;
        }
        if let Some(d) = detect_format(line) {
            out.push(d);
            continue;
        }
        let Some((k, val)) = line.split_once(['=', ':']) else {
            continue;
        };
        let k = k
            .trim()
            .trim_matches(['"', '\''])
            .trim_start_matches("export ");
        let val = val.trim().trim_matches(['"', '\'']);
        if k.contains(char::is_whitespace) && k.split_whitespace().count() > 2 {
            continue;
        }
        if let Some(d) = detect(k, val) {
            out.push(d);
        }
    }
    out
}

/// Whether a Secret value with an uninformative key is likely a credential: long, no spaces,
/// high entropy.
pub fn high_entropy(value: &str) -> bool {
    let t = value.trim();
    t.len() >= 16
        && !t.contains(char::is_whitespace)
        && !is_placeholder(t)
        && !t.contains("://")
        && entropy(t) >= 3.5
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for n in [
            "MYSQL_ROOT_PASSWORD",
            "dbPassword",
            "db-password",
            "db.password",
            "SecretKey",
            "AWSSecretKey",
            "apikey",
            "API_KEY",
            "MINIO_ACCESS_KEY",
            "client_secret",
            "GITHUB_TOKEN",
            "REDIS_AUTH",
            "adminpass",
            "WORDPRESS_NONCE_KEY",
        ] {
            assert!(name_says_credential(n), "{n}");
        }
        for n in [
            "PASSWORD_FILE",
            "DB_PASSWORD_PATH",
            "PASSWORD_MIN_LENGTH",
            "AUTH_ENABLED",
            "TOKEN_TTL",
            "OAUTH_TOKEN_URL",
            "SECRET_NAME",
            "AWS_ACCESS_KEY_ID",
            "MAX_TOKENS",
            "KEY",
            "BYPASS_CACHE",
            "LOG_LEVEL",
            "PASSWORD_POLICY",
        ] {
            assert!(!name_says_credential(n), "{n}");
        }
    }

    #[test]
    fn detects_known_formats_and_names() {
        let cases: &[(&str, &str, Option<SecretKind>)] = &[
            (
                "AWS_ACCESS_KEY_ID",
                "AKIAZ7Q3R5T2W8Y4U6I1",
                Some(SecretKind::AwsAccessKey),
            ),
            (
                "X",
                "token ghp_aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5",
                Some(SecretKind::GithubToken),
            ),
            (
                "DATABASE_URL",
                "postgres://app:S3cr3tPw@db:5432/app",
                Some(SecretKind::PasswordInUrl),
            ),
            ("DATABASE_URL", "postgres://app:${PW}@db:5432/app", None),
            (
                "KEY",
                "-----BEGIN RSA PRIVATE KEY-----\nMIIE...",
                Some(SecretKind::PrivateKey),
            ),
            (
                "MYSQL_ROOT_PASSWORD",
                "supersecret",
                Some(SecretKind::NamedCredential),
            ),
            ("DB_PASSWORD", "changeme", Some(SecretKind::NamedCredential)),
            ("DB_PASSWORD", "changeit-in-prod", None),
            ("DB_PASSWORD", "${DB_PASSWORD}", None),
            ("DB_PASSWORD", "$(DB_PASSWORD)", None),
            ("ETCD_DISCOVERY_TOKEN", "INSERT_ETCD_DISCOVERY_TOKEN", None),
            ("LOG_LEVEL", "q8Zr!2vLx#9pWm", None),
            ("DB_PASSWORD_FILE", "/run/secrets/db-password", None),
            ("PASSWORD_MIN_LENGTH", "8", None),
            ("URL", "https://example.com/path", None),
            ("TOKEN_TTL", "Zk3#r9Lq!v2Wm8Tx", None),
        ];
        for (name, value, want) in cases {
            assert_eq!(detect(name, value).map(|d| d.kind), *want, "{name}={value}");
        }
    }

    #[test]
    fn url_password_redacts_only_the_password() {
        let d = detect("U", "postgres://app:S3cr3tPw@db/app").unwrap();
        assert_eq!(d.text, "S3cr3tPw");
    }

    #[test]
    fn args_and_text() {
        let args = [
            "server",
            "--password=hunter22",
            "--token",
            "abc123def",
            "--user=bob",
        ];
        let found: Vec<_> = detect_in_args(args).into_iter().map(|(i, _)| i).collect();
        assert_eq!(found, vec![1, 3]);
        let sh = [
            "sh",
            "-c",
            "mysqld --root-password=$(PW) && curl --api-key s3cr3t x",
        ];
        let found = detect_in_args(sh);
        assert_eq!(found.len(), 1);
        // control-plane and proxy flags that only sound like credentials
        let settings = [
            "--authorization-mode=Node,RBAC",
            "--enable-bootstrap-token-auth=true",
            "--service-account-key-file=/etc/kubernetes/pki/sa.pub",
            "--token-auth-file=/etc/kubernetes/tokens.csv",
            "--oidc-client-id=kubernetes",
            "--skip-auth-route=GET=^/healthz",
            "--cookie-secret-file=/etc/oauth2/cookie",
            "--pass-access-token=true",
            "--secret-name=webhook-tls",
            "--token-ttl=24h",
            "--password=$(DB_PASSWORD)",
            "--password=$DB_PASSWORD",
        ];
        assert!(
            detect_in_args(settings).is_empty(),
            "{:?}",
            detect_in_args(settings)
        );
        assert_eq!(found[0].1.text, "s3cr3t");
        let text = "host = db\nport = 5432\npassword = c-krit\n# secret: commented\n; token = ini-comment\npassword_encryption = scram-sha-256\n\"auth\": {\ntoken.validity=3600\nsecret: |\n";
        let found = detect_in_text(text);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].text, "c-krit");
    }
}
