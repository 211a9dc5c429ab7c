//! Replays every committed fuzz input of the decoders
//! (`fuzz/corpus/TARGET/*` and `fuzz/regressions/TARGET/*` of this crate)
//! through the matching `wsdoctor_proto::fuzzing` entry point or the MQTT
//! differential check, so plain `cargo test` checks the fuzz properties on
//! them without a fuzzer.

mod common;

use common::mqtt_diff;
use common::replay::replay;
use std::path::PathBuf;

fn run(target: &str, data: &[u8]) -> bool {
    use wsdoctor_proto::fuzzing as f;
    match target {
        "http" => f::http(data),
        "ws" => f::ws(data),
        "deflate" => f::deflate(data),
        "mqtt3" => mqtt_diff::target(data, 3),
        "mqtt4" => mqtt_diff::target(data, 4),
        "mqtt5" => mqtt_diff::target(data, 5),
        "mqtt_stream" => f::mqtt_stream(data),
        "tls_decrypt" => {
            f::tls_decrypt(data);
        }
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
    assert!(n >= 30, "only {n} corpus inputs replayed");
}

#[test]
fn replay_regressions() {
    let n = replay(&fuzz_dir("regressions"), run);
    assert!(n >= 10, "only {n} regression inputs replayed");
}

/// The tls_decrypt seeds made from RFC 8448 reach the decryption path (the
/// fuzzer starts from records that decrypt, not only from junk).
#[test]
fn tls_decrypt_seeds_decrypt() {
    let dir = fuzz_dir("corpus").join("tls_decrypt");
    for (name, n) in [
        ("rfc8448-server-app", 3),
        ("rfc8448-server-handshake", 1),
        ("rfc8448-client-keyupdate", 1),
        ("junk-c02f-0", 0),
    ] {
        let data = std::fs::read(dir.join(name)).unwrap();
        assert_eq!(wsdoctor_proto::fuzzing::tls_decrypt(&data), n, "{name}");
    }
}
