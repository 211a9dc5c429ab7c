//! Devices behind an HTTP CONNECT proxy (`samples/proxy/`, real tinyproxy and
//! squid, MQTT.js and paho clients): the proxy's answer, the verdict, and
//! what went through the tunnel, against `samples/proxy/expect.json` (how
//! the scenarios were made, frames and counts from tshark, and for the
//! clear-text tunnels, which tshark does not decode, from the proxy's
//! other leg of the same run). Never from wsdoctor's output.

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeMap;

fn expect() -> BTreeMap<String, Value> {
    let p = samples().join("proxy/expect.json");
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

fn u64s(v: &Value) -> Vec<u64> {
    match v {
        Value::Array(a) => a.iter().filter_map(Value::as_u64).collect(),
        Value::Number(n) => n.as_u64().into_iter().collect(),
        _ => Vec::new(),
    }
}

const MQTT_TYPES: [&str; 16] = [
    "RESERVED",
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
];

#[test]
fn proxied_devices_get_their_verdict_and_tunnel() {
    let all = expect();
    assert!(all.len() >= 12);
    let mut failures = Vec::new();
    for (name, e) in &all {
        let (recs, outcome) = records(&samples().join("proxy").join(name));
        assert!(!outcome.error, "{name}");
        let v = &of_type(&recs, "capture")[0]["verdict"];
        let findings = of_type(&recs, "finding");
        let conns = of_type(&recs, "connection");
        let streams = u64s(&e["streams"]);
        let mut fail = |m: String| failures.push(format!("{name}: {m}"));

        // The verdict. Without the key log a wss tunnel cannot decide.
        let encrypted = e["inside"] == "tls";
        let (status, code) = match e["verdict"].as_str().unwrap() {
            "ok" if encrypted => ("inconclusive", "tls_encrypted"),
            "ok" => ("ok", ""),
            c => (e["severity"].as_str().unwrap(), c),
        };
        if v["status"] != status || (!code.is_empty() && v["code"] != code) {
            fail(format!(
                "verdict {} {} (want {status} {code}): {}",
                v["status"], v["code"], v["text"]
            ));
        }
        if status == "ok" {
            if let Some(f) = findings.iter().find(|f| f["severity"] != "info") {
                fail(format!("healthy capture has {}", f["code"]));
            }
        }

        // The proxy's answer, per device-leg connection.
        let t = &e["tunnel"];
        let ts = &e["tshark"];
        let req_frames = u64s(if ts["connect_frames"].is_null() {
            &ts["connect_frame"]
        } else {
            &ts["connect_frames"]
        });
        let resp_frames = u64s(if ts["answer_frames"].is_null() {
            &ts["answer_frame"]
        } else {
            &ts["answer_frames"]
        });
        for (i, s) in streams.iter().enumerate() {
            let Some(c) = conns.iter().find(|c| c["stream"] == *s) else {
                fail(format!("no connection record for stream {s}"));
                continue;
            };
            let got = &c["tunnel"];
            for (k, want) in [
                ("target", &t["target"]),
                ("status", &t["status"]),
                ("reason", &t["phrase"]),
                ("proxy", &t["proxy"]),
            ] {
                if &got[k] != want {
                    fail(format!("stream {s}: tunnel {k} {} (want {want})", got[k]));
                }
            }
            if let Some(a) = t["proxy_authenticate"].as_str() {
                if got["proxy_authenticate"] != a || got["proxy_authorization_sent"] != false {
                    fail(format!("stream {s}: 407 facts {got}"));
                }
            }
            if let Some(x) = t["x_squid_error"].as_str() {
                if got["proxy_error"] != x {
                    fail(format!("stream {s}: proxy_error {}", got["proxy_error"]));
                }
            }
            if got["request_frame"] != req_frames[i] || got["response_frame"] != resp_frames[i] {
                fail(format!(
                    "stream {s}: CONNECT/answer frames {}/{} (want {}/{})",
                    got["request_frame"], got["response_frame"], req_frames[i], resp_frames[i]
                ));
            }
            // What went through the tunnel.
            let want_proto = e["inside"].as_str().unwrap_or("http");
            if c["protocol"] != want_proto {
                fail(format!(
                    "stream {s}: protocol {} (want {want_proto})",
                    c["protocol"]
                ));
            }
        }

        // A refused tunnel: one finding per attempt, with the CONNECT and
        // the answer as evidence.
        if code == "http_connect_refused" {
            let refused: Vec<_> = findings
                .iter()
                .filter(|f| f["code"] == "http_connect_refused")
                .collect();
            if refused.len() as u64 != e["attempts"].as_u64().unwrap() {
                fail(format!(
                    "{} refusals (want {})",
                    refused.len(),
                    e["attempts"]
                ));
            }
            for (i, f) in refused.iter().enumerate() {
                let want = vec![req_frames[i], resp_frames[i]];
                if u64s(&f["frames"]) != want {
                    fail(format!("refusal frames {} (want {want:?})", f["frames"]));
                }
                let msg = f["message"].as_str().unwrap_or("");
                let status = t["status"].to_string();
                if !msg.contains(t["target"].as_str().unwrap()) || !msg.contains(&status) {
                    fail(format!("refusal message lacks target or status: {msg}"));
                }
            }
        }

        // WebSocket and MQTT inside the clear tunnels (both legs).
        if encrypted {
            continue;
        }
        let mut legs = streams.clone();
        legs.extend(u64s(&e["backend_streams"]));
        for s in legs {
            let ws = recs
                .iter()
                .filter(|r| r["type"] == "ws" && r["stream"] == s)
                .count() as u64;
            let mqtt: Vec<&str> = recs
                .iter()
                .filter(|r| r["type"] == "mqtt" && r["stream"] == s)
                .map(|r| MQTT_TYPES[r["msg_type"].as_u64().unwrap_or(0) as usize & 15])
                .collect();
            if let Some(want) = e["ws_frames"].as_u64() {
                if ws != want {
                    fail(format!("stream {s}: {ws} WebSocket frames (want {want})"));
                }
            }
            let want: Vec<&str> = e["mqtt"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if mqtt != want {
                fail(format!("stream {s}: MQTT {mqtt:?} (want {want:?})"));
            }
        }
        // Where tshark saw them in this file, the frames too.
        if ts["mqtt_frames_are_of"].is_null() {
            for m in ts["mqtt"].as_array().into_iter().flatten() {
                let m = m.as_str().unwrap();
                let (dir, rest) = m.split_once(' ').unwrap();
                let (ty, frame) = rest.split_once('@').unwrap();
                let frame: u64 = frame.parse().unwrap();
                let hit = recs.iter().any(|r| {
                    r["type"] == "mqtt"
                        && r["dir"] == dir
                        && r["frame"] == frame
                        && MQTT_TYPES[r["msg_type"].as_u64().unwrap_or(0) as usize & 15] == ty
                });
                if !hit {
                    fail(format!("no MQTT {m}"));
                }
            }
        }
        for (k, field) in [
            ("upgrade_request_frames", "request_frame"),
            ("upgrade_response_frames", "response_frame"),
        ] {
            for f in u64s(&ts[k]) {
                let hit = of_type(&recs, "upgrade")
                    .iter()
                    .any(|u| streams.contains(&u["stream"].as_u64().unwrap()) && u[field] == f);
                if !hit {
                    fail(format!("no upgrade with {field} {f}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// The wss tunnels decrypted with the client's key log: the verdict and
/// what went through the tunnel, as for the clear-text ones.
#[test]
fn proxied_wss_with_key_log() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for (name, e) in expect() {
        let Some(k) = e["keylog"].as_str() else {
            continue;
        };
        checked += 1;
        let dir = samples().join("proxy");
        let (recs, _) = records_with(&dir.join(&name), &keylog_options(&dir.join(k)));
        let v = &of_type(&recs, "capture")[0]["verdict"];
        if v["status"] != "ok" {
            failures.push(format!("{name}: verdict {}", v["text"]));
        }
        let mut legs = u64s(&e["streams"]);
        legs.extend(u64s(&e["backend_streams"]));
        for s in legs {
            let of = |ty: &str| {
                recs.iter()
                    .filter(|r| r["type"] == ty && r["stream"] == s)
                    .collect::<Vec<_>>()
            };
            let ws = of("ws");
            let mqtt: Vec<&str> = of("mqtt")
                .iter()
                .map(|r| MQTT_TYPES[r["msg_type"].as_u64().unwrap_or(0) as usize & 15])
                .collect();
            let want: Vec<&str> = e["mqtt"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if ws.len() as u64 != e["ws_frames"].as_u64().unwrap() || mqtt != want {
                failures.push(format!("{name} stream {s}: {} ws, mqtt {mqtt:?}", ws.len()));
            }
            if !ws.iter().all(|r| r["decrypted"] == true) {
                failures.push(format!(
                    "{name} stream {s}: ws records not marked decrypted"
                ));
            }
        }
        // tshark's frames of the device leg.
        for m in e["tshark"]["mqtt"].as_array().into_iter().flatten() {
            let m = m.as_str().unwrap();
            let (dir, rest) = m.split_once(' ').unwrap();
            let frame: u64 = rest.split_once('@').unwrap().1.parse().unwrap();
            if !recs
                .iter()
                .any(|r| r["type"] == "mqtt" && r["dir"] == dir && r["frame"] == frame)
            {
                failures.push(format!("{name}: no MQTT {m}"));
            }
        }
    }
    assert!(checked >= 2);
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
