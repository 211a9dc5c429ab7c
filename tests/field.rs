//! Field failures recorded with real software (`samples/field/`): each
//! capture's verdict is the one written down from how the scenario was
//! made (`samples/field/expect.json`, see samples/README.md, section field/), never
//! from wsdoctor's output.

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeMap;

fn expect() -> BTreeMap<String, Value> {
    let p = samples().join("field/expect.json");
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

#[test]
fn field_failures_get_their_verdict() {
    let mut failures = Vec::new();
    let all = expect();
    assert!(all.len() >= 25);
    for (name, e) in &all {
        let (recs, outcome) = records(&samples().join("field").join(name));
        assert!(!outcome.error, "{name}");
        let cap = of_type(&recs, "capture");
        let v = &cap[0]["verdict"];
        let findings = of_type(&recs, "finding");
        let want = e["verdict"].as_str().unwrap_or("");
        let facts = &e["facts"];
        // Written down before the rule existed: a capture that simply stops
        // is not a server that does not answer (issue 12), and a 101 without
        // the header has its own code.
        let (code, status) = match want {
            "ws_upgrade_no_response" if facts["ended"] == "capture_stopped" => {
                ("capture_ended_before_answer", "inconclusive")
            }
            "ws_accept_mismatch" if facts["accept_missing"] == true => {
                ("ws_accept_missing", "error")
            }
            "ok" => ("", "ok"),
            c => (c, e["severity"].as_str().unwrap_or("error")),
        };
        if v["status"] != status {
            failures.push(format!(
                "{name}: status {} (want {status}): {}",
                v["status"], v["text"]
            ));
        }
        if !code.is_empty() && v["code"] != code {
            failures.push(format!(
                "{name}: headline code {} (want {code}): {}",
                v["code"], v["text"]
            ));
        }
        if status == "ok" {
            if let Some(f) = findings.iter().find(|f| f["severity"] != "info") {
                failures.push(format!("{name}: healthy capture has {}", f["code"]));
            }
            continue;
        }
        let Some(f) = findings.iter().find(|f| f["code"] == code) else {
            failures.push(format!("{name}: no {code} finding"));
            continue;
        };
        let msg = f["message"].as_str().unwrap_or("");
        let hint = f["hint"].as_str().unwrap_or("");
        // The facts the finding must state.
        let mut must: Vec<String> = Vec::new();
        match code {
            "conn_idle_timeout" => {
                must.push(format!("keep-alive is {} s", facts["keep_alive"]));
            }
            "mqtt_client_id_takeover" => {
                must.push(format!("\"{}\"", facts["client_id"].as_str().unwrap_or("")));
                must.push(format!("{} time(s)", facts["takeovers"]));
                if facts["how"] == "DISCONNECT 0x8E" {
                    must.push("0x8E".into());
                }
            }
            "ws_upgrade_path_not_found" => {
                must.push(facts["path"].as_str().unwrap_or("").to_string());
                if name.contains("mixed") {
                    must.push(format!(
                        "working on {}",
                        facts["served_path"].as_str().unwrap_or("")
                    ));
                }
            }
            "ws_upgrade_dropped_by_proxy" => {
                must.push(format!("{}", facts["status"]));
                if facts["backend_request"].is_string() {
                    must.push("HTTP/1.0".into());
                    must.push("Upgrade header was removed".into());
                }
            }
            "ws_accept_missing" if !hint.contains("WebSocket Protocol feature") => {
                failures.push(format!("{name}: the IIS 8+ hint is missing: {hint}"));
            }
            "tls_to_plain_port" | "ws_plain_to_tls_port" | "ws_upgrade_to_mqtt_port" => {
                must.push(format!(":{}", facts["port"]));
            }
            _ => {}
        }
        for m in must {
            if !msg.contains(&m) {
                failures.push(format!("{name}: {code} message lacks {m:?}: {msg}"));
            }
        }
        if hint.is_empty()
            || f["filter"].is_null() && f["frames"].as_array().is_none_or(|a| a.is_empty())
        {
            failures.push(format!("{name}: {code} without hint or evidence"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The idle cut is measured: the headline gives the timeout the capture
/// shows (nginx proxy_read_timeout 5 s: 4.8-4.9 s after the last byte).
#[test]
fn idle_timeout_headline_names_the_timeout_and_keepalive() {
    let (recs, _) = records(&samples().join("field/idle-timeout-nginx.pcap"));
    let v = of_type(&recs, "capture")[0]["verdict"]["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(v.contains("about 5 s"), "{v}");
    assert!(v.contains("keep-alive of 60 s"), "{v}");
    assert!(v.contains("3 session(s)"), "{v}");
}
