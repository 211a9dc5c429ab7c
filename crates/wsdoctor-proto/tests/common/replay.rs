//! Replays committed fuzz inputs (`CORPUS_OR_REGRESSIONS/TARGET/*` of a
//! cargo-fuzz directory) through the matching fuzzing entry point, so plain
//! `cargo test` checks the fuzz properties on them without a fuzzer. Shared
//! by this crate's `tests/fuzz_replay.rs` and the workspace root's.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Instant;

/// Inputs larger than this are skipped (the fuzzers use at most 64 KiB;
/// seeds from samples/ are at most a few tens of KiB).
pub const MAX_FILE: u64 = 256 * 1024;
/// Files per target and directory (a minimized corpus stays well under it).
pub const MAX_FILES: usize = 400;

pub fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.retain(|p| p.is_file() && p.file_name().is_some_and(|n| n != ".gitkeep"));
    v.sort();
    v
}

/// Replays every input under `root` (a corpus or regressions directory);
/// returns how many ran.
pub fn replay(root: &Path, run: fn(&str, &[u8]) -> bool) -> usize {
    let mut n = 0;
    for tdir in files_dirs(root) {
        let target = tdir.file_name().unwrap().to_string_lossy().into_owned();
        for (i, file) in files(&tdir).into_iter().enumerate() {
            if i >= MAX_FILES {
                break;
            }
            let len = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
            if len > MAX_FILE {
                continue;
            }
            let data = std::fs::read(&file).unwrap();
            let t = Instant::now();
            let r = std::panic::catch_unwind(|| run(&target, &data));
            match r {
                Ok(true) => n += 1,
                Ok(false) => panic!("{}: no fuzz target named {target}", tdir.display()),
                Err(_) => panic!("fuzz property failed on {}", file.display()),
            }
            assert!(
                t.elapsed().as_secs() < 5,
                "{} took {:?}",
                file.display(),
                t.elapsed()
            );
        }
    }
    n
}

pub fn files_dirs(root: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.retain(|p| p.is_dir());
    v.sort();
    v
}
