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
//!
//! A TLS connection whose secrets are in the key log ([`Keys`]) is
//! decrypted; its plaintext feeds a nested stack, whose records carry a
//! copy of the connection's meta marked `decrypted`.

use crate::capture::Ts;
use crate::event::{
    ConnSummary, Layer as RecLayer, MqttFacts, Opening, Record, RecordSink, TunnelFacts, WsClose,
};
use crate::flow::{Chunk, ConnEnd, ConnMeta, Dir, Handler};
use crate::proto::handshake::{self, Outcome, UpgradeInfo};
use crate::proto::http::{self, BodyKind, BodySkipper, Head, HttpLimits, Request, Response};
use crate::proto::mqtt::{self, MqttConn, MqttLimits};
use crate::proto::server::identify_server;
use crate::proto::tls::conn::{Plain, SecretSource, TlsConn, TlsFacts, TlsLimits};
use crate::proto::tls::keylog::{DsbContent, DsbError, KeyLog, SessionSecrets};
use crate::proto::ws::{
    self, FrameEnd, FrameHeader, FrameSniff, Violation, WsDataSink, WsDirection, WsLimits,
};
use std::collections::VecDeque;
use std::sync::{Arc, RwLock};

/// The TLS secrets of one capture: the key log given by the user and the
/// secrets embedded in the file (pcapng Decryption Secrets Blocks, which
/// come before the packets they decrypt). Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Keys {
    given: Option<Arc<KeyLog>>,
    file: Arc<RwLock<KeyLog>>,
}

impl Keys {
    pub fn new(given: Option<Arc<KeyLog>>) -> Keys {
        Keys {
            given,
            file: Arc::default(),
        }
    }

    /// A Decryption Secrets Block's body (between its two length fields).
    pub fn add_dsb(&self, body: &[u8], big_endian: bool) -> Result<DsbContent, DsbError> {
        match self.file.write() {
            Ok(mut k) => k.add_dsb(body, big_endian),
            Err(_) => Ok(DsbContent::Other(0)),
        }
    }

    fn file_has_keys(&self) -> bool {
        self.file.read().is_ok_and(|k| !k.is_empty())
    }
}

impl SecretSource for Keys {
    fn given(&self) -> bool {
        self.given.is_some() || self.file_has_keys()
    }
    fn secrets(&self, client_random: &[u8; 32]) -> Option<SessionSecrets> {
        let own = self
            .file
            .read()
            .ok()
            .and_then(|k| k.get(client_random).copied());
        own.or_else(|| self.given.as_ref()?.get(client_random).copied())
    }
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
    /// WebSocket frames without a captured handshake (`masked`: the
    /// sender is the client).
    WebSocket {
        masked: bool,
    },
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
    let ws = sniff_websocket(b);
    if let Sniff::WebSocket { .. } = ws {
        return ws;
    }
    match mqtt_tiling(b) {
        Tiling::Whole => return Sniff::Mqtt,
        Tiling::NeedMore => return Sniff::NeedMore,
        Tiling::No => {}
    }
    if ws == Sniff::NeedMore {
        return ws;
    }
    Sniff::Unknown
}

/// Bytes of one direction held while its protocol is not decided yet
/// (waiting for the rest of a first MQTT packet, or for the other side to
/// speak). Reached, the direction is decided with what is known; bytes
/// beyond it are replayed as a gap of known length.
pub const SNIFF_HEAD_MAX: usize = 8 * 1024;

/// WebSocket frames carrying MQTT, in a capture that starts after the
/// handshake: two or more plausible frames in a row, or one whose payload
/// starts with a plausible MQTT packet.
fn sniff_websocket(b: &[u8]) -> Sniff {
    match ws::sniff_frames(b) {
        FrameSniff::NeedMore if b.len() < 16 => Sniff::NeedMore,
        FrameSniff::NeedMore | FrameSniff::No => Sniff::Unknown,
        FrameSniff::Frames {
            masked,
            frames,
            tiles,
            mask,
            payload_at,
            payload_len,
        } => {
            let mut p = b
                .get(payload_at..payload_at + payload_len.min(96))
                .unwrap_or(&[])
                .to_vec();
            if let Some(m) = mask {
                ws::unmask(&mut p, m, 0);
            }
            // MQTT inside is what makes a mid-stream WebSocket worth
            // decoding, and what keeps other binary protocols out.
            let mqtt = mqtt::plausible_start(&p);
            if mqtt == Some(true) && (frames >= 2 || tiles || frames == 0) {
                Sniff::WebSocket { masked }
            } else if mqtt.is_none() && b.len() < 16 {
                Sniff::NeedMore
            } else {
                Sniff::Unknown
            }
        }
    }
}

/// What a direction's first bytes are, for the connection's summary.
fn opening_of(b: &[u8]) -> Opening {
    match sniff(b) {
        Sniff::HttpRequest => Opening::HttpRequest,
        Sniff::HttpResponse => Opening::HttpResponse,
        Sniff::MqttConnect => Opening::MqttConnect,
        Sniff::Mqtt => Opening::Mqtt,
        Sniff::TlsClientHello => Opening::TlsClientHello,
        Sniff::Tls => Opening::TlsRecord {
            content_type: b.first().copied().unwrap_or(0),
        },
        Sniff::WebSocket { .. } => Opening::WebSocket,
        Sniff::Unknown | Sniff::NeedMore => match b.first() {
            Some(&t @ 0x14..=0x17) if b.get(1) == Some(&3) => {
                Opening::TlsRecord { content_type: t }
            }
            _ => Opening::Other,
        },
    }
}

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

/// What the protocol layers learnt of a connection besides its records.
#[derive(Default)]
struct Facts {
    mqtt: MqttFacts,
    ws_close: [Option<WsClose>; 2],
}

/// Report a protocol anomaly.
#[allow(clippy::too_many_arguments)]
fn anomaly(
    out: &mut dyn RecordSink,
    meta: &ConnMeta,
    layer: RecLayer,
    dir: Option<Dir>,
    frame: u64,
    code: &'static str,
    message: &str,
) {
    out.record(&Record::Anomaly {
        meta,
        layer,
        dir,
        frame,
        code,
        message,
    });
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
#[derive(Clone, Copy, Debug, Default)]
struct At {
    frame: u64,
    ts: Ts,
}

#[allow(clippy::too_many_arguments)]
fn mqtt_event(
    ev: mqtt::Event<'_>,
    out: &mut dyn RecordSink,
    facts: &mut Facts,
    meta: &ConnMeta,
    at: At,
    transport: &'static str,
    level: Option<u8>,
) {
    match ev {
        mqtt::Event::Packet(d, p) => {
            let dir = flow_dir(d);
            let m = &mut facts.mqtt;
            let here = (at.frame, at.ts);
            match p.msg_type {
                1 => {
                    m.connect.get_or_insert(here);
                }
                2 if m.connack.is_none() => {
                    m.connack = Some((at.frame, at.ts, p.reason_code().unwrap_or(0)));
                }
                14 => {
                    m.disconnect[dir.idx()].get_or_insert((
                        at.frame,
                        at.ts,
                        p.reason_code().unwrap_or(0),
                    ));
                }
                _ => {}
            }
            m.last_packet[dir.idx()] = Some(here);
            out.record(&Record::Mqtt {
                meta,
                dir,
                frame: at.frame,
                ts: at.ts,
                transport,
                level: level.or(p.level),
                p,
            });
        }
        mqtt::Event::Anomaly(d, a) => anomaly(
            out,
            meta,
            RecLayer::Mqtt,
            Some(flow_dir(d)),
            at.frame,
            a.code.as_str(),
            &a.message,
        ),
        mqtt::Event::Finding(f) => out.record(&Record::MqttSession {
            meta,
            frame: at.frame,
            f: &f,
        }),
    }
}

/// The WebSocket data sink of one direction: frames become records, data
/// goes to MQTT.
struct WsCtx<'a> {
    /// Recent pieces of this direction: (stream offset of their end, where
    /// they arrived).
    pieces: &'a VecDeque<(u64, At)>,
    out: &'a mut dyn RecordSink,
    meta: &'a ConnMeta,
    dir: Dir,
    at: At,
    mqtt: &'a mut Option<MqttConn>,
    /// Whether MQTT inside this WebSocket has been decided.
    decided: &'a mut bool,
    /// The handshake was not captured.
    midstream: bool,
    probe: &'a mut [Vec<u8>; 2],
    facts: &'a mut Facts,
    frames: &'a mut [u64; 2],
}

impl WsDataSink for WsCtx<'_> {
    fn at_offset(&mut self, end: u64) {
        if let Some((_, at)) = self.pieces.iter().find(|p| p.0 >= end) {
            self.at = *at;
        }
    }

    fn data(&mut self, bytes: &[u8]) {
        if !*self.decided && self.midstream {
            // Handshake not captured: MQTT if the first application bytes
            // (either way) hold a plausible MQTT packet start.
            let d = self.dir.idx();
            let prev = self.probe[d].len();
            let room = MIDSTREAM_PROBE.saturating_sub(prev);
            self.probe[d].extend_from_slice(bytes.get(..room.min(bytes.len())).unwrap_or(&[]));
            let found = (0..self.probe[d].len()).any(|i| {
                mqtt::plausible_start(self.probe[d].get(i..).unwrap_or(&[])) == Some(true)
            });
            if !found && self.probe[d].len() < MIDSTREAM_PROBE {
                return;
            }
            *self.decided = true;
            let mut probes = std::mem::take(self.probe);
            if !found {
                return;
            }
            probes[d].truncate(prev);
            let mut m = MqttConn::new(MqttLimits::default(), false);
            let (out, facts, meta, at) = (&mut *self.out, &mut *self.facts, self.meta, self.at);
            // What came before, the other direction first (it came earlier).
            for dir in [self.dir.rev(), self.dir] {
                let p = &probes[dir.idx()];
                if p.is_empty() {
                    continue;
                }
                let level = m.level();
                m.feed(mqtt_dir(dir), at.ts.as_f64(), p, &mut |ev| {
                    mqtt_event(ev, out, facts, meta, at, "websocket", level)
                });
            }
            *self.mqtt = Some(m);
        } else if !*self.decided && self.dir == Dir::C2S {
            // No MQTT subprotocol negotiated: MQTT if the client starts with
            // a CONNECT (one byte is enough: MQTT.js sends 1-byte frames).
            *self.decided = true;
            if bytes.first() == Some(&0x10) {
                *self.mqtt = Some(MqttConn::new(MqttLimits::default(), true));
            }
        }
        if let Some(m) = self.mqtt.as_mut() {
            let level = m.level();
            let (out, facts, meta, at) = (&mut *self.out, &mut *self.facts, self.meta, self.at);
            m.feed(mqtt_dir(self.dir), at.ts.as_f64(), bytes, &mut |ev| {
                mqtt_event(ev, out, facts, meta, at, "websocket", level)
            });
        }
    }
    fn frame(&mut self, h: &FrameHeader, end: &FrameEnd) {
        self.frames[self.dir.idx()] += 1;
        if h.opcode == ws::opcode::CLOSE && self.facts.ws_close[self.dir.idx()].is_none() {
            self.facts.ws_close[self.dir.idx()] = Some(WsClose {
                frame: self.at.frame,
                ts: self.at.ts,
                code: end.close_code,
                reason: end.close_reason.clone(),
            });
        }
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
        anomaly(
            self.out,
            self.meta,
            RecLayer::WebSocket,
            Some(self.dir),
            self.at.frame,
            v.code.as_str(),
            &v.message,
        );
    }
    fn data_gap(&mut self, len: Option<u64>) {
        if let Some(m) = self.mqtt.as_mut() {
            let level = m.level();
            let (out, facts, meta, at) = (&mut *self.out, &mut *self.facts, self.meta, self.at);
            let mut sink =
                |ev: mqtt::Event<'_>| mqtt_event(ev, out, facts, meta, at, "websocket", level);
            match len {
                Some(n) => m.gap(mqtt_dir(self.dir), n, &mut sink),
                None => m.lost(mqtt_dir(self.dir), &mut sink),
            }
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
    facts: &mut Facts,
    frames: &mut [u64; 2],
    out: &mut dyn RecordSink,
    meta: &ConnMeta,
    dir: Dir,
    at: At,
    advance: u64,
    f: impl FnOnce(&mut WsDirection, &mut WsCtx<'_>),
) {
    let Ws {
        dir: dirs,
        mqtt,
        decided_mqtt,
        midstream,
        probe,
        pieces,
        ..
    } = ws;
    // Where these bytes sit in the direction's stream, for events about
    // bytes fed earlier (a resynchronising decoder looks ahead).
    let end = dirs[dir.idx()].decoder().position().saturating_add(advance);
    let ring = &mut pieces[dir.idx()];
    if ring.len() >= MAX_PIECES {
        ring.pop_front();
    } else if ring.capacity() < MAX_PIECES {
        // Its whole room at once, not a doubling per piece of a new connection.
        ring.reserve_exact(MAX_PIECES - ring.len());
    }
    ring.push_back((end, at));
    let mut ctx = WsCtx {
        pieces: &pieces[dir.idx()],
        out,
        meta,
        dir,
        at,
        mqtt,
        decided: decided_mqtt,
        midstream: *midstream,
        probe,
        facts,
        frames,
    };
    f(&mut dirs[dir.idx()], &mut ctx);
}

struct Pending {
    req: Request,
    frame: u64,
    ts: Ts,
    upgrade: bool,
    /// A CONNECT: a 2xx answer turns the connection into a tunnel.
    connect: bool,
}

/// A rejected upgrade waiting for the end of its response body (the body
/// of an error page identifies the server).
struct Rejected {
    info: UpgradeInfo,
    body: Vec<u8>,
}

const MAX_PENDING: usize = 64;
/// Held pieces whose arrival frame is kept (later ones share the last).
const MAX_HELD_PIECES: usize = 64;
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
    /// 2xx to a CONNECT: what follows is the tunnel's own protocol.
    Tunnel {
        s2c: Vec<u8>,
        c2s: Vec<u8>,
    },
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
    /// Bytes after `head` that did not fit the hold.
    head_skipped: [u64; 2],
    /// Where the held pieces end in `head`, and where they arrived.
    head_at: [Vec<(usize, At)>; 2],
    layer: Layer,
    proto: Option<&'static str>,
    facts: Facts,
    /// What each direction opened with.
    opening: [Opening; 2],
    first_line: [Option<String>; 2],
    /// Where each direction's opening bytes arrived.
    opening_frame: [Option<u64>; 2],
    /// What the TLS analysis learnt (when the connection is TLS), at its end.
    tls_facts: Option<TlsFacts>,
    ws_frames: [u64; 2],
    http_counts: (u64, u64),
    mqtt_summary: Option<(mqtt::Summary, &'static str)>,
    /// A direction whose first bytes were not recognised.
    unknown_seen: [bool; 2],
    /// Frame of the last data chunk per direction.
    last_data_frame: [Option<u64>; 2],
    /// WebSocket recognised without its handshake.
    ws_midstream: bool,
    /// An HTTP CONNECT on this connection and the proxy's answer.
    tunnel: Option<TunnelFacts>,
    /// TLS secrets to decrypt with.
    keys: Option<Keys>,
    /// What a decrypted TLS connection carried (its nested stack's summary).
    inner_summary: Option<Box<ConnSummary>>,
}

#[derive(Default)]
enum Layer {
    #[default]
    Sniff,
    Http(Box<Http>),
    Ws(Box<Ws>),
    Mqtt(Box<MqttConn>),
    Tls(Box<TlsLayer>),
    Opaque,
}

/// A TLS connection, and the stack its decrypted bytes feed.
struct TlsLayer {
    conn: TlsConn,
    inner: Option<Box<Stack>>,
    /// The connection's meta as the inner layers see it (`decrypted`).
    inner_meta: Option<Box<ConnMeta>>,
}

impl TlsLayer {
    fn new(keys: Option<&Keys>) -> TlsLayer {
        let conn = match keys {
            Some(k) => TlsConn::with_keys(TlsLimits::default(), Box::new(k.clone())),
            None => TlsConn::default(),
        };
        TlsLayer {
            conn,
            inner: None,
            inner_meta: None,
        }
    }

    fn feed(&mut self, meta: &ConnMeta, dir: Dir, bytes: &[u8], at: At, out: &mut dyn RecordSink) {
        let TlsLayer {
            conn,
            inner,
            inner_meta,
        } = self;
        conn.feed_with(dir.idx(), bytes, at.frame, at.ts.as_f64(), &mut |p| {
            let (d, chunk) = match p {
                Plain::Data { dir, bytes } => (
                    dir,
                    Chunk::Data {
                        bytes,
                        frame: at.frame,
                        ts: at.ts,
                    },
                ),
                Plain::Lost { dir, len } => (
                    dir,
                    Chunk::Gap {
                        len,
                        frame: at.frame,
                        ts: at.ts,
                    },
                ),
            };
            if inner.is_none() && matches!(chunk, Chunk::Gap { .. }) {
                return;
            }
            let im = inner_meta.get_or_insert_with(|| {
                let mut m = Box::new(meta.clone());
                m.decrypted = true;
                m
            });
            im.last_frame = meta.last_frame;
            im.last_ts = meta.last_ts;
            let st = inner.get_or_insert_with(Box::default);
            let dir = if d == 0 { Dir::C2S } else { Dir::S2C };
            Handler::<dyn RecordSink>::chunk(&mut **st, im, dir, chunk, out);
        });
    }

    fn gap(&mut self, dir: Dir, len: u64, at: At, out: &mut dyn RecordSink) {
        self.conn.gap(dir.idx());
        if let (Some(st), Some(im)) = (self.inner.as_mut(), self.inner_meta.as_mut()) {
            let chunk = Chunk::Gap {
                len,
                frame: at.frame,
                ts: at.ts,
            };
            Handler::<dyn RecordSink>::chunk(&mut **st, im, dir, chunk, out);
        }
    }
}

struct Ws {
    dir: [WsDirection; 2],
    mqtt: Option<MqttConn>,
    decided_mqtt: bool,
    /// The 101 was invalid: if the next data is HTTP, the switch never happened.
    probation: bool,
    /// The handshake was not captured.
    midstream: bool,
    /// Mid-stream: the first application bytes of each direction, until
    /// MQTT inside is decided.
    probe: [Vec<u8>; 2],
    /// Recent pieces fed per direction (see `WsCtx::pieces`).
    pieces: [VecDeque<(u64, At)>; 2],
}

/// Pieces remembered per WebSocket direction for frame attribution.
const MAX_PIECES: usize = 32;

/// Application bytes looked at to recognise MQTT inside a WebSocket whose
/// handshake was not captured.
const MIDSTREAM_PROBE: usize = 96;

impl Stack {
    /// A stack that decrypts TLS with `keys`.
    pub fn with_keys(keys: Keys) -> Stack {
        Stack {
            keys: Some(keys),
            ..Stack::default()
        }
    }

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
                    Sniff::HttpRequest
                        | Sniff::MqttConnect
                        | Sniff::TlsClientHello
                        | Sniff::WebSocket { masked: true },
                    Dir::S2C
                ) | (
                    Sniff::HttpResponse | Sniff::WebSocket { masked: false },
                    Dir::C2S
                )
            );
            if wrong {
                meta.swap_roles();
                self.head.swap(0, 1);
                self.head_at.swap(0, 1);
                self.head_skipped.swap(0, 1);
                self.unknown_seen.swap(0, 1);
                self.opening.swap(0, 1);
                self.first_line.swap(0, 1);
                self.opening_frame.swap(0, 1);
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
            Sniff::TlsClientHello | Sniff::Tls => (
                "tls",
                Layer::Tls(Box::new(TlsLayer::new(self.keys.as_ref()))),
            ),
            // Client frames are masked: frames the other way round are not
            // WebSocket (or come from a broken peer): left undecoded.
            Sniff::WebSocket { masked } if masked == (dir == Dir::C2S) => {
                self.ws_midstream = true;
                let lim = WsLimits::default();
                // The direction recognised starts on a frame; the other is
                // found by scanning.
                let starts_on_frame = |d: Dir| {
                    d == dir
                        || matches!(
                            ws::sniff_frames(&self.head[d.idx()]),
                            FrameSniff::Frames { masked, .. } if masked == (d == Dir::C2S)
                        )
                };
                let mut dirs = [
                    WsDirection::midstream(true, lim, starts_on_frame(Dir::C2S)),
                    WsDirection::midstream(false, lim, starts_on_frame(Dir::S2C)),
                ];
                for d in &mut dirs {
                    d.set_payload_probe(mqtt::plausible_start);
                }
                (
                    "websocket",
                    Layer::Ws(Box::new(Ws {
                        dir: dirs,
                        mqtt: None,
                        decided_mqtt: false,
                        probation: false,
                        midstream: true,
                        probe: Default::default(),
                        pieces: Default::default(),
                    })),
                )
            }
            _ => ("unknown", Layer::Opaque),
        };
        self.proto = Some(proto);
        self.layer = layer;
        dir
    }

    /// What a direction opens with (the connection's, or a tunnel's).
    fn note_opening(&mut self, dir: Dir, bytes: &[u8], at: At) {
        let d = dir.idx();
        if self.opening_frame[d].is_some() || bytes.is_empty() {
            return;
        }
        self.opening_frame[d] = Some(at.frame);
        let o = opening_of(bytes);
        self.opening[d] = o;
        if matches!(o, Opening::HttpRequest | Opening::HttpResponse) {
            let line = bytes
                .split(|&b| b == b'\r' || b == b'\n')
                .next()
                .unwrap_or(&[]);
            let line = line.get(..line.len().min(120)).unwrap_or(&[]);
            self.first_line[d] = Some(crate::proto::lossy(line).into_owned());
        }
    }

    fn data(
        &mut self,
        meta: &mut ConnMeta,
        dir: Dir,
        bytes: &[u8],
        at: At,
        out: &mut dyn RecordSink,
    ) {
        self.note_opening(dir, bytes, at);
        if let Layer::Sniff = self.layer {
            let d = dir.idx();
            let held = !self.head[d].is_empty() || self.head_skipped[d] > 0;
            if held {
                self.hold(d, bytes, at);
            }
            let mut s = sniff(if held { &self.head[d] } else { bytes });
            if s == Sniff::Unknown {
                let other_seen = !self.head[1 - d].is_empty() || self.unknown_seen[1 - d];
                if is_mqtt_port(meta) {
                    // Last resort for a capture that starts inside MQTT.
                    s = Sniff::Mqtt;
                } else if !other_seen && self.head[d].len() < SNIFF_HEAD_MAX {
                    // Let the other direction speak before giving up
                    // (holding at most SNIFF_HEAD_MAX bytes).
                    self.unknown_seen[d] = true;
                    if !held {
                        self.hold(d, bytes, at);
                    }
                    return;
                }
            }
            if s == Sniff::NeedMore
                && self.head[d].len() + if held { 0 } else { bytes.len() } < SNIFF_HEAD_MAX
            {
                if !held {
                    self.hold(d, bytes, at);
                }
                return;
            }
            let dir2 = self.decide(meta, dir, s);
            // Replay what was held, client side first; bytes that did not
            // fit the hold are a gap of known length.
            let heads = std::mem::take(&mut self.head);
            let pieces = std::mem::take(&mut self.head_at);
            let skipped = std::mem::take(&mut self.head_skipped);
            for d in [Dir::C2S, Dir::S2C] {
                let h = &heads[d.idx()];
                if !h.is_empty() {
                    self.replay(meta, d, h, &pieces[d.idx()], at, out);
                }
                if skipped[d.idx()] > 0 {
                    self.layer_gap(meta, d, skipped[d.idx()], at, out);
                }
            }
            if !held {
                self.layer_data(meta, dir2, bytes, at, out);
            }
            return;
        }
        self.layer_data(meta, dir, bytes, at, out);
    }

    /// `len` bytes of `dir` are missing: every layer carries the gap on.
    fn layer_gap(&mut self, meta: &ConnMeta, dir: Dir, len: u64, at: At, out: &mut dyn RecordSink) {
        match &mut self.layer {
            Layer::Tls(t) => t.gap(dir, len, at, out),
            Layer::Sniff | Layer::Opaque => {}
            Layer::Mqtt(m) => {
                let level = m.level();
                let facts = &mut self.facts;
                m.gap(mqtt_dir(dir), len, &mut |ev| {
                    mqtt_event(ev, out, facts, meta, at, "tcp", level)
                });
            }
            Layer::Ws(ws) => {
                with_ws_dir(
                    ws,
                    &mut self.facts,
                    &mut self.ws_frames,
                    out,
                    meta,
                    dir,
                    at,
                    len,
                    |d, ctx| {
                        d.gap(len, ctx);
                    },
                );
            }
            Layer::Http(h) => {
                // HTTP cannot find its way back into a byte stream.
                h.dead[dir.idx()] = true;
                h.buf[dir.idx()] = Vec::new();
                let m = format!(
                    "{} HTTP data missing from the capture; that direction was not decoded further",
                    dir.as_str()
                );
                anomaly(
                    out,
                    meta,
                    RecLayer::Http,
                    Some(dir),
                    at.frame,
                    "http_gap",
                    &m,
                );
            }
        }
    }

    /// Keep a direction's first bytes while the protocol is undecided (at
    /// most [`SNIFF_HEAD_MAX`]; what does not fit is counted and replayed as a
    /// gap).
    fn hold(&mut self, d: usize, bytes: &[u8], at: At) {
        let room = SNIFF_HEAD_MAX.saturating_sub(self.head[d].len());
        if self.head_skipped[d] > 0 || room == 0 {
            self.head_skipped[d] = self.head_skipped[d].saturating_add(bytes.len() as u64);
            return;
        }
        let take = room.min(bytes.len());
        self.head[d].extend_from_slice(&bytes[..take]);
        // Where each held piece arrived, so that replayed records keep it.
        if self.head_at[d].len() < MAX_HELD_PIECES {
            self.head_at[d].push((self.head[d].len(), at));
        } else if let Some(last) = self.head_at[d].last_mut() {
            *last = (self.head[d].len(), at);
        }
        self.head_skipped[d] = (bytes.len() - take) as u64;
    }

    /// Replay what a direction held, piece by piece at the frames where the
    /// pieces arrived.
    fn replay(
        &mut self,
        meta: &mut ConnMeta,
        d: Dir,
        head: &[u8],
        pieces: &[(usize, At)],
        at: At,
        out: &mut dyn RecordSink,
    ) {
        let mut from = 0usize;
        for &(end, pat) in pieces {
            if let Some(piece) = head.get(from..end) {
                if !piece.is_empty() {
                    self.layer_data(meta, d, piece, pat, out);
                }
            }
            from = end;
        }
        if let Some(rest) = head.get(from..).filter(|r| !r.is_empty()) {
            self.layer_data(meta, d, rest, at, out);
        }
    }

    fn layer_data(
        &mut self,
        meta: &mut ConnMeta,
        dir: Dir,
        bytes: &[u8],
        at: At,
        out: &mut dyn RecordSink,
    ) {
        match &mut self.layer {
            Layer::Sniff | Layer::Opaque => {}
            Layer::Tls(t) => t.feed(meta, dir, bytes, at, out),
            Layer::Mqtt(m) => {
                let level = m.level();
                let facts = &mut self.facts;
                m.feed(mqtt_dir(dir), at.ts.as_f64(), bytes, &mut |ev| {
                    mqtt_event(ev, out, facts, meta, at, "tcp", level)
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
                    &mut self.facts,
                    &mut self.ws_frames,
                    out,
                    meta,
                    dir,
                    at,
                    bytes.len() as u64,
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

    fn apply(&mut self, meta: &mut ConnMeta, next: HttpNext, at: At, out: &mut dyn RecordSink) {
        match next {
            HttpNext::Stay => {}
            HttpNext::Opaque => {
                self.take_http_counts();
                self.layer = Layer::Opaque;
            }
            HttpNext::Tunnel { s2c, c2s } => {
                self.take_http_counts();
                self.layer = Layer::Sniff;
                self.proto = None;
                // What each side opens the tunnel with is what counts now.
                self.opening = Default::default();
                self.first_line = Default::default();
                self.opening_frame = [None; 2];
                // The client speaks first in a tunnel (TLS, HTTP, MQTT).
                if !c2s.is_empty() {
                    self.data(meta, Dir::C2S, &c2s, at, out);
                }
                if !s2c.is_empty() {
                    self.data(meta, Dir::S2C, &s2c, at, out);
                }
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
                let mut dirs = [
                    WsDirection::new(true, deflate, lim),
                    WsDirection::new(false, deflate, lim),
                ];
                if is_mqtt && deflate.is_none() {
                    // After a gap, resynchronise on frames that start an MQTT packet.
                    for d in &mut dirs {
                        d.set_payload_probe(mqtt::plausible_start);
                    }
                }
                self.layer = Layer::Ws(Box::new(Ws {
                    dir: dirs,
                    // MQTT when negotiated or offered; else decided by the
                    // client's first data (see `WsCtx::data`).
                    mqtt: is_mqtt.then_some(mq),
                    decided_mqtt: is_mqtt,
                    probation: info.handshake.outcome == Outcome::Invalid,
                    midstream: false,
                    probe: Default::default(),
                    pieces: Default::default(),
                }));
                self.proto = Some("websocket");
                // Its record comes before the first frame's.
                out.upgrade(meta, *info);
                if !s2c.is_empty() {
                    self.ws_data(meta, Dir::S2C, &s2c, at, out);
                }
                if !c2s.is_empty() {
                    self.ws_data(meta, Dir::C2S, &c2s, at, out);
                }
            }
        }
    }

    fn ws_data(
        &mut self,
        meta: &mut ConnMeta,
        dir: Dir,
        bytes: &[u8],
        at: At,
        out: &mut dyn RecordSink,
    ) {
        self.layer_data(meta, dir, bytes, at, out);
    }

    fn take_http_counts(&mut self) {
        if let Layer::Http(h) = &self.layer {
            self.http_counts = (h.requests, h.responses);
        }
    }

    fn http_data(
        &mut self,
        meta: &mut ConnMeta,
        dir: Dir,
        bytes: &[u8],
        at: At,
        out: &mut dyn RecordSink,
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
                    let m = e.to_string();
                    anomaly(out, meta, RecLayer::Http, Some(dir), at.frame, e.code(), &m);
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
                    let m = format!("{} HTTP stream not decoded further: {e}", dir.as_str());
                    anomaly(out, meta, RecLayer::Http, Some(dir), at.frame, e.code(), &m);
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
                        Ok(req) => self.on_request(meta, req, at, out),
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
        out: &mut dyn RecordSink,
    ) -> HttpNext {
        if bytes.is_empty() {
            return HttpNext::Stay;
        }
        self.http_data(meta, dir, &bytes, at, out)
    }

    fn on_request(&mut self, meta: &ConnMeta, req: Request, at: At, out: &mut dyn RecordSink) {
        let Layer::Http(h) = &mut self.layer else {
            return;
        };
        h.requests += 1;
        out.record(&Record::HttpRequest {
            meta,
            frame: at.frame,
            ts: at.ts,
            req: &req,
        });
        let info = http::body_info_request(&req);
        for p in &info.problems {
            let m = p.to_string();
            anomaly(
                out,
                meta,
                RecLayer::Http,
                Some(Dir::C2S),
                at.frame,
                p.code(),
                &m,
            );
        }
        let Layer::Http(h) = &mut self.layer else {
            return;
        };
        if !matches!(info.kind, BodyKind::None) {
            h.body[0] = Some(BodySkipper::new(info.kind));
        }
        let upgrade = req.headers.get("upgrade").is_some();
        let connect = req.method.eq_ignore_ascii_case("CONNECT");
        if (upgrade || connect) && matches!(info.kind, BodyKind::None) {
            h.hold = Some(Vec::new());
        }
        if h.pending.len() >= MAX_PENDING {
            h.pending.pop_front();
        }
        h.pending.push_back(Pending {
            req,
            frame: at.frame,
            ts: at.ts,
            upgrade,
            connect,
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
        out: &mut dyn RecordSink,
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
        if p.connect {
            let ok = (200..300).contains(&resp.status);
            let held = h.hold.take().unwrap_or_default();
            let t = TunnelFacts {
                target: p.req.uri.clone(),
                request_frame: p.frame,
                response_frame: at.frame,
                status: resp.status,
                reason: resp.reason.clone(),
                proxy: resp
                    .headers
                    .get("server")
                    .or_else(|| resp.headers.get("proxy-agent"))
                    .map(str::to_string),
                auth_asked: resp.headers.get("proxy-authenticate").map(str::to_string),
                auth_sent: p.req.headers.get("proxy-authorization").is_some(),
                answer_secs: (at.ts.as_f64() - p.ts.as_f64()).max(0.0),
                proxy_error: resp.headers.get("x-squid-error").map(str::to_string),
            };
            out.record(&Record::Tunnel { meta, t: &t });
            self.tunnel = Some(t);
            if ok {
                // The tunnel's bytes are a new connection: sniffed afresh.
                let s2c = std::mem::take(rest);
                return Some(HttpNext::Tunnel { s2c, c2s: held });
            }
            if !matches!(bi.kind, BodyKind::None) {
                h.body[1] = Some(BodySkipper::new(bi.kind));
            }
            if !held.is_empty() {
                let next = self.http_data_owned(meta, Dir::C2S, held, at, out);
                if !matches!(next, HttpNext::Stay) {
                    return Some(next);
                }
            }
            return None;
        }
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
            request_ts: p.ts.as_f64(),
            response_frame: Some(at.frame),
            websocket,
            server: identify_server(&resp, &[]),
            handshake: hs,
            request: p.req,
            response: Some(resp),
            body: Vec::new(),
            page_text: Vec::new(),
        };
        if info.response.as_ref().is_some_and(|r| r.status == 101) {
            let held = h.hold.take().unwrap_or_default();
            if !websocket {
                info.handshake.outcome = Outcome::Accepted;
                out.upgrade(meta, info);
                return Some(HttpNext::Opaque);
            }
            // Emitted by `apply` once the WebSocket layer is set up from it.
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

    fn finish_rejected(&mut self, meta: &ConnMeta, r: Rejected, out: &mut dyn RecordSink) {
        let mut info = r.info;
        if let Some(resp) = &info.response {
            info.server = identify_server(resp, &r.body);
        }
        if out.wants_page_text(meta.stream) {
            info.page_text = handshake::page_text(&r.body);
        }
        // A copy of the excerpt: the page's buffer is up to 8 KiB, and the
        // diagnosis keeps the Upgrade until the connection is reported.
        info.body = r
            .body
            .get(..handshake::BODY_EXCERPT)
            .unwrap_or(&r.body)
            .to_vec();
        out.upgrade(meta, info);
    }

    /// End every layer and say what the connection carried.
    fn conclude(&mut self, meta: &ConnMeta, out: &mut dyn RecordSink) -> ConnSummary {
        self.close_http(meta, out);
        let at = At {
            frame: meta.last_frame,
            ts: meta.last_ts,
        };
        let layer = std::mem::take(&mut self.layer);
        let facts = &mut self.facts;
        match layer {
            Layer::Mqtt(mut m) => {
                let level = m.level();
                m.end(&mut |ev| mqtt_event(ev, out, facts, meta, at, "tcp", level));
                self.mqtt_summary = Some((m.summary(), "TCP"));
            }
            Layer::Ws(mut ws) => {
                if let Some(m) = ws.mqtt.as_mut() {
                    let level = m.level();
                    m.end(&mut |ev| mqtt_event(ev, out, facts, meta, at, "websocket", level));
                    self.mqtt_summary = Some((m.summary(), "WebSocket"));
                }
            }
            Layer::Tls(t) => {
                let TlsLayer {
                    conn,
                    inner,
                    inner_meta,
                } = *t;
                if let (Some(mut st), Some(mut im)) = (inner, inner_meta) {
                    // The inner layers end as the connection does.
                    *im = ConnMeta {
                        decrypted: true,
                        ..meta.clone()
                    };
                    self.inner_summary = Some(Box::new(st.conclude(&im, out)));
                }
                self.tls_facts = Some(conn.into_facts());
            }
            _ => {}
        }
        let facts = std::mem::take(&mut self.facts);
        let mqtt = self.mqtt_summary.take().map(|(s, transport)| {
            Box::new(MqttFacts {
                transport: if transport == "TCP" {
                    "tcp"
                } else {
                    "websocket"
                },
                summary: s,
                ..facts.mqtt
            })
        });
        let s = ConnSummary {
            protocol: self.proto.unwrap_or("unknown"),
            sni: self
                .tls_facts
                .as_ref()
                .and_then(|t| t.client_hello.as_ref())
                .and_then(|c| c.sni.clone()),
            alpn: self
                .tls_facts
                .as_ref()
                .and_then(|t| t.client_hello.as_ref())
                .map(|c| c.alpn.clone()),
            tls: self.tls_facts.take().map(Box::new),
            tunnel: self.tunnel.take(),
            websocket_midstream: self.ws_midstream,
            opening: self.opening,
            decrypted_opening: None,
            first_line: std::mem::take(&mut self.first_line),
            opening_frame: self.opening_frame,
            http: self.http_counts,
            ws_frames: self.ws_frames,
            ws_close: facts.ws_close,
            mqtt,
            summary: Vec::new(),
        };
        match self.inner_summary.take() {
            Some(inner) => merge_decrypted(s, *inner),
            None => s,
        }
    }

    /// The connection is over: report upgrades still waiting.
    fn close_http(&mut self, meta: &ConnMeta, out: &mut dyn RecordSink) {
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
                request_ts: p.ts.as_f64(),
                response_frame: None,
                websocket,
                server: None,
                handshake: hs,
                request: p.req,
                response: None,
                body: Vec::new(),
                page_text: Vec::new(),
            };
            out.upgrade(meta, info);
        }
    }
}

/// A decrypted TLS connection: what went through it (its protocol, HTTP,
/// WebSocket and MQTT facts) with the TLS facts and how it opened.
fn merge_decrypted(outer: ConnSummary, inner: ConnSummary) -> ConnSummary {
    ConnSummary {
        protocol: if inner.protocol == "unknown" {
            outer.protocol
        } else {
            inner.protocol
        },
        sni: outer.sni,
        alpn: outer.alpn,
        tls: outer.tls,
        tunnel: outer.tunnel,
        opening: outer.opening,
        decrypted_opening: Some(inner.opening),
        first_line: outer.first_line,
        opening_frame: outer.opening_frame,
        ..inner
    }
}

impl<'a> Handler<dyn RecordSink + 'a> for Stack {
    fn chunk(
        &mut self,
        meta: &mut ConnMeta,
        dir: Dir,
        chunk: Chunk<'_>,
        out: &mut (dyn RecordSink + 'a),
    ) {
        match chunk {
            Chunk::Data { bytes, frame, ts } => {
                self.last_data_frame[dir.idx()] = Some(frame);
                let before = meta.client;
                self.data(meta, dir, bytes, At { frame, ts }, out);
                if meta.client != before {
                    // The first data showed the roles the other way round.
                    self.opening.swap(0, 1);
                    self.first_line.swap(0, 1);
                    self.opening_frame.swap(0, 1);
                    self.last_data_frame.swap(0, 1);
                }
            }
            Chunk::Gap { len, frame, ts } => {
                if let Layer::Sniff = self.layer {
                    // Sniff without the lost bytes: what follows is mid-stream.
                    self.head[dir.idx()].clear();
                    self.head_at[dir.idx()].clear();
                    self.head_skipped[dir.idx()] = 0;
                } else {
                    self.layer_gap(meta, dir, len, At { frame, ts }, out);
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

    fn done(&self) -> bool {
        // Both directions' first bytes are noted (the diagnosis reads them).
        let opened = self.opening_frame.iter().all(Option::is_some);
        match &self.layer {
            Layer::Opaque => opened,
            Layer::Tls(t) => opened && t.inner.is_none() && t.conn.done(),
            _ => false,
        }
    }

    fn finish(&mut self, meta: &ConnMeta, out: &mut (dyn RecordSink + 'a)) {
        let s = self.conclude(meta, out);
        out.summary(meta, s);
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
}
