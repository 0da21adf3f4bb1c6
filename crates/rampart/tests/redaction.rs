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
