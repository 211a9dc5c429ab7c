//! `event`: the typed records every layer reports, and the sink they go to.
//! Reports (`report::*`) implement [`Sink`]; nothing is buffered here.

use crate::capture::{Format, Linktype, Ts};
use crate::flow::ConnMeta;

/// Severity of a finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// A diagnosis: stable code, evidence frames, what was seen, what to do.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    pub code: &'static str,
    pub severity: Severity,
    pub stream: Option<u64>,
    pub frames: Vec<u64>,
    pub message: String,
    pub hint: Option<String>,
}

impl Finding {
    pub fn new(code: &'static str, severity: Severity, message: impl Into<String>) -> Finding {
        Finding {
            code,
            severity,
            stream: None,
            frames: Vec::new(),
            message: message.into(),
            hint: None,
        }
    }
    pub fn stream(mut self, s: u64) -> Self {
        self.stream = Some(s);
        self
    }
    pub fn frames(mut self, f: impl IntoIterator<Item = u64>) -> Self {
        self.frames = f.into_iter().collect();
        self
    }
    pub fn hint(mut self, h: impl Into<String>) -> Self {
        self.hint = Some(h.into());
        self
    }

    /// The hint to show: the finding's own, else the cause and remedy
    /// common to its family of codes. Every finding says what to do.
    pub fn hint_or_default(&self) -> &str {
        match &self.hint {
            Some(h) => h,
            None => default_hint(self.code),
        }
    }

    /// A Wireshark display filter showing the evidence.
    pub fn filter(&self) -> Option<String> {
        let frames = match self.frames.len() {
            0 => None,
            1 => Some(format!("frame.number == {}", self.frames[0])),
            _ => {
                let list: Vec<String> = self.frames.iter().map(|f| f.to_string()).collect();
                Some(format!("frame.number in {{{}}}", list.join(" ")))
            }
        };
        match (self.stream, frames) {
            (Some(s), Some(f)) => Some(format!("tcp.stream eq {s} && {f}")),
            (Some(s), None) => Some(format!("tcp.stream eq {s}")),
            (None, f) => f,
        }
    }
}

/// Cause and remedy for codes without a specific hint, by family.
pub fn default_hint(code: &str) -> &'static str {
    if code.starts_with("ws_") {
        "The side that sent this frame breaks RFC 6455 here; wsdoctor decoded on. Update or reconfigure that side's WebSocket library, and check any proxy in between."
    } else if code.starts_with("mqtt_") {
        "The side that sent this packet breaks the MQTT specification here; wsdoctor decoded on at the next packet. Check that side's firmware or MQTT library version."
    } else if code.starts_with("http_") {
        "The HTTP stream could not be followed here; the rest of that direction was not decoded. A capture without gaps (and without snaplen) from closer to the server helps."
    } else if code.starts_with("capture_") || code.starts_with("ip_") {
        "The capture file itself is incomplete or unusual here; what could be read was analysed. Ask for the original, complete capture (dumpcap or tcpdump -w, no snaplen)."
    } else if code.starts_with("tcp_") {
        "The capture lost or mangled TCP data here; decoding resumed after it. Capture with a larger buffer and no snaplen, as close to one end as possible."
    } else {
        "See docs/findings.md for what this finding means."
    }
}

/// Summary of a capture file, emitted once at its end.
#[derive(Clone, Debug)]
pub struct CaptureSummary {
    pub format: Format,
    pub linktypes: Vec<Linktype>,
    pub packets: u64,
    pub bytes: u64,
    pub first_ts: Option<Ts>,
    pub last_ts: Option<Ts>,
    pub streams: u64,
    pub complete: bool,
    pub counts: PacketCounts,
}

/// What the packets of a capture were decoded to (they add up to `packets`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PacketCounts {
    /// TCP segments (including those of reassembled IP datagrams).
    pub tcp: u64,
    /// IP fragments held for reassembly.
    pub fragments: u64,
    /// Understood but not TCP: UDP, ICMP, ARP, 802.11 management...
    pub not_tcp: u64,
    /// Could carry TCP but not decoded: unknown link types, EtherTypes, IP
    /// or GRE protocols, encrypted layers, tunnels nested too deep.
    pub not_decoded: u64,
    /// Headers cut short or invalid.
    pub malformed: u64,
}

/// What the protocol layers learnt of a connection (for its record).
#[derive(Clone, Debug, Default)]
pub struct ConnProto {
    /// `websocket`, `mqtt`, `http`, `tls` or `unknown`.
    pub protocol: &'static str,
    pub sni: Option<String>,
    pub alpn: Option<Vec<String>>,
    /// Human summary lines (handshake, WebSocket, MQTT) for the text report.
    pub summary: Vec<String>,
}

/// Receives the records of one capture, in the order they happen.
pub trait Sink {
    fn connection(&mut self, meta: &ConnMeta, proto: &ConnProto);
    fn finding(&mut self, f: &Finding);
    fn capture(&mut self, c: &CaptureSummary);
    /// The file could not be (fully) read.
    fn error(&mut self, message: &str, offset: Option<u64>);
    /// Higher-layer records (upgrade, ws, mqtt) as prepared JSON-able items.
    fn record(&mut self, _r: &crate::stream::Record<'_>) {}
}
