#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../common/mqtt_roundtrip.rs"]
mod mqtt_roundtrip;

fuzz_target!(|data: &[u8]| mqtt_roundtrip::target(data, 3));
