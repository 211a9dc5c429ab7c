//! What a capture's report holds, as plain data: rendered by `text`,
//! `html`, `markdown` and `csv`.
//!
//! The model is filled through one ingestion API (`add_upgrade`, `add_ws`,
//! `add_mqtt`, `add_connection`, `add_finding`, `add_error`, `set_capture`)
//! from either of two sources:
//! - the live records of an analysis ([`CaptureReport`] is a
//!   [`crate::diagnose::Report`]): each record is first
//!   turned into the same plain values a JSON Lines record carries;
//! - JSON Lines written earlier (`report::ingest`, `wsdoctor report
//!   --from-jsonl`): each line is parsed into those values.
//!
//! Everything after that point (what is kept, labels, bounds, redaction) is
//! the same code, so both give the same report. Secrets are redacted here
//! with the rules of [`crate::redact`] (idempotent: JSON Lines that are
//! already redacted stay as they are).
//!
//! Everything is bounded: a hostile capture cannot make a report grow
//! without limit (see the constants).

use crate::capture::Ts;
use crate::diagnose::{self, policy, Severity, Status, Verdict};
use crate::event::{CaptureSummary, ConnSummary, Record};
use crate::flow::{ConnEnd, ConnMeta, Dir};
use crate::proto::handshake::UpgradeInfo;
use crate::proto::mqtt::{self, Body};
use crate::proto::tls::conn::TlsFacts;
use crate::proto::tls::names;
use crate::redact::Secrets;
use std::collections::{BTreeMap, HashMap, VecDeque};

/// Connections kept in full per capture; the rest are counted.
pub const MAX_CONNS: usize = 500;
/// Findings kept per capture; the rest are counted.
pub const MAX_FINDINGS: usize = 10_000;
/// Findings kept per code (the reports group by code); the rest are counted.
pub const MAX_FINDINGS_PER_CODE: u64 = 200;
/// Timeline events kept per connection.
pub const MAX_EVENTS: usize = 200;
/// Upgrade requests kept per connection.
pub const MAX_UPGRADES: usize = 16;
/// Header fields kept per HTTP message (HttpLimits allows 100).
pub const MAX_HEADERS: usize = 100;
/// Characters kept of one header value, URI or summary line.
pub const MAX_VALUE_CHARS: usize = 2048;
/// MQTT packets listed per connection: the first ones and the last ones.
pub const MAX_PACKETS_HEAD: usize = 40;
pub const MAX_PACKETS_TAIL: usize = 10;
/// Topic filters kept per SUBSCRIBE / UNSUBSCRIBE, reason codes per SUBACK.
pub const MAX_FILTERS: usize = 32;
/// Connections followed at once for their details (events, packets);
/// connections beyond it get their facts only.
pub const MAX_OPEN: usize = 2 * MAX_CONNS;
/// Summary lines kept per connection.
pub const MAX_SUMMARY_LINES: usize = 64;
/// Distinct finding codes counted per capture.
pub const MAX_CODES: usize = 1_000;
/// Characters kept of a finding's message, hint, group or filter, and of a verdict.
pub const MAX_TEXT_CHARS: usize = 8_192;
/// Evidence frames kept per finding.
pub const MAX_FRAMES: usize = 1_000;
/// Errors kept per capture.
pub const MAX_ERRORS: usize = 100;
/// Certificates and alerts kept per TLS connection.
pub const MAX_CERTS: usize = 8;
pub const MAX_ALERTS: usize = 16;

/// Order of findings of equal severity: the diagnosis first, then the
/// capture and transport problems that explain later symptoms.
pub fn code_rank(code: &str) -> u8 {
    policy::policy(code).rank
}

/// What a report collects and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelOpts {
    /// Collect timelines, MQTT packet lists and WebSocket closes (HTML,
    /// Markdown); the text report does without.
    pub detail: bool,
    pub secrets: Secrets,
    /// MQTT payload bytes kept per packet (`--payload-bytes`).
    pub payload_bytes: usize,
}

impl Default for ModelOpts {
    fn default() -> Self {
        ModelOpts {
            detail: true,
            secrets: Secrets::redacted(),
            payload_bytes: 256,
        }
    }
}

/// A payload (or body excerpt): text when it is UTF-8, else bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    Text(String),
    Binary(Vec<u8>),
}

impl Payload {
    /// At most `max` bytes of `data`: text when UTF-8 (a multi-byte
    /// character cut at the end is dropped), else the bytes.
    pub fn from_bytes(data: &[u8], max: usize) -> Payload {
        let cut = &data[..data.len().min(max)];
        match std::str::from_utf8(cut) {
            Ok(t) => Payload::Text(t.to_string()),
            Err(e) if e.error_len().is_none() && e.valid_up_to() + 4 > cut.len() => Payload::Text(
                std::str::from_utf8(&cut[..e.valid_up_to()])
                    .unwrap_or("")
                    .to_string(),
            ),
            Err(_) => Payload::Binary(cut.to_vec()),
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Payload::Text(t) => t.as_bytes(),
            Payload::Binary(b) => b,
        }
    }

    /// The same value cut to `max` bytes (as if made from fewer bytes).
    pub fn cut(&self, max: usize) -> Payload {
        if self.as_bytes().len() <= max {
            return self.clone();
        }
        Payload::from_bytes(self.as_bytes(), max)
    }
}

/// One point of a connection's timeline.
#[derive(Clone, Debug, PartialEq)]
pub struct TimelineEvent {
    pub frame: u64,
    /// None when the exact time is not known (HTTP messages).
    pub ts: Option<Ts>,
    /// None for connection-level events.
    pub dir: Option<Dir>,
    /// `http`, `ws`, `mqtt`, `tcp`.
    pub layer: &'static str,
    /// Short label, e.g. `GET /mqtt`, `404 Not Found`, `binary 12 B`, `PUBLISH a/b`.
    pub label: String,
    /// The event is a problem (refused upgrade, close with error...).
    pub bad: bool,
}

/// The server identified from an Upgrade's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerInfo {
    pub product: String,
    pub version: Option<String>,
    pub os: Option<String>,
    pub websocket: String,
    pub evidence: Vec<String>,
    pub confidence: String,
}

/// An HTTP request carrying `Upgrade`, and its answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Upgrade {
    pub request_frame: u64,
    pub response_frame: Option<u64>,
    pub method: String,
    pub uri: String,
    /// `HTTP/1.1`.
    pub request_version: String,
    pub request_headers: Vec<(String, String)>,
    pub status: Option<u16>,
    pub reason: Option<String>,
    pub response_version: Option<String>,
    pub response_headers: Vec<(String, String)>,
    pub protocols_offered: Vec<String>,
    pub protocol_selected: Option<String>,
    pub extensions_offered: Vec<String>,
    pub extensions_selected: Vec<String>,
    pub accept: Option<String>,
    pub accept_expected: Option<String>,
    pub accept_valid: Option<bool>,
    /// `accepted`, `rejected`, `no_response`, `reset`, `invalid`.
    pub outcome: String,
    pub websocket: bool,
    pub server: Option<ServerInfo>,
    /// The first bytes of the response body (an error page).
    pub body: Option<Payload>,
    /// The first lines of text of the response body.
    pub page_text: Vec<String>,
}

fn header<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

impl Upgrade {
    /// From the live record (not redacted yet).
    pub fn from_info(u: &UpgradeInfo) -> Upgrade {
        let h = &u.handshake;
        let resp = u.response.as_ref();
        Upgrade {
            request_frame: u.request_frame,
            response_frame: u.response_frame,
            method: u.request.method.clone(),
            uri: u.request.uri.clone(),
            request_version: format!("HTTP/1.{}", u.request.minor_version),
            request_headers: pairs(&u.request.headers),
            status: resp.map(|r| r.status),
            reason: resp.map(|r| r.reason.clone()),
            response_version: resp.map(|r| format!("HTTP/1.{}", r.minor_version)),
            response_headers: resp.map(|r| pairs(&r.headers)).unwrap_or_default(),
            protocols_offered: h.protocols_offered.clone(),
            protocol_selected: h.protocol_selected.clone(),
            extensions_offered: h.extensions_offered.clone(),
            extensions_selected: h.extensions_selected.clone(),
            accept: h.accept.clone(),
            accept_expected: h.accept_expected.clone(),
            accept_valid: h.accept_valid,
            outcome: h.outcome.as_str().to_string(),
            websocket: u.websocket,
            server: u.server.as_ref().map(|p| ServerInfo {
                product: p.product.clone(),
                version: p.version.clone(),
                os: p.os.clone(),
                websocket: p.websocket.to_string(),
                evidence: p.evidence.iter().map(|e| e.to_string()).collect(),
                confidence: p.confidence.to_string(),
            }),
            body: (!u.body.is_empty())
                .then(|| Payload::from_bytes(&u.body, crate::proto::handshake::BODY_EXCERPT)),
            page_text: u.page_text.clone(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.request_headers, name)
    }
    pub fn resp_header(&self, name: &str) -> Option<&str> {
        header(&self.response_headers, name)
    }

    /// `IIS 7.5 (Windows 7 / Server 2008 R2)`.
    pub fn server_text(&self) -> String {
        crate::proto::server::describe(
            self.server
                .as_ref()
                .map(|p| (p.product.as_str(), p.version.as_deref(), p.os.as_deref())),
        )
    }

    /// `GET /mqtt HTTP/1.1`.
    pub fn request_line(&self) -> String {
        format!("{} {} {}", self.method, self.uri, self.request_version)
    }

    /// `HTTP/1.1 404 Not Found`, when answered.
    pub fn status_line(&self) -> Option<String> {
        let status = self.status?;
        let mut s = format!(
            "{} {status}",
            self.response_version.as_deref().unwrap_or("HTTP/1.1")
        );
        if let Some(r) = self.reason.as_deref().filter(|r| !r.is_empty()) {
            s.push(' ');
            s.push_str(r);
        }
        Some(s)
    }

    /// The `<title>` of an HTML error page in the body excerpt.
    pub fn error_title(&self) -> Option<String> {
        let Some(Payload::Text(body)) = &self.body else {
            return None;
        };
        let lower = body.to_ascii_lowercase();
        let open = lower.find("<title")?;
        let start = open + lower[open..].find('>')? + 1;
        let end = start
            + lower[start..]
                .find("</title")
                .unwrap_or(lower.len() - start);
        let t = crate::proto::handshake::decode_entities(&body[start..end])
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        (!t.is_empty()).then(|| truncate(&t, 200))
    }

    /// The first `max` lines of text of the response body (markup
    /// removed), without the title.
    pub fn error_lines(&self, max: usize) -> Vec<String> {
        let title = self.error_title();
        self.page_text
            .iter()
            .filter(|l| Some(l.as_str()) != title.as_deref())
            .take(max)
            .cloned()
            .collect()
    }
}

/// At most `max` characters of `s`, with an ellipsis when cut.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
    t.push('…');
    t
}

fn cap(s: &mut String, max: usize) {
    if s.len() > max && s.chars().count() > max {
        *s = truncate(s, max);
    }
}

/// One WebSocket frame.
#[derive(Clone, Debug, PartialEq)]
pub struct WsFrame {
    pub dir: Dir,
    pub frame: u64,
    pub ts: Ts,
    pub opcode: u8,
    pub opcode_name: String,
    pub payload_len: u64,
    pub close_code: Option<u16>,
    pub close_reason: Option<String>,
}

/// The fields of an MQTT CONNECT.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MqttConnect {
    pub protocol_name: String,
    pub level: u8,
    pub client_id: Option<String>,
    pub username: Option<String>,
    /// The password (redacted unless secrets are shown).
    pub password: Option<String>,
    pub keep_alive: u16,
    pub clean_start: bool,
    pub will_topic: Option<String>,
}

/// One MQTT control packet.
#[derive(Clone, Debug, PartialEq)]
pub struct MqttPacket {
    pub dir: Dir,
    pub frame: u64,
    pub ts: Ts,
    pub msg_type: u8,
    pub name: String,
    /// PUBLISH: the effective topic.
    pub topic: Option<String>,
    /// SUBSCRIBE (with the QoS asked) / UNSUBSCRIBE topic filters.
    pub filters: Vec<(String, Option<u8>)>,
    /// SUBACK / UNSUBACK reason codes.
    pub codes: Vec<u8>,
    pub qos: Option<u8>,
    pub packet_id: Option<u16>,
    pub retain: bool,
    pub dup: bool,
    /// CONNACK return / reason code, PUBACK... DISCONNECT, AUTH reason codes.
    pub code: Option<u8>,
    /// CONNACK and DISCONNECT: what the code means.
    pub reason_name: Option<String>,
    pub session_present: Option<bool>,
    pub payload_len: Option<u64>,
    pub payload: Option<Payload>,
    pub connect: Option<MqttConnect>,
    pub anomalies: Vec<String>,
}

impl MqttPacket {
    /// From the live record (not redacted yet), as the JSON Lines record
    /// carries it.
    pub fn from_packet(
        dir: Dir,
        frame: u64,
        ts: Ts,
        p: &mqtt::Packet<'_>,
        payload_bytes: usize,
    ) -> MqttPacket {
        let mut m = MqttPacket {
            dir,
            frame,
            ts,
            msg_type: p.msg_type,
            name: p.msg_name().to_string(),
            topic: None,
            filters: Vec::new(),
            codes: Vec::new(),
            qos: None,
            packet_id: None,
            retain: false,
            dup: false,
            code: None,
            reason_name: None,
            session_present: None,
            payload_len: None,
            payload: None,
            connect: None,
            anomalies: p.anomalies.iter().map(|a| a.code.to_string()).collect(),
        };
        match &p.body {
            Body::Connect(c) => {
                m.connect = Some(MqttConnect {
                    protocol_name: c.protocol_name.to_string(),
                    level: c.level,
                    client_id: c.client_id.as_deref().map(str::to_string),
                    username: c.username.as_deref().map(str::to_string),
                    password: c
                        .password
                        .map(|pw| String::from_utf8_lossy(pw).into_owned()),
                    keep_alive: c.keep_alive,
                    clean_start: c.clean_start,
                    will_topic: c.will.as_ref().map(|w| w.topic.to_string()),
                })
            }
            Body::Connack(c) => {
                m.session_present = Some(c.session_present);
                m.code = Some(p.reason_code().unwrap_or(0));
                m.reason_name = p.reason_name().map(str::to_string);
            }
            Body::Publish(pb) => {
                m.packet_id = pb.packet_id;
                m.qos = (pb.qos <= 2).then_some(pb.qos);
                m.retain = pb.retain;
                m.dup = pb.dup;
                m.topic = Some(pb.topic.to_string());
                m.payload_len = Some(pb.payload_len);
                m.payload = Some(Payload::from_bytes(pb.payload, payload_bytes));
            }
            Body::Puback(r) | Body::Pubrec(r) | Body::Pubrel(r) | Body::Pubcomp(r) => {
                m.packet_id = Some(r.packet_id);
                m.code = Some(r.reason_code);
            }
            Body::Subscribe(sb) => {
                m.packet_id = Some(sb.packet_id);
                m.filters = sb
                    .subscriptions
                    .iter()
                    .map(|s| (s.topic.to_string(), Some(s.qos)))
                    .collect();
            }
            Body::Suback(sa) => {
                m.packet_id = Some(sa.packet_id);
                m.codes = sa.reason_codes.to_vec();
            }
            Body::Unsubscribe(u) => {
                m.packet_id = Some(u.packet_id);
                m.filters = u.topics.iter().map(|t| (t.to_string(), None)).collect();
            }
            Body::Unsuback(u) => {
                m.packet_id = Some(u.packet_id);
                m.codes = u.reason_codes.to_vec();
            }
            Body::Disconnect(d) => {
                m.code = Some(d.reason_code);
                m.reason_name = p.reason_name().map(str::to_string);
            }
            Body::Auth(a) => m.code = Some(a.reason_code),
            Body::Pingreq | Body::Pingresp | Body::Reserved { .. } | Body::Skipped => {}
        }
        m
    }

    /// The timeline label: the packet name, `PUBLISH topic` for a PUBLISH.
    pub fn label(&self) -> String {
        match &self.topic {
            Some(t) if self.msg_type == mqtt::msg::PUBLISH => format!("PUBLISH {t}"),
            _ => self.name.clone(),
        }
    }
}

/// What a connection's MQTT session showed: the packets listed (the first
/// and the last ones) and the CONNECT, CONNACK and DISCONNECTs in any case.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MqttLog {
    pub head: Vec<MqttPacket>,
    pub tail: VecDeque<MqttPacket>,
    /// Packets seen (listed or not).
    pub total: u64,
    pub connect: Option<MqttPacket>,
    pub connack: Option<MqttPacket>,
    /// DISCONNECT per direction (c2s, s2c).
    pub disconnect: [Option<MqttPacket>; 2],
}

impl MqttLog {
    fn push(&mut self, p: MqttPacket) {
        self.total += 1;
        match p.msg_type {
            mqtt::msg::CONNECT if self.connect.is_none() => self.connect = Some(p.clone()),
            mqtt::msg::CONNACK if self.connack.is_none() => self.connack = Some(p.clone()),
            mqtt::msg::DISCONNECT if self.disconnect[p.dir.idx()].is_none() => {
                self.disconnect[p.dir.idx()] = Some(p.clone())
            }
            _ => {}
        }
        if self.head.len() < MAX_PACKETS_HEAD {
            self.head.push(p);
        } else {
            if self.tail.len() == MAX_PACKETS_TAIL {
                self.tail.pop_front();
            }
            self.tail.push_back(p);
        }
    }

    /// Packets between the head and the tail that are not listed.
    pub fn hidden(&self) -> u64 {
        self.total
            .saturating_sub((self.head.len() + self.tail.len()) as u64)
    }
}

/// A gap in one direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gap {
    pub dir: Dir,
    pub frame: u64,
    pub bytes: u64,
}

/// The first FIN or RST of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CloseInfo {
    /// The sender of the FIN or RST.
    pub by: Dir,
    pub rst: bool,
    pub frame: u64,
    pub ts: Ts,
    /// Microseconds since the last payload of either direction (0 when
    /// the closing segment carries data).
    pub quiet_us: i64,
    pub last_data_frame: Option<u64>,
}

/// A certificate of the server's chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertView {
    pub subject: String,
    pub issuer: String,
    pub san: Vec<String>,
    /// RFC 3339.
    pub not_before: String,
    pub not_after: String,
    pub self_signed: bool,
    pub key: String,
}

/// A TLS alert.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertView {
    pub dir: Dir,
    /// `warning`, `fatal`, or `encrypted` (its content cannot be seen).
    pub level: String,
    pub description: u8,
    pub name: String,
    pub frame: u64,
}

/// What a TLS handshake showed, as names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsInfo {
    pub client_hello_frame: Option<u64>,
    pub client_versions: Vec<String>,
    pub sni: Option<String>,
    pub alpn_offered: Vec<String>,
    pub suites_offered: u64,
    pub server_hello_frame: Option<u64>,
    pub version: Option<String>,
    pub suite: Option<String>,
    pub alpn: Option<String>,
    pub resumed: bool,
    /// A HelloRetryRequest asked for this group.
    pub hello_retry: Option<String>,
    pub certificates: Vec<CertView>,
    pub alerts: Vec<AlertView>,
    pub handshake_complete: bool,
    pub encrypted_records: [u64; 2],
}

fn dir_of(i: usize) -> Dir {
    if i == 0 {
        Dir::C2S
    } else {
        Dir::S2C
    }
}

impl TlsInfo {
    pub fn from_facts(t: &TlsFacts) -> TlsInfo {
        let ch = t.client_hello.as_ref();
        let sh = t.server_hello.as_ref();
        let date = |secs: i64| norm_ts(Ts::new(secs, 0, 0)).to_string();
        TlsInfo {
            client_hello_frame: ch.map(|c| c.frame),
            client_versions: ch
                .map(|c| c.versions.iter().map(|&v| names::version_name(v)).collect())
                .unwrap_or_default(),
            sni: ch.and_then(|c| c.sni.clone()),
            alpn_offered: ch.map(|c| c.alpn.clone()).unwrap_or_default(),
            suites_offered: ch.map_or(0, |c| c.suites.len() as u64),
            server_hello_frame: sh.map(|s| s.frame),
            version: sh.map(|s| names::version_name(s.version)),
            suite: sh.map(|s| names::suite_name(s.suite)),
            alpn: sh.and_then(|s| s.alpn.clone()),
            resumed: sh.is_some_and(|s| s.session_resumed || s.psk),
            hello_retry: t.hello_retry.map(names::group_name),
            certificates: t
                .certificates
                .iter()
                .take(MAX_CERTS)
                .map(|c| CertView {
                    subject: c.subject.clone(),
                    issuer: c.issuer.clone(),
                    san: c.san.clone(),
                    not_before: date(c.not_before),
                    not_after: date(c.not_after),
                    self_signed: c.self_signed,
                    key: c.key.clone(),
                })
                .collect(),
            alerts: t
                .alerts
                .iter()
                .take(MAX_ALERTS)
                .map(|a| AlertView {
                    dir: dir_of(a.dir),
                    level: if a.encrypted {
                        "encrypted"
                    } else if a.level == 2 {
                        "fatal"
                    } else {
                        "warning"
                    }
                    .to_string(),
                    description: a.description,
                    name: if a.encrypted {
                        "(encrypted)".to_string()
                    } else {
                        names::alert_name(a.description).to_string()
                    },
                    frame: a.frame,
                })
                .collect(),
            handshake_complete: t.handshake_complete(),
            encrypted_records: t.encrypted_records,
        }
    }
}

/// A connection's own facts (its `connection` record).
#[derive(Clone, Debug, PartialEq)]
pub struct ConnFacts {
    pub stream: u64,
    /// `ip:port`, IPv6 as `[addr]:port`.
    pub client: String,
    pub server: String,
    /// `websocket`, `mqtt`, `http`, `tls` or `unknown`.
    pub protocol: String,
    pub syn: bool,
    pub first_frame: u64,
    pub last_frame: u64,
    pub first_ts: Ts,
    pub last_ts: Ts,
    pub packets: u64,
    /// Payload bytes delivered (c2s, s2c).
    pub bytes: [u64; 2],
    pub gaps: Vec<Gap>,
    pub gaps_total: u64,
    pub gap_bytes: u64,
    pub retransmissions: u64,
    pub out_of_order: u64,
    pub reasm_limit_hits: u64,
    pub evicted: bool,
    pub end: ConnEnd,
    pub rst_frame: Option<u64>,
    pub close: Option<CloseInfo>,
    pub sni: Option<String>,
    pub alpn: Option<Vec<String>>,
    /// Summary lines (handshake, WebSocket, MQTT).
    pub summary: Vec<String>,
    pub tls: Option<TlsInfo>,
    /// Decrypted with a key log: the protocol is what TLS carried.
    pub decrypted: bool,
}

fn pairs(h: &crate::proto::http::Headers) -> Vec<(String, String)> {
    h.iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

impl ConnFacts {
    /// From the live connection record (not redacted yet).
    pub fn from_meta(m: &ConnMeta, p: &ConnSummary, upgrades: &[UpgradeInfo]) -> ConnFacts {
        ConnFacts {
            stream: m.stream,
            client: m.client.to_string(),
            server: m.server.to_string(),
            protocol: p.protocol.to_string(),
            syn: m.syn,
            first_frame: m.first_frame,
            last_frame: m.last_frame,
            first_ts: norm_ts(m.first_ts),
            last_ts: norm_ts(m.last_ts),
            packets: m.packets,
            bytes: m.bytes,
            gaps: m
                .gaps
                .iter()
                .map(|g| Gap {
                    dir: g.dir,
                    frame: g.frame,
                    bytes: g.bytes,
                })
                .collect(),
            gaps_total: m.gaps_total,
            gap_bytes: m.gap_bytes,
            retransmissions: m.retransmissions,
            out_of_order: m.out_of_order,
            reasm_limit_hits: m.reasm_limit_hits,
            evicted: m.evicted,
            end: m.end,
            rst_frame: m.rst_frame,
            close: m.first_close.map(|c| CloseInfo {
                by: c.by,
                rst: c.rst,
                frame: c.frame,
                ts: norm_ts(c.ts),
                quiet_us: c.quiet_us,
                last_data_frame: c.last_data_frame,
            }),
            // The contract has SNI and ALPN on TLS connections only.
            sni: if p.protocol == "tls" || p.tls.is_some() {
                p.sni.clone()
            } else {
                None
            },
            alpn: if p.protocol == "tls" || p.tls.is_some() {
                p.alpn.clone()
            } else {
                None
            },
            summary: super::lines::conn_lines(p, upgrades),
            tls: p.tls.as_deref().map(TlsInfo::from_facts),
            decrypted: p.decrypted(),
        }
    }
}

/// A connection as reports show it.
#[derive(Clone, Debug, PartialEq)]
pub struct Conn {
    pub meta: ConnFacts,
    pub upgrades: Vec<Upgrade>,
    pub upgrades_dropped: u64,
    pub events: Vec<TimelineEvent>,
    pub events_dropped: u64,
    pub mqtt: MqttLog,
    /// The first WebSocket Close frame per direction (c2s, s2c).
    pub ws_close: [Option<WsFrame>; 2],
    /// WebSocket frames seen per direction.
    pub ws_frames: [u64; 2],
}

/// A finding as reports show it.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportFinding {
    pub code: String,
    pub severity: Severity,
    pub stream: Option<u64>,
    pub frames: Vec<u64>,
    pub message: String,
    pub hint: String,
    pub filter: Option<String>,
    pub group: Option<String>,
}

impl ReportFinding {
    pub fn from_finding(f: &diagnose::Finding) -> ReportFinding {
        ReportFinding {
            code: f.code.to_string(),
            severity: f.severity,
            stream: f.stream,
            frames: f.frames.clone(),
            message: f.message.clone(),
            hint: f.hint_or_default().to_string(),
            filter: f.filter(),
            group: f.group.clone(),
        }
    }

    /// The hint to show (kept for the renderers' older name).
    pub fn hint_or_default(&self) -> &str {
        &self.hint
    }
    pub fn filter(&self) -> Option<String> {
        self.filter.clone()
    }
}

/// The capture file's own facts (its `capture` record).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaptureInfo {
    /// `pcap`, `pcapng`, `netmon1`, `netmon2`.
    pub format: String,
    pub packets: u64,
    pub bytes: u64,
    pub first_ts: Option<Ts>,
    pub last_ts: Option<Ts>,
    pub streams: u64,
    pub complete: bool,
    pub not_decoded: u64,
}

impl CaptureInfo {
    pub fn from_summary(c: &CaptureSummary) -> CaptureInfo {
        CaptureInfo {
            format: c.format.as_str().to_string(),
            packets: c.packets,
            bytes: c.bytes,
            first_ts: c.first_ts.map(norm_ts),
            last_ts: c.last_ts.map(norm_ts),
            streams: c.streams,
            complete: c.complete,
            not_decoded: c.counts.not_decoded,
        }
    }
}

/// The capture's verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerdictInfo {
    pub status: Status,
    /// The finding code behind the headline.
    pub code: Option<String>,
    /// The headline with its mark (`✗ ...`).
    pub text: String,
}

impl VerdictInfo {
    pub fn from_verdict(v: &Verdict) -> VerdictInfo {
        VerdictInfo {
            status: v.status,
            code: v.code.map(str::to_string),
            text: v.text(),
        }
    }
}

/// The earliest and latest instants RFC 3339 (years 0000-9999) can write.
const TS_MIN: i64 = -62_167_219_200;
const TS_MAX: i64 = 253_402_300_799;

/// A timestamp as it reads back from its RFC 3339 text (JSON Lines): years
/// outside 0000-9999 are clamped when written, so the live report clamps
/// the same way.
pub fn norm_ts(t: Ts) -> Ts {
    if (TS_MIN..=TS_MAX).contains(&t.secs) {
        t
    } else {
        super::ingest::parse_ts(&t.to_string()).unwrap_or(t)
    }
}

/// Everything a report needs about one capture.
#[derive(Clone, Debug)]
pub struct CaptureReport {
    pub file: String,
    pub capture: Option<CaptureInfo>,
    pub conns: Vec<Conn>,
    pub conns_total: u64,
    pub findings: Vec<ReportFinding>,
    pub findings_dropped: u64,
    /// Findings of severity warning or error (kept or not).
    pub problems: u64,
    pub errors: Vec<(String, Option<u64>)>,
    /// Findings seen per code (kept or not).
    pub per_code: BTreeMap<String, u64>,
    /// The capture's verdict (when the capture ended).
    pub verdict: Option<VerdictInfo>,
    pub opts: ModelOpts,
    /// What is gathered of connections still open (moved into `conns`
    /// when they end).
    /// Boxed: the table holds many live connections, most with nothing gathered yet.
    open: HashMap<u64, Box<OpenConn>>,
}

/// What is gathered about a connection until its record arrives.
#[derive(Clone, Debug, Default)]
struct OpenConn {
    events: Vec<TimelineEvent>,
    events_dropped: u64,
    upgrades: Vec<Upgrade>,
    upgrades_dropped: u64,
    mqtt: MqttLog,
    ws_close: [Option<WsFrame>; 2],
    ws_frames: [u64; 2],
}

impl CaptureReport {
    pub fn new(file: &str) -> CaptureReport {
        CaptureReport::with_opts(file, ModelOpts::default())
    }

    /// A report without timelines and packet lists (cheaper: for the text
    /// report).
    pub fn without_timelines(file: &str) -> CaptureReport {
        CaptureReport::with_opts(
            file,
            ModelOpts {
                detail: false,
                ..ModelOpts::default()
            },
        )
    }

    pub fn with_opts(file: &str, opts: ModelOpts) -> CaptureReport {
        CaptureReport {
            file: file.to_string(),
            capture: None,
            conns: Vec::new(),
            conns_total: 0,
            findings: Vec::new(),
            findings_dropped: 0,
            problems: 0,
            errors: Vec::new(),
            per_code: BTreeMap::new(),
            verdict: None,
            opts,
            open: HashMap::new(),
        }
    }

    /// The worst severity among the findings (None: nothing found).
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }

    /// Findings grouped by code (in order of first appearance), worst first.
    pub fn grouped(&self) -> Vec<(&str, Vec<&ReportFinding>)> {
        let mut groups: Vec<(&str, Vec<&ReportFinding>)> = Vec::new();
        for f in &self.findings {
            match groups
                .iter_mut()
                .find(|g| g.0 == f.code && g.1[0].group == f.group && g.1[0].severity == f.severity)
            {
                Some(g) => g.1.push(f),
                None => groups.push((f.code.as_str(), vec![f])),
            }
        }
        // Worst first; among equals, the diagnosis before its symptoms.
        groups.sort_by_key(|g| (std::cmp::Reverse(g.1[0].severity), code_rank(g.0)));
        groups
    }

    /// Server products seen in Upgrade answers (e.g. `IIS 7.5`), distinct.
    pub fn servers(&self) -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        for c in &self.conns {
            for u in &c.upgrades {
                if let Some(p) = &u.server {
                    let s = match &p.version {
                        Some(ver) => format!("{} {}", p.product, ver),
                        None => p.product.clone(),
                    };
                    if !v.contains(&s) {
                        v.push(s);
                    }
                }
            }
        }
        v
    }

    /// The one-line verdict a person can paste into a ticket.
    pub fn verdict(&self) -> String {
        match &self.verdict {
            Some(v) => v.text.clone(),
            None => match self.errors.first() {
                Some((m, _)) => format!("✗ could not analyse: {m}"),
                None => "? the capture was not analysed to its end".into(),
            },
        }
    }

    /// The verdict's status (unreadable when the capture never ended).
    pub fn status(&self) -> Status {
        self.verdict
            .as_ref()
            .map_or(Status::Unreadable, |v| v.status)
    }

    /// How the capture went, for the exit code.
    pub fn outcome(&self) -> crate::analyze::Outcome {
        crate::analyze::Outcome {
            error: !self.errors.is_empty(),
            problems: self.problems,
            status: self.status(),
        }
    }

    /// The connection's record is still to come and its details are
    /// followed (there is room for it).
    fn follows(&mut self, stream: u64) -> Option<&mut OpenConn> {
        if self.conns.len() >= MAX_CONNS {
            return None;
        }
        if !self.open.contains_key(&stream) && self.open.len() >= MAX_OPEN {
            return None;
        }
        Some(self.open.entry(stream).or_default())
    }

    /// Is there room for what is gathered about `stream`?
    fn room_for(&self, stream: u64) -> bool {
        self.conns.len() < MAX_CONNS
            && (self.open.contains_key(&stream) || self.open.len() < MAX_OPEN)
    }

    /// Would a detail of `stream` be kept (so that it is worth building)?
    pub fn wants_detail(&self, stream: u64) -> bool {
        self.opts.detail && self.room_for(stream)
    }

    fn event(o: &mut OpenConn, e: TimelineEvent) {
        if o.events.len() < MAX_EVENTS {
            o.events.push(e);
        } else {
            o.events_dropped += 1;
        }
    }

    // ---- the ingestion API (live records and JSON Lines alike) ----

    /// An HTTP request carrying `Upgrade` (with its answer) on `stream`.
    pub fn add_upgrade(&mut self, stream: u64, mut u: Upgrade) {
        let sec = self.opts.secrets;
        let detail = self.opts.detail;
        let Some(o) = self.follows(stream) else {
            return;
        };
        redact_upgrade(&mut u, sec);
        if detail {
            Self::event(
                o,
                TimelineEvent {
                    frame: u.request_frame,
                    ts: None,
                    dir: Some(Dir::C2S),
                    layer: "http",
                    label: format!("{} {}", u.method, u.uri),
                    bad: false,
                },
            );
            if let (Some(status), Some(f)) = (u.status, u.response_frame) {
                Self::event(
                    o,
                    TimelineEvent {
                        frame: f,
                        ts: None,
                        dir: Some(Dir::S2C),
                        layer: "http",
                        label: format!("{} {}", status, u.reason.as_deref().unwrap_or("")),
                        bad: status != 101,
                    },
                );
            }
        }
        if o.upgrades.len() < MAX_UPGRADES {
            // Most connections carry one Upgrade: no spare capacity.
            o.upgrades.reserve_exact(1);
            o.upgrades.push(u);
        } else {
            o.upgrades_dropped += 1;
        }
    }

    /// A WebSocket frame on `stream`.
    pub fn add_ws(&mut self, stream: u64, mut w: WsFrame) {
        if !self.opts.detail {
            return;
        }
        let sec = self.opts.secrets;
        let Some(o) = self.follows(stream) else {
            return;
        };
        o.ws_frames[w.dir.idx()] += 1;
        cap(&mut w.opcode_name, 32);
        if let Some(r) = w.close_reason.take() {
            let mut r = sec.text_owned(r);
            cap(&mut r, MAX_VALUE_CHARS);
            w.close_reason = Some(r);
        }
        let mut label = format!("{} {} B", w.opcode_name, w.payload_len);
        if let Some(c) = w.close_code {
            label = format!("close {c}");
        }
        let bad = w.close_code.is_some_and(|c| c != 1000 && c != 1001);
        Self::event(
            o,
            TimelineEvent {
                frame: w.frame,
                ts: Some(w.ts),
                dir: Some(w.dir),
                layer: "ws",
                label,
                bad,
            },
        );
        let d = w.dir.idx();
        if w.opcode == 8 && o.ws_close[d].is_none() {
            o.ws_close[d] = Some(w);
        }
    }

    /// An MQTT control packet on `stream`.
    pub fn add_mqtt(&mut self, stream: u64, mut p: MqttPacket) {
        if !self.opts.detail {
            return;
        }
        let opts = self.opts;
        let Some(o) = self.follows(stream) else {
            return;
        };
        redact_packet(&mut p, opts);
        let bad = p.msg_type == mqtt::msg::CONNACK && p.code.is_some_and(|c| c != 0);
        Self::event(
            o,
            TimelineEvent {
                frame: p.frame,
                ts: Some(p.ts),
                dir: Some(p.dir),
                layer: "mqtt",
                label: p.label(),
                bad,
            },
        );
        o.mqtt.push(p);
    }

    /// A connection's final record.
    pub fn add_connection(&mut self, mut meta: ConnFacts) {
        self.conns_total += 1;
        let o = self.open.remove(&meta.stream).unwrap_or_default();
        if self.conns.len() >= MAX_CONNS {
            return;
        }
        let o = *o;
        redact_conn(&mut meta, self.opts.secrets);
        self.conns.push(Conn {
            meta,
            upgrades: o.upgrades,
            upgrades_dropped: o.upgrades_dropped,
            events: o.events,
            events_dropped: o.events_dropped,
            mqtt: o.mqtt,
            ws_close: o.ws_close,
            ws_frames: o.ws_frames,
        });
        if self.conns.len() >= MAX_CONNS {
            // Nothing more is kept: what open connections gathered is not needed.
            self.open = HashMap::new();
        }
    }

    /// A finding.
    pub fn add_finding(&mut self, mut f: ReportFinding) {
        cap(&mut f.code, 128);
        if self.count_finding(&f.code, f.severity) {
            self.keep_finding(f);
        }
    }

    /// Counts a finding of `code` (at most 128 characters); says whether
    /// it is kept in full, so that a finding past the caps is not built.
    fn count_finding(&mut self, code: &str, severity: Severity) -> bool {
        if severity >= Severity::Warning {
            self.problems += 1;
        }
        let same = match self.per_code.get_mut(code) {
            Some(n) => n,
            None => {
                if self.per_code.len() >= MAX_CODES {
                    self.findings_dropped += 1;
                    return false;
                }
                self.per_code.entry(code.to_string()).or_default()
            }
        };
        *same += 1;
        let keep = self.findings.len() < MAX_FINDINGS && *same <= MAX_FINDINGS_PER_CODE;
        if !keep {
            self.findings_dropped += 1;
        }
        keep
    }

    /// Keeps a counted finding, redacted and capped.
    fn keep_finding(&mut self, mut f: ReportFinding) {
        let sec = self.opts.secrets;
        f.message = sec.text_owned(f.message);
        f.hint = sec.text_owned(f.hint);
        f.group = f.group.map(|g| sec.text_owned(g));
        for s in [&mut f.message, &mut f.hint]
            .into_iter()
            .chain(f.group.as_mut())
            .chain(f.filter.as_mut())
        {
            cap(s, MAX_TEXT_CHARS);
        }
        f.frames.truncate(MAX_FRAMES);
        self.findings.push(f);
    }

    /// The end of the capture, with its verdict.
    pub fn set_capture(&mut self, mut c: CaptureInfo, mut v: VerdictInfo) {
        v.text = self.opts.secrets.text_owned(v.text);
        cap(&mut v.text, MAX_TEXT_CHARS);
        if let Some(code) = v.code.as_mut() {
            cap(code, 128);
        }
        cap(&mut c.format, 32);
        self.capture = Some(c);
        self.verdict = Some(v);
        self.conns.sort_by_key(|c| c.meta.stream);
        self.open.clear();
    }

    /// The file could not be (fully) read.
    pub fn add_error(&mut self, message: &str, offset: Option<u64>) {
        if self.errors.len() < MAX_ERRORS {
            self.errors
                .push((truncate(message, MAX_VALUE_CHARS), offset));
        }
    }
}

/// Bytes of header fields kept per HTTP message (as HttpLimits reads at
/// most 64 KiB of a head, a live message never reaches it).
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

fn redact_headers(h: &mut Vec<(String, String)>, sec: Secrets) {
    h.truncate(MAX_HEADERS);
    let mut total = 0;
    let mut keep = h.len();
    for (i, (name, value)) in h.iter_mut().enumerate() {
        if let std::borrow::Cow::Owned(v) = sec.header(name, value) {
            *value = v;
        }
        cap(name, 256);
        cap(value, MAX_VALUE_CHARS);
        total += name.len() + value.len();
        if total > MAX_HEAD_BYTES {
            keep = i;
            break;
        }
    }
    h.truncate(keep);
}

fn redact_upgrade(u: &mut Upgrade, sec: Secrets) {
    let text = |s: &mut String| {
        if let std::borrow::Cow::Owned(v) = sec.text(s) {
            *s = v;
        }
        cap(s, MAX_VALUE_CHARS);
    };
    text(&mut u.uri);
    cap(&mut u.method, 64);
    cap(&mut u.request_version, 32);
    cap(&mut u.outcome, 32);
    for s in [
        &mut u.response_version,
        &mut u.accept,
        &mut u.accept_expected,
    ]
    .into_iter()
    .flatten()
    {
        cap(s, 256);
    }
    if let Some(p) = u.server.as_mut() {
        p.evidence.truncate(16);
        for s in [&mut p.product, &mut p.websocket, &mut p.confidence]
            .into_iter()
            .chain(p.version.as_mut())
            .chain(p.os.as_mut())
            .chain(p.evidence.iter_mut())
        {
            cap(s, 256);
        }
    }
    if let Some(b) = u.body.as_mut() {
        if b.as_bytes().len() > crate::proto::handshake::BODY_EXCERPT {
            *b = b.cut(crate::proto::handshake::BODY_EXCERPT);
        }
    }
    redact_headers(&mut u.request_headers, sec);
    redact_headers(&mut u.response_headers, sec);
    for p in u
        .protocols_offered
        .iter_mut()
        .chain(&mut u.extensions_offered)
    {
        text(p);
    }
    for p in u
        .extensions_selected
        .iter_mut()
        .chain(&mut u.protocol_selected)
    {
        text(p);
    }
    if let Some(r) = u.reason.as_mut() {
        cap(r, MAX_VALUE_CHARS);
    }
    if let Some(Payload::Text(t)) = u.body.as_mut() {
        if let std::borrow::Cow::Owned(v) = sec.text(t) {
            *t = v;
        }
    }
    u.page_text
        .truncate(crate::proto::handshake::PAGE_TEXT_LINES);
    for l in &mut u.page_text {
        text(l);
        cap(l, crate::proto::handshake::PAGE_TEXT_CHARS);
    }
}

fn redact_packet(p: &mut MqttPacket, opts: ModelOpts) {
    let sec = opts.secrets;
    cap(&mut p.name, 32);
    if let Some(r) = p.reason_name.as_mut() {
        cap(r, 256);
    }
    if let Some(c) = p.connect.as_mut() {
        c.username = c.username.take().map(|u| sec.text_owned(u));
        if let Some(pw) = c.password.as_mut() {
            *pw = sec.password(pw).into_owned();
        }
        for s in [
            &mut c.client_id,
            &mut c.username,
            &mut c.will_topic,
            &mut c.password,
        ]
        .into_iter()
        .flatten()
        {
            cap(s, MAX_VALUE_CHARS);
        }
        cap(&mut c.protocol_name, 64);
    }
    if let Some(t) = p.topic.as_mut() {
        cap(t, MAX_VALUE_CHARS);
    }
    p.filters.truncate(MAX_FILTERS);
    for (t, _) in &mut p.filters {
        cap(t, MAX_VALUE_CHARS);
    }
    p.codes.truncate(MAX_FILTERS);
    p.anomalies.truncate(MAX_FILTERS);
    for a in &mut p.anomalies {
        cap(a, 64);
    }
    if let Some(pl) = p.payload.as_mut() {
        if pl.as_bytes().len() > opts.payload_bytes {
            *pl = pl.cut(opts.payload_bytes);
        }
    }
}

fn redact_conn(m: &mut ConnFacts, sec: Secrets) {
    cap(&mut m.client, 256);
    cap(&mut m.server, 256);
    cap(&mut m.protocol, 32);
    if let Some(s) = m.sni.as_mut() {
        cap(s, 512);
    }
    if let Some(a) = m.alpn.as_mut() {
        a.truncate(MAX_FILTERS);
        for s in a {
            cap(s, 256);
        }
    }
    if let Some(t) = m.tls.as_mut() {
        t.client_versions.truncate(MAX_FILTERS);
        t.alpn_offered.truncate(MAX_FILTERS);
        t.certificates.truncate(MAX_CERTS);
        t.alerts.truncate(MAX_ALERTS);
        for s in t
            .client_versions
            .iter_mut()
            .chain(&mut t.alpn_offered)
            .chain(&mut t.sni)
            .chain(&mut t.version)
            .chain(&mut t.suite)
            .chain(&mut t.alpn)
            .chain(&mut t.hello_retry)
        {
            cap(s, 512);
        }
        for c in &mut t.certificates {
            c.san.truncate(MAX_FILTERS);
            for s in [
                &mut c.subject,
                &mut c.issuer,
                &mut c.key,
                &mut c.not_before,
                &mut c.not_after,
            ]
            .into_iter()
            .chain(&mut c.san)
            {
                cap(s, 1024);
            }
        }
        for a in &mut t.alerts {
            cap(&mut a.level, 32);
            cap(&mut a.name, 64);
        }
    }
    m.summary.truncate(MAX_SUMMARY_LINES);
    for l in &mut m.summary {
        if let std::borrow::Cow::Owned(v) = sec.text(l) {
            *l = v;
        }
        cap(l, MAX_VALUE_CHARS);
    }
    m.gaps.truncate(64);
}

impl diagnose::Report for CaptureReport {
    fn connection(&mut self, meta: &ConnMeta, proto: &ConnSummary, upgrades: &[UpgradeInfo]) {
        if self.conns.len() >= MAX_CONNS {
            // What add_connection does with a connection it cannot keep,
            // without building its facts first.
            self.conns_total += 1;
            self.open.remove(&meta.stream);
            return;
        }
        self.add_connection(ConnFacts::from_meta(meta, proto, upgrades));
    }

    fn finding(&mut self, f: &diagnose::Finding) {
        // Built only when kept: most are only counted. The diagnosis's codes
        // are short fixed names (diagnose::policy), within the 128-character
        // cap that add_finding applies to codes read back from JSON Lines.
        debug_assert!(f.code.len() <= 128, "{}", f.code);
        if self.count_finding(f.code, f.severity) {
            self.keep_finding(ReportFinding::from_finding(f));
        }
    }

    fn capture(&mut self, c: &CaptureSummary, v: &Verdict) {
        self.set_capture(CaptureInfo::from_summary(c), VerdictInfo::from_verdict(v));
    }

    fn error(&mut self, message: &str, offset: Option<u64>) {
        self.add_error(message, offset);
    }

    fn wants_page_text(&self, stream: u64) -> bool {
        // Past its bound the model keeps no Upgrade to show it in.
        self.room_for(stream)
    }

    fn record(&mut self, r: &Record<'_>) {
        match r {
            Record::Upgrade { meta, info } => {
                if self.room_for(meta.stream) {
                    self.add_upgrade(meta.stream, Upgrade::from_info(info));
                }
            }
            Record::Ws {
                meta,
                dir,
                frame,
                ts,
                h,
                end,
            } => {
                if self.wants_detail(meta.stream) {
                    self.add_ws(
                        meta.stream,
                        WsFrame {
                            dir: *dir,
                            frame: *frame,
                            ts: norm_ts(*ts),
                            opcode: h.opcode,
                            opcode_name: h.opcode_name().to_string(),
                            payload_len: h.payload_len,
                            close_code: end.close_code,
                            close_reason: end.close_reason.clone(),
                        },
                    );
                }
            }
            Record::Mqtt {
                meta,
                dir,
                frame,
                ts,
                p,
                ..
            } => {
                if self.wants_detail(meta.stream) {
                    let pb = self.opts.payload_bytes;
                    self.add_mqtt(
                        meta.stream,
                        MqttPacket::from_packet(*dir, *frame, norm_ts(*ts), p, pb),
                    );
                }
            }
            Record::HttpRequest { .. }
            | Record::Tunnel { .. }
            | Record::Anomaly { .. }
            | Record::MqttSession { .. }
            | Record::Summary { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_cut_equals_a_shorter_capture() {
        let data = "héllo wörld \u{1F600} end".as_bytes();
        for max in 0..data.len() + 2 {
            let whole = Payload::from_bytes(data, data.len());
            assert_eq!(whole.cut(max), Payload::from_bytes(data, max), "{max}");
        }
        let bin = [0x68u8, 0x69, 0xff, 0x00, 0x41];
        for max in 0..6 {
            let whole = Payload::from_bytes(&bin, 5);
            assert_eq!(whole.cut(max), Payload::from_bytes(&bin, max), "{max}");
        }
        assert_eq!(Payload::from_bytes(&bin, 2), Payload::Text("hi".into()));
    }

    #[test]
    fn error_page_title_and_text() {
        let page = "<!DOCTYPE html><html><head><title>IIS 7.5 Detailed Error - 404.0 - Not Found</title>\
            <style>body{x}</style></head><body><div id=\"header\"><h1>Server Error in Application &quot;DEFAULT WEB SITE&quot;</h1></div>\
            <div><h2>HTTP Error 404.0 - Not Found</h2><h3>The resource you are looking for has been removed.</h3></div>\
            <script>alert(1)</script><p>Module&nbsp;IIS Web Core</p></body></html>";
        let u = Upgrade {
            request_frame: 1,
            response_frame: Some(2),
            method: "GET".into(),
            uri: "/".into(),
            request_version: "HTTP/1.1".into(),
            request_headers: vec![],
            status: Some(404),
            reason: Some("Not Found".into()),
            response_version: Some("HTTP/1.1".into()),
            response_headers: vec![],
            protocols_offered: vec![],
            protocol_selected: None,
            extensions_offered: vec![],
            extensions_selected: vec![],
            accept: None,
            accept_expected: None,
            accept_valid: None,
            outcome: "rejected".into(),
            websocket: true,
            server: None,
            body: Some(Payload::Text(page.into())),
            page_text: crate::proto::handshake::page_text(page.as_bytes()),
        };
        assert_eq!(
            u.error_title().as_deref(),
            Some("IIS 7.5 Detailed Error - 404.0 - Not Found")
        );
        assert_eq!(
            u.error_lines(10),
            vec![
                "Server Error in Application \"DEFAULT WEB SITE\"",
                "HTTP Error 404.0 - Not Found",
                "The resource you are looking for has been removed.",
                "Module IIS Web Core"
            ]
        );
        assert_eq!(u.status_line().as_deref(), Some("HTTP/1.1 404 Not Found"));
        // Hostile or cut bodies never panic.
        for body in [
            "<",
            "<title",
            "<title>x",
            "<script>",
            "</",
            "<a<b<c>>",
            "&amp;lt;",
            "<title></title>",
        ] {
            let v = Upgrade {
                body: Some(Payload::Text(body.into())),
                ..u.clone()
            };
            let _ = (v.error_title(), v.error_lines(5));
        }
    }

    #[test]
    fn page_text_is_wanted_only_while_connections_are_kept() {
        use crate::diagnose::Report;
        // A model holding `n` closed connections.
        let model = |n: usize| {
            let mut ing = super::super::ingest::Ingest::new(ModelOpts::default());
            for st in 0..n as u64 {
                let v = serde_json::json!({"type": "connection", "file": "f", "stream": st, "end": "fin"});
                ing.record(&v).unwrap();
            }
            ing.finish().pop().unwrap()
        };
        assert!(model(MAX_CONNS - 1).wants_page_text(10_000));
        let full = model(MAX_CONNS);
        assert_eq!(full.conns.len(), MAX_CONNS);
        assert!(
            !full.wants_page_text(10_000),
            "the model is full: nobody shows it"
        );
    }

    #[test]
    fn timestamps_beyond_rfc3339_read_back_the_same() {
        for secs in [
            0,
            -1,
            TS_MIN,
            TS_MAX,
            TS_MAX + 1,
            i64::MAX / 4,
            TS_MIN - 86_400 * 400,
        ] {
            let t = norm_ts(Ts::new(secs, 123_456_000, 6));
            assert_eq!(
                super::super::ingest::parse_ts(&t.to_string()),
                Some(t),
                "{secs}"
            );
        }
    }
}
