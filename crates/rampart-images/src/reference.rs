//! Image references parsed as the distribution reference grammar (`docker/distribution`'s
//! `reference.ParseNormalizedNamed`) parses them: the registry host defaults to `docker.io`,
//! official images get `library/`, the tag defaults to `latest` when there is no digest.

use serde::Serialize;
use std::fmt;
use std::sync::LazyLock;

/// The default registry host, as the container runtimes normalise it.
pub const DEFAULT_REGISTRY: &str = "docker.io";

/// A normalised image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Reference {
    /// Registry host (and port): `docker.io`, `ghcr.io`, `localhost:5000`.
    pub registry: String,
    /// Repository path inside the registry: `library/nginx`, `acme/api`.
    pub repository: String,
    /// The tag as written, if any.
    pub tag: Option<String>,
    /// The digest as written (`sha256:<hex>`), if any.
    pub digest: Option<String>,
}

/// Why an image reference does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("empty image reference")]
    Empty,
    #[error("invalid image reference format: {0:?}")]
    Format(String),
    #[error("repository name must be lowercase: {0:?}")]
    Uppercase(String),
    #[error("repository name must not be longer than 255 characters: {0:?}")]
    NameTooLong(String),
    #[error("invalid tag {tag:?} in {reference:?}")]
    Tag { reference: String, tag: String },
    #[error("invalid digest {digest:?} in {reference:?}")]
    Digest { reference: String, digest: String },
}

static PATH_COMPONENT: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$").unwrap_or_else(|_| never())
});
static DOMAIN: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(
        r"^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$",
    )
    .unwrap_or_else(|_| never())
});
static TAG: LazyLock<regex::Regex> =
    LazyLock::new(|| regex::Regex::new(r"^[\w][\w.-]{0,127}$").unwrap_or_else(|_| never()));
static DIGEST: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$")
        .unwrap_or_else(|_| never())
});

/// The patterns above are constants that compile; this is never reached.
fn never() -> regex::Regex {
    #[allow(clippy::unwrap_used)]
    regex::Regex::new("$^").unwrap()
}

impl Reference {
    /// Parses `s` as `ParseNormalizedNamed` does, then defaults the tag to `latest` when neither
    /// a tag nor a digest is given (`TagNameOnly`).
    pub fn parse(s: &str) -> Result<Reference, ReferenceError> {
        if s.is_empty() {
            return Err(ReferenceError::Empty);
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => {
                if !DIGEST.is_match(d) || !valid_digest_hex(d) {
                    return Err(ReferenceError::Digest {
                        reference: s.to_string(),
                        digest: d.to_string(),
                    });
                }
                (r, Some(d.to_string()))
            }
            None => (s, None),
        };
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest.get(last_slash..).and_then(|t| t.rfind(':')) {
            Some(i) => {
                let at = last_slash + i;
                let (n, t) = (
                    rest.get(..at).unwrap_or(""),
                    rest.get(at + 1..).unwrap_or(""),
                );
                if !TAG.is_match(t) {
                    return Err(ReferenceError::Tag {
                        reference: s.to_string(),
                        tag: t.to_string(),
                    });
                }
                (n, Some(t.to_string()))
            }
            None => (rest, None),
        };
        if name.is_empty() {
            return Err(ReferenceError::Format(s.to_string()));
        }
        let (registry, remainder) = split_domain(name);
        if !DOMAIN.is_match(&registry) {
            return Err(ReferenceError::Format(s.to_string()));
        }
        if remainder.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(ReferenceError::Uppercase(s.to_string()));
        }
        if remainder.is_empty() || !remainder.split('/').all(|c| PATH_COMPONENT.is_match(c)) {
            return Err(ReferenceError::Format(s.to_string()));
        }
        if registry.len() + 1 + remainder.len() > 255 {
            return Err(ReferenceError::NameTooLong(s.to_string()));
        }
        let tag = match (tag, &digest) {
            (None, None) => Some("latest".to_string()),
            (t, _) => t,
        };
        Ok(Reference {
            registry,
            repository: remainder,
            tag,
            digest,
        })
    }

    /// Whether the reference names a digest (the image cannot change under it).
    pub fn is_pinned(&self) -> bool {
        self.digest.is_some()
    }

    /// `registry/repository`, the fully-qualified name without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// What to ask the registry for: the digest if there is one, else the tag.
    pub fn manifest_ref(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }

    /// The host the registry API is served on: Docker Hub's API is `registry-1.docker.io`.
    pub fn api_host(&self) -> &str {
        if self.registry == DEFAULT_REGISTRY {
            "registry-1.docker.io"
        } else {
            &self.registry
        }
    }

    /// This reference with its digest set (the tag is kept).
    pub fn with_digest(&self, digest: &str) -> Reference {
        Reference {
            digest: Some(digest.to_string()),
            ..self.clone()
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// `splitDockerDomain`: the first component is a registry host when it has a `.` or a `:`, or
/// is `localhost`, or has an upper-case letter; otherwise the name is on Docker Hub.
fn split_domain(name: &str) -> (String, String) {
    let (domain, rest) = match name.split_once('/') {
        Some((d, r))
            if d.contains(['.', ':'])
                || d == "localhost"
                || d.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            (d.to_string(), r.to_string())
        }
        _ => (DEFAULT_REGISTRY.to_string(), name.to_string()),
    };
    let domain = if domain == "index.docker.io" {
        DEFAULT_REGISTRY.to_string()
    } else {
        domain
    };
    let rest = if domain == DEFAULT_REGISTRY && !rest.contains('/') {
        format!("library/{rest}")
    } else {
        rest
    };
    (domain, rest)
}

/// Registered algorithms must have their exact hex length.
fn valid_digest_hex(d: &str) -> bool {
    match d.split_once(':') {
        Some(("sha256", hex)) => {
            hex.len() == 64
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        }
        Some(("sha384", hex)) => {
            hex.len() == 96
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        }
        Some(("sha512", hex)) => {
            hex.len() == 128
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        }
        Some(_) => true,
        None => false,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn r(s: &str) -> String {
        Reference::parse(s).unwrap().to_string()
    }

    #[test]
    fn normalises_like_distribution() {
        assert_eq!(r("nginx"), "docker.io/library/nginx:latest");
        assert_eq!(r("nginx:1.25"), "docker.io/library/nginx:1.25");
        assert_eq!(r("acme/api:1.4"), "docker.io/acme/api:1.4");
        assert_eq!(r("index.docker.io/nginx"), "docker.io/library/nginx:latest");
        assert_eq!(r("ghcr.io/acme/api:1.4"), "ghcr.io/acme/api:1.4");
        assert_eq!(r("localhost/app"), "localhost/app:latest");
        assert_eq!(r("localhost:5000/app:v1"), "localhost:5000/app:v1");
        assert_eq!(r("registry.k8s.io/pause:3.9"), "registry.k8s.io/pause:3.9");
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            r(&format!("nginx@{d}")),
            format!("docker.io/library/nginx@{d}")
        );
        assert_eq!(
            r(&format!("nginx:1.25@{d}")),
            format!("docker.io/library/nginx:1.25@{d}")
        );
        assert!(Reference::parse(&format!("nginx@{d}")).unwrap().is_pinned());
        assert!(!Reference::parse("nginx").unwrap().is_pinned());
    }

    #[test]
    fn rejects_what_distribution_rejects() {
        assert_eq!(
            Reference::parse("Nginx").unwrap_err(),
            ReferenceError::Uppercase("Nginx".into())
        );
        assert_eq!(
            Reference::parse("acme/Api").unwrap_err(),
            ReferenceError::Uppercase("acme/Api".into())
        );
        assert!(matches!(
            Reference::parse("nginx@sha256:abc"),
            Err(ReferenceError::Digest { .. })
        ));
        assert!(matches!(
            Reference::parse("nginx:-bad"),
            Err(ReferenceError::Tag { .. })
        ));
        assert_eq!(Reference::parse("").unwrap_err(), ReferenceError::Empty);
        assert!(Reference::parse("a//b").is_err());
    }
}
