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
    let mut buf = Vec::new();
    let name = path.to_string_lossy().into_owned();
    let outcome = {
        let mut sink = Jsonl::new(&mut buf, &name);
        analyze_path(path, &Options::default(), &mut sink)
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
