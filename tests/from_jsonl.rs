//! Reports built from JSON Lines (`wsdoctor report --from-jsonl`) are the
//! reports made directly: for every capture of samples/ (all folders) and
//! of ../shared/captures/public when present, the HTML, Markdown, CSV and
//! text reports rendered from the records written by the JSON Lines sink
//! are byte for byte the ones rendered from the live analysis. And once
//! through the command line: several captures, one JSON Lines file per
//! capture (a map step), reduced by `--from-jsonl`.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use wsdoctor::analyze::{analyze_path, Options};
use wsdoctor::redact::Secrets;
use wsdoctor::report::ingest::Ingest;
use wsdoctor::report::jsonl::{Jsonl, RenderOpts};
use wsdoctor::report::model::{CaptureReport, ModelOpts};
use wsdoctor::report::{csv, html, markdown, text};

fn captures_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            captures_under(&p, out);
            continue;
        }
        let n = p.to_string_lossy().to_lowercase();
        if [
            ".pcap",
            ".pcapng",
            ".cap",
            ".pcap.gz",
            ".pcapng.gz",
            ".cap.gz",
        ]
        .iter()
        .any(|x| n.ends_with(x))
        {
            out.push(p);
        }
    }
}

fn first_difference(a: &str, b: &str) -> String {
    for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        if x != y {
            return format!("line {}:\n direct: {x}\n  jsonl: {y}", i + 1);
        }
    }
    format!("lengths {} vs {}", a.len(), b.len())
}

fn renders(r: &CaptureReport) -> [(&'static str, String); 4] {
    let one = std::slice::from_ref(r);
    [
        ("html", html::render(one, "t")),
        ("markdown", markdown::render(one)),
        ("csv", csv::render(one)),
        ("text", text::render(r, false)),
    ]
}

fn check(path: &Path, model: ModelOpts, failures: &mut Vec<String>) {
    let name = path.to_string_lossy().into_owned();
    let mut direct = CaptureReport::with_opts(&name, model);
    analyze_path(path, &Options::default(), &mut direct);
    let mut buf = Vec::new();
    {
        let ro = RenderOpts {
            show_secrets: model.secrets.show,
            payload_bytes: model.payload_bytes,
        };
        let mut sink = Jsonl::with_opts(&mut buf, &name, ro);
        analyze_path(path, &Options::default(), &mut sink);
    }
    let mut ing = Ingest::new(model);
    ing.read("mem", &buf[..]).unwrap();
    assert_eq!(ing.bad_lines, 0, "{name}: {:?}", ing.bad);
    let back = ing.finish();
    assert_eq!(back.len(), 1, "{name}: one capture in, one report out");
    assert_eq!(back[0].outcome(), direct.outcome(), "{name}: outcome");
    for ((kind, a), (_, b)) in renders(&direct).iter().zip(renders(&back[0]).iter()) {
        if a != b {
            failures.push(format!("{name} ({kind}): {}", first_difference(a, b)));
        }
    }
}

#[test]
fn every_sample_reports_the_same_from_jsonl() {
    let mut files = Vec::new();
    captures_under(&samples(), &mut files);
    if let Some(p) = public() {
        captures_under(&p, &mut files);
    }
    assert!(files.len() > 150, "only {} captures", files.len());
    let mut failures = Vec::new();
    for f in &files {
        check(f, ModelOpts::default(), &mut failures);
    }
    // Other settings: without detail (the text report's), secrets shown,
    // payloads cut short.
    for f in files.iter().step_by(7) {
        for model in [
            ModelOpts {
                detail: false,
                ..ModelOpts::default()
            },
            ModelOpts {
                secrets: Secrets::shown(),
                payload_bytes: 5,
                ..ModelOpts::default()
            },
        ] {
            check(f, model, &mut failures);
        }
    }
    assert!(
        failures.is_empty(),
        "{} difference(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("wsdoctor-fromjsonl-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

#[test]
fn cli_map_reduce_gives_the_direct_reports() {
    let bin = env!("CARGO_BIN_EXE_wsdoctor");
    let names = [
        "iis75-404.pcap",
        "hostile-strings.pcap",
        "ws-close.pcap",
        "mqtt-connect-refused.pcap",
        "mqtt-gz.pcap.gz",
        "mqtt-truncated.pcap",
    ];
    let caps: Vec<String> = names
        .iter()
        .map(|n| format!("samples/{n}"))
        .chain(["samples/no-such-file.pcap".to_string()])
        .collect();
    let direct: Vec<PathBuf> = ["d.html", "d.md", "d.csv"].iter().map(|n| tmp(n)).collect();
    let out = Command::new(bin)
        .current_dir(root())
        .args(["report", "--html"])
        .arg(&direct[0])
        .arg("--markdown")
        .arg(&direct[1])
        .arg("--csv")
        .arg(&direct[2])
        .args(&caps)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "a missing file: exit 2");
    // The map step: one JSON Lines file per capture, as separate runs.
    let mut shards = Vec::new();
    for (i, c) in caps.iter().enumerate() {
        let o = Command::new(bin)
            .current_dir(root())
            .args(["analyze", "--format", "jsonl", c])
            .output()
            .unwrap();
        let shard = tmp(&format!("shard-{i:03}.jsonl"));
        std::fs::write(&shard, &o.stdout).unwrap();
        shards.push(shard);
    }
    // The reduce step.
    let reduced: Vec<PathBuf> = ["r.html", "r.md", "r.csv"].iter().map(|n| tmp(n)).collect();
    let o2 = Command::new(bin)
        .current_dir(root())
        .args(["report", "--from-jsonl", "--html"])
        .arg(&reduced[0])
        .arg("--markdown")
        .arg(&reduced[1])
        .arg("--csv")
        .arg(&reduced[2])
        .args(&shards)
        .output()
        .unwrap();
    assert_eq!(o2.status.code(), Some(2), "the error record still counts");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&o2.stdout),
        "the verdict lines"
    );
    for (a, b) in direct.iter().zip(&reduced) {
        let (x, y) = (
            std::fs::read_to_string(a).unwrap(),
            std::fs::read_to_string(b).unwrap(),
        );
        assert!(x == y, "{}: {}", a.display(), first_difference(&x, &y));
    }
    // A directory of shards reads the same (its .jsonl files, sorted).
    let dir = shards[0].parent().unwrap();
    let o3 = Command::new(bin)
        .args(["report", "--from-jsonl", "--html"])
        .arg(tmp("dir.html"))
        .arg(dir)
        .output()
        .unwrap();
    assert_eq!(o3.status.code(), Some(2));
    assert_eq!(
        std::fs::read(tmp("dir.html")).unwrap(),
        std::fs::read(&reduced[0]).unwrap()
    );
    // Lines that are not records are reported and make the exit code 2,
    // the rest is still reported.
    let bad = tmp("bad.jsonl");
    let mut text = std::fs::read(&shards[0]).unwrap();
    text.extend_from_slice(b"this is not json\n{\"type\":\"finding\"}\n");
    std::fs::write(&bad, text).unwrap();
    let o4 = Command::new(bin)
        .args(["report", "--from-jsonl", "--csv"])
        .arg(tmp("bad.csv"))
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(o4.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o4.stderr);
    assert!(err.contains("bad.jsonl:"), "{err}");
    assert!(std::fs::read_to_string(tmp("bad.csv"))
        .unwrap()
        .contains("ws_upgrade_rejected_pre_iis8"));
    let o5 = Command::new(bin)
        .args(["report", "--from-jsonl", "--csv"])
        .arg(tmp("none.csv"))
        .arg(tmp("no-such.jsonl"))
        .output()
        .unwrap();
    assert_eq!(o5.status.code(), Some(2));
}
