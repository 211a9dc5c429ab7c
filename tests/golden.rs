//! Diagnoses of the scenario samples. The expected diagnosis of each comes
//! from how the sample was made (samples/README.md: which server stand-in
//! answered what); the text reports are then pinned as golden files (insta)
//! so a change in wording is a visible diff.

mod common;

use common::*;
use serde_json::Value;
use wsdoctor::analyze::{analyze_path, Options};
use wsdoctor::report::{model::CaptureReport, text};

struct Case {
    sample: &'static str,
    /// Finding codes that must be present (with severity error).
    errors: &'static [&'static str],
    /// Upgrade outcome of every upgrade in the capture.
    outcome: Option<&'static str>,
    /// Server product and version identified, if any.
    server: Option<(&'static str, &'static str)>,
}

const CASES: &[Case] = &[
    Case {
        sample: "iis75-404.pcap",
        errors: &["ws_upgrade_rejected_pre_iis8"],
        outcome: Some("rejected"),
        server: Some(("IIS", "7.5")),
    },
    Case {
        sample: "iis75-200.pcap",
        errors: &["ws_upgrade_rejected_pre_iis8"],
        outcome: Some("rejected"),
        server: Some(("IIS", "7.5")),
    },
    Case {
        sample: "iis75-400.pcap",
        errors: &["ws_upgrade_rejected_pre_iis8"],
        outcome: Some("rejected"),
        server: Some(("IIS", "7.5")),
    },
    Case {
        sample: "iis75-405.pcap",
        errors: &["ws_upgrade_rejected_pre_iis8"],
        outcome: Some("rejected"),
        server: Some(("IIS", "7.5")),
    },
    Case {
        sample: "iis75-noserver-404.pcap",
        errors: &["ws_upgrade_rejected_pre_iis8"],
        outcome: Some("rejected"),
        server: Some(("IIS", "7.5")),
    },
    Case {
        sample: "iis75-404-wise.pcap",
        errors: &["ws_upgrade_rejected_pre_iis8"],
        outcome: Some("rejected"),
        server: Some(("IIS", "7.5")),
    },
    Case {
        sample: "iis85-nows.pcap",
        errors: &["ws_upgrade_rejected"],
        outcome: Some("rejected"),
        server: Some(("IIS", "8.5")),
    },
    Case {
        sample: "nginx-426.pcap",
        errors: &["ws_upgrade_rejected"],
        outcome: Some("rejected"),
        server: Some(("nginx", "1.22.1")),
    },
    Case {
        sample: "nginx-400.pcap",
        errors: &["ws_upgrade_rejected", "ws_key_missing"],
        outcome: Some("rejected"),
        server: Some(("nginx", "1.22.1")),
    },
    Case {
        sample: "ws-no-response.pcap",
        errors: &["ws_upgrade_no_response"],
        outcome: Some("no_response"),
        server: None,
    },
    Case {
        sample: "ws-reset.pcap",
        errors: &["ws_upgrade_reset"],
        outcome: Some("reset"),
        server: None,
    },
    Case {
        sample: "ws-wrong-accept.pcap",
        errors: &["ws_accept_mismatch"],
        outcome: Some("invalid"),
        server: None,
    },
    Case {
        sample: "iis8-ok.pcap",
        errors: &[],
        outcome: Some("accepted"),
        server: Some(("IIS", "8.0")),
    },
    Case {
        sample: "iis10-ok.pcap",
        errors: &[],
        outcome: Some("accepted"),
        server: Some(("IIS", "10.0")),
    },
    Case {
        sample: "mqtt-connect-refused.pcap",
        errors: &["mqtt_connect_refused"],
        outcome: None,
        server: None,
    },
    Case {
        sample: "ws-connect-refused.pcap",
        errors: &["mqtt_connect_refused"],
        outcome: Some("accepted"),
        server: None,
    },
    Case {
        sample: "hostile-strings.pcap",
        errors: &["ws_upgrade_rejected_pre_iis8"],
        outcome: Some("rejected"),
        server: Some(("IIS", "7.5")),
    },
];

#[test]
fn diagnoses_match_how_the_samples_were_made() {
    for c in CASES {
        let (recs, _) = records(&samples().join(c.sample));
        let findings = of_type(&recs, "finding");
        for code in c.errors {
            let f = findings.iter().find(|f| f["code"] == *code);
            let f = f.unwrap_or_else(|| {
                panic!(
                    "{}: no {code}; got {:?}",
                    c.sample,
                    findings
                        .iter()
                        .map(|f| f["code"].clone())
                        .collect::<Vec<_>>()
                )
            });
            assert_eq!(f["severity"], "error", "{}: {code}", c.sample);
            assert!(
                !f["frames"].as_array().unwrap().is_empty(),
                "{}: {code} without evidence frames",
                c.sample
            );
            assert!(
                f["filter"].as_str().unwrap().contains("tcp.stream eq"),
                "{}: filter",
                c.sample
            );
            assert!(f["hint"].is_string(), "{}: {code} without a hint", c.sample);
        }
        if c.errors.is_empty() {
            let bad: Vec<&Value> = findings
                .iter()
                .copied()
                .filter(|f| f["severity"] != "info")
                .collect();
            assert!(
                bad.is_empty(),
                "{}: a working upgrade must not be flagged: {bad:?}",
                c.sample
            );
        }
        if !c.errors.contains(&"ws_upgrade_rejected_pre_iis8") {
            assert!(
                !findings
                    .iter()
                    .any(|f| f["code"] == "ws_upgrade_rejected_pre_iis8"),
                "{}",
                c.sample
            );
        }
        let upgrades = of_type(&recs, "upgrade");
        if let Some(o) = c.outcome {
            assert!(!upgrades.is_empty(), "{}: no upgrade record", c.sample);
            for u in &upgrades {
                assert_eq!(u["outcome"], o, "{}", c.sample);
            }
        }
        if let Some((product, version)) = c.server {
            let p = &upgrades[0]["server_product"];
            assert_eq!(p["product"], product, "{}", c.sample);
            assert_eq!(p["version"], version, "{}", c.sample);
        }
    }
}

#[test]
fn pre_iis8_hint_names_the_fix_and_the_port() {
    let (recs, _) = records(&samples().join("iis75-404.pcap"));
    let f = of_type(&recs, "finding")
        .into_iter()
        .find(|f| f["code"] == "ws_upgrade_rejected_pre_iis8")
        .unwrap();
    let hint = f["hint"].as_str().unwrap();
    for needle in [
        "IIS 8.0",
        "Windows 8 / Server 2012",
        "1883",
        "51328",
        "Windows 7 / Server 2008 R2",
    ] {
        assert!(hint.contains(needle), "hint lacks {needle}: {hint}");
    }
    // Without a Server header the error page is the evidence, and it is said.
    let (recs, _) = records(&samples().join("iis75-noserver-404.pcap"));
    let u = &of_type(&recs, "upgrade")[0];
    assert_eq!(u["server_header"], Value::Null);
    assert_eq!(
        u["server_product"]["evidence"],
        serde_json::json!(["error_page"])
    );
    assert_eq!(u["server_product"]["websocket"], "no");
}

/// The field-failure captures whose text reports are pinned (their verdicts
/// are checked against samples/field/expect.json in tests/field.rs).
const FIELD_GOLDEN: &[&str] = &[
    "idle-timeout-nginx.pcap",
    "clientid-takeover-mosquitto.pcap",
    "clientid-takeover-ejabberd-mqtt5.pcap",
    "ws-plain-to-tls-port.pcap",
    "ws-plain-to-tls-port-mosquitto-mqtts.pcap",
    "tls-to-plain-port.pcap",
    "ws-upgrade-to-mqtt-port.pcap",
    "ws-upgrade-to-mqtt-port-1884.pcap",
    "ws-path-not-found-mixed.pcap",
    "ws-proxy-drops-upgrade.pcap",
    "mqtt-closed-before-connack-ws.pcap",
    "ws-upgrade-no-response-cut.pcap",
    "ws-subprotocol-mismatch.pcap",
    "iis8-101-no-accept.pcap",
    "ok-nginx-keepalive.pcap",
];

#[test]
fn field_text_reports() {
    for s in FIELD_GOLDEN {
        let path = samples().join("field").join(s);
        let mut rep = CaptureReport::without_timelines(&format!("samples/field/{s}"));
        analyze_path(&path, &Options::default(), &mut rep);
        let name = format!("field_{}", s.replace('.', "_"));
        insta::assert_snapshot!(name, text::render(&rep, false));
    }
}

/// The HTTP CONNECT captures whose text report is pinned.
const PROXY_GOLDEN: &[&str] = &[
    "connect-407.pcap",
    "connect-503-squid-timeout.pcap",
    "connect-both-legs.pcap",
    "connect-wss.pcap",
];

#[test]
fn proxy_text_reports() {
    for s in PROXY_GOLDEN {
        let path = samples().join("proxy").join(s);
        let mut rep = CaptureReport::without_timelines(&format!("samples/proxy/{s}"));
        analyze_path(&path, &Options::default(), &mut rep);
        let name = format!("proxy_{}", s.replace('.', "_"));
        insta::assert_snapshot!(name, text::render(&rep, false));
    }
}

#[test]
fn text_reports() {
    for c in CASES {
        let path = samples().join(c.sample);
        let mut rep = CaptureReport::new(&format!("samples/{}", c.sample));
        analyze_path(&path, &Options::default(), &mut rep);
        let name = c.sample.replace('.', "_");
        insta::assert_snapshot!(name, text::render(&rep, false));
    }
}

/// Captures whose Markdown tickets are pinned: the IIS and nginx refusals,
/// answers that never came, a wrong accept, refused CONNECTs, a broker
/// DISCONNECT, hostile strings, secrets, TLS failures, field failures and
/// working sessions.
const MARKDOWN_GOLDEN: &[&str] = &[
    "iis75-404.pcap",
    "iis75-noserver-404.pcap",
    "iis85-nows.pcap",
    "nginx-400.pcap",
    "ws-no-response.pcap",
    "ws-reset.pcap",
    "ws-wrong-accept.pcap",
    "mqtt-connect-refused.pcap",
    "ws-connect-refused.pcap",
    "mqtt5-too-large.pcap",
    "hostile-strings.pcap",
    "iis8-ok.pcap",
    "ws-close-server.pcap",
    "secrets/ws-jwt-bearer.pcap",
    "secrets/mqtt-azure-sas.pcap",
    "tls/tls12-cert-expired-python.pcap",
    "tls/tls-version-13-vs-12.pcap",
    "field/idle-timeout-nginx.pcap",
    "field/clientid-takeover-mosquitto.pcap",
];

#[test]
fn markdown_tickets() {
    use wsdoctor::report::markdown;
    for s in MARKDOWN_GOLDEN {
        let mut rep = CaptureReport::new(&format!("samples/{s}"));
        analyze_path(&samples().join(s), &Options::default(), &mut rep);
        let md = markdown::render(std::slice::from_ref(&rep));
        // A ticket can be written from it: the verdict, the fix, the
        // Wireshark command, evidence lines with frames.
        assert!(md.contains("- **Verdict:** "), "{s}");
        assert!(
            md.contains("- **Wireshark:** `wireshark -r samples/"),
            "{s}"
        );
        assert!(md.contains("```text\nframe "), "{s}: no evidence lines");
        if rep.status() != wsdoctor::diagnose::Status::Ok {
            assert!(md.contains("- **Fix:** "), "{s}");
        }
        // Outside code, every `<` from a capture is escaped: no raw HTML.
        let mut in_code = false;
        for line in md.lines() {
            if line.starts_with("```") {
                in_code = !in_code;
                continue;
            }
            if in_code {
                continue;
            }
            let outside: String = line.split('`').step_by(2).collect();
            for (i, _) in outside.match_indices('<') {
                assert!(i > 0 && &outside[i - 1..i] == "\\", "{s}: raw < in {line}");
            }
        }
        let name = format!("md_{}", s.replace(['.', '/'], "_"));
        insta::assert_snapshot!(name, md);
    }
}

/// Every finding code any sample or public capture produces is documented.
#[test]
fn every_finding_code_is_documented() {
    let doc = std::fs::read_to_string(root().join("docs/findings.md")).unwrap();
    let mut dirs = vec![samples()];
    if let Some(p) = public() {
        dirs.push(p);
    }
    for d in dirs {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            let n = p.to_string_lossy().into_owned();
            if !(n.contains(".pcap") || n.ends_with(".cap")) {
                continue;
            }
            let (recs, _) = records(&p);
            for f in of_type(&recs, "finding") {
                let code = f["code"].as_str().unwrap();
                assert!(
                    doc.contains(&format!("`{code}`")),
                    "{code} (from {n}) is not in docs/findings.md"
                );
            }
        }
    }
}

/// Every capture in samples/ (and its subfolders) is described in
/// samples/README.md: how it was made and what tshark shows.
#[test]
fn every_sample_capture_is_described() {
    let doc = std::fs::read_to_string(samples().join("README.md")).unwrap();
    let mut missing = Vec::new();
    let mut dirs = vec![samples()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                if !p.ends_with("gen") {
                    dirs.push(p);
                }
                continue;
            }
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            let capture = [".pcap", ".pcapng", ".cap", ".pcap.gz", ".pcapng.gz"]
                .iter()
                .any(|x| n.ends_with(x));
            if capture && !doc.contains(&n) {
                missing.push(p.display().to_string());
            }
        }
    }
    assert!(
        missing.is_empty(),
        "not described in samples/README.md: {missing:?}"
    );
}
