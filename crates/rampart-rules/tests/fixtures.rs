//! Every check has a fixture `tests/fixtures/<slug>.yaml` (or `.json`). In it, objects whose
//! name starts with `fire-` must raise that check at least once, objects named `pass-` must not
//! raise it, and `ctx-` objects are context (a ServiceAccount, a PodDisruptionBudget) with no
//! expectation. The findings of each fixture are also a reviewed insta snapshot.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use rampart_rules::{Catalog, Config, all_checks};
use std::collections::BTreeMap;
use std::path::PathBuf;

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn fixture_for(slug: &str) -> Option<PathBuf> {
    ["yaml", "json"]
        .iter()
        .map(|e| fixture_dir().join(format!("{slug}.{e}")))
        .find(|p| p.exists())
}

fn config_for(slug: &str) -> Config {
    let path = fixture_dir().join(format!("{slug}.rampart.yaml"));
    match std::fs::read_to_string(&path) {
        Ok(text) => Config::parse(&path.display().to_string(), &text).unwrap(),
        Err(_) => Config::default(),
    }
}

#[test]
fn every_check_fires_and_passes_on_its_fixture() {
    let mut problems = Vec::new();
    // expectations are asserted before snapshots: a snapshot mismatch would hide them
    let mut snapshots = Vec::new();
    for meta in all_checks() {
        let Some(path) = fixture_for(meta.slug) else {
            problems.push(format!("{}: no fixture", meta.slug));
            continue;
        };
        let text = std::fs::read_to_string(&path).unwrap();
        let loaded =
            rampart_manifest::load_str(&path.file_name().unwrap().to_string_lossy(), &text);
        assert!(
            loaded.errors.is_empty(),
            "{}: load errors {:?}",
            meta.slug,
            loaded.errors
        );
        let catalog = Catalog::new(config_for(meta.slug)).unwrap();
        let findings = catalog.check_all(&loaded.objects);
        let mut hits: BTreeMap<String, usize> = BTreeMap::new();
        for f in findings.iter().filter(|f| f.check == meta.slug) {
            let o = f.object.as_ref().unwrap();
            *hits.entry(o.name.clone()).or_default() += 1;
            let loc = f.location.as_ref().unwrap();
            assert!(loc.line > 0, "{}: finding without a line: {f:?}", meta.slug);
        }
        let (mut fire, mut pass) = (0, 0);
        for o in &loaded.objects {
            let name = o.name();
            if name.starts_with("fire-") {
                fire += 1;
                if !hits.contains_key(name) {
                    problems.push(format!(
                        "{}: {} {name} should fire but did not",
                        meta.slug,
                        o.kind()
                    ));
                }
            } else if name.starts_with("pass-") {
                pass += 1;
                if hits.contains_key(name) {
                    problems.push(format!(
                        "{}: {} {name} must not fire but did",
                        meta.slug,
                        o.kind()
                    ));
                }
            }
        }
        if fire == 0 || pass == 0 {
            problems.push(format!(
                "{}: fixture needs fire- and pass- objects (has {fire} and {pass})",
                meta.slug
            ));
        }
        let rendered: String = findings
            .iter()
            .filter(|f| f.check == meta.slug)
            .map(|f| {
                let l = f.location.as_ref().unwrap();
                format!(
                    "{}:{}:{} [{}] {} — {}\n",
                    l.file,
                    l.line,
                    l.column,
                    f.severity,
                    f.object.as_ref().unwrap(),
                    f.message
                )
            })
            .collect();
        snapshots.push((meta.slug, rendered));
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    for (slug, rendered) in snapshots {
        insta::with_settings!({snapshot_suffix => slug.to_string(), prepend_module_to_snapshot => false}, {
            insta::assert_snapshot!("findings", rendered);
        });
    }
}

#[test]
fn catalog_is_large_and_documented() {
    let all = all_checks();
    assert!(all.len() >= 60, "only {} checks", all.len());
    for m in all {
        for section in [
            "What it does",
            "Why is this bad?",
            "Remediation",
            "References",
        ] {
            assert!(
                m.section(section).is_some_and(|s| !s.is_empty()),
                "{} lacks ## {section}",
                m.slug
            );
        }
        assert!(
            m.slug.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
            "bad slug {}",
            m.slug
        );
    }
}

#[test]
fn ignore_annotation_needs_a_reason() {
    let text = r#"
apiVersion: v1
kind: Pod
metadata:
  name: with-reason
  annotations:
    rampart.dev/ignore: host-network
    rampart.dev/ignore-reason: "node exporter needs the host network"
spec:
  hostNetwork: true
  containers: [{name: c, image: x}]
---
apiVersion: v1
kind: Pod
metadata:
  name: without-reason
  annotations:
    rampart.dev/ignore: host-network
spec:
  hostNetwork: true
  containers: [{name: c, image: x}]
"#;
    let loaded = rampart_manifest::load_str("p.yaml", text);
    let findings = Catalog::default().check_all(&loaded.objects);
    let by = |name: &str, check: &str| {
        findings
            .iter()
            .any(|f| f.check == check && f.object.as_ref().unwrap().name == name)
    };
    assert!(!by("with-reason", "host-network"));
    assert!(by("without-reason", "host-network"));
    assert!(by("without-reason", "ignore-without-reason"));
}

#[test]
fn secret_values_never_appear_in_messages() {
    let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    image: x\n    env:\n    - {name: AWS_SECRET_ACCESS_KEY, value: wJalrXUtnFEMIK7MDENGbPxRfiCYzq9sKq3Lx}\n";
    let loaded = rampart_manifest::load_str("p.yaml", text);
    let findings = Catalog::default().check_all(&loaded.objects);
    let f = findings
        .iter()
        .find(|f| f.check == "hardcoded-secret-in-env")
        .expect("fires");
    assert!(!f.message.contains("wJalrXUtnFEMI"));
    assert!(f.redact.iter().any(|r| r.contains("wJalrXUtnFEMI")));
    let json = serde_json::to_string(&findings).unwrap();
    assert!(!json.contains("wJalrXUtnFEMI"));
}

/// Every finding of the credential checks, on every fixture, carries the values it is about in
/// `redact`, and its message holds none of them.
#[test]
fn credential_findings_carry_their_values_and_never_print_them() {
    let slugs = [
        "hardcoded-secret-in-env",
        "configmap-with-credentials",
        "plaintext-secret-manifest",
        "credential-in-annotation",
    ];
    let mut seen = 0;
    for slug in slugs {
        let path = fixture_for(slug).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let loaded = rampart_manifest::load_str(slug, &text);
        for f in Catalog::default()
            .check_all(&loaded.objects)
            .iter()
            .filter(|f| f.check == slug)
        {
            seen += 1;
            assert!(!f.redact.is_empty(), "{slug}: nothing to redact in {f:?}");
            for r in &f.redact {
                assert!(
                    r.len() < 4 || !f.message.contains(r.as_str()),
                    "{slug}: message shows a value: {}",
                    f.message
                );
            }
        }
    }
    assert!(seen >= 20, "{seen}");
}
