//! Microsoft Network Monitor files analyse exactly like their pcap
//! originals (issue 11): samples/netmon/NAME.netmon2.cap and
//! NAME.netmon1.cap were written by `editcap -F netmon2|netmon1` from
//! samples/NAME.pcap (samples/gen/netmon/make.sh). Every JSON Lines record
//! must be the same, except `file` and `format`, and timestamps at the
//! precision the format keeps: NetMon 1.x stores milliseconds, 2.0
//! microseconds; editcap rounds to the nearest (half up).

mod common;

use common::*;
use serde_json::Value;
use std::path::Path;

/// Nanoseconds since the epoch of an RFC 3339 UTC timestamp.
fn nanos(ts: &str) -> i128 {
    let (date, time) = ts.trim_end_matches('Z').split_once('T').unwrap();
    let d: Vec<i64> = date.split('-').map(|x| x.parse().unwrap()).collect();
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let t: Vec<i64> = hms.split(':').map(|x| x.parse().unwrap()).collect();
    let (y, m) = if d[1] <= 2 {
        (d[0] - 1, d[1] + 9)
    } else {
        (d[0], d[1] - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + (153 * m + 2) / 5 + d[2] - 1;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + t[0] * 3600 + t[1] * 60 + t[2];
    let mut f = frac.to_string();
    f.truncate(9);
    while f.len() < 9 {
        f.push('0');
    }
    i128::from(secs) * 1_000_000_000 + f.parse::<i128>().unwrap()
}

/// Replace every timestamp by its value rounded to `unit` nanoseconds.
fn round_ts(v: &mut Value, unit: i128) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if matches!(k.as_str(), "ts" | "first_ts" | "last_ts") {
                    if let Some(s) = x.as_str() {
                        let n = nanos(s);
                        *x = Value::from(((n + unit / 2).div_euclid(unit)).to_string());
                    }
                } else {
                    round_ts(x, unit);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| round_ts(x, unit)),
        _ => {}
    }
}

fn normalised(path: &Path, unit: i128) -> Vec<Value> {
    let (mut recs, _) = records(path);
    for r in &mut recs {
        let m = r.as_object_mut().unwrap();
        m.remove("file");
        m.remove("format");
        m.remove("container");
        // How long the connection was quiet before its close, and which
        // segment was the last data (the later of the two directions' last
        // ones), are decided from timestamps: at the container's precision
        // two segments can tie.
        if let Some(c) = m.get_mut("close").and_then(Value::as_object_mut) {
            c.remove("quiet_us");
            c.remove("last_data_frame");
        }
        round_ts(r, unit);
    }
    recs
}

#[test]
fn netmon_files_analyse_like_their_originals() {
    let dir = samples().join("netmon");
    let mut n = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if !(name.ends_with(".cap") || name.ends_with(".cap.gz")) {
            continue;
        }
        let base = name.split('.').next().unwrap();
        let orig = ["pcap", "pcapng"]
            .iter()
            .map(|e| samples().join(format!("{base}.{e}")))
            .find(|o| o.is_file())
            .unwrap_or_else(|| panic!("{name}: no original"));
        let unit = if name.contains(".netmon1.") {
            1_000_000
        } else {
            1_000
        };
        let (ours, theirs) = (normalised(&p, unit), normalised(&orig, unit));
        assert_eq!(ours.len(), theirs.len(), "{name}: record count");
        for (a, b) in ours.iter().zip(&theirs) {
            assert_eq!(a, b, "{name} differs from {}", orig.display());
        }
        let (recs, _) = records(&p);
        let cap = of_type(&recs, "capture")[0];
        let want = if name.contains("netmon1") {
            "netmon1"
        } else {
            "netmon2"
        };
        // The contract v1 knows pcap and pcapng only; the container says more.
        assert_eq!(cap["format"], "pcap", "{name}");
        assert_eq!(cap["container"], want, "{name}");
        n += 1;
    }
    assert!(n >= 16, "only {n} NetMon files");
}

/// Standard input (spooled) reads a NetMon file like the file itself.
#[test]
fn netmon_from_standard_input() {
    let path = samples().join("netmon/ws-mqtt-paho.netmon2.cap");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wsdoctor"))
        .args(["analyze", "--format", "jsonl", "-"])
        .stdin(std::fs::File::open(&path).unwrap())
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&out.stdout);
    let file = std::process::Command::new(env!("CARGO_BIN_EXE_wsdoctor"))
        .args(["analyze", "--format", "jsonl"])
        .arg(&path)
        .output()
        .unwrap();
    let f = String::from_utf8_lossy(&file.stdout);
    let strip = |t: &str| -> Vec<Value> {
        t.lines()
            .map(|l| {
                let mut v: Value = serde_json::from_str(l).unwrap();
                v.as_object_mut().unwrap().remove("file");
                v
            })
            .collect()
    };
    assert_eq!(strip(&s), strip(&f));
    assert!(s.contains("\"container\":\"netmon2\""));
}
