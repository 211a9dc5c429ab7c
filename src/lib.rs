//! wsdoctor: offline analysis of HTTP Upgrade -> WebSocket -> MQTT (and
//! plain MQTT) in pcap/pcapng captures.
//!
//! Data flows one way: `capture` -> `wire` -> `flow` -> `stream` ->
//! `proto` -> `event` -> `report`. See README.md.
#![forbid(unsafe_code)]

pub mod analyze;
pub mod batch;
pub mod capture;
pub mod cli;
pub mod diagnose;
pub mod event;
pub mod flow;
#[doc(hidden)]
pub mod fuzzing;
pub mod proto;
pub mod redact;
pub mod report;
pub mod stream;
pub mod wire;
