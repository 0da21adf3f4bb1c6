//! The finding model every rampart analyzer produces and every report consumes.
//!
//! A [`Finding`] names the check that fired, its [`Severity`], the object it fired on
//! ([`ObjectRef`]) and where in the source the offending field is ([`Location`]).
//!
//! ```
//! use rampart_core::{Finding, Severity, ObjectRef, Location};
//! let f = Finding::new("privileged-container", Severity::Critical, "container \"app\" is privileged")
//!     .with_object(ObjectRef { api_version: "v1".into(), kind: "Pod".into(), namespace: None, name: "web".into() })
//!     .with_location(Location { file: "pod.yaml".into(), line: 12, column: 7, pointer: "/spec/containers/0/securityContext/privileged".into(), template: None });
//! assert!(f.severity >= Severity::High);
//! ```

pub mod check;
pub mod civil;
pub mod duration;
pub mod field;
pub mod quantity;
mod redact;
pub mod version;

pub use check::{CheckInfo, Origin};
pub use field::Field;
pub use quantity::parse_quantity;
pub use version::{KubeVersion, VersionError};

pub use redact::{REDACTED, redact_value};

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// How bad a finding is. Ordered: `Info < Low < Medium < High < Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A severity name that is not one of `critical`, `high`, `medium`, `low`, `info`.
#[derive(Debug, thiserror::Error)]
#[error("unknown severity `{0}`, expected one of critical, high, medium, low, info")]
pub struct UnknownSeverity(pub String);

impl FromStr for Severity {
    type Err = UnknownSeverity;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "info" => Ok(Severity::Info),
            "low" => Ok(Severity::Low),
            "medium" => Ok(Severity::Medium),
            "high" => Ok(Severity::High),
            "critical" => Ok(Severity::Critical),
            _ => Err(UnknownSeverity(s.to_string())),
        }
    }
}

/// Which Kubernetes object a finding is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ObjectRef {
    pub api_version: String,
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {}/{}", self.kind, ns, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

/// Where a finding points: a file, a 1-based line and column, and the JSON pointer of the field.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct Location {
    /// Shared with every other finding in the same file.
    pub file: Arc<str>,
    pub line: u32,
    pub column: u32,
    /// RFC 6901 pointer of the field inside the object (`""` for the object itself).
    pub pointer: String,
    /// The Helm template the document came from (`# Source:` comment), if any.
    pub template: Option<Arc<str>>,
}

/// One problem found by a check or an analyzer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The check's stable slug, e.g. `privileged-container`.
    pub check: String,
    pub severity: Severity,
    /// What is wrong, already redacted.
    pub message: String,
    /// Shared with every other finding on the same object.
    pub object: Option<Arc<ObjectRef>>,
    pub location: Option<Location>,
    /// Shared with every other finding of the same check.
    pub remediation: Option<Arc<str>>,
    /// Shared with every other finding of the same check.
    pub references: Arc<[String]>,
    /// Secret values this finding is about. Never serialized: reports mask them in every
    /// snippet they show.
    #[serde(skip)]
    pub redact: Vec<String>,
}

impl Finding {
    pub fn new(check: impl Into<String>, severity: Severity, message: impl Into<String>) -> Self {
        Finding {
            check: check.into(),
            severity,
            message: message.into(),
            object: None,
            location: None,
            remediation: None,
            references: Arc::from([]),
            redact: Vec::new(),
        }
    }

    pub fn with_object(mut self, object: impl Into<Arc<ObjectRef>>) -> Self {
        self.object = Some(object.into());
        self
    }

    pub fn with_location(mut self, location: Location) -> Self {
        self.location = Some(location);
        self
    }

    pub fn with_remediation(mut self, remediation: impl Into<Arc<str>>) -> Self {
        self.remediation = Some(remediation.into());
        self
    }

    /// Sort key: file, line, column, check.
    pub fn sort_key(&self) -> (&str, u32, u32, &str) {
        match &self.location {
            Some(l) => (&*l.file, l.line, l.column, self.check.as_str()),
            None => ("", 0, 0, self.check.as_str()),
        }
    }
}

/// An input that could not be read or understood, with its position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputError {
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub message: String,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file, self.line, self.column, self.message
            )
        }
    }
}

impl std::error::Error for InputError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_orders_and_parses() {
        assert!(Severity::Critical > Severity::High);
        assert!(Severity::Low > Severity::Info);
        assert_eq!("HIGH".parse::<Severity>().unwrap(), Severity::High);
        assert!("urgent".parse::<Severity>().is_err());
    }

    #[test]
    fn input_error_display_names_position() {
        let e = InputError {
            file: "a.yaml".into(),
            line: 3,
            column: 9,
            message: "bad".into(),
        };
        assert_eq!(e.to_string(), "a.yaml:3:9: bad");
    }
}
