//! Small in-memory capture builders for tests (pcap with Ethernet/IPv4/TCP,
//! and raw pcapng blocks).
#![allow(dead_code)]

pub type Ep = ([u8; 4], u16);

/// A classic little-endian pcap, microsecond timestamps.
pub struct Pcap {
    pub bytes: Vec<u8>,
    n: u32,
}

impl Pcap {
    pub fn new() -> Self {
        Self::with_snaplen(65_535)
    }

    pub fn with_snaplen(snaplen: u32) -> Self {
        let mut bytes = Vec::with_capacity(1 << 16);
        bytes.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        bytes.extend_from_slice(&2u16.to_le_bytes());
        bytes.extend_from_slice(&4u16.to_le_bytes());
        bytes.extend_from_slice(&[0; 8]);
        bytes.extend_from_slice(&snaplen.to_le_bytes());
        bytes.extend_from_slice(&1u32.to_le_bytes()); // Ethernet
        Pcap { bytes, n: 0 }
    }

    /// A record with explicit caplen / orig_len fields (data as given).
    pub fn raw_record(&mut self, caplen: u32, orig_len: u32, data: &[u8]) {
        self.n += 1;
        let t = self.n;
        self.bytes
            .extend_from_slice(&(1_700_000_000 + t / 1_000_000).to_le_bytes());
        self.bytes.extend_from_slice(&(t % 1_000_000).to_le_bytes());
        self.bytes.extend_from_slice(&caplen.to_le_bytes());
        self.bytes.extend_from_slice(&orig_len.to_le_bytes());
        self.bytes.extend_from_slice(data);
    }

    pub fn record(&mut self, data: &[u8]) {
        self.raw_record(data.len() as u32, data.len() as u32, data);
    }

    pub fn tcp(&mut self, src: Ep, dst: Ep, seq: u32, ack: u32, flags: u8, payload: &[u8]) {
        let f = eth_tcp(src, dst, seq, ack, flags, payload);
        self.record(&f);
    }
}

pub const SYN: u8 = 0x02;
pub const ACK: u8 = 0x10;
pub const PSH_ACK: u8 = 0x18;
pub const SYN_ACK: u8 = 0x12;
pub const FIN_ACK: u8 = 0x11;

/// One Ethernet II / IPv4 / TCP frame.
pub fn eth_tcp(src: Ep, dst: Ep, seq: u32, ack: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let ip_len = 40 + payload.len();
    let mut f = Vec::with_capacity(14 + ip_len);
    f.extend_from_slice(&[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00]);
    f.extend_from_slice(&[0x45, 0]);
    f.extend_from_slice(&(ip_len as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0, 0x40, 0, 64, 6, 0, 0]);
    f.extend_from_slice(&src.0);
    f.extend_from_slice(&dst.0);
    f.extend_from_slice(&src.1.to_be_bytes());
    f.extend_from_slice(&dst.1.to_be_bytes());
    f.extend_from_slice(&seq.to_be_bytes());
    f.extend_from_slice(&ack.to_be_bytes());
    f.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    f.extend_from_slice(payload);
    f
}

/// A TCP conversation with a handshake; `send` appends in-order data.
pub struct Conv {
    pub c: Ep,
    pub s: Ep,
    pub next: [u32; 2],
}

impl Conv {
    pub fn open(p: &mut Pcap, c: Ep, s: Ep) -> Conv {
        let (ic, is) = (1_000u32, 500_000u32);
        p.tcp(c, s, ic, 0, SYN, &[]);
        p.tcp(s, c, is, ic + 1, SYN_ACK, &[]);
        p.tcp(c, s, ic + 1, is + 1, ACK, &[]);
        Conv {
            c,
            s,
            next: [ic + 1, is + 1],
        }
    }

    /// `dir` 0: client to server, 1: server to client.
    pub fn send(&mut self, p: &mut Pcap, dir: usize, payload: &[u8]) {
        let (a, b) = if dir == 0 {
            (self.c, self.s)
        } else {
            (self.s, self.c)
        };
        p.tcp(a, b, self.next[dir], self.next[1 - dir], PSH_ACK, payload);
        self.next[dir] = self.next[dir].wrapping_add(payload.len() as u32);
    }

    pub fn close(&mut self, p: &mut Pcap) {
        for dir in [0, 1] {
            let (a, b) = if dir == 0 {
                (self.c, self.s)
            } else {
                (self.s, self.c)
            };
            p.tcp(a, b, self.next[dir], self.next[1 - dir], FIN_ACK, &[]);
            self.next[dir] = self.next[dir].wrapping_add(1);
        }
    }
}

/// pcapng little-endian blocks.
pub fn ng_block(btype: u32, body: &[u8]) -> Vec<u8> {
    let pad = (4 - body.len() % 4) % 4;
    let len = (12 + body.len() + pad) as u32;
    let mut b = Vec::new();
    b.extend_from_slice(&btype.to_le_bytes());
    b.extend_from_slice(&len.to_le_bytes());
    b.extend_from_slice(body);
    b.extend_from_slice(&vec![0; pad]);
    b.extend_from_slice(&len.to_le_bytes());
    b
}

pub fn ng_shb() -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&0x1A2B_3C4Du32.to_le_bytes());
    body.extend_from_slice(&1u16.to_le_bytes());
    body.extend_from_slice(&0u16.to_le_bytes());
    body.extend_from_slice(&(-1i64).to_le_bytes());
    ng_block(0x0A0D_0D0A, &body)
}

pub fn ng_idb(linktype: u16, snaplen: u32) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&linktype.to_le_bytes());
    body.extend_from_slice(&0u16.to_le_bytes());
    body.extend_from_slice(&snaplen.to_le_bytes());
    ng_block(1, &body)
}

pub fn ng_epb(iface: u32, data: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&iface.to_le_bytes());
    body.extend_from_slice(&0u32.to_le_bytes());
    body.extend_from_slice(&1u32.to_le_bytes());
    body.extend_from_slice(&(data.len() as u32).to_le_bytes());
    body.extend_from_slice(&(data.len() as u32).to_le_bytes());
    body.extend_from_slice(data);
    ng_block(6, &body)
}

/// A valid WebSocket upgrade request and 101 response (deflate optional).
pub fn upgrade(deflate: bool) -> (Vec<u8>, Vec<u8>) {
    let ext = if deflate {
        "Sec-WebSocket-Extensions: permessage-deflate\r\n"
    } else {
        ""
    };
    let req = format!(
        "GET /mqtt HTTP/1.1\r\nHost: broker:8083\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Protocol: mqtt\r\n{ext}\r\n"
    );
    let resp = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: mqtt\r\n{ext}\r\n"
    );
    (req.into_bytes(), resp.into_bytes())
}

/// A masked client frame.
pub fn ws_client(first: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![first];
    let n = payload.len();
    if n < 126 {
        f.push(0x80 | n as u8);
    } else if n < 65_536 {
        f.push(0x80 | 126);
        f.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        f.push(0x80 | 127);
        f.extend_from_slice(&(n as u64).to_be_bytes());
    }
    f.extend_from_slice(&[0, 0, 0, 0]);
    f.extend_from_slice(payload);
    f
}

/// An unmasked server frame.
pub fn ws_server(first: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![first];
    let n = payload.len();
    if n < 126 {
        f.push(n as u8);
    } else if n < 65_536 {
        f.push(126);
        f.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        f.push(127);
        f.extend_from_slice(&(n as u64).to_be_bytes());
    }
    f.extend_from_slice(payload);
    f
}

/// MQTT 3.1.1 CONNECT.
pub fn mqtt_connect() -> Vec<u8> {
    let body = b"\x00\x04MQTT\x04\x02\x00\x3c\x00\x03dev";
    let mut p = vec![0x10, body.len() as u8];
    p.extend_from_slice(body);
    p
}
