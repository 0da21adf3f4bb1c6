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

/// The real registry (Debian's docker-registry) for the commands end to end, from the images
/// crate's test harness; `None` when it is not installed.
#[path = "../../rampart-images/tests/harness/mod.rs"]
mod harness;
#[path = "../../rampart-images/tests/harness/notary.rs"]
mod notary_harness;

fn start_registry() -> Option<harness::Registry> {
    harness::start("")
}

fn push_image(port: u16, repo: &str, tag: &str) -> String {
    harness::push_image(port, repo, tag, &format!("{repo}:{tag}"))
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
            "FAILED 127.0.0.1:{p}/acme/web:1.0: no signatures found (no sha256-{hex}.sig manifest) and no Sigstore bundles among its referrers\n"
        ));
}

#[test]
fn verify_exits_0_on_an_openssl_signed_image() {
    let Some(reg) = start_registry() else { return };
    let p = reg.port;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key, pubk) = harness::keypair(d, "cosign", harness::P256);
    let digest = push_image(p, "acme/api", "1.4");
    let payload = harness::payload(&format!("127.0.0.1:{p}/acme/api"), &digest);
    let sig = harness::sign(d, &key, &payload, harness::SHA256);
    harness::push_signatures(p, "acme/api", &digest, &[(payload, sig)]);
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

#[test]
fn verify_experimental_oci11_finds_referrer_signatures() {
    let Some(reg) = start_registry() else { return };
    let p = reg.port;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key, pubk) = harness::keypair(d, "cosign", harness::P256);
    let digest = push_image(p, "acme/oci11", "1.0");
    let payload = harness::payload(&format!("127.0.0.1:{p}/acme/oci11"), &digest);
    let sig = harness::sign(d, &key, &payload, harness::SHA256);
    harness::push_oci11_signatures(p, "acme/oci11", &digest, &[(payload, sig)]);
    let image = format!("127.0.0.1:{p}/acme/oci11:1.0");
    let verify = |oci11: bool| {
        let mut c = rampart();
        c.args(["images", "verify", "--allow-insecure-registry", "--key"])
            .arg(&pubk)
            .arg(&image);
        if oci11 {
            c.arg("--experimental-oci11");
        }
        c.assert()
    };
    verify(true)
        .success()
        .stdout(format!("verified {image} ({digest}): 1 signature(s)\n"));
    // without the flag the referrer is not looked at, as cosign
    verify(false)
        .code(1)
        .stdout(predicates::str::contains("no signatures found"));
}

#[test]
fn policy_test_with_registry_runs_verify_images_rules() {
    let Some(reg) = start_registry() else { return };
    let p = reg.port;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key, pubk) = harness::keypair(d, "cosign", harness::P256);
    let digest = push_image(p, "acme/tested", "1.0");
    let payload = harness::payload(&format!("127.0.0.1:{p}/acme/tested"), &digest);
    let sig = harness::sign(d, &key, &payload, harness::SHA256);
    harness::push_signatures(p, "acme/tested", &digest, &[(payload, sig)]);
    push_image(p, "acme/tested", "unsigned");
    let pem: String = std::fs::read_to_string(&pubk)
        .unwrap()
        .lines()
        .map(|l| format!("              {l}\n"))
        .collect();
    std::fs::write(
        d.join("policy.yaml"),
        format!(
            "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {{name: signed}}\nspec:\n  validationFailureAction: Enforce\n  rules:\n  - name: verify\n    match: {{any: [{{resources: {{kinds: [Pod]}}}}]}}\n    verifyImages:\n    - imageReferences: [\"127.0.0.1:{p}/acme/*\"]\n      mutateDigest: false\n      verifyDigest: false\n      attestors:\n      - entries:\n        - keys:\n            publicKeys: |-\n{pem}"
        ),
    )
    .unwrap();
    std::fs::write(
        d.join("resources.yaml"),
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: signed, namespace: apps}}\nspec: {{containers: [{{name: c, image: \"127.0.0.1:{p}/acme/tested:1.0\"}}]}}\n---\napiVersion: v1\nkind: Pod\nmetadata: {{name: unsigned, namespace: apps}}\nspec: {{containers: [{{name: c, image: \"127.0.0.1:{p}/acme/tested:unsigned\"}}]}}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        d.join("kyverno-test.yaml"),
        "apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata: {name: signed}\npolicies: [policy.yaml]\nresources: [resources.yaml]\nresults:\n- {policy: signed, rule: verify, kind: Pod, resources: [signed], result: pass}\n- {policy: signed, rule: verify, kind: Pod, resources: [unsigned], result: fail}\n",
    )
    .unwrap();
    // offline, as kyverno test without --registry: each image is an error
    rampart()
        .args(["policy", "test"])
        .arg(d)
        .assert()
        .code(1)
        .stdout(predicates::str::contains("no registry access"));
    // with the registry: the signature verifies, the unsigned image fails
    rampart()
        .args(["policy", "test", "--registry", "--insecure-registry"])
        .arg(d)
        .assert()
        .code(0)
        .stdout(predicates::str::contains(
            "2 tests passed and 0 tests failed",
        ));
}

#[test]
fn verify_notary_cert_checks_notation_signatures() {
    use notary_harness::{EC, Referrers, Signing, ca, descriptor, leaf};
    let Some(reg) = start_registry() else { return };
    let p = reg.port;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let root = ca(d, "root");
    let other = ca(d, "other");
    let signer = leaf(d, "signer", &root, EC, "digitalSignature");
    push_image(p, "acme/notary", "1.0");
    let target = descriptor(p, "acme/notary", "1.0");
    let mut refs = Referrers {
        port: p,
        repo: "acme/notary".into(),
        by_subject: Default::default(),
    };
    refs.sign(d, &target, &Signing::new(&signer, vec![&root], EC));
    let image = format!("127.0.0.1:{p}/acme/notary:1.0");
    let verify = |cert: &std::path::Path| {
        let mut c = rampart();
        c.args([
            "images",
            "verify",
            "--allow-insecure-registry",
            "--notary-cert",
        ])
        .arg(cert)
        .arg(&image);
        c.assert()
    };
    verify(&root.cert).success().stdout(format!(
        "verified {image} ({}): 1 Notary signature(s)\n",
        target["digest"].as_str().unwrap()
    ));
    verify(&other.cert)
        .code(1)
        .stdout(predicates::str::contains("contains no trusted certificate"));
    // cosign's key and Notary's trust store are different verifications
    rampart()
        .args(["images", "verify", "--key", "k.pub", "--notary-cert"])
        .arg(&root.cert)
        .arg(&image)
        .assert()
        .code(2);
}
