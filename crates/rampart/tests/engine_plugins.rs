//! Kyverno policies and Trivy reports run inside `rampart scan`, beside the catalog.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use assert_cmd::Command;
use serde_json::Value;

const POD: &str = "apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop}
spec:
  containers:
  - name: app
    image: nginx:1.27
";

const POLICY: &str = "apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: require-team-label}
spec:
  validationFailureAction: Enforce
  rules:
  - name: team
    match:
      any:
      - resources: {kinds: [Pod]}
    validate:
      message: every pod names its team
      pattern:
        metadata:
          labels:
            team: '?*'
";

fn findings(out: &std::process::Output) -> Vec<Value> {
    let doc: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    doc["findings"].as_array().cloned().unwrap()
}

#[test]
fn kyverno_policies_report_beside_the_catalog() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("pod.yaml"), POD).unwrap();
    std::fs::create_dir(d.path().join("policies")).unwrap();
    std::fs::write(d.path().join("policies/team.yaml"), POLICY).unwrap();
    let out = Command::cargo_bin("rampart")
        .unwrap()
        .current_dir(d.path())
        .args([
            "scan",
            "--no-config",
            "-o",
            "json",
            "--policies",
            "policies",
            "pod.yaml",
        ])
        .output()
        .unwrap();
    let f = findings(&out);
    let k: Vec<&Value> = f
        .iter()
        .filter(|f| f["check"] == "kyverno-policy-violation")
        .collect();
    assert_eq!(k.len(), 1, "{f:#?}");
    let msg = k[0]["message"].as_str().unwrap();
    assert!(
        msg.contains("require-team-label") && msg.contains("team"),
        "{msg}"
    );
    assert_eq!(k[0]["file"], "pod.yaml");
    // the catalog still runs
    assert!(
        f.iter().any(|f| f["check"] == "missing-memory-limit"),
        "{f:#?}"
    );

    // a labelled pod passes the policy
    std::fs::write(
        d.path().join("pod.yaml"),
        POD.replace("namespace: shop}", "namespace: shop, labels: {team: a}}"),
    )
    .unwrap();
    let out = Command::cargo_bin("rampart")
        .unwrap()
        .current_dir(d.path())
        .args([
            "scan",
            "--no-config",
            "-o",
            "json",
            "--policies",
            "policies",
            "pod.yaml",
        ])
        .output()
        .unwrap();
    assert!(
        !findings(&out)
            .iter()
            .any(|f| f["check"] == "kyverno-policy-violation")
    );
}

#[test]
fn trivy_vulnerabilities_are_attached_to_the_workloads_running_the_image() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("pod.yaml"), POD).unwrap();
    let report = serde_json::json!({
        "SchemaVersion": 2,
        "ArtifactName": "nginx:1.27",
        "ArtifactType": "container_image",
        "Results": [{
            "Target": "nginx:1.27 (debian 12.8)",
            "Class": "os-pkgs",
            "Type": "debian",
            "Vulnerabilities": [
                {"VulnerabilityID": "CVE-2026-0001", "PkgName": "openssl", "InstalledVersion": "3.0.1", "FixedVersion": "3.0.2", "Severity": "CRITICAL"},
                {"VulnerabilityID": "CVE-2026-0002", "PkgName": "zlib", "InstalledVersion": "1.2", "Severity": "HIGH"}
            ]
        }]
    });
    std::fs::write(d.path().join("trivy.json"), report.to_string()).unwrap();
    let out = Command::cargo_bin("rampart")
        .unwrap()
        .current_dir(d.path())
        .args([
            "scan",
            "--no-config",
            "-o",
            "json",
            "--trivy",
            "trivy.json",
            "pod.yaml",
        ])
        .output()
        .unwrap();
    let f = findings(&out);
    let v: Vec<&Value> = f
        .iter()
        .filter(|f| {
            f["check"].as_str().unwrap().starts_with("image-")
                && f["check"].as_str().unwrap().ends_with("vulnerabilities")
        })
        .collect();
    assert!(!v.is_empty(), "{f:#?}");
    assert!(
        v.iter()
            .any(|f| f["message"].as_str().unwrap().contains("CVE-2026-0001")),
        "{v:#?}"
    );
    assert_eq!(v[0]["object"]["name"], "web");
}

/// `--policies` is read once for every policy engine: a broken file among the policies is one
/// input error (not one per engine), and the valid policy beside it still runs.
#[test]
fn a_broken_policy_file_is_reported_once_and_the_others_run() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("pod.yaml"), POD).unwrap();
    std::fs::create_dir(d.path().join("policies")).unwrap();
    std::fs::write(d.path().join("policies/team.yaml"), POLICY).unwrap();
    std::fs::write(d.path().join("policies/broken.yaml"), "kind: [\n").unwrap();
    let out = Command::cargo_bin("rampart")
        .unwrap()
        .current_dir(d.path())
        .args([
            "scan",
            "--no-config",
            "-o",
            "json",
            "--policies",
            "policies",
            "pod.yaml",
        ])
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let errors = doc["errors"].as_array().unwrap();
    let broken: Vec<_> = errors
        .iter()
        .filter(|e| e["file"].as_str().unwrap().ends_with("broken.yaml"))
        .collect();
    assert_eq!(broken.len(), 1, "{errors:#?}");
    assert!(
        findings(&out)
            .iter()
            .any(|f| f["check"] == "kyverno-policy-violation"),
        "{doc:#}"
    );
}

/// `scan --policies --registry` lets Kyverno `verifyImages` rules reach registries, as
/// `policy apply --registry` does; without it they report that no registry is contacted.
#[test]
fn scan_registry_flag_lets_verify_images_reach_registries() {
    let d = tempfile::tempdir().unwrap();
    // nothing listens on the port: the connection error shows the registry was contacted
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(
        d.path().join("p.yaml"),
        format!(
            "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {{name: signed}}\nspec:\n  validationFailureAction: Enforce\n  rules:\n  - name: verify\n    match: {{any: [{{resources: {{kinds: [Pod]}}}}]}}\n    verifyImages:\n    - imageReferences: [\"127.0.0.1:{port}/*\"]\n      attestors:\n      - entries:\n        - keys:\n            publicKeys: |-\n              -----BEGIN PUBLIC KEY-----\n              MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE6b8ULQzbWlCsGIeKXZ8ieTZ2PV6k\n              9xgPdR2yHDS4Y0wU0vCy6D8J3rlVXVxFUmrRfBH5nvsWPX9ZYsGgYc0FpQ==\n              -----END PUBLIC KEY-----\n"
        ),
    )
    .unwrap();
    std::fs::write(
        d.path().join("r.yaml"),
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: web, namespace: apps}}\nspec: {{containers: [{{name: c, image: \"127.0.0.1:{port}/app:v1\"}}]}}\n"
        ),
    )
    .unwrap();
    let scan = |extra: &[&str]| {
        let out = Command::cargo_bin("rampart")
            .unwrap()
            .current_dir(d.path())
            .args(["scan", "--no-config", "-o", "json", "--policies", "p.yaml"])
            .args(extra)
            .arg("r.yaml")
            .output()
            .unwrap();
        findings(&out)
            .iter()
            .filter(|f| f["check"] == "kyverno-policy-violation")
            .map(|f| f["message"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let offline = scan(&[]);
    assert!(
        offline.len() == 1 && offline[0].contains("no registry access"),
        "{offline:?}"
    );
    let online = scan(&["--registry", "--insecure-registry"]);
    assert!(
        online.len() == 1 && online[0].contains("unreachable"),
        "{online:?}"
    );
}
