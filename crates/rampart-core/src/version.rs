//! The Kubernetes release a command targets (`--kube-version`, `settings.kubeVersion`): the
//! deprecated-API table and the control-plane and node defaults read the same value.

use serde::Deserialize;
use std::fmt;
use std::str::FromStr;

/// A Kubernetes release, `major.minor` (`"1.29"`, `"v1.29"`, `"1.29.3"`: a patch release has the
/// same API surface and defaults as its minor release). The default is [`KubeVersion::NEWEST`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KubeVersion {
    pub major: u32,
    pub minor: u32,
}

impl KubeVersion {
    /// The newest release rampart knows.
    pub const NEWEST: KubeVersion = KubeVersion::new(1, 34);

    pub const fn new(major: u32, minor: u32) -> Self {
        KubeVersion { major, minor }
    }
}

impl Default for KubeVersion {
    fn default() -> Self {
        KubeVersion::NEWEST
    }
}

impl fmt::Display for KubeVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// Text that is not a Kubernetes version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid Kubernetes version `{0}`, expected e.g. \"1.30\"")]
pub struct VersionError(pub String);

impl FromStr for KubeVersion {
    type Err = VersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let t = t.strip_prefix('v').unwrap_or(t);
        let mut parts = t.split('.');
        let bad = || VersionError(s.to_string());
        let (Some(major), Some(minor)) = (parts.next(), parts.next()) else {
            return Err(bad());
        };
        if parts.next().is_some_and(|p| p.parse::<u32>().is_err()) || parts.next().is_some() {
            return Err(bad());
        }
        match (major.parse(), minor.parse()) {
            (Ok(major), Ok(minor)) => Ok(KubeVersion { major, minor }),
            _ => Err(bad()),
        }
    }
}

impl<'de> Deserialize<'de> for KubeVersion {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(s) => s.parse().map_err(serde::de::Error::custom),
            // YAML reads 1.30 as the number 1.3: only a string keeps the minor version
            other => Err(serde::de::Error::custom(format!(
                "Kubernetes version {other} must be a quoted string, e.g. \"1.30\""
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_kubectl_prints() {
        for (text, want) in [
            ("1.30", Some((1, 30))),
            ("v1.29", Some((1, 29))),
            (" 1.28.4 ", Some((1, 28))),
            ("1", None),
            ("1.x", None),
            ("1.30.a", None),
            ("1.30.1.2", None),
            ("", None),
        ] {
            let got = text.parse::<KubeVersion>().ok().map(|v| (v.major, v.minor));
            assert_eq!(got, want, "{text:?}");
        }
        assert!(KubeVersion::new(1, 9) < KubeVersion::new(1, 10));
        assert_eq!(KubeVersion::default().to_string(), "1.34");
    }
}
