//! Reordered, holed and mid-stream captures (`samples/reorder/`).
//!
//! Expected values come from `samples/reorder/expect.json`, written by
//! `samples/gen/reorder/check.py` from the unedited original capture of each
//! derivation (every HTTP message, WebSocket frame and MQTT packet of the
//! original located in the derived file by its TCP bytes) and checked
//! against tshark's truth and the clients' own logs, never from wsdoctor.
//! Captures whose expectations tshark meets are also in the oracle test.

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeMap;

fn expect() -> BTreeMap<String, Value> {
    let p = samples().join("reorder/expect.json");
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

type WsKey = (String, i64, i64, i64);
type MqttKey = (String, i64, String, String, i64);

fn ws_key(v: &Value) -> WsKey {
    (
        v["dir"].as_str().unwrap_or("").to_string(),
        v["frame"].as_i64().unwrap_or(-1),
        v["opcode"].as_i64().unwrap_or(-1),
        v["payload_len"].as_i64().unwrap_or(-1),
    )
}

fn mqtt_name(t: i64) -> &'static str {
    [
        "",
        "CONNECT",
        "CONNACK",
        "PUBLISH",
        "PUBACK",
        "PUBREC",
        "PUBREL",
        "PUBCOMP",
        "SUBSCRIBE",
        "SUBACK",
        "UNSUBSCRIBE",
        "UNSUBACK",
        "PINGREQ",
        "PINGRESP",
        "DISCONNECT",
        "AUTH",
    ]
    .get(t as usize)
    .copied()
    .unwrap_or("")
}

fn mqtt_key_expected(v: &Value) -> MqttKey {
    (
        v["dir"].as_str().unwrap_or("").to_string(),
        v["frame"].as_i64().unwrap_or(-1),
        v["type"].as_str().unwrap_or("").to_string(),
        v["topic"].as_str().unwrap_or("").to_string(),
        v["packet_id"].as_i64().unwrap_or(-1),
    )
}

fn mqtt_key_ours(v: &Value) -> MqttKey {
    let t = v["msg_type"].as_i64().unwrap_or(0);
    let pid = if matches!(t, 3..=11) {
        v["packet_id"].as_i64().unwrap_or(-1)
    } else {
        -1
    };
    (
        v["dir"].as_str().unwrap_or("").to_string(),
        v["frame"].as_i64().unwrap_or(-1),
        mqtt_name(t).to_string(),
        if t == 3 {
            v["topic"].as_str().unwrap_or("").to_string()
        } else {
            String::new()
        },
        pid,
    )
}

fn multiset<K: Ord>(v: impl IntoIterator<Item = K>) -> BTreeMap<K, usize> {
    let mut m = BTreeMap::new();
    for k in v {
        *m.entry(k).or_default() += 1;
    }
    m
}

/// Loss findings must not appear where nothing is missing.
const LOSS_CODES: &[&str] = &[
    "tcp_gap",
    "tcp_reassembly_limit",
    "ws_gap_in_payload",
    "ws_gap_lost_sync",
    "ws_resynced",
    "mqtt_gap",
    "mqtt_resync",
    "mqtt_truncated_packet",
    "http_gap",
];

#[test]
fn reordering_is_not_loss_and_holes_cost_only_their_packets() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for (name, e) in expect() {
        let path = samples().join("reorder").join(&name);
        if !path.is_file() {
            failures.push(format!("{name}: missing"));
            continue;
        }
        checked += 1;
        let (recs, outcome) = records(&path);
        assert!(!outcome.error, "{name}: read error");
        let findings: Vec<&str> = of_type(&recs, "finding")
            .iter()
            .filter_map(|f| f["code"].as_str())
            .collect();
        if e["lossless"] == true {
            for c in &findings {
                if LOSS_CODES.contains(c) {
                    failures.push(format!("{name}: lossless capture reported {c}"));
                }
            }
            for c in of_type(&recs, "connection") {
                if c["gaps"].as_array().is_some_and(|g| !g.is_empty()) {
                    failures.push(format!("{name}: lossless capture has gaps {}", c["gaps"]));
                }
            }
        }
        // Frame-level expectations where the file has them (holes,
        // mid-stream starts, what tshark cannot decode).
        let list = |k: &str| -> Vec<Value> { e[k].as_array().cloned().unwrap_or_default() };
        // Frames whose end was lost in a hole are reported as truncated:
        // not counted as decoded.
        let ws_ours: Vec<&Value> = of_type(&recs, "ws")
            .into_iter()
            .filter(|v| v["truncated"] != true)
            .collect();
        let mqtt_ours = of_type(&recs, "mqtt");
        for (kind, exp_key, intact_key, total_key, ours) in [
            (
                "ws",
                "expected_ws",
                "intact_after_resync_ws",
                "ws_frames_after_resync",
                ws_ours
                    .iter()
                    .map(|v| format!("{:?}", ws_key(v)))
                    .collect::<Vec<_>>(),
            ),
            (
                "mqtt",
                "expected_mqtt",
                "intact_after_resync_mqtt",
                "mqtt_packets_after_resync",
                mqtt_ours
                    .iter()
                    .map(|v| format!("{:?}", mqtt_key_ours(v)))
                    .collect(),
            ),
        ] {
            let key = |v: &Value| {
                if kind == "ws" {
                    format!("{:?}", ws_key(v))
                } else {
                    format!("{:?}", mqtt_key_expected(v))
                }
            };
            let exp = list(exp_key);
            let intact = list(intact_key);
            if exp.is_empty() && intact.is_empty() {
                continue;
            }
            let ours = multiset(ours);
            let mut want = multiset(exp.iter().chain(&intact).map(key));
            // Without a complete list, the intact ones must be there and the
            // total must match.
            let exact = !exp.is_empty();
            let missing: Vec<_> = want
                .iter_mut()
                .filter(|(k, n)| ours.get(*k).copied().unwrap_or(0) < **n)
                .map(|(k, _)| k.clone())
                .take(5)
                .collect();
            if !missing.is_empty() {
                failures.push(format!("{name}: {kind} missing {missing:?}"));
            }
            if exact {
                let extra: Vec<_> = ours
                    .keys()
                    .filter(|k| !want.contains_key(*k))
                    .take(5)
                    .collect();
                if !extra.is_empty() {
                    failures.push(format!("{name}: {kind} extra {extra:?}"));
                }
            } else if let Some(total) = e[total_key].as_u64() {
                let got: usize = ours.values().sum();
                if got as u64 != total {
                    failures.push(format!("{name}: {got} {kind} decoded, expected {total}"));
                }
            }
        }
        // Every expected upgrade is found.
        if let Some(n) = e["upgrades"].as_u64() {
            let got = of_type(&recs, "upgrade").len() as u64;
            if got != n {
                failures.push(format!("{name}: {got} upgrades, expected {n}"));
            }
        }
        // Mid-stream WebSocket connections are marked.
        if e["upgrades"] == 0 && e["ws_frames"].as_u64().unwrap_or(0) > 0 {
            let marked = of_type(&recs, "connection")
                .iter()
                .any(|c| c["websocket_midstream"] == true);
            if !marked {
                failures.push(format!("{name}: mid-stream WebSocket not marked"));
            }
        }
    }
    assert!(checked >= 25, "only {checked} captures checked");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
