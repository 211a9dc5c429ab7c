//! Per-connection stream reassembly and session tracking.

use foldhash::HashMap;
use std::borrow::Cow;

use super::decode::{self, parse_fixed_header, plausible_at, FixedHeader, Plausible};
use super::names::{any_reason_name, connack_return_code_meaning, prop};
use super::{msg, msg_name, Anomaly, AnomalyCode, Body, Dir, MqttLimits, Packet};
use crate::Severity;

/// Something the caller should record. Borrowed data lives only for the
/// duration of the sink call.
#[derive(Debug)]
pub enum Event<'e> {
    /// A complete packet (topic aliases resolved). Its `anomalies` carry the
    /// per-packet problems.
    Packet(Dir, &'e Packet<'e>),
    /// Stream-level trouble (resync, gap, truncated packet, bad header).
    Anomaly(Dir, Anomaly),
    /// Session-level finding.
    Finding(SessionFinding),
}

/// Session-level finding (protocol flow rather than bytes).
#[derive(Debug, Clone, PartialEq)]
pub struct SessionFinding {
    /// What was found; [`FindingCode::as_str`] is the stable snake_case id,
    /// e.g. `mqtt_connect_refused`.
    pub code: FindingCode,
    /// How serious it is (fixed per code, except
    /// [`FindingCode::ServerDisconnect`] and the "N more" summary finding).
    pub severity: Severity,
    /// Human-readable detail; wording may change.
    pub message: String,
    /// Direction of the packet the finding is about, if any.
    pub dir: Option<Dir>,
    /// Stream offset of that packet, if any.
    pub offset: Option<u64>,
    /// Timestamp (seconds) of that packet, if any.
    pub ts: Option<f64>,
    /// Packet Identifier of that packet, when it carries one.
    pub packet_id: Option<u16>,
    /// Return / reason code of that packet, when it carries one (for
    /// [`FindingCode::SubackFailure`]: the refused subscription's code).
    pub reason_code: Option<u8>,
}

/// Stable code of a [`SessionFinding`]; [`FindingCode::as_str`] is the
/// snake_case text used in reports (never changes for a given code).
///
/// When one code is raised more than [`MqttLimits::max_findings_per_code`]
/// times, [`MqttConn::end`] adds one more finding of that code with
/// [`Severity::Info`], no packet fields, and the number not listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum FindingCode {
    /// `mqtt_connack_missing` (warning): the connection's start was captured,
    /// a CONNECT was sent and no CONNACK came back by the end.
    ConnackMissing,
    /// `mqtt_connect_missing` (error): the connection's start was captured
    /// and the client's first packet is not CONNECT (3.1.1 §3.1, 5.0 §3.1).
    ConnectMissing,
    /// `mqtt_connect_refused` (error): CONNACK refuses the connection (3.x
    /// return code other than 0, MQTT 5 reason code 0x80 or above).
    ConnectRefused,
    /// `mqtt_keepalive_exceeded` (warning): the client was silent for more
    /// than 1.5 times the keep alive (3.1.1 §3.1.2.10, 5.0 §3.1.2.10),
    /// between two packets or at the end of the capture (unless it sent
    /// DISCONNECT).
    KeepaliveExceeded,
    /// `mqtt_packet_before_connack` (info): the client sent another packet
    /// before the CONNACK arrived; allowed, but lost if the connection is
    /// refused. Raised once per connection.
    PacketBeforeConnack,
    /// `mqtt_qos_flow_incomplete` (warning): at the end, a QoS 1 or 2
    /// PUBLISH still waits for its PUBACK / PUBREC / PUBREL / PUBCOMP.
    QosFlowIncomplete,
    /// `mqtt_second_connect` (error): a second CONNECT on the same
    /// connection (a protocol violation: 3.1.1 §3.1.0, 5.0 §3.1).
    SecondConnect,
    /// `mqtt_server_disconnect` (info, or warning for an MQTT 5 reason code
    /// of 0x80 or above or before MQTT 5 where it is not allowed): the
    /// server sent DISCONNECT.
    ServerDisconnect,
    /// `mqtt_suback_failure` (warning): SUBACK refuses one subscription
    /// (return / reason code 0x80 or above); one finding per refused filter.
    SubackFailure,
}

impl FindingCode {
    /// Every code, in the order of their text (which is also the order of
    /// the enum's `Ord`).
    ///
    /// ```
    /// use wsdoctor_proto::mqtt::FindingCode;
    /// assert!(FindingCode::ALL.windows(2).all(|w| w[0].as_str() < w[1].as_str()));
    /// assert!(FindingCode::ALL.windows(2).all(|w| w[0] < w[1]));
    /// ```
    pub const ALL: &'static [FindingCode] = &[
        FindingCode::ConnackMissing,
        FindingCode::ConnectMissing,
        FindingCode::ConnectRefused,
        FindingCode::KeepaliveExceeded,
        FindingCode::PacketBeforeConnack,
        FindingCode::QosFlowIncomplete,
        FindingCode::SecondConnect,
        FindingCode::ServerDisconnect,
        FindingCode::SubackFailure,
    ];

    /// The stable snake_case code, e.g. `"mqtt_connect_refused"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            FindingCode::ConnackMissing => "mqtt_connack_missing",
            FindingCode::ConnectMissing => "mqtt_connect_missing",
            FindingCode::ConnectRefused => "mqtt_connect_refused",
            FindingCode::KeepaliveExceeded => "mqtt_keepalive_exceeded",
            FindingCode::PacketBeforeConnack => "mqtt_packet_before_connack",
            FindingCode::QosFlowIncomplete => "mqtt_qos_flow_incomplete",
            FindingCode::SecondConnect => "mqtt_second_connect",
            FindingCode::ServerDisconnect => "mqtt_server_disconnect",
            FindingCode::SubackFailure => "mqtt_suback_failure",
        }
    }
}

impl std::fmt::Display for FindingCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for FindingCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<str> for FindingCode {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

/// Distinct PUBLISH topic with its count (see [`MqttLimits::max_summary_topics`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicCount {
    /// Effective topic (after Topic Alias resolution; empty when unresolved).
    pub topic: String,
    /// Direction the PUBLISH packets went.
    pub dir: Dir,
    /// Number of PUBLISH packets with this topic in this direction.
    pub count: u64,
}

/// QoS flow completion counts (both publishing directions together).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlowCounts {
    /// QoS 1 flows completed (PUBLISH answered by PUBACK).
    pub qos1_completed: u64,
    /// QoS 2 flows completed (PUBLISH, PUBREC, PUBREL, PUBCOMP).
    pub qos2_completed: u64,
    /// QoS 2 flows ended by a PUBREC with a failure reason code (MQTT 5).
    pub qos2_refused: u64,
    /// QoS 1 flows still open now (or at end).
    pub qos1_incomplete: u64,
    /// QoS 2 flows still open now (or at end).
    pub qos2_incomplete: u64,
    /// PUBACK/PUBREC/PUBREL/PUBCOMP whose PUBLISH was not seen.
    pub unmatched_acks: u64,
}

/// Summary of a connection for the text report ([`MqttConn::summary`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Client Identifier of the last CONNECT (or the MQTT 5 Assigned Client
    /// Identifier when that was empty); None without a CONNECT.
    pub client_id: Option<String>,
    /// Protocol name of the last CONNECT; None without a CONNECT.
    pub protocol_name: Option<String>,
    /// Protocol level (3, 4 or 5), when known or inferred.
    pub level: Option<u8>,
    /// True when `level` was inferred (from the packets or a hint) rather
    /// than read from a CONNECT.
    pub level_inferred: bool,
    /// Keep alive in seconds (last CONNECT, overridden by an MQTT 5 Server
    /// Keep Alive); None without a CONNECT.
    pub keep_alive: Option<u16>,
    /// Return / reason code of the last CONNACK seen; None without one.
    pub connack_code: Option<u8>,
    /// Client-to-server packet counts indexed by packet type (0..=15).
    pub counts_c2s: [u64; 16],
    /// Server-to-client packet counts indexed by packet type (0..=15).
    pub counts_s2c: [u64; 16],
    /// Client-to-server bytes fed.
    pub bytes_c2s: u64,
    /// Server-to-client bytes fed.
    pub bytes_s2c: u64,
    /// Client-to-server stream-level plus per-packet anomalies.
    pub anomalies_c2s: u64,
    /// Server-to-client stream-level plus per-packet anomalies.
    pub anomalies_s2c: u64,
    /// Distinct PUBLISH topics, in order of first appearance.
    pub topics: Vec<TopicCount>,
    /// More distinct topics were seen than `max_summary_topics`.
    pub topics_truncated: bool,
    /// QoS flow counts.
    pub flows: FlowCounts,
    /// Session findings raised (including those not emitted individually).
    pub findings: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::enum_variant_names)]
enum Stage {
    AwaitPuback,
    AwaitPubrec,
    AwaitPubrel,
    AwaitPubcomp,
}

#[derive(Debug, Clone)]
struct Flow {
    qos: u8,
    stage: Stage,
    ts: f64,
    offset: u64,
}

#[derive(Debug, Clone)]
struct Resync {
    skipped: u64,
    reason: &'static str,
}

#[derive(Debug, Default)]
struct DirState {
    /// Stream offset of the first byte not yet consumed (= offset of buf[0]).
    consumed: u64,
    /// Incomplete packet (normal mode) or probe tail (resync mode).
    buf: Vec<u8>,
    peak_buf: usize,
    /// Bytes of an oversize packet still to discard.
    skip: u64,
    /// Bytes of the packet in `buf` counted but not held: the payload of a
    /// large PUBLISH past its first [`PUBLISH_PAYLOAD_HELD`] bytes.
    tail: u64,
    resync: Option<Resync>,
    aliases: HashMap<u16, String>,
    alias_bytes: usize,
    alias_overflow_reported: bool,
    counts: [u64; 16],
    bytes: u64,
    anomalies: u64,
}

impl DirState {
    /// Bytes of the current packet seen so far: held and counted.
    fn have(&self) -> usize {
        self.buf
            .len()
            .saturating_add(usize::try_from(self.tail).unwrap_or(usize::MAX))
    }

    /// [`Self::have`], when the packet is given up: nothing stays counted.
    fn take_have(&mut self) -> u64 {
        (self.buf.len() as u64).saturating_add(std::mem::take(&mut self.tail))
    }
}

/// Largest resync probe tail kept between chunks.
const MAX_PROBE_TAIL: usize = 256;
/// Buffer capacity kept after a packet (a larger buffer is freed).
const KEEP_CAPACITY: usize = 64 * 1024;

/// Payload bytes of a large PUBLISH held to decode it (with its variable
/// header); the rest is counted, not buffered, so memory does not grow with
/// the packets' size. The reports show at most the first few hundred bytes.
pub const PUBLISH_PAYLOAD_HELD: usize = 64 * 1024;

/// Where the payload of a PUBLISH starts in its body (after the topic, the
/// packet identifier when QoS > 0, and the MQTT 5 properties), once the
/// length fields are in `body`; the payload itself need not be.
fn publish_payload_start(body: &[u8], qos: u8, v5: bool) -> Option<usize> {
    let topic = usize::from(u16::from_be_bytes([*body.first()?, *body.get(1)?]));
    let mut pos = topic.checked_add(2)?;
    if qos > 0 {
        pos = pos.checked_add(2)?;
    }
    if v5 {
        // The properties length is a varint like the Remaining Length: read
        // by the same parser, from the byte before it (its "first byte").
        let FixedHeader::Complete {
            header_len,
            remaining_len,
        } = parse_fixed_header(body.get(pos.checked_sub(1)?..)?)
        else {
            return None;
        };
        return pos
            .checked_add(usize::from(header_len).checked_sub(1)?)?
            .checked_add(usize::try_from(remaining_len).ok()?);
    }
    Some(pos)
}

/// A packet's body as held: all of it, or the start of a large PUBLISH and
/// the number of bytes after it that were counted, not held.
struct Held<'a> {
    body: &'a [u8],
    untaken: u64,
}

/// Room for `more` bytes of a packet of `total` bytes. Once the bytes held
/// would outgrow the buffer, it goes straight to the packet's size, so a large
/// packet is copied once rather than at every doubling; but never beyond four
/// times the bytes held, so a length field alone allocates little.
fn reserve_packet(buf: &mut Vec<u8>, total: usize, more: usize) {
    let after = buf.len().saturating_add(more);
    if after <= buf.capacity() {
        return;
    }
    let want = total.min(after.saturating_mul(4)).max(after);
    buf.reserve_exact(want.saturating_sub(buf.len()));
}

/// One MQTT connection: two byte streams plus shared session state.
#[derive(Debug)]
pub struct MqttConn {
    limits: MqttLimits,
    start_seen: bool,
    level: Option<u8>,
    level_inferred: bool,
    votes: [u32; 2],
    protocol_name: Option<String>,
    client_id: Option<String>,
    keep_alive: Option<u16>,
    connects: u32,
    connack_code: Option<u8>,
    saw_c2s_packet: bool,
    before_connack_reported: bool,
    client_disconnected: bool,
    dirs: [DirState; 2],
    /// In-flight QoS 1/2 flows, indexed by the publishing direction.
    inflight: [HashMap<u16, Flow>; 2],
    pending_subs: HashMap<u16, Vec<String>>,
    last_c2s_ts: Option<f64>,
    last_ts: Option<f64>,
    finding_counts: HashMap<FindingCode, u64>,
    findings: u64,
    topics: Vec<TopicCount>,
    topics_truncated: bool,
    flows: FlowCounts,
    ended: bool,
}

fn add(a: &mut u64, n: u64) {
    *a = a.saturating_add(n);
}

impl MqttConn {
    /// `start_seen`: the capture contains the start of the connection (TCP
    /// SYN / WebSocket upgrade). Without it both streams start in resync mode
    /// (a plausible packet start is looked for; nothing is reported when the
    /// first byte already is one) and flow findings that need the start are
    /// not raised.
    pub fn new(limits: MqttLimits, start_seen: bool) -> Self {
        let mut c = MqttConn {
            limits,
            start_seen,
            level: None,
            level_inferred: false,
            votes: [0; 2],
            protocol_name: None,
            client_id: None,
            keep_alive: None,
            connects: 0,
            connack_code: None,
            saw_c2s_packet: false,
            before_connack_reported: false,
            client_disconnected: false,
            dirs: [DirState::default(), DirState::default()],
            inflight: [HashMap::default(), HashMap::default()],
            pending_subs: HashMap::default(),
            last_c2s_ts: None,
            last_ts: None,
            finding_counts: HashMap::default(),
            findings: 0,
            topics: Vec::new(),
            topics_truncated: false,
            flows: FlowCounts::default(),
            ended: false,
        };
        if !start_seen {
            for st in &mut c.dirs {
                st.resync = Some(Resync {
                    skipped: 0,
                    reason: "capture starts mid-stream",
                });
            }
        }
        c
    }

    /// Protocol level hint from outside (e.g. WebSocket subprotocol). Treated
    /// as inferred; a CONNECT overrides it.
    pub fn set_level_hint(&mut self, level: u8) {
        if self.level.is_none() || self.level_inferred {
            self.level = Some(level);
            self.level_inferred = true;
        }
    }

    /// Current protocol level (3, 4, 5) if known or inferred.
    pub fn level(&self) -> Option<u8> {
        self.level
    }

    /// True when [`MqttConn::level`] was inferred (from the packets' layout
    /// or [`MqttConn::set_level_hint`]) rather than read from a CONNECT.
    pub fn level_inferred(&self) -> bool {
        self.level_inferred
    }

    /// Bytes currently buffered for `dir` (incomplete packet or probe tail).
    pub fn buffered_bytes(&self, dir: Dir) -> usize {
        self.dir(dir).buf.len()
    }

    /// Largest number of bytes ever buffered for `dir`.
    pub fn peak_buffered_bytes(&self, dir: Dir) -> usize {
        self.dir(dir).peak_buf
    }

    /// Stream offset of the next byte expected in `dir`.
    pub fn stream_offset(&self, dir: Dir) -> u64 {
        let st = self.dir(dir);
        st.consumed
            .saturating_add(st.buf.len() as u64)
            .saturating_add(st.tail)
            .saturating_add(st.skip)
    }

    fn dir(&self, dir: Dir) -> &DirState {
        match dir {
            Dir::C2S => &self.dirs[0],
            Dir::S2C => &self.dirs[1],
        }
    }

    fn dir_mut(&mut self, dir: Dir) -> &mut DirState {
        match dir {
            Dir::C2S => &mut self.dirs[0],
            Dir::S2C => &mut self.dirs[1],
        }
    }

    fn flows_mut(&mut self, publisher: Dir) -> &mut HashMap<u16, Flow> {
        match publisher {
            Dir::C2S => &mut self.inflight[0],
            Dir::S2C => &mut self.inflight[1],
        }
    }

    fn stream_anomaly(
        &mut self,
        dir: Dir,
        code: AnomalyCode,
        message: String,
        offset: u64,
        sink: &mut dyn FnMut(Event<'_>),
    ) {
        add(&mut self.dir_mut(dir).anomalies, 1);
        sink(Event::Anomaly(
            dir,
            Anomaly {
                code,
                message,
                offset,
            },
        ));
    }

    /// Next bytes of `dir`'s stream, captured at `ts` (seconds). Events for
    /// every packet completed by these bytes are emitted before it returns.
    pub fn feed(&mut self, dir: Dir, ts: f64, data: &[u8], sink: &mut dyn FnMut(Event<'_>)) {
        if ts.is_finite() {
            self.last_ts = Some(self.last_ts.map_or(ts, |l| l.max(ts)));
        }
        add(&mut self.dir_mut(dir).bytes, data.len() as u64);
        let mut input = data;
        while !input.is_empty() {
            input = self.step(dir, ts, input, sink);
        }
        let st = self.dir_mut(dir);
        st.peak_buf = st.peak_buf.max(st.buf.len());
    }

    fn step<'i>(
        &mut self,
        dir: Dir,
        ts: f64,
        input: &'i [u8],
        sink: &mut dyn FnMut(Event<'_>),
    ) -> &'i [u8] {
        let max_packet = u64::from(self.limits.max_packet_bytes);
        let st = self.dir_mut(dir);
        if st.skip > 0 {
            let n = usize::try_from(st.skip)
                .unwrap_or(usize::MAX)
                .min(input.len());
            st.skip = st.skip.saturating_sub(n as u64);
            add(&mut st.consumed, n as u64);
            return input.get(n..).unwrap_or(&[]);
        }
        if st.resync.is_some() {
            return self.resync_step(dir, input, sink);
        }
        if !st.buf.is_empty() {
            return self.buffered_step(dir, ts, input, sink);
        }
        let Some(&b0) = input.first() else {
            return input;
        };
        match parse_fixed_header(input) {
            FixedHeader::Incomplete => {
                st.buf.extend_from_slice(input);
                st.peak_buf = st.peak_buf.max(st.buf.len());
                &[]
            }
            FixedHeader::Invalid => {
                self.bad_start(dir, b0, true, sink);
                input.get(1..).unwrap_or(&[])
            }
            FixedHeader::Complete {
                header_len,
                remaining_len,
            } => {
                if b0 >> 4 == 0 {
                    self.bad_start(dir, b0, false, sink);
                    return input.get(1..).unwrap_or(&[]);
                }
                let hl = usize::from(header_len);
                let total = u64::from(header_len).saturating_add(u64::from(remaining_len));
                if total > max_packet {
                    self.oversize(dir, b0, header_len, remaining_len, sink);
                    self.dir_mut(dir).skip = total;
                    return input;
                }
                let total = usize::try_from(total).unwrap_or(usize::MAX);
                match (input.get(hl..total), input.get(total..)) {
                    (Some(body), Some(rest)) => {
                        self.deliver(dir, ts, b0, header_len, Held { body, untaken: 0 }, sink);
                        add(&mut self.dir_mut(dir).consumed, total as u64);
                        rest
                    }
                    _ => {
                        let st = self.dir_mut(dir);
                        reserve_packet(&mut st.buf, total, input.len());
                        st.buf.extend_from_slice(input);
                        st.peak_buf = st.peak_buf.max(st.buf.len());
                        &[]
                    }
                }
            }
        }
    }

    /// First byte of a would-be packet is unusable (type 0 or a Remaining
    /// Length of 5+ bytes): report, drop the byte, resynchronise.
    fn bad_start(&mut self, dir: Dir, b0: u8, rl_invalid: bool, sink: &mut dyn FnMut(Event<'_>)) {
        let off = self.dir(dir).consumed;
        if rl_invalid {
            self.stream_anomaly(
                dir,
                AnomalyCode::RemainingLengthInvalid,
                format!(
                    "{} (0x{b0:02x}) Remaining Length uses more than 4 bytes; packet boundary lost",
                    msg_name(b0 >> 4)
                ),
                off,
                sink,
            );
        } else {
            self.stream_anomaly(
                dir,
                AnomalyCode::ReservedType,
                format!("first byte 0x{b0:02x} has reserved packet type 0; packet boundary lost"),
                off,
                sink,
            );
        }
        let st = self.dir_mut(dir);
        add(&mut st.consumed, 1);
        st.resync = Some(Resync {
            skipped: 1,
            reason: if rl_invalid {
                "invalid Remaining Length"
            } else {
                "reserved packet type"
            },
        });
    }

    fn oversize(
        &mut self,
        dir: Dir,
        b0: u8,
        header_len: u8,
        remaining_len: u32,
        sink: &mut dyn FnMut(Event<'_>),
    ) {
        let offset = self.dir(dir).consumed;
        let msg_type = b0 >> 4;
        let pkt = Packet {
            msg_type,
            flags: b0 & 0x0F,
            remaining_len,
            offset,
            header_len,
            level: self.level,
            body: Body::Skipped,
            anomalies: vec![Anomaly {
                code: AnomalyCode::PacketTooLarge,
                message: format!(
                    "{} with Remaining Length {remaining_len} exceeds the {}-byte limit; skipped",
                    msg_name(msg_type),
                    self.limits.max_packet_bytes
                ),
                offset,
            }],
        };
        let st = self.dir_mut(dir);
        add(&mut st.anomalies, 1);
        if let Some(c) = st.counts.get_mut(usize::from(msg_type)) {
            add(c, 1);
        }
        sink(Event::Packet(dir, &pkt));
    }

    fn buffered_step<'i>(
        &mut self,
        dir: Dir,
        ts: f64,
        mut input: &'i [u8],
        sink: &mut dyn FnMut(Event<'_>),
    ) -> &'i [u8] {
        let max_packet = u64::from(self.limits.max_packet_bytes);
        let known_level = self.level.filter(|_| !self.level_inferred);
        let st = self.dir_mut(dir);
        let (hl, rl) = loop {
            match parse_fixed_header(&st.buf) {
                FixedHeader::Incomplete => {
                    let Some((&b, rest)) = input.split_first() else {
                        return input;
                    };
                    st.buf.push(b);
                    input = rest;
                }
                FixedHeader::Invalid => {
                    let b0 = st.buf.first().copied().unwrap_or(0);
                    st.buf.remove(0);
                    self.bad_start(dir, b0, true, sink);
                    return input;
                }
                FixedHeader::Complete {
                    header_len,
                    remaining_len,
                } => break (header_len, remaining_len),
            }
        };
        let b0 = st.buf.first().copied().unwrap_or(0);
        if b0 >> 4 == 0 {
            st.buf.remove(0);
            self.bad_start(dir, b0, false, sink);
            return input;
        }
        let total = u64::from(hl).saturating_add(u64::from(rl));
        if total > max_packet {
            self.oversize(dir, b0, hl, rl, sink);
            let st = self.dir_mut(dir);
            let have = st.buf.len() as u64;
            st.skip = total.saturating_sub(have);
            add(&mut st.consumed, have);
            st.buf.clear();
            return input;
        }
        let total = usize::try_from(total).unwrap_or(usize::MAX);
        // A large PUBLISH on a connection whose level its CONNECT set: held
        // up to its variable header and the first payload bytes.
        let hold_limit = match known_level {
            Some(level) if b0 >> 4 == msg::PUBLISH => st
                .buf
                .get(usize::from(hl)..)
                .and_then(|body| publish_payload_start(body, (b0 >> 1) & 3, level >= 5))
                .and_then(|start| start.checked_add(usize::from(hl)))
                .and_then(|start| start.checked_add(PUBLISH_PAYLOAD_HELD))
                .filter(|&limit| limit < total),
            _ => None,
        };
        let need = total.saturating_sub(st.have());
        let take = need.min(input.len());
        let hold = match hold_limit {
            Some(limit) => take.min(limit.saturating_sub(st.buf.len())),
            None => take,
        };
        reserve_packet(&mut st.buf, hold_limit.unwrap_or(total), hold);
        st.buf.extend_from_slice(input.get(..hold).unwrap_or(&[]));
        add(&mut st.tail, take.saturating_sub(hold) as u64);
        st.peak_buf = st.peak_buf.max(st.buf.len());
        input = input.get(take..).unwrap_or(&[]);
        if st.have() >= total {
            let mut buf = std::mem::take(&mut st.buf);
            let untaken = std::mem::take(&mut st.tail);
            self.deliver(
                dir,
                ts,
                b0,
                hl,
                Held {
                    body: buf.get(usize::from(hl)..).unwrap_or(&[]),
                    untaken,
                },
                sink,
            );
            buf.clear();
            if buf.capacity() > KEEP_CAPACITY {
                // Given back whole: shrinking would copy the kept part.
                buf = Vec::new();
            }
            let st = self.dir_mut(dir);
            add(&mut st.consumed, total as u64);
            st.buf = buf;
        }
        input
    }

    fn resync_found(&mut self, dir: Dir, sink: &mut dyn FnMut(Event<'_>)) {
        let st = self.dir_mut(dir);
        let Some(r) = st.resync.take() else { return };
        let off = st.consumed;
        if r.skipped > 0 || r.reason != "capture starts mid-stream" {
            self.stream_anomaly(
                dir,
                AnomalyCode::Resync,
                format!(
                    "resynchronised at a plausible packet start after skipping {} bytes ({})",
                    r.skipped, r.reason
                ),
                off,
                sink,
            );
        }
    }

    fn resync_step<'i>(
        &mut self,
        dir: Dir,
        input: &'i [u8],
        sink: &mut dyn FnMut(Event<'_>),
    ) -> &'i [u8] {
        let level = self.level;
        let limits = self.limits.clone();
        let st = self.dir_mut(dir);
        let tail_len = st.buf.len();
        let peek = input.get(..input.len().min(MAX_PROBE_TAIL)).unwrap_or(&[]);
        for i in 0..tail_len {
            let mut probe: Vec<u8> = st.buf.get(i..).unwrap_or(&[]).to_vec();
            probe.extend_from_slice(peek);
            let p = plausible_at(&probe, level, &limits);
            let p = if p == Plausible::NeedMore && probe.len() >= MAX_PROBE_TAIL {
                Plausible::No
            } else {
                p
            };
            match p {
                Plausible::No => {}
                Plausible::Yes => {
                    st.buf.drain(..i);
                    add(&mut st.consumed, i as u64);
                    if let Some(r) = st.resync.as_mut() {
                        add(&mut r.skipped, i as u64);
                    }
                    self.resync_found(dir, sink);
                    return input;
                }
                Plausible::NeedMore => {
                    st.buf.drain(..i);
                    add(&mut st.consumed, i as u64);
                    if let Some(r) = st.resync.as_mut() {
                        add(&mut r.skipped, i as u64);
                    }
                    st.buf.extend_from_slice(input);
                    st.peak_buf = st.peak_buf.max(st.buf.len());
                    return &[];
                }
            }
        }
        add(&mut st.consumed, tail_len as u64);
        if let Some(r) = st.resync.as_mut() {
            add(&mut r.skipped, tail_len as u64);
        }
        st.buf.clear();
        for j in 0..input.len() {
            let rest = input.get(j..).unwrap_or(&[]);
            let p = plausible_at(rest, level, &limits);
            let p = if p == Plausible::NeedMore && rest.len() >= MAX_PROBE_TAIL {
                Plausible::No
            } else {
                p
            };
            match p {
                Plausible::No => {}
                Plausible::Yes | Plausible::NeedMore => {
                    add(&mut st.consumed, j as u64);
                    if let Some(r) = st.resync.as_mut() {
                        add(&mut r.skipped, j as u64);
                    }
                    if p == Plausible::NeedMore {
                        st.buf.extend_from_slice(rest);
                        st.peak_buf = st.peak_buf.max(st.buf.len());
                        return &[];
                    }
                    self.resync_found(dir, sink);
                    return rest;
                }
            }
        }
        add(&mut st.consumed, input.len() as u64);
        if let Some(r) = st.resync.as_mut() {
            add(&mut r.skipped, input.len() as u64);
        }
        &[]
    }

    /// `len` bytes of `dir`'s stream were lost (capture gap). The partial
    /// packet, if any, is reported and dropped; when the gap ends inside a
    /// packet of known length the stream continues at its end, otherwise the
    /// decoder resynchronises on the next plausible fixed header.
    pub fn gap(&mut self, dir: Dir, len: u64, sink: &mut dyn FnMut(Event<'_>)) {
        if len == 0 {
            return;
        }
        let at = self.stream_offset(dir);
        self.stream_anomaly(
            dir,
            AnomalyCode::Gap,
            format!("{len} bytes missing from the capture at stream offset {at}"),
            at,
            sink,
        );
        let max_packet = u64::from(self.limits.max_packet_bytes);
        let st = self.dir_mut(dir);
        let mut len = len;
        if st.skip > 0 {
            let n = st.skip.min(len);
            st.skip = st.skip.saturating_sub(n);
            add(&mut st.consumed, n);
            len = len.saturating_sub(n);
            if len == 0 {
                return;
            }
        }
        if let Some(r) = st.resync.as_mut() {
            let tail = st.buf.len() as u64;
            add(&mut r.skipped, tail.saturating_add(len));
            add(&mut st.consumed, tail.saturating_add(len));
            st.buf.clear();
            return;
        }
        let mut resync = true;
        if !st.buf.is_empty() {
            let have = st.take_have();
            let b0 = st.buf.first().copied().unwrap_or(0);
            let off = st.consumed;
            let total = match parse_fixed_header(&st.buf) {
                FixedHeader::Complete {
                    header_len,
                    remaining_len,
                } => Some(u64::from(header_len).saturating_add(u64::from(remaining_len))),
                _ => None,
            };
            let msg = match total {
                Some(t) => format!(
                    "{} at offset {off}: {have} of {t} bytes captured, rest lost in a gap; dropped",
                    msg_name(b0 >> 4)
                ),
                None => format!(
                    "partial fixed header ({have} bytes) at offset {off} lost in a gap; dropped"
                ),
            };
            st.buf.clear();
            add(&mut st.consumed, have);
            if let Some(t) = total.filter(|t| *t <= max_packet) {
                let need = t.saturating_sub(have);
                if len <= need {
                    st.skip = need.saturating_sub(len);
                    add(&mut st.consumed, len);
                    len = 0;
                    resync = false;
                } else {
                    add(&mut st.consumed, need);
                    len = len.saturating_sub(need);
                }
            }
            self.stream_anomaly(dir, AnomalyCode::TruncatedPacket, msg, off, sink);
        }
        if resync {
            let st = self.dir_mut(dir);
            add(&mut st.consumed, len);
            st.resync = Some(Resync {
                skipped: 0,
                reason: "after a capture gap",
            });
        }
    }

    /// An unknown number of bytes of `dir`'s stream were lost (a hole inside
    /// compressed WebSocket data, lost WebSocket framing): the partial packet,
    /// if any, is reported and dropped, and the decoder resynchronises on the
    /// next plausible fixed header.
    pub fn lost(&mut self, dir: Dir, sink: &mut dyn FnMut(Event<'_>)) {
        let at = self.stream_offset(dir);
        self.stream_anomaly(
            dir,
            AnomalyCode::Gap,
            format!("bytes of unknown length missing from the stream at offset {at}"),
            at,
            sink,
        );
        let st = self.dir_mut(dir);
        let have = st.take_have();
        let off = st.consumed;
        let in_resync = st.resync.is_some();
        st.skip = 0;
        st.buf.clear();
        add(&mut st.consumed, have);
        if let Some(r) = st.resync.as_mut() {
            add(&mut r.skipped, have);
        } else {
            st.resync = Some(Resync {
                skipped: 0,
                reason: "after a capture gap",
            });
        }
        if have > 0 && !in_resync {
            self.stream_anomaly(
                dir,
                AnomalyCode::TruncatedPacket,
                format!("partial packet ({have} bytes) at offset {off} lost in a gap; dropped"),
                off,
                sink,
            );
        }
    }

    /// End of the connection (or of the capture): report incomplete packets
    /// and the session state left open. Idempotent.
    pub fn end(&mut self, sink: &mut dyn FnMut(Event<'_>)) {
        if self.ended {
            return;
        }
        self.ended = true;
        for dir in [Dir::C2S, Dir::S2C] {
            let st = self.dir_mut(dir);
            let off = st.consumed;
            let have = st.take_have();
            let skip = st.skip;
            let resync = st.resync.take();
            let b0 = st.buf.first().copied();
            let hdr = parse_fixed_header(&st.buf);
            st.buf.clear();
            st.skip = 0;
            if let Some(r) = resync {
                let skipped = r.skipped.saturating_add(have);
                if skipped > 0 {
                    self.stream_anomaly(
                        dir,
                        AnomalyCode::Resync,
                        format!(
                            "stream ended while resynchronising ({}); {skipped} bytes skipped",
                            r.reason
                        ),
                        off,
                        sink,
                    );
                }
            } else if skip > 0 {
                self.stream_anomaly(
                    dir,
                    AnomalyCode::TruncatedPacket,
                    format!("stream ended {skip} bytes before the end of an oversize packet"),
                    off,
                    sink,
                );
            } else if let Some(b0) = b0 {
                let msg = match hdr {
                    FixedHeader::Complete {
                        header_len,
                        remaining_len,
                    } => format!(
                        "{} at offset {off}: only {have} of {} bytes captured",
                        msg_name(b0 >> 4),
                        u64::from(header_len).saturating_add(u64::from(remaining_len))
                    ),
                    _ => format!("stream ended inside a fixed header ({have} bytes)"),
                };
                self.stream_anomaly(dir, AnomalyCode::TruncatedPacket, msg, off, sink);
            }
        }
        // Keep-alive at the end of the capture.
        if let (Some(ka), Some(last_c2s), Some(last)) =
            (self.keep_alive, self.last_c2s_ts, self.last_ts)
        {
            let silence = last - last_c2s;
            if ka > 0 && !self.client_disconnected && silence > 1.5 * f64::from(ka) {
                self.finding(
                    SessionFinding {
                        code: FindingCode::KeepaliveExceeded,
                        severity: Severity::Warning,
                        message: format!(
                            "no client packet for the last {silence:.1}s of the capture (keep alive {ka}s, limit 1.5x)"
                        ),
                        dir: Some(Dir::C2S),
                        offset: None,
                        ts: Some(last),
                        packet_id: None,
                        reason_code: None,
                    },
                    sink,
                );
            }
        }
        if self.start_seen && self.connects > 0 && self.connack_code.is_none() {
            self.finding(
                SessionFinding {
                    code: FindingCode::ConnackMissing,
                    severity: Severity::Warning,
                    message: "CONNECT was never answered with a CONNACK".to_string(),
                    dir: Some(Dir::S2C),
                    offset: None,
                    ts: None,
                    packet_id: None,
                    reason_code: None,
                },
                sink,
            );
        }
        for publisher in [Dir::C2S, Dir::S2C] {
            let mut open: Vec<(u16, Flow)> = self.flows_mut(publisher).drain().collect();
            open.sort_by_key(|(_, f)| f.offset);
            for (pid, f) in open {
                let missing = match f.stage {
                    Stage::AwaitPuback => "PUBACK",
                    Stage::AwaitPubrec => "PUBREC",
                    Stage::AwaitPubrel => "PUBREL",
                    Stage::AwaitPubcomp => "PUBCOMP",
                };
                if f.qos == 1 {
                    add(&mut self.flows.qos1_incomplete, 1);
                } else {
                    add(&mut self.flows.qos2_incomplete, 1);
                }
                self.finding(
                    SessionFinding {
                        code: FindingCode::QosFlowIncomplete,
                        severity: Severity::Warning,
                        message: format!(
                            "QoS {} PUBLISH {} packet id {pid} at offset {}: no {missing} by the end",
                            f.qos,
                            publisher.as_str(),
                            f.offset
                        ),
                        dir: Some(publisher),
                        offset: Some(f.offset),
                        ts: Some(f.ts),
                        packet_id: Some(pid),
                        reason_code: None,
                    },
                    sink,
                );
            }
        }
        // Aggregate suppressed findings.
        let mut over: Vec<(FindingCode, u64)> = self
            .finding_counts
            .iter()
            .filter(|(_, n)| **n > self.limits.max_findings_per_code as u64)
            .map(|(c, n)| {
                (
                    *c,
                    n.saturating_sub(self.limits.max_findings_per_code as u64),
                )
            })
            .collect();
        // by code text, as reports list them (codes are unique here)
        over.sort_by_key(|(c, _)| c.as_str());
        for (code, n) in over {
            sink(Event::Finding(SessionFinding {
                code,
                severity: Severity::Info,
                message: format!("{n} more {code} findings not listed individually"),
                dir: None,
                offset: None,
                ts: None,
                packet_id: None,
                reason_code: None,
            }));
        }
    }

    fn finding(&mut self, f: SessionFinding, sink: &mut dyn FnMut(Event<'_>)) {
        let n = self.finding_counts.entry(f.code).or_insert(0);
        *n = n.saturating_add(1);
        add(&mut self.findings, 1);
        if *n <= self.limits.max_findings_per_code as u64 {
            sink(Event::Finding(f));
        }
    }

    fn vote(&mut self, evidence: u8) {
        let i = usize::from(evidence >= 5);
        if let Some(v) = self.votes.get_mut(i) {
            *v = v.saturating_add(1);
        }
        if self.level.is_none() || self.level_inferred {
            let l = if self.votes[1] > self.votes[0] { 5 } else { 4 };
            self.level = Some(l);
            self.level_inferred = true;
        }
    }

    fn deliver(
        &mut self,
        dir: Dir,
        ts: f64,
        b0: u8,
        header_len: u8,
        held: Held<'_>,
        sink: &mut dyn FnMut(Event<'_>),
    ) {
        let Held { body, untaken } = held;
        let offset = self.dir(dir).consumed;
        let msg_type = b0 >> 4;
        let (mut pkt, evidence) = if self.level_inferred || self.level.is_none() {
            // Only definitive when set by a CONNECT.
            let (p, ev) = decode::decode_at(b0, body, None, &self.limits, offset, header_len);
            if let Some(e) = ev.filter(|_| msg_type != msg::CONNECT) {
                self.vote(e);
            }
            // Re-decode with the (possibly just inferred) level when it differs.
            match (self.level, p.level) {
                (Some(l), Some(pl))
                    if msg_type != msg::CONNECT && (l >= 5) != (pl >= 5) && ev.is_none() =>
                {
                    (
                        decode::decode_at(b0, body, Some(l), &self.limits, offset, header_len).0,
                        ev,
                    )
                }
                _ => (p, ev),
            }
        } else {
            decode::decode_at(b0, body, self.level, &self.limits, offset, header_len)
        };
        let _ = evidence;
        if untaken > 0 {
            // Only the start of a large PUBLISH was held (see buffered_step).
            let whole = (body.len() as u64).saturating_add(untaken);
            pkt.remaining_len = u32::try_from(whole).unwrap_or(u32::MAX);
            if let Body::Publish(p) = &mut pkt.body {
                p.payload_len = p.payload_len.saturating_add(untaken);
            }
        }
        if let Body::Connect(c) = &pkt.body {
            if dir == Dir::C2S && !c.protocol_name.is_empty() {
                self.level = Some(c.level & 0x7F);
                self.level_inferred = false;
            }
        }
        self.resolve_alias(dir, &mut pkt);
        let st = self.dir_mut(dir);
        add(&mut st.anomalies, pkt.anomalies.len() as u64);
        if let Some(c) = st.counts.get_mut(usize::from(msg_type)) {
            add(c, 1);
        }
        sink(Event::Packet(dir, &pkt));
        self.session(dir, ts, &pkt, sink);
    }

    fn resolve_alias(&mut self, dir: Dir, pkt: &mut Packet<'_>) {
        let max_aliases = self.limits.max_topic_aliases;
        let max_bytes = self.limits.max_alias_topic_bytes;
        let offset = pkt.offset;
        let st = self.dir_mut(dir);
        let Body::Publish(p) = &mut pkt.body else {
            return;
        };
        let Some(alias) = p.topic_alias.filter(|a| *a != 0) else {
            return;
        };
        if !p.topic.is_empty() {
            let old = st.aliases.get(&alias).map_or(0, String::len);
            let new_bytes = st
                .alias_bytes
                .saturating_sub(old)
                .saturating_add(p.topic.len());
            let fits = (st.aliases.contains_key(&alias) || st.aliases.len() < max_aliases)
                && new_bytes <= max_bytes;
            if fits {
                st.aliases.insert(alias, p.topic.to_string());
                st.alias_bytes = new_bytes;
            } else if !st.alias_overflow_reported {
                st.alias_overflow_reported = true;
                pkt.anomalies.push(Anomaly {
                    code: AnomalyCode::LimitExceeded,
                    message: format!(
                        "topic alias table limit reached ({max_aliases} aliases / {max_bytes} bytes); alias {alias} not remembered"
                    ),
                    offset,
                });
            }
        } else if let Some(t) = st.aliases.get(&alias) {
            p.topic = Cow::Owned(t.clone());
            p.topic_from_alias = true;
        } else {
            pkt.anomalies.push(Anomaly {
                code: AnomalyCode::UnknownTopicAlias,
                message: format!(
                    "Topic Alias {alias} used but its topic was not seen in this capture"
                ),
                offset,
            });
        }
    }

    fn session(&mut self, dir: Dir, ts: f64, pkt: &Packet<'_>, sink: &mut dyn FnMut(Event<'_>)) {
        let mk = |code: FindingCode, severity: Severity, message: String| SessionFinding {
            code,
            severity,
            message,
            dir: Some(dir),
            offset: Some(pkt.offset),
            ts: Some(ts),
            packet_id: pkt.packet_id(),
            reason_code: pkt.reason_code(),
        };
        let v5 = self.level == Some(5);
        if dir == Dir::C2S {
            if !self.saw_c2s_packet {
                self.saw_c2s_packet = true;
                if self.start_seen && pkt.msg_type != msg::CONNECT {
                    self.finding(
                        mk(
                            FindingCode::ConnectMissing,
                            Severity::Error,
                            format!("first client packet is {}, not CONNECT", pkt.msg_name()),
                        ),
                        sink,
                    );
                }
            }
            if pkt.msg_type != msg::CONNECT
                && self.start_seen
                && self.connects > 0
                && self.connack_code.is_none()
                && !self.before_connack_reported
            {
                self.before_connack_reported = true;
                self.finding(
                    mk(
                        FindingCode::PacketBeforeConnack,
                        Severity::Info,
                        format!(
                            "client sent {} before receiving CONNACK (allowed, but lost if the connection is refused)",
                            pkt.msg_name()
                        ),
                    ),
                    sink,
                );
            }
            if let (Some(ka), Some(last)) = (self.keep_alive, self.last_c2s_ts) {
                let silence = ts - last;
                if ka > 0 && silence > 1.5 * f64::from(ka) {
                    self.finding(
                        mk(
                            FindingCode::KeepaliveExceeded,
                            Severity::Warning,
                            format!(
                                "{silence:.1}s without client packets before this {} (keep alive {ka}s, limit 1.5x)",
                                pkt.msg_name()
                            ),
                        ),
                        sink,
                    );
                }
            }
            if ts.is_finite() {
                self.last_c2s_ts = Some(ts);
            }
        }
        match &pkt.body {
            Body::Connect(c) if dir == Dir::C2S => {
                self.connects = self.connects.saturating_add(1);
                if self.connects > 1 {
                    self.finding(
                        mk(
                            FindingCode::SecondConnect,
                            Severity::Error,
                            "second CONNECT on the same connection (protocol violation)"
                                .to_string(),
                        ),
                        sink,
                    );
                }
                self.protocol_name = Some(c.protocol_name.to_string());
                self.client_id = c.client_id.as_ref().map(|s| s.to_string());
                self.keep_alive = Some(c.keep_alive);
                self.client_disconnected = false;
            }
            Body::Connack(c) if dir == Dir::S2C => {
                self.connack_code = Some(c.code);
                let refused = if v5 { c.code >= 0x80 } else { c.code != 0 };
                if refused {
                    let meaning = if v5 {
                        any_reason_name(c.code)
                    } else {
                        connack_return_code_meaning(c.code)
                    };
                    self.finding(
                        mk(
                            FindingCode::ConnectRefused,
                            Severity::Error,
                            format!("CONNACK code 0x{:02x}: {meaning}", c.code),
                        ),
                        sink,
                    );
                }
                if let Some(k) = c.properties.get_int(prop::SERVER_KEEP_ALIVE) {
                    self.keep_alive = u16::try_from(k).ok();
                }
                if let Some(id) = c.properties.get_str(prop::ASSIGNED_CLIENT_IDENTIFIER) {
                    if self.client_id.as_deref().is_none_or(str::is_empty) {
                        self.client_id = Some(id.to_string());
                    }
                }
            }
            Body::Publish(p) => {
                self.count_topic(dir, &p.topic);
                if let (Some(pid), 1..=2) = (p.packet_id, p.qos) {
                    let max = self.limits.max_inflight;
                    let stage = if p.qos == 1 {
                        Stage::AwaitPuback
                    } else {
                        Stage::AwaitPubrec
                    };
                    let flows = self.flows_mut(dir);
                    if flows.len() < max || flows.contains_key(&pid) {
                        flows.insert(
                            pid,
                            Flow {
                                qos: p.qos,
                                stage,
                                ts,
                                offset: pkt.offset,
                            },
                        );
                    }
                }
            }
            Body::Puback(r) => {
                let flows = self.flows_mut(dir.opposite());
                match flows.get(&r.packet_id) {
                    Some(f) if f.stage == Stage::AwaitPuback => {
                        flows.remove(&r.packet_id);
                        add(&mut self.flows.qos1_completed, 1);
                    }
                    _ => add(&mut self.flows.unmatched_acks, 1),
                }
            }
            Body::Pubrec(r) => {
                let flows = self.flows_mut(dir.opposite());
                match flows.get_mut(&r.packet_id) {
                    Some(f) if f.stage == Stage::AwaitPubrec => {
                        if r.reason_code >= 0x80 {
                            flows.remove(&r.packet_id);
                            add(&mut self.flows.qos2_refused, 1);
                        } else {
                            f.stage = Stage::AwaitPubrel;
                        }
                    }
                    _ => add(&mut self.flows.unmatched_acks, 1),
                }
            }
            Body::Pubrel(r) => {
                let flows = self.flows_mut(dir);
                match flows.get_mut(&r.packet_id) {
                    Some(f) if matches!(f.stage, Stage::AwaitPubrel | Stage::AwaitPubrec) => {
                        f.stage = Stage::AwaitPubcomp;
                    }
                    _ => add(&mut self.flows.unmatched_acks, 1),
                }
            }
            Body::Pubcomp(r) => {
                let flows = self.flows_mut(dir.opposite());
                match flows.get(&r.packet_id) {
                    Some(f) if f.stage == Stage::AwaitPubcomp => {
                        flows.remove(&r.packet_id);
                        add(&mut self.flows.qos2_completed, 1);
                    }
                    _ => add(&mut self.flows.unmatched_acks, 1),
                }
            }
            Body::Subscribe(s)
                if dir == Dir::C2S
                    && (self.pending_subs.len() < self.limits.max_pending_subscribes
                        || self.pending_subs.contains_key(&s.packet_id)) =>
            {
                let topics = s
                    .subscriptions
                    .iter()
                    .take(64)
                    .map(|x| x.topic.to_string())
                    .collect();
                self.pending_subs.insert(s.packet_id, topics);
            }
            Body::Suback(s) if dir == Dir::S2C => {
                let topics = self.pending_subs.remove(&s.packet_id);
                for (i, &code) in s.reason_codes.iter().enumerate() {
                    if code < 0x80 {
                        continue;
                    }
                    let topic = topics
                        .as_ref()
                        .and_then(|t| t.get(i))
                        .map_or_else(|| format!("#{}", i.saturating_add(1)), |t| format!("{t:?}"));
                    let meaning = if v5 { any_reason_name(code) } else { "Failure" };
                    let mut f = mk(
                        FindingCode::SubackFailure,
                        Severity::Warning,
                        format!(
                            "subscription {topic} (packet id {}) refused: {meaning} (0x{code:02x})",
                            s.packet_id
                        ),
                    );
                    f.reason_code = Some(code);
                    self.finding(f, sink);
                }
            }
            Body::Disconnect(d) => {
                if dir == Dir::C2S {
                    self.client_disconnected = true;
                } else {
                    let (severity, message) = if pkt.level == Some(5) || v5 {
                        let reason_str = pkt
                            .properties()
                            .and_then(|p| p.get_str(prop::REASON_STRING))
                            .map(|s| format!(" ({s:?})"))
                            .unwrap_or_default();
                        (
                            if d.reason_code >= 0x80 {
                                Severity::Warning
                            } else {
                                Severity::Info
                            },
                            format!(
                                "server sent DISCONNECT: {} (0x{:02x}){reason_str}",
                                any_reason_name(d.reason_code)
                                    .replace("Success", "Normal disconnection"),
                                d.reason_code
                            ),
                        )
                    } else {
                        (
                            Severity::Warning,
                            "server sent DISCONNECT (not allowed before MQTT 5)".to_string(),
                        )
                    };
                    self.finding(mk(FindingCode::ServerDisconnect, severity, message), sink);
                }
            }
            _ => {}
        }
    }

    fn count_topic(&mut self, dir: Dir, topic: &str) {
        if let Some(t) = self
            .topics
            .iter_mut()
            .find(|t| t.dir == dir && t.topic == topic)
        {
            add(&mut t.count, 1);
        } else if self.topics.len() < self.limits.max_summary_topics {
            self.topics.push(TopicCount {
                topic: topic.to_string(),
                dir,
                count: 1,
            });
        } else {
            self.topics_truncated = true;
        }
    }

    /// Summary of what was seen so far.
    pub fn summary(&self) -> Summary {
        let mut flows = self.flows.clone();
        for m in &self.inflight {
            for f in m.values() {
                if f.qos == 1 {
                    add(&mut flows.qos1_incomplete, 1);
                } else {
                    add(&mut flows.qos2_incomplete, 1);
                }
            }
        }
        Summary {
            client_id: self.client_id.clone(),
            protocol_name: self.protocol_name.clone(),
            level: self.level,
            level_inferred: self.level_inferred,
            keep_alive: self.keep_alive,
            connack_code: self.connack_code,
            counts_c2s: self.dirs[0].counts,
            counts_s2c: self.dirs[1].counts,
            bytes_c2s: self.dirs[0].bytes,
            bytes_s2c: self.dirs[1].bytes,
            anomalies_c2s: self.dirs[0].anomalies,
            anomalies_s2c: self.dirs[1].anomalies,
            topics: self.topics.clone(),
            topics_truncated: self.topics_truncated,
            flows,
            findings: self.findings,
        }
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
mod reserve_tests {
    use super::{publish_payload_start, reserve_packet};

    #[test]
    fn where_a_publish_payload_starts() {
        // topic "ab", packet id, then MQTT 5 properties of 200 bytes (a
        // two-byte varint: 0xC8 0x01).
        let mut b = vec![0, 2, b'a', b'b', 0, 7, 0xC8, 0x01];
        assert_eq!(publish_payload_start(&b, 0, false), Some(4));
        assert_eq!(publish_payload_start(&b, 1, false), Some(6));
        assert_eq!(publish_payload_start(&b, 1, true), Some(6 + 2 + 200));
        b.truncate(7); // the varint is cut: not known yet
        assert_eq!(publish_payload_start(&b, 1, true), None);
        assert_eq!(publish_payload_start(&[0], 0, false), None);
        // four continuation bytes: not a varint
        let bad = [0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0x01];
        assert_eq!(publish_payload_start(&bad, 0, true), None);
    }

    #[test]
    fn a_large_packet_is_copied_once_and_a_length_alone_allocates_little() {
        // A 1 MiB packet announced, 10 bytes of it held: at most 40 bytes.
        let mut b = Vec::new();
        reserve_packet(&mut b, 1 << 20, 10);
        assert!(b.capacity() >= 10 && b.capacity() < 64, "{}", b.capacity());
        // Fed in 1,448-byte segments, the buffer reaches the packet's size
        // in a few steps, not one per doubling, and never exceeds it.
        let total = 200_000;
        let mut b = Vec::new();
        let mut grows = 0;
        while b.len() < total {
            let n = 1448.min(total - b.len());
            let cap = b.capacity();
            reserve_packet(&mut b, total, n);
            grows += usize::from(b.capacity() != cap);
            b.extend_from_slice(&[0; 1448][..n]);
        }
        assert_eq!(b.capacity(), total);
        assert!(grows <= 8, "{grows}");
    }
}
