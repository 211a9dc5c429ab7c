//! The common case without etherparse: Ethernet (with at most one VLAN tag)
//! or raw IP, carrying IPv4 (any header length, not fragmented) or IPv6
//! (no extension headers), carrying a whole TCP header, or UDP or ICMP
//! (whose payload `tunnel::ip_payload` takes, as the general way does).
//! Anything else, or anything cut short, returns `None` and goes the general
//! way (`from_sliced`), which gives the same result for what this accepts
//! (`fast_path_agrees`, run over every sample and public capture by
//! `tests/wire_fast.rs` and on every input by the `wire` fuzz target).

use super::Segment;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What the fast path made of a frame.
#[derive(Debug)]
pub(super) enum Fast<'a> {
    Tcp(Segment<'a>),
    /// The whole payload of an unfragmented IP packet of protocol `proto`
    /// (UDP, ICMP or ICMPv6): tunnels or a counted skip.
    Other {
        proto: u8,
        payload: &'a [u8],
        v6: bool,
    },
}

/// Protocols the fast path hands on whole: none is an IPv4 or IPv6
/// extension header (etherparse walks those: AH, hop-by-hop...).
fn other(proto: u8) -> bool {
    matches!(proto, 1 | 17 | 58)
}

#[inline]
fn be16(b: &[u8], i: usize) -> Option<u16> {
    b.get(i..i + 2).map(|x| u16::from_be_bytes([x[0], x[1]]))
}

#[inline]
fn be32(b: &[u8], i: usize) -> Option<u32> {
    b.get(i..i + 4)
        .map(|x| u32::from_be_bytes([x[0], x[1], x[2], x[3]]))
}

/// An Ethernet frame.
#[inline]
pub(super) fn ethernet(data: &[u8]) -> Option<Fast<'_>> {
    let mut et = be16(data, 12)?;
    let mut at = 14;
    if et == 0x8100 {
        et = be16(data, 16)?;
        at = 18;
    }
    let rest = data.get(at..)?;
    match et {
        0x0800 => ipv4(rest),
        0x86dd => ipv6(rest),
        _ => None,
    }
}

/// An IP packet (the version nibble decides).
#[inline]
pub(super) fn ip(data: &[u8]) -> Option<Fast<'_>> {
    match data.first()? >> 4 {
        4 => ipv4(data),
        6 => ipv6(data),
        _ => None,
    }
}

#[inline]
fn ipv4(b: &[u8]) -> Option<Fast<'_>> {
    let v = *b.first()?;
    let hl = usize::from(v & 0x0f) * 4;
    if v >> 4 != 4 || hl < 20 || b.len() < hl {
        return None;
    }
    let total = usize::from(be16(b, 2)?);
    // Fragments, a length the frame does not hold (cut short: the general
    // way accounts for it) or below the header.
    let frag = be16(b, 6)? & 0x3fff;
    let proto = *b.get(9)?;
    if frag != 0 || total < hl || total > b.len() {
        return None;
    }
    let payload = b.get(hl..total)?;
    if proto != 6 {
        return other(proto).then_some(Fast::Other {
            proto,
            payload,
            v6: false,
        });
    }
    let src = Ipv4Addr::from(be32(b, 12)?);
    let dst = Ipv4Addr::from(be32(b, 16)?);
    tcp(IpAddr::V4(src), IpAddr::V4(dst), payload)
}

#[inline]
fn ipv6(b: &[u8]) -> Option<Fast<'_>> {
    let next = *b.get(6)?;
    if b.first()? >> 4 != 6 || !(next == 6 || other(next)) {
        return None;
    }
    let len = usize::from(be16(b, 4)?);
    // Jumbograms (length 0) and frames cut short go the general way.
    if len == 0 || 40 + len > b.len() {
        return None;
    }
    let payload = b.get(40..40 + len)?;
    if next != 6 {
        return Some(Fast::Other {
            proto: next,
            payload,
            v6: true,
        });
    }
    let a: [u8; 16] = b.get(8..24)?.try_into().ok()?;
    let z: [u8; 16] = b.get(24..40)?.try_into().ok()?;
    tcp(
        IpAddr::V6(Ipv6Addr::from(a)),
        IpAddr::V6(Ipv6Addr::from(z)),
        payload,
    )
}

#[inline]
fn tcp(src: IpAddr, dst: IpAddr, t: &[u8]) -> Option<Fast<'_>> {
    let hl = usize::from(*t.get(12)? >> 4) * 4;
    if hl < 20 || t.len() < hl {
        return None;
    }
    let payload = t.get(hl..)?;
    let len = u32::try_from(payload.len()).ok()?;
    Some(Fast::Tcp(Segment {
        src,
        dst,
        sport: be16(t, 0)?,
        dport: be16(t, 2)?,
        seq: be32(t, 4)?,
        ack: be32(t, 8)?,
        flags: *t.get(13)?,
        payload,
        claimed_len: len,
        wire_len: len,
    }))
}
