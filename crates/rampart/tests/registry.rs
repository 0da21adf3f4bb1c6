//! The one registry through the binary: configuration, ignore annotations and generated docs
//! resolve every slug any command emits.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use assert_cmd::Command;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

fn rampart() -> Command {
    let mut c = Command::cargo_bin("rampart").unwrap();
    c.env("NO_COLOR", "1");
    c
}

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn registered() -> BTreeSet<String> {
    let out = rampart()
        .args(["checks", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let list: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let mut names = BTreeSet::new();
    for c in list {
        names.insert(c["slug"].as_str().unwrap().to_string());
        for a in c["aliases"].as_array().into_iter().flatten() {
            names.insert(a.as_str().unwrap().to_string());
        }
    }
    names
}

/// Every slug that `scan` (with PSS) emits on the examples and on every fixture of the
/// repository is in the registry.
#[test]
fn every_emitted_slug_is_registered() {
    let known = registered();
    let mut emitted = BTreeSet::new();
    for dir in [
        "examples",
        "crates/rampart-rules/tests/fixtures",
        "crates/rampart-rbac/tests/cases",
        "crates/rampart-netpol/tests/cases",
        "crates/rampart-pss/tests",
        "deploy",
    ] {
        let out = rampart()
            .args([
                "scan",
                "--no-config",
                "--pss-level",
                "restricted",
                "--format",
                "json",
            ])
            .arg(root().join(dir))
            .output()
            .unwrap();
        let doc: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{dir}: {e}: {}", String::from_utf8_lossy(&out.stderr)));
        for f in doc["findings"].as_array().unwrap() {
            emitted.insert(f["check"].as_str().unwrap().to_string());
        }
    }
    assert!(emitted.len() > 60, "only {} slugs emitted", emitted.len());
    let missing: Vec<_> = emitted.difference(&known).collect();
    assert!(
        missing.is_empty(),
        "emitted but not registered: {missing:?}"
    );
}

/// `docs/checks.md` is generated from the registry; regenerate it with
/// `cargo run -- checks --format markdown > docs/checks.md`.
#[test]
fn checks_page_is_current() {
    let out = rampart()
        .args(["checks", "--format", "markdown"])
        .output()
        .unwrap();
    let want = String::from_utf8(out.stdout).unwrap();
    let have = std::fs::read_to_string(root().join("docs/checks.md")).unwrap_or_default();
    assert!(
        have == want,
        "docs/checks.md is stale: run `cargo run -- checks --format markdown > docs/checks.md`"
    );
}

fn scan_with_config(config: &str, manifest: &str) -> (Option<i32>, Value, String) {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("cfg.yaml"), config).unwrap();
    std::fs::write(d.path().join("m.yaml"), manifest).unwrap();
    let out = rampart()
        .current_dir(d.path())
        .args(["scan", "--config", "cfg.yaml", "--format", "json", "m.yaml"])
        .output()
        .unwrap();
    let doc = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (
        out.status.code(),
        doc,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const ADMIN_BINDING: &str = "apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: ci-admin}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects:
- {kind: ServiceAccount, name: deployer, namespace: ci}
";

fn checks_of(doc: &Value) -> Vec<String> {
    doc["findings"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| f["check"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_cluster_admin_binding_is_one_critical_finding_listing_what_it_implies() {
    let (code, doc, err) = scan_with_config("{}\n", ADMIN_BINDING);
    assert_eq!(code, Some(1), "{err}");
    let rbac: Vec<&Value> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"].as_str().unwrap().starts_with("rbac-"))
        .collect();
    assert_eq!(rbac.len(), 1, "{rbac:#?}");
    assert_eq!(rbac[0]["check"], "rbac-cluster-admin-equivalent");
    assert_eq!(rbac[0]["severity"], "critical");
    let msg = rbac[0]["message"].as_str().unwrap();
    assert!(
        msg.contains("ci-admin") && msg.contains("read all Secrets"),
        "{msg}"
    );
}

#[test]
fn analyzer_slugs_and_their_aliases_can_be_disabled_and_reweighted() {
    for name in ["rbac-cluster-admin-equivalent", "cluster-admin-binding"] {
        let (_, doc, err) =
            scan_with_config(&format!("checks:\n  disable: [{name}]\n"), ADMIN_BINDING);
        assert!(
            !checks_of(&doc).contains(&"rbac-cluster-admin-equivalent".to_string()),
            "{name}: {err}"
        );
    }
    let (code, doc, _) = scan_with_config(
        "checks:\n  severity: {cluster-admin-binding: low}\n",
        ADMIN_BINDING,
    );
    let f = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == "rbac-cluster-admin-equivalent")
        .unwrap();
    assert_eq!(f["severity"], "low");
    assert_eq!(code, Some(0));
}

#[test]
fn an_unknown_check_in_the_configuration_names_its_position() {
    let (code, _, err) = scan_with_config(
        "checks:\n  only:\n    - latest-tag\n    - rbac-readsecrets\n",
        ADMIN_BINDING,
    );
    assert_eq!(code, Some(2));
    assert!(
        err.contains("cfg.yaml:4:7: unknown check `rbac-readsecrets`"),
        "{err}"
    );
    let (code, _, err) = scan_with_config("pss: {level: strict}\n", ADMIN_BINDING);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("cfg.yaml:1:7: unknown level `strict`"),
        "{err}"
    );
}

/// A control-plane finding carries its CIS item in the JSON; `explain` names it too.
#[test]
fn cis_findings_carry_their_benchmark_items() {
    let pod = "apiVersion: v1
kind: Pod
metadata: {name: kube-apiserver, namespace: kube-system}
spec:
  containers:
  - name: kube-apiserver
    image: registry.k8s.io/kube-apiserver:v1.34.0
    command:
    - kube-apiserver
    - --anonymous-auth=true
    - --authorization-mode=AlwaysAllow
";
    let (_, doc, err) = scan_with_config("{}\n", pod);
    let f: Vec<&Value> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            f["cis"]
                .as_array()
                .is_some_and(|c| c.iter().any(|i| i == "1.2.1"))
        })
        .collect();
    assert!(!f.is_empty(), "{err}\n{doc:#}");
    assert_eq!(f[0]["line"], 10, "{:#}", f[0]);
    let slug = f[0]["check"].as_str().unwrap();
    let out = rampart().args(["explain", slug]).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("CIS Kubernetes Benchmark 1.2.1"), "{text}");
}

/// One ignore annotation works for every slug of the registry, analyzers' and aliases included,
/// and only with a reason.
#[test]
fn ignore_annotations_silence_analyzer_findings_by_slug_or_alias() {
    let with = |ann: &str| {
        ADMIN_BINDING.replace(
            "metadata: {name: ci-admin}",
            &format!("metadata:\n  name: ci-admin\n  annotations: {ann}"),
        )
    };
    for (ann, silenced) in [
        (
            "{rampart.dev/ignore: cluster-admin-binding, rampart.dev/ignore-reason: break-glass}",
            true,
        ),
        (
            "{rampart.dev/ignore: rbac-cluster-admin-equivalent, rampart.dev/ignore-reason: break-glass}",
            true,
        ),
        (
            "{rampart.dev/ignore: '*', rampart.dev/ignore-reason: break-glass}",
            true,
        ),
        ("{rampart.dev/ignore: cluster-admin-binding}", false),
        (
            "{rampart.dev/ignore: latest-tag, rampart.dev/ignore-reason: other}",
            false,
        ),
    ] {
        let (_, doc, err) = scan_with_config("{}\n", &with(ann));
        let found = checks_of(&doc).contains(&"rbac-cluster-admin-equivalent".to_string());
        assert_eq!(found, !silenced, "{ann}: {err}\n{doc:#}");
    }
}
