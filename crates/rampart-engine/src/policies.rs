//! The policies a team brings with `--policies`, read once for `scan` and `serve`: Gatekeeper
//! ConstraintTemplates and constraints, ValidatingAdmissionPolicies and their bindings, and
//! Kyverno policies, from the same files.

use rampart_core::InputError;
use std::path::Path;

/// Policies loaded from `--policies` paths.
#[derive(Default)]
pub struct Policies {
    /// Gatekeeper constraints and ValidatingAdmissionPolicy bindings; `None` when the paths
    /// hold none that can be evaluated.
    pub gatekeeper: Option<rampart_policy::PolicySet>,
    /// Kyverno ClusterPolicies, Policies and CEL policies; `None` when the paths hold none.
    pub kyverno: Option<rampart_kyverno::PolicySet>,
    /// Files that could not be read and policies that cannot run, each once and at its
    /// position. Every other policy still runs.
    pub errors: Vec<InputError>,
}

/// Nothing could be read from the `--policies` paths.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PoliciesError(pub InputError);

/// Reads every file under `paths` once and keeps the policies of each engine. An error only
/// when nothing could be read at all; a broken file or policy is one of [`Policies::errors`].
pub fn load_policies<P: AsRef<Path>>(paths: &[P]) -> Result<Policies, PoliciesError> {
    let loaded = rampart_manifest::load_paths(paths);
    if loaded.objects.is_empty()
        && let Some(e) = loaded.errors.first()
    {
        return Err(PoliciesError(e.clone()));
    }
    let mut errors = loaded.errors;
    let gatekeeper = rampart_policy::PolicySet::from_objects(loaded.objects.clone());
    errors.extend(gatekeeper.problems().iter().map(policy_error));
    let (kyverno, kyverno_errors) = rampart_kyverno::PolicySet::from_objects(loaded.objects);
    errors.extend(kyverno_errors.into_iter().map(|e| match e {
        rampart_kyverno::KyvernoError::Input(i) => i,
        rampart_kyverno::KyvernoError::Policy { pos, .. } => pos,
    }));
    Ok(Policies {
        gatekeeper: (!gatekeeper.is_empty()).then_some(gatekeeper),
        kyverno: (!kyverno.is_empty()).then_some(kyverno),
        errors,
    })
}

fn policy_error(e: &rampart_policy::PolicyError) -> InputError {
    match e {
        rampart_policy::PolicyError::Invalid {
            file,
            line,
            column,
            message,
        } => InputError {
            file: file.clone(),
            line: *line,
            column: *column,
            message: message.clone(),
        },
        rampart_policy::PolicyError::Input(e) => e.clone(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn one_read_feeds_both_engines_and_reports_each_error_once() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("kyverno.yaml"),
            "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: team}\nspec:\n  rules:\n  - name: team\n    match: {any: [{resources: {kinds: [Pod]}}]}\n    validate: {message: m, pattern: {metadata: {labels: {team: '?*'}}}}\n",
        )
        .unwrap();
        std::fs::write(
            d.path().join("vap.yaml"),
            "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicy\nmetadata: {name: no-latest}\nspec:\n  matchConstraints: {resourceRules: [{apiGroups: [''], apiVersions: [v1], operations: [CREATE], resources: [pods]}]}\n  validations: [{expression: \"object.spec.containers.all(c, !c.image.endsWith(':latest'))\"}]\n---\napiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicyBinding\nmetadata: {name: no-latest}\nspec: {policyName: no-latest, validationActions: [Deny]}\n",
        )
        .unwrap();
        std::fs::write(d.path().join("broken.yaml"), "kind: [\n").unwrap();
        let p = load_policies(&[d.path()]).unwrap();
        assert!(p.kyverno.is_some());
        assert!(p.gatekeeper.is_some());
        assert_eq!(p.errors.len(), 1, "{:?}", p.errors);
        assert!(p.errors[0].file.ends_with("broken.yaml"));
    }

    #[test]
    fn nothing_readable_is_an_error_and_no_policies_is_none() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("broken.yaml"), "kind: [\n").unwrap();
        assert!(load_policies(&[d.path()]).is_err());
        std::fs::write(
            d.path().join("broken.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
        )
        .unwrap();
        let p = load_policies(&[d.path()]).unwrap();
        assert!(p.gatekeeper.is_none() && p.kyverno.is_none() && p.errors.is_empty());
    }
}
