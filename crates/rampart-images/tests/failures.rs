//! What each registry failure means and says, against a scripted HTTP server on loopback (the
//! failures a real registry will not produce on demand): server errors and silence are the
//! registry being unavailable (`unreachable`), wrong bytes and oversized blobs are answers.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod harness;

use harness::{Answer, serve_http};
use rampart_images::registry::{Client, ClientOptions, sha256_digest};
use rampart_images::{Error, Reference};
use std::time::Duration;

/// What the server answers to `(method, path)`; `None` never answers.
type Script = fn(&str, &str) -> Option<Answer>;

fn serve(script: Script) -> u16 {
    serve_http(script).0
}

fn client() -> Client {
    Client::new(ClientOptions {
        insecure: true,
        timeout: Duration::from_secs(1),
        ..ClientOptions::default()
    })
    .unwrap()
}

const MANIFEST: &[u8] = br#"{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", "size": 2}, "layers": []}"#;

fn ok_or_v2(path: &str) -> Option<Answer> {
    (path == "/v2/").then(|| (200, Vec::new(), b"{}".to_vec()))
}

#[tokio::test]
async fn a_server_error_is_the_registry_unavailable() {
    let port = serve(|_, path| {
        ok_or_v2(path).or_else(|| {
            Some((
                503,
                vec![("Content-Type", "application/json".into())],
                br#"{"errors": [{"code": "UNAVAILABLE", "message": "storage backend down"}]}"#
                    .to_vec(),
            ))
        })
    });
    let r = Reference::parse(&format!("127.0.0.1:{port}/acme/api:1.0")).unwrap();
    let e = client().resolve_digest(&r).await.unwrap_err();
    assert!(matches!(e, Error::Unreachable(_)), "{e:?}");
    assert_eq!(
        e.to_string(),
        format!("{r}: the registry answered 503 Service Unavailable: storage backend down")
    );
}

#[tokio::test]
async fn a_registry_that_does_not_answer_is_unreachable_within_the_timeout() {
    let port = serve(|_, _| None);
    let r = Reference::parse(&format!("127.0.0.1:{port}/acme/api:1.0")).unwrap();
    let start = std::time::Instant::now();
    let e = client().resolve_digest(&r).await.unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(matches!(e, Error::Unreachable(_)), "{e:?}");
    assert_eq!(
        e.to_string(),
        format!("registry 127.0.0.1:{port} unreachable: no answer within 1s")
    );
}

#[tokio::test]
async fn a_manifest_that_is_not_the_digest_asked_for_is_refused() {
    let port = serve(|_, path| {
        ok_or_v2(path).or_else(|| {
            Some((
                200,
                vec![(
                    "Content-Type",
                    "application/vnd.oci.image.manifest.v1+json".into(),
                )],
                MANIFEST.to_vec(),
            ))
        })
    });
    let asked = format!("sha256:{}", "0".repeat(64));
    let r = Reference::parse(&format!("127.0.0.1:{port}/acme/api@{asked}")).unwrap();
    let e = client().manifest(&r, &asked).await.unwrap_err();
    assert!(matches!(e, Error::Registry(_)), "{e:?}");
    assert_eq!(
        e.to_string(),
        format!(
            "{r}: the registry returned a manifest with digest {} for {asked}",
            sha256_digest(MANIFEST)
        )
    );
    // the same bytes asked for by their own digest are fine
    let d = sha256_digest(MANIFEST);
    let m = client().manifest(&r, &d).await.unwrap().unwrap();
    assert_eq!(m.digest, d);
    assert_eq!(m.media_type, "application/vnd.oci.image.manifest.v1+json");
}

#[tokio::test]
async fn blobs_are_checked_and_bounded() {
    let port = serve(|_, path| {
        ok_or_v2(path).or_else(|| {
            if path.ends_with(&format!("/blobs/sha256:{}", "1".repeat(64))) {
                Some((200, Vec::new(), vec![b'x'; (16 << 20) + 1]))
            } else {
                Some((200, Vec::new(), b"not the blob".to_vec()))
            }
        })
    });
    let r = Reference::parse(&format!("127.0.0.1:{port}/acme/api:1.0")).unwrap();
    let big = format!("sha256:{}", "1".repeat(64));
    assert_eq!(
        client().blob(&r, &big).await.unwrap_err().to_string(),
        format!("{r}: blob {big} larger than 16 MiB")
    );
    let other = format!("sha256:{}", "2".repeat(64));
    let e = client().blob(&r, &other).await.unwrap_err();
    assert!(matches!(e, Error::Registry(_)), "{e:?}");
    assert_eq!(
        e.to_string(),
        format!("{r}: blob {other} does not match its digest")
    );
}

const SUBJECT: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const REFERRER: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

#[tokio::test]
async fn referrers_come_from_the_referrers_api_where_the_registry_has_it() {
    // A registry with the OCI 1.1 API; the referrers tag schema's tag does not exist there.
    let port = serve(|_, path| {
        ok_or_v2(path).or_else(|| {
            if path == format!("/v2/acme/api/referrers/{SUBJECT}") {
                let index = format!(
                    r#"{{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [{{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "{REFERRER}", "size": 500, "artifactType": "application/vnd.dev.sigstore.bundle.v0.3+json"}}]}}"#
                );
                Some((
                    200,
                    vec![(
                        "Content-Type",
                        "application/vnd.oci.image.index.v1+json".into(),
                    )],
                    index.into_bytes(),
                ))
            } else {
                Some((404, Vec::new(), Vec::new()))
            }
        })
    });
    let r = Reference::parse(&format!("127.0.0.1:{port}/acme/api:1.0")).unwrap();
    let found = client().referrers(&r, SUBJECT).await.unwrap();
    assert_eq!(
        found.iter().map(|f| f.digest.as_str()).collect::<Vec<_>>(),
        vec![REFERRER]
    );
    assert_eq!(
        found[0].artifact_type.as_deref(),
        Some("application/vnd.dev.sigstore.bundle.v0.3+json")
    );
    // Neither the API nor the tag: none.
    let port = serve(|_, path| ok_or_v2(path).or_else(|| Some((404, Vec::new(), Vec::new()))));
    let r = Reference::parse(&format!("127.0.0.1:{port}/acme/api:1.0")).unwrap();
    assert!(client().referrers(&r, SUBJECT).await.unwrap().is_empty());
}
