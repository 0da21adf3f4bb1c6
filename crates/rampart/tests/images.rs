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
            "rampart: error: give at least one --key FILE (a PEM public key such as cosign.pub), or --certificate-identity, --certificate-oidc-issuer and --trusted-root\n",
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
        .code(2)
        .stderr("rampart: error: keyless verification needs --certificate-identity[-regexp], --certificate-oidc-issuer[-regexp] and --trusted-root\n");
    rampart()
        .args([
            "images",
            "verify",
            "ghcr.io/acme/api:1.4",
            "--certificate-identity",
            "a@b",
            "--certificate-oidc-issuer",
            "https://issuer.example",
        ])
        .assert()
        .code(2)
        .stderr("rampart: error: keyless verification needs --trusted-root FILE (Sigstore's trusted_root.json); it is done offline\n");
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

/// The real registry (Debian's docker-registry) for the commands end to end; `None` when it is
/// not installed.
struct Registry {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_registry() -> Option<Registry> {
    let bin = "/usr/bin/docker-registry";
    if !std::path::Path::new(bin).exists() {
        eprintln!("SKIPPED: {bin} is not installed (apt-get install -y docker-registry)");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = dir.path().join("config.yml");
    std::fs::write(
        &cfg,
        format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let child = std::process::Command::new(bin)
        .arg("serve")
        .arg(&cfg)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let reg = Registry {
        child,
        port,
        _dir: dir,
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the registry did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Some(reg)
}

/// One plain HTTP/1.1 request: status, `Location`, `Docker-Content-Digest`.
fn http(port: u16, method: &str, path: &str, ctype: &str, body: &[u8]) -> (u16, String, String) {
    use std::io::{Read as _, Write as _};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text.split(' ').nth(1).unwrap().parse().unwrap();
    let get = |name: &str| {
        text.lines()
            .find(|l| l.to_ascii_lowercase().starts_with(name))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    };
    (status, get("location:"), get("docker-content-digest:"))
}

fn sha256(data: &[u8]) -> String {
    rampart_images::registry::sha256_digest(data)
}

fn push_blob(port: u16, repo: &str, data: &[u8]) -> String {
    let digest = sha256(data);
    let (st, loc, _) = http(
        port,
        "POST",
        &format!("/v2/{repo}/blobs/uploads/"),
        "text/plain",
        b"",
    );
    assert_eq!(st, 202);
    let path = loc
        .find("/v2/")
        .map_or(loc.clone(), |i| loc[i..].to_string());
    let sep = if path.contains('?') { '&' } else { '?' };
    let (st, _, _) = http(
        port,
        "PUT",
        &format!("{path}{sep}digest={digest}"),
        "application/octet-stream",
        data,
    );
    assert_eq!(st, 201);
    digest
}

fn push_manifest(port: u16, repo: &str, tag: &str, m: &Value) -> String {
    let (st, _, digest) = http(
        port,
        "PUT",
        &format!("/v2/{repo}/manifests/{tag}"),
        "application/vnd.oci.image.manifest.v1+json",
        &serde_json::to_vec(m).unwrap(),
    );
    assert_eq!(st, 201);
    digest
}

fn push_image(port: u16, repo: &str, tag: &str) -> String {
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let layer = format!("layer of {repo}:{tag}").into_bytes();
    let cd = push_blob(port, repo, config);
    let ld = push_blob(port, repo, &layer);
    push_manifest(
        port,
        repo,
        tag,
        &serde_json::json!({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": config.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": ld, "size": layer.len()}]
        }),
    )
}

#[test]
fn pin_and_verify_against_a_real_registry() {
    let Some(reg) = start_registry() else { return };
    let p = reg.port;
    let web = push_image(p, "acme/web", "1.0");
    let side = push_image(p, "acme/side", "2.0");
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("d.yaml");
    let text = format!(
        "# the web tier\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web}}\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: 127.0.0.1:{p}/acme/web:1.0   # app\n        - {{name: side, image: '127.0.0.1:{p}/acme/side:2.0'}}\n"
    );
    std::fs::write(&f, &text).unwrap();
    let pinned = text
        .replace("web:1.0", &format!("web:1.0@{web}"))
        .replace("side:2.0", &format!("side:2.0@{side}"));

    // --dry-run shows the diff and writes nothing.
    let out = rampart()
        .args(["images", "pin", "--dry-run", "--allow-insecure-registry"])
        .arg(&f)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let fname = f.display();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        format!(
            "--- {fname}\n+++ {fname}\n@@ -10 +10 @@\n-          image: 127.0.0.1:{p}/acme/web:1.0   # app\n+          image: 127.0.0.1:{p}/acme/web:1.0@{web}   # app\n@@ -11 +11 @@\n-        - {{name: side, image: '127.0.0.1:{p}/acme/side:2.0'}}\n+        - {{name: side, image: '127.0.0.1:{p}/acme/side:2.0@{side}'}}\n"
        )
    );
    assert_eq!(std::fs::read_to_string(&f).unwrap(), text);

    // In place: only the two scalars change.
    rampart()
        .args(["images", "pin", "--allow-insecure-registry"])
        .arg(&f)
        .assert()
        .success()
        .stderr(predicates::str::ends_with("2 image reference(s) pinned\n"));
    assert_eq!(std::fs::read_to_string(&f).unwrap(), pinned);
    // Pinned images are left alone the second time.
    rampart()
        .args(["images", "pin", "--allow-insecure-registry"])
        .arg(&f)
        .assert()
        .success()
        .stderr("0 image reference(s) pinned\n");

    // verify: no signature → exit 1 with the reason.
    let key = dir.path().join("cosign.pub");
    std::fs::write(&key, EC_PUB).unwrap();
    let hex = web.trim_start_matches("sha256:");
    rampart()
        .args(["images", "verify", "--allow-insecure-registry", "--key"])
        .arg(&key)
        .arg(format!("127.0.0.1:{p}/acme/web:1.0"))
        .assert()
        .code(1)
        .stdout(format!(
            "FAILED 127.0.0.1:{p}/acme/web:1.0: no signatures found (no sha256-{hex}.sig manifest)\n"
        ));
}

#[test]
fn verify_exits_0_on_an_openssl_signed_image() {
    let openssl_ok = std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !openssl_ok {
        eprintln!("SKIPPED: the openssl command line is not installed");
        return;
    }
    let Some(reg) = start_registry() else { return };
    let p = reg.port;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let key = d.join("cosign.key");
    let pubk = d.join("cosign.pub");
    run(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        key.to_str().unwrap(),
    ]);
    run(&[
        "pkey",
        "-in",
        key.to_str().unwrap(),
        "-pubout",
        "-out",
        pubk.to_str().unwrap(),
    ]);
    let digest = push_image(p, "acme/api", "1.4");
    let payload = serde_json::to_vec(&serde_json::json!({
        "critical": {
            "identity": {"docker-reference": format!("127.0.0.1:{p}/acme/api")},
            "image": {"docker-manifest-digest": digest},
            "type": "cosign container image signature"
        },
        "optional": null
    }))
    .unwrap();
    let payload_path = d.join("payload.json");
    let sig_path = d.join("payload.sig");
    std::fs::write(&payload_path, &payload).unwrap();
    run(&[
        "dgst",
        "-sha256",
        "-sign",
        key.to_str().unwrap(),
        "-out",
        sig_path.to_str().unwrap(),
        payload_path.to_str().unwrap(),
    ]);
    let sig = std::fs::read(&sig_path).unwrap();
    let config =
        br#"{"architecture":"","os":"","config":{},"rootfs":{"type":"layers","diff_ids":[]}}"#;
    let cd = push_blob(p, "acme/api", config);
    let pd = push_blob(p, "acme/api", &payload);
    use base64::Engine as _;
    push_manifest(
        p,
        "acme/api",
        &format!("{}.sig", digest.replacen(':', "-", 1)),
        &serde_json::json!({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": config.len()},
            "layers": [{
                "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json", "digest": pd, "size": payload.len(),
                "annotations": {"dev.cosignproject.cosign/signature": base64::engine::general_purpose::STANDARD.encode(&sig)}
            }]
        }),
    );
    rampart()
        .args(["images", "verify", "--allow-insecure-registry", "--key"])
        .arg(&pubk)
        .arg(format!("127.0.0.1:{p}/acme/api:1.4"))
        .assert()
        .success()
        .stdout(format!(
            "verified 127.0.0.1:{p}/acme/api:1.4 ({digest}): 1 signature(s)\n"
        ));
    let out = rampart()
        .args([
            "images",
            "verify",
            "-o",
            "json",
            "--allow-insecure-registry",
            "--key",
        ])
        .arg(&pubk)
        .arg(format!("127.0.0.1:{p}/acme/api:1.4"))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v[0]["verified"], true);
    assert_eq!(v[0]["digest"], digest.as_str());
}
