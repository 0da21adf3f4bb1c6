//! A token service as Docker registry v2 token auth specifies it, and a `docker-registry`
//! that demands its tokens: shared by this crate's registry tests and the server's admission
//! tests (included by path next to `mod.rs`, which must be included as `harness`).
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use super::harness::{Registry, start_on};
use base64::Engine as _;
use std::io::{Read as _, Write as _};
use std::net::TcpListener;

/// A token service as Docker registry v2 token auth specifies it: `GET realm?scope=&service=`
/// with basic credentials, answered with a JWT (ES256, `x5c` chain to the registry's
/// `rootcertbundle`) granting the scopes asked for.
pub struct TokenService {
    pub port: u16,
    pub requests: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

fn b64url(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

pub fn start_token_service(
    signer_pkcs8: Vec<u8>,
    leaf_der: Vec<u8>,
    user: &'static str,
    password: &'static str,
) -> TokenService {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = requests.clone();
    std::thread::spawn(move || {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let key = aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &signer_pkcs8,
        )
        .unwrap();
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        );
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 8192];
            let n = s.read(&mut buf).unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]).to_string();
            let line = req.lines().next().unwrap_or("").to_string();
            seen.lock().unwrap().push(line.clone());
            let authorized = req.lines().any(|l| {
                l.to_ascii_lowercase().starts_with("authorization:") && l[14..].trim() == expected
            });
            if !authorized {
                let _ = s.write_all(
                    b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
                continue;
            }
            let path = line.split(' ').nth(1).unwrap_or("");
            let query = path.split_once('?').map_or("", |(_, q)| q);
            let mut access = Vec::new();
            for kv in query.split('&') {
                if let Some(scope) = kv.strip_prefix("scope=") {
                    let scope = scope.replace("%3A", ":").replace("%2F", "/");
                    let parts: Vec<&str> = scope.split(':').collect();
                    if parts.len() == 3 {
                        access.push(serde_json::json!({
                            "type": parts[0], "name": parts[1],
                            "actions": parts[2].split(',').collect::<Vec<_>>()
                        }));
                    }
                }
            }
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs();
            let header = serde_json::json!({
                "alg": "ES256", "typ": "JWT",
                "x5c": [base64::engine::general_purpose::STANDARD.encode(&leaf_der)]
            });
            let claims = serde_json::json!({
                "iss": "rampart-test-issuer", "sub": user, "aud": "rampart-test",
                "exp": now + 300, "nbf": now - 10, "iat": now - 10, "jti": format!("t{now}"),
                "access": access
            });
            let input = format!(
                "{}.{}",
                b64url(&serde_json::to_vec(&header).unwrap()),
                b64url(&serde_json::to_vec(&claims).unwrap())
            );
            let sig = key.sign(&rng, input.as_bytes()).unwrap();
            let body = serde_json::to_vec(&serde_json::json!({
                "token": format!("{input}.{}", b64url(sig.as_ref()))
            }))
            .unwrap();
            let _ = s.write_all(
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                )
                .as_bytes(),
            );
            let _ = s.write_all(&body);
        }
    });
    TokenService { port, requests }
}

/// A registry on `open`'s storage that demands bearer tokens from a [`TokenService`] granting
/// them to `user`/`password` only (tokens signed by a CA of the test's own).
pub fn token_registry(
    open: &Registry,
    user: &'static str,
    password: &'static str,
) -> (Registry, TokenService) {
    let storage = open._dir.path().join("data");
    let dir = tempfile::tempdir().unwrap();
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "rampart test token CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let signer = rcgen::KeyPair::generate().unwrap();
    let mut leaf_params = rcgen::CertificateParams::new(vec!["token".to_string()]).unwrap();
    leaf_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "rampart test token signer");
    let leaf = leaf_params
        .signed_by(&signer, &rcgen::Issuer::from_params(&ca_params, &ca_key))
        .unwrap();
    let bundle = dir.path().join("root.crt");
    std::fs::write(&bundle, ca.pem()).unwrap();
    let tokens = start_token_service(signer.serialize_der(), leaf.der().to_vec(), user, password);
    let secured = start_on(
        dir,
        &storage,
        &format!(
            "auth:\n  token:\n    realm: http://127.0.0.1:{}/token\n    service: rampart-test\n    issuer: rampart-test-issuer\n    rootcertbundle: {}\n",
            tokens.port,
            bundle.display()
        ),
    );
    (secured, tokens)
}
