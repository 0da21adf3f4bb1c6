//! The escalation chain of `examples/rbac-escalation`: compromised web pod → its ServiceAccount
//! token → create pods in a namespace with a more privileged ServiceAccount → read all Secrets.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use rampart_rbac::paths::{PathGraph, PathTarget};
use rampart_rbac::{Options, Policy};
use std::path::Path;

#[test]
fn example_chain_reaches_all_secrets() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/rbac-escalation");
    let loaded = rampart_manifest::load_paths(&[dir]);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let policy = Policy::from_objects(&loaded.objects, Options::default());
    assert!(policy.problems.is_empty(), "{:?}", policy.problems);
    let paths = PathGraph::build(&loaded.objects, &policy).shortest_paths();
    let web = paths
        .iter()
        .find(|p| p.seed == "Deployment web/storefront" && p.target == PathTarget::AllSecrets)
        .unwrap_or_else(|| panic!("no path from the storefront to all Secrets: {paths:#?}"));
    let hops: Vec<&str> = web.steps.iter().map(|s| s.to.as_str()).collect();
    assert_eq!(
        hops,
        [
            "ServiceAccount web/storefront",
            "any ServiceAccount in namespace batch",
            "ServiceAccount batch/backup",
            "read all Secrets"
        ]
    );
    assert!(
        web.steps[1].via.contains("create pods in namespace batch"),
        "{:?}",
        web.steps[1]
    );
    assert!(
        web.steps[1]
            .via
            .contains("RoleBinding batch/storefront-runs-jobs"),
        "{:?}",
        web.steps[1]
    );
    assert!(
        web.steps[3]
            .via
            .contains("ClusterRoleBinding backup-reads-secrets"),
        "{:?}",
        web.steps[3]
    );
    // the location points at the pod template's serviceAccountName
    let loc = web.location.as_ref().unwrap();
    assert!(
        loc.file.ends_with("storefront.yaml") && loc.line > 1,
        "{loc:?}"
    );
    // the findings for `rampart scan`
    let findings = rampart_rbac::paths_findings(&loaded.objects);
    assert!(findings.iter().any(|f| f.check == "rbac-escalation-path"
        && f.severity == rampart_core::Severity::Critical
        && f.message.contains("Deployment web/storefront")
        && f.message.contains("ServiceAccount batch/backup")));
}

#[test]
fn no_path_without_automounted_token() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/rbac-escalation");
    let mut loaded = rampart_manifest::load_paths(&[dir]);
    for o in &mut loaded.objects {
        if o.kind() == "Deployment" {
            o.value["spec"]["template"]["spec"]["automountServiceAccountToken"] =
                serde_json::Value::Bool(false);
        }
    }
    let policy = Policy::from_objects(&loaded.objects, Options::default());
    let paths = PathGraph::build(&loaded.objects, &policy).shortest_paths();
    assert!(
        paths.iter().all(|p| p.seed != "Deployment web/storefront"),
        "{paths:#?}"
    );
}
