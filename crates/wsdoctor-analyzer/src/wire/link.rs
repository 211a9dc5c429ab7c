//! Link layers: from a capture record's link type to the network layer.

use super::{from_ether_type, from_ethernet, from_ip, tunnel, Decoded, Skip};
use crate::capture::Linktype;
use etherparse::EtherType;

/// The link-layer header types decoded (pcap `LINKTYPE_*` numbers).
pub const DECODED_LINKTYPES: &[u32] = &[
    0, 1, 9, 12, 14, 50, 101, 104, 105, 108, 113, 127, 192, 228, 229, 239, 276,
];

/// Decode a frame of link type `lt`.
pub(super) fn decode_link(lt: Linktype, data: &[u8], depth: u8) -> Decoded<'_> {
    if lt.0 & 0x0FFF_0000 != 0 {
        // bits pcap reserves: wsdoctor's numbers for NetMon media types
        // without a pcap link type (capture::PRIVATE_LINKTYPE)
        return Decoded::Skipped(Skip::LinkType {
            linktype: lt.0,
            in_ppi: false,
        });
    }
    match lt.base().0 {
        1 => from_ethernet(data, depth),
        // BSD NULL / LOOP: 4-byte address family, then IP; the version nibble decides.
        0 | 108 => match data.get(4..) {
            Some(rest) => from_ip(rest, depth),
            None => Decoded::Malformed("loopback header cut short"),
        },
        12 | 14 | 101 | 228 | 229 => from_ip(data, depth),
        // PPP, PPP in HDLC-like framing (escapes already removed)
        9 | 50 => tunnel::ppp(data, depth),
        // Cisco HDLC: address, control, then an EtherType
        104 => match (data.get(2..4), data.get(4..)) {
            (Some(p), Some(rest)) => {
                from_ether_type(EtherType(u16::from_be_bytes([p[0], p[1]])), rest, depth)
            }
            _ => Decoded::Malformed("Cisco HDLC header cut short"),
        },
        239 => nflog(data, depth),
        105 => ieee80211(data, depth),
        127 => {
            // radiotap: its own length, then an 802.11 frame
            let len = data
                .get(2..4)
                .map(|l| u16::from_le_bytes([l[0], l[1]]) as usize);
            match len.and_then(|l| data.get(l..)) {
                Some(rest) => ieee80211(rest, depth),
                None => Decoded::Malformed("radiotap header cut short"),
            }
        }
        192 => ppi(data, depth),
        113 => match (data.get(14..16), data.get(16..)) {
            (Some(p), Some(rest)) => {
                from_ether_type(EtherType(u16::from_be_bytes([p[0], p[1]])), rest, depth)
            }
            _ => Decoded::Malformed("linux cooked header cut short"),
        },
        276 => match (data.get(0..2), data.get(20..)) {
            (Some(p), Some(rest)) => {
                from_ether_type(EtherType(u16::from_be_bytes([p[0], p[1]])), rest, depth)
            }
            _ => Decoded::Malformed("linux cooked v2 header cut short"),
        },
        _ => Decoded::Skipped(Skip::LinkType {
            linktype: lt.0,
            in_ppi: false,
        }),
    }
}

/// PPI (Per-Packet Information, link type 192): version, flags, the
/// header's little-endian length and the DLT of what follows; the fields
/// in between (802.11 common, 802.11n MAC/PHY, GPS...) are skipped.
fn ppi(data: &[u8], depth: u8) -> Decoded<'_> {
    let (Some(&version), Some(len), Some(dlt)) = (data.first(), data.get(2..4), data.get(4..8))
    else {
        return Decoded::Malformed("PPI header cut short");
    };
    if version != 0 {
        return Decoded::Malformed("PPI header of a version other than 0");
    }
    let len = usize::from(u16::from_le_bytes([len[0], len[1]]));
    let dlt = u32::from_le_bytes([dlt[0], dlt[1], dlt[2], dlt[3]]);
    if len < 8 {
        return Decoded::Malformed("PPI header length under 8");
    }
    let Some(rest) = data.get(len..) else {
        return Decoded::Malformed("PPI header cut short");
    };
    match Linktype(dlt).base().0 {
        // PPI inside PPI would be a loop.
        192 => Decoded::Malformed("PPI header announcing PPI"),
        b if !DECODED_LINKTYPES.contains(&b) => Decoded::Skipped(Skip::LinkType {
            linktype: dlt,
            in_ppi: true,
        }),
        _ => decode_link(Linktype(dlt), rest, depth),
    }
}

/// NFLOG: a 4-byte header, then TLVs (little-endian length and type,
/// padded to 4 bytes); type 9 holds the packet from its IP header.
fn nflog(data: &[u8], depth: u8) -> Decoded<'_> {
    let mut i = 4;
    while let Some(h) = data.get(i..i + 4) {
        let len = u16::from_le_bytes([h[0], h[1]]) as usize;
        let ty = u16::from_le_bytes([h[2], h[3]]) & 0x7fff;
        if len < 4 {
            return Decoded::Malformed("NFLOG TLV of length under 4");
        }
        if ty == 9 {
            let end = (i + len).min(data.len());
            return from_ip(data.get(i + 4..end).unwrap_or(&[]), depth);
        }
        i += (len + 3) & !3;
    }
    Decoded::Skipped(Skip::NflogNoPacket)
}

/// IEEE 802.11 data frames with an LLC/SNAP header (unencrypted only).
fn ieee80211(data: &[u8], depth: u8) -> Decoded<'_> {
    let Some(&fc0) = data.first() else {
        return Decoded::Malformed("802.11 header cut short");
    };
    let fc1 = data.get(1).copied().unwrap_or(0);
    let subtype = fc0 >> 4;
    if (fc0 >> 2) & 3 != 2 || subtype & 0x4 != 0 {
        // management, control, or a data subtype without a body (null, CF-...)
        return Decoded::Skipped(Skip::WlanNoData);
    }
    if fc1 & 0x40 != 0 {
        return Decoded::Skipped(Skip::WlanProtected);
    }
    let mut hl = 24;
    if fc1 & 3 == 3 {
        hl += 6; // four addresses
    }
    if fc0 & 0x80 != 0 {
        // QoS control; its bit 7 announces an A-MSDU
        if data.get(hl).is_some_and(|q| q & 0x80 != 0) {
            return Decoded::Skipped(Skip::WlanAmsdu);
        }
        hl += 2;
        if fc1 & 0x80 != 0 {
            hl += 4; // HT control
        }
    }
    match data.get(hl..hl + 8) {
        Some([0xaa, 0xaa, 0x03, 0, 0, 0, a, b]) => from_ether_type(
            EtherType(u16::from_be_bytes([*a, *b])),
            data.get(hl + 8..).unwrap_or(&[]),
            depth,
        ),
        Some(_) => Decoded::Skipped(Skip::Llc),
        None => Decoded::Malformed("802.11 header cut short"),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{ipv4_tcp, tcp_of};
    use super::super::*;

    /// An unprotected 802.11 QoS data frame (to DS) with LLC/SNAP and IPv4.
    pub(crate) fn wlan_frame(payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0x88, 0x01, 0, 0];
        f.extend_from_slice(&[0x02; 18]); // three addresses
        f.extend_from_slice(&[0x10, 0x00]); // sequence control
        f.extend_from_slice(&[0x00, 0x00]); // QoS control
        f.extend_from_slice(&[0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00]);
        f.extend_from_slice(&ipv4_tcp(payload));
        f
    }

    /// A PPI header (with one 802.11-common field of 20 bytes) for `dlt`.
    pub(crate) fn ppi_header(dlt: u32, with_field: bool) -> Vec<u8> {
        let mut field = Vec::new();
        if with_field {
            field.extend_from_slice(&2u16.to_le_bytes()); // 802.11-Common
            field.extend_from_slice(&20u16.to_le_bytes());
            field.extend_from_slice(&[0; 20]);
        }
        let mut h = vec![0, 0];
        h.extend_from_slice(&((8 + field.len()) as u16).to_le_bytes());
        h.extend_from_slice(&dlt.to_le_bytes());
        h.extend_from_slice(&field);
        h
    }

    #[test]
    fn ppi_around_80211_and_ethernet() {
        for with_field in [false, true] {
            let mut p = ppi_header(105, with_field);
            p.extend_from_slice(&wlan_frame(b"ppi!"));
            for n in 0..p.len() {
                let _ = decode(Linktype(192), &p[..n], p.len() as u32);
            }
            assert_eq!(
                tcp_of(decode(Linktype(192), &p, p.len() as u32)).payload,
                b"ppi!"
            );
        }
        let mut p = ppi_header(1, false);
        p.extend_from_slice(&super::super::tests::eth(0x0800, &ipv4_tcp(b"eth")));
        assert_eq!(tcp_of(decode(Linktype(192), &p, 0)).payload, b"eth");
        // an unknown DLT inside PPI is named; PPI in PPI is refused
        let p = ppi_header(147, false);
        assert!(matches!(
            decode(Linktype(192), &p, 0),
            Decoded::Skipped(Skip::LinkType {
                linktype: 147,
                in_ppi: true
            })
        ));
        let mut p = ppi_header(192, false);
        p.extend_from_slice(&ppi_header(105, false));
        assert!(matches!(
            decode(Linktype(192), &p, 0),
            Decoded::Malformed(_)
        ));
        let mut bad = ppi_header(105, false);
        bad[2] = 4;
        assert!(matches!(
            decode(Linktype(192), &bad, 0),
            Decoded::Malformed(_)
        ));
    }

    #[test]
    fn wlan_kinds() {
        let f = wlan_frame(b"x");
        assert_eq!(tcp_of(decode(Linktype(105), &f, 0)).payload, b"x");
        let mut prot = f.clone();
        prot[1] |= 0x40;
        assert!(matches!(
            decode(Linktype(105), &prot, 0),
            Decoded::Skipped(Skip::WlanProtected)
        ));
        let beacon = [0x80, 0, 0, 0, 1, 2, 3];
        assert!(matches!(
            decode(Linktype(105), &beacon, 0),
            Decoded::Skipped(Skip::WlanNoData)
        ));
        let mut amsdu = f.clone();
        amsdu[24] = 0x80;
        assert!(matches!(
            decode(Linktype(105), &amsdu, 0),
            Decoded::Skipped(Skip::WlanAmsdu)
        ));
    }

    #[test]
    fn ppp_and_chdlc_links() {
        let mut p = vec![0xff, 0x03, 0x00, 0x21];
        p.extend_from_slice(&ipv4_tcp(b"ppp"));
        assert_eq!(tcp_of(decode(Linktype(9), &p, 0)).payload, b"ppp");
        let mut c = vec![0x0f, 0x00, 0x08, 0x00];
        c.extend_from_slice(&ipv4_tcp(b"hdlc"));
        assert_eq!(tcp_of(decode(Linktype(104), &c, 0)).payload, b"hdlc");
        assert!(matches!(
            decode(Linktype(9), &[0xff, 0x03, 0xc0, 0x21, 1], 0),
            Decoded::Skipped(Skip::PppControl)
        ));
        assert!(matches!(
            decode(Linktype(4242), &c, 0),
            Decoded::Skipped(Skip::LinkType {
                linktype: 4242,
                in_ppi: false
            })
        ));
    }
}
