//! The outcome of one benchmark item on one component or file.

use rampart_core::Location;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Pass,
    Fail,
    /// The component or file is absent here (a managed control plane, a worker node), or the
    /// setting lives in a file this run cannot read.
    NotApplicable,
    /// The setting could not be parsed; the error is reported with its position.
    Error,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::NotApplicable => "N/A",
            Status::Error => "ERROR",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub status: Status,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

impl Verdict {
    pub fn pass(message: impl Into<String>, location: Option<Location>) -> Verdict {
        Verdict {
            status: Status::Pass,
            message: message.into(),
            location,
        }
    }
    pub fn fail(message: impl Into<String>, location: Location) -> Verdict {
        Verdict {
            status: Status::Fail,
            message: message.into(),
            location: Some(location),
        }
    }
    pub fn na(message: impl Into<String>) -> Verdict {
        Verdict {
            status: Status::NotApplicable,
            message: message.into(),
            location: None,
        }
    }
    pub fn error(message: impl Into<String>, location: Location) -> Verdict {
        Verdict {
            status: Status::Error,
            message: message.into(),
            location: Some(location),
        }
    }
}
