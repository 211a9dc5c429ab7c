//! The wsdoctor analyzer: packet captures in, findings and reports out.
//!
//! Data flows one way: [`capture`] (pcap/pcapng/... records) -> [`wire`]
//! (link layers, tunnels, IP) -> [`flow`] (connection table, reassembly
//! into per-direction chunks) -> [`stream`] (sniffing, the layer stack that
//! switches on upgrade) -> the decoders of [`proto`] (the `wsdoctor-proto`
//! crate) -> [`event`] (typed records) -> [`diagnose`] -> [`report`].
//! [`analyze`] runs the whole chain on one capture. See README.md.
#![forbid(unsafe_code)]

pub mod analyze;
pub mod capture;
pub mod diagnose;
pub mod event;
pub mod flow;
#[doc(hidden)]
pub mod fuzzing;
pub mod redact;
pub mod report;
pub mod stream;
pub mod wire;

/// The protocol decoders (the `wsdoctor-proto` crate).
pub use wsdoctor_proto as proto;
