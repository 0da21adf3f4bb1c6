//! `rampart certs`: a CA and a serving certificate for the webhook Service (rcgen), and the
//! caBundle the webhook configuration needs.

use std::time::{SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

use crate::Error;

/// PEM texts written by `rampart certs`.
#[derive(Debug, Clone)]
pub struct GeneratedCerts {
    /// The CA certificate (the caBundle, PEM).
    pub ca_pem: String,
    /// The serving certificate, PEM.
    pub cert_pem: String,
    /// The serving key, PKCS#8 PEM. A secret: never log it.
    pub key_pem: String,
}

impl GeneratedCerts {
    /// The caBundle value for a webhook configuration: base64 of the CA PEM.
    pub fn ca_bundle(&self) -> String {
        base64(self.ca_pem.as_bytes())
    }
}

/// The DNS names the API server uses to reach `service` in `namespace`.
pub fn service_dns_names(service: &str, namespace: &str) -> Vec<String> {
    vec![
        service.to_string(),
        format!("{service}.{namespace}"),
        format!("{service}.{namespace}.svc"),
        format!("{service}.{namespace}.svc.cluster.local"),
    ]
}

/// Generates a CA (valid 10 years) and a serving certificate for `dns_names` (valid `days`).
pub fn generate(dns_names: &[String], days: u32) -> Result<GeneratedCerts, Error> {
    let now_days = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() / 86_400)
        .unwrap_or(0) as i64;
    let date = |d: i64| {
        let (y, m, dd) = rampart_core::civil::civil_from_days(d);
        rcgen::date_time_ymd(y as i32, m as u8, dd as u8)
    };

    let ca_key = KeyPair::generate().map_err(Error::Certificate)?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(Error::Certificate)?;
    ca.distinguished_name
        .push(DnType::CommonName, "rampart webhook CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca.not_before = date(now_days - 1);
    ca.not_after = date(now_days + 3650);
    let ca = CertifiedIssuer::self_signed(ca, ca_key).map_err(Error::Certificate)?;

    let key = KeyPair::generate().map_err(Error::Certificate)?;
    let mut params = CertificateParams::new(dns_names.to_vec()).map_err(Error::Certificate)?;
    if let Some(cn) = dns_names
        .iter()
        .find(|n| n.ends_with(".svc"))
        .or(dns_names.first())
    {
        params
            .distinguished_name
            .push(DnType::CommonName, cn.as_str());
    }
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.not_before = date(now_days - 1);
    params.not_after = date(now_days + i64::from(days.max(1)));
    let cert = params.signed_by(&key, &ca).map_err(Error::Certificate)?;
    Ok(GeneratedCerts {
        ca_pem: ca.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// Standard base64 with padding.
pub fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let sym = |i: u32| char::from(T.get((i & 63) as usize).copied().unwrap_or(b'A'));
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let n = (b(0) << 16) | (b(1) << 8) | b(2);
        out.push(sym(n >> 18));
        out.push(sym(n >> 12));
        out.push(if chunk.len() > 1 { sym(n >> 6) } else { '=' });
        out.push(if chunk.len() > 2 { sym(n) } else { '=' });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }

    #[test]
    fn civil_dates() {
        assert_eq!(rampart_core::civil::civil_from_days(0), (1970, 1, 1));
        assert_eq!(rampart_core::civil::civil_from_days(19_723), (2024, 1, 1));
    }

    #[test]
    fn generates_a_chain() {
        let c = generate(&service_dns_names("rampart", "rampart-system"), 365).unwrap();
        assert!(c.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(c.key_pem.contains("PRIVATE KEY"));
        assert!(c.ca_bundle().starts_with("LS0tLS1CRUdJTi"));
    }
}
