//! `stream`: per-connection protocol sniffing and the layer stack.
//!
//! Sniffing looks at the first bytes of each direction, on any port:
//! HTTP/1.x, MQTT CONNECT (`MQTT` / `MQIsdp`), TLS ClientHello, else unknown.
//! On a connection seen without its SYN, the first payload also settles
//! which side is the client (the spec: the side that sent an HTTP request or
//! MQTT CONNECT).

use crate::event::{ConnProto, Sink};
use crate::flow::{Chunk, ConnMeta, Dir, Handler};

/// Records of the protocol layers (upgrade, ws, mqtt), as the sink receives them.
#[derive(Debug)]
pub enum Record<'a> {
    /// Placeholder until the protocol layers land.
    None(std::marker::PhantomData<&'a ()>),
}

/// What the first bytes of a direction look like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sniff {
    HttpRequest,
    HttpResponse,
    MqttConnect,
    TlsClientHello,
    Tls,
    Unknown,
    /// Not enough bytes to say.
    NeedMore,
}

const METHODS: &[&[u8]] = &[
    b"GET ", b"POST ", b"PUT ", b"HEAD ", b"DELETE ", b"OPTIONS ", b"PATCH ", b"CONNECT ",
    b"TRACE ", b"PROPFIND ", b"PROPPATCH ", b"MKCOL ", b"COPY ", b"MOVE ", b"LOCK ", b"UNLOCK ",
    b"SEARCH ", b"PRI ",
];

/// Classify the first bytes of a direction.
pub fn sniff(b: &[u8]) -> Sniff {
    if b.is_empty() {
        return Sniff::NeedMore;
    }
    if b.starts_with(b"HTTP/1.") {
        return Sniff::HttpResponse;
    }
    if b"HTTP/1.".starts_with(&b[..b.len().min(7)]) && b.len() < 7 {
        return Sniff::NeedMore;
    }
    for m in METHODS {
        if b.len() >= m.len() {
            if b.starts_with(m) {
                return Sniff::HttpRequest;
            }
        } else if m.starts_with(b) {
            return Sniff::NeedMore;
        }
    }
    if b[0] == 0x16 {
        if b.len() < 6 {
            return Sniff::NeedMore;
        }
        if b[1] == 3 && b[5] == 1 {
            return Sniff::TlsClientHello;
        }
    }
    if (0x14..=0x17).contains(&b[0]) && b.len() >= 3 && b[1] == 3 && b[2] <= 4 {
        return Sniff::Tls;
    }
    if b[0] == 0x10 {
        // fixed header, remaining length varint, then protocol name
        let mut i = 1;
        while i < b.len() && i <= 4 && b[i] & 0x80 != 0 {
            i += 1;
        }
        if i > 4 {
            return Sniff::Unknown;
        }
        let name_at = i + 1;
        let Some(len) = b.get(name_at..name_at + 2) else {
            return Sniff::NeedMore;
        };
        let n = u16::from_be_bytes([len[0], len[1]]) as usize;
        let want: &[&[u8]] = &[b"MQTT", b"MQIsdp"];
        let Some(name) = b.get(name_at + 2..name_at + 2 + n) else {
            return if want.iter().any(|w| w.len() == n) {
                Sniff::NeedMore
            } else {
                Sniff::Unknown
            };
        };
        if want.contains(&name) {
            return Sniff::MqttConnect;
        }
    }
    Sniff::Unknown
}

/// The per-connection layer stack.
#[derive(Default)]
pub struct Stack {
    proto: Option<&'static str>,
    /// First bytes of each direction, until sniffing decides.
    head: [Vec<u8>; 2],
    decided: [bool; 2],
    seen_data: bool,
}

const SNIFF_BYTES: usize = 64;

impl Stack {
    fn classify(&mut self, meta: &mut ConnMeta, dir: Dir) -> Dir {
        let s = sniff(&self.head[dir.idx()]);
        if s == Sniff::NeedMore && self.head[dir.idx()].len() < SNIFF_BYTES {
            return dir;
        }
        self.decided[dir.idx()] = true;
        let mut dir = dir;
        // Roles of a connection without SYN: the side that sends a request
        // or CONNECT is the client.
        if !meta.roles_from_syn && !self.seen_data {
            let wrong = matches!(
                (s, dir),
                (Sniff::HttpRequest | Sniff::MqttConnect | Sniff::TlsClientHello, Dir::S2C)
                    | (Sniff::HttpResponse, Dir::C2S)
            );
            if wrong {
                meta.swap_roles();
                self.head.swap(0, 1);
                self.decided.swap(0, 1);
                dir = dir.rev();
            }
        }
        self.seen_data = true;
        if self.proto.is_none() {
            self.proto = match s {
                Sniff::HttpRequest | Sniff::HttpResponse => Some("http"),
                Sniff::MqttConnect => Some("mqtt"),
                Sniff::TlsClientHello | Sniff::Tls => Some("tls"),
                _ => None,
            };
        }
        self.head[dir.idx()] = Vec::new();
        dir
    }
}

impl Handler for Stack {
    fn chunk(&mut self, meta: &mut ConnMeta, dir: Dir, chunk: Chunk<'_>, _out: &mut dyn Sink) {
        match chunk {
            Chunk::Data { bytes, .. } => {
                if !self.decided[dir.idx()] {
                    let h = &mut self.head[dir.idx()];
                    let take = (SNIFF_BYTES - h.len()).min(bytes.len());
                    h.extend_from_slice(&bytes[..take]);
                    self.classify(meta, dir);
                }
            }
            Chunk::Gap { .. } => {
                if !self.decided[dir.idx()] {
                    self.decided[dir.idx()] = true;
                    self.head[dir.idx()] = Vec::new();
                }
            }
            Chunk::End { .. } => {
                if !self.decided[dir.idx()] && !self.head[dir.idx()].is_empty() {
                    self.classify(meta, dir);
                }
            }
        }
    }

    fn finish(&mut self, _meta: &ConnMeta, _out: &mut dyn Sink) -> ConnProto {
        ConnProto {
            protocol: self.proto.unwrap_or("unknown"),
            sni: None,
            alpn: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs() {
        assert_eq!(sniff(b"GET /mqtt HTTP/1.1\r\n"), Sniff::HttpRequest);
        assert_eq!(sniff(b"GE"), Sniff::NeedMore);
        assert_eq!(sniff(b"HTTP/1.1 101"), Sniff::HttpResponse);
        assert_eq!(sniff(b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c"), Sniff::MqttConnect);
        assert_eq!(sniff(b"\x10\x0e\x00\x06MQIsdp\x03"), Sniff::MqttConnect);
        assert_eq!(sniff(b"\x10\x0c\x00\x04MQ"), Sniff::NeedMore);
        assert_eq!(sniff(b"\x16\x03\x01\x00\xa5\x01"), Sniff::TlsClientHello);
        assert_eq!(sniff(b"SSH-2.0-OpenSSH"), Sniff::Unknown);
        let all = b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c";
        for n in 0..all.len() {
            assert_ne!(sniff(&all[..n]), Sniff::Unknown, "prefix {n}");
        }
    }
}
