//! What a packet was when it was not decoded down to TCP.
//!
//! Two kinds: traffic that is understood and simply is not TCP (UDP, ICMP,
//! ARP, routing protocols, 802.11 management...), which is counted and
//! skipped; and traffic that could carry the TCP we decode but that this tool
//! does not decode (an unknown link type, EtherType, IP protocol or GRE
//! protocol, an encrypted layer, tunnels nested too deep), which the analysis
//! reports (`capture_not_decoded`, `capture_unsupported_linktype`).

use super::MAX_TUNNEL_DEPTH;
use crate::capture::Linktype;
use std::fmt;

/// Why a packet was not decoded down to TCP. Small and `Ord`, so the analysis
/// can count packets per kind in a map.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Skip {
    // ---- understood, not TCP ----
    /// UDP; `port` is a well-known port of either side (0: none known).
    Udp {
        port: u16,
    },
    /// An IP protocol other than TCP (known ones are counted as non-TCP,
    /// unknown ones and encrypted ones as not decoded).
    IpProto {
        proto: u8,
        v6: bool,
    },
    Arp,
    /// A non-IP EtherType (known ones: non-TCP; others: not decoded).
    EtherType(u16),
    /// IEEE 802.3 frames with an LLC header (STP, CDP, LLDP over LLC...).
    Llc,
    /// PPP link and network control protocols (LCP, IPCP, CCP...).
    PppControl,
    /// 802.11 management, control and null-data frames.
    WlanNoData,
    /// NFLOG records without a packet.
    NflogNoPacket,
    // ---- could carry TCP, not decoded ----
    /// A link-layer header type not decoded (`in_ppi`: named by a PPI header).
    LinkType {
        linktype: u32,
        in_ppi: bool,
    },
    /// A GRE protocol type not decoded, inside IPv4 or IPv6.
    Gre {
        proto: u16,
        v6: bool,
    },
    /// A GRE version other than 0 and 1.
    GreVersion(u8),
    /// An ERSPAN header version other than 1 (type II) and 2 (type III).
    Erspan(u8),
    /// A PPP protocol not decoded (e.g. 0x00fd: compressed or encrypted).
    Ppp(u16),
    /// An MPLS payload that is neither IP nor an Ethernet pseudowire.
    Mpls,
    /// 802.11 data frames with the Protected bit (WEP/WPA encrypted).
    WlanProtected,
    /// 802.11 A-MSDU aggregates (several frames in one).
    WlanAmsdu,
    /// Tunnels nested deeper than [`MAX_TUNNEL_DEPTH`].
    DepthLimit,
}

/// Well-known UDP ports: name, and whether the port is a tunnel or an
/// encrypted transport that may carry the TCP we look for.
fn udp_port(port: u16) -> Option<(&'static str, bool)> {
    Some(match port {
        53 => ("DNS", false),
        67 | 68 => ("DHCP", false),
        69 => ("TFTP", false),
        123 => ("NTP", false),
        137 | 138 => ("NetBIOS", false),
        161 | 162 => ("SNMP", false),
        443 => ("QUIC", false),
        500 => ("IKE", false),
        514 => ("syslog", false),
        546 | 547 => ("DHCPv6", false),
        1194 => ("OpenVPN, encrypted", true),
        1701 => ("L2TP", true),
        1900 => ("SSDP", false),
        3544 => ("Teredo", true),
        4500 => ("IPsec NAT-T, encrypted", true),
        4754 => ("GRE-in-UDP", true),
        4790 => ("VXLAN-GPE", true),
        5353 => ("mDNS", false),
        5355 => ("LLMNR", false),
        6081 => ("Geneve", true),
        51820 => ("WireGuard, encrypted", true),
        _ => return None,
    })
}

/// The port of a UDP datagram worth naming: the lower of the well-known
/// ports among its two (so both directions of DHCP, 68 -> 67 and 67 -> 68,
/// count as one kind), else 0.
pub(super) fn udp_key(sport: u16, dport: u16) -> u16 {
    match (udp_port(sport).is_some(), udp_port(dport).is_some()) {
        (true, true) => sport.min(dport),
        (true, false) => sport,
        (false, true) => dport,
        (false, false) => 0,
    }
}

/// IP protocols that are not TCP and carry no TCP: (name, known non-TCP).
/// Unlisted numbers, and encrypted or compressed payloads, may carry TCP.
fn ip_proto(p: u8) -> (&'static str, bool) {
    match p {
        0 => ("IPv6 hop-by-hop", true),
        1 => ("ICMP", true),
        2 => ("IGMP", true),
        8 => ("EGP", true),
        17 => ("UDP", true),
        33 => ("DCCP", true),
        46 => ("RSVP", true),
        50 => ("ESP, encrypted IPsec", false),
        51 => ("AH", false),
        58 => ("ICMPv6", true),
        59 => ("no next header", true),
        88 => ("EIGRP", true),
        89 => ("OSPF", true),
        103 => ("PIM", true),
        108 => ("IPComp, compressed", false),
        112 => ("VRRP", true),
        115 => ("L2TPv3", false),
        132 => ("SCTP", true),
        136 => ("UDP-Lite", true),
        _ => ("", false),
    }
}

/// Non-IP EtherTypes seen on LANs that never carry TCP.
fn ether_name(et: u16) -> (&'static str, bool) {
    match et {
        0x0806 => ("ARP", true),
        0x0842 => ("Wake-on-LAN", true),
        0x22f0 => ("AVTP", true),
        0x22f3 => ("TRILL", false),
        0x6002 => ("DEC MOP", true),
        0x8035 => ("RARP", true),
        0x809b => ("AppleTalk", true),
        0x80f3 => ("AARP", true),
        0x8137 | 0x8138 => ("IPX", true),
        0x8808 => ("Ethernet flow control", true),
        0x8809 => ("LACP / slow protocols", true),
        0x8863 => ("PPPoE discovery", true),
        0x886d => ("Intel ANS", true),
        0x887b => ("HomePlug", true),
        0x888e => ("EAPOL (802.1X)", true),
        0x8892 => ("PROFINET", true),
        0x889a => ("HyperSCSI", true),
        0x88a2 => ("ATA over Ethernet", true),
        0x88a4 => ("EtherCAT", true),
        0x88b8 => ("GOOSE", true),
        0x88b9 => ("GSE", true),
        0x88ba => ("SV (IEC 61850)", true),
        0x88cc => ("LLDP", true),
        0x88cd => ("SERCOS III", true),
        0x88e1 => ("HomePlug AV", true),
        0x88e3 => ("MRP", true),
        0x88e5 => ("MACsec, encrypted", false),
        0x88e7 => ("PBB (802.1ah)", false),
        0x88f7 => ("PTP", true),
        0x88fb => ("PRP", true),
        0x8902 => ("CFM / OAM", true),
        0x8906 => ("FCoE", true),
        0x8914 => ("FIP", true),
        0x8915 => ("RoCE", true),
        0x891d => ("TTE", true),
        0x892f => ("HSR", false),
        0x893a => ("IEEE 1905.1", true),
        0x9000 => ("Ethernet loopback", true),
        _ => ("", false),
    }
}

fn gre_name(p: u16) -> &'static str {
    match p {
        0x6558 => "Transparent Ethernet Bridging",
        0x88be => "ERSPAN I/II",
        0x22eb => "ERSPAN III",
        0x880b => "PPP",
        0x883e => "WCCP",
        0x8847 | 0x8848 => "MPLS",
        0x0800 => "IPv4",
        0x86dd => "IPv6",
        0x0806 => "ARP",
        0x8100 => "802.1Q",
        0x894f => "NSH",
        0xb7ea => "Fabric Path",
        0x0000 => "keepalive",
        _ => "",
    }
}

fn named(f: &mut fmt::Formatter<'_>, name: &str) -> fmt::Result {
    if name.is_empty() {
        Ok(())
    } else {
        write!(f, " ({name})")
    }
}

impl Skip {
    /// True when the packet could have carried the TCP this tool decodes
    /// but was not decoded: unknown or unsupported encapsulations, encrypted
    /// layers, the depth limit. False for traffic that is simply not TCP.
    pub fn could_carry_tcp(&self) -> bool {
        match *self {
            Skip::Udp { port } => udp_port(port).is_some_and(|(_, t)| t),
            Skip::IpProto { proto, .. } => !ip_proto(proto).1,
            Skip::EtherType(et) => !ether_name(et).1,
            Skip::Arp | Skip::Llc | Skip::PppControl | Skip::WlanNoData | Skip::NflogNoPacket => {
                false
            }
            Skip::LinkType { .. }
            | Skip::Gre { .. }
            | Skip::GreVersion(_)
            | Skip::Erspan(_)
            | Skip::Ppp(_)
            | Skip::Mpls
            | Skip::WlanProtected
            | Skip::WlanAmsdu
            | Skip::DepthLimit => true,
        }
    }

    /// An encrypted layer: decoding needs the keys, not a newer wsdoctor.
    pub fn encrypted(&self) -> bool {
        match *self {
            Skip::IpProto { proto, .. } => proto == 50,
            Skip::EtherType(et) => et == 0x88e5,
            Skip::Udp { port } => matches!(port, 1194 | 4500 | 51820),
            Skip::Ppp(p) => p == 0x00fd,
            Skip::WlanProtected => true,
            _ => false,
        }
    }
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Skip::Udp { port: 0 } => f.write_str("UDP"),
            Skip::Udp { port } => {
                write!(f, "UDP port {port}")?;
                named(f, udp_port(port).map(|p| p.0).unwrap_or(""))
            }
            Skip::IpProto { proto, v6 } => {
                let (name, _) = ip_proto(proto);
                if matches!(proto, 1 | 2 | 17 | 58) {
                    return f.write_str(name);
                }
                write!(f, "IPv{} protocol {proto}", if v6 { 6 } else { 4 })?;
                named(f, name)
            }
            Skip::Arp => f.write_str("ARP"),
            Skip::EtherType(et) => {
                let (name, _) = ether_name(et);
                if et == 0x0806 {
                    return f.write_str("ARP");
                }
                write!(f, "EtherType 0x{et:04x}")?;
                named(f, name)
            }
            Skip::Llc => f.write_str("802.3 LLC frames (STP, CDP...)"),
            Skip::PppControl => f.write_str("PPP control (LCP, IPCP...)"),
            Skip::WlanNoData => f.write_str("802.11 management, control and null frames"),
            Skip::NflogNoPacket => f.write_str("NFLOG records without a packet"),
            Skip::LinkType { linktype, in_ppi } => {
                write!(f, "link type {}", Linktype(linktype))?;
                if in_ppi {
                    f.write_str(" inside PPI")?;
                }
                Ok(())
            }
            Skip::Gre { proto, v6 } => {
                write!(f, "GRE protocol 0x{proto:04x}")?;
                named(f, gre_name(proto))?;
                write!(f, " inside IPv{}", if v6 { 6 } else { 4 })
            }
            Skip::GreVersion(v) => write!(f, "GRE version {v}"),
            Skip::Erspan(v) => write!(f, "ERSPAN with header version {v} (unknown)"),
            Skip::Ppp(p) => {
                write!(f, "PPP protocol 0x{p:04x}")?;
                if p == 0x00fd {
                    f.write_str(" (compressed or encrypted, e.g. MPPE)")?;
                }
                Ok(())
            }
            Skip::Mpls => f.write_str("MPLS with a payload that is neither IP nor Ethernet"),
            Skip::WlanProtected => f.write_str("802.11 protected (encrypted) data frames"),
            Skip::WlanAmsdu => f.write_str("802.11 A-MSDU aggregates"),
            Skip::DepthLimit => write!(f, "tunnels nested deeper than {MAX_TUNNEL_DEPTH} levels"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_classes() {
        let g = Skip::Gre {
            proto: 0x88be,
            v6: false,
        };
        assert_eq!(
            g.to_string(),
            "GRE protocol 0x88be (ERSPAN I/II) inside IPv4"
        );
        assert!(g.could_carry_tcp());
        assert_eq!(Skip::Udp { port: 53 }.to_string(), "UDP port 53 (DNS)");
        assert!(!Skip::Udp { port: 53 }.could_carry_tcp());
        assert!(Skip::Udp { port: 6081 }.could_carry_tcp());
        assert_eq!(Skip::Udp { port: 0 }.to_string(), "UDP");
        let icmp = Skip::IpProto {
            proto: 1,
            v6: false,
        };
        assert_eq!(icmp.to_string(), "ICMP");
        assert!(!icmp.could_carry_tcp());
        let esp = Skip::IpProto {
            proto: 50,
            v6: true,
        };
        assert_eq!(esp.to_string(), "IPv6 protocol 50 (ESP, encrypted IPsec)");
        assert!(esp.could_carry_tcp() && esp.encrypted());
        let unk = Skip::IpProto {
            proto: 253,
            v6: false,
        };
        assert_eq!(unk.to_string(), "IPv4 protocol 253");
        assert!(unk.could_carry_tcp());
        assert!(!Skip::EtherType(0x88cc).could_carry_tcp());
        assert!(Skip::EtherType(0x1234).could_carry_tcp());
        assert_eq!(
            Skip::EtherType(0x88cc).to_string(),
            "EtherType 0x88cc (LLDP)"
        );
        assert_eq!(
            Skip::LinkType {
                linktype: 147,
                in_ppi: true
            }
            .to_string(),
            "link type 147 inside PPI"
        );
        assert_eq!(udp_key(50000, 53), 53);
        assert_eq!(udp_key(53, 50000), 53);
        assert_eq!(udp_key(50000, 50001), 0);
        assert_eq!(udp_key(68, 67), 67);
        assert_eq!(udp_key(67, 68), 67);
        assert!(Skip::DepthLimit
            .to_string()
            .contains(&MAX_TUNNEL_DEPTH.to_string()));
    }
}
