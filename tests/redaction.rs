//! No secret leaks by default, in any output: for each real capture of
//! samples/secrets/ (how each was made: samples/README.md), every secret the
//! client sent or the server set (listed by the generator in
//! `NAME.client.json`, "secrets": JWTs in the query, the Authorization
//! header and the subprotocol, cookies both ways, token / signature query
//! parameters, an MQTT password, Azure SAS signatures in a password and a
//! user name, MQTT 5 authentication data) is absent from the text report,
//! the JSON Lines, and the HTML, Markdown and CSV reports, made directly or
//! from JSON Lines (also from JSON Lines written with `--show-secrets`).
//! With `--show-secrets` they are there; a report with `--show-secrets`
//! made from redacted JSON Lines cannot bring them back.

mod common;

use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

const CAPTURES: [&str; 2] = ["ws-jwt-bearer", "mqtt-azure-sas"];

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_wsdoctor"));
    c.current_dir(root()).env("NO_COLOR", "1");
    c
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("wsdoctor-redaction-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

/// The secrets of a capture: (name, value).
fn secrets(name: &str) -> Vec<(String, String)> {
    let log: Value = serde_json::from_slice(
        &std::fs::read(samples().join(format!("secrets/{name}.client.json"))).unwrap(),
    )
    .unwrap();
    let s: Vec<(String, String)> = log["secrets"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    assert!(s.len() >= 3, "{name}: {s:?}");
    s
}

/// What shows that a secret leaked: the value, and each run of 10 or more
/// letters and digits in it (escaping in an output may split the rest).
fn needles(value: &str) -> Vec<String> {
    let mut v = vec![value.to_string()];
    for run in value.split(|c: char| !c.is_ascii_alphanumeric()) {
        if run.len() >= 10 {
            v.push(run.to_string());
        }
    }
    v
}

fn stdout(c: &mut Command) -> String {
    let out = c.output().unwrap();
    assert!(
        matches!(out.status.code(), Some(0..=1)),
        "{c:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Every output of one capture: (label, text).
fn outputs(name: &str, show: bool) -> Vec<(String, String)> {
    let cap = format!("samples/secrets/{name}.pcap");
    let flag: &[&str] = if show { &["--show-secrets"] } else { &[] };
    let mut v = Vec::new();
    v.push((
        "text".into(),
        stdout(bin().args(["analyze"]).args(flag).arg(&cap)),
    ));
    let jsonl = stdout(
        bin()
            .args(["analyze", "--format", "jsonl"])
            .args(flag)
            .arg(&cap),
    );
    v.push(("jsonl".into(), jsonl.clone()));
    let files = |tag: &str| -> [PathBuf; 3] {
        ["html", "md", "csv"].map(|e| tmp(&format!("{name}-{tag}-{show}.{e}")))
    };
    let report = |tag: &str, c: &mut Command| {
        let f = files(tag);
        stdout(
            c.arg("--html")
                .arg(&f[0])
                .arg("--markdown")
                .arg(&f[1])
                .arg("--csv")
                .arg(&f[2]),
        );
        f.iter()
            .zip(["html", "markdown", "csv"])
            .map(|(p, k)| (format!("{k} ({tag})"), std::fs::read_to_string(p).unwrap()))
            .collect::<Vec<_>>()
    };
    v.extend(report("direct", bin().arg("report").args(flag).arg(&cap)));
    let shard = tmp(&format!("{name}-{show}.jsonl"));
    std::fs::write(&shard, &jsonl).unwrap();
    v.extend(report(
        "from JSON Lines",
        bin()
            .args(["report", "--from-jsonl"])
            .args(flag)
            .arg(&shard),
    ));
    v
}

fn leaks(outs: &[(String, String)], secrets: &[(String, String)]) -> Vec<String> {
    let mut found = Vec::new();
    for (label, text) in outs {
        for (k, value) in secrets {
            for n in needles(value) {
                if text.contains(&n) {
                    found.push(format!("{k} in {label}: {n}"));
                }
            }
        }
    }
    found
}

#[test]
fn no_secret_in_any_output_by_default() {
    for name in CAPTURES {
        let s = secrets(name);
        let outs = outputs(name, false);
        assert_eq!(outs.len(), 8);
        let found = leaks(&outs, &s);
        assert!(
            found.is_empty(),
            "{name}: secrets leaked:\n{}",
            found.join("\n")
        );
        // What is left is the evidence around them.
        let all: String = outs.iter().map(|(_, t)| t.as_str()).collect();
        assert!(all.contains("<redacted>") || all.contains("&lt;redacted&gt;"));
    }
}

#[test]
fn redacted_values_keep_their_context() {
    let (recs, _) = records(&samples().join("secrets/ws-jwt-bearer.pcap"));
    let ups = of_type(&recs, "upgrade");
    assert_eq!(ups.len(), 3);
    assert_eq!(ups[0]["uri"], "/mqtt?access_token=<redacted>");
    assert_eq!(
        ups[2]["uri"],
        "/denied?device=42&token=<redacted>&signature=<redacted>"
    );
    assert_eq!(
        ups[1]["protocols_offered"],
        serde_json::json!(["mqtt", "<redacted>"])
    );
    let h = |u: &Value, list: &str, name: &str| -> String {
        u[list]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p[0] == name)
            .unwrap()[1]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        h(ups[1], "request_headers", "Authorization"),
        "Bearer <redacted>"
    );
    assert_eq!(
        h(ups[1], "request_headers", "Cookie"),
        "session=<redacted>; csrftoken=<redacted>"
    );
    assert_eq!(
        h(ups[1], "response_headers", "Set-Cookie"),
        "AWSALB=<redacted>; Path=/; HttpOnly"
    );
    let connect = of_type(&recs, "mqtt")
        .into_iter()
        .find(|r| r["msg_name"] == "CONNECT")
        .unwrap();
    assert_eq!(connect["username"], "device-42");
    assert_eq!(connect["password"], "<redacted>");
    let findings = of_type(&recs, "finding");
    assert!(findings.iter().any(|f| f["message"]
        .as_str()
        .unwrap()
        .contains("GET /denied?device=42&token=<redacted>&signature=<redacted> from")));

    let (recs, _) = records(&samples().join("secrets/mqtt-azure-sas.pcap"));
    let connects: Vec<&Value> = of_type(&recs, "mqtt")
        .into_iter()
        .filter(|r| r["msg_name"] == "CONNECT")
        .collect();
    assert_eq!(connects.len(), 3);
    // The Azure user name is not a secret; the SAS token's signature is,
    // its resource and expiry stay.
    assert_eq!(
        connects[0]["username"],
        "myhub.azure-devices.net/dev1/?api-version=2021-04-12"
    );
    assert_eq!(connects[0]["password"], "<redacted>");
    assert_eq!(
        connects[1]["username"],
        "SharedAccessSignature sr=myhub.azure-devices.net%2Fdevices%2Fdev2&sig=<redacted>&se=1795603600"
    );
    assert_eq!(
        connects[2]["properties"]["authentication_method"],
        "SCRAM-SHA-1"
    );
    assert_eq!(
        connects[2]["properties"]["authentication_data"],
        "<redacted>"
    );
}

#[test]
fn show_secrets_shows_them_and_redacted_records_stay_redacted() {
    for name in CAPTURES {
        let s = secrets(name);
        let outs = outputs(name, true);
        let get = |label: &str| &outs.iter().find(|(l, _)| l == label).unwrap().1;
        for (k, value) in &s {
            assert!(
                get("jsonl").contains(value.as_str()),
                "{name}: {k} not in the JSON Lines"
            );
            // The reports show no MQTT 5 properties.
            if k != "SCRAM_DATA" {
                for label in ["html (direct)", "html (from JSON Lines)"] {
                    assert!(
                        get(label).contains(value.as_str()),
                        "{name}: {k} not in {label}"
                    );
                }
            }
        }
        // Records written redacted, a report asked to show secrets: it cannot.
        let shard = tmp(&format!("{name}-redacted.jsonl"));
        std::fs::write(
            &shard,
            stdout(
                bin()
                    .args(["analyze", "--format", "jsonl"])
                    .arg(format!("samples/secrets/{name}.pcap")),
            ),
        )
        .unwrap();
        let html = tmp(&format!("{name}-unredact.html"));
        stdout(
            bin()
                .args(["report", "--from-jsonl", "--show-secrets", "--html"])
                .arg(&html)
                .arg(&shard),
        );
        let page = std::fs::read_to_string(&html).unwrap();
        let found = leaks(&[("html".into(), page)], &s);
        assert!(found.is_empty(), "{name}: {found:?}");
    }
}

/// The rules apply to what other captures carry too: no sample's outputs
/// hold a JWT (a `eyJ...` token with two dots) by default.
#[test]
fn no_jwt_in_any_sample_report() {
    let mut files = Vec::new();
    for e in std::fs::read_dir(samples()).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "pcap" || x == "pcapng") {
            files.push(p);
        }
    }
    files.push(samples().join("secrets/ws-jwt-bearer.pcap"));
    let html = tmp("all.html");
    let out = bin()
        .arg("report")
        .arg("--html")
        .arg(&html)
        .args(files.iter().map(|p| p.as_os_str()))
        .output()
        .unwrap();
    assert!(out.status.code().is_some());
    let page = std::fs::read_to_string(&html).unwrap();
    for (i, _) in page.match_indices("eyJ") {
        let tail: String = page[i..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
            .collect();
        assert!(tail.matches('.').count() < 2, "a JWT in the report: {tail}");
    }
    let _ = Path::new(&html);
}
