//! The command line as users run it: exit codes, colour, batches with bad
//! files, JSON Lines validated against the shared contract.

mod common;

use assert_cmd::Command;
use common::*;
use serde_json::Value;

fn wsdoctor() -> Command {
    let mut c = Command::cargo_bin("wsdoctor").unwrap();
    c.env_remove("NO_COLOR");
    c
}

fn sample(name: &str) -> String {
    samples().join(name).to_string_lossy().into_owned()
}

#[test]
fn exit_codes() {
    // 0: a working MQTT-over-WebSocket session
    wsdoctor()
        .args(["analyze", &sample("iis8-ok.pcap")])
        .assert()
        .code(0);
    // 1: problems found
    wsdoctor()
        .args(["analyze", &sample("iis75-404.pcap")])
        .assert()
        .code(1);
    // 2: not a capture
    let d = tempfile::tempdir().unwrap();
    let bad = d.path().join("notes.pcap");
    std::fs::write(&bad, b"this is not a capture file at all").unwrap();
    let out = wsdoctor()
        .args(["analyze", bad.to_str().unwrap()])
        .assert()
        .code(2);
    let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(text.contains("not a pcap, pcapng or NetMon file"), "{text}");
    // usage errors are 2 as well
    wsdoctor().args(["analyze"]).assert().code(2);
    wsdoctor()
        .args(["analyze", "--format", "xml", "x"])
        .assert()
        .code(2);
}

#[test]
fn a_bad_file_does_not_stop_the_batch() {
    let d = tempfile::tempdir().unwrap();
    std::fs::copy(samples().join("iis8-ok.pcap"), d.path().join("a-good.pcap")).unwrap();
    std::fs::write(d.path().join("b-corrupt.pcap"), b"\xd4\xc3\xb2\xa1garbage").unwrap();
    std::fs::copy(
        samples().join("iis75-404.pcap"),
        d.path().join("c-iis.pcap"),
    )
    .unwrap();
    std::fs::write(d.path().join("ignored.txt"), b"not a capture name").unwrap();
    for jobs in ["1", "2"] {
        let out = wsdoctor()
            .args([
                "analyze",
                "-j",
                jobs,
                "--format",
                "jsonl",
                d.path().to_str().unwrap(),
            ])
            .assert()
            .code(2);
        let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
        let recs: Vec<Value> = stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let files: Vec<String> = recs
            .iter()
            .filter(|r| r["type"] == "capture" || r["type"] == "error")
            .map(|r| {
                r["file"]
                    .as_str()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .to_string()
            })
            .collect();
        // in input order, the corrupt one in the middle, the text file skipped
        assert_eq!(
            files,
            ["a-good.pcap", "b-corrupt.pcap", "c-iis.pcap"],
            "jobs {jobs}"
        );
        let err = recs.iter().find(|r| r["type"] == "error").unwrap();
        assert!(err["message"].as_str().unwrap().contains("byte"), "{err}");
        assert!(recs
            .iter()
            .any(|r| r["code"] == "ws_upgrade_rejected_pre_iis8"));
    }
}

#[test]
fn text_has_no_colour_when_piped_or_no_color() {
    for no_color in [false, true] {
        let mut c = wsdoctor();
        if no_color {
            c.env("NO_COLOR", "1");
        }
        let out = c
            .args(["analyze", &sample("iis75-404.pcap")])
            .assert()
            .code(1);
        let s = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
        assert!(!s.contains('\x1b'), "escape codes in piped output");
        assert!(s.contains("ws_upgrade_rejected_pre_iis8"));
    }
}

#[test]
fn secrets_are_redacted_unless_asked() {
    let p = sample("mqtt-connect-refused.pcap");
    let out = wsdoctor()
        .args(["analyze", "--format", "jsonl", &p])
        .assert();
    let s = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    let connects: Vec<Value> = s
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["msg_name"] == "CONNECT" && !r["password"].is_null())
        .collect();
    assert!(!connects.is_empty(), "the sample logs in with passwords");
    assert!(connects.iter().all(|r| r["password"] == "<redacted>"));
    let out = wsdoctor()
        .args(["analyze", "--format", "jsonl", "--show-secrets", &p])
        .assert();
    let s = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(!s.contains("<redacted>"));
}

#[test]
fn stdin_is_read() {
    let bytes = std::fs::read(samples().join("iis75-404.pcap")).unwrap();
    let out = wsdoctor()
        .args(["analyze", "--format", "jsonl", "-"])
        .write_stdin(bytes)
        .assert()
        .code(1);
    let s = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(s.contains("\"type\":\"capture\""));
    assert!(s.contains("ws_upgrade_rejected_pre_iis8"));
}

#[test]
fn completions_and_man_page() {
    let out = wsdoctor().args(["completions", "bash"]).assert().success();
    assert!(String::from_utf8_lossy(&out.get_output().stdout).contains("wsdoctor"));
    let out = wsdoctor().args(["man"]).assert().success();
    assert!(String::from_utf8_lossy(&out.get_output().stdout).contains(".TH"));
    let out = wsdoctor().args(["analyze", "--help"]).assert().success();
    assert!(String::from_utf8_lossy(&out.get_output().stdout).contains("Examples"));
}

/// Every record of every sample (and public capture) validates against
/// `../shared/spec/jsonl-v1.schema.json`.
#[test]
fn jsonl_records_follow_the_contract() {
    let schema_path = root().join("../shared/spec/jsonl-v1.schema.json");
    let Ok(schema_text) = std::fs::read(&schema_path) else {
        eprintln!("schema not present: skipped");
        return;
    };
    let schema: Value = serde_json::from_slice(&schema_text).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let mut dirs = vec![samples()];
    if let Some(p) = public() {
        dirs.push(p);
    }
    let mut n = 0;
    for d in dirs {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            let name = p.to_string_lossy();
            if !(name.contains(".pcap") || name.ends_with(".cap")) {
                continue;
            }
            let (recs, _) = records(&p);
            assert!(
                recs.iter()
                    .any(|r| r["type"] == "capture" || r["type"] == "error"),
                "{name}: neither a capture nor an error record"
            );
            for r in &recs {
                n += 1;
                if let Err(e) = validator.validate(r) {
                    panic!("{name}: record does not follow the contract: {e}\n{r}");
                }
                // Schema extras the spec states in words.
                assert!(r["file"].is_string());
            }
        }
    }
    assert!(n > 1000, "only {n} records checked");
}
