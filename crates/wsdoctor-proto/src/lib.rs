//! Push decoders for offline analysis of captured traffic: HTTP/1.x heads
//! and the WebSocket Upgrade handshake (RFC 6455 §4), WebSocket framing with
//! unmasking and permessage-deflate (RFC 6455 §5, RFC 7692), MQTT 3.1, 3.1.1
//! and 5.0, and TLS records and handshakes, decrypted when a key log is given.
//!
//! Built for bytes that come out of a packet capture: incomplete, cut at any
//! point, sometimes with holes, sometimes hostile. Every decoder
//!
//! * is **push-based**: you feed it byte chunks of any size as they arrive
//!   and it reports what completed; "need more" is never an error;
//! * takes **gaps** explicitly (bytes the capture lost, with their length)
//!   and keeps its place when it can, or says it lost sync;
//! * is **tolerant**: what can be decoded is decoded, and everything odd
//!   becomes a typed violation or anomaly with a stable code, attached to
//!   the record it concerns;
//! * is **bounded**: every buffer has a limit in a plain struct with a
//!   `Default` ([`ws::WsLimits`], [`mqtt::MqttLimits`], [`http::HttpLimits`],
//!   [`tls::conn::TlsLimits`], [`tls::keylog::KeyLogLimits`]); hitting one
//!   is reported, never a panic or an unbounded allocation;
//! * **never panics** on any input: the crate forbids `unsafe` and denies
//!   indexing, slicing, `unwrap`, `expect`, `panic!` and unchecked
//!   arithmetic (clippy lints), and every decoder is fuzzed.
//!
//! The crate does no I/O and knows nothing of captures or TCP: give it the
//! bytes of one direction of one connection, in order.
//!
//! # MQTT over WebSocket
//!
//! [`ws::WsDirection`] turns one direction's WebSocket bytes into the
//! application byte stream (unmasked, inflated) and hands it to a
//! [`ws::WsDataSink`]; [`mqtt::MqttConn`] decodes that stream as MQTT, across
//! frame boundaries (an MQTT packet may straddle WebSocket frames):
//!
//! ```
//! use wsdoctor_proto::mqtt::{Dir, Event, MqttConn, MqttLimits};
//! use wsdoctor_proto::ws::{FrameEnd, FrameHeader, Violation, WsDataSink, WsDirection, WsLimits};
//!
//! struct ToMqtt(MqttConn, Vec<String>);
//! impl WsDataSink for ToMqtt {
//!     fn data(&mut self, bytes: &[u8]) {
//!         let seen = &mut self.1;
//!         self.0.feed(Dir::C2S, 0.0, bytes, &mut |e| {
//!             if let Event::Packet(_, p) = e {
//!                 seen.push(p.msg_name().to_string());
//!             }
//!         });
//!     }
//!     fn frame(&mut self, _: &FrameHeader, _: &FrameEnd) {}
//!     fn violation(&mut self, v: Violation) { panic!("{v}") }
//! }
//!
//! // A client's binary frame (masked with key 0) carrying an MQTT 3.1.1 CONNECT
//! // with client id "abc", then a PINGREQ split over two frames.
//! let mut wire = vec![0x82, 0x91, 0, 0, 0, 0];
//! wire.extend(b"\x10\x0f\x00\x04MQTT\x04\x02\x00\x3c\x00\x03abc");
//! wire.extend([0x02, 0x81, 0, 0, 0, 0, 0xc0, 0x80, 0x81, 0, 0, 0, 0, 0x00]);
//!
//! let mut ws = WsDirection::new(true, None, WsLimits::default());
//! let mut sink = ToMqtt(MqttConn::new(MqttLimits::default(), true), Vec::new());
//! for chunk in wire.chunks(5) {
//!     ws.feed(chunk, &mut sink); // chunks of any size, as TCP delivers them
//! }
//! assert_eq!(sink.1, ["CONNECT", "PINGREQ"]);
//! ```
//!
//! With permessage-deflate, pass the parameters the 101 response selected
//! ([`handshake::Handshake::deflate`]) to [`ws::WsDirection::new`].
//!
//! # Validating an Upgrade handshake
//!
//! [`http::parse_request`] and [`http::parse_response`] parse heads from a
//! buffer that may be incomplete ([`http::Head::Partial`]);
//! [`handshake::validate`] checks the pair against RFC 6455 §4 and says how
//! the handshake ended and what was wrong:
//!
//! ```
//! use wsdoctor_proto::handshake::{validate, Outcome};
//! use wsdoctor_proto::http::{parse_request, parse_response, Head, HttpLimits};
//!
//! let lim = HttpLimits::default();
//! let req = b"GET /mqtt HTTP/1.1\r\nHost: broker\r\nUpgrade: websocket\r\n\
//!             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
//!             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n";
//! let Head::Complete(req, _) = parse_request(req, &lim) else { unreachable!() };
//!
//! // An IIS 7.5 answer: no WebSocket support, an ordinary page instead.
//! let resp = b"HTTP/1.1 200 OK\r\nServer: Microsoft-IIS/7.5\r\nContent-Length: 0\r\n\r\n";
//! let Head::Complete(resp, _) = parse_response(resp, &lim) else { unreachable!() };
//! let hs = validate(&req, Some(&resp), false);
//! assert_eq!(hs.outcome, Outcome::Rejected);
//!
//! // The right answer: 101 with the accept value of RFC 6455 §1.3.
//! let ok = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
//!            Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n";
//! let Head::Complete(ok, _) = parse_response(ok, &lim) else { unreachable!() };
//! let hs = validate(&req, Some(&ok), false);
//! assert_eq!(hs.outcome, Outcome::Accepted);
//! assert_eq!(hs.accept_valid, Some(true));
//! assert!(hs.problems.is_empty(), "{:?}", hs.problems);
//! ```
//!
//! # Feeding a stream with gaps
//!
//! A capture can miss bytes. Tell the decoder how many
//! ([`ws::WsDirection::gap`], [`mqtt::MqttConn::gap`]): inside a WebSocket
//! payload of known length the frame decoder keeps its place and reports
//! exactly how many application bytes are missing
//! ([`ws::WsDataSink::data_gap`] with `Some(n)`); MQTT reports the packet the
//! hole cut, skips the missing bytes and decodes the next packet:
//!
//! ```
//! use wsdoctor_proto::mqtt::{Dir, Event, MqttConn, MqttLimits};
//!
//! let mut conn = MqttConn::new(MqttLimits::default(), true);
//! let mut names = Vec::new();
//! let mut sink = |e: Event<'_>| match e {
//!     Event::Packet(_, p) => names.push(p.msg_name().to_string()),
//!     Event::Anomaly(_, a) => names.push(format!("anomaly {}", a.code)),
//!     Event::Finding(_) => {}
//! };
//! // A PUBLISH of 12 bytes (topic "t/1", payload "hello") whose middle 5
//! // bytes were not captured, then a PINGREQ.
//! let publish = b"\x30\x0a\x00\x03t/1hello";
//! conn.feed(Dir::C2S, 0.0, &publish[..4], &mut sink);
//! conn.gap(Dir::C2S, 5, &mut sink);
//! conn.feed(Dir::C2S, 0.0, &publish[9..], &mut sink);
//! conn.feed(Dir::C2S, 0.1, b"\xc0\x00", &mut sink);
//! assert_eq!(names, ["anomaly mqtt_gap", "anomaly mqtt_truncated_packet", "PINGREQ"]);
//! ```
//!
//! # Modules
//!
//! * [`http`]: HTTP/1.x request and response heads, bodies skipped by
//!   length or chunked encoding.
//! * [`handshake`]: the WebSocket Upgrade handshake (RFC 6455 §4, RFC 7692
//!   parameters), and the text of an error page.
//! * [`server`]: which server product answered (IIS version, nginx, ...).
//! * [`ws`]: WebSocket frames, unmasking, UTF-8 validation, close codes;
//!   [`deflate`]: permessage-deflate inflation.
//! * [`mqtt`]: MQTT 3.1/3.1.1/5.0 packets and per-connection session state.
//! * [`tls`]: TLS records and handshake facts; [`tls::keylog`] and
//!   [`tls::crypto`] decrypt records from an NSS key log (SSLKEYLOGFILE).
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// Panic freedom, crate-wide: no indexing or slicing that can panic, no
// unwrap/expect/panic!, no arithmetic that can overflow (test modules and
// the hidden fuzzing harness opt out).
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::arithmetic_side_effects
)]

pub mod deflate;
#[doc(hidden)]
pub mod fuzzing;
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

/// Where `n` first occurs in `h`, ASCII case ignored (other bytes compared
/// as they are); `None` for an empty needle. For markers in error pages and
/// headers, which need not be UTF-8.
pub fn find_ascii_ci(h: &[u8], n: &[u8]) -> Option<usize> {
    // Candidates come from the needle's first byte that is not a space (a
    // letter is found in either case by memchr2; `<` of a tag is rare in a
    // page's text), each then compared whole.
    let Some((p, &c)) = n.iter().enumerate().find(|(_, &c)| c != b' ') else {
        return h
            .windows(n.len().max(1))
            .position(|w| !n.is_empty() && w.eq_ignore_ascii_case(n));
    };
    let (lo, up) = (c.to_ascii_lowercase(), c.to_ascii_uppercase());
    let mut from = p;
    while let Some(i) = h.get(from..).and_then(|t| memchr::memchr2(lo, up, t)) {
        let hit = from.saturating_add(i);
        let at = hit.saturating_sub(p);
        let window = h.get(at..).and_then(|t| t.get(..n.len()));
        if window.is_some_and(|w| w.eq_ignore_ascii_case(n)) {
            return Some(at);
        }
        from = hit.saturating_add(1);
    }
    None
}

#[cfg(test)]
mod find_tests {
    use super::*;

    #[test]
    fn find_ascii_ci_agrees_with_a_window_scan() {
        let naive = |h: &str, n: &str| {
            if n.is_empty() {
                return None;
            }
            h.as_bytes()
                .windows(n.len())
                .position(|w| w.eq_ignore_ascii_case(n.as_bytes()))
        };
        let hays = [
            "",
            "IIS 7.5 Detailed Error - 404.0",
            "iis 8.5 DETAILED ERROR",
            "Detailed Errordetailed error",
            "  Detailed Erro",
            "<TITLE>iis7</TITLE>",
            "x Microsoft-IIS/10.0 y",
            "dddd Detailed Error",
            "ééé Detailed Error",
        ];
        for h in hays {
            for n in [
                " Detailed Error",
                "Microsoft-IIS/",
                "<title>IIS7</title>",
                "",
                " ",
                "7.5",
                "é",
            ] {
                assert_eq!(
                    find_ascii_ci(h.as_bytes(), n.as_bytes()),
                    naive(h, n),
                    "{h:?} {n:?}"
                );
            }
        }
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
