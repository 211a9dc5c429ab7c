//! `wire`: link layer -> tunnels -> IP -> TCP views over captured bytes.
//!
//! `link` decodes the link layers, `tunnel` the encapsulations between them
//! and the innermost IP (bounded by [`MAX_TUNNEL_DEPTH`]); a packet that does
//! not end in TCP says why ([`Skip`]), so the analysis can count what it did
//! not decode.
//!
//! Slicing is lax (etherparse's `LaxSlicedPacket`): a frame cut by the
//! snaplen still yields the part of its TCP payload that was captured, and
//! the length the headers claim, so reassembly can report the rest as a gap.
//! Checksums are never validated (loopback captures carry unfinished ones).

mod fast;
mod link;
mod skip;
mod tunnel;

pub use link::DECODED_LINKTYPES;
pub use skip::Skip;
pub use tunnel::MAX_GRE_SRES;

use crate::capture::Linktype;
use etherparse::{
    EtherType, IpNumber, LaxLinkExtSlice, LaxNetSlice, LaxSlicedPacket, LinkSlice, TcpSlice,
    TransportSlice,
};
use std::net::IpAddr;

/// TCP flag bits as on the wire.
pub mod flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
}

/// One TCP segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    /// Captured payload bytes (may be fewer than `claimed_len`).
    pub payload: &'a [u8],
    /// Payload length according to the IP and TCP headers.
    pub claimed_len: u32,
    /// tshark's `tcp.len` (differs from `claimed_len` only for a bogus header).
    pub wire_len: u32,
}

impl Segment<'_> {
    pub fn has(&self, f: u8) -> bool {
        self.flags & f != 0
    }
}

/// A fragment of a fragmented IPv4 or IPv6 datagram whose protocol may
/// carry TCP (TCP itself, or a tunnel: see `tunnel::reassembled`).
#[derive(Clone, Debug)]
pub struct Fragment<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// Reassembly key: IPv4 identification with the protocol in bits 16-23
    /// (RFC 791 keys on both), or the IPv6 fragment identification.
    pub id: u32,
    /// Offset of this fragment's payload in bytes.
    pub offset: u32,
    pub more: bool,
    pub payload: &'a [u8],
    /// IP protocol of the datagram.
    pub proto: u8,
    /// Tunnel depth of the IP header that was fragmented.
    pub depth: u8,
}

/// What a record turned out to be.
#[derive(Debug)]
pub enum Decoded<'a> {
    Tcp(Segment<'a>),
    Fragment(Fragment<'a>),
    /// Not decoded down to TCP, and why: not TCP at all (UDP, ICMP, ARP...),
    /// or an encapsulation or link type this tool does not decode.
    Skipped(Skip),
    /// Headers cut short or invalid (`what` says which).
    Malformed(&'static str),
}

/// Tunnels (IP-in-IP, GRE, ERSPAN, MPLS, PPPoE, VXLAN, GTP-U, EtherIP...)
/// nest at most this deep; deeper packets are counted as
/// [`Skip::DepthLimit`] (hostile captures can nest forever).
pub const MAX_TUNNEL_DEPTH: u8 = 8;

/// Decode one captured frame. `orig_len` is the frame's length on the wire:
/// a header claiming more than the frame held is capped to it (as tshark does).
pub fn decode(linktype: Linktype, data: &[u8], orig_len: u32) -> Decoded<'_> {
    let mut d = link::decode_link(linktype, data, 0);
    if let Decoded::Tcp(s) = &mut d {
        let missing = (orig_len as usize).saturating_sub(data.len()) as u32;
        let most = s.payload.len() as u32 + missing;
        if s.claimed_len > 0 {
            // (A bogus header carries no payload; its wire_len stays as tshark computes it.)
            s.claimed_len = s.claimed_len.min(most);
            s.wire_len = s.claimed_len;
        }
    }
    d
}

#[inline]
fn from_ethernet(data: &[u8], depth: u8) -> Decoded<'_> {
    match fast::ethernet(data) {
        Some(f) => from_fast(f, depth),
        None => slow_ethernet(data, depth),
    }
}

/// A fast-path result as the general way would give it.
#[inline]
fn from_fast(f: fast::Fast<'_>, depth: u8) -> Decoded<'_> {
    match f {
        fast::Fast::Tcp(s) => Decoded::Tcp(s),
        fast::Fast::Other { proto, payload, v6 } => tunnel::ip_payload(proto, payload, v6, depth),
    }
}

/// [`from_ethernet`] without the fast path.
fn slow_ethernet(data: &[u8], depth: u8) -> Decoded<'_> {
    match LaxSlicedPacket::from_ethernet(data) {
        Ok(p) => from_sliced(p, depth),
        Err(_) => Decoded::Malformed("ethernet header cut short"),
    }
}

fn from_ether_type(et: EtherType, rest: &[u8], depth: u8) -> Decoded<'_> {
    from_sliced(LaxSlicedPacket::from_ether_type(et, rest), depth)
}

#[inline]
fn from_ip(data: &[u8], depth: u8) -> Decoded<'_> {
    match fast::ip(data) {
        Some(f) => from_fast(f, depth),
        None => slow_ip(data, depth),
    }
}

/// [`from_ip`] without the fast path.
fn slow_ip(data: &[u8], depth: u8) -> Decoded<'_> {
    match LaxSlicedPacket::from_ip(data) {
        Ok(p) => from_sliced(p, depth),
        Err(_) => Decoded::Malformed("IP header cut short or invalid"),
    }
}

/// The ether type and payload after Ethernet and VLAN tags.
fn innermost_ether<'a>(p: &LaxSlicedPacket<'a>) -> Option<(EtherType, &'a [u8])> {
    if let Some(last) = p.link_exts.last() {
        return match last {
            LaxLinkExtSlice::Vlan(v) => {
                let e = v.payload();
                Some((e.ether_type, e.payload))
            }
            LaxLinkExtSlice::Macsec(_) => None,
        };
    }
    match &p.link {
        Some(LinkSlice::Ethernet2(e)) => {
            let e = e.payload();
            Some((e.ether_type, e.payload))
        }
        Some(LinkSlice::EtherPayload(e)) => Some((e.ether_type, e.payload)),
        _ => None,
    }
}

#[inline]
fn from_sliced(p: LaxSlicedPacket<'_>, depth: u8) -> Decoded<'_> {
    let Some(net) = p.net else {
        return match innermost_ether(&p) {
            Some((et, pl)) => tunnel::ether(et, pl, depth),
            // MACsec without a readable payload (encrypted)
            None if matches!(p.link_exts.last(), Some(LaxLinkExtSlice::Macsec(_))) => {
                Decoded::Skipped(Skip::EtherType(0x88e5))
            }
            None => Decoded::Malformed("link header cut short"),
        };
    };
    let (src, dst, pl, claimed_ip_payload) = match &net {
        LaxNetSlice::Ipv4(v4) => {
            let h = v4.header();
            let pl = v4.payload();
            if pl.ip_number != IpNumber::TCP || pl.fragmented {
                let proto = pl.ip_number.0;
                if !pl.fragmented {
                    return tunnel::ip_payload(proto, pl.payload, false, depth);
                }
                if !tunnel::reassembled(proto) {
                    return Decoded::Skipped(non_tcp_fragment(proto, false));
                }
                return Decoded::Fragment(Fragment {
                    src: IpAddr::V4(h.source_addr()),
                    dst: IpAddr::V4(h.destination_addr()),
                    id: u32::from(h.identification()) | (u32::from(proto) << 16),
                    offset: u32::from(h.fragments_offset().value()) * 8,
                    more: h.more_fragments(),
                    payload: pl.payload,
                    proto,
                    depth,
                });
            }
            let hl = usize::from(h.ihl()) * 4;
            let total = usize::from(h.total_len());
            let claimed = if pl.incomplete && total > hl {
                total - hl
            } else {
                pl.payload.len()
            };
            (
                IpAddr::V4(h.source_addr()),
                IpAddr::V4(h.destination_addr()),
                pl.payload,
                claimed,
            )
        }
        LaxNetSlice::Ipv6(v6) => {
            let h = v6.header();
            let pl = v6.payload();
            if pl.ip_number != IpNumber::TCP || pl.fragmented {
                let proto = pl.ip_number.0;
                if !pl.fragmented {
                    return tunnel::ip_payload(proto, pl.payload, true, depth);
                }
                if !tunnel::reassembled(proto) {
                    return Decoded::Skipped(non_tcp_fragment(proto, true));
                }
                let frag = v6.extensions().clone().into_iter().find_map(|e| match e {
                    etherparse::Ipv6ExtensionSlice::Fragment(f) => Some(f),
                    _ => None,
                });
                return match frag {
                    Some(f) => Decoded::Fragment(Fragment {
                        src: IpAddr::V6(h.source_addr()),
                        dst: IpAddr::V6(h.destination_addr()),
                        id: f.identification(),
                        offset: u32::from(f.fragment_offset().value()) * 8,
                        more: f.more_fragments(),
                        payload: pl.payload,
                        proto,
                        depth,
                    }),
                    None => Decoded::Malformed("IPv6 fragment header not found"),
                };
            }
            let declared = usize::from(h.payload_length());
            let exts = v6.extensions().slice().len();
            let claimed = if pl.incomplete && declared > exts {
                declared - exts
            } else {
                pl.payload.len()
            };
            (
                IpAddr::V6(h.source_addr()),
                IpAddr::V6(h.destination_addr()),
                pl.payload,
                claimed,
            )
        }
        LaxNetSlice::Arp(_) => return Decoded::Skipped(Skip::Arp),
    };
    // etherparse may already have sliced TCP; slice it ourselves either way so
    // a TCP header is accepted even when its payload was cut.
    let tcp = match p.transport {
        Some(TransportSlice::Tcp(t)) => t,
        _ => match TcpSlice::from_slice(pl) {
            Ok(t) => t,
            Err(_) => return bogus_segment(src, dst, pl, claimed_ip_payload),
        },
    };
    segment(src, dst, &tcp, claimed_ip_payload)
}

/// A fragment of a datagram that is not reassembled (UDP, ICMP...).
fn non_tcp_fragment(proto: u8, v6: bool) -> Skip {
    match proto {
        17 => Skip::Udp { port: 0 },
        p => Skip::IpProto { proto: p, v6 },
    }
}

/// A TCP header that is cut short or claims a length under 20 bytes.
/// Wireshark still files it under a stream when ports, sequence numbers and
/// flags are there; so do we, without payload.
fn bogus_segment(src: IpAddr, dst: IpAddr, pl: &[u8], claimed_ip: usize) -> Decoded<'_> {
    let Some(h) = pl.get(..14) else {
        return Decoded::Malformed("TCP header cut short or invalid");
    };
    let be32 = |i: usize| u32::from_be_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
    let hl = usize::from(h[12] >> 4) * 4;
    Decoded::Tcp(Segment {
        src,
        dst,
        sport: u16::from_be_bytes([h[0], h[1]]),
        dport: u16::from_be_bytes([h[2], h[3]]),
        seq: be32(4),
        ack: be32(8),
        flags: h[13],
        payload: &[],
        claimed_len: 0,
        wire_len: u32::try_from(claimed_ip.saturating_sub(hl)).unwrap_or(u32::MAX),
    })
}

fn segment<'a>(src: IpAddr, dst: IpAddr, tcp: &TcpSlice<'a>, claimed_ip: usize) -> Decoded<'a> {
    let hl = usize::from(tcp.data_offset()) * 4;
    let payload = tcp.payload();
    let claimed = claimed_ip.saturating_sub(hl).max(payload.len());
    let flags = tcp.slice().get(13).copied().unwrap_or(0);
    Decoded::Tcp(Segment {
        src,
        dst,
        sport: tcp.source_port(),
        dport: tcp.destination_port(),
        seq: tcp.sequence_number(),
        ack: tcp.acknowledgment_number(),
        flags,
        payload,
        claimed_len: u32::try_from(claimed).unwrap_or(u32::MAX),
        wire_len: u32::try_from(claimed).unwrap_or(u32::MAX),
    })
}

/// Decode a reassembled IP datagram's payload of protocol `proto` (TCP, or
/// a tunnel whose fragments were reassembled), found at tunnel depth `depth`.
pub fn from_reassembled(
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    depth: u8,
    data: &[u8],
) -> Decoded<'_> {
    if proto == 6 {
        return tcp_from_reassembled(src, dst, data);
    }
    tunnel::ip_payload(proto, data, src.is_ipv6(), depth)
}

/// Decode TCP from a reassembled IP payload.
pub fn tcp_from_reassembled(src: IpAddr, dst: IpAddr, data: &[u8]) -> Decoded<'_> {
    match TcpSlice::from_slice(data) {
        Ok(t) => segment(src, dst, &t, data.len()),
        Err(_) => Decoded::Malformed("TCP header cut short or invalid"),
    }
}

/// `ip:port`, IPv6 in brackets, as the JSON Lines spec writes endpoints.
pub fn endpoint(ip: &IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V4(a) => format!("{a}:{port}"),
        IpAddr::V6(a) => format!("[{a}]:{port}"),
    }
}

/// The fast path and the general one agree: `Some` from the fast path is
/// what the general path decodes (for tests and the `wire` fuzz target).
/// Returns whether the fast path took the frame.
pub fn fast_path_agrees(ethernet: bool, data: &[u8]) -> bool {
    let (fast, slow) = if ethernet {
        (fast::ethernet(data), slow_ethernet(data, 0))
    } else {
        (fast::ip(data), slow_ip(data, 0))
    };
    let Some(f) = fast else {
        return false;
    };
    let took = format!("{f:?}");
    let fast = format!("{:?}", from_fast(f, 0));
    let slow = format!("{slow:?}");
    assert_eq!(
        fast, slow,
        "fast path differs from the general one (it took {took})"
    );
    true
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    const TCP_HDR: [u8; 20] = [
        0x30, 0x39, 0x07, 0x5b, 0, 0, 0x03, 0xe8, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0,
    ];

    /// An IPv4 header (no options) of protocol `proto` around `payload`.
    pub(crate) fn ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, proto, 0, 0];
        let total = (20 + payload.len()) as u16;
        v[2..4].copy_from_slice(&total.to_be_bytes());
        v.extend_from_slice(&src);
        v.extend_from_slice(&dst);
        v.extend_from_slice(payload);
        v
    }

    /// An IPv6 header (fd00::1 -> fd00::2) with next header `next`.
    pub(crate) fn ipv6(next: u8, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![0x60, 0, 0, 0];
        v.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        v.extend_from_slice(&[next, 64]);
        let mut a = [0u8; 16];
        a[0] = 0xfd;
        a[15] = 1;
        v.extend_from_slice(&a);
        a[15] = 2;
        v.extend_from_slice(&a);
        v.extend_from_slice(payload);
        v
    }

    /// Ethernet (zero MACs) with EtherType `et`.
    pub(crate) fn eth(et: u16, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![0u8; 12];
        v.extend_from_slice(&et.to_be_bytes());
        v.extend_from_slice(payload);
        v
    }

    /// 10.1.1.1:12345 -> 10.1.1.2:1883, PSH+ACK, seq 1000.
    pub(crate) fn ipv4_tcp(payload: &[u8]) -> Vec<u8> {
        let mut t = TCP_HDR.to_vec();
        t.extend_from_slice(payload);
        ipv4([10, 1, 1, 1], [10, 1, 1, 2], 6, &t)
    }

    /// fd00::1:12345 -> fd00::2:1883.
    pub(crate) fn ipv6_tcp(payload: &[u8]) -> Vec<u8> {
        let mut t = TCP_HDR.to_vec();
        t.extend_from_slice(payload);
        ipv6(6, &t)
    }

    pub(crate) fn tcp_of(d: Decoded<'_>) -> Segment<'_> {
        match d {
            Decoded::Tcp(s) => s,
            other => panic!("expected TCP, got {other:?}"),
        }
    }

    #[test]
    fn raw_ip_segment() {
        let pkt = ipv4_tcp(b"hello");
        let s = tcp_of(decode(Linktype::RAW, &pkt, pkt.len() as u32));
        assert_eq!(s.sport, 12345);
        assert_eq!(s.dport, 1883);
        assert_eq!(s.seq, 1000);
        assert_eq!(s.payload, b"hello");
        assert_eq!(s.claimed_len, 5);
        assert!(s.has(flags::ACK));
    }

    #[test]
    fn snaplen_cut_keeps_partial_payload() {
        let pkt = ipv4_tcp(b"hello world");
        let cut = &pkt[..pkt.len() - 6];
        let s = tcp_of(decode(Linktype::RAW, cut, pkt.len() as u32));
        assert_eq!(s.payload, b"hello");
        assert_eq!(s.claimed_len, 11);
    }

    #[test]
    fn every_prefix_never_panics() {
        let mut e = vec![0u8; 12];
        e.extend_from_slice(&[0x81, 0x00, 0, 5, 0x08, 0x00]); // VLAN 5, IPv4
        e.extend_from_slice(&ipv4_tcp(b"GET / HTTP/1.1\r\n"));
        for lt in [
            0u32, 1, 9, 101, 104, 105, 113, 127, 192, 276, 228, 229, 239, 9999,
        ] {
            for n in 0..=e.len() {
                let _ = decode(Linktype(lt), &e[..n], e.len() as u32);
                let _ = decode(Linktype(lt), &e[..n], n as u32);
            }
        }
        let s = tcp_of(decode(Linktype::ETHERNET, &e, e.len() as u32));
        assert_eq!(s.payload, b"GET / HTTP/1.1\r\n");
    }

    #[test]
    fn fragments_of_tunnels_are_reassembled_kinds() {
        // a GRE datagram's first fragment: MF set, offset 0
        let mut p = ipv4([192, 0, 2, 1], [192, 0, 2, 2], 47, &[0, 0, 8, 0, 0x45, 0]);
        p[6] = 0x20;
        match decode(Linktype::RAW, &p, 0) {
            Decoded::Fragment(f) => {
                assert_eq!(f.proto, 47);
                assert_eq!(f.id >> 16, 47);
            }
            other => panic!("{other:?}"),
        }
        // a UDP fragment is counted, not held
        let mut p = ipv4([192, 0, 2, 1], [192, 0, 2, 2], 17, &[0; 16]);
        p[6] = 0x20;
        assert!(matches!(
            decode(Linktype::RAW, &p, 0),
            Decoded::Skipped(Skip::Udp { port: 0 })
        ));
        // the reassembled GRE payload decodes through the tunnel
        let mut g = vec![0, 0, 8, 0];
        g.extend_from_slice(&ipv4_tcp(b"frag"));
        let src: IpAddr = "192.0.2.1".parse().unwrap();
        let s = tcp_of(from_reassembled(src, src, 47, 0, &g));
        assert_eq!(s.payload, b"frag");
    }

    #[test]
    fn endpoints() {
        assert_eq!(endpoint(&"127.0.0.1".parse().unwrap(), 80), "127.0.0.1:80");
        assert_eq!(endpoint(&"::1".parse().unwrap(), 80), "[::1]:80");
    }
}
