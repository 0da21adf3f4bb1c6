//! Findings about the input as a whole.

use rampart_core::{CheckInfo, Finding, Origin, Severity};
use rampart_manifest::Duplicate;

pub(crate) const DUPLICATE_OBJECT: &str = "duplicate-object";

pub(crate) fn duplicate_object_info() -> CheckInfo {
    CheckInfo::new(
        DUPLICATE_OBJECT,
        Severity::Medium,
        Origin::Manifest,
        "The same object (kind, namespace, name) is defined more than once in the input",
    )
    .doc(
        "## What it does\nFlags every definition of an object after the first one in the input, naming both \
         locations. Which one is first does not depend on the order of the paths given: files are read in \
         sorted order.\n\n## Why is this bad?\nApplied together, the later definition silently replaces the \
         earlier one: what was reviewed in one file is not what runs. Two example apps that both define \
         `Deployment shop/frontend` cannot both be deployed.\n\n## Remediation\nRename one of the objects, move \
         it to its own namespace, or scan the two sets of manifests separately.\n",
    )
}

/// One finding per repeated definition, at the repeat, naming the first.
pub fn duplicate_findings(dups: &[Duplicate]) -> Vec<Finding> {
    dups.iter()
        .map(|d| {
            Finding::new(
                DUPLICATE_OBJECT,
                Severity::Medium,
                format!(
                    "{} is defined twice: first at {}:{}:{}, again here; applied together, one replaces the other",
                    d.object, d.first.file, d.first.line, d.first.column
                ),
            )
            .with_object(d.object.clone())
            .with_location(d.again.clone())
        })
        .collect()
}
