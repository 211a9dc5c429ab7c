//! `event`: the typed records the protocol stack reports, and the sink they
//! go to. Records say what was seen; what it means (findings, verdicts) is
//! decided by `diagnose`, one stage above. Nothing is buffered here.

use crate::capture::{Format, Linktype, Ts};
use crate::flow::{ConnMeta, Dir, FlowOut};
use crate::proto::handshake::UpgradeInfo;
use crate::proto::http::Request;
use crate::proto::mqtt::{self, SessionFinding};
use crate::proto::tls::conn::TlsFacts;
use crate::proto::ws::{FrameEnd, FrameHeader};

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

/// The layer a protocol anomaly was found in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Layer {
    Http,
    WebSocket,
    Mqtt,
    Tls,
}

/// How a direction's first bytes looked (what each side opened with).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Opening {
    /// No payload in this direction.
    #[default]
    Nothing,
    HttpRequest,
    HttpResponse,
    TlsClientHello,
    /// A TLS record that is not a ClientHello; `content_type` 21 is an alert.
    TlsRecord {
        content_type: u8,
    },
    MqttConnect,
    Mqtt,
    WebSocket,
    Other,
}

/// A WebSocket Close frame (or its absence) of one direction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WsClose {
    pub frame: u64,
    pub ts: Ts,
    pub code: Option<u16>,
    pub reason: Option<String>,
}

/// What a connection's MQTT session showed.
#[derive(Clone, Debug, Default)]
pub struct MqttFacts {
    /// `tcp` or `websocket`.
    pub transport: &'static str,
    pub summary: mqtt::Summary,
    /// The first CONNECT (frame, time).
    pub connect: Option<(u64, Ts)>,
    /// The first CONNACK (frame, time, return/reason code).
    pub connack: Option<(u64, Ts, u8)>,
    /// DISCONNECT per direction (frame, time, reason code; 0 for MQTT 3).
    pub disconnect: [Option<(u64, Ts, u8)>; 2],
    /// The last packet per direction (frame, time).
    pub last_packet: [Option<(u64, Ts)>; 2],
}

/// An HTTP CONNECT (a proxy tunnel) and the proxy's answer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TunnelFacts {
    /// The target as asked (`host:port`).
    pub target: String,
    pub request_frame: u64,
    pub response_frame: u64,
    pub status: u16,
    pub reason: String,
    /// The proxy's Server header (or Proxy-agent, which tinyproxy sends
    /// on a 200).
    pub proxy: Option<String>,
    /// Proxy-Authenticate of the answer (the scheme the proxy wants).
    pub auth_asked: Option<String>,
    /// The request carried Proxy-Authorization.
    pub auth_sent: bool,
    /// Seconds from the CONNECT to the answer (a proxy that waits for its
    /// own connection attempt to time out answers late).
    pub answer_secs: f64,
    /// The proxy's own error detail (squid's `X-Squid-Error`).
    pub proxy_error: Option<String>,
}

/// What the protocol stack learnt of a connection, reported once when its
/// protocol layers finish.
#[derive(Clone, Debug, Default)]
pub struct ConnSummary {
    /// `websocket`, `mqtt`, `http`, `tls` or `unknown`.
    pub protocol: &'static str,
    pub sni: Option<String>,
    pub alpn: Option<Vec<String>>,
    /// WebSocket recognised from its frames; the handshake was not captured.
    pub websocket_midstream: bool,
    /// What each direction (c2s, s2c) opened with, on the wire.
    pub opening: [Opening; 2],
    /// In a decrypted TLS connection, what each direction's plaintext
    /// opened with.
    pub decrypted_opening: Option<[Opening; 2]>,
    /// The first line of each direction when it opened with HTTP.
    pub first_line: [Option<String>; 2],
    /// Where each direction's opening bytes arrived (frame).
    pub opening_frame: [Option<u64>; 2],
    /// HTTP requests and responses seen.
    pub http: (u64, u64),
    /// WebSocket frames per direction.
    pub ws_frames: [u64; 2],
    /// WebSocket Close frame per direction.
    pub ws_close: [Option<WsClose>; 2],
    /// Boxed: most connections of a busy capture carry neither MQTT nor
    /// TLS, and closed connections linger in the table.
    pub mqtt: Option<Box<MqttFacts>>,
    /// What the TLS analysis learnt (TLS connections).
    pub tls: Option<Box<TlsFacts>>,
    /// The HTTP CONNECT this connection started with, if it did.
    pub tunnel: Option<TunnelFacts>,
    /// Human summary lines (handshake, WebSocket, MQTT) for the text report.
    pub summary: Vec<String>,
}

impl ConnSummary {
    /// What the application protocol opened with: the plaintext's opening
    /// in a decrypted TLS connection, else the wire's.
    pub fn app_opening(&self) -> [Opening; 2] {
        self.decrypted_opening.unwrap_or(self.opening)
    }

    /// The connection was TLS and its records were decrypted.
    pub fn decrypted(&self) -> bool {
        self.tls.as_ref().is_some_and(|t| t.decrypted())
    }
}

/// Records of the protocol layers, as the sink receives them.
#[derive(Debug)]
pub enum Record<'a> {
    /// One HTTP request carrying `Upgrade`, with its answer (or none).
    Upgrade {
        meta: &'a ConnMeta,
        info: &'a UpgradeInfo,
    },
    /// One HTTP request (any, with or without `Upgrade`).
    HttpRequest {
        meta: &'a ConnMeta,
        frame: u64,
        ts: Ts,
        req: &'a Request,
    },
    /// An HTTP CONNECT and the proxy's answer.
    Tunnel {
        meta: &'a ConnMeta,
        t: &'a TunnelFacts,
    },
    /// One WebSocket frame (when its last byte arrived).
    Ws {
        meta: &'a ConnMeta,
        dir: Dir,
        frame: u64,
        ts: Ts,
        h: &'a FrameHeader,
        end: &'a FrameEnd,
    },
    /// One MQTT control packet.
    Mqtt {
        meta: &'a ConnMeta,
        dir: Dir,
        frame: u64,
        ts: Ts,
        transport: &'static str,
        level: Option<u8>,
        p: &'a mqtt::Packet<'a>,
    },
    /// A protocol violation or decoder note (stable `code`, what was seen).
    Anomaly {
        meta: &'a ConnMeta,
        layer: Layer,
        dir: Option<Dir>,
        frame: u64,
        code: &'static str,
        message: &'a str,
    },
    /// A fact about an MQTT session's flow (refused CONNECT, keep-alive
    /// exceeded, unfinished QoS exchange, server DISCONNECT...).
    MqttSession {
        meta: &'a ConnMeta,
        frame: u64,
        f: &'a SessionFinding,
    },
    /// The connection's protocol layers finished.
    Summary {
        meta: &'a ConnMeta,
        s: &'a ConnSummary,
    },
}

/// Receives the records of one capture in the order they happen, and the
/// connection table's events.
pub trait RecordSink: FlowOut {
    fn record(&mut self, r: &Record<'_>);

    /// Is the text of an Upgrade's error page on `stream` wanted (see
    /// `diagnose::Report::wants_page_text`)? Yes by default.
    fn wants_page_text(&self, _stream: u64) -> bool {
        true
    }

    /// An Upgrade its emitter is done with: a sink that keeps it takes it
    /// without a copy. By default it is seen as a [`Record::Upgrade`].
    fn upgrade(&mut self, meta: &ConnMeta, info: UpgradeInfo) {
        self.record(&Record::Upgrade { meta, info: &info });
    }

    /// A connection's summary, given away as [`RecordSink::upgrade`]; by
    /// default seen as a [`Record::Summary`].
    fn summary(&mut self, meta: &ConnMeta, s: ConnSummary) {
        self.record(&Record::Summary { meta, s: &s });
    }
}
