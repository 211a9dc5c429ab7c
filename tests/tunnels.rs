//! A tunnelled session gets the same verdict as its untunnelled twin
//! (samples/tunnel/: the same scenario, same software, made in the same run
//! by samples/gen/tunnel/make.sh on the bare veth: plain4 for IPv4 inside,
//! plain6 for IPv6 inside).
//!
//! Compared: the verdict line, the findings (code, severity, stream), and
//! per connection the protocol, payload bytes per direction, the upgrade
//! status and outcome, and the MQTT packet types per direction. Ports,
//! outer addresses, frame numbers and packet counts differ by design (ARP or
//! fragments in between; the mirror session has every packet twice).

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use wsdoctor::analyze::{analyze_path, Options};
use wsdoctor::report::model::CaptureReport;

type Summary = (
    String,
    Vec<(String, String, i64)>,
    Vec<(i64, String, i64, i64, i64, String)>,
    BTreeMap<(i64, String), Vec<i64>>,
);

fn summary(name: &str) -> Summary {
    let path = samples().join("tunnel").join(name);
    let mut rep = CaptureReport::without_timelines(name);
    analyze_path(&path, &Options::default(), &mut rep);
    let (recs, _) = records(&path);
    let mut findings: Vec<(String, String, i64)> = of_type(&recs, "finding")
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap().to_string(),
                f["severity"].as_str().unwrap().to_string(),
                f["stream"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    findings.sort();
    let upgrades: BTreeMap<i64, &Value> = of_type(&recs, "upgrade")
        .into_iter()
        .map(|u| (u["stream"].as_i64().unwrap(), u))
        .collect();
    let conns = of_type(&recs, "connection")
        .iter()
        .map(|c| {
            let k = c["stream"].as_i64().unwrap();
            let u = upgrades.get(&k);
            (
                k,
                c["protocol"].as_str().unwrap().to_string(),
                c["bytes_c2s"].as_i64().unwrap(),
                c["bytes_s2c"].as_i64().unwrap(),
                u.and_then(|u| u["status"].as_i64()).unwrap_or(-1),
                u.and_then(|u| u["outcome"].as_str())
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect();
    let mut mqtt: BTreeMap<(i64, String), Vec<i64>> = BTreeMap::new();
    for m in of_type(&recs, "mqtt") {
        mqtt.entry((
            m["stream"].as_i64().unwrap(),
            m["dir"].as_str().unwrap().to_string(),
        ))
        .or_default()
        .push(m["msg_type"].as_i64().unwrap());
    }
    let cap = of_type(&recs, "capture");
    assert_eq!(
        cap[0]["decoded"]["not_decoded"], 0,
        "{name}: packets left undecoded"
    );
    (rep.verdict(), findings, conns, mqtt)
}

#[test]
fn tunnelled_sessions_get_the_verdict_of_their_twin() {
    let twin4 = summary("plain4.pcap");
    let twin6 = summary("plain6.pcap");
    assert!(
        twin4.0.contains("IIS 7.5"),
        "the twin's verdict: {}",
        twin4.0
    );
    assert_eq!(twin4.2.len(), 5);
    let v4 = [
        "gre",
        "gre6",
        "gretap",
        "erspan1",
        "erspan2",
        "erspan3",
        "ip6erspan",
        "ipip",
        "ip4ip6",
        "vxlan",
        "erspan-mirror",
    ];
    let v6 = ["sit", "ip6ip6"];
    for (names, twin) in [(&v4[..], &twin4), (&v6[..], &twin6)] {
        for n in names {
            let s = summary(&format!("{n}.pcap"));
            assert_eq!(&s.0, &twin.0, "{n}: verdict");
            assert_eq!(&s.1, &twin.1, "{n}: findings");
            assert_eq!(&s.2, &twin.2, "{n}: connections");
            assert_eq!(&s.3, &twin.3, "{n}: MQTT packets");
        }
    }
}

/// paho 1.6's wake-up socket pair (samples/tunnel/paho-socketpair.pcap:
/// everything on lo, paho_many.py publishing 80 messages over websockets):
/// a local TCP connection carrying 81 single `0` (0x30) bytes (tshark:
/// stream 1, 81 payload bytes, all 0x30, no MQTT) is not an MQTT session.
#[test]
fn paho_wakeup_socket_pair_is_not_mqtt() {
    let path = samples().join("tunnel/paho-socketpair.pcap");
    let (recs, outcome) = records(&path);
    let conns = of_type(&recs, "connection");
    assert_eq!(conns.len(), 2);
    assert_eq!(conns[0]["protocol"], "websocket");
    assert_eq!(conns[1]["protocol"], "unknown");
    assert_eq!(conns[1]["bytes_s2c"], 81);
    let mqtt = of_type(&recs, "mqtt");
    assert_eq!(mqtt.len(), 83);
    assert!(mqtt.iter().all(|m| m["stream"] == 0));
    assert!(!recs
        .iter()
        .any(|r| r["type"] == "finding" && r["stream"] == 1));
    assert_eq!(outcome.problems, 0);
    let mut rep = CaptureReport::without_timelines("paho-socketpair.pcap");
    analyze_path(&path, &Options::default(), &mut rep);
    assert_eq!(
        rep.verdict(),
        "✓ 1 MQTT-over-WebSocket session(s), no problems found"
    );
}
