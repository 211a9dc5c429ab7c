//! `proto`: push parsers for the protocols wsdoctor understands. Each is fed
//! byte chunks and reports what it consumed; "need more" is not an error.

pub mod deflate;
pub mod handshake;
pub mod http;
pub mod mqtt;
pub mod server;
pub mod tls;
pub mod ws;

/// Bytes as text, invalid UTF-8 replaced by U+FFFD; borrowed when the bytes
/// are valid UTF-8. `String::from_utf8_lossy` walks its input in chunks
/// even when it is valid, several times slower than `str::from_utf8`, and
/// this runs on every header and error page.
pub fn lossy(b: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(b) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(b),
    }
}

/// How serious a problem, anomaly or finding reported by a decoder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Informational.
    Info,
    /// Suspicious or non-conforming but tolerated.
    Warning,
    /// A protocol violation.
    Error,
}

impl Severity {
    /// "error", "warning" or "info".
    pub fn as_str(&self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}
