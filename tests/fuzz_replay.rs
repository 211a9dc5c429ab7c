//! Replays every committed fuzz input (`fuzz/corpus/TARGET/*` and
//! `fuzz/regressions/TARGET/*`) through the matching `wsdoctor::fuzzing`
//! entry point, so plain `cargo test` checks the fuzz properties on them
//! without a fuzzer.

#[path = "../fuzz/common/mqtt_roundtrip.rs"]
mod mqtt_roundtrip;

use std::path::{Path, PathBuf};
use std::time::Instant;

/// Inputs larger than this are skipped (the fuzzers use at most 64 KiB;
/// seeds from samples/ are at most a few tens of KiB).
const MAX_FILE: u64 = 256 * 1024;
/// Files per target and directory (a minimized corpus stays well under it).
const MAX_FILES: usize = 400;

fn run(target: &str, data: &[u8]) -> bool {
    use wsdoctor::fuzzing as f;
    match target {
        "capture" => f::capture(data),
        "wire" => f::wire(data),
        "reasm" => f::reasm(data),
        "reasm_reorder" => f::reasm_reorder(data),
        "http" => f::http(data),
        "ws" => f::ws(data),
        "deflate" => f::deflate(data),
        "mqtt3" => mqtt_roundtrip::target(data, 3),
        "mqtt4" => mqtt_roundtrip::target(data, 4),
        "mqtt5" => mqtt_roundtrip::target(data, 5),
        "mqtt_stream" => f::mqtt_stream(data),
        "pipeline" => f::pipeline(data),
        "pipeline_upgrade" => f::pipeline_upgrade(data),
        "jsonl_report" => f::jsonl_report(data),
        "tls_decrypt" => {
            f::tls_decrypt(data);
        }
        _ => return false,
    }
    true
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.retain(|p| p.is_file() && p.file_name().is_some_and(|n| n != ".gitkeep"));
    v.sort();
    v
}

fn replay(kind: &str) -> usize {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(kind);
    let mut n = 0;
    for tdir in files_dirs(&root) {
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

fn files_dirs(root: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.retain(|p| p.is_dir());
    v.sort();
    v
}

#[test]
fn replay_corpus() {
    let n = replay("corpus");
    assert!(n >= 50, "only {n} corpus inputs replayed");
}

#[test]
fn replay_regressions() {
    replay("regressions");
}

/// pcap-parser 0.17 subtracts 12 from a pcapng block's declared length
/// without checking (`pcapng/block.rs`): an overflow panic in debug builds
/// (which these tests are). wsdoctor checks the length first; these inputs
/// must give an error naming the block and its offset, not a panic.
#[test]
fn pcapng_block_length_under_12() {
    for len in [0u32, 4, 8, 11] {
        let mut f = Vec::new();
        // section header block
        f.extend_from_slice(&0x0A0D_0D0Au32.to_le_bytes());
        f.extend_from_slice(&28u32.to_le_bytes());
        f.extend_from_slice(&0x1A2B_3C4Du32.to_le_bytes());
        f.extend_from_slice(&1u16.to_le_bytes());
        f.extend_from_slice(&0u16.to_le_bytes());
        f.extend_from_slice(&(-1i64).to_le_bytes());
        f.extend_from_slice(&28u32.to_le_bytes());
        // an enhanced packet block claiming `len` bytes
        f.extend_from_slice(&6u32.to_le_bytes());
        f.extend_from_slice(&len.to_le_bytes());
        f.extend_from_slice(&len.to_le_bytes());
        f.extend_from_slice(&[0; 20]);
        wsdoctor::fuzzing::capture(&f);
        let mut r = wsdoctor::capture::CaptureReader::new(
            &f[..],
            wsdoctor::capture::CaptureLimits::default(),
        )
        .unwrap();
        let e = r.next_record().unwrap_err();
        assert_eq!(e.offset, 28);
        let msg = e.to_string();
        assert!(
            msg.contains("invalid length") && msg.contains("byte 28"),
            "{msg}"
        );
    }
    // The same bytes straight into pcap-parser would underflow; prove the
    // regression input is still in the replayed set.
    let reg = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/regressions/capture/pcapng-block-len-under-12");
    assert!(reg.is_file(), "regression input missing: {}", reg.display());
}

/// The tls_decrypt seeds made from RFC 8448 reach the decryption path (the
/// fuzzer starts from records that decrypt, not only from junk).
#[test]
fn tls_decrypt_seeds_decrypt() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/tls_decrypt");
    for (name, n) in [
        ("rfc8448-server-app", 3),
        ("rfc8448-server-handshake", 1),
        ("rfc8448-client-keyupdate", 1),
        ("junk-c02f-0", 0),
    ] {
        let data = std::fs::read(dir.join(name)).unwrap();
        assert_eq!(wsdoctor::fuzzing::tls_decrypt(&data), n, "{name}");
    }
}
