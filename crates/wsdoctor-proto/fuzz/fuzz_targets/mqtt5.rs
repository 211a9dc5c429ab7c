#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../../tests/common/mqtt_diff.rs"]
mod mqtt_diff;

fuzz_target!(|data: &[u8]| mqtt_diff::target(data, 5));
