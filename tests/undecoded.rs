//! Nothing decoded is never a green "no problems" (issue 11): packets that
//! could carry TCP but were not decoded give `capture_not_decoded` (or
//! `capture_unsupported_linktype`) with counts by kind; a capture without
//! any TCP gives `capture_no_tcp` and a verdict that is not "✓".

#[path = "common/pcap.rs"]
mod pcap;

use pcap::*;
use serde_json::Value;
use wsdoctor::analyze::{analyze_bytes, Options, Outcome};
use wsdoctor::report::jsonl::Jsonl;
use wsdoctor::report::model::CaptureReport;
use wsdoctor::report::text;

fn run(bytes: &[u8]) -> (Vec<Value>, Outcome, CaptureReport) {
    let mut buf = Vec::new();
    let outcome = {
        let mut sink = Jsonl::new(&mut buf, "t.pcap");
        analyze_bytes(bytes, &Options::default(), &mut sink)
    };
    let recs = buf
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    let mut rep = CaptureReport::new("t.pcap");
    analyze_bytes(bytes, &Options::default(), &mut rep);
    (recs, outcome, rep)
}

fn finding<'a>(recs: &'a [Value], code: &str) -> Option<&'a Value> {
    recs.iter()
        .find(|r| r["type"] == "finding" && r["code"] == code)
}

/// Ethernet / IPv4 (192.0.2.1 -> 192.0.2.2) of protocol `proto`.
fn eth_ip(proto: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0u8; 12];
    f.extend_from_slice(&[0x08, 0x00, 0x45, 0]);
    f.extend_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
    f.extend_from_slice(&[0, 1, 0x40, 0, 64, proto, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2]);
    f.extend_from_slice(payload);
    f
}

#[test]
fn gre_protocol_not_decoded_is_a_warning_with_counts() {
    let mut p = Pcap::new();
    let c = ([10, 0, 0, 1], 40000);
    let s = ([10, 0, 0, 2], 1883);
    p.tcp(c, s, 1, 0, SYN, b"");
    p.tcp(s, c, 9, 2, SYN_ACK, b"");
    let mut wccp = vec![0, 0, 0x88, 0x3e];
    wccp.extend_from_slice(&[0u8; 40]);
    for _ in 0..5 {
        p.record(&eth_ip(47, &wccp));
    }
    let (recs, outcome, rep) = run(&p.bytes);
    let f = finding(&recs, "capture_not_decoded").expect("capture_not_decoded");
    assert_eq!(f["severity"], "warning");
    assert_eq!(
        f["message"],
        "5 of 7 packets are GRE protocol 0x883e (WCCP) inside IPv4: not decoded"
    );
    assert_eq!(f["frames"], serde_json::json!([3]));
    assert!(outcome.problems >= 1);
    let cap = recs.iter().find(|r| r["type"] == "capture").unwrap();
    assert_eq!(cap["decoded"]["not_decoded"], 5);
    assert_eq!(cap["decoded"]["tcp"], 2);
    assert!(text::headline(&rep).contains("7 packets (5 not decoded)"));
    assert!(rep.verdict().starts_with('⚠'), "{}", rep.verdict());
}

#[test]
fn several_kinds_and_the_depth_limit() {
    let mut p = Pcap::new();
    // IP-in-IP nested 10 deep (the limit is 8), an ESP packet, an unknown EtherType
    let mut inner = eth_ip(6, &[0u8; 20])[14..].to_vec();
    for _ in 0..10 {
        inner = eth_ip(4, &inner)[14..].to_vec();
    }
    let mut deep = vec![0u8; 12];
    deep.extend_from_slice(&[0x08, 0x00]);
    deep.extend_from_slice(&inner);
    p.record(&deep);
    p.record(&eth_ip(50, &[0u8; 32]));
    p.record(&eth_ip(50, &[0u8; 32]));
    let mut odd = vec![0u8; 12];
    odd.extend_from_slice(&[0x12, 0x34, 1, 2, 3, 4]);
    p.record(&odd);
    let (recs, _, _) = run(&p.bytes);
    let f = finding(&recs, "capture_not_decoded").unwrap();
    assert_eq!(
        f["message"],
        "4 of 4 packets were not decoded: 2 IPv4 protocol 50 (ESP, encrypted IPsec), 1 EtherType 0x1234, 1 tunnels nested deeper than 8 levels"
    );
    let hint = f["hint"].as_str().unwrap();
    assert!(hint.contains("Encrypted layers") && hint.contains("MAX_TUNNEL_DEPTH"));
    assert!(finding(&recs, "capture_no_tcp").is_none());
}

#[test]
fn only_dns_is_nothing_to_analyse_not_a_green_verdict() {
    let mut p = Pcap::new();
    let mut udp = vec![0xc3, 0x50, 0, 53, 0, 20, 0, 0];
    udp.extend_from_slice(&[0u8; 12]);
    for _ in 0..3 {
        p.record(&eth_ip(17, &udp));
    }
    let mut arp = vec![0u8; 12];
    arp.extend_from_slice(&[0x08, 0x06]);
    arp.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
    arp.extend_from_slice(&[0u8; 20]);
    p.record(&arp);
    let (recs, outcome, rep) = run(&p.bytes);
    let f = finding(&recs, "capture_no_tcp").expect("capture_no_tcp");
    assert_eq!(f["severity"], "info");
    assert_eq!(
        f["message"],
        "no TCP in this capture, nothing to analyse: 4 packets, none of them TCP: 3 UDP port 53 (DNS), 1 ARP"
    );
    assert!(finding(&recs, "capture_not_decoded").is_none());
    assert_eq!(outcome.problems, 0);
    let v = rep.verdict();
    assert!(v.starts_with('?') && !v.contains('✓'), "{v}");
    assert!(v.contains("no TCP in this capture"), "{v}");
    let cap = recs.iter().find(|r| r["type"] == "capture").unwrap();
    assert_eq!(cap["decoded"]["not_tcp"], 4);
}

#[test]
fn empty_capture_and_unknown_link_type() {
    let p = Pcap::new();
    let (recs, _, rep) = run(&p.bytes);
    assert_eq!(
        finding(&recs, "capture_no_tcp").unwrap()["message"],
        "the capture holds no packets: nothing to analyse"
    );
    assert!(rep.verdict().starts_with('?'));
    // link type 147 (USER0)
    let mut p = Pcap::new();
    let n = p.bytes.len();
    p.bytes[n - 4..].copy_from_slice(&147u32.to_le_bytes());
    p.record(b"whatever");
    p.record(b"whatever");
    let (recs, outcome, _) = run(&p.bytes);
    let f = finding(&recs, "capture_unsupported_linktype").unwrap();
    assert_eq!(
        f["message"],
        "2 of 2 packets are link type 147: not decoded (first: frame 1)"
    );
    assert!(f["hint"].as_str().unwrap().contains("PPI (192)"));
    // the link type explains it: no second finding, no "no TCP"
    assert!(finding(&recs, "capture_not_decoded").is_none());
    assert!(finding(&recs, "capture_no_tcp").is_none());
    assert_eq!(outcome.problems, 1);
}
