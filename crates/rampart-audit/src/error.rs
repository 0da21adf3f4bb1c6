//! Errors of the audit analyzer.

use rampart_core::InputError;

/// What can go wrong reading rules, policies or events.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// Bad input, with its position (`file:line:col: message`).
    #[error("{0}")]
    Input(InputError),
    /// A file or stream that could not be read.
    #[error("{path}: cannot read")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl AuditError {
    pub(crate) fn input(file: &str, line: u32, column: u32, message: impl Into<String>) -> Self {
        AuditError::Input(InputError {
            file: file.to_string(),
            line,
            column,
            message: message.into(),
        })
    }
}
