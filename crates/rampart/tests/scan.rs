//! `rampart scan` end to end: exit codes, formats, stdin, bad input.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use assert_cmd::Command;
use serde_json::Value;
use std::io::Write;

fn rampart() -> Command {
    let mut c = Command::cargo_bin("rampart").unwrap();
    c.env("NO_COLOR", "1");
    c
}

const BAD_POD: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  containers:\n  - name: app\n    image: nginx\n    securityContext:\n      privileged: yes\n";

const GOOD_POD: &str = r#"apiVersion: v1
kind: Pod
metadata: {name: ok, namespace: shop}
spec:
  automountServiceAccountToken: false
  serviceAccountName: ok
  hostUsers: false
  securityContext: {runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: app
    image: registry.example.com/app:1.0@sha256:0000000000000000000000000000000000000000000000000000000000000000
    resources: {requests: {cpu: 10m, memory: 10Mi}, limits: {cpu: 100m, memory: 64Mi}}
    livenessProbe: {tcpSocket: {port: 8080}}
    readinessProbe: {tcpSocket: {port: 8080}}
    securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
"#;

const SHOP_NAMESPACE: &str = r#"apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels: {pod-security.kubernetes.io/enforce: restricted}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-dns, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}
      podSelector: {matchLabels: {k8s-app: kube-dns}}
    ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]
"#;

fn dir_with(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for (name, content) in files {
        let p = d.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::File::create(p)
            .unwrap()
            .write_all(content)
            .unwrap();
    }
    d
}

fn json_scan(args: &[&str], stdin: Option<&str>) -> (i32, Value, String) {
    let mut c = rampart();
    c.arg("scan")
        .args(args)
        .args(["--format", "json", "--no-config"]);
    if let Some(s) = stdin {
        c.write_stdin(s);
    }
    let out = c.output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("bad json {e}: {}", String::from_utf8_lossy(&out.stdout)));
    (
        out.status.code().unwrap(),
        v,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn privileged_yes_is_found_at_its_line_and_fails() {
    let d = dir_with(&[("pod.yaml", BAD_POD.as_bytes())]);
    let (code, v, _) = json_scan(&[d.path().to_str().unwrap()], None);
    assert_eq!(code, 1);
    assert_eq!(v["schemaVersion"], "1");
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == "privileged-container")
        .expect("privileged finding");
    assert_eq!(f["line"], 11);
    assert_eq!(f["object"]["name"], "web");
    for f in v["findings"].as_array().unwrap() {
        assert!(f["file"].as_str().unwrap().ends_with("pod.yaml"));
        assert!(f["line"].as_u64().unwrap() > 0);
    }
}

#[test]
fn fail_on_threshold_and_clean_exit() {
    let d = dir_with(&[
        ("pod.yaml", GOOD_POD.as_bytes()),
        ("ns.yaml", SHOP_NAMESPACE.as_bytes()),
    ]);
    let p = d.path().to_str().unwrap();
    let (code, v, _) = json_scan(&[p, "--fail-on", "low"], None);
    assert_eq!(code, 0, "{v:#}");
    let d2 = dir_with(&[("pod.yaml", BAD_POD.as_bytes())]);
    let (code, _, _) = json_scan(
        &[d2.path().to_str().unwrap(), "--fail-on", "critical"],
        None,
    );
    assert_eq!(code, 1);
}

#[test]
fn stdin_and_helm_templates() {
    let text = format!("---\n# Source: web/templates/pod.yaml\n{BAD_POD}");
    let (code, v, _) = json_scan(&["-"], Some(&text));
    assert_eq!(code, 1);
    let f = &v["findings"][0];
    assert_eq!(f["file"], "<stdin>");
    assert_eq!(f["template"], "web/templates/pod.yaml");
}

#[test]
fn bad_input_is_reported_with_position_and_neighbours_are_still_checked() {
    let d = dir_with(&[
        (
            "a-broken.yaml",
            b"apiVersion: v1\nkind: Pod\nmetadata: {name: x\n",
        ),
        (
            "b-wrong-type.yaml",
            b"apiVersion: v1\nkind: Pod\nmetadata: {name: why}\nspec:\n  containers: \"x\"\n",
        ),
        ("c-binary.yaml", &[0x7f, b'E', b'L', b'F', 0, 0, 0xff, 0xfe]),
        ("d-good.yaml", GOOD_POD.as_bytes()),
    ]);
    let (code, v, stderr) = json_scan(&[d.path().to_str().unwrap()], None);
    assert_eq!(
        code, 2,
        "input errors and no findings at the threshold: {stderr}"
    );
    let errors = v["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 3, "{errors:#?}");
    assert!(stderr.contains("a-broken.yaml:"), "{stderr}");
    assert!(
        stderr.contains(
            "b-wrong-type.yaml:5:3: spec.containers: expected a list of mappings, found a string"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("c-binary.yaml:1:7: not UTF-8 text (binary file?)"),
        "{stderr}"
    );
    assert_eq!(v["summary"]["objects"], 1);
}

#[test]
fn yaml_11_key_y_is_a_boolean_like_kubectl_reads_it() {
    // go-yaml v2 reads `y` as true: kubectl rejects `name: y` as a boolean name, and so do we
    let d = dir_with(&[(
        "p.yaml",
        b"apiVersion: v1\nkind: Pod\nmetadata: {name: y}\nspec: {containers: []}\n",
    )]);
    let (code, v, _) = json_scan(&[d.path().to_str().unwrap()], None);
    assert_eq!(code, 2);
    assert_eq!(
        v["errors"][0]["message"],
        "metadata.name: expected a string, found a boolean"
    );
}

#[test]
fn findings_win_over_input_errors_for_the_exit_code() {
    let d = dir_with(&[("a.yaml", b"a: [\n"), ("b.yaml", BAD_POD.as_bytes())]);
    let (code, _, _) = json_scan(&[d.path().to_str().unwrap()], None);
    assert_eq!(code, 1);
}

#[test]
fn deep_nesting_and_huge_files_are_errors_not_crashes() {
    let deep = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: d}}\ndata: {}{}\n",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let d = dir_with(&[("deep.yaml", deep.as_bytes())]);
    let (code, v, _) = json_scan(&[d.path().to_str().unwrap()], None);
    assert_eq!(code, 2);
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("nesting")
    );

    let big = "# filler\n".repeat(6 * 1024 * 1024 / 9);
    let d = dir_with(&[("big.yaml", big.as_bytes())]);
    let (code, v, _) = json_scan(&[d.path().to_str().unwrap(), "--max-file-size", "1"], None);
    assert_eq!(code, 2);
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("larger than")
    );
}

#[test]
fn sarif_and_junit_are_well_formed() {
    let d = dir_with(&[("pod.yaml", BAD_POD.as_bytes())]);
    let out = rampart()
        .args([
            "scan",
            d.path().to_str().unwrap(),
            "--format",
            "sarif",
            "--no-config",
        ])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["version"], "2.1.0");
    let run = &v["runs"][0];
    let rules: Vec<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"privileged-container"));
    let res = run["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ruleId"] == "privileged-container")
        .unwrap();
    assert_eq!(
        res["locations"][0]["physicalLocation"]["region"]["startLine"],
        11
    );

    let out = rampart()
        .args([
            "scan",
            d.path().to_str().unwrap(),
            "--format",
            "junit",
            "--no-config",
        ])
        .output()
        .unwrap();
    let xml = String::from_utf8(out.stdout).unwrap();
    assert!(xml.starts_with("<?xml"));
    assert!(
        xml.contains("<testsuites")
            && xml.contains("privileged-container")
            && xml.contains("<failure")
    );
    assert!(xml.trim_end().ends_with("</testsuites>"));
    let failures = xml.matches("<failure").count();
    assert!(failures >= 1);
}

#[test]
fn secrets_are_redacted_in_every_format() {
    let secret = "wJalrXUtnFEMIK7MDENGbPxRfiCYzq9sKq3Lx";
    let pod = format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: s}}\nspec:\n  containers:\n  - name: c\n    image: x\n    env:\n    - name: AWS_SECRET_ACCESS_KEY\n      value: {secret}\n"
    );
    let d = dir_with(&[("pod.yaml", pod.as_bytes())]);
    for format in ["text", "json", "sarif", "junit"] {
        let out = rampart()
            .args([
                "scan",
                d.path().to_str().unwrap(),
                "--format",
                format,
                "--no-config",
                "--color",
                "always",
            ])
            .output()
            .unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(all.contains("hardcoded-secret-in-env"), "{format}: {all}");
        assert!(
            !all.contains("wJalrXUtnFEMI"),
            "{format} leaks the secret:\n{all}"
        );
    }
}

#[test]
fn checks_and_explain() {
    let out = rampart().args(["checks"]).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    for slug in [
        "privileged-container",
        "run-as-root",
        "namespace-without-default-deny",
        "rbac-missing-role",
        "nginx-ingress-snippet-annotation",
    ] {
        assert!(text.contains(slug), "{slug} missing from the catalog");
    }
    // a merged slug is explained under its current name
    let out = rampart()
        .args(["explain", "missing-default-deny-network-policy"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("# namespace-without-default-deny"),
        "{text}"
    );
    let out = rampart()
        .args(["explain", "privileged-container"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains("## Remediation")
    );
    let out = rampart()
        .args(["explain", "no-such-check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn unknown_config_keys_are_errors_with_position() {
    let d = dir_with(&[
        ("pod.yaml", GOOD_POD.as_bytes()),
        ("cfg.yaml", b"checks:\n  disabel: [x]\n"),
    ]);
    let out = rampart()
        .args([
            "scan",
            d.path().join("pod.yaml").to_str().unwrap(),
            "--config",
            d.path().join("cfg.yaml").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cfg.yaml:2:3: unknown field `disabel`"),
        "{err}"
    );
}

/// `--kube-version` is parsed once and drives the deprecated-API table and the control-plane
/// defaults alike; a release older than the modelled control-plane defaults is still a valid
/// target for API removals, and text that is no version is a usage error.
#[test]
fn one_kube_version_for_removed_apis_and_control_plane_defaults() {
    let ingress = "apiVersion: extensions/v1beta1\nkind: Ingress\nmetadata: {name: i, namespace: shop}\nspec: {}\n";
    let severity = |args: &[&str]| {
        let (code, v, err) = json_scan(args, Some(ingress));
        assert!(code == 0 || code == 1, "{err}");
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["check"] == "deprecated-api-version")
            .map(|f| f["severity"].as_str().unwrap().to_string())
    };
    // removed in 1.22: an upcoming removal (low) for 1.20, a removed API (medium) for 1.22 and later
    assert_eq!(
        severity(&["-", "--kube-version", "1.20"]).as_deref(),
        Some("low")
    );
    assert_eq!(
        severity(&["-", "--kube-version", "v1.22.3"]).as_deref(),
        Some("medium")
    );
    assert_eq!(severity(&["-"]).as_deref(), Some("medium"));
    let out = rampart()
        .args(["scan", "-", "--no-config", "--kube-version", "1.x"])
        .write_stdin(ingress)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("invalid Kubernetes version `1.x`"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One file configures `scan` and `serve`: the webhook's `images:` policies are passed by, and
/// the scan still reads and validates its own sections.
#[test]
fn scan_reads_a_config_that_holds_serve_image_policies() {
    let d = dir_with(&[
        (
            ".rampart.yaml",
            b"images:\n- name: acme\n  images: [\"ghcr.io/acme/*\"]\n  keys: [cosign.pub]\nchecks:\n  disable: [latest-tag]\n",
        ),
        (
            "pod.yaml",
            b"apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: shop}\nspec:\n  containers: [{name: a, image: nginx}]\n",
        ),
    ]);
    let out = rampart()
        .current_dir(d.path())
        .args(["scan", "pod.yaml", "-o", "json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let checks: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["check"].as_str().unwrap())
        .collect();
    assert!(!checks.contains(&"latest-tag"), "{checks:?}");
    assert!(!checks.is_empty());
}
