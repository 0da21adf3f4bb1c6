//! `rampart serve` with an `images:` policy, end to end: the binary over TLS on loopback (curl
//! as the API server), a `docker-registry` on loopback with an openssl-signed image and an
//! unsigned one (the images crate's test harness).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[path = "../../rampart-images/tests/harness/mod.rs"]
mod harness;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use harness::*;
use serde_json::{Value, json};

/// The server process, killed on drop.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn have_curl() -> bool {
    let ok = Command::new("curl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("SKIPPED: curl is not installed; the `rampart serve` images test did not run");
    }
    ok
}

fn review(namespace: &str, image: &str) -> String {
    json!({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {
            "uid": "6a1f0000-0000-4000-8000-000000000007",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "name": "p", "namespace": namespace, "operation": "CREATE",
            "userInfo": {"username": "alice"},
            "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": namespace},
                       "spec": {"containers": [{"name": "app", "image": image}]}}
        }
    })
    .to_string()
}

/// POSTs a review with curl, trusting the generated CA; the `response`.
fn post(dir: &Path, port: u16, path: &str, body: &str) -> Value {
    let out = Command::new("curl")
        .args(["-sS", "--fail", "--max-time", "20", "--cacert"])
        .arg(dir.join("certs/ca.crt"))
        .args([
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            body,
        ])
        .arg(format!("https://localhost:{port}{path}"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "curl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["response"].clone()
}

#[test]
fn serve_enforces_image_signatures() {
    if !have_curl() {
        return;
    }
    let Some(reg) = start("") else { return };
    let p = reg.port;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key, _) = keypair(d, "cosign", P256);
    let digest = push_image(p, "acme/api", "1.0", "api");
    let signed = format!("127.0.0.1:{p}/acme/api:1.0");
    let sig = sign(d, &key, &payload(&signed, &digest), SHA256);
    push_signatures(p, "acme/api", &digest, &[(payload(&signed, &digest), sig)]);
    let unsigned_digest = push_image(p, "acme/unsigned", "1.0", "unsigned");
    let unsigned = format!("127.0.0.1:{p}/acme/unsigned:1.0");

    let config = d.join("rampart.yaml");
    std::fs::write(
        &config,
        format!(
            "namespaceLabels: off\nmutate: true\nimages:\n  - name: acme\n    images: [\"127.0.0.1:{p}/acme/*\"]\n    keys: [cosign.pub]\n    allowInsecureRegistry: true\n    mutateDigest: true\n"
        ),
    )
    .unwrap();
    let bin = assert_cmd::cargo::cargo_bin("rampart");
    let certs = Command::new(&bin)
        .args(["certs", "--dns", "localhost", "--out"])
        .arg(d.join("certs"))
        .output()
        .unwrap();
    assert!(
        certs.status.success(),
        "{}",
        String::from_utf8_lossy(&certs.stderr)
    );
    let port = free_port();
    let server = Server(
        Command::new(&bin)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--tls-cert")
            .arg(d.join("certs/tls.crt"))
            .arg("--tls-key")
            .arg(d.join("certs/tls.key"))
            .arg("--config")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "rampart serve did not start");
        std::thread::sleep(Duration::from_millis(50));
    }

    let ok = post(d, port, "/validate", &review("prod", &signed));
    assert_eq!(ok["allowed"], true, "{ok}");

    let denied = post(d, port, "/validate", &review("prod", &unsigned));
    assert_eq!(denied["allowed"], false, "{denied}");
    let hex = unsigned_digest.strip_prefix("sha256:").unwrap();
    assert_eq!(
        denied["status"]["message"],
        format!(
            "image policy \"acme\": container \"app\" image \"{unsigned}\": no signatures found (no sha256-{hex}.sig manifest) and no Sigstore bundles among its referrers"
        )
    );

    let m = post(d, port, "/mutate", &review("prod", &signed));
    assert_eq!(m["patchType"], "JSONPatch", "{m}");
    let patch = String::from_utf8(
        base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            m["patch"].as_str().unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    assert!(
        patch.contains(&format!(
            r#"{{"op":"replace","path":"/spec/containers/0/image","value":"127.0.0.1:{p}/acme/api@{digest}"}}"#
        )),
        "{patch}"
    );

    // the registry gone: the verified image is still admitted, from the cache
    drop(reg);
    let again = post(d, port, "/validate", &review("prod", &signed));
    assert_eq!(again["allowed"], true, "{again}");
    drop(server);
}
