//! What the registry-backed `verifyImages` tests share.

use rampart_images::registry::ClientOptions;
use rampart_kyverno::images::Verifier;
use rampart_kyverno::registry::RegistryVerifier;
use std::time::Duration;

/// A verifier for the loopback registry (plain HTTP).
pub fn verifier() -> Verifier {
    Verifier::new(
        RegistryVerifier::new(ClientOptions {
            insecure: true,
            timeout: Duration::from_secs(10),
            ..ClientOptions::default()
        })
        .expect("verifier"),
    )
}

/// `text` with every line indented by `n` spaces (PEM blocks in YAML policies).
pub fn indent(text: &str, n: usize) -> String {
    text.lines()
        .map(|l| format!("{}{l}\n", " ".repeat(n)))
        .collect()
}
