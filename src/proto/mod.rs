//! `proto`: push parsers for the protocols wsdoctor understands. Each is fed
//! byte chunks and reports what it consumed; "need more" is not an error.

pub mod deflate;
pub mod handshake;
pub mod http;
pub mod mqtt;
pub mod server;
pub mod tls;
pub mod ws;
