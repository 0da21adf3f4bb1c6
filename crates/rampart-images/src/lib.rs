//! Images in manifests: every reference listed and normalised ([`list`]), tags rewritten to
//! digests in place ([`pin`]), digests resolved and cosign signatures fetched through the OCI
//! distribution API ([`registry`]) and verified against public keys ([`verify`]), and Trivy's
//! vulnerability reports attached to the workloads that run each image ([`trivy`]).

pub mod bundle;
pub mod keyless;
pub mod keys;
pub mod list;
pub mod notary;
pub mod pin;
pub mod reference;
pub mod registry;
pub mod trivy;
pub mod verify;

pub use list::{ImageUse, image_uses};
pub use pin::{Edit, apply_edits, pin_edits};
pub use reference::{Reference, ReferenceError};
pub use registry::{Client, ClientOptions, Credentials};
pub use trivy::{TrivyReport, checks, parse_report, trivy_findings};
pub use verify::{
    Attestations, Policy, Verification, fetch_attestations, fetch_attestations_from,
    fetch_attestations_with, verify_attestations, verify_bundles, verify_image,
    verify_image_annotated, verify_image_count, verify_image_with, verify_image_with_roots,
};

/// What can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input, with its position when known (`line` 0 when not).
    #[error("{}", rampart_core::InputError { file: file.clone(), line: *line, column: *column, message: message.clone() })]
    Input {
        file: String,
        line: u32,
        column: u32,
        message: String,
    },
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    /// The registry could not be reached or answered with an error.
    #[error("{0}")]
    Registry(String),
    /// The registry could not be reached in time, or failed (a server error): nothing was
    /// learnt about the image.
    #[error("{0}")]
    Unreachable(String),
    /// A key file or a signature that cannot be used.
    #[error("{0}")]
    Key(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}
