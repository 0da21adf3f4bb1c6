//! Against a real registry: Debian's `docker-registry` (CNCF distribution 2.8) started on
//! loopback. Images are pushed with plain HTTP calls; signatures are made by the `openssl`
//! command line over cosign's payload format and pushed as cosign stores them, so the verifier
//! is never checked against itself.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod harness;
#[path = "harness/keyless.rs"]
mod keyless_harness;
#[path = "harness/token.rs"]
mod token_harness;

use base64::Engine as _;
use harness::*;
use keyless_harness::*;
use token_harness::*;

use rampart_images::registry::{Client, ClientOptions, Credentials};
use rampart_images::{Reference, verify_image};

use std::process::{Command, Stdio};
use std::time::Duration;

#[tokio::test]
async fn keys_of_every_kind_verify_and_their_failures_are_named() {
    let Some(reg) = start("") else { return };
    let p = reg.port;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let repo = "acme/api";
    let image = format!("127.0.0.1:{p}/{repo}:1.4");
    let digest = push_image(p, repo, "1.4", "api");
    let other = push_image(p, repo, "2.0", "other");
    let client = insecure_client();

    // Tags resolve to the manifest digest the registry computed.
    let r = Reference::parse(&image).unwrap();
    assert_eq!(client.resolve_digest(&r).await.unwrap(), digest);

    // A good signature with each kind of key.
    let kinds: &[(&str, &[&str], &[&str])] = &[
        ("p256", P256, SHA256),
        (
            "p384",
            &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
            &["dgst", "-sha384"],
        ),
        (
            "ed25519",
            &["-algorithm", "ed25519"],
            &["pkeyutl", "-sign", "-rawin"],
        ),
        (
            "rsa",
            &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
            SHA256,
        ),
        (
            "rsapss",
            &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
            &[
                "dgst",
                "-sha256",
                "-sigopt",
                "rsa_padding_mode:pss",
                "-sigopt",
                "rsa_pss_saltlen:digest",
            ],
        ),
    ];
    let mut keys = Vec::new();
    for (name, gen_args, how) in kinds {
        let (key, pubk) = keypair(d, name, gen_args);
        let pl = payload(&format!("127.0.0.1:{p}/{repo}"), &digest);
        let sig = sign(d, &key, &pl, how);
        let tag = format!("k-{name}");
        let dg = push_image(p, repo, &tag, name);
        let pl = payload(&format!("127.0.0.1:{p}/{repo}"), &dg);
        let sig2 = sign(d, &key, &pl, how);
        push_signatures(p, repo, &dg, &[(pl, sig2)]);
        let v = verify_image(
            &client,
            &format!("127.0.0.1:{p}/{repo}:{tag}"),
            &[load_key(&pubk)],
        )
        .await;
        assert_eq!(v.result, Ok(1), "{name}");
        assert_eq!(v.digest.as_deref(), Some(dg.as_str()));
        keys.push((key, pubk, sig));
    }
    let (p256_key, p256_pub, _) = &keys[0];
    let (_, p384_pub, _) = &keys[1];

    // Good: the image itself, signed with P-256.
    let pl = payload(&format!("127.0.0.1:{p}/{repo}"), &digest);
    let sig = sign(d, p256_key, &pl, SHA256);
    push_signatures(p, repo, &digest, &[(pl.clone(), sig.clone())]);
    let v = verify_image(&client, &image, &[load_key(p256_pub)]).await;
    assert_eq!(v.result, Ok(1));
    // By digest too.
    let v = verify_image(
        &client,
        &format!("127.0.0.1:{p}/{repo}@{digest}"),
        &[load_key(p256_pub)],
    )
    .await;
    assert_eq!(v.result, Ok(1));

    // Wrong key.
    let v = verify_image(&client, &image, &[load_key(p384_pub)]).await;
    assert_eq!(
        v.result,
        Err("signature 1: the signature does not verify with the key p384.pub".to_string())
    );
    // Any of several keys may have signed.
    let v = verify_image(&client, &image, &[load_key(p384_pub), load_key(p256_pub)]).await;
    assert_eq!(v.result, Ok(1));

    // Tampered payload: the signature of the original over a changed payload.
    let tampered_digest = push_image(p, repo, "tampered", "tampered");
    let good = payload(&format!("127.0.0.1:{p}/{repo}"), &tampered_digest);
    let sig_t = sign(d, p256_key, &good, SHA256);
    let bad = payload(&format!("127.0.0.1:{p}/{repo}-evil"), &tampered_digest);
    push_signatures(p, repo, &tampered_digest, &[(bad, sig_t)]);
    let v = verify_image(
        &client,
        &format!("127.0.0.1:{p}/{repo}:tampered"),
        &[load_key(p256_pub)],
    )
    .await;
    assert_eq!(
        v.result,
        Err("signature 1: the signature does not verify with the key p256.pub".to_string())
    );

    // Digest mismatch: a valid signature for another image, stored under this one's tag.
    let mismatch_digest = push_image(p, repo, "mismatch", "mismatch");
    let for_other = payload(&format!("127.0.0.1:{p}/{repo}"), &other);
    let sig_o = sign(d, p256_key, &for_other, SHA256);
    push_signatures(p, repo, &mismatch_digest, &[(for_other, sig_o)]);
    let v = verify_image(
        &client,
        &format!("127.0.0.1:{p}/{repo}:mismatch"),
        &[load_key(p256_pub)],
    )
    .await;
    assert_eq!(
        v.result,
        Err(format!(
            "signature 1: the signature is for {other}, not for the image's digest {mismatch_digest}"
        ))
    );

    // One bad and one good signature: the image verifies.
    let both = push_image(p, repo, "both", "both");
    let pl_both = payload(&format!("127.0.0.1:{p}/{repo}"), &both);
    let sig_both = sign(d, p256_key, &pl_both, SHA256);
    push_signatures(
        p,
        repo,
        &both,
        &[(pl.clone(), sig.clone()), (pl_both, sig_both)],
    );
    let v = verify_image(
        &client,
        &format!("127.0.0.1:{p}/{repo}:both"),
        &[load_key(p256_pub)],
    )
    .await;
    assert_eq!(v.result, Ok(1));

    // Missing signature.
    let v = verify_image(
        &client,
        &format!("127.0.0.1:{p}/{repo}:2.0"),
        &[load_key(p256_pub)],
    )
    .await;
    let hex = other.trim_start_matches("sha256:");
    assert_eq!(
        v.result,
        Err(format!(
            "no signatures found (no sha256-{hex}.sig manifest) and no Sigstore bundles among its referrers"
        ))
    );

    // A tag the registry does not have.
    let v = verify_image(
        &client,
        &format!("127.0.0.1:{p}/{repo}:nope"),
        &[load_key(p256_pub)],
    )
    .await;
    assert_eq!(
        v.result,
        Err(format!("127.0.0.1:{p}/{repo}:nope: manifest unknown"))
    );
}

#[tokio::test]
async fn an_unreachable_registry_is_named() {
    if !have_openssl() {
        return;
    }
    let port = free_port();
    let client = insecure_client();
    let dir = tempfile::tempdir().unwrap();
    let (_, pubk) = keypair(dir.path(), "k", P256);
    let v = verify_image(
        &client,
        &format!("127.0.0.1:{port}/acme/api:1.4"),
        &[load_key(&pubk)],
    )
    .await;
    assert!(
        v.unreachable,
        "an unreachable registry is the registry's failure"
    );
    let why = v.result.unwrap_err();
    assert!(
        why.starts_with(&format!(
            "registry 127.0.0.1:{port} unreachable: client error (Connect)"
        )),
        "{why}"
    );
    assert!(why.contains("Connection refused"), "{why}");
}

#[tokio::test]
async fn pins_tags_to_the_registry_digests_in_place() {
    let Some(reg) = start("") else { return };
    let p = reg.port;
    let digest = push_image(p, "acme/web", "1.0", "web");
    let text = format!(
        "# keep me\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web}}\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: \"127.0.0.1:{p}/acme/web:1.0\"  # the app\n"
    );
    let loaded = rampart_manifest::load_str("d.yaml", &text);
    let uses = rampart_images::image_uses(&loaded.objects);
    let client = insecure_client();
    let mut digests = std::collections::HashMap::new();
    for u in &uses {
        let r = u.reference.as_ref().unwrap();
        digests.insert(u.image.clone(), client.resolve_digest(r).await.unwrap());
    }
    let (edits, errors) = rampart_images::pin_edits("d.yaml", &text, &uses, &digests);
    assert!(errors.is_empty());
    let out = rampart_images::apply_edits(&text, &edits);
    assert_eq!(
        out,
        text.replace("web:1.0\"", &format!("web:1.0@{digest}\""))
    );
}

#[tokio::test]
async fn tls_with_a_private_ca() {
    let dir = tempfile::tempdir().unwrap();
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    let issuer = rcgen::Issuer::from_params(&ca_params, &ca_key);
    let cert = params.signed_by(&key, &issuer).unwrap();
    let cert_path = dir.path().join("tls.crt");
    let key_path = dir.path().join("tls.key");
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    // The same storage served by a plain-HTTP registry (to push) and a TLS one (to read).
    let Some(plain) = start("") else { return };
    let storage = plain._dir.path().join("data");
    let tls = start_on(
        tempfile::tempdir().unwrap(),
        &storage,
        &format!(
            "  tls:\n    certificate: {}\n    key: {}\n",
            cert_path.display(),
            key_path.display()
        ),
    );
    let tls_port = tls.port;
    let digest = push_image(plain.port, "acme/tls", "1.0", "tls");
    let r = Reference::parse(&format!("127.0.0.1:{tls_port}/acme/tls:1.0")).unwrap();

    let trusted = Client::new(ClientOptions {
        ca_pem: Some(ca.pem().into_bytes()),
        timeout: Duration::from_secs(10),
        credentials: Credentials::default(),
        insecure: false,
    })
    .unwrap();
    assert_eq!(trusted.resolve_digest(&r).await.unwrap(), digest);

    let untrusted = Client::new(ClientOptions {
        timeout: Duration::from_secs(10),
        ..ClientOptions::default()
    })
    .unwrap();
    let e = untrusted.resolve_digest(&r).await.unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("registry 127.0.0.1:{tls_port} unreachable: "))
            && e.contains("UnknownIssuer"),
        "{e}"
    );
}

#[tokio::test]
async fn bearer_token_auth_with_docker_config_credentials() {
    // Pushed through an open registry, read through one that demands tokens (same storage).
    let Some(open) = start("") else { return };
    let dir = tempfile::tempdir().unwrap();
    let (secured, tokens) = token_registry(&open, "ci", "s3cret-pw");
    let sp = secured.port;
    let digest = push_image(open.port, "acme/secure", "1.0", "secure");
    let (key, pubk) = keypair(dir.path(), "p256", P256);
    let pl = payload(&format!("127.0.0.1:{sp}/acme/secure"), &digest);
    let sig = sign(dir.path(), &key, &pl, SHA256);
    push_signatures(open.port, "acme/secure", &digest, &[(pl, sig)]);

    // The registry itself refuses anonymous requests with a bearer challenge.
    let (st, h, _) = http(sp, "GET", "/v2/acme/secure/manifests/1.0", &[], b"");
    assert_eq!(st, 401);
    assert_eq!(
        header(&h, "www-authenticate"),
        format!(
            "Bearer realm=\"http://127.0.0.1:{}/token\",service=\"rampart-test\",scope=\"repository:acme/secure:pull\"",
            tokens.port
        )
    );

    // Credentials from docker's config.json: the token is fetched, the image verifies.
    let config = format!(
        r#"{{"auths": {{"127.0.0.1:{sp}": {{"auth": "{}"}}}}}}"#,
        base64::engine::general_purpose::STANDARD.encode("ci:s3cret-pw")
    );
    let credentials = Credentials::from_docker_config("config.json", &config).unwrap();
    let client = Client::new(ClientOptions {
        insecure: true,
        credentials,
        timeout: Duration::from_secs(10),
        ca_pem: None,
    })
    .unwrap();
    let image = format!("127.0.0.1:{sp}/acme/secure:1.0");
    let v = verify_image(&client, &image, &[load_key(&pubk)]).await;
    assert_eq!(v.result, Ok(1));
    assert_eq!(v.digest.as_deref(), Some(digest.as_str()));
    let asked = tokens.requests.lock().unwrap().clone();
    assert_eq!(
        asked.first().map(String::as_str),
        Some("GET /token?scope=repository%3Aacme%2Fsecure%3Apull&service=rampart-test HTTP/1.1")
    );
    // The token is reused for the signature manifest and the payload blob.
    assert_eq!(asked.len(), 1, "{asked:?}");

    // Without credentials the token service refuses, and the message says so.
    let anonymous = insecure_client();
    let v = verify_image(&anonymous, &image, &[load_key(&pubk)]).await;
    assert_eq!(
        v.result,
        Err(format!(
            "{image}: the registry's token service refused a token for an anonymous pull (scope repository:acme/secure:pull)"
        ))
    );
    // With a wrong password, the message names where the credentials came from.
    let wrong = format!(
        r#"{{"auths": {{"127.0.0.1:{sp}": {{"auth": "{}"}}}}}}"#,
        base64::engine::general_purpose::STANDARD.encode("ci:wrong")
    );
    let client = Client::new(ClientOptions {
        insecure: true,
        credentials: Credentials::from_docker_config("config.json", &wrong).unwrap(),
        timeout: Duration::from_secs(10),
        ca_pem: None,
    })
    .unwrap();
    let v = verify_image(&client, &image, &[load_key(&pubk)]).await;
    assert_eq!(
        v.result,
        Err(format!(
            "{image}: the registry's token service refused a token for the credentials in docker's config.json (scope repository:acme/secure:pull)"
        ))
    );
    assert!(!v.unreachable);
}

/// A bcrypt htpasswd line made by Python's `crypt` (the registry accepts only bcrypt); `None`
/// when this Python has no `crypt` module.
fn htpasswd_line(user: &str, password: &str) -> Option<String> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH)))",
            password,
        ])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let hash = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && hash.starts_with("$2")).then(|| format!("{user}:{hash}\n"))
}

#[tokio::test]
async fn basic_auth_with_htpasswd() {
    let Some(line) = htpasswd_line("ci", "s3cret-pw") else {
        eprintln!("SKIPPED: python3 with the crypt module is needed to write a bcrypt htpasswd");
        return;
    };
    let Some(open) = start("") else { return };
    let storage = open._dir.path().join("data");
    let dir = tempfile::tempdir().unwrap();
    let htpasswd = dir.path().join("htpasswd");
    std::fs::write(&htpasswd, line).unwrap();
    let secured = start_on(
        tempfile::tempdir().unwrap(),
        &storage,
        &format!(
            "auth:\n  htpasswd:\n    realm: rampart-test\n    path: {}\n",
            htpasswd.display()
        ),
    );
    let digest = push_image(open.port, "acme/basic", "1.0", "basic");
    let r = Reference::parse(&format!("127.0.0.1:{}/acme/basic:1.0", secured.port)).unwrap();
    let client = |user: &str, password: &str| {
        let mut credentials = Credentials::default();
        credentials.insert(&format!("127.0.0.1:{}", secured.port), user, password);
        Client::new(ClientOptions {
            insecure: true,
            credentials,
            timeout: Duration::from_secs(10),
            ca_pem: None,
        })
        .unwrap()
    };
    assert_eq!(
        client("ci", "s3cret-pw").resolve_digest(&r).await.unwrap(),
        digest
    );
    assert_eq!(
        client("ci", "wrong")
            .resolve_digest(&r)
            .await
            .unwrap_err()
            .to_string(),
        format!(
            "{r}: access denied (401 Unauthorized); check the credentials in docker's config.json"
        )
    );
    assert_eq!(
        insecure_client()
            .resolve_digest(&r)
            .await
            .unwrap_err()
            .to_string(),
        format!(
            "{r}: the registry asks for credentials and none are configured for 127.0.0.1:{}",
            secured.port
        )
    );
}

#[tokio::test]
async fn keyless_signatures_against_a_trusted_root() {
    use rampart_images::keyless::{Identity, KeylessPolicy, Matcher, TrustedRoot};
    use rampart_images::{Policy, verify_image_with};
    let Some(reg) = start("") else { return };
    let p = reg.port;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ca = fulcio("fulcio");
    let other_ca = fulcio("other");
    let rekor = rekor(d);
    let root = TrustedRoot::from_json("trusted_root.json", &trusted_root(&ca, &rekor).to_string())
        .unwrap();
    let policy = |subject: Matcher| Policy {
        keys: Vec::new(),
        keyless: Some(KeylessPolicy {
            root: root.clone(),
            identities: vec![Identity {
                subject,
                issuer: Matcher::Exact("https://issuer.example".into()),
                extensions: Vec::new(),
            }],
        }),
    };
    let exact = policy(Matcher::Exact("dev@acme.example".into()));
    let sign_keyless = |tag: &str, ca: &Fulcio, email: &str, integrated: u64, tamper: bool| {
        sign_keyless(p, "acme/kl", tag, d, ca, &rekor, email, integrated, tamper)
    };
    let in_validity = 1_577_880_000; // 2020-01-01T12:00:00Z
    let client = insecure_client();

    let good = sign_keyless("good", &ca, "dev@acme.example", in_validity, false);
    assert_eq!(
        verify_image_with(&client, &good, &exact).await.result,
        Ok(1)
    );
    let re = policy(Matcher::regex(r".*@acme\.example").unwrap());
    assert_eq!(verify_image_with(&client, &good, &re).await.result, Ok(1));

    // Wrong identity.
    let ops = policy(Matcher::Exact("ops@acme.example".into()));
    assert_eq!(
        verify_image_with(&client, &good, &ops).await.result,
        Err("signature 1: the certificate's identity \"dev@acme.example\" from issuer \"https://issuer.example\" is not \"ops@acme.example\" from \"https://issuer.example\"".to_string())
    );

    // Expired certificate: logged after its notAfter.
    let expired = sign_keyless("expired", &ca, "dev@acme.example", 1_578_000_000, false);
    let why = verify_image_with(&client, &expired, &exact)
        .await
        .result
        .unwrap_err();
    assert!(
        why.starts_with("signature 1: the certificate does not chain to a Fulcio CA of the trusted root at the time it was logged (1578000000): CertExpired"),
        "{why}"
    );

    // A certificate from a CA the trusted root does not hold.
    let rogue = sign_keyless("rogue", &other_ca, "dev@acme.example", in_validity, false);
    let why = verify_image_with(&client, &rogue, &exact)
        .await
        .result
        .unwrap_err();
    assert!(
        why.starts_with("signature 1: the certificate does not chain to a Fulcio CA of the trusted root at the time it was logged (1577880000): UnknownIssuer"),
        "{why}"
    );

    // A tampered Rekor bundle.
    let tampered = sign_keyless("tampered", &ca, "dev@acme.example", in_validity, true);
    assert_eq!(
        verify_image_with(&client, &tampered, &exact).await.result,
        Err(
            "signature 1: the Rekor signed entry timestamp does not verify with the log's key"
                .to_string()
        )
    );
}

/// Pushes cosign's `.att` manifest for `image_digest`: one DSSE envelope per layer.
fn push_attestations(port: u16, repo: &str, image_digest: &str, envelopes: &[Vec<u8>]) {
    let config =
        br#"{"architecture":"","os":"","config":{},"rootfs":{"type":"layers","diff_ids":[]}}"#;
    let cd = push_blob(port, repo, config);
    let layers: Vec<serde_json::Value> = envelopes
        .iter()
        .map(|e| {
            serde_json::json!({
                "mediaType": "application/vnd.dsse.envelope.v1+json",
                "digest": push_blob(port, repo, e),
                "size": e.len(),
                "annotations": {"predicateType": "https://slsa.dev/provenance/v1"}
            })
        })
        .collect();
    let tag = format!("{}.att", image_digest.replacen(':', "-", 1));
    push_manifest(
        port,
        repo,
        &tag,
        &serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": config.len()},
            "layers": layers
        }),
    );
}

#[tokio::test]
async fn attestations_in_dsse_envelopes() {
    use rampart_images::verify_attestations;
    let Some(reg) = start("") else { return };
    let p = reg.port;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key, pubk) = keypair(d, "att", P256);
    let (_, other_pub) = keypair(d, "other", P256);
    let std_b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    // An envelope signed by openssl over DSSE's PAE, written out here by hand.
    let envelope = |subject_digest: &str, predicate: &str| {
        let statement = serde_json::to_vec(&serde_json::json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": format!("127.0.0.1:{p}/acme/att"), "digest": {"sha256": subject_digest.trim_start_matches("sha256:")}}],
            "predicateType": predicate,
            "predicate": {"buildDefinition": {"buildType": "https://example.com/build"}}
        }))
        .unwrap();
        let ty = "application/vnd.in-toto+json";
        let mut pae = format!("DSSEv1 {} {ty} {} ", ty.len(), statement.len()).into_bytes();
        pae.extend_from_slice(&statement);
        let sig = sign(d, &key, &pae, SHA256);
        serde_json::to_vec(&serde_json::json!({
            "payloadType": ty,
            "payload": std_b64(&statement),
            "signatures": [{"keyid": "", "sig": std_b64(&sig)}]
        }))
        .unwrap()
    };
    let slsa = "https://slsa.dev/provenance/v1";
    let digest = push_image(p, "acme/att", "1.0", "att");
    let other = push_image(p, "acme/att", "2.0", "other");
    push_attestations(p, "acme/att", &digest, &[envelope(&digest, slsa)]);
    let client = insecure_client();
    let image = format!("127.0.0.1:{p}/acme/att:1.0");

    let v = verify_attestations(&client, &image, &[load_key(&pubk)], Some(slsa)).await;
    assert_eq!(v.result, Ok(1));
    let v = verify_attestations(&client, &image, &[load_key(&pubk)], None).await;
    assert_eq!(v.result, Ok(1));
    let v = verify_attestations(
        &client,
        &image,
        &[load_key(&pubk)],
        Some("https://spdx.dev/Document"),
    )
    .await;
    assert_eq!(
        v.result,
        Err("attestation 1: the predicateType is \"https://slsa.dev/provenance/v1\", not \"https://spdx.dev/Document\"".to_string())
    );
    let v = verify_attestations(&client, &image, &[load_key(&other_pub)], None).await;
    assert_eq!(
        v.result,
        Err("attestation 1: no envelope signature verifies with the key other.pub".to_string())
    );

    // A statement about another image, stored under this one.
    let mism = push_image(p, "acme/att", "mism", "mism");
    push_attestations(p, "acme/att", &mism, &[envelope(&other, slsa)]);
    let v = verify_attestations(
        &client,
        &format!("127.0.0.1:{p}/acme/att:mism"),
        &[load_key(&pubk)],
        None,
    )
    .await;
    assert_eq!(
        v.result,
        Err(format!(
            "attestation 1: the statement's subjects do not include the image's digest {mism}"
        ))
    );

    // None at all.
    let v = verify_attestations(
        &client,
        &format!("127.0.0.1:{p}/acme/att:2.0"),
        &[load_key(&pubk)],
        None,
    )
    .await;
    let hex = other.trim_start_matches("sha256:");
    assert_eq!(
        v.result,
        Err(format!(
            "no attestations found (no sha256-{hex}.att manifest)"
        ))
    );
}

#[tokio::test]
async fn count_of_attestors_each_with_its_own_signature() {
    let Some(reg) = start("") else { return };
    let p = reg.port;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let repo = "acme/two";
    let image = format!("127.0.0.1:{p}/{repo}:1.0");
    let digest = push_image(p, repo, "1.0", "two");
    let (k1, pub1) = keypair(d, "one", P256);
    let (_, pub2) = keypair(d, "two", P256);
    let (k3, pub3) = keypair(d, "three", P256);
    let pl = payload(&image, &digest);
    let s1 = sign(d, &k1, &pl, SHA256);
    let s3 = sign(d, &k3, &pl, SHA256);
    push_signatures(p, repo, &digest, &[(pl.clone(), s1), (pl, s3)]);
    let client = insecure_client();
    let one = |path: &std::path::Path| rampart_images::Policy {
        keys: vec![load_key(path)],
        keyless: None,
    };
    let all = [one(&pub1), one(&pub2), one(&pub3)];
    let v = rampart_images::verify_image_count(&client, &image, &all, 2).await;
    assert_eq!(v.result, Ok(2));
    assert_eq!(v.digest.as_deref(), Some(digest.as_str()));
    let v = rampart_images::verify_image_count(&client, &image, &all, 3).await;
    assert!(!v.unreachable);
    assert_eq!(
        v.result,
        Err("2 of 3 attestors verified, 3 required: attestor 2 (two.pub): signature 1: the signature does not verify with the key two.pub; signature 2: the signature does not verify with the key two.pub".to_string())
    );
}
