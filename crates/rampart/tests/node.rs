//! `rampart node` end to end on node filesystems written here.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use assert_cmd::Command;
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;

fn rampart() -> Command {
    let mut c = Command::cargo_bin("rampart").unwrap();
    c.env("NO_COLOR", "1");
    c
}

#[test]
fn an_empty_node_is_all_not_applicable_and_exits_0() {
    let root = tempfile::tempdir().unwrap();
    let out = rampart()
        .args(["node", "--no-proc", "-o", "json", "--root"])
        .arg(root.path())
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let v: Value = serde_json::from_slice(&out).unwrap();
    let results = v["results"].as_array().unwrap();
    assert!(results.len() >= 90, "{}", results.len());
    assert!(results.iter().all(|r| r["status"] == "not-applicable"));
    assert_eq!(v["kubeVersion"], "1.34");
}

#[test]
fn a_loose_static_pod_manifest_fails_with_exit_1_and_its_position() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("etc/kubernetes/manifests");
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("kube-apiserver.yaml");
    std::fs::write(
        &p,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: kube-apiserver, namespace: kube-system}\nspec:\n  containers:\n  - name: c\n    command: [kube-apiserver, --authorization-mode=AlwaysAllow]\n",
    )
    .unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = rampart()
        .args(["node", "--no-proc", "--kube-version", "v1.30.2", "--root"])
        .arg(root.path())
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("Kubernetes 1.30 defaults"), "{text}");
    assert!(
        text.contains("[FAIL ] 1.2.6   apiserver-authorization-always-allow (critical)"),
        "{text}"
    );
    assert!(
        text.contains("at /etc/kubernetes/manifests/kube-apiserver.yaml:7:"),
        "{text}"
    );
    assert!(
        text.contains("[FAIL ] 1.1.1   apiserver-manifest-permissions"),
        "{text}"
    );
    assert!(text.contains("has mode 0644, wider than 0600"), "{text}");
    // AlwaysAllow is critical, so --fail-on critical still exits 1.
    rampart()
        .args(["node", "--no-proc", "--fail-on", "critical", "--root"])
        .arg(root.path())
        .assert()
        .code(1);
    rampart()
        .args(["node", "--no-proc", "--kube-version", "1.99", "--root"])
        .arg(root.path())
        .assert()
        .code(2);
}

#[test]
fn the_node_job_passes_its_own_scan_with_each_host_access_ignored_for_a_reason() {
    let job = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/node-job.yaml");
    rampart()
        .args(["scan", "--fail-on", "info", job])
        .assert()
        .code(0);
    let text = std::fs::read_to_string(job).unwrap();
    assert!(text.contains("rampart.dev/ignore-reason:"));
    assert!(text.contains(r#"args: ["node", "--root", "/host""#));
    assert!(text.contains("readOnly: true"));
    assert!(text.contains(r#"drop: ["ALL"]"#));
}
