//! Issue 16's acceptance check: a program outside the workspace
//! (`crates/outside-user`, its own workspace, a path dependency on this crate
//! alone) builds with this crate's dependencies only and decodes a
//! handshake and MQTT over WebSocket with the documented API.

use std::path::PathBuf;
use std::process::Command;

fn outside() -> (String, PathBuf, PathBuf) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let manifest = here.join("../outside-user/Cargo.toml");
    // Its own target directory inside the workspace's, so that a second run
    // builds nothing and the workspace's build is not disturbed.
    let target = here.join("../../target/outside-user");
    (cargo, manifest, target)
}

#[test]
fn outside_program_depends_on_the_protocol_crate_alone() {
    let (cargo, manifest, target) = outside();
    let out = Command::new(&cargo)
        .args([
            "tree",
            "--locked",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--manifest-path",
        ])
        .arg(&manifest)
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8_lossy(&out.stdout);
    let crates: Vec<&str> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(crates.contains(&"wsdoctor-proto"), "{tree}");
    for banned in [
        "wsdoctor",
        "wsdoctor-analyzer",
        "clap",
        "rayon",
        "indicatif",
        "pcap-parser",
        "etherparse",
        "serde_json",
    ] {
        assert!(
            !crates.contains(&banned),
            "{banned} in the outside program's tree:\n{tree}"
        );
    }
}

#[test]
fn outside_program_decodes_a_handshake_and_mqtt_over_websocket() {
    let (cargo, manifest, target) = outside();
    let out = Command::new(&cargo)
        .args(["run", "--locked", "--quiet", "--manifest-path"])
        .arg(&manifest)
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .expect("cargo run runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "handshake accepted problems 0",
            "mqtt CONNECT",
            "ws binary",
            "ws binary",
            "mqtt PINGREQ",
            "finding mqtt_packet_before_connack",
            "ws continuation",
        ]
    );
}
