//! `stream`: per-connection protocol sniffing and the layer stack.
//!
//! Sniffing looks at the first bytes of a connection, on any port:
//! HTTP/1.x, MQTT CONNECT (`MQTT` / `MQIsdp`), TLS, MQTT without CONNECT
//! (mid-stream: whole packets that each decode without an anomaly, never
//! a single byte), else unknown. At most [`SNIFF_HEAD_MAX`] bytes of a
//! direction are held while undecided. On a connection seen without its SYN, the
//! first payload also settles which side is the client (the side that sent
//! an HTTP request or MQTT CONNECT).
//!
//! The stack switches on upgrade: HTTP -> WebSocket (after a 101) -> MQTT
//! inside the WebSocket data stream. Client bytes sent after an Upgrade
//! request are held until the response decides what they are.

use crate::capture::Ts;
use crate::diagnose::{self, UpgradeInfo};
use crate::event::{ConnProto, Finding, Severity, Sink};
use crate::flow::{Chunk, ConnEnd, ConnMeta, Dir, Handler};
use crate::proto::handshake::{self, Outcome};
use crate::proto::http::{self, BodyKind, BodySkipper, Head, HttpLimits, Request, Response};
use crate::proto::mqtt::{self, MqttConn, MqttLimits};
use crate::proto::tls;
use crate::proto::ws::{FrameEnd, FrameHeader, Violation, WsDataSink, WsDirection, WsLimits};
use std::collections::VecDeque;

/// Records of the protocol layers, as the sink receives them.
#[derive(Debug)]
pub enum Record<'a> {
    Upgrade {
        meta: &'a ConnMeta,
        info: &'a UpgradeInfo,
    },
    Ws {
        meta: &'a ConnMeta,
        dir: Dir,
        frame: u64,
        ts: Ts,
        h: &'a FrameHeader,
        end: &'a FrameEnd,
    },
    Mqtt {
        meta: &'a ConnMeta,
        dir: Dir,
        frame: u64,
        ts: Ts,
        transport: &'static str,
        level: Option<u8>,
        p: &'a mqtt::Packet<'a>,
    },
}

/// What the first bytes of a direction look like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sniff {
    HttpRequest,
    HttpResponse,
    MqttConnect,
    /// MQTT packets without a CONNECT (a capture that starts mid-stream).
    Mqtt,
    TlsClientHello,
    Tls,
    Unknown,
    /// Not enough bytes to say.
    NeedMore,
}

const METHODS: &[&[u8]] = &[
    b"GET ",
    b"POST ",
    b"PUT ",
    b"HEAD ",
    b"DELETE ",
    b"OPTIONS ",
    b"PATCH ",
    b"CONNECT ",
    b"TRACE ",
    b"PROPFIND ",
    b"PROPPATCH ",
    b"MKCOL ",
    b"COPY ",
    b"MOVE ",
    b"LOCK ",
    b"UNLOCK ",
    b"SEARCH ",
    b"PRI ",
];

/// Classify the first bytes of a direction.
pub fn sniff(b: &[u8]) -> Sniff {
    if b.is_empty() {
        return Sniff::NeedMore;
    }
    if b.starts_with(b"HTTP/1.") {
        return Sniff::HttpResponse;
    }
    if b.len() < 7 && b"HTTP/1.".starts_with(b) {
        return Sniff::NeedMore;
    }
    for m in METHODS {
        if b.len() >= m.len() {
            if b.starts_with(m) {
                return Sniff::HttpRequest;
            }
        } else if m.starts_with(b) {
            return Sniff::NeedMore;
        }
    }
    if b[0] == 0x16 {
        if b.len() < 6 {
            return Sniff::NeedMore;
        }
        if b[1] == 3 && b[5] == 1 {
            return Sniff::TlsClientHello;
        }
    }
    if (0x14..=0x17).contains(&b[0]) && b.len() >= 3 && b[1] == 3 && b[2] <= 4 {
        return Sniff::Tls;
    }
    if b[0] == 0x10 {
        // fixed header, remaining length varint, then protocol name
        let mut i = 1;
        while i < b.len() && i <= 4 && b[i] & 0x80 != 0 {
            i += 1;
        }
        if i > 4 {
            return Sniff::Unknown;
        }
        let name_at = i + 1;
        let Some(len) = b.get(name_at..name_at + 2) else {
            return Sniff::NeedMore;
        };
        let n = u16::from_be_bytes([len[0], len[1]]) as usize;
        let want: &[&[u8]] = &[b"MQTT", b"MQIsdp"];
        let Some(name) = b.get(name_at + 2..name_at + 2 + n) else {
            return if want.iter().any(|w| w.len() == n) {
                Sniff::NeedMore
            } else {
                Sniff::Unknown
            };
        };
        if want.contains(&name) {
            return Sniff::MqttConnect;
        }
    }
    match mqtt_tiling(b) {
        Tiling::Whole => Sniff::Mqtt,
        Tiling::NeedMore => Sniff::NeedMore,
        Tiling::No => Sniff::Unknown,
    }
}

/// Bytes of one direction held while its protocol is not decided yet
/// (waiting for the rest of a first MQTT packet, or for the other side to
/// speak). Reached, the direction is decided with what is known.
pub const SNIFF_HEAD_MAX: usize = 4096;

/// A connection to or from an MQTT port (1883, 8883 is TLS): the last
/// resort for a capture that starts inside MQTT, where no packet boundary
/// is at the start.
fn is_mqtt_port(meta: &ConnMeta) -> bool {
    meta.server.port == 1883 || meta.client.port == 1883
}

/// Whether bytes are MQTT packets from their first byte on.
#[derive(Debug, PartialEq, Eq)]
enum Tiling {
    /// Whole, plausible packets that tile the bytes exactly.
    Whole,
    /// Plausible so far; the last packet is not complete yet.
    NeedMore,
    No,
}

/// Whole MQTT packets that tile the bytes exactly, each plausible: valid
/// type and flags, and a body the decoder reads without any anomaly (a
/// PUBLISH's topic fits, packet ids are not 0, reason codes exist...).
/// One byte, or a run of bytes that only looks like fixed headers (paho's
/// wake-up socket pair sends single `0` = 0x30 bytes), is not MQTT.
fn mqtt_tiling(b: &[u8]) -> Tiling {
    let mut i = 0;
    while let Some(rest) = b.get(i..).filter(|r| !r.is_empty()) {
        let first = rest[0];
        if !mqtt::flags_valid(first >> 4, first & 0x0f) {
            return Tiling::No;
        }
        let (hl, rl) = match mqtt::parse_fixed_header(rest) {
            mqtt::FixedHeader::Complete {
                header_len,
                remaining_len,
            } => (usize::from(header_len), remaining_len as usize),
            mqtt::FixedHeader::Incomplete => return Tiling::NeedMore,
            mqtt::FixedHeader::Invalid => return Tiling::No,
        };
        let Some(body) = rest.get(hl..hl.saturating_add(rl)) else {
            // the packet goes on: wait for it if it can fit in the head
            return if i.saturating_add(hl).saturating_add(rl) <= SNIFF_HEAD_MAX {
                Tiling::NeedMore
            } else {
                Tiling::No
            };
        };
        if !mqtt::decode_packet(first, body, None).anomalies.is_empty() {
            return Tiling::No;
        }
        i += hl + rl;
    }
    if i >= 2 {
        Tiling::Whole
    } else {
        Tiling::NeedMore
    }
}

/// Violations and anomalies of one connection, aggregated per code.
#[derive(Default)]
struct Issues {
    v: Vec<Issue>,
}

struct Issue {
    code: &'static str,
    severity: Severity,
    count: u64,
    frames: Vec<u64>,
    message: String,
}

impl Issues {
    fn add(
        &mut self,
        code: &'static str,
        severity: Severity,
        frame: u64,
        message: impl FnOnce() -> String,
    ) {
        if let Some(i) = self.v.iter_mut().find(|i| i.code == code) {
            i.count += 1;
            if i.frames.len() < 10 && i.frames.last() != Some(&frame) {
                i.frames.push(frame);
            }
            return;
        }
        if self.v.len() < 64 {
            self.v.push(Issue {
                code,
                severity,
                count: 1,
                frames: vec![frame],
                message: message(),
            });
        }
    }

    fn flush(&mut self, meta: &ConnMeta, out: &mut dyn Sink) {
        for i in self.v.drain(..) {
            let msg = if i.count > 1 {
                format!("{} ({} times)", i.message, i.count)
            } else {
                i.message
            };
            let mut f = Finding::new(i.code, i.severity, msg)
                .stream(meta.stream)
                .frames(i.frames);
            if let Some(h) = issue_hint(i.code) {
                f = f.hint(h);
            }
            out.finding(&f);
        }
    }
}

fn issue_hint(code: &str) -> Option<&'static str> {
    Some(match code {
        "ws_client_frame_unmasked" => "RFC 6455 requires clients to mask every frame; servers must close such connections. Update the client's WebSocket library.",
        "ws_server_frame_masked" => "RFC 6455 forbids masking server frames; clients must close such connections.",
        "ws_inflate_limit" => "A compressed message inflated past the configured cap (possible deflate bomb); the rest of the message was not decoded.",
        "mqtt_packet_too_large" => "A packet exceeded the configured maximum; its header was reported and its body skipped.",
        "ws_gap_lost_sync" | "mqtt_resync" | "mqtt_gap" => "Bytes were missing from the capture; decoding resynchronised on the next plausible header.",
        _ => return None,
    })
}

fn ws_severity(code: &str) -> Severity {
    match code {
        "ws_gap_in_payload" | "ws_resynced" | "ws_gap_lost_sync" => Severity::Info,
        _ => Severity::Warning,
    }
}

fn mqtt_severity(code: &str) -> Severity {
    match code {
        "mqtt_gap" | "mqtt_resync" => Severity::Info,
        _ => Severity::Warning,
    }
}

fn mqtt_dir(d: Dir) -> mqtt::Dir {
    match d {
        Dir::C2S => mqtt::Dir::C2S,
        Dir::S2C => mqtt::Dir::S2C,
    }
}

fn flow_dir(d: mqtt::Dir) -> Dir {
    match d {
        mqtt::Dir::C2S => Dir::C2S,
        mqtt::Dir::S2C => Dir::S2C,
    }
}

/// Where a record is being produced.
#[derive(Clone, Copy)]
struct At {
    frame: u64,
    ts: Ts,
}

#[allow(clippy::too_many_arguments)]
fn mqtt_event(
    ev: mqtt::Event<'_>,
    out: &mut dyn Sink,
    issues: &mut Issues,
    meta: &ConnMeta,
    at: At,
    transport: &'static str,
    level: Option<u8>,
) {
    match ev {
        mqtt::Event::Packet(d, p) => {
            for a in &p.anomalies {
                issues.add(a.code, mqtt_severity(a.code), at.frame, || {
                    a.message.clone()
                });
            }
            out.record(&Record::Mqtt {
                meta,
                dir: flow_dir(d),
                frame: at.frame,
                ts: at.ts,
                transport,
                level: level.or(p.level),
                p,
            });
        }
        mqtt::Event::Anomaly(_, a) => issues.add(a.code, mqtt_severity(a.code), at.frame, || {
            a.message.clone()
        }),
        mqtt::Event::Finding(f) => {
            let mut sev = match f.severity {
                "error" => Severity::Error,
                "warning" => Severity::Warning,
                _ => Severity::Info,
            };
            if f.code == "mqtt_qos_flow_incomplete" && meta.end == ConnEnd::Open {
                // The capture stopped while the connection was open: an
                // unfinished exchange is expected, not a problem.
                sev = Severity::Info;
            }
            let mut fi = Finding::new(f.code, sev, f.message.clone())
                .stream(meta.stream)
                .frames(if at.frame > 0 { vec![at.frame] } else { vec![] });
            let hint = match f.code {
                "mqtt_connect_refused" => Some("The broker refused the session: check the client id, user name and password, and the broker's access rules for this client."),
                "mqtt_server_disconnect" => Some("The broker closed the session and said why: the reason code names the cause (e.g. packet too large, not authorized, session taken over)."),
                "mqtt_keepalive_exceeded" => Some("No packet came within 1.5 times the keep-alive; the broker would have dropped the client. Check the device's network and its PINGREQ timer."),
                "mqtt_qos_flow_incomplete" => Some("A QoS 1/2 exchange did not finish before the capture ended (or the connection dropped): the message may be redelivered."),
                _ => None,
            };
            if let Some(h) = hint {
                fi = fi.hint(h);
            }
            out.finding(&fi);
        }
    }
}

/// The WebSocket data sink of one direction: frames become records, data
/// goes to MQTT.
struct WsCtx<'a> {
    out: &'a mut dyn Sink,
    meta: &'a ConnMeta,
    dir: Dir,
    at: At,
    mqtt: &'a mut Option<MqttConn>,
    /// Whether MQTT inside this WebSocket has been decided.
    decided: &'a mut bool,
    issues: &'a mut Issues,
    frames: &'a mut [u64; 2],
}

impl WsDataSink for WsCtx<'_> {
    fn data(&mut self, bytes: &[u8]) {
        if !*self.decided && self.dir == Dir::C2S {
            // No MQTT subprotocol negotiated: MQTT if the client starts with
            // a CONNECT (one byte is enough: MQTT.js sends 1-byte frames).
            *self.decided = true;
            if bytes.first() == Some(&0x10) {
                *self.mqtt = Some(MqttConn::new(MqttLimits::default(), true));
            }
        }
        if let Some(m) = self.mqtt.as_mut() {
            let level = m.level();
            let (out, issues, meta, at) = (&mut *self.out, &mut *self.issues, self.meta, self.at);
            m.feed(mqtt_dir(self.dir), at.ts.as_f64(), bytes, &mut |ev| {
                mqtt_event(ev, out, issues, meta, at, "websocket", level)
            });
        }
    }
    fn frame(&mut self, h: &FrameHeader, end: &FrameEnd) {
        self.frames[self.dir.idx()] += 1;
        self.out.record(&Record::Ws {
            meta: self.meta,
            dir: self.dir,
            frame: self.at.frame,
            ts: self.at.ts,
            h,
            end,
        });
    }
    fn violation(&mut self, v: Violation) {
        let msg = v.message;
        self.issues
            .add(v.code, ws_severity(v.code), self.at.frame, move || msg);
    }
    fn data_lost(&mut self) {
        if let Some(m) = self.mqtt.as_mut() {
            let level = m.level();
            let (out, issues, meta, at) = (&mut *self.out, &mut *self.issues, self.meta, self.at);
            m.gap(mqtt_dir(self.dir), u32::MAX as u64, &mut |ev| {
                mqtt_event(ev, out, issues, meta, at, "websocket", level)
            });
        }
    }
}

/// A parsed HTTP head: a request (client) or a response (server).
type Message = Result<Request, Response>;

/// Run `f` on one direction of a WebSocket layer, with the sink that turns
/// its frames into records and its data into MQTT.
#[allow(clippy::too_many_arguments)]
fn with_ws_dir(
    ws: &mut Ws,
    issues: &mut Issues,
    frames: &mut [u64; 2],
    out: &mut dyn Sink,
    meta: &ConnMeta,
    dir: Dir,
    at: At,
    f: impl FnOnce(&mut WsDirection, &mut WsCtx<'_>),
) {
    let Ws {
        dir: dirs,
        mqtt,
        decided_mqtt,
        ..
    } = ws;
    let mut ctx = WsCtx {
        out,
        meta,
        dir,
        at,
        mqtt,
        decided: decided_mqtt,
        issues,
        frames,
    };
    f(&mut dirs[dir.idx()], &mut ctx);
}

struct Pending {
    req: Request,
    frame: u64,
    upgrade: bool,
}

/// A rejected upgrade waiting for the end of its response body (the body
/// of an error page identifies the server).
struct Rejected {
    info: UpgradeInfo,
    body: Vec<u8>,
}

const MAX_PENDING: usize = 64;
const MAX_HOLD: usize = 1 << 20;
const BODY_CAPTURE: usize = 8 * 1024;

struct Http {
    buf: [Vec<u8>; 2],
    body: [Option<BodySkipper>; 2],
    pending: VecDeque<Pending>,
    /// c2s bytes after an Upgrade request, until its response decides.
    hold: Option<Vec<u8>>,
    dead: [bool; 2],
    rejected: Option<Rejected>,
    requests: u64,
    responses: u64,
}

/// What the HTTP layer asks of the stack.
enum HttpNext {
    Stay,
    /// 101 for WebSocket: switch, with the bytes that follow.
    WebSocket {
        info: Box<UpgradeInfo>,
        s2c: Vec<u8>,
        c2s: Vec<u8>,
    },
    /// 101 for something else (h2c...): stop decoding.
    Opaque,
}

impl Http {
    fn new() -> Http {
        Http {
            buf: [Vec::new(), Vec::new()],
            body: [None, None],
            pending: VecDeque::new(),
            hold: None,
            dead: [false, false],
            rejected: None,
            requests: 0,
            responses: 0,
        }
    }
}

/// The per-connection layer stack.
#[derive(Default)]
pub struct Stack {
    head: [Vec<u8>; 2],
    layer: Layer,
    proto: Option<&'static str>,
    issues: Issues,
    upgrades: Vec<UpgradeInfo>,
    tls: Option<tls::ClientHello>,
    tls_buf: Vec<u8>,
    ws_frames: [u64; 2],
    http_counts: (u64, u64),
    mqtt_summary: Option<(mqtt::Summary, &'static str)>,
    /// A direction whose first bytes were not recognised.
    unknown_seen: [bool; 2],
    /// Frame of the last data chunk per direction.
    last_data_frame: [Option<u64>; 2],
}

#[derive(Default)]
enum Layer {
    #[default]
    Sniff,
    Http(Box<Http>),
    Ws(Box<Ws>),
    Mqtt(Box<MqttConn>),
    Tls,
    Opaque,
}

struct Ws {
    dir: [WsDirection; 2],
    mqtt: Option<MqttConn>,
    decided_mqtt: bool,
    /// The 101 was invalid: if the next data is HTTP, the switch never happened.
    probation: bool,
}

impl Stack {
    fn http_limits() -> HttpLimits {
        HttpLimits::default()
    }

    /// Decide the protocol from buffered or current bytes.
    fn decide(&mut self, meta: &mut ConnMeta, dir: Dir, s: Sniff) -> Dir {
        let mut dir = dir;
        if !meta.roles_from_syn {
            let wrong = matches!(
                (s, dir),
                (
                    Sniff::HttpRequest | Sniff::MqttConnect | Sniff::TlsClientHello,
                    Dir::S2C
                ) | (Sniff::HttpResponse, Dir::C2S)
            );
            if wrong {
                meta.swap_roles();
                self.head.swap(0, 1);
                dir = dir.rev();
            }
        }
        let (proto, layer) = match s {
            Sniff::HttpRequest | Sniff::HttpResponse => {
                ("http", Layer::Http(Box::new(Http::new())))
            }
            Sniff::MqttConnect | Sniff::Mqtt => (
                "mqtt",
                Layer::Mqtt(Box::new(MqttConn::new(
                    MqttLimits::default(),
                    meta.syn && s == Sniff::MqttConnect,
                ))),
            ),
            Sniff::TlsClientHello | Sniff::Tls => ("tls", Layer::Tls),
            _ => ("unknown", Layer::Opaque),
        };
        self.proto = Some(proto);
        self.layer = layer;
        dir
    }

    fn data(&mut self, meta: &mut ConnMeta, dir: Dir, bytes: &[u8], at: At, out: &mut dyn Sink) {
        if let Layer::Sniff = self.layer {
            let d = dir.idx();
            let s = if self.head[d].is_empty() {
                sniff(bytes)
            } else {
                self.head[d].extend_from_slice(bytes);
                sniff(&self.head[d])
            };
            let mut s = s;
            // bytes of this direction so far (the head holds them all once used)
            let held = if self.head[d].is_empty() {
                bytes.len()
            } else {
                self.head[d].len()
            };
            if s == Sniff::Unknown {
                let other_seen = !self.head[1 - d].is_empty() || self.unknown_seen[1 - d];
                if is_mqtt_port(meta) {
                    // Last resort for a capture that starts inside MQTT.
                    s = Sniff::Mqtt;
                } else if !other_seen && held < SNIFF_HEAD_MAX {
                    // Let the other direction speak before giving up
                    // (holding at most SNIFF_HEAD_MAX bytes).
                    self.unknown_seen[d] = true;
                    if self.head[d].is_empty() {
                        self.head[d].extend_from_slice(bytes);
                    }
                    return;
                }
            }
            if s == Sniff::NeedMore && held < SNIFF_HEAD_MAX {
                if self.head[d].is_empty() {
                    self.head[d].extend_from_slice(bytes);
                }
                return;
            }
            let from_head = !self.head[d].is_empty();
            let dir2 = self.decide(meta, dir, s);
            // Replay what was held, client side first.
            let mut heads = std::mem::take(&mut self.head);
            if !from_head {
                heads[dir2.idx()].clear();
            }
            for d in [Dir::C2S, Dir::S2C] {
                let h = std::mem::take(&mut heads[d.idx()]);
                if !h.is_empty() {
                    self.layer_data(meta, d, &h, at, out);
                }
            }
            if !from_head {
                self.layer_data(meta, dir2, bytes, at, out);
            }
            return;
        }
        self.layer_data(meta, dir, bytes, at, out);
    }

    fn layer_data(
        &mut self,
        meta: &mut ConnMeta,
        dir: Dir,
        bytes: &[u8],
        at: At,
        out: &mut dyn Sink,
    ) {
        match &mut self.layer {
            Layer::Sniff | Layer::Opaque => {}
            Layer::Tls => {
                if dir == Dir::C2S && self.tls.is_none() && self.tls_buf.len() <= tls::MAX_HELLO {
                    self.tls_buf.extend_from_slice(bytes);
                    match tls::parse_client_hello(&self.tls_buf) {
                        tls::Parse::Done(h) => {
                            self.tls = Some(h);
                            self.tls_buf = Vec::new();
                        }
                        tls::Parse::NotTls => {
                            self.tls = Some(tls::ClientHello::default());
                            self.tls_buf = Vec::new();
                        }
                        tls::Parse::NeedMore => {}
                    }
                }
            }
            Layer::Mqtt(m) => {
                let level = m.level();
                let issues = &mut self.issues;
                m.feed(mqtt_dir(dir), at.ts.as_f64(), bytes, &mut |ev| {
                    mqtt_event(ev, out, issues, meta, at, "tcp", level)
                });
            }
            Layer::Ws(ws) => {
                if ws.probation {
                    ws.probation = false;
                    if matches!(sniff(bytes), Sniff::HttpRequest | Sniff::HttpResponse) {
                        self.layer = Layer::Http(Box::new(Http::new()));
                        self.proto = Some("http");
                        let next = self.http_data(meta, dir, bytes, at, out);
                        self.apply(meta, next, at, out);
                        return;
                    }
                }
                with_ws_dir(
                    ws,
                    &mut self.issues,
                    &mut self.ws_frames,
                    out,
                    meta,
                    dir,
                    at,
                    |d, ctx| {
                        d.feed(bytes, ctx);
                    },
                );
            }
            Layer::Http(_) => {
                let next = self.http_data(meta, dir, bytes, at, out);
                self.apply(meta, next, at, out);
            }
        }
    }

    fn apply(&mut self, meta: &mut ConnMeta, next: HttpNext, at: At, out: &mut dyn Sink) {
        match next {
            HttpNext::Stay => {}
            HttpNext::Opaque => {
                self.take_http_counts();
                self.layer = Layer::Opaque;
            }
            HttpNext::WebSocket { info, s2c, c2s } => {
                self.take_http_counts();
                let deflate = info.handshake.deflate;
                let lim = WsLimits::default();
                let sel = info.handshake.protocol_selected.as_deref().unwrap_or("");
                let offered_mqtt = info
                    .handshake
                    .protocols_offered
                    .iter()
                    .any(|p| p.to_ascii_lowercase().starts_with("mqtt"));
                let is_mqtt = sel.to_ascii_lowercase().starts_with("mqtt") || offered_mqtt;
                let mut mq = MqttConn::new(MqttLimits::default(), true);
                if sel.eq_ignore_ascii_case("mqttv3.1") {
                    mq.set_level_hint(3);
                }
                self.layer = Layer::Ws(Box::new(Ws {
                    dir: [
                        WsDirection::new(true, deflate, lim),
                        WsDirection::new(false, deflate, lim),
                    ],
                    // MQTT when negotiated or offered; else decided by the
                    // client's first data (see `WsCtx::data`).
                    mqtt: is_mqtt.then_some(mq),
                    decided_mqtt: is_mqtt,
                    probation: info.handshake.outcome == Outcome::Invalid,
                }));
                self.proto = Some("websocket");
                self.upgrades.push(*info);
                if !s2c.is_empty() {
                    self.ws_data(meta, Dir::S2C, &s2c, at, out);
                }
                if !c2s.is_empty() {
                    self.ws_data(meta, Dir::C2S, &c2s, at, out);
                }
            }
        }
    }

    fn ws_data(&mut self, meta: &mut ConnMeta, dir: Dir, bytes: &[u8], at: At, out: &mut dyn Sink) {
        self.layer_data(meta, dir, bytes, at, out);
    }

    fn take_http_counts(&mut self) {
        if let Layer::Http(h) = &self.layer {
            self.http_counts = (h.requests, h.responses);
        }
    }

    fn emit_upgrade(&mut self, meta: &ConnMeta, info: &UpgradeInfo, out: &mut dyn Sink) {
        out.record(&Record::Upgrade { meta, info });
        for f in diagnose::upgrade_findings(meta, info) {
            out.finding(&f);
        }
    }

    fn http_data(
        &mut self,
        meta: &mut ConnMeta,
        dir: Dir,
        bytes: &[u8],
        at: At,
        out: &mut dyn Sink,
    ) -> HttpNext {
        let lim = Self::http_limits();
        let mut input: Vec<u8>;
        let mut rest: &[u8] = bytes;
        loop {
            if rest.is_empty() {
                return HttpNext::Stay;
            }
            let Layer::Http(h) = &mut self.layer else {
                return HttpNext::Stay;
            };
            let d = dir.idx();
            if h.dead[d] {
                return HttpNext::Stay;
            }
            if dir == Dir::C2S {
                if let Some(hold) = h.hold.as_mut() {
                    if hold.len() + rest.len() <= MAX_HOLD {
                        hold.extend_from_slice(rest);
                    }
                    return HttpNext::Stay;
                }
            }
            if let Some(b) = h.body[d].as_mut() {
                let cap = &mut h.rejected;
                let skip = b.feed_with(rest, &mut |chunk| {
                    if dir == Dir::S2C {
                        if let Some(r) = cap.as_mut() {
                            let room = BODY_CAPTURE.saturating_sub(r.body.len());
                            r.body.extend_from_slice(&chunk[..room.min(chunk.len())]);
                        }
                    }
                });
                rest = &rest[skip.consumed.min(rest.len())..];
                if let Some(e) = skip.error {
                    let code = e.code();
                    self.issues
                        .add(code, Severity::Warning, at.frame, || e.to_string());
                }
                if skip.done {
                    let Layer::Http(h) = &mut self.layer else {
                        return HttpNext::Stay;
                    };
                    h.body[d] = None;
                    if dir == Dir::S2C {
                        if let Some(mut r) = h.rejected.take() {
                            // tshark shows a response where its body completes.
                            r.info.response_frame = Some(at.frame);
                            self.finish_rejected(meta, r, out);
                        }
                    }
                    continue;
                }
                return HttpNext::Stay;
            }
            // A head: parse in place when nothing is buffered.
            let Layer::Http(h) = &mut self.layer else {
                return HttpNext::Stay;
            };
            let buffered = !h.buf[d].is_empty();
            if buffered {
                if h.buf[d].len() + rest.len() > lim.max_head_bytes + 1 {
                    let room = lim.max_head_bytes + 1 - h.buf[d].len().min(lim.max_head_bytes + 1);
                    h.buf[d].extend_from_slice(&rest[..room.min(rest.len())]);
                } else {
                    h.buf[d].extend_from_slice(rest);
                }
            }
            let src: &[u8] = if buffered { &h.buf[d] } else { rest };
            let parsed: Result<Option<(Message, usize)>, http::HttpError> = if dir == Dir::C2S {
                match http::parse_request(src, &lim) {
                    Head::Complete(r, n) => Ok(Some((Ok(r), n))),
                    Head::Partial => Ok(None),
                    Head::Error(e) => Err(e),
                }
            } else {
                match http::parse_response(src, &lim) {
                    Head::Complete(r, n) => Ok(Some((Err(r), n))),
                    Head::Partial => Ok(None),
                    Head::Error(e) => Err(e),
                }
            };
            match parsed {
                Ok(None) => {
                    if !buffered {
                        h.buf[d].extend_from_slice(rest);
                    }
                    return HttpNext::Stay;
                }
                Err(e) => {
                    h.dead[d] = true;
                    let code = e.code();
                    self.issues.add(code, Severity::Info, at.frame, || {
                        format!("{} HTTP stream not decoded further: {e}", dir.as_str())
                    });
                    return HttpNext::Stay;
                }
                Ok(Some((msg, n))) => {
                    if buffered {
                        input = h.buf[d].split_off(n.min(h.buf[d].len()));
                        h.buf[d].clear();
                    } else {
                        input = rest[n.min(rest.len())..].to_vec();
                    }
                    match msg {
                        Ok(req) => self.on_request(req, at),
                        Err(resp) => {
                            if let Some(next) = self.on_response(meta, resp, &mut input, at, out) {
                                return next;
                            }
                        }
                    }
                    // `input` now holds the bytes after the head.
                    let owned = std::mem::take(&mut input);
                    return self.http_data_owned(meta, dir, owned, at, out);
                }
            }
        }
    }

    /// Continue with bytes that follow a head (owned, so the borrow of the
    /// original chunk can end). Recursion depth is bounded by heads per chunk.
    fn http_data_owned(
        &mut self,
        meta: &mut ConnMeta,
        dir: Dir,
        bytes: Vec<u8>,
        at: At,
        out: &mut dyn Sink,
    ) -> HttpNext {
        if bytes.is_empty() {
            return HttpNext::Stay;
        }
        self.http_data(meta, dir, &bytes, at, out)
    }

    fn on_request(&mut self, req: Request, at: At) {
        let Layer::Http(h) = &mut self.layer else {
            return;
        };
        h.requests += 1;
        let info = http::body_info_request(&req);
        for p in &info.problems {
            let m = p.to_string();
            self.issues.add(p.code(), Severity::Warning, at.frame, || m);
        }
        let Layer::Http(h) = &mut self.layer else {
            return;
        };
        if !matches!(info.kind, BodyKind::None) {
            h.body[0] = Some(BodySkipper::new(info.kind));
        }
        let upgrade = req.headers.get("upgrade").is_some();
        if upgrade && matches!(info.kind, BodyKind::None) {
            h.hold = Some(Vec::new());
        }
        if h.pending.len() >= MAX_PENDING {
            h.pending.pop_front();
        }
        h.pending.push_back(Pending {
            req,
            frame: at.frame,
            upgrade,
        });
    }

    /// A response head: match it with its request. Returns Some to stop
    /// HTTP decoding (switch layer).
    fn on_response(
        &mut self,
        meta: &mut ConnMeta,
        resp: Response,
        rest: &mut Vec<u8>,
        at: At,
        out: &mut dyn Sink,
    ) -> Option<HttpNext> {
        let Layer::Http(h) = &mut self.layer else {
            return None;
        };
        h.responses += 1;
        if (100..200).contains(&resp.status) && resp.status != 101 {
            return None;
        }
        let pending = h.pending.pop_front();
        let method = pending.as_ref().map(|p| p.req.method.clone());
        let bi = http::body_info_response(&resp, method.as_deref());
        let Some(p) = pending else {
            if !matches!(bi.kind, BodyKind::None) {
                h.body[1] = Some(BodySkipper::new(bi.kind));
            }
            return None;
        };
        if !p.upgrade {
            if !matches!(bi.kind, BodyKind::None) {
                h.body[1] = Some(BodySkipper::new(bi.kind));
            }
            return None;
        }
        let websocket = p.req.headers.has_token("upgrade", "websocket");
        let hs = handshake::validate(&p.req, Some(&resp), false);
        let mut info = UpgradeInfo {
            request_frame: p.frame,
            response_frame: Some(at.frame),
            websocket,
            server: diagnose::identify_server(&resp, &[]),
            handshake: hs,
            request: p.req,
            response: Some(resp),
        };
        if info.response.as_ref().is_some_and(|r| r.status == 101) {
            let held = h.hold.take().unwrap_or_default();
            if !websocket {
                info.handshake.outcome = Outcome::Accepted;
                self.emit_upgrade(meta, &info, out);
                self.upgrades.push(info);
                return Some(HttpNext::Opaque);
            }
            self.emit_upgrade(meta, &info, out);
            let s2c = std::mem::take(rest);
            return Some(HttpNext::WebSocket {
                info: Box::new(info),
                s2c,
                c2s: held,
            });
        }
        if !websocket {
            info.handshake.outcome = Outcome::Rejected;
        }
        // Rejected: wait for the body (error pages identify IIS).
        let held = h.hold.take();
        if matches!(bi.kind, BodyKind::None) {
            self.finish_rejected(
                meta,
                Rejected {
                    info,
                    body: Vec::new(),
                },
                out,
            );
        } else {
            h.body[1] = Some(BodySkipper::new(bi.kind));
            h.rejected = Some(Rejected {
                info,
                body: Vec::new(),
            });
        }
        // Held client bytes are HTTP again.
        if let Some(held) = held {
            if !held.is_empty() {
                let next = self.http_data_owned(meta, Dir::C2S, held, at, out);
                if !matches!(next, HttpNext::Stay) {
                    return Some(next);
                }
            }
        }
        None
    }

    fn finish_rejected(&mut self, meta: &ConnMeta, r: Rejected, out: &mut dyn Sink) {
        let mut info = r.info;
        if let Some(resp) = &info.response {
            info.server = diagnose::identify_server(resp, &r.body);
        }
        self.emit_upgrade(meta, &info, out);
        self.upgrades.push(info);
    }

    /// The connection is over: report upgrades still waiting.
    fn close_http(&mut self, meta: &ConnMeta, out: &mut dyn Sink) {
        let Layer::Http(h) = &mut self.layer else {
            return;
        };
        let rejected = h.rejected.take();
        let pending: Vec<Pending> = h.pending.drain(..).collect();
        self.take_http_counts();
        if let Some(mut r) = rejected {
            // A body read until the connection closed ends with its last data.
            if let Some(f) = self.last_data_frame[1] {
                r.info.response_frame = Some(f);
            }
            self.finish_rejected(meta, r, out);
        }
        let reset = meta.end == ConnEnd::Rst;
        for p in pending.into_iter().filter(|p| p.upgrade) {
            let websocket = p.req.headers.has_token("upgrade", "websocket");
            let mut hs = handshake::validate(&p.req, None, reset);
            if !websocket {
                hs.outcome = if reset {
                    Outcome::Reset
                } else {
                    Outcome::NoResponse
                };
            }
            let info = UpgradeInfo {
                request_frame: p.frame,
                response_frame: None,
                websocket,
                server: None,
                handshake: hs,
                request: p.req,
                response: None,
            };
            self.emit_upgrade(meta, &info, out);
            self.upgrades.push(info);
        }
    }

    /// Per-connection lines for the text report.
    fn summary_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for u in &self.upgrades {
            let mut s = format!(
                "{} {}  Upgrade: {}",
                u.request.method,
                u.request.uri,
                u.header("upgrade").unwrap_or("")
            );
            if let Some(p) = u.header("sec-websocket-protocol") {
                s.push_str(&format!("  Sec-WebSocket-Protocol: {p}"));
            }
            s.push_str(" → ");
            match &u.response {
                Some(r) => s.push_str(&format!(
                    "{} {} (frame {})",
                    r.status,
                    r.reason,
                    u.response_frame.unwrap_or(0)
                )),
                None => s.push_str("no response"),
            }
            if let Some(sv) = u.resp_header("server") {
                s.push_str(&format!("  Server: {sv}"));
            }
            s.push_str(&format!("  [{}]", u.handshake.outcome.as_str()));
            lines.push(s);
        }
        if self.ws_frames != [0, 0] {
            lines.push(format!(
                "WebSocket: {} frame(s) c2s, {} s2c",
                self.ws_frames[0], self.ws_frames[1]
            ));
        }
        let seen = |s: &mqtt::Summary| s.counts_c2s.iter().chain(&s.counts_s2c).any(|&n| n > 0);
        if let Some((s, transport)) = self.mqtt_summary.as_ref().filter(|(s, _)| seen(s)) {
            let level = match s.level {
                Some(3) => "MQTT 3.1",
                Some(4) => "MQTT 3.1.1",
                Some(5) => "MQTT 5.0",
                _ => "MQTT (version unknown)",
            };
            let mut l = format!(
                "{level}{} over {transport}",
                if s.level_inferred { " (inferred)" } else { "" }
            );
            if let Some(c) = &s.client_id {
                l.push_str(&format!("  client \"{c}\""));
                if let Some(mac) = advantech_mac(c) {
                    l.push_str(&format!("  device {mac}"));
                }
            }
            if let Some(code) = s.connack_code {
                l.push_str(if code == 0 {
                    "  CONNACK accepted"
                } else {
                    "  CONNACK refused"
                });
                if code != 0 {
                    l.push_str(&format!(" (code {code})"));
                }
            }
            lines.push(l);
            let mut counts = Vec::new();
            for t in 1..16u8 {
                let n = s.counts_c2s[t as usize] + s.counts_s2c[t as usize];
                if n > 0 {
                    counts.push(format!("{} {}", n, mqtt::msg_name(t)));
                }
            }
            if !counts.is_empty() {
                lines.push(format!("packets: {}", counts.join(", ")));
            }
            for t in s.topics.iter().take(8) {
                let adv = advantech_topic(&t.topic)
                    .map(|m| format!("  (Advantech device {m})"))
                    .unwrap_or_default();
                lines.push(format!(
                    "{} PUBLISH {} {}{}",
                    t.count,
                    if t.dir == mqtt::Dir::C2S {
                        "to"
                    } else {
                        "from broker on"
                    },
                    t.topic,
                    adv
                ));
            }
            if s.topics.len() > 8 {
                lines.push(format!("... {} more topic(s)", s.topics.len() - 8));
            }
            let f = &s.flows;
            if f.qos1_completed + f.qos2_completed + f.qos1_incomplete + f.qos2_incomplete > 0 {
                lines.push(format!(
                    "QoS flows: {} QoS 1 and {} QoS 2 completed, {} QoS 1 and {} QoS 2 incomplete",
                    f.qos1_completed, f.qos2_completed, f.qos1_incomplete, f.qos2_incomplete
                ));
            }
        }
        if let Some(t) = &self.tls {
            lines.push(format!(
                "TLS ClientHello: SNI {}  ALPN {}",
                t.sni.as_deref().unwrap_or("-"),
                if t.alpn.is_empty() {
                    "-".to_string()
                } else {
                    t.alpn.join(",")
                }
            ));
        }
        lines
    }
}

/// `00:D0:C9:E2:79:59` from a 12-hex-digit MAC inside a WISE-style client id.
pub fn advantech_mac(s: &str) -> Option<String> {
    let b = s.as_bytes();
    (0..b.len().saturating_sub(11)).find_map(|i| {
        let w = &b[i..i + 12];
        let hex = w.iter().all(|c| c.is_ascii_hexdigit());
        let bounded = (i == 0 || !b[i - 1].is_ascii_hexdigit())
            && b.get(i + 12).is_none_or(|c| !c.is_ascii_hexdigit());
        (hex && bounded && w[..6].eq_ignore_ascii_case(b"00D0C9")).then(|| {
            w.chunks(2)
                .map(|p| String::from_utf8_lossy(p).to_ascii_uppercase())
                .collect::<Vec<_>>()
                .join(":")
        })
    })
}

/// The device MAC of an Advantech topic (`Advantech/<MAC>/...`).
pub fn advantech_topic(topic: &str) -> Option<String> {
    let rest = topic.strip_prefix("Advantech/")?;
    let mac = rest.split('/').next()?;
    if mac.len() == 12 && mac.bytes().all(|c| c.is_ascii_hexdigit()) {
        Some(
            mac.as_bytes()
                .chunks(2)
                .map(|p| String::from_utf8_lossy(p).to_ascii_uppercase())
                .collect::<Vec<_>>()
                .join(":"),
        )
    } else {
        None
    }
}

impl Handler for Stack {
    fn chunk(&mut self, meta: &mut ConnMeta, dir: Dir, chunk: Chunk<'_>, out: &mut dyn Sink) {
        match chunk {
            Chunk::Data { bytes, frame, ts } => {
                self.last_data_frame[dir.idx()] = Some(frame);
                self.data(meta, dir, bytes, At { frame, ts }, out);
            }
            Chunk::Gap { len, frame, ts } => {
                let at = At { frame, ts };
                match &mut self.layer {
                    Layer::Sniff => {
                        // Sniff without the lost bytes: what follows is mid-stream.
                        self.head[dir.idx()].clear();
                    }
                    Layer::Mqtt(m) => {
                        let level = m.level();
                        let issues = &mut self.issues;
                        m.gap(mqtt_dir(dir), len, &mut |ev| {
                            mqtt_event(ev, out, issues, meta, at, "tcp", level)
                        });
                    }
                    Layer::Ws(ws) => {
                        with_ws_dir(
                            ws,
                            &mut self.issues,
                            &mut self.ws_frames,
                            out,
                            meta,
                            dir,
                            at,
                            |d, ctx| {
                                d.gap(len, ctx);
                            },
                        );
                    }
                    Layer::Http(h) => {
                        // HTTP cannot find its way back into a byte stream.
                        h.dead[dir.idx()] = true;
                        h.buf[dir.idx()] = Vec::new();
                        self.issues.add("http_gap", Severity::Info, frame, || {
                            format!("{} HTTP data missing from the capture; that direction was not decoded further", dir.as_str())
                        });
                    }
                    Layer::Tls | Layer::Opaque => {}
                }
            }
            Chunk::End { .. } => {
                if let Layer::Sniff = self.layer {
                    let h = std::mem::take(&mut self.head[dir.idx()]);
                    if !h.is_empty() {
                        let s = sniff(&h);
                        let s = if s == Sniff::NeedMore {
                            Sniff::Unknown
                        } else {
                            s
                        };
                        let d2 = self.decide(meta, dir, s);
                        self.layer_data(
                            meta,
                            d2,
                            &h,
                            At {
                                frame: meta.last_frame,
                                ts: meta.last_ts,
                            },
                            out,
                        );
                    }
                }
            }
        }
    }

    fn finish(&mut self, meta: &ConnMeta, out: &mut dyn Sink) -> ConnProto {
        self.close_http(meta, out);
        let at = At {
            frame: meta.last_frame,
            ts: meta.last_ts,
        };
        let layer = std::mem::take(&mut self.layer);
        match layer {
            Layer::Mqtt(mut m) => {
                let level = m.level();
                let issues = &mut self.issues;
                m.end(&mut |ev| mqtt_event(ev, out, issues, meta, at, "tcp", level));
                self.mqtt_summary = Some((m.summary(), "TCP"));
            }
            Layer::Ws(mut ws) => {
                if let Some(m) = ws.mqtt.as_mut() {
                    let level = m.level();
                    let issues = &mut self.issues;
                    m.end(&mut |ev| mqtt_event(ev, out, issues, meta, at, "websocket", level));
                    self.mqtt_summary = Some((m.summary(), "WebSocket"));
                }
            }
            _ => {}
        }
        if self.proto == Some("tls") {
            let sni = self.tls.as_ref().and_then(|t| t.sni.clone());
            let mut f = Finding::new(
                "tls_encrypted",
                Severity::Info,
                format!(
                    "encrypted connection (TLS) to {}{}: its contents cannot be seen",
                    meta.server,
                    sni.as_deref().map(|s| format!(" for \"{s}\"")).unwrap_or_default()
                ),
            )
            .stream(meta.stream)
            .hint("Only the server name (SNI), ALPN and port are visible. To see the WebSocket/MQTT inside, capture again with a TLS key log (SSLKEYLOGFILE on the client, or the broker's key log) and load it in Wireshark, or test against the plain port.");
            f.frames = vec![meta.first_frame];
            out.finding(&f);
        }
        self.issues.flush(meta, out);
        let mut summary = self.summary_lines();
        if let (Layer::Sniff, true) = (&self.layer, self.proto.is_none()) {
            summary.clear();
        }
        ConnProto {
            protocol: self.proto.unwrap_or("unknown"),
            sni: self.tls.as_ref().and_then(|t| t.sni.clone()),
            alpn: self.tls.as_ref().map(|t| t.alpn.clone()),
            summary,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs() {
        assert_eq!(sniff(b"GET /mqtt HTTP/1.1\r\n"), Sniff::HttpRequest);
        assert_eq!(sniff(b"GE"), Sniff::NeedMore);
        assert_eq!(sniff(b"HTTP/1.1 101"), Sniff::HttpResponse);
        assert_eq!(
            sniff(b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c"),
            Sniff::MqttConnect
        );
        assert_eq!(sniff(b"\x10\x0e\x00\x06MQIsdp\x03"), Sniff::MqttConnect);
        assert_eq!(sniff(b"\x10\x0c\x00\x04MQ"), Sniff::NeedMore);
        assert_eq!(sniff(b"\x16\x03\x01\x00\xa5\x01"), Sniff::TlsClientHello);
        assert_eq!(sniff(b"SSH-2.0-OpenSSH"), Sniff::Unknown);
        assert_eq!(sniff(b"\x30\x05\x00\x01tab\xc0\x00"), Sniff::Mqtt);
        // paho's wake-up socket pair: single b"0" (0x30) bytes. One is not
        // MQTT; 50 of them tile a "PUBLISH" of 48 bytes whose topic length
        // (0x3030) runs past its body: not MQTT either.
        assert_eq!(sniff(b"0"), Sniff::NeedMore);
        assert_eq!(sniff(&[b'0'; 50]), Sniff::Unknown);
        assert_eq!(sniff(&[b'0'; 81]), Sniff::Unknown);
        // implausible bodies: a PUBACK for packet id 0, a PUBLISH with an
        // empty topic and no alias, a SUBACK without return codes
        assert_eq!(sniff(b"\x40\x02\x00\x00"), Sniff::Unknown);
        assert_eq!(sniff(b"\x30\x04\x00\x00ab"), Sniff::Unknown);
        assert_eq!(sniff(b"\x90\x02\x00\x01"), Sniff::Unknown);
        // plausible ones, also split before their end
        assert_eq!(sniff(b"\x40\x02\x00\x07"), Sniff::Mqtt);
        assert_eq!(sniff(b"\x30\x0a\x00\x03a/b"), Sniff::NeedMore);
        assert_eq!(sniff(b"\xd0\x00"), Sniff::Mqtt);
        // a first packet longer than the sniffing head is not waited for
        let mut big = vec![0x30, 0xff, 0x7f, 0x00, 0x03];
        big.extend_from_slice(b"a/b");
        assert_eq!(sniff(&big), Sniff::Unknown);
        let all = b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c";
        for n in 0..all.len() {
            assert_ne!(sniff(&all[..n]), Sniff::Unknown, "prefix {n}");
        }
    }

    #[test]
    fn advantech_names() {
        assert_eq!(
            advantech_mac("WISE-4050_00D0C9E27959").as_deref(),
            Some("00:D0:C9:E2:79:59")
        );
        assert_eq!(advantech_mac("client-1"), None);
        assert_eq!(
            advantech_topic("Advantech/00D0C9E27959/data").as_deref(),
            Some("00:D0:C9:E2:79:59")
        );
        assert_eq!(advantech_topic("Advantech/xyz/data"), None);
    }
}
