//! The second oracle for MQTT inside WebSocket: the client's own record of
//! what it sent and received (`samples/*.client.json`, written by the
//! MQTT.js and paho scripts that made the captures). Every MQTT packet the
//! client logged (direction, type, PUBLISH topic) is one wsdoctor decoded
//! from the capture, and nothing else.

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeMap;

/// Clients that log packets they never put on the wire.
const KNOWN: &[(&str, &str)] = &[(
    "ws-wrong-accept.client.json",
    "MQTT.js logs its CONNECT as sent before the handshake fails (the 101 has a wrong accept), so it never reaches the wire",
)];

type Key = (String, String, String);

#[test]
fn mqtt_packets_match_the_clients_own_logs() {
    let mut compared = 0;
    let mut entries: Vec<_> = std::fs::read_dir(samples())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".client.json") else {
            continue;
        };
        let log: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        let Some(events) = log["log"].as_array() else {
            continue; // not a packet log (device scripts, paho session logs)
        };
        let mut want: BTreeMap<Key, i64> = BTreeMap::new();
        for e in events {
            let (Some(dir), Some(ty)) = (e["dir"].as_str(), e["type"].as_str()) else {
                continue;
            };
            let dir = if dir == "send" { "c2s" } else { "s2c" };
            let ty = ty.to_ascii_uppercase();
            let topic = if ty == "PUBLISH" {
                e["topic"].as_str().unwrap_or("").to_string()
            } else {
                String::new()
            };
            *want.entry((dir.into(), ty, topic)).or_default() += 1;
        }
        if want.is_empty() {
            continue;
        }
        let (recs, _) = records(&samples().join(format!("{stem}.pcap")));
        let mut got: BTreeMap<Key, i64> = BTreeMap::new();
        for r in of_type(&recs, "mqtt") {
            let ty = r["msg_name"].as_str().unwrap().to_string();
            // The client logs the topic as sent: empty when an alias stood in for it.
            let wire = if r["topic_from_alias"] == true {
                ""
            } else {
                r["topic"].as_str().unwrap_or("")
            };
            let topic = if ty == "PUBLISH" {
                wire.to_string()
            } else {
                String::new()
            };
            *got.entry((r["dir"].as_str().unwrap().into(), ty, topic))
                .or_default() += 1;
        }
        let known = KNOWN.iter().any(|(k, _)| *k == name);
        if known {
            assert_ne!(want, got, "{name} agrees now: remove it from KNOWN");
            continue;
        }
        assert_eq!(want, got, "{name}: client log (left) vs wsdoctor (right)");
        compared += want.values().sum::<i64>();
    }
    assert!(compared > 100, "only {compared} logged packets compared");
}
