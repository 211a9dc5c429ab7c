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
        // A pcapng with its secrets inside is never without keys (checked
        // in tls_with_key_log).
        if name.ends_with(".pcapng") {
            continue;
        }
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
    assert!(checked >= 49, "{checked}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// With the key log (or the pcapng's own secrets): the sessions are
/// decrypted, what they carried is diagnosed like clear text, and what
/// needed keys is decided.
#[test]
fn tls_with_key_log() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for (name, e) in expect() {
        let path = samples().join("tls").join(&name);
        let opts = match e["keylog"].as_str() {
            Some(k) => keylog_options(&samples().join("tls").join(k)),
            // Secrets inside the pcapng (editcap --inject-secrets).
            None if name.ends_with(".pcapng") => wsdoctor::analyze::Options::default(),
            None => continue,
        };
        checked += 1;
        let (recs, outcome) = records_with(&path, &opts);
        assert!(!outcome.error, "{name}");
        let findings = of_type(&recs, "finding");
        let codes: Vec<&str> = findings.iter().filter_map(|f| f["code"].as_str()).collect();
        let v = &of_type(&recs, "capture")[0]["verdict"];
        let conns = of_type(&recs, "connection");
        let want: Vec<&str> = e["findings"]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
            .unwrap_or_default();
        // Decrypted where the scenario says tshark decrypts.
        let decrypted = conns.iter().any(|c| c["decrypted"] == true);
        if e["decrypt"] == true && !decrypted {
            failures.push(format!("{name}: not decrypted: {codes:?}"));
        }
        if codes.contains(&"tls_encrypted") {
            failures.push(format!("{name}: tls_encrypted with a key log"));
        }
        let mqtt = of_type(&recs, "mqtt");
        if let Some(n) = e["mqtt"]["packets"].as_u64() {
            if mqtt.len() as u64 != n {
                failures.push(format!("{name}: {} MQTT packets (want {n})", mqtt.len()));
            }
            if let Some(f) = e["mqtt"]["connack_frame"].as_u64() {
                let hit = mqtt.iter().any(|m| m["msg_type"] == 2 && m["frame"] == f);
                if !hit {
                    failures.push(format!("{name}: no CONNACK in frame {f}"));
                }
            }
            if e["mqtt"]["upgrade_status"] == 101 {
                let up = of_type(&recs, "upgrade");
                if !up
                    .iter()
                    .all(|u| u["decrypted"] == true && u["status"] == 101)
                    || up.is_empty()
                {
                    failures.push(format!("{name}: upgrade not decrypted or not 101"));
                }
            }
        }
        if want.contains(&"ok") {
            if let Some(f) = findings.iter().find(|f| f["severity"] != "info") {
                failures.push(format!("{name}: healthy session has {}", f["code"]));
            }
            // MQTT inside: all clear; openssl's own test traffic: no device
            // traffic to judge.
            let want_status = if e["mqtt"]["packets"].as_u64().unwrap_or(0) > 0 {
                "ok"
            } else {
                "inconclusive"
            };
            if v["status"] != want_status {
                failures.push(format!(
                    "{name}: verdict {} (want {want_status}): {}",
                    v["status"], v["text"]
                ));
            }
            continue;
        }
        if want.is_empty() {
            if !codes.contains(&"tls_closed_after_handshake") {
                failures.push(format!(
                    "{name}: expected tls_closed_after_handshake, got {codes:?}"
                ));
            }
            continue;
        }
        for w in &want {
            if !codes.contains(w) {
                failures.push(format!("{name}: {w} missing, got {codes:?}"));
            }
        }
        if v["status"] != "error" && v["status"] != "warning" {
            failures.push(format!("{name}: verdict {}: {}", v["status"], v["text"]));
        }
        // TLS 1.3 certificates are read once decrypted: the finding gives
        // the certificate's own dates.
        if name.starts_with("tls13-cert") {
            let validity = e["certificate_validity"]
                .as_array()
                .and_then(|a| a.first())
                .and_then(|d| d.as_str())
                .map(|d| d.get(..10).unwrap_or(d).to_string());
            let cert_finding = findings.iter().find(|f| {
                f["code"]
                    .as_str()
                    .is_some_and(|c| c.starts_with("tls_cert_"))
            });
            match (validity, cert_finding) {
                (Some(d), Some(f)) => {
                    let m = f["message"].as_str().unwrap_or("");
                    let after = e["certificate_validity"][1].as_str().unwrap_or("");
                    let after = after.get(..10).unwrap_or(after);
                    if !m.contains(&d) && !m.contains(after) {
                        failures.push(format!(
                            "{name}: certificate dates ({d}, {after}) not in {m}"
                        ));
                    }
                }
                (v, f) => failures.push(format!("{name}: validity {v:?} finding {f:?}")),
            }
        }
    }
    assert!(checked >= 30, "{checked}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The batch reports say which connections were decrypted with a key log,
/// also when they are rebuilt from JSON Lines.
#[test]
fn reports_mark_decrypted_connections() {
    let bin = env!("CARGO_BIN_EXE_wsdoctor");
    let dir = std::env::temp_dir().join(format!("wsd-dec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cap = samples().join("tls/wss-paho-tls13.pcap");
    let keys = samples().join("tls/wss-paho-tls13.keys");
    let html = dir.join("r.html");
    let st = std::process::Command::new(bin)
        .args(["report", "--tls-keylog"])
        .arg(&keys)
        .arg("--html")
        .arg(&html)
        .arg(&cap)
        .output()
        .unwrap();
    assert!(st.status.code().is_some(), "{st:?}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert_eq!(
        page.matches("decrypted TLS</span>").count(),
        1,
        "one decrypted connection"
    );
    // Without the key log: nothing marked.
    let st = std::process::Command::new(bin)
        .args(["report", "--html"])
        .arg(&html)
        .arg(&cap)
        .output()
        .unwrap();
    assert!(st.status.code().is_some());
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(!page.contains("decrypted TLS</span>"));
    // From JSON Lines.
    let jsonl = std::process::Command::new(bin)
        .args(["analyze", "--format", "jsonl", "--tls-keylog"])
        .arg(&keys)
        .arg(&cap)
        .output()
        .unwrap();
    let lines = dir.join("r.jsonl");
    std::fs::write(&lines, &jsonl.stdout).unwrap();
    let st = std::process::Command::new(bin)
        .args(["report", "--from-jsonl", "--html"])
        .arg(&html)
        .arg(&lines)
        .output()
        .unwrap();
    assert!(st.status.code().is_some());
    let page = std::fs::read_to_string(&html).unwrap();
    assert_eq!(page.matches("decrypted TLS</span>").count(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}
