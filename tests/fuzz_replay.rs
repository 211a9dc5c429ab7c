//! Replays every committed fuzz input of the analyzer (`fuzz/corpus/TARGET/*`
//! and `fuzz/regressions/TARGET/*`) through the matching
//! `wsdoctor::fuzzing` entry point, so plain `cargo test` checks the fuzz
//! properties on them without a fuzzer. The decoders' fuzz inputs are
//! replayed by crates/wsdoctor-proto/tests/fuzz_replay.rs.

#[path = "../crates/wsdoctor-proto/tests/common/replay.rs"]
mod replay;

use replay::replay;
use std::path::PathBuf;

fn run(target: &str, data: &[u8]) -> bool {
    use wsdoctor::fuzzing as f;
    match target {
        "capture" => f::capture(data),
        "wire" => f::wire(data),
        "reasm" => f::reasm(data),
        "reasm_reorder" => f::reasm_reorder(data),
        "pipeline" => f::pipeline(data),
        "pipeline_upgrade" => f::pipeline_upgrade(data),
        "jsonl_report" => f::jsonl_report(data),
        _ => return false,
    }
    true
}

fn fuzz_dir(kind: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(kind)
}

#[test]
fn replay_corpus() {
    let n = replay(&fuzz_dir("corpus"), run);
    assert!(n >= 50, "only {n} corpus inputs replayed");
}

#[test]
fn replay_regressions() {
    replay(&fuzz_dir("regressions"), run);
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
