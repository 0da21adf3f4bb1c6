//! An [`ImageVerifier`] over OCI registries, with rampart-images' cosign verifier.

use crate::KyvernoError;
use crate::images::{ImageVerifier, VerifyError};
use rampart_core::InputError;
use rampart_images::keys::PublicKey;
use rampart_images::registry::{Client, ClientOptions};
use rampart_images::{Reference, verify_image};

/// Verifies images against their registries. Each call runs on a thread of its own against
/// the verifier's runtime, so it may be made from any thread.
pub struct RegistryVerifier {
    rt: tokio::runtime::Runtime,
    client: Client,
}

impl RegistryVerifier {
    pub fn new(opts: ClientOptions) -> Result<RegistryVerifier, KyvernoError> {
        let bad = |message: String| {
            KyvernoError::Input(InputError {
                file: "<registry>".into(),
                line: 0,
                column: 0,
                message,
            })
        };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("kyverno-images")
            .enable_all()
            .build()
            .map_err(|e| bad(e.to_string()))?;
        let client = {
            let _guard = rt.enter();
            Client::new(opts).map_err(|e| bad(e.to_string()))?
        };
        Ok(RegistryVerifier { rt, client })
    }

    fn run<T: Send>(&self, fut: impl std::future::Future<Output = T> + Send) -> Option<T> {
        std::thread::scope(|s| s.spawn(|| self.rt.block_on(fut)).join().ok())
    }
}

impl ImageVerifier for RegistryVerifier {
    fn verify(&self, image: &str, keys: &[String]) -> Result<String, VerifyError> {
        let keys: Vec<PublicKey> = keys
            .iter()
            .enumerate()
            .map(|(i, pem)| PublicKey::from_pem(&format!("publicKeys[{i}]"), pem))
            .collect::<Result<_, _>>()
            .map_err(|e| VerifyError::Unreachable(format!("bad attestor key: {e}")))?;
        let v = self
            .run(verify_image(&self.client, image, &keys))
            .ok_or_else(|| VerifyError::Unreachable("the verification stopped".into()))?;
        match (v.result, v.digest) {
            (Ok(_), Some(d)) => Ok(d),
            (Ok(_), None) => Err(VerifyError::Unreachable("no digest".into())),
            // the image did not resolve: the registry could not be reached or has no such image
            (Err(e), None) => Err(VerifyError::Unreachable(e)),
            (Err(e), Some(_)) => Err(VerifyError::Failed(e)),
        }
    }

    fn digest(&self, image: &str) -> Result<String, VerifyError> {
        let r = Reference::parse(image).map_err(|e| VerifyError::Failed(e.to_string()))?;
        self.run(self.client.resolve_digest(&r))
            .ok_or_else(|| VerifyError::Unreachable("the lookup stopped".into()))?
            .map_err(|e| VerifyError::Unreachable(e.to_string()))
    }
}
