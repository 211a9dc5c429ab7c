//! `wire`: link layer -> IP -> TCP views over captured bytes.
//!
//! Slicing is lax (etherparse's `LaxSlicedPacket`): a frame cut by the
//! snaplen still yields the part of its TCP payload that was captured, and
//! the length the headers claim, so reassembly can report the rest as a gap.
//! Checksums are never validated (loopback captures carry unfinished ones).

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
#[derive(Clone, Debug)]
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

/// A fragment of a fragmented IPv4 datagram carrying TCP.
#[derive(Clone, Debug)]
pub struct Fragment<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub id: u32,
    /// Offset of this fragment's payload in bytes.
    pub offset: u32,
    pub more: bool,
    pub payload: &'a [u8],
}

/// What a record turned out to be.
#[derive(Debug)]
pub enum Decoded<'a> {
    Tcp(Segment<'a>),
    Fragment(Fragment<'a>),
    /// IP but not TCP (UDP, ICMP...), ARP, or anything else understood.
    Other,
    /// A link type this tool does not decode.
    UnsupportedLink,
    /// Headers cut short or invalid (`what` says which).
    Malformed(&'static str),
}

/// Decode one captured frame. `orig_len` is the frame's length on the wire:
/// a header claiming more than the frame held is capped to it (as tshark does).
pub fn decode(linktype: Linktype, data: &[u8], orig_len: u32) -> Decoded<'_> {
    let mut d = decode_link(linktype, data);
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

fn decode_link(linktype: Linktype, data: &[u8]) -> Decoded<'_> {
    match linktype.base().0 {
        1 => from_ethernet(data, 0),
        // BSD NULL / LOOP: 4-byte address family, then IP; the version nibble decides.
        0 | 108 => match data.get(4..) {
            Some(rest) => from_ip(rest, 0),
            None => Decoded::Malformed("loopback header cut short"),
        },
        12 | 14 | 101 | 228 | 229 => from_ip(data, 0),
        239 => nflog(data),
        105 => ieee80211(data),
        127 => {
            // radiotap: its own length, then an 802.11 frame
            let len = data
                .get(2..4)
                .map(|l| u16::from_le_bytes([l[0], l[1]]) as usize);
            match len.and_then(|l| data.get(l..)) {
                Some(rest) => ieee80211(rest),
                None => Decoded::Malformed("radiotap header cut short"),
            }
        }
        113 => match (data.get(14..16), data.get(16..)) {
            (Some(p), Some(rest)) => {
                from_ether_type(EtherType(u16::from_be_bytes([p[0], p[1]])), rest, 0)
            }
            _ => Decoded::Malformed("linux cooked header cut short"),
        },
        276 => match (data.get(0..2), data.get(20..)) {
            (Some(p), Some(rest)) => {
                from_ether_type(EtherType(u16::from_be_bytes([p[0], p[1]])), rest, 0)
            }
            _ => Decoded::Malformed("linux cooked v2 header cut short"),
        },
        _ => Decoded::UnsupportedLink,
    }
}

/// NFLOG: a 4-byte header, then TLVs (little-endian length and type,
/// padded to 4 bytes); type 9 holds the packet from its IP header.
fn nflog(data: &[u8]) -> Decoded<'_> {
    let mut i = 4;
    while let Some(h) = data.get(i..i + 4) {
        let len = u16::from_le_bytes([h[0], h[1]]) as usize;
        let ty = u16::from_le_bytes([h[2], h[3]]) & 0x7fff;
        if len < 4 {
            return Decoded::Malformed("NFLOG TLV of length under 4");
        }
        if ty == 9 {
            let end = (i + len).min(data.len());
            return from_ip(&data[i + 4..end], 0);
        }
        i += (len + 3) & !3;
    }
    Decoded::Other
}

/// IEEE 802.11 data frames with an LLC/SNAP header (unencrypted only).
fn ieee80211(data: &[u8]) -> Decoded<'_> {
    let Some(&fc0) = data.first() else {
        return Decoded::Malformed("802.11 header cut short");
    };
    let fc1 = data.get(1).copied().unwrap_or(0);
    if (fc0 >> 2) & 3 != 2 || fc1 & 0x40 != 0 {
        // not data, or protected
        return Decoded::Other;
    }
    let mut hl = 24;
    if fc1 & 3 == 3 {
        hl += 6; // four addresses
    }
    if fc0 & 0x80 != 0 {
        hl += 2; // QoS control
        if fc1 & 0x80 != 0 {
            hl += 4; // HT control
        }
    }
    match data.get(hl..hl + 8) {
        Some([0xaa, 0xaa, 0x03, 0, 0, 0, a, b]) => {
            from_ether_type(EtherType(u16::from_be_bytes([*a, *b])), &data[hl + 8..], 0)
        }
        Some(_) => Decoded::Other,
        None => Decoded::Malformed("802.11 header cut short"),
    }
}

/// Tunnels nest at most this deep (hostile captures can nest forever).
const MAX_DEPTH: u8 = 4;

fn from_ethernet(data: &[u8], depth: u8) -> Decoded<'_> {
    match LaxSlicedPacket::from_ethernet(data) {
        Ok(p) => from_sliced(p, depth),
        Err(_) => Decoded::Malformed("ethernet header cut short"),
    }
}

fn from_ether_type(et: EtherType, rest: &[u8], depth: u8) -> Decoded<'_> {
    from_sliced(LaxSlicedPacket::from_ether_type(et, rest), depth)
}

fn from_ip(data: &[u8], depth: u8) -> Decoded<'_> {
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

/// Link-level encapsulations etherparse leaves alone: PPPoE sessions and MPLS.
fn tunnel_ether<'a>(et: EtherType, pl: &'a [u8], depth: u8) -> Decoded<'a> {
    if depth >= MAX_DEPTH {
        return Decoded::Other;
    }
    match et.0 {
        // PPP protocol: 2 bytes, or 1 with protocol-field compression (odd first byte).
        0x8864 => match (pl.get(6), pl.get(7)) {
            (Some(0x21 | 0x57), _) => from_ip(&pl[7..], depth + 1),
            (Some(0x00), Some(0x21 | 0x57)) => from_ip(pl.get(8..).unwrap_or(&[]), depth + 1),
            _ => Decoded::Other,
        },
        0x8847 | 0x8848 => {
            let mut i = 0;
            while let Some(l) = pl.get(i..i + 4) {
                i += 4;
                if l[2] & 1 == 1 {
                    return match pl.get(i).map(|b| b >> 4) {
                        Some(4) | Some(6) => from_ip(&pl[i..], depth + 1),
                        // Ethernet pseudowire with a zero control word.
                        Some(0) => from_ethernet(pl.get(i + 4..).unwrap_or(&[]), depth + 1),
                        _ => Decoded::Other,
                    };
                }
            }
            Decoded::Malformed("MPLS label stack cut short")
        }
        _ => Decoded::Other,
    }
}

/// UDP tunnels: GTP-U (2152) and VXLAN (4789).
fn tunnel_udp(udp: &[u8], depth: u8) -> Decoded<'_> {
    if depth >= MAX_DEPTH || udp.len() < 8 {
        return Decoded::Other;
    }
    let sport = u16::from_be_bytes([udp[0], udp[1]]);
    let dport = u16::from_be_bytes([udp[2], udp[3]]);
    let body = &udp[8..];
    if sport == 2152 || dport == 2152 {
        // GTPv1-U G-PDU
        let (Some(&flags), Some(&ty)) = (body.first(), body.get(1)) else {
            return Decoded::Other;
        };
        if flags >> 5 != 1 || ty != 0xff {
            return Decoded::Other;
        }
        let mut i = 8;
        if flags & 0x07 != 0 {
            let mut next = body.get(11).copied().unwrap_or(0);
            i = 12;
            while next != 0 {
                let Some(&n) = body.get(i) else {
                    return Decoded::Malformed("GTP extension header cut short");
                };
                if n == 0 {
                    return Decoded::Malformed("GTP extension header of length 0");
                }
                i += n as usize * 4;
                next = body.get(i - 1).copied().unwrap_or(0);
            }
        }
        return match body.get(i..) {
            Some(ip) if !ip.is_empty() => from_ip(ip, depth + 1),
            _ => Decoded::Other,
        };
    }
    if dport == 4789 && body.len() > 8 && body[0] & 0x08 != 0 {
        return from_ethernet(&body[8..], depth + 1);
    }
    Decoded::Other
}

fn from_sliced(p: LaxSlicedPacket<'_>, depth: u8) -> Decoded<'_> {
    let Some(net) = p.net else {
        return match innermost_ether(&p) {
            Some((et, pl)) => tunnel_ether(et, pl, depth),
            None => Decoded::Other,
        };
    };
    let (src, dst, pl, claimed_ip_payload) = match &net {
        LaxNetSlice::Ipv4(v4) => {
            let h = v4.header();
            let pl = v4.payload();
            if pl.ip_number == IpNumber::UDP && !pl.fragmented {
                return tunnel_udp(pl.payload, depth);
            }
            if pl.ip_number != IpNumber::TCP {
                return Decoded::Other;
            }
            if pl.fragmented {
                return Decoded::Fragment(Fragment {
                    src: IpAddr::V4(h.source_addr()),
                    dst: IpAddr::V4(h.destination_addr()),
                    id: h.identification() as u32,
                    offset: u32::from(h.fragments_offset().value()) * 8,
                    more: h.more_fragments(),
                    payload: pl.payload,
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
            if pl.ip_number == IpNumber::UDP && !pl.fragmented {
                return tunnel_udp(pl.payload, depth);
            }
            if pl.ip_number != IpNumber::TCP {
                return Decoded::Other;
            }
            if pl.fragmented {
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
        LaxNetSlice::Arp(_) => return Decoded::Other,
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

/// Decode TCP from a reassembled IPv4 payload.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ipv4_tcp(payload: &[u8], flags: u8) -> Vec<u8> {
        let mut v = vec![
            0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 6, 0, 0, 127, 0, 0, 1, 127, 0, 0, 2,
        ];
        let total = (20 + 20 + payload.len()) as u16;
        v[2..4].copy_from_slice(&total.to_be_bytes());
        v.extend_from_slice(&[0x30, 0x39, 0x07, 0x5b]); // 12345 -> 1883
        v.extend_from_slice(&1000u32.to_be_bytes());
        v.extend_from_slice(&0u32.to_be_bytes());
        v.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn raw_ip_segment() {
        let pkt = ipv4_tcp(b"hello", flags::PSH | flags::ACK);
        match decode(Linktype::RAW, &pkt, pkt.len() as u32) {
            Decoded::Tcp(s) => {
                assert_eq!(s.sport, 12345);
                assert_eq!(s.dport, 1883);
                assert_eq!(s.seq, 1000);
                assert_eq!(s.payload, b"hello");
                assert_eq!(s.claimed_len, 5);
                assert!(s.has(flags::ACK));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn snaplen_cut_keeps_partial_payload() {
        let pkt = ipv4_tcp(b"hello world", 0x18);
        let cut = &pkt[..pkt.len() - 6];
        match decode(Linktype::RAW, cut, pkt.len() as u32) {
            Decoded::Tcp(s) => {
                assert_eq!(s.payload, b"hello");
                assert_eq!(s.claimed_len, 11);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_prefix_never_panics() {
        let mut eth = vec![0u8; 12];
        eth.extend_from_slice(&[0x81, 0x00, 0, 5, 0x08, 0x00]); // VLAN 5, IPv4
        eth.extend_from_slice(&ipv4_tcp(b"GET / HTTP/1.1\r\n", 0x18));
        for lt in [0u32, 1, 101, 113, 276, 228, 229, 9999] {
            for n in 0..=eth.len() {
                let _ = decode(Linktype(lt), &eth[..n], eth.len() as u32);
                let _ = decode(Linktype(lt), &eth[..n], n as u32);
            }
        }
        match decode(Linktype::ETHERNET, &eth, eth.len() as u32) {
            Decoded::Tcp(s) => assert_eq!(s.payload, b"GET / HTTP/1.1\r\n"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn endpoints() {
        assert_eq!(endpoint(&"127.0.0.1".parse().unwrap(), 80), "127.0.0.1:80");
        assert_eq!(endpoint(&"::1".parse().unwrap(), 80), "[::1]:80");
    }
}
