//! TLS captures made with real software (`samples/tls/`): the findings
//! expected from how each was made (`samples/tls/expect.json`, checked
//! against tshark's view by samples/gen/tls/tls_facts.py), never from
//! wsdoctor's output.

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeMap;

fn expect() -> BTreeMap<String, Value> {
    let p = samples().join("tls/expect.json");
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

/// Without a key log: every failure gets its finding and an error
/// headline; a completed handshake is an inconclusive `tls_encrypted`.
#[test]
fn tls_failures_without_keys() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for (name, e) in expect() {
        let want: Vec<&str> = e["findings"]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
            .unwrap_or_default();
        let (recs, outcome) = records(&samples().join("tls").join(&name));
        assert!(!outcome.error, "{name}");
        checked += 1;
        let codes: Vec<&str> = of_type(&recs, "finding")
            .iter()
            .filter_map(|f| f["code"].as_str())
            .collect();
        let v = &of_type(&recs, "capture")[0]["verdict"];
        // What needs keys is checked with the key log (see below).
        let needs_keys = want
            .iter()
            .any(|w| matches!(*w, "ok" | "mqtt_connect_refused" | "tls_keylog_no_keys"))
            || (name.starts_with("wss-alpn-h2") && e["version"] == "TLS 1.3")
            || (name.starts_with("tls13-cert") && want.contains(&"tls_cert_not_yet_valid"));
        if needs_keys {
            if !codes.contains(&"tls_encrypted") && want.contains(&"ok") {
                failures.push(format!("{name}: no tls_encrypted without keys: {codes:?}"));
            }
            if want.contains(&"ok") && v["status"] != "inconclusive" {
                failures.push(format!(
                    "{name}: without keys the verdict must be inconclusive: {}",
                    v["text"]
                ));
            }
            continue;
        }
        if want.is_empty() {
            // Node/MQTT.js refuses a certificate after the handshake, without
            // an alert (samples/README.md): named, not silent.
            if !codes.contains(&"tls_closed_after_handshake") {
                failures.push(format!(
                    "{name}: expected tls_closed_after_handshake, got {codes:?}"
                ));
            }
            continue;
        }
        for w in &want {
            // tls13 certificates are encrypted: expired is what the alert says.
            if !codes.contains(w) {
                failures.push(format!("{name}: {w} missing, got {codes:?}"));
            }
        }
        let err = want.iter().any(|w| *w != "tls_encrypted");
        if err && v["status"] != "error" && v["status"] != "warning" {
            failures.push(format!(
                "{name}: a failed handshake must not read as {}: {}",
                v["status"], v["text"]
            ));
        }
        // The alert is named with its sender and frame.
        if let Some(a) = e["alert"].as_object() {
            let f = of_type(&recs, "finding")
                .into_iter()
                .find(|f| f["code"] == "tls_alert");
            match f {
                Some(f) => {
                    let m = f["message"].as_str().unwrap_or("");
                    let desc = a["description"].as_str().unwrap_or("");
                    let who = if a["sender"] == "server" {
                        "the server"
                    } else {
                        "the device"
                    };
                    let frame = format!("frame {}", a["frame"]);
                    for needle in [desc, who, frame.as_str()] {
                        if !m.contains(needle) {
                            failures.push(format!("{name}: tls_alert lacks {needle:?}: {m}"));
                        }
                    }
                }
                None => failures.push(format!("{name}: no tls_alert")),
            }
        }
    }
    assert!(checked >= 50, "{checked}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
