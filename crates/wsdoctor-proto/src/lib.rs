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
