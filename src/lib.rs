//! wsdoctor: offline analysis of HTTP Upgrade -> WebSocket -> MQTT (and
//! plain MQTT) in pcap/pcapng captures.
//!
//! This package is the command: [`cli`] (arguments, output, exit codes) and
//! [`batch`] (files in parallel, output in input order). The analysis is
//! the `wsdoctor-analyzer` crate, re-exported here module by module; the
//! decoders are the `wsdoctor-proto` crate ([`proto`]). See README.md.
#![forbid(unsafe_code)]

pub mod batch;
pub mod cli;

pub use wsdoctor_analyzer::{
    analyze, capture, diagnose, event, flow, fuzzing, proto, redact, report, stream, wire,
};
