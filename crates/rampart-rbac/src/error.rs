//! What can be wrong with RBAC input.

/// A problem with the RBAC objects of the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RbacError {
    /// A field has the wrong shape; the object is used as far as it can be.
    #[error("{file}:{line}:{column}: {message}")]
    Invalid {
        file: String,
        line: u32,
        column: u32,
        message: String,
    },
    /// A binding refers to a role that is not in the input nor in the bootstrap policy; it grants
    /// nothing.
    #[error(
        "{file}:{line}:{column}: {binding} refers to {role}, which {reason}; the binding grants nothing"
    )]
    MissingRole {
        file: String,
        line: u32,
        column: u32,
        binding: String,
        role: String,
        reason: String,
    },
    /// A resource type that is not in the Kubernetes API table.
    #[error("the server doesn't have a resource type {0:?}")]
    UnknownResource(String),
}
