//! PEM public keys (SubjectPublicKeyInfo, as `cosign generate-key-pair` and
//! `openssl pkey -pubout` write them) and signature verification with aws-lc-rs.

use crate::Error;
use aws_lc_rs::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use base64::Engine as _;

/// The algorithm of a public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    EcdsaP256,
    EcdsaP384,
    Ed25519,
    Rsa,
}

/// A public key to verify cosign signatures with.
#[derive(Debug, Clone)]
pub struct PublicKey {
    pub kind: KeyKind,
    /// The SubjectPublicKeyInfo's key bits: the EC point, the Ed25519 key, the PKCS#1
    /// RSAPublicKey.
    bits: Vec<u8>,
    /// Where the key came from, for messages.
    pub name: String,
}

const OID_EC: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];

impl PublicKey {
    /// Parses a PEM `PUBLIC KEY` block.
    pub fn from_pem(name: &str, pem: &str) -> Result<PublicKey, Error> {
        let bad = |why: &str| Error::Key(format!("{name}: {why}"));
        let begin = "-----BEGIN PUBLIC KEY-----";
        let end = "-----END PUBLIC KEY-----";
        let start = pem.find(begin).ok_or_else(|| {
            bad("no PEM `PUBLIC KEY` block (cosign.pub or `openssl pkey -pubout`)")
        })?;
        let body = pem.get(start + begin.len()..).unwrap_or("");
        let stop = body
            .find(end)
            .ok_or_else(|| bad("unterminated PEM block"))?;
        let b64: String = body
            .get(..stop)
            .unwrap_or("")
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|e| bad(&format!("bad base64 in the PEM block: {e}")))?;
        Self::from_spki_der(name, &der)
    }

    /// Parses a DER SubjectPublicKeyInfo.
    pub fn from_spki_der(name: &str, der: &[u8]) -> Result<PublicKey, Error> {
        let bad = || Error::Key(format!("{name}: not a SubjectPublicKeyInfo"));
        let (spki, _) = der_read(der, 0x30).ok_or_else(bad)?;
        let (alg, rest) = der_read(spki, 0x30).ok_or_else(bad)?;
        let (bitstring, _) = der_read(rest, 0x03).ok_or_else(bad)?;
        let bits = match bitstring.split_first() {
            Some((0, b)) => b.to_vec(),
            _ => return Err(bad()),
        };
        let (oid, params) = der_read(alg, 0x06).ok_or_else(bad)?;
        let kind = if oid == OID_EC {
            let (curve, _) = der_read(params, 0x06).ok_or_else(bad)?;
            if curve == OID_P256 {
                KeyKind::EcdsaP256
            } else if curve == OID_P384 {
                KeyKind::EcdsaP384
            } else {
                return Err(Error::Key(format!(
                    "{name}: unsupported elliptic curve (P-256 and P-384 are supported)"
                )));
            }
        } else if oid == OID_ED25519 {
            KeyKind::Ed25519
        } else if oid == OID_RSA {
            KeyKind::Rsa
        } else {
            return Err(Error::Key(format!(
                "{name}: unsupported key type (ECDSA P-256/P-384, Ed25519 and RSA are supported)"
            )));
        };
        Ok(PublicKey {
            kind,
            bits,
            name: name.to_string(),
        })
    }

    /// Whether `sig` is a signature of `message` by this key: ECDSA (ASN.1 DER) with SHA-256 on
    /// P-256 and SHA-384 on P-384, pure Ed25519, RSA PKCS#1 v1.5 or PSS with SHA-256.
    pub fn verify(&self, message: &[u8], sig: &[u8]) -> bool {
        let algs: &[&'static dyn VerificationAlgorithm] = match self.kind {
            KeyKind::EcdsaP256 => &[&signature::ECDSA_P256_SHA256_ASN1],
            KeyKind::EcdsaP384 => &[&signature::ECDSA_P384_SHA384_ASN1],
            KeyKind::Ed25519 => &[&signature::ED25519],
            KeyKind::Rsa => &[
                &signature::RSA_PKCS1_2048_8192_SHA256,
                &signature::RSA_PSS_2048_8192_SHA256,
            ],
        };
        algs.iter().any(|a| {
            UnparsedPublicKey::new(*a, &self.bits)
                .verify(message, sig)
                .is_ok()
        })
    }
}

impl PublicKey {
    /// Verifies a JWS signature (`alg` from the protected header; ECDSA signatures are
    /// `r || s`) as the Notary Project requires it: the algorithm must be the one the key's
    /// type and size imply (RSA 2048, 3072, 4096 bits: PS256, PS384, PS512; P-256, P-384:
    /// ES256, ES384).
    pub fn verify_jws(&self, alg: &str, message: &[u8], sig: &[u8]) -> Result<(), String> {
        let (implied, algorithm): (&str, &'static dyn VerificationAlgorithm) = match self.kind {
            KeyKind::EcdsaP256 => ("ES256", &signature::ECDSA_P256_SHA256_FIXED),
            KeyKind::EcdsaP384 => ("ES384", &signature::ECDSA_P384_SHA384_FIXED),
            KeyKind::Rsa => match self.rsa_bits() {
                2048 => ("PS256", &signature::RSA_PSS_2048_8192_SHA256),
                3072 => ("PS384", &signature::RSA_PSS_2048_8192_SHA384),
                4096 => ("PS512", &signature::RSA_PSS_2048_8192_SHA512),
                n => return Err(format!("RSA keys of {n} bits are not allowed for signing")),
            },
            KeyKind::Ed25519 => return Err("Ed25519 keys are not allowed for signing".into()),
        };
        if alg != implied {
            return Err(format!(
                "mismatch between signature algorithm derived from signing certificate ({implied}) and signing algorithm specified ({alg})"
            ));
        }
        UnparsedPublicKey::new(algorithm, &self.bits)
            .verify(message, sig)
            .map_err(|_| "the signature does not verify with the signing certificate's key".into())
    }

    /// The modulus size of an RSA key, in bits (0 when it does not parse).
    fn rsa_bits(&self) -> usize {
        der_read(&self.bits, 0x30)
            .and_then(|(seq, _)| der_read(seq, 0x02))
            .map_or(0, |(n, _)| {
                let n = match n.split_first() {
                    Some((0, rest)) => rest,
                    _ => n,
                };
                n.first()
                    .map_or(0, |b| (n.len() - 1) * 8 + (8 - b.leading_zeros() as usize))
            })
    }
}

/// Reads one DER element with tag `tag`; its contents and what follows it.
fn der_read(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (t, contents, _, after) = crate::keyless::tlv(input)?;
    (t == tag).then_some((contents, after))
}
