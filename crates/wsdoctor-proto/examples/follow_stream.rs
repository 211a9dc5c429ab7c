//! Decode one direction of a WebSocket connection carrying MQTT, from the
//! raw bytes Wireshark saves with "Follow TCP Stream", "Show data as: Raw",
//! one direction selected, "Save as..." (or `tshark -qz follow,tcp,raw,N`
//! turned into bytes).
//!
//! ```text
//! cargo run -p wsdoctor-proto --example follow_stream -- client.bin
//! cargo run -p wsdoctor-proto --example follow_stream -- --server server.bin
//! cargo run -p wsdoctor-proto --example follow_stream -- --deflate client.bin
//! ```
//!
//! `--deflate`: permessage-deflate was negotiated (default parameters).
//!
//! The file starts with the HTTP head (the Upgrade request, or the 101
//! response with `--server`); what follows is WebSocket. Prints the
//! handshake head, every frame, every MQTT packet and every violation.

use std::process::ExitCode;

use wsdoctor_proto::handshake::DeflateParams;
use wsdoctor_proto::http::{parse_request, parse_response, Head, HttpLimits};
use wsdoctor_proto::mqtt::{Dir, Event, MqttConn, MqttLimits};
use wsdoctor_proto::ws::{FrameEnd, FrameHeader, Violation, WsDataSink, WsDirection, WsLimits};

/// Hands the WebSocket application stream to the MQTT decoder and prints.
struct Printer {
    mqtt: MqttConn,
    dir: Dir,
}

impl WsDataSink for Printer {
    fn data(&mut self, bytes: &[u8]) {
        self.mqtt.feed(self.dir, 0.0, bytes, &mut print_mqtt);
    }
    fn frame(&mut self, h: &FrameHeader, end: &FrameEnd) {
        println!(
            "  ws    {:<12} at {:>6}  payload {:>5}{}{}",
            h.opcode_name(),
            h.offset,
            h.payload_len,
            if end.compressed { "  compressed" } else { "" },
            end.close_code
                .map(|c| format!("  close {c}"))
                .unwrap_or_default()
        );
    }
    fn violation(&mut self, v: Violation) {
        println!("  ws    violation {v}");
    }
    fn data_gap(&mut self, len: Option<u64>) {
        match len {
            Some(n) => self.mqtt.gap(self.dir, n, &mut print_mqtt),
            None => println!("  ws    lost framing: the MQTT stream resynchronizes"),
        }
    }
}

fn print_mqtt(e: Event<'_>) {
    match e {
        Event::Packet(_, p) => {
            println!(
                "  mqtt  {:<12} at {:>6}  {} bytes",
                p.msg_name(),
                p.offset,
                p.total_len()
            );
            for a in &p.anomalies {
                println!("  mqtt    anomaly {}: {}", a.code, a.message);
            }
        }
        Event::Anomaly(_, a) => {
            println!("  mqtt  anomaly {} at {}: {}", a.code, a.offset, a.message)
        }
        Event::Finding(f) => println!("  mqtt  finding {}: {}", f.code, f.message),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let server = args.iter().any(|a| a == "--server");
    let Some(path) = args.iter().find(|a| !a.starts_with("--")) else {
        eprintln!("usage: follow_stream [--server] [--deflate] FILE");
        return ExitCode::from(2);
    };
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let lim = HttpLimits::default();
    // The head: the Upgrade request, or the 101 response.
    let head_len = if server {
        match parse_response(&bytes, &lim) {
            Head::Complete(r, n) => {
                println!("HTTP/1.{} {} {}", r.minor_version, r.status, r.reason);
                n
            }
            Head::Partial => return incomplete(path),
            Head::Error(e) => return not_http(path, &e),
        }
    } else {
        match parse_request(&bytes, &lim) {
            Head::Complete(r, n) => {
                println!("{} {} HTTP/1.{}", r.method, r.uri, r.minor_version);
                n
            }
            Head::Partial => return incomplete(path),
            Head::Error(e) => return not_http(path, &e),
        }
    };
    // Whether permessage-deflate was negotiated is known only from the 101
    // (`handshake::validate(..).deflate`); with one direction alone the
    // user says so.
    let deflate = args
        .iter()
        .any(|a| a == "--deflate")
        .then(DeflateParams::default);
    let mut ws = WsDirection::new(!server, deflate, WsLimits::default());
    let mut sink = Printer {
        mqtt: MqttConn::new(MqttLimits::default(), true),
        dir: if server { Dir::S2C } else { Dir::C2S },
    };
    ws.feed(bytes.get(head_len..).unwrap_or_default(), &mut sink);
    ExitCode::SUCCESS
}

fn incomplete(path: &str) -> ExitCode {
    eprintln!("{path}: the HTTP head is incomplete (no blank line)");
    ExitCode::FAILURE
}

fn not_http(path: &str, e: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("{path}: not an HTTP head at offset 0: {e}");
    ExitCode::FAILURE
}
