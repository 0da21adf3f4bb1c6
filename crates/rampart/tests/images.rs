//! `rampart images` end to end: listing, exit codes, usage errors. The registry-backed cases
//! are in crates/rampart-images/tests/registry.rs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use assert_cmd::Command;
use serde_json::Value;

fn rampart() -> Command {
    let mut c = Command::cargo_bin("rampart").unwrap();
    c.env("NO_COLOR", "1");
    c
}

const DEPLOY: &str = "# web tier
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    spec:
      initContainers:
        - name: init
          image: busybox   # setup
      containers:
        - name: web
          image: \"nginx:1.25@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"
";

const EC_PUB: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEAGxhhV1tjmqiS8ZxDJqX8WWGGvR4
Bj9MtnvmMJhCDANig27qdaBF3/P1qUcMcCtlWm93Ed8cJYxEEzICY+2aVA==
-----END PUBLIC KEY-----
";

#[test]
fn list_text_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("d.yaml");
    std::fs::write(&f, DEPLOY).unwrap();
    let out = rampart()
        .args(["images", "list"])
        .arg(&f)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let p = f.display();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        format!(
            "{p}:10:11\tdocker.io/library/busybox:latest\tDeployment/shop/web\tinit container \"init\"\tunpinned\n\
             {p}:13:11\tdocker.io/library/nginx:1.25@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\tDeployment/shop/web\tcontainer \"web\"\tpinned\n"
        )
    );
    let out = rampart()
        .args(["images", "list", "-o", "json", "-f"])
        .arg(&f)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v[0]["reference"]["repository"], "library/busybox");
    assert_eq!(v[0]["pinned"], false);
    assert_eq!(v[1]["pinned"], true);
    assert_eq!(v[1]["pointer"], "/spec/template/spec/containers/0/image");
}

#[test]
fn a_bad_reference_is_an_input_error() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("p.yaml");
    std::fs::write(
        &f,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - name: a\n      image: Acme/App\n",
    )
    .unwrap();
    rampart()
        .args(["images", "list"])
        .arg(&f)
        .assert()
        .code(2)
        .stderr(format!(
            "{}:7:7: repository name must be lowercase: \"Acme/App\"\n",
            f.display()
        ));
}

#[test]
fn verify_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("cosign.pub");
    std::fs::write(&key, EC_PUB).unwrap();
    // Usage: no key, a key that is not one, keyless.
    rampart()
        .args(["images", "verify", "ghcr.io/acme/api:1.4"])
        .assert()
        .code(2)
        .stderr(
            "rampart: error: give at least one --key FILE (a PEM public key such as cosign.pub)\n",
        );
    let notkey = dir.path().join("not.pub");
    std::fs::write(&notkey, "hello").unwrap();
    rampart()
        .args(["images", "verify", "ghcr.io/acme/api:1.4", "--key"])
        .arg(&notkey)
        .assert()
        .code(2)
        .stderr(format!(
            "rampart: error: {}: no PEM `PUBLIC KEY` block (cosign.pub or `openssl pkey -pubout`)\n",
            notkey.display()
        ));
    rampart()
        .args([
            "images",
            "verify",
            "ghcr.io/acme/api:1.4",
            "--certificate-identity",
            "a@b",
        ])
        .assert()
        .code(2);
    rampart()
        .args(["images", "verify", "Acme/Api", "--key"])
        .arg(&key)
        .assert()
        .code(2);
    // An unreachable registry: the image fails, with the reason.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = rampart()
        .args(["images", "verify", "--allow-insecure-registry", "--key"])
        .arg(&key)
        .arg(format!("127.0.0.1:{port}/acme/api:1.4"))
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.starts_with(&format!(
            "FAILED 127.0.0.1:{port}/acme/api:1.4: registry 127.0.0.1:{port} unreachable: "
        )),
        "{out}"
    );
}

#[test]
fn pin_reports_what_it_cannot_resolve_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let f = dir.path().join("d.yaml");
    let text = format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec:\n  containers:\n    - name: a\n      image: 127.0.0.1:{port}/acme/app:1.0\n"
    );
    std::fs::write(&f, &text).unwrap();
    rampart()
        .args(["images", "pin", "--allow-insecure-registry"])
        .arg(&f)
        .assert()
        .code(1)
        .stderr(predicates::str::contains(format!(
            "127.0.0.1:{port}/acme/app:1.0: registry 127.0.0.1:{port} unreachable: "
        )));
    assert_eq!(std::fs::read_to_string(&f).unwrap(), text);
}
