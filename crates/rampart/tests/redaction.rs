//! Secrets never leave, and nothing else is ever redacted: values that are also common words
//! (`admin`, `default`, `shop`) are masked where they are the secret, and identifiers, files,
//! slugs and rule names stay exact in every output format.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use assert_cmd::Command;

const MANIFEST: &str = "apiVersion: v1
kind: Secret
metadata:
  name: admin
  namespace: shop
type: Opaque
stringData:
  admin-user: admin
  password: shop
---
apiVersion: v1
kind: Pod
metadata: {name: default, namespace: shop}
spec:
  containers:
  - name: admin
    image: nginx:1.27
    env:
    - name: DB_PASSWORD
      value: default
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: ci-admin
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects:
- {kind: ServiceAccount, name: default, namespace: shop}
";

#[test]
fn common_word_secrets_are_masked_only_where_they_are_values() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("admin")).unwrap();
    std::fs::write(d.path().join("admin/admin.yaml"), MANIFEST).unwrap();
    for format in ["text", "json", "sarif", "junit"] {
        let out = Command::cargo_bin("rampart")
            .unwrap()
            .env("NO_COLOR", "1")
            .current_dir(d.path())
            .args([
                "scan",
                "--no-config",
                "--fail-on",
                "info",
                "-o",
                format,
                "admin/admin.yaml",
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{format}: {text}");
        // the detections are reported ...
        for slug in [
            "plaintext-secret-manifest",
            "hardcoded-secret-in-env",
            "rbac-cluster-admin-equivalent",
        ] {
            assert!(text.contains(slug), "{format}: no {slug}:\n{text}");
        }
        // ... identifiers are exact ...
        for exact in [
            "admin/admin.yaml",
            "ci-admin",
            "cluster-admin",
            "admin-user",
            "DB_PASSWORD",
        ] {
            assert!(
                text.contains(exact),
                "{format}: `{exact}` was altered:\n{text}"
            );
        }
        assert!(
            !text.contains("ci-<redacted>") && !text.contains("<redacted>/"),
            "{format}:\n{text}"
        );
        assert!(!text.contains("ci-&lt;redacted"), "{format}:\n{text}");
        // ... and the values never appear where they are the secret
        for leak in ["admin-user: admin", "password: shop", "value: default"] {
            assert!(!text.contains(leak), "{format} leaks `{leak}`:\n{text}");
        }
    }
}

/// A credential the detectors find in a ConfigMap (its name says password; its value is not a
/// placeholder).
const TOKEN: &str = "Zq8vT3kL9mWx2Rb7Yc4Np6Hd1Fs5Gj0U";

/// A Gatekeeper template whose message quotes every ConfigMap value.
const TEMPLATE: &str = r#"apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {name: k8sconfigvalues}
spec:
  crd:
    spec:
      names: {kind: K8sConfigValues}
  targets:
  - target: admission.k8s.gatekeeper.sh
    rego: |
      package k8sconfigvalues
      violation[{"msg": msg, "details": {"value": v}}] {
        v := input.review.object.data[k]
        msg := sprintf("key %v holds %v", [k, v])
      }
"#;

const CONSTRAINT: &str = "apiVersion: constraints.gatekeeper.sh/v1beta1\nkind: K8sConfigValues\nmetadata: {name: show-values}\nspec: {}\n";

/// A Kyverno policy whose message prints the ConfigMap's password.
const KYVERNO: &str = "apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: no-inline-passwords}
spec:
  rules:
  - name: password
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      message: \"inline password {{request.object.data.DB_PASSWORD}}\"
      deny: {}
";

/// `scan --policies`: Gatekeeper and Kyverno messages that quote a detected credential are
/// masked in every format, as the detectors' own findings are.
#[test]
fn scan_masks_secrets_policy_messages_quote() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir(d.path().join("policies")).unwrap();
    std::fs::write(d.path().join("policies/t.yaml"), TEMPLATE).unwrap();
    std::fs::write(d.path().join("policies/c.yaml"), CONSTRAINT).unwrap();
    std::fs::write(d.path().join("policies/k.yaml"), KYVERNO).unwrap();
    std::fs::write(
        d.path().join("cm.yaml"),
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: app-config, namespace: shop}}\ndata:\n  DB_PASSWORD: {TOKEN}\n"
        ),
    )
    .unwrap();
    for format in ["json", "text", "sarif", "junit"] {
        let out = Command::cargo_bin("rampart")
            .unwrap()
            .current_dir(d.path())
            .args([
                "scan",
                "--no-config",
                "--policies",
                "policies",
                "-o",
                format,
                "cm.yaml",
            ])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{stdout}");
        assert!(!stdout.contains(TOKEN), "{format}: {stdout}");
        // JUnit is XML: the marker is escaped there
        let marker = if format == "junit" {
            "&lt;redacted&gt;"
        } else {
            "<redacted>"
        };
        assert!(
            stdout.contains(&format!("key DB_PASSWORD holds {marker}")),
            "{format}: {stdout}"
        );
        assert!(
            stdout.contains(&format!("inline password {marker}")),
            "{format}: {stdout}"
        );
    }
}

/// `policy eval` prints what a policy says about an object; a policy that quotes the object's
/// credential does not carry it to the output, in JSON or text, while the rest of the message,
/// the object's name and the constraint stay exact.
#[test]
fn policy_eval_masks_secrets_a_policy_quotes() {
    let d = tempfile::tempdir().unwrap();
    let object = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: app-config, namespace: shop}}\ndata:\n  DB_PASSWORD: {TOKEN}\n"
    );
    std::fs::write(d.path().join("t.yaml"), TEMPLATE).unwrap();
    std::fs::write(d.path().join("c.yaml"), CONSTRAINT).unwrap();
    std::fs::write(d.path().join("o.yaml"), object).unwrap();
    for format in ["json", "text"] {
        let out = Command::cargo_bin("rampart")
            .unwrap()
            .current_dir(d.path())
            .args([
                "policy",
                "eval",
                "--template",
                "t.yaml",
                "--constraint",
                "c.yaml",
            ])
            .args(["--format", format, "o.yaml"])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{stdout}");
        assert!(!stdout.contains(TOKEN), "{stdout}");
        assert!(
            stdout.contains("key DB_PASSWORD holds <redacted>"),
            "{stdout}"
        );
        assert!(stdout.contains("app-config"), "{stdout}");
    }
}

/// `audit detect` prints alert outputs that may quote the request's object (Falco's ConfigMap
/// rules print its data): the credential is masked, the rest of the alert is exact.
#[test]
fn audit_detect_masks_secrets_an_alert_prints() {
    let d = tempfile::tempdir().unwrap();
    let rules = "- rule: ConfigMap created\n  desc: a ConfigMap was created\n  condition: ka.verb=create and ka.target.resource=configmaps\n  output: ConfigMap created (name=%ka.req.configmap.name data=%ka.req.configmap.obj)\n  priority: WARNING\n  source: k8s_audit\n";
    let event = serde_json::json!({
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "RequestResponse",
        "auditID": "9f2c", "stage": "ResponseComplete", "verb": "create",
        "requestURI": "/api/v1/namespaces/shop/configmaps",
        "user": {"username": "jane"},
        "objectRef": {"resource": "configmaps", "namespace": "shop", "name": "app-config", "apiVersion": "v1"},
        "requestObject": {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "app-config", "namespace": "shop"},
            "data": {"DB_PASSWORD": TOKEN, "mode": "fast"}},
        "requestReceivedTimestamp": "2026-01-02T03:04:05.000000Z",
        "stageTimestamp": "2026-01-02T03:04:05.100000Z"
    });
    std::fs::write(d.path().join("rules.yaml"), rules).unwrap();
    std::fs::write(d.path().join("events.json"), format!("{event}\n{event}\n")).unwrap();
    for format in ["json", "text"] {
        let out = Command::cargo_bin("rampart")
            .unwrap()
            .current_dir(d.path())
            .args([
                "audit",
                "detect",
                "--rules",
                "rules.yaml",
                "--format",
                format,
            ])
            .arg("events.json")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!stdout.contains(TOKEN), "{stdout}");
        assert!(stdout.contains("<redacted>"), "{stdout}");
        assert!(
            stdout.contains("name=app-config") && stdout.contains("fast"),
            "{stdout}"
        );
    }
}

/// `policy apply` prints each rule's message: a Kyverno message that quotes the resource's
/// credential is masked, in JSON and text.
#[test]
fn policy_apply_masks_secrets_a_kyverno_message_quotes() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("k.yaml"), KYVERNO).unwrap();
    std::fs::write(
        d.path().join("cm.yaml"),
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: app-config, namespace: shop}}\ndata:\n  DB_PASSWORD: {TOKEN}\n"
        ),
    )
    .unwrap();
    for format in ["json", "text"] {
        let out = Command::cargo_bin("rampart")
            .unwrap()
            .current_dir(d.path())
            .args([
                "policy",
                "apply",
                "--policy",
                "k.yaml",
                "--resource",
                "cm.yaml",
            ])
            .args(["--format", format])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(!stdout.contains(TOKEN), "{format}: {stdout}");
        assert!(
            stdout.contains("inline password <redacted>"),
            "{format}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// `policy eval` reports a file it cannot read with its position and evaluates the rest: a
/// broken inventory file does not hide the violation of the valid object.
#[test]
fn policy_eval_reports_a_broken_file_and_runs_the_rest() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("t.yaml"), TEMPLATE).unwrap();
    std::fs::write(d.path().join("c.yaml"), CONSTRAINT).unwrap();
    std::fs::write(d.path().join("inv.yaml"), "kind: [\n").unwrap();
    std::fs::write(
        d.path().join("o.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app-config, namespace: shop}\ndata:\n  mode: fast\n",
    )
    .unwrap();
    let out = Command::cargo_bin("rampart")
        .unwrap()
        .current_dir(d.path())
        .args([
            "policy",
            "eval",
            "--template",
            "t.yaml",
            "--constraint",
            "c.yaml",
        ])
        .args(["--inventory", "inv.yaml", "--format", "json", "o.yaml"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.starts_with("inv.yaml:"), "{stderr}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["violations"][0]["message"], "key mode holds fast");
}
