//! `findings` and `checks`: what `rampart scan` gets from the attack paths.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use rampart_core::Severity;

fn load(name: &str) -> Vec<rampart_manifest::Object> {
    let dir = format!("{}/../../examples/{name}", env!("CARGO_MANIFEST_DIR"));
    let loaded = rampart_manifest::load_paths(&[dir]);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    loaded.objects
}

#[test]
fn exposed_entries_to_cluster_admin_or_the_node_are_critical() {
    let found = rampart_paths::findings(&load("attack-path"));
    let critical: Vec<_> = found
        .iter()
        .filter(|f| f.severity == Severity::Critical)
        .collect();
    assert_eq!(critical.len(), 3, "{found:#?}");
    for f in &critical {
        assert_eq!(f.check, rampart_paths::ATTACK_PATH);
        assert!(
            f.message
                .starts_with("exposed Deployment outlet/storefront reaches"),
            "{}",
            f.message
        );
        let loc = f.location.as_ref().unwrap();
        assert!(loc.file.ends_with("shop.yaml"));
        assert_eq!(loc.line, 14);
        assert_eq!(f.object.as_ref().unwrap().name, "storefront");
    }
    assert!(
        critical
            .iter()
            .any(|f| f.message.contains("cluster-admin in 5 steps"))
    );
    // the unexposed footholds are high, and their named-Secret paths are not findings
    assert!(found.iter().all(|f| f.severity >= Severity::High));
    assert!(found.iter().any(|f| {
        f.severity == Severity::High
            && f.message
                .starts_with("a compromised Deployment outlet/thumbnailer")
    }));
}

#[test]
fn no_path_no_finding() {
    let loaded = rampart_manifest::load_str(
        "safe.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: x}\nspec:\n  automountServiceAccountToken: false\n  containers: [{name: c, image: c}]\n",
    );
    assert!(rampart_paths::findings(&loaded.objects).is_empty());
}

#[test]
fn every_emitted_slug_has_documented_metadata() {
    let checks = rampart_paths::checks();
    assert_eq!(checks.len(), 1);
    let c = &checks[0];
    assert_eq!(c.slug, rampart_paths::ATTACK_PATH);
    assert_eq!(c.severity, Severity::Critical);
    for section in [
        "What it does",
        "Why is this bad?",
        "Remediation",
        "References",
    ] {
        assert!(c.section(section).is_some(), "missing {section}");
    }
    let slugs: std::collections::BTreeSet<String> = rampart_paths::findings(&load("attack-path"))
        .into_iter()
        .map(|f| f.check)
        .collect();
    assert!(slugs.iter().all(|s| checks.iter().any(|c| c.answers_to(s))));
}
