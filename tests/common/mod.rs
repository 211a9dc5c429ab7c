//! Shared helpers of the integration tests.
#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use wsdoctor::analyze::{analyze_path, Options, Outcome};
use wsdoctor::report::jsonl::Jsonl;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn samples() -> PathBuf {
    root().join("samples")
}

/// `../shared/captures/public`, when this checkout has it.
pub fn public() -> Option<PathBuf> {
    let p = root().join("../shared/captures/public");
    p.is_dir().then_some(p)
}

pub fn public_truth() -> Option<PathBuf> {
    let p = root().join("../shared/captures/public-truth");
    p.is_dir().then_some(p)
}

/// Analyse one capture and return its JSON Lines records.
pub fn records(path: &Path) -> (Vec<Value>, Outcome) {
    records_with(path, &Options::default())
}

/// Options that decrypt TLS with the key log at `keys`.
pub fn keylog_options(keys: &Path) -> Options {
    let text = std::fs::read(keys).unwrap_or_else(|e| panic!("{}: {e}", keys.display()));
    Options {
        keylog: Some(std::sync::Arc::new(
            wsdoctor::proto::tls::keylog::KeyLog::parse(&text),
        )),
        ..Options::default()
    }
}

/// The key log a truth file was made with (tshark's `tls.keylog_file`
/// option), looked up beside the capture.
pub fn truth_keylog(truth: &Value, capture: &Path) -> Option<PathBuf> {
    let cmd = truth["tshark_command"].as_str()?;
    let at = cmd.find("tls.keylog_file:")? + "tls.keylog_file:".len();
    let path = cmd[at..].split_whitespace().next()?;
    let name = Path::new(path).file_name()?;
    let p = capture.parent()?.join(name);
    p.is_file().then_some(p)
}

/// Analyse one capture with `opts` and return its JSON Lines records.
pub fn records_with(path: &Path, opts: &Options) -> (Vec<Value>, Outcome) {
    let mut buf = Vec::new();
    let name = path.to_string_lossy().into_owned();
    let outcome = {
        let mut sink = Jsonl::new(&mut buf, &name);
        analyze_path(path, opts, &mut sink)
    };
    let recs = buf
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).expect("every line is JSON"))
        .collect();
    (recs, outcome)
}

pub fn of_type<'a>(recs: &'a [Value], ty: &str) -> Vec<&'a Value> {
    recs.iter().filter(|r| r["type"] == ty).collect()
}

/// Truth files and the captures they describe: (capture, truth).
pub fn truth_pairs(dir: &Path, captures: &Path) -> Vec<(PathBuf, Value)> {
    let mut out = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    entries.sort();
    for p in entries {
        if !p.to_string_lossy().ends_with(".truth.json") {
            continue;
        }
        let t: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        let Some(cap) = t["capture"].as_str() else {
            continue;
        };
        let cp = captures.join(cap);
        if cp.is_file() {
            out.push((cp, t));
        }
    }
    out
}
