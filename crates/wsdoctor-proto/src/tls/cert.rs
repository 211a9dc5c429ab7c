//! What a server certificate (sent in clear up to TLS 1.2, or decrypted)
//! says: names, issuer, validity, key. Parsed with `x509-parser`.

use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey;

/// Facts of one X.509 certificate (RFC 5280), from [`parse`]. Text fields
/// are cut to 256 bytes (at a character boundary), `san` to 32 entries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CertInfo {
    /// Subject distinguished name, e.g. `O=wsdoctor, CN=broker.example`.
    pub subject: String,
    /// Issuer distinguished name, written like `subject`.
    pub issuer: String,
    /// The subject's common name, if any.
    pub common_name: Option<String>,
    /// DNS names and IP addresses of the subjectAltName extension.
    pub san: Vec<String>,
    /// Start of the validity period (notBefore), seconds since the Unix epoch.
    pub not_before: i64,
    /// End of the validity period (notAfter), seconds since the Unix epoch.
    pub not_after: i64,
    /// Subject and issuer are the same (a self-signed certificate).
    pub self_signed: bool,
    /// The basicConstraints extension says cA (a CA certificate).
    pub is_ca: bool,
    /// The public key's algorithm and size in bits, e.g. `RSA 2048`,
    /// `EC 256`; `other` for other algorithms, `unknown` when the key does
    /// not parse.
    pub key: String,
}

/// Longest name kept from a certificate field.
const MAX_NAME: usize = 256;
/// subjectAltName entries kept.
const MAX_SAN: usize = 32;

/// `s` cut to at most [`MAX_NAME`] bytes, at a character boundary.
fn cut(mut s: String) -> String {
    if s.len() > MAX_NAME {
        // Index 0 is always a boundary.
        let end = (0..=MAX_NAME)
            .rev()
            .find(|&i| s.is_char_boundary(i))
            .unwrap_or(0);
        s.truncate(end);
    }
    s
}

/// Parse one DER certificate; `None` when it is not one.
pub fn parse(der: &[u8]) -> Option<CertInfo> {
    let (_, c) = X509Certificate::from_der(der).ok()?;
    let subject = cut(c.subject().to_string());
    let issuer = cut(c.issuer().to_string());
    let common_name = c
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(|s| cut(s.to_string()));
    let mut san = Vec::new();
    if let Ok(Some(ext)) = c.subject_alternative_name() {
        for n in ext.value.general_names.iter().take(MAX_SAN) {
            match n {
                GeneralName::DNSName(d) => san.push(cut(d.to_string())),
                GeneralName::IPAddress(ip) => {
                    let s = if let Ok(a) = <[u8; 4]>::try_from(*ip) {
                        std::net::Ipv4Addr::from(a).to_string()
                    } else if let Ok(a) = <[u8; 16]>::try_from(*ip) {
                        std::net::Ipv6Addr::from(a).to_string()
                    } else {
                        continue;
                    };
                    san.push(s);
                }
                _ => {}
            }
        }
    }
    let key = match c.public_key().parsed() {
        Ok(PublicKey::RSA(k)) => format!("RSA {}", k.key_size()),
        Ok(PublicKey::EC(k)) => format!("EC {}", k.key_size()),
        Ok(_) => "other".to_string(),
        Err(_) => "unknown".to_string(),
    };
    Some(CertInfo {
        self_signed: subject == issuer,
        is_ca: c.is_ca(),
        subject,
        issuer,
        common_name,
        san,
        not_before: c.validity().not_before.timestamp(),
        not_after: c.validity().not_after.timestamp(),
        key,
    })
}

/// Does `name` (the SNI) match a certificate name (`*.example.com`
/// wildcards in the left-most label, RFC 6125)?
pub fn name_matches(pattern: &str, name: &str) -> bool {
    let p = pattern.trim_end_matches('.').to_ascii_lowercase();
    let n = name.trim_end_matches('.').to_ascii_lowercase();
    if let Some(rest) = p.strip_prefix("*.") {
        return n
            .split_once('.')
            .is_some_and(|(first, tail)| !first.is_empty() && tail == rest);
    }
    p == n
}

impl CertInfo {
    /// Is the certificate valid for `host` (SAN, or CN when there is no SAN)?
    pub fn valid_for(&self, host: &str) -> bool {
        if self.san.is_empty() {
            return self
                .common_name
                .as_deref()
                .is_some_and(|cn| name_matches(cn, host));
        }
        self.san.iter().any(|s| name_matches(s, host))
    }
}

#[cfg(test)]
#[allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::arithmetic_side_effects
)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(name_matches("*.example.com", "a.example.com"));
        assert!(!name_matches("*.example.com", "a.b.example.com"));
        assert!(!name_matches("*.example.com", "example.com"));
        assert!(name_matches("Broker.Example", "broker.example."));
        assert!(!name_matches("other.example", "broker.example"));
    }

    #[test]
    fn garbage_is_not_a_certificate() {
        assert!(parse(b"").is_none());
        assert!(parse(&[0x30, 0x82, 0xff, 0xff, 1, 2, 3]).is_none());
    }
}
