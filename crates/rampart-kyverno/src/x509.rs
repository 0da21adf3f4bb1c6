//! Kyverno's `x509_decode` JMESPath function: a PEM certificate (or certificate request) as
//! Go's `encoding/json` writes its `x509.Certificate` (`x509.CertificateRequest`) and reads it
//! back into plain JSON, the way Kyverno returns it:
//! - field names as Go's (`Subject.CommonName`, `NotAfter`, `DNSNames`, `IsCA`, …);
//! - byte fields (`Raw`, `Signature`, `SubjectKeyId`, extension values) in base64;
//! - enums as Go's numbers (`SignatureAlgorithm`, `PublicKeyAlgorithm`, `KeyUsage` bits,
//!   `ExtKeyUsage` values); times in RFC 3339;
//! - big integers (`SerialNumber`) as JSON numbers, which Go reads back as doubles;
//! - `PublicKey` as Kyverno sets it: `{"N": "<modulus in decimal>", "E": <exponent>}`; only RSA
//!   keys are accepted, as in Kyverno.

use base64::Engine as _;
use serde_json::{Map, Value, json};
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::oid_registry::{
    OID_KEY_TYPE_DSA, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_PKCS1_RSAENCRYPTION, OID_SIG_ED25519,
};
use x509_parser::prelude::{FromDer, X509Certificate, X509CertificationRequest, X509Name};
use x509_parser::public_key::PublicKey;
use x509_parser::x509::{AlgorithmIdentifier, SubjectPublicKeyInfo};

fn b64(b: &[u8]) -> Value {
    Value::String(base64::engine::general_purpose::STANDARD.encode(b))
}

/// A big-endian unsigned integer in decimal.
pub(crate) fn decimal(bytes: &[u8]) -> String {
    // base 10^9 limbs, least significant first
    let mut limbs: Vec<u32> = Vec::new();
    for &byte in bytes {
        let mut carry = u64::from(byte);
        for l in &mut limbs {
            let v = u64::from(*l) * 256 + carry;
            *l = (v % 1_000_000_000) as u32;
            carry = v / 1_000_000_000;
        }
        while carry > 0 {
            limbs.push((carry % 1_000_000_000) as u32);
            carry /= 1_000_000_000;
        }
    }
    let Some((last, rest)) = limbs.split_last() else {
        return "0".into();
    };
    let mut s = last.to_string();
    for l in rest.iter().rev() {
        s.push_str(&format!("{l:09}"));
    }
    s
}

/// A big integer as the double Go's JSON decoder makes of it.
fn as_double(bytes: &[u8]) -> Value {
    let f = bytes
        .iter()
        .fold(0f64, |acc, &b| acc * 256.0 + f64::from(b));
    // a whole number below 2^53 prints as Go prints the float64 (`0`, not `0.0`)
    if f < 9_007_199_254_740_992.0 {
        return Value::from(f as u64);
    }
    serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
}

/// Go's `x509.SignatureAlgorithm` for an algorithm identifier.
fn signature_algorithm(a: &AlgorithmIdentifier<'_>) -> i64 {
    match a.algorithm.to_id_string().as_str() {
        "1.2.840.113549.1.1.2" => 1,   // MD2WithRSA
        "1.2.840.113549.1.1.4" => 2,   // MD5WithRSA
        "1.2.840.113549.1.1.5" => 3,   // SHA1WithRSA
        "1.2.840.113549.1.1.11" => 4,  // SHA256WithRSA
        "1.2.840.113549.1.1.12" => 5,  // SHA384WithRSA
        "1.2.840.113549.1.1.13" => 6,  // SHA512WithRSA
        "1.2.840.10040.4.3" => 7,      // DSAWithSHA1
        "2.16.840.1.101.3.4.3.2" => 8, // DSAWithSHA256
        "1.2.840.10045.4.1" => 9,      // ECDSAWithSHA1
        "1.2.840.10045.4.3.2" => 10,   // ECDSAWithSHA256
        "1.2.840.10045.4.3.3" => 11,   // ECDSAWithSHA384
        "1.2.840.10045.4.3.4" => 12,   // ECDSAWithSHA512
        "1.2.840.113549.1.1.10" => 13, // SHA256WithRSAPSS (the hash is in the parameters)
        "1.3.101.112" => 16,           // PureEd25519
        _ => 0,
    }
}

/// Go's `x509.PublicKeyAlgorithm`.
fn key_algorithm(spki: &SubjectPublicKeyInfo<'_>) -> i64 {
    let a = &spki.algorithm.algorithm;
    if *a == OID_PKCS1_RSAENCRYPTION {
        1
    } else if *a == OID_KEY_TYPE_DSA {
        2
    } else if *a == OID_KEY_TYPE_EC_PUBLIC_KEY {
        3
    } else if *a == OID_SIG_ED25519 {
        4
    } else {
        0
    }
}

/// The RSA key as Kyverno puts it in `PublicKey`; an error for other keys.
fn rsa_key(spki: &SubjectPublicKeyInfo<'_>) -> Result<Value, String> {
    match spki.parsed() {
        Ok(PublicKey::RSA(k)) => {
            let e = k.exponent.iter().fold(0i64, |acc, &b| {
                acc.saturating_mul(256).saturating_add(i64::from(b))
            });
            Ok(json!({"N": decimal(k.modulus), "E": e}))
        }
        Ok(_) => Err("certificate should use rsa algorithm".into()),
        Err(_) => Err("failed to parse subject public key info".into()),
    }
}

fn oid_parts(oid: &x509_parser::der_parser::oid::Oid<'_>) -> Value {
    Value::Array(oid.iter().into_iter().flatten().map(Value::from).collect())
}

/// Go's `pkix.Name`.
fn name(n: &X509Name<'_>) -> Value {
    let mut fields: Vec<(&str, Vec<Value>)> = [
        "Country",
        "Organization",
        "OrganizationalUnit",
        "Locality",
        "Province",
        "StreetAddress",
        "PostalCode",
    ]
    .into_iter()
    .map(|k| (k, Vec::new()))
    .collect();
    let (mut serial, mut common) = (String::new(), String::new());
    let mut names = Vec::new();
    for rdn in n.iter() {
        for atv in rdn.iter() {
            let value = atv.as_str().unwrap_or("").to_string();
            let key = match atv.attr_type().to_id_string().as_str() {
                "2.5.4.6" => Some("Country"),
                "2.5.4.10" => Some("Organization"),
                "2.5.4.11" => Some("OrganizationalUnit"),
                "2.5.4.7" => Some("Locality"),
                "2.5.4.8" => Some("Province"),
                "2.5.4.9" => Some("StreetAddress"),
                "2.5.4.17" => Some("PostalCode"),
                "2.5.4.5" => {
                    serial = value.clone();
                    None
                }
                "2.5.4.3" => {
                    common = value.clone();
                    None
                }
                _ => None,
            };
            if let Some((_, list)) = key.and_then(|k| fields.iter_mut().find(|(f, _)| *f == k)) {
                list.push(Value::String(value.clone()));
            }
            names.push(json!({"Type": oid_parts(atv.attr_type()), "Value": value}));
        }
    }
    let mut m = Map::new();
    for (k, list) in fields {
        m.insert(
            k.into(),
            if list.is_empty() {
                Value::Null
            } else {
                Value::Array(list)
            },
        );
    }
    m.insert("SerialNumber".into(), Value::String(serial));
    m.insert("CommonName".into(), Value::String(common));
    m.insert("Names".into(), Value::Array(names));
    m.insert("ExtraNames".into(), Value::Null);
    Value::Object(m)
}

fn list_or_null(v: Vec<Value>) -> Value {
    if v.is_empty() {
        Value::Null
    } else {
        Value::Array(v)
    }
}

/// Subject alternative names as Go splits them.
fn sans<'a>(names: impl Iterator<Item = &'a GeneralName<'a>>) -> [Value; 4] {
    let (mut dns, mut email, mut ip, mut uri) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for n in names {
        match n {
            GeneralName::DNSName(s) => dns.push(Value::String((*s).to_string())),
            GeneralName::RFC822Name(s) => email.push(Value::String((*s).to_string())),
            GeneralName::URI(s) => uri.push(Value::String((*s).to_string())),
            GeneralName::IPAddress(b) => {
                let addr = if let Ok(a) = <[u8; 4]>::try_from(*b) {
                    std::net::Ipv4Addr::from(a).to_string()
                } else if let Ok(a) = <[u8; 16]>::try_from(*b) {
                    std::net::Ipv6Addr::from(a).to_string()
                } else {
                    String::new()
                };
                ip.push(Value::String(addr));
            }
            _ => {}
        }
    }
    [
        list_or_null(dns),
        list_or_null(email),
        list_or_null(ip),
        list_or_null(uri),
    ]
}

fn certificate(c: &X509Certificate<'_>) -> Result<Value, String> {
    let tbs = &c.tbs_certificate;
    let mut m = Map::new();
    m.insert("Raw".into(), b64(c.as_raw()));
    m.insert("RawTBSCertificate".into(), b64(tbs.as_ref()));
    m.insert("RawSubjectPublicKeyInfo".into(), b64(tbs.subject_pki.raw));
    m.insert("RawSubject".into(), b64(tbs.subject.as_raw()));
    m.insert("RawIssuer".into(), b64(tbs.issuer.as_raw()));
    m.insert("Signature".into(), b64(&c.signature_value.data));
    m.insert(
        "SignatureAlgorithm".into(),
        Value::from(signature_algorithm(&c.signature_algorithm)),
    );
    m.insert(
        "PublicKeyAlgorithm".into(),
        Value::from(key_algorithm(&tbs.subject_pki)),
    );
    m.insert("PublicKey".into(), rsa_key(&tbs.subject_pki)?);
    m.insert("Version".into(), Value::from(tbs.version.0 + 1));
    m.insert("SerialNumber".into(), as_double(tbs.raw_serial()));
    m.insert("Issuer".into(), name(&tbs.issuer));
    m.insert("Subject".into(), name(&tbs.subject));
    let time = |t: &x509_parser::time::ASN1Time| {
        Value::String(rampart_core::civil::rfc3339(t.timestamp()))
    };
    m.insert("NotBefore".into(), time(&tbs.validity.not_before));
    m.insert("NotAfter".into(), time(&tbs.validity.not_after));
    let mut key_usage = 0i64;
    let mut ext_key_usage = Vec::new();
    let (mut bc_valid, mut is_ca, mut max_path, mut max_path_zero) = (false, false, 0i64, false);
    let (mut ski, mut aki) = (Value::Null, Value::Null);
    let mut san = [Value::Null, Value::Null, Value::Null, Value::Null];
    let mut exts = Vec::new();
    let mut unhandled = Vec::new();
    // Go 1.24's policy fields: a value and whether it was given as zero
    let (mut inhibit_any, mut inhibit_mapping, mut require_explicit) = (None, None, None);
    let mut mappings = Vec::new();
    let mut policies = Vec::new();
    for e in tbs.extensions() {
        exts.push(json!({"Id": oid_parts(&e.oid), "Critical": e.critical, "Value": b64(e.value)}));
        match e.parsed_extension() {
            ParsedExtension::KeyUsage(k) => key_usage = i64::from(k.flags),
            ParsedExtension::ExtendedKeyUsage(k) => {
                for (on, v) in [
                    (k.any, 0),
                    (k.server_auth, 1),
                    (k.client_auth, 2),
                    (k.code_signing, 3),
                    (k.email_protection, 4),
                    (k.time_stamping, 8),
                    (k.ocsp_signing, 9),
                ] {
                    if on {
                        ext_key_usage.push(Value::from(v));
                    }
                }
            }
            ParsedExtension::BasicConstraints(b) => {
                bc_valid = true;
                is_ca = b.ca;
                match b.path_len_constraint {
                    Some(n) => {
                        max_path = i64::from(n);
                        max_path_zero = n == 0;
                    }
                    None => max_path = -1,
                }
            }
            ParsedExtension::SubjectKeyIdentifier(k) => ski = b64(k.0),
            ParsedExtension::AuthorityKeyIdentifier(k) => {
                if let Some(id) = &k.key_identifier {
                    aki = b64(id.0);
                }
            }
            ParsedExtension::SubjectAlternativeName(s) => san = sans(s.general_names.iter()),
            ParsedExtension::InhibitAnyPolicy(p) => inhibit_any = Some(p.skip_certs),
            ParsedExtension::PolicyConstraints(p) => {
                inhibit_mapping = p.inhibit_policy_mapping;
                require_explicit = p.require_explicit_policy;
            }
            ParsedExtension::CertificatePolicies(p) => {
                policies.extend(p.iter().map(|i| &i.policy_id));
            }
            ParsedExtension::PolicyMappings(p) => {
                for m in &p.mappings {
                    mappings.push(json!({
                        "IssuerDomainPolicy": m.issuer_domain_policy.to_id_string(),
                        "SubjectDomainPolicy": m.subject_domain_policy.to_id_string(),
                    }));
                }
            }
            ParsedExtension::UnsupportedExtension { .. } if e.critical => {
                unhandled.push(oid_parts(&e.oid));
            }
            _ => {}
        }
    }
    for (field, v) in [
        ("InhibitAnyPolicy", inhibit_any),
        ("InhibitPolicyMapping", inhibit_mapping),
        ("RequireExplicitPolicy", require_explicit),
    ] {
        m.insert(field.into(), Value::from(v.unwrap_or(0)));
        m.insert(format!("{field}Zero"), Value::Bool(v == Some(0)));
    }
    m.insert("PolicyMappings".into(), list_or_null(mappings));
    m.insert("KeyUsage".into(), Value::from(key_usage));
    m.insert("Extensions".into(), list_or_null(exts));
    m.insert("ExtraExtensions".into(), Value::Null);
    m.insert(
        "UnhandledCriticalExtensions".into(),
        list_or_null(unhandled),
    );
    m.insert("ExtKeyUsage".into(), list_or_null(ext_key_usage));
    m.insert("UnknownExtKeyUsage".into(), Value::Null);
    m.insert("BasicConstraintsValid".into(), Value::Bool(bc_valid));
    m.insert("IsCA".into(), Value::Bool(is_ca));
    m.insert("MaxPathLen".into(), Value::from(max_path));
    m.insert("MaxPathLenZero".into(), Value::Bool(max_path_zero));
    m.insert("SubjectKeyId".into(), ski);
    m.insert("AuthorityKeyId".into(), aki);
    m.insert("OCSPServer".into(), Value::Null);
    m.insert("IssuingCertificateURL".into(), Value::Null);
    let [dns, email, ip, uri] = san;
    m.insert("DNSNames".into(), dns);
    m.insert("EmailAddresses".into(), email);
    m.insert("IPAddresses".into(), ip);
    m.insert("URIs".into(), uri);
    m.insert("PermittedDNSDomainsCritical".into(), Value::Bool(false));
    for k in [
        "PermittedDNSDomains",
        "ExcludedDNSDomains",
        "PermittedIPRanges",
        "ExcludedIPRanges",
        "PermittedEmailAddresses",
        "ExcludedEmailAddresses",
        "PermittedURIDomains",
        "ExcludedURIDomains",
        "CRLDistributionPoints",
    ] {
        m.insert(k.into(), Value::Null);
    }
    // the certificate policies, as object identifiers (`[2, 5, 29, 32, 0]`) and, since Go
    // 1.22, as OIDs (`"2.5.29.32.0"`)
    m.insert(
        "PolicyIdentifiers".into(),
        list_or_null(policies.iter().map(|o| oid_parts(o)).collect()),
    );
    m.insert(
        "Policies".into(),
        list_or_null(
            policies
                .iter()
                .map(|o| Value::String(o.to_id_string()))
                .collect(),
        ),
    );
    Ok(Value::Object(m))
}

fn request(r: &X509CertificationRequest<'_>, der: &[u8]) -> Result<Value, String> {
    let info = &r.certification_request_info;
    let mut m = Map::new();
    m.insert("Raw".into(), b64(der));
    // the requested extensions in raw form (`Extensions`); `ExtraExtensions` is only ever set
    // by a writer; `Attributes` (deprecated) is not rebuilt
    let requested: Vec<Value> = info
        .iter_attributes()
        .filter_map(|a| {
            match a.parsed_attribute() {
            x509_parser::cri_attributes::ParsedCriAttribute::ExtensionRequest(r) => {
                Some(r.extensions.iter().map(|e| {
                    json!({"Id": oid_parts(&e.oid), "Critical": e.critical, "Value": b64(e.value)})
                }))
            }
            _ => None,
        }
        })
        .flatten()
        .collect();
    m.insert("Extensions".into(), list_or_null(requested));
    m.insert("ExtraExtensions".into(), Value::Null);
    m.insert("Attributes".into(), Value::Null);
    m.insert("RawTBSCertificateRequest".into(), b64(info.raw));
    m.insert("RawSubjectPublicKeyInfo".into(), b64(info.subject_pki.raw));
    m.insert("RawSubject".into(), b64(info.subject.as_raw()));
    m.insert("Version".into(), Value::from(info.version.0));
    m.insert("Signature".into(), b64(&r.signature_value.data));
    m.insert(
        "SignatureAlgorithm".into(),
        Value::from(signature_algorithm(&r.signature_algorithm)),
    );
    m.insert(
        "PublicKeyAlgorithm".into(),
        Value::from(key_algorithm(&info.subject_pki)),
    );
    m.insert("PublicKey".into(), rsa_key(&info.subject_pki)?);
    m.insert("Subject".into(), name(&info.subject));
    let [dns, email, ip, uri] = r
        .requested_extensions()
        .and_then(|mut exts| {
            exts.find_map(|e| match e {
                ParsedExtension::SubjectAlternativeName(s) => Some(sans(s.general_names.iter())),
                _ => None,
            })
        })
        .unwrap_or([Value::Null, Value::Null, Value::Null, Value::Null]);
    m.insert("DNSNames".into(), dns);
    m.insert("EmailAddresses".into(), email);
    m.insert("IPAddresses".into(), ip);
    m.insert("URIs".into(), uri);
    Ok(Value::Object(m))
}

/// `x509_decode(pem)`: the decoded certificate or certificate request, or why not.
pub fn decode(pem: &str) -> Result<Value, String> {
    let (_, block) = x509_parser::pem::parse_x509_pem(pem.trim_start().as_bytes())
        .map_err(|_| "failed to decode PEM block".to_string())?;
    match block.label.as_str() {
        "CERTIFICATE" => {
            let (_, c) = X509Certificate::from_der(&block.contents).map_err(|e| e.to_string())?;
            certificate(&c)
        }
        "CERTIFICATE REQUEST" => {
            let (_, r) =
                X509CertificationRequest::from_der(&block.contents).map_err(|e| e.to_string())?;
            request(&r, &block.contents)
        }
        _ => Err("PEM block neither contains a CERTIFICATE or CERTIFICATE REQUEST".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::{decimal, decode};
    use serde_json::json;

    fn fixture(name: &str) -> String {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/x509");
        std::fs::read_to_string(dir.join(name)).unwrap_or_default()
    }

    /// A CA made by `openssl req -x509` with inhibitAnyPolicy 0, requireExplicitPolicy 2, a
    /// policy mapping and a certificate policy: Go 1.24's fields, as Kyverno's JSON has them.
    #[test]
    fn policy_fields_as_go_decodes_them() {
        let c = decode(&fixture("policy-ca.pem")).unwrap_or_default();
        assert_eq!(c["InhibitAnyPolicy"], json!(0));
        assert_eq!(c["InhibitAnyPolicyZero"], json!(true));
        assert_eq!(c["RequireExplicitPolicy"], json!(2));
        assert_eq!(c["RequireExplicitPolicyZero"], json!(false));
        assert_eq!(c["InhibitPolicyMapping"], json!(0));
        assert_eq!(c["InhibitPolicyMappingZero"], json!(false));
        assert_eq!(
            c["PolicyMappings"],
            json!([{"IssuerDomainPolicy": "1.2.3.4", "SubjectDomainPolicy": "1.2.3.5"}])
        );
        assert_eq!(c["Policies"], json!(["1.2.3.4"]));
        assert_eq!(c["PolicyIdentifiers"], json!([[1, 2, 3, 4]]));
        assert_eq!(c["IsCA"], json!(true));
    }

    /// A request made by `openssl req -new` with a DNS name: its DER and requested extensions.
    #[test]
    fn requests_carry_their_raw_form_and_extensions() {
        let r = decode(&fixture("request.csr")).unwrap_or_default();
        assert!(
            r["Raw"].as_str().is_some_and(|s| s.starts_with("MII")),
            "{r}"
        );
        assert_eq!(r["Extensions"][0]["Id"], json!([2, 5, 29, 17]));
        assert_eq!(r["DNSNames"], json!(["req.example"]));
        assert_eq!(r["Attributes"], json!(null));
        assert_eq!(r["ExtraExtensions"], json!(null));
    }

    #[test]
    fn big_integers_in_decimal() {
        assert_eq!(decimal(&[]), "0");
        assert_eq!(decimal(&[0x01, 0x00]), "256");
        assert_eq!(decimal(&[0xff; 8]), u64::MAX.to_string());
        // 2^128
        let mut b = vec![1u8];
        b.extend([0u8; 16]);
        assert_eq!(decimal(&b), "340282366920938463463374607431768211456");
    }
}
