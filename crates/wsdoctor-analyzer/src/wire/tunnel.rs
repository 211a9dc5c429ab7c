//! Encapsulations below the link layer: what an EtherType, an IP protocol
//! or a UDP port carries when it is not plain IP/TCP.
//!
//! - IP in IP: IPv4 protocol 4 (IP-in-IP), 41 (6in4, `sit`), the same
//!   numbers as IPv6 next headers (4in6, 6in6);
//! - GRE (RFC 2784, with the RFC 2890 key and sequence number, RFC 1701
//!   routing, and the RFC 2637 enhanced GRE of PPTP with its
//!   acknowledgment number): IPv4, IPv6, MPLS, PPP, Transparent Ethernet
//!   Bridging (0x6558), ERSPAN (0x88be, 0x22eb);
//! - ERSPAN type I (no ERSPAN header: GRE flags and version all zero),
//!   type II (8-byte header, version 1), type III (12 bytes, version 2,
//!   plus an 8-byte platform-specific subheader when its O bit is set),
//!   told apart as Wireshark does (by the GRE flags, then the version);
//! - EtherIP (IP protocol 97), MPLS in IP (137), MPLS (with an Ethernet
//!   pseudowire), PPPoE sessions, PPP;
//! - UDP: GTP-U (2152) and VXLAN (4789).
//!
//! Every step into an encapsulation counts against [`MAX_TUNNEL_DEPTH`].

use super::skip::udp_key;
use super::{from_ether_type, from_ethernet, from_ip, Decoded, Skip, MAX_TUNNEL_DEPTH};
use etherparse::EtherType;

/// The depth inside one more encapsulation, or `None` at the limit.
fn deeper(depth: u8) -> Option<u8> {
    (depth < MAX_TUNNEL_DEPTH).then_some(depth + 1)
}

/// RFC 1701 source route entries accepted in one GRE header.
pub const MAX_GRE_SRES: usize = 64;

fn be16(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..at + 2).map(|x| u16::from_be_bytes([x[0], x[1]]))
}

/// IP protocols whose fragments are reassembled (they may carry TCP).
pub(super) fn reassembled(proto: u8) -> bool {
    matches!(proto, 6 | 4 | 41 | 47 | 97 | 137)
}

/// An IP packet of the version an encapsulation announced.
fn ip_of_version<'a>(version: u8, data: &'a [u8], depth: u8, what: &'static str) -> Decoded<'a> {
    match data.first().map(|b| b >> 4) {
        Some(v) if v == version => from_ip(data, depth),
        Some(_) => Decoded::Malformed(what),
        None => Decoded::Malformed("tunnel payload is empty"),
    }
}

/// The payload of an IP packet whose protocol is not TCP (or of a
/// reassembled datagram): tunnels, or a counted skip.
#[inline(never)]
pub(super) fn ip_payload(proto: u8, pl: &[u8], v6: bool, depth: u8) -> Decoded<'_> {
    match proto {
        17 => udp(pl, depth),
        4 | 41 | 47 | 97 | 137 => {
            let Some(d) = deeper(depth) else {
                return Decoded::Skipped(Skip::DepthLimit);
            };
            match proto {
                4 => ip_of_version(4, pl, d, "IP-in-IP payload is not IPv4"),
                41 => ip_of_version(6, pl, d, "IPv6-in-IP payload is not IPv6"),
                47 => gre(pl, v6, d),
                97 => match pl.first() {
                    // EtherIP (RFC 3378): version 3 in the high nibble, then Ethernet.
                    Some(b) if b >> 4 == 3 => from_ethernet(pl.get(2..).unwrap_or(&[]), d),
                    Some(_) => Decoded::Malformed("EtherIP header with a version other than 3"),
                    None => Decoded::Malformed("EtherIP header cut short"),
                },
                _ => mpls(pl, d),
            }
        }
        _ => Decoded::Skipped(Skip::IpProto { proto, v6 }),
    }
}

/// What follows an EtherType that etherparse did not slice into IP.
/// `depth` is the depth of the link that carried it.
#[inline(never)]
pub(super) fn ether(et: EtherType, pl: &[u8], depth: u8) -> Decoded<'_> {
    match et.0 {
        // etherparse stops here only when the IP header is invalid or cut.
        0x0800 | 0x86dd => Decoded::Malformed("IP header cut short or invalid"),
        // more VLAN tags than etherparse keeps
        0x8100 | 0x88a8 | 0x9100 => Decoded::Skipped(Skip::DepthLimit),
        0x0806 => Decoded::Skipped(Skip::Arp),
        0x8864 => match deeper(depth) {
            // PPPoE session: 6-byte header, then PPP without address/control.
            Some(d) => match pl.get(6..) {
                Some(ppp_bytes) if !ppp_bytes.is_empty() => ppp(ppp_bytes, d),
                _ => Decoded::Malformed("PPPoE header cut short"),
            },
            None => Decoded::Skipped(Skip::DepthLimit),
        },
        0x8847 | 0x8848 => match deeper(depth) {
            Some(d) => mpls(pl, d),
            None => Decoded::Skipped(Skip::DepthLimit),
        },
        0x6558 => match deeper(depth) {
            Some(d) => from_ethernet(pl, d),
            None => Decoded::Skipped(Skip::DepthLimit),
        },
        e if e <= 1500 => Decoded::Skipped(Skip::Llc),
        e => Decoded::Skipped(Skip::EtherType(e)),
    }
}

/// PPP from its protocol field (an address/control `ff 03` is skipped;
/// a 1-byte protocol means protocol-field compression).
pub(super) fn ppp(data: &[u8], depth: u8) -> Decoded<'_> {
    let d = match data {
        [0xff, 0x03, rest @ ..] => rest,
        _ => data,
    };
    let (proto, rest) = match d {
        [b, rest @ ..] if b & 1 == 1 => (u16::from(*b), rest),
        [a, b, rest @ ..] => (u16::from_be_bytes([*a, *b]), rest),
        _ => return Decoded::Malformed("PPP header cut short"),
    };
    match proto {
        0x0021 => ip_of_version(4, rest, depth, "PPP IPv4 payload is not IPv4"),
        0x0057 => ip_of_version(6, rest, depth, "PPP IPv6 payload is not IPv6"),
        0x0281 | 0x0283 => mpls(rest, depth),
        p if p >= 0x8000 => Decoded::Skipped(Skip::PppControl),
        p => Decoded::Skipped(Skip::Ppp(p)),
    }
}

/// An MPLS label stack, then IPv4, IPv6 or an Ethernet pseudowire (with
/// a zero control word).
fn mpls(pl: &[u8], depth: u8) -> Decoded<'_> {
    let mut i = 0;
    while let Some(l) = pl.get(i..i + 4) {
        i += 4;
        if l[2] & 1 == 1 {
            let rest = pl.get(i..).unwrap_or(&[]);
            return match rest.first().map(|b| b >> 4) {
                Some(4) | Some(6) => from_ip(rest, depth),
                Some(0) => from_ethernet(rest.get(4..).unwrap_or(&[]), depth),
                Some(_) => Decoded::Skipped(Skip::Mpls),
                None => Decoded::Malformed("MPLS payload is empty"),
            };
        }
    }
    Decoded::Malformed("MPLS label stack cut short")
}

/// GRE flag bits (the first 16 bits: flags, then version in the low 3).
mod gre_bits {
    pub const C: u16 = 0x8000;
    pub const R: u16 = 0x4000;
    pub const K: u16 = 0x2000;
    pub const S: u16 = 0x1000;
    pub const A: u16 = 0x0080;
}

/// Length of a GRE header with its optional fields, or what is wrong.
pub(super) fn gre_header_len(b: &[u8]) -> Result<usize, &'static str> {
    use gre_bits::*;
    let (Some(fv), Some(_proto)) = (be16(b, 0), be16(b, 2)) else {
        return Err("GRE header cut short");
    };
    let version = fv & 7;
    let mut len = 4usize;
    if fv & (C | R) != 0 {
        len += 4; // checksum + offset (RFC 1701: present if either C or R)
    }
    if fv & K != 0 {
        len += 4; // key (RFC 2890); PPTP: payload length + call id
    }
    if fv & S != 0 {
        len += 4; // sequence number
    }
    if version == 1 && fv & A != 0 {
        len += 4; // acknowledgment number (RFC 2637)
    }
    if fv & R != 0 {
        // RFC 1701 source route entries: address family, offset, length;
        // the list ends with address family 0 and length 0.
        let mut n = 0;
        loop {
            let (Some(af), Some(&l)) = (be16(b, len), b.get(len + 3)) else {
                return Err("GRE routing field cut short");
            };
            len += 4 + usize::from(l);
            if af == 0 && l == 0 {
                break;
            }
            n += 1;
            if n > MAX_GRE_SRES {
                return Err("GRE routing field with too many entries");
            }
        }
    }
    if b.len() < len {
        return Err("GRE header cut short");
    }
    Ok(len)
}

/// A GRE packet (its IP header already removed); `depth` counts the GRE.
fn gre(b: &[u8], v6: bool, depth: u8) -> Decoded<'_> {
    let hl = match gre_header_len(b) {
        Ok(l) => l,
        Err(e) => return Decoded::Malformed(e),
    };
    let (fv, proto) = (be16(b, 0).unwrap_or(0), be16(b, 2).unwrap_or(0));
    let version = (fv & 7) as u8;
    let inner = b.get(hl..).unwrap_or(&[]);
    if version > 1 {
        return Decoded::Skipped(Skip::GreVersion(version));
    }
    match proto {
        0x0800 => ip_of_version(4, inner, depth, "GRE IPv4 payload is not IPv4"),
        0x86dd => ip_of_version(6, inner, depth, "GRE IPv6 payload is not IPv6"),
        0x6558 => from_ethernet(inner, depth),
        0x88be | 0x22eb => erspan(fv, inner, depth),
        0x880b => ppp(inner, depth),
        0x8847 | 0x8848 => mpls(inner, depth),
        0x8100 | 0x88a8 | 0x0806 => from_ether_type(EtherType(proto), inner, depth),
        p => Decoded::Skipped(Skip::Gre { proto: p, v6 }),
    }
}

/// Length of the ERSPAN header (0 for type I), as Wireshark tells the types
/// apart: GRE flags and version all zero is type I (no header), otherwise
/// the header's version: 1 = type II, 2 = type III.
pub(super) fn erspan_header_len(gre_flags_version: u16, b: &[u8]) -> Result<usize, Skip> {
    if gre_flags_version == 0 {
        return Ok(0);
    }
    let Some(&first) = b.first() else {
        return Ok(usize::MAX);
    };
    match first >> 4 {
        1 => Ok(8),
        2 => match b.get(11) {
            Some(o) if o & 1 == 1 => Ok(20), // platform-specific subheader
            Some(_) => Ok(12),
            None => Ok(usize::MAX),
        },
        v => Err(Skip::Erspan(v)),
    }
}

/// ERSPAN: the mirrored Ethernet frame after its header.
fn erspan(gre_fv: u16, b: &[u8], depth: u8) -> Decoded<'_> {
    match erspan_header_len(gre_fv, b) {
        Ok(hl) => match b.get(hl..) {
            Some(eth) => from_ethernet(eth, depth),
            None => Decoded::Malformed("ERSPAN header cut short"),
        },
        Err(s) => Decoded::Skipped(s),
    }
}

/// UDP tunnels: GTP-U (2152) and VXLAN (4789); other UDP is counted.
fn udp(udp: &[u8], depth: u8) -> Decoded<'_> {
    let (Some(sport), Some(dport), Some(body)) = (be16(udp, 0), be16(udp, 2), udp.get(8..)) else {
        return Decoded::Malformed("UDP header cut short");
    };
    let skip = Decoded::Skipped(Skip::Udp {
        port: udp_key(sport, dport),
    });
    let is = |p: u16| sport == p || dport == p;
    if is(2152) {
        // GTPv1-U G-PDU
        let (Some(&flags), Some(&ty)) = (body.first(), body.get(1)) else {
            return skip;
        };
        if flags >> 5 != 1 || ty != 0xff {
            return skip;
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
        return match (body.get(i..), deeper(depth)) {
            (Some(ip), Some(d)) if !ip.is_empty() => from_ip(ip, d),
            (Some(ip), None) if !ip.is_empty() => Decoded::Skipped(Skip::DepthLimit),
            _ => skip,
        };
    }
    if is(4789) && body.len() > 8 && body[0] & 0x08 != 0 {
        return match deeper(depth) {
            Some(d) => from_ethernet(&body[8..], d),
            None => Decoded::Skipped(Skip::DepthLimit),
        };
    }
    skip
}

#[cfg(test)]
mod tests {
    use super::super::tests::{eth, ipv4, ipv4_tcp, ipv6, tcp_of};
    use super::super::*;
    use super::*;

    const HELLO: &[u8] = b"hello tunnel";

    /// An IPv4 packet of protocol `proto` around `inner`.
    fn outer4(proto: u8, inner: &[u8]) -> Vec<u8> {
        ipv4([192, 0, 2, 1], [192, 0, 2, 2], proto, inner)
    }

    fn expect_inner(d: Decoded<'_>) {
        let s = tcp_of(d);
        assert_eq!(s.payload, HELLO);
        assert_eq!(s.src, "10.1.1.1".parse::<std::net::IpAddr>().unwrap());
        assert_eq!(s.dport, 1883);
    }

    /// Every prefix of `pkt` (as raw IP and with its real length) decodes
    /// without panicking; the whole packet decodes to the inner segment.
    fn all_prefixes(pkt: &[u8]) {
        for n in 0..pkt.len() {
            let _ = decode(Linktype::RAW, &pkt[..n], pkt.len() as u32);
            let _ = decode(Linktype::RAW, &pkt[..n], n as u32);
        }
        expect_inner(decode(Linktype::RAW, pkt, pkt.len() as u32));
    }

    fn gre_hdr(flags: u16, proto: u16, opts: &[u8]) -> Vec<u8> {
        let mut v = flags.to_be_bytes().to_vec();
        v.extend_from_slice(&proto.to_be_bytes());
        v.extend_from_slice(opts);
        v
    }

    #[test]
    fn ip_in_ip_variants() {
        let inner4 = ipv4_tcp(HELLO);
        // IP-in-IP (4), 6in4 (41), 4in6, 6in6
        all_prefixes(&outer4(4, &inner4));
        let inner6 = super::super::tests::ipv6_tcp(HELLO);
        let p = outer4(41, &inner6);
        assert_eq!(tcp_of(decode(Linktype::RAW, &p, 0)).payload, HELLO);
        let p = ipv6(4, &inner4);
        all_prefixes(&p);
        let p = ipv6(41, &inner6);
        let s = tcp_of(decode(Linktype::RAW, &p, p.len() as u32));
        assert!(s.src.is_ipv6());
        // the announced version must match
        assert!(matches!(
            decode(Linktype::RAW, &outer4(4, &inner6), 0),
            Decoded::Malformed(_)
        ));
        assert!(matches!(
            decode(Linktype::RAW, &outer4(41, &inner4), 0),
            Decoded::Malformed(_)
        ));
    }

    #[test]
    fn gre_with_and_without_options() {
        let inner = ipv4_tcp(HELLO);
        // no options; checksum; key; sequence; all three; routing (RFC 1701)
        let cases: Vec<(u16, Vec<u8>)> = vec![
            (0x0000, vec![]),
            (0x8000, vec![0xab, 0xcd, 0, 0]),
            (0x2000, vec![0, 0, 0, 42]),
            (0x1000, vec![0, 0, 0, 7]),
            (0xb000, vec![0xab, 0xcd, 0, 0, 0, 0, 0, 42, 0, 0, 0, 7]),
            (
                0x4000,
                vec![0, 0, 0, 0, 0x08, 0x00, 0, 4, 1, 2, 3, 4, 0, 0, 0, 0],
            ),
        ];
        for (flags, opts) in cases {
            let mut g = gre_hdr(flags, 0x0800, &opts);
            g.extend_from_slice(&inner);
            all_prefixes(&outer4(47, &g));
            assert_eq!(gre_header_len(&g), Ok(4 + opts.len()), "flags {flags:04x}");
            // over IPv6 too
            let p = ipv6(47, &g);
            expect_inner(decode(Linktype::RAW, &p, p.len() as u32));
        }
        // GRE carrying IPv6, and Ethernet (TEB, 0x6558)
        let mut g = gre_hdr(0x2000, 0x86dd, &[0, 0, 0, 1]);
        g.extend_from_slice(&super::super::tests::ipv6_tcp(HELLO));
        let p = outer4(47, &g);
        assert_eq!(tcp_of(decode(Linktype::RAW, &p, 0)).payload, HELLO);
        let mut g = gre_hdr(0x0000, 0x6558, &[]);
        g.extend_from_slice(&eth(0x0800, &inner));
        all_prefixes(&outer4(47, &g));
    }

    #[test]
    fn gre_unknown_protocol_and_version() {
        let p = outer4(47, &gre_hdr(0, 0x883e, &[0; 8]));
        match decode(Linktype::RAW, &p, 0) {
            Decoded::Skipped(Skip::Gre {
                proto: 0x883e,
                v6: false,
            }) => {}
            other => panic!("{other:?}"),
        }
        let p = outer4(47, &gre_hdr(0x0002, 0x0800, &ipv4_tcp(HELLO)));
        assert!(matches!(
            decode(Linktype::RAW, &p, 0),
            Decoded::Skipped(Skip::GreVersion(2))
        ));
    }

    #[test]
    fn pptp_enhanced_gre_with_ppp() {
        // version 1, K + S + A, protocol 0x880b; PPP with address/control
        let mut g = gre_hdr(0x3081, 0x880b, &[0, 0, 0, 9, 0, 0, 0, 1, 0, 0, 0, 0]);
        g.extend_from_slice(&[0xff, 0x03, 0x00, 0x21]);
        g.extend_from_slice(&ipv4_tcp(HELLO));
        all_prefixes(&outer4(47, &g));
        // compressed PPP protocol field; then MPPE (0x00fd) is named
        let mut g = gre_hdr(0x3001, 0x880b, &[0, 0, 0, 9, 0, 0, 0, 1]);
        g.push(0x21);
        g.extend_from_slice(&ipv4_tcp(HELLO));
        let p = outer4(47, &g);
        expect_inner(decode(Linktype::RAW, &p, 0));
        let mut g = gre_hdr(0x3001, 0x880b, &[0, 0, 0, 9, 0, 0, 0, 1]);
        g.extend_from_slice(&[0x00, 0xfd, 1, 2, 3]);
        assert!(matches!(
            decode(Linktype::RAW, &outer4(47, &g), 0),
            Decoded::Skipped(Skip::Ppp(0x00fd))
        ));
    }

    #[test]
    fn erspan_types() {
        let frame = eth(0x0800, &ipv4_tcp(HELLO));
        // type I: GRE without flags, protocol 0x88be, frame right after
        let mut g = gre_hdr(0, 0x88be, &[]);
        g.extend_from_slice(&frame);
        all_prefixes(&outer4(47, &g));
        // type II: sequence number, 8-byte header of version 1
        let mut g = gre_hdr(0x1000, 0x88be, &[0, 0, 0, 5]);
        g.extend_from_slice(&[0x10, 0x00, 0x08, 0x64, 0, 0, 0, 3]);
        g.extend_from_slice(&frame);
        all_prefixes(&outer4(47, &g));
        // type III without and with the platform-specific subheader
        for o in [false, true] {
            let mut g = gre_hdr(0x1000, 0x22eb, &[0, 0, 0, 5]);
            g.extend_from_slice(&[0x20, 0x00, 0x08, 0x64, 1, 2, 3, 4, 0, 0, 0x00]);
            g.push(if o { 0x01 } else { 0x00 });
            if o {
                g.extend_from_slice(&[0x1c, 0, 0, 5, 0, 0, 0, 9]);
            }
            g.extend_from_slice(&frame);
            all_prefixes(&outer4(47, &g));
            let p = ipv6(47, &g);
            expect_inner(decode(Linktype::RAW, &p, p.len() as u32));
        }
        // unknown header version
        let mut g = gre_hdr(0x1000, 0x88be, &[0, 0, 0, 5]);
        g.extend_from_slice(&[0x30, 0, 0, 0, 0, 0, 0, 0]);
        assert!(matches!(
            decode(Linktype::RAW, &outer4(47, &g), 0),
            Decoded::Skipped(Skip::Erspan(3))
        ));
    }

    #[test]
    fn etherip_mpls_pppoe_vxlan_gtp() {
        let inner = ipv4_tcp(HELLO);
        let frame = eth(0x0800, &inner);
        let mut e = vec![0x30, 0x00];
        e.extend_from_slice(&frame);
        all_prefixes(&outer4(97, &e));
        let mut m = vec![0, 0x01, 0x01, 0x40]; // label 16, bottom of stack
        m.extend_from_slice(&inner);
        all_prefixes(&outer4(137, &m));
        // PPPoE session over Ethernet
        let mut pp = vec![0x11, 0, 0, 1, 0, 0, 0x00, 0x21];
        pp.extend_from_slice(&inner);
        let f = eth(0x8864, &pp);
        expect_inner(decode(Linktype::ETHERNET, &f, f.len() as u32));
        // VXLAN and GTP-U over UDP
        let mut vx = vec![
            0xc0, 0x00, 0x12, 0xb5, 0, 0, 0, 0, 0x08, 0, 0, 0, 0, 0, 42, 0,
        ];
        vx.extend_from_slice(&frame);
        let l = vx.len() as u16;
        vx[4..6].copy_from_slice(&l.to_be_bytes());
        all_prefixes(&outer4(17, &vx));
        let mut gtp = vec![
            0x08, 0x68, 0x08, 0x68, 0, 0, 0, 0, 0x30, 0xff, 0, 0, 0, 0, 0, 1,
        ];
        gtp.extend_from_slice(&inner);
        all_prefixes(&outer4(17, &gtp));
    }

    #[test]
    fn depth_limit_is_counted() {
        // IP-in-IP nested one level deeper than the limit
        let mut p = ipv4_tcp(HELLO);
        for _ in 0..=MAX_TUNNEL_DEPTH {
            p = outer4(4, &p);
        }
        assert!(matches!(
            decode(Linktype::RAW, &p, 0),
            Decoded::Skipped(Skip::DepthLimit)
        ));
        // exactly at the limit it still decodes
        let mut p = ipv4_tcp(HELLO);
        for _ in 0..MAX_TUNNEL_DEPTH {
            p = outer4(4, &p);
        }
        expect_inner(decode(Linktype::RAW, &p, 0));
    }

    #[test]
    fn non_tcp_is_named() {
        let mut udp = vec![0xc3, 0x50, 0, 53, 0, 12, 0, 0];
        udp.extend_from_slice(b"dns!");
        assert!(matches!(
            decode(Linktype::RAW, &outer4(17, &udp), 0),
            Decoded::Skipped(Skip::Udp { port: 53 })
        ));
        assert!(matches!(
            decode(Linktype::RAW, &outer4(1, &[8, 0, 0, 0]), 0),
            Decoded::Skipped(Skip::IpProto { proto: 1, .. })
        ));
        let f = eth(0x88cc, &[0; 20]);
        assert!(matches!(
            decode(Linktype::ETHERNET, &f, 0),
            Decoded::Skipped(Skip::EtherType(0x88cc))
        ));
        let f = eth(0x0026, &[0x42, 0x42, 3, 0, 0]);
        assert!(matches!(
            decode(Linktype::ETHERNET, &f, 0),
            Decoded::Skipped(Skip::Llc)
        ));
    }
}
