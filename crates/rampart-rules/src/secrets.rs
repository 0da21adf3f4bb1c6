//! Credential detection for literal values: known key formats, private keys, passwords in URLs,
//! and high-entropy values under secret-like names. Values found are never echoed: callers put
//! them in `Finding::redact` and describe them by kind only.

use aho_corasick::AhoCorasick;
use regex::Regex;
use std::sync::LazyLock;

/// What kind of credential a value looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    AwsAccessKey,
    GithubToken,
    GitlabToken,
    SlackToken,
    StripeKey,
    GoogleApiKey,
    PrivateKey,
    Jwt,
    PasswordInUrl,
    HighEntropy,
}

impl SecretKind {
    pub fn describe(self) -> &'static str {
        match self {
            SecretKind::AwsAccessKey => "an AWS access key",
            SecretKind::GithubToken => "a GitHub token",
            SecretKind::GitlabToken => "a GitLab token",
            SecretKind::SlackToken => "a Slack token",
            SecretKind::StripeKey => "a Stripe secret key",
            SecretKind::GoogleApiKey => "a Google API key",
            SecretKind::PrivateKey => "a private key",
            SecretKind::Jwt => "a JSON Web Token",
            SecretKind::PasswordInUrl => "a password in a URL",
            SecretKind::HighEntropy => "a high-entropy value under a secret-like name",
        }
    }
}

struct Pattern {
    kind: SecretKind,
    re: Regex,
}

/// Cheap literal prefilter: a value with none of these substrings cannot match a known format.
static PREFILTER: LazyLock<Option<AhoCorasick>> = LazyLock::new(|| {
    AhoCorasick::builder()
        .ascii_case_insensitive(false)
        .build([
            "AKIA",
            "ASIA",
            "ghp_",
            "gho_",
            "ghs_",
            "ghu_",
            "github_pat_",
            "glpat-",
            "xox",
            "sk_live_",
            "rk_live_",
            "AIza",
            "PRIVATE KEY",
            "eyJ",
            "://",
        ])
        .ok()
});

static PATTERNS: LazyLock<Vec<Pattern>> = LazyLock::new(|| {
    let p = |kind, re: &str| Regex::new(re).ok().map(|re| Pattern { kind, re });
    [
        p(SecretKind::AwsAccessKey, r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
        p(
            SecretKind::GithubToken,
            r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})",
        ),
        p(SecretKind::GitlabToken, r"\bglpat-[A-Za-z0-9_\-]{20,}"),
        p(SecretKind::SlackToken, r"\bxox[baprs]-[A-Za-z0-9-]{10,}"),
        p(SecretKind::StripeKey, r"\b[rs]k_live_[A-Za-z0-9]{20,}"),
        p(SecretKind::GoogleApiKey, r"\bAIza[0-9A-Za-z_\-]{35}"),
        p(
            SecretKind::PrivateKey,
            r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----",
        ),
        p(
            SecretKind::Jwt,
            r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}",
        ),
        p(
            SecretKind::PasswordInUrl,
            r"[a-zA-Z][a-zA-Z0-9+.\-]*://[^/\s:@]+:([^/\s@]{3,})@",
        ),
    ]
    .into_iter()
    .flatten()
    .collect()
});

/// Names that suggest a value is a credential.
pub fn is_secret_like_name(name: &str) -> bool {
    // words split on `_`, `-`, `.` and camelCase boundaries: `OAUTH_TOKEN_URL` is a URL, not a token
    let mut words: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for ch in name.chars() {
        if matches!(ch, '_' | '-' | '.' | ' ') {
            words.push(std::mem::take(&mut cur));
            prev_lower = false;
            continue;
        }
        if ch.is_ascii_uppercase() && prev_lower {
            words.push(std::mem::take(&mut cur));
        }
        prev_lower = ch.is_ascii_lowercase() || ch.is_ascii_digit();
        cur.push(ch.to_ascii_lowercase());
    }
    words.push(cur);
    words.retain(|w| !w.is_empty());
    const SECRET: &[&str] = &[
        "password",
        "passwd",
        "pwd",
        "pass",
        "secret",
        "token",
        "apikey",
        "credential",
        "credentials",
        "privatekey",
    ];
    const PAIRS: &[(&str, &str)] = &[
        ("api", "key"),
        ("access", "key"),
        ("private", "key"),
        ("secret", "key"),
        ("signing", "key"),
        ("encryption", "key"),
        ("client", "secret"),
        ("auth", "key"),
    ];
    const NOT_A_VALUE: &[&str] = &[
        "file", "path", "ref", "url", "uri", "endpoint", "name", "id", "user", "username", "email",
        "header", "type", "mode", "enabled", "length", "ttl", "expiry", "timeout",
    ];
    if words
        .last()
        .is_some_and(|w| NOT_A_VALUE.contains(&w.as_str()))
    {
        return false;
    }
    words.iter().any(|w| SECRET.contains(&w.as_str()))
        || words
            .windows(2)
            .any(|p| matches!(p, [a, b] if PAIRS.contains(&(a.as_str(), b.as_str()))))
}

/// Values that are clearly not literal credentials: references, placeholders, booleans, paths.
fn is_placeholder(v: &str) -> bool {
    let t = v.trim();
    t.is_empty()
        || t.starts_with("${")
        || t.starts_with("$(")
        || t.starts_with("{{")
        || t.starts_with('/')
        || t.starts_with("file:")
        || t.starts_with("vault:")
        || t.starts_with("ref+")
        || t.starts_with("arn:")
        || (t.contains("://") && !t.contains('@'))
        || (t.contains('@')
            && !t.contains(':')
            && t.rsplit('@').next().is_some_and(|d| d.contains('.')))
        || [
            "changeme",
            "change-me",
            "placeholder",
            "example",
            "redacted",
            "xxxxxxxx",
            "<",
            "true",
            "false",
        ]
        .iter()
        .any(|p| t.to_ascii_lowercase().contains(p))
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

/// The credential in a literal value, if any: its kind and the exact text to redact.
pub fn detect(name: &str, value: &str) -> Option<(SecretKind, String)> {
    if PREFILTER.as_ref().is_none_or(|ac| ac.is_match(value)) {
        for p in PATTERNS.iter() {
            if let Some(c) = p.re.captures(value) {
                // for a password in a URL only the password is the secret
                let m = c.get(1).or_else(|| c.get(0))?;
                let text = if p.kind == SecretKind::PrivateKey {
                    value.to_string()
                } else {
                    m.as_str().to_string()
                };
                return Some((p.kind, text));
            }
        }
    }
    if is_secret_like_name(name)
        && !is_placeholder(value)
        && value.len() >= 8
        && !value.contains(char::is_whitespace)
        && entropy(value) >= 3.0
    {
        return Some((SecretKind::HighEntropy, value.to_string()));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_known_formats_and_entropy() {
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
            (
                "KEY",
                "-----BEGIN RSA PRIVATE KEY-----\nMIIE...",
                Some(SecretKind::PrivateKey),
            ),
            (
                "DB_PASSWORD",
                "q8Zr!2vLx#9pWm",
                Some(SecretKind::HighEntropy),
            ),
            ("DB_PASSWORD", "changeme", None),
            ("DB_PASSWORD", "${DB_PASSWORD}", None),
            ("LOG_LEVEL", "q8Zr!2vLx#9pWm", None),
            ("DB_PASSWORD_FILE", "/run/secrets/db-password", None),
            ("URL", "https://example.com/path", None),
            (
                "OAUTH_TOKEN_URL",
                "https://login.acme.io/oauth2/token",
                None,
            ),
            ("GIT_AUTHOR_EMAIL", "jane.doe@acme.io", None),
            (
                "clientSecret",
                "q8Zr!2vLx#9pWm",
                Some(SecretKind::HighEntropy),
            ),
            ("API_KEY", "Zk3#r9Lq!v2Wm8Tx", Some(SecretKind::HighEntropy)),
            ("TOKEN_TTL", "Zk3#r9Lq!v2Wm8Tx", None),
        ];
        for (name, value, want) in cases {
            assert_eq!(detect(name, value).map(|(k, _)| k), *want, "{name}={value}");
        }
    }

    #[test]
    fn url_password_redacts_only_the_password() {
        let (_, text) = detect("U", "postgres://app:S3cr3tPw@db/app").unwrap();
        assert_eq!(text, "S3cr3tPw");
    }
}
