//! The registry test harness, shared by this crate's tests, the server's admission tests and
//! benchmarks (included by path): a real `docker-registry` on loopback, images pushed with
//! plain HTTP calls, keys and cosign signatures made by the `openssl` command line.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use base64::Engine as _;
use rampart_images::keys::PublicKey;
use rampart_images::registry::{Client, ClientOptions, sha256_digest};
use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const REGISTRY: &str = "/usr/bin/docker-registry";

/// A registry process on a free loopback port, killed on drop.
pub struct Registry {
    pub child: Child,
    pub port: u16,
    pub _dir: tempfile::TempDir,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `None` (and a message) when the registry binary is not installed.
pub fn start(extra: &str) -> Option<Registry> {
    if !Path::new(REGISTRY).exists() {
        eprintln!(
            "SKIPPED: {REGISTRY} is not installed (apt-get install -y docker-registry); the registry tests did not run"
        );
        return None;
    }
    if !have_openssl() {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("data");
    Some(start_on(dir, &storage, extra))
}

/// The tests make keys and signatures with the openssl command line.
pub fn have_openssl() -> bool {
    let ok = Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!(
            "SKIPPED: the openssl command line is not installed; the registry tests did not run"
        );
    }
    ok
}

/// A registry serving `storage` (which another registry may serve too), with `extra` config.
pub fn start_on(dir: tempfile::TempDir, storage: &Path, extra: &str) -> Registry {
    let port = free_port();
    let config = format!(
        "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n{extra}",
        storage.display()
    );
    let cfg = dir.path().join("config.yml");
    std::fs::write(&cfg, config).unwrap();
    let child = Command::new(REGISTRY)
        .arg("serve")
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let reg = Registry {
        child,
        port,
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the registry did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    reg
}

/// One plain HTTP/1.1 request; status, headers (lower-case names) and body.
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&buf[..split]).to_string();
    let mut body = buf[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    if headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    (status, headers, body)
}

pub fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let nl = b.windows(2).position(|w| w == b"\r\n").unwrap();
        let n = usize::from_str_radix(std::str::from_utf8(&b[..nl]).unwrap().trim(), 16).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&b[nl + 2..nl + 2 + n]);
        b = &b[nl + 4 + n..];
    }
}

pub fn header<'a>(h: &'a [(String, String)], name: &str) -> &'a str {
    h.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap()
}

/// Uploads a blob (POST, then a monolithic PUT); its digest.
pub fn push_blob(port: u16, repo: &str, data: &[u8]) -> String {
    let digest = sha256_digest(data);
    let (st, h, _) = http(
        port,
        "POST",
        &format!("/v2/{repo}/blobs/uploads/"),
        &[],
        b"",
    );
    assert_eq!(st, 202, "blob upload start");
    let loc = header(&h, "location").to_string();
    let path = match loc.find("/v2/") {
        Some(i) => loc[i..].to_string(),
        None => loc,
    };
    let sep = if path.contains('?') { '&' } else { '?' };
    let (st, _, body) = http(
        port,
        "PUT",
        &format!("{path}{sep}digest={digest}"),
        &[("Content-Type", "application/octet-stream")],
        data,
    );
    assert_eq!(st, 201, "blob upload: {}", String::from_utf8_lossy(&body));
    digest
}

/// Pushes an OCI manifest under `tag`; its digest.
pub fn push_manifest(port: u16, repo: &str, tag: &str, manifest: &serde_json::Value) -> String {
    let bytes = serde_json::to_vec(manifest).unwrap();
    let (st, h, body) = http(
        port,
        "PUT",
        &format!("/v2/{repo}/manifests/{tag}"),
        &[("Content-Type", "application/vnd.oci.image.manifest.v1+json")],
        &bytes,
    );
    assert_eq!(st, 201, "manifest push: {}", String::from_utf8_lossy(&body));
    let d = header(&h, "docker-content-digest").to_string();
    assert_eq!(d, sha256_digest(&bytes));
    d
}

/// A tiny image of our own: a config blob and one layer; its manifest digest.
pub fn push_image(port: u16, repo: &str, tag: &str, content: &str) -> String {
    let layer = format!("layer of {content}").into_bytes();
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [sha256_digest(&layer)]},
        "config": {"Labels": {"content": content}}
    }))
    .unwrap();
    let cd = push_blob(port, repo, &config);
    let ld = push_blob(port, repo, &layer);
    push_manifest(
        port,
        repo,
        tag,
        &serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": config.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": ld, "size": layer.len()}]
        }),
    )
}

/// cosign's simple-signing payload for `reference` at `digest`.
pub fn payload(reference: &str, digest: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "critical": {
            "identity": {"docker-reference": reference},
            "image": {"docker-manifest-digest": digest},
            "type": "cosign container image signature"
        },
        "optional": {"creator": "rampart tests"}
    }))
    .unwrap()
}

/// Pushes the `.sig` manifest for `image_digest` as cosign does: each layer a payload with
/// its base64 signature in the annotation.
pub fn push_signatures(port: u16, repo: &str, image_digest: &str, sigs: &[(Vec<u8>, Vec<u8>)]) {
    let layers: Vec<_> = sigs
        .iter()
        .map(|(p, s)| (p.clone(), s.clone(), serde_json::Map::new()))
        .collect();
    push_signature_layers(port, repo, image_digest, &layers);
}

/// Attaches cosign signature manifests to `digest` as `cosign sign --experimental-oci11` does
/// (artifact type `application/vnd.dev.cosign.artifact.sig.v1+json`, one simple-signing layer
/// each, the image as `subject`), listed in this order in the referrers tag schema's index.
pub fn push_oci11_signatures(port: u16, repo: &str, digest: &str, sigs: &[(Vec<u8>, Vec<u8>)]) {
    const SIG_TYPE: &str = "application/vnd.dev.cosign.artifact.sig.v1+json";
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let empty = push_blob(port, repo, b"{}");
    let mut descriptors = Vec::new();
    for (payload, sig) in sigs {
        let layer = push_blob(port, repo, payload);
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "artifactType": SIG_TYPE,
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
            "layers": [{"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
                        "digest": layer, "size": payload.len(),
                        "annotations": {"dev.cosignproject.cosign/signature": b64(sig)}}],
            "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": 0}
        });
        let bytes = serde_json::to_vec(&manifest).unwrap();
        let md = push_manifest(port, repo, &sha256_digest(&bytes), &manifest);
        descriptors.push(
            serde_json::json!({"mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": md, "size": bytes.len(), "artifactType": SIG_TYPE}),
        );
    }
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": descriptors
    }))
    .unwrap();
    let (st, _, body) = http(
        port,
        "PUT",
        &format!("/v2/{repo}/manifests/{}", digest.replacen(':', "-", 1)),
        &[("Content-Type", "application/vnd.oci.image.index.v1+json")],
        &index,
    );
    assert_eq!(st, 201, "index push: {}", String::from_utf8_lossy(&body));
}

/// Pushes the `.att` manifest cosign stores for `digest` in `repo`: one DSSE envelope per
/// statement, each signed (over DSSE's pre-authentication encoding) by openssl with its key.
pub fn push_dsse_attestations(
    port: u16,
    repo: &str,
    digest: &str,
    dir: &Path,
    atts: &[(Vec<u8>, &Path)],
) {
    let config =
        br#"{"architecture":"","os":"","config":{},"rootfs":{"type":"layers","diff_ids":[]}}"#;
    let cd = push_blob(port, repo, config);
    let layers: Vec<serde_json::Value> = atts
        .iter()
        .map(|(statement, key)| {
            // DSSE's pre-authentication encoding, written out here rather than taken from
            // the crate under test
            let kind = "application/vnd.in-toto+json";
            let mut pae = format!("DSSEv1 {} {kind} {} ", kind.len(), statement.len()).into_bytes();
            pae.extend_from_slice(statement);
            let sig = sign(dir, key, &pae, SHA256);
            let envelope = serde_json::to_vec(&serde_json::json!({
                "payloadType": "application/vnd.in-toto+json",
                "payload": base64::engine::general_purpose::STANDARD.encode(statement),
                "signatures": [{"keyid": "", "sig": base64::engine::general_purpose::STANDARD.encode(&sig)}],
            }))
            .unwrap();
            let predicate_type = serde_json::from_slice::<serde_json::Value>(statement).unwrap()["predicateType"].clone();
            serde_json::json!({
                "mediaType": "application/vnd.dsse.envelope.v1+json",
                "digest": push_blob(port, repo, &envelope),
                "size": envelope.len(),
                "annotations": {"dev.cosignproject.cosign/signature": "", "predicateType": predicate_type},
            })
        })
        .collect();
    push_manifest(
        port,
        repo,
        &format!("{}.att", digest.replacen(':', "-", 1)),
        &serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": config.len()},
            "layers": layers,
        }),
    );
}

pub const BUNDLE_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

/// The statement `cosign sign` makes for `digest`, with `predicate_type`.
pub fn in_toto_statement(digest: &str, predicate_type: &str) -> Vec<u8> {
    let hex = digest.trim_start_matches("sha256:");
    serde_json::to_vec(&serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"digest": {"sha256": hex}}],
        "predicateType": predicate_type,
        "predicate": {}
    }))
    .unwrap()
}

/// A bundle whose envelope openssl signs with `key`; `material` is its verification material.
pub fn dsse_bundle(
    d: &Path,
    key: &Path,
    payload: &[u8],
    material: serde_json::Value,
) -> (serde_json::Value, Vec<u8>) {
    let pae = rampart_images::verify::dsse_pae("application/vnd.in-toto+json", payload);
    let sig = sign(d, key, &pae, SHA256);
    (
        serde_json::json!({
            "mediaType": BUNDLE_TYPE,
            "verificationMaterial": material,
            "dsseEnvelope": {
                "payload": base64::engine::general_purpose::STANDARD.encode(payload),
                "payloadType": "application/vnd.in-toto+json",
                "signatures": [{"sig": base64::engine::general_purpose::STANDARD.encode(&sig), "keyid": ""}]
            }
        }),
        sig,
    )
}

/// Attaches `bundles` to the image `digest` as referrers and writes the referrers index at
/// `sha256-<hex>` (with `extra` descriptors: other tools' artifacts).
pub fn attach_bundles(
    p: u16,
    repo: &str,
    digest: &str,
    bundles: &[serde_json::Value],
    extra: &[serde_json::Value],
) {
    let empty = push_blob(p, repo, b"{}");
    let mut descriptors: Vec<serde_json::Value> = extra.to_vec();
    for b in bundles {
        let bytes = serde_json::to_vec(b).unwrap();
        let layer = push_blob(p, repo, &bytes);
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "artifactType": BUNDLE_TYPE,
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
            "layers": [{"mediaType": BUNDLE_TYPE, "digest": layer, "size": bytes.len()}],
            "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": 0},
            "annotations": {"dev.sigstore.bundle.content": "dsse-envelope", "dev.sigstore.bundle.predicateType": rampart_images::verify::COSIGN_SIGN_PREDICATE}
        });
        let size = serde_json::to_vec(&manifest).unwrap().len();
        let md = push_manifest(
            p,
            repo,
            &sha256_digest(&serde_json::to_vec(&manifest).unwrap()),
            &manifest,
        );
        descriptors.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": md, "size": size, "artifactType": BUNDLE_TYPE
        }));
    }
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": descriptors
    }))
    .unwrap();
    let (st, _, body) = http(
        p,
        "PUT",
        &format!("/v2/{repo}/manifests/{}", digest.replacen(':', "-", 1)),
        &[("Content-Type", "application/vnd.oci.image.index.v1+json")],
        &index,
    );
    assert_eq!(st, 201, "index push: {}", String::from_utf8_lossy(&body));
}

/// A payload, its signature, and the layer's other annotations.
pub type SignatureLayer = (Vec<u8>, Vec<u8>, serde_json::Map<String, serde_json::Value>);

/// [`push_signatures`] with more annotations per layer (certificate, chain, Rekor bundle).
pub fn push_signature_layers(port: u16, repo: &str, image_digest: &str, sigs: &[SignatureLayer]) {
    let config =
        br#"{"architecture":"","os":"","config":{},"rootfs":{"type":"layers","diff_ids":[]}}"#;
    let cd = push_blob(port, repo, config);
    let layers: Vec<serde_json::Value> = sigs
        .iter()
        .map(|(payload, sig, extra)| {
            let d = push_blob(port, repo, payload);
            let mut annotations = extra.clone();
            annotations.insert(
                "dev.cosignproject.cosign/signature".into(),
                base64::engine::general_purpose::STANDARD.encode(sig).into(),
            );
            serde_json::json!({
                "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
                "digest": d,
                "size": payload.len(),
                "annotations": annotations
            })
        })
        .collect();
    let tag = format!("{}.sig", image_digest.replacen(':', "-", 1));
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

pub fn openssl(args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A key pair made by openssl: (private key path, public key PEM path).
pub fn keypair(dir: &Path, name: &str, genpkey: &[&str]) -> (PathBuf, PathBuf) {
    let key = dir.join(format!("{name}.key"));
    let pubk = dir.join(format!("{name}.pub"));
    let mut args = vec!["genpkey"];
    args.extend_from_slice(genpkey);
    args.extend_from_slice(&["-out", key.to_str().unwrap()]);
    openssl(&args);
    openssl(&[
        "pkey",
        "-in",
        key.to_str().unwrap(),
        "-pubout",
        "-out",
        pubk.to_str().unwrap(),
    ]);
    (key, pubk)
}

/// Signs with openssl: `dgst` for ECDSA and RSA, `pkeyutl -rawin` for Ed25519.
pub fn sign(dir: &Path, key: &Path, data: &[u8], how: &[&str]) -> Vec<u8> {
    let input = dir.join("payload.bin");
    let out = dir.join("sig.bin");
    std::fs::write(&input, data).unwrap();
    let mut args: Vec<&str> = how.to_vec();
    args.extend_from_slice(&[
        "-inkey",
        key.to_str().unwrap(),
        "-in",
        input.to_str().unwrap(),
        "-out",
        out.to_str().unwrap(),
    ]);
    if how.first() == Some(&"dgst") {
        // dgst takes the key with -sign and the input last.
        let mut a: Vec<&str> = how.to_vec();
        a.extend_from_slice(&[
            "-sign",
            key.to_str().unwrap(),
            "-out",
            out.to_str().unwrap(),
        ]);
        a.push(input.to_str().unwrap());
        args = a;
    }
    openssl(&args);
    std::fs::read(&out).unwrap()
}

pub fn load_key(path: &Path) -> PublicKey {
    PublicKey::from_pem(
        path.file_name().unwrap().to_str().unwrap(),
        &std::fs::read_to_string(path).unwrap(),
    )
    .unwrap()
}

pub fn insecure_client() -> Client {
    Client::new(ClientOptions {
        insecure: true,
        timeout: Duration::from_secs(10),
        ..ClientOptions::default()
    })
    .unwrap()
}

pub const P256: &[&str] = &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"];
pub const SHA256: &[&str] = &["dgst", "-sha256"];

/// A transparency-log entry for `body` as Rekor vouches for it: the base64 body, and the
/// signed entry timestamp openssl makes with the log's `key` over the entry's canonical JSON
/// (log `log_id_hex`, `integrated` seconds, `index`).
pub fn rekor_entry(
    dir: &Path,
    key: &Path,
    log_id_hex: &str,
    body: &serde_json::Value,
    integrated: u64,
    index: u64,
) -> (String, Vec<u8>) {
    let body_b64 = base64::engine::general_purpose::STANDARD.encode(body.to_string().as_bytes());
    let canonical = format!(
        "{{\"body\":\"{body_b64}\",\"integratedTime\":{integrated},\"logID\":\"{log_id_hex}\",\"logIndex\":{index}}}"
    );
    let set = sign(dir, key, canonical.as_bytes(), SHA256);
    (body_b64, set)
}

/// What a scripted HTTP server answers: status, headers, body.
pub type Answer = (u16, Vec<(&'static str, String)>, Vec<u8>);

/// A plain-HTTP/1.1 server on loopback (keep-alive, one thread per connection) answering
/// each request by `script(method, path)`; `None` never answers. Its port, and the
/// `METHOD path` of every request it saw.
pub fn serve_http(
    script: impl Fn(&str, &str) -> Option<Answer> + Send + Sync + 'static,
) -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::BufRead as _;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let script = std::sync::Arc::new(script);
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let (log, script) = (log.clone(), script.clone());
            std::thread::spawn(move || {
                let mut reader = std::io::BufReader::new(conn.try_clone().unwrap());
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut parts = line.split_whitespace();
                    let method = parts.next().unwrap_or("").to_string();
                    let path = parts.next().unwrap_or("").to_string();
                    let mut length = 0;
                    loop {
                        let mut h = String::new();
                        if reader.read_line(&mut h).unwrap_or(0) == 0 {
                            return;
                        }
                        if h.trim().is_empty() {
                            break;
                        }
                        if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                            length = v.trim().parse().unwrap_or(0);
                        }
                    }
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).unwrap();
                    log.lock().unwrap().push(format!("{method} {path}"));
                    let Some((code, headers, body)) = script(&method, &path) else {
                        std::thread::sleep(Duration::from_secs(30));
                        return;
                    };
                    let mut head =
                        format!("HTTP/1.1 {code} X\r\nContent-Length: {}\r\n", body.len());
                    for (k, v) in headers {
                        head.push_str(&format!("{k}: {v}\r\n"));
                    }
                    head.push_str("\r\n");
                    let body = if method == "HEAD" { Vec::new() } else { body };
                    if conn.write_all(head.as_bytes()).is_err() || conn.write_all(&body).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, seen)
}

/// [`serve_http`] for a JSON API (the Kubernetes API's shape): `answer(method, path)` gives
/// the status and document. Its base URL, and the requests it saw.
pub fn serve_json(
    answer: impl Fn(&str, &str) -> (u16, serde_json::Value) + Send + Sync + 'static,
) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let (port, seen) = serve_http(move |method, path| {
        let (code, doc) = answer(method, path);
        Some((
            code,
            vec![("Content-Type", "application/json".to_string())],
            doc.to_string().into_bytes(),
        ))
    });
    (format!("http://127.0.0.1:{port}"), seen)
}
