//! What a capture's report holds: collected from the records by a [`Sink`],
//! rendered by `text`, `html`, `markdown` and `csv`. Everything is bounded:
//! a hostile capture cannot make a report grow without limit.

use crate::capture::Ts;
use crate::diagnose::UpgradeInfo;
use crate::event::{CaptureSummary, ConnProto, Finding, Severity, Sink};
use crate::flow::{ConnMeta, Dir};
use crate::stream::Record;

/// Connections kept in full per capture; the rest are counted.
pub const MAX_CONNS: usize = 500;
/// Findings kept per capture; the rest are counted.
pub const MAX_FINDINGS: usize = 10_000;
/// Findings kept per code (the reports group by code); the rest are counted.
pub const MAX_FINDINGS_PER_CODE: u64 = 200;
/// Timeline events kept per connection.
pub const MAX_EVENTS: usize = 200;

/// Order of findings of equal severity: the diagnosis first, then the
/// capture and transport problems that explain later symptoms.
pub fn code_rank(code: &str) -> u8 {
    if code.starts_with("ws_upgrade") {
        0
    } else if code == "mqtt_connect_refused"
        || code.starts_with("ws_accept")
        || code.starts_with("ws_subprotocol")
    {
        1
    } else if code.starts_with("capture_") {
        2
    } else if code.starts_with("tcp_") {
        3
    } else if code.starts_with("ws_") {
        4
    } else if code.starts_with("mqtt_") {
        5
    } else {
        6
    }
}

/// One point of a connection's timeline.
#[derive(Clone, Debug, PartialEq)]
pub struct TimelineEvent {
    pub frame: u64,
    pub ts: Ts,
    /// None for connection-level events.
    pub dir: Option<Dir>,
    /// `http`, `ws`, `mqtt`, `tcp`.
    pub layer: &'static str,
    /// Short label, e.g. `GET /mqtt`, `404 Not Found`, `binary 12 B`, `PUBLISH a/b`.
    pub label: String,
    /// The event is a problem (refused upgrade, close with error...).
    pub bad: bool,
}

/// A connection as reports show it.
#[derive(Clone, Debug)]
pub struct Conn {
    pub meta: ConnMeta,
    pub proto: ConnProto,
    pub upgrades: Vec<UpgradeInfo>,
    pub events: Vec<TimelineEvent>,
    pub events_dropped: u64,
}

/// Everything a report needs about one capture.
#[derive(Clone, Debug, Default)]
pub struct CaptureReport {
    pub file: String,
    pub capture: Option<CaptureSummary>,
    pub conns: Vec<Conn>,
    pub conns_total: u64,
    pub findings: Vec<Finding>,
    pub findings_dropped: u64,
    pub errors: Vec<(String, Option<u64>)>,
    /// Findings seen per code (kept or not).
    pub per_code: std::collections::BTreeMap<&'static str, u64>,
    /// Collect per-connection timelines (HTML needs them; text does not).
    pub timelines: bool,
    /// Events of connections still open (moved into `conns` when they end).
    open: std::collections::HashMap<u64, OpenConn>,
}

/// What is gathered about a connection until its record arrives.
#[derive(Clone, Debug, Default)]
struct OpenConn {
    events: Vec<TimelineEvent>,
    upgrades: Vec<UpgradeInfo>,
    dropped: u64,
}

impl CaptureReport {
    pub fn new(file: &str) -> CaptureReport {
        CaptureReport {
            file: file.to_string(),
            timelines: true,
            ..Default::default()
        }
    }

    /// A report without timelines (cheaper: for the text report).
    pub fn without_timelines(file: &str) -> CaptureReport {
        CaptureReport {
            timelines: false,
            ..CaptureReport::new(file)
        }
    }

    /// The worst severity among the findings (None: nothing found).
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }

    /// Findings grouped by code (in order of first appearance), worst first.
    pub fn grouped(&self) -> Vec<(&'static str, Vec<&Finding>)> {
        let mut groups: Vec<(&'static str, Vec<&Finding>)> = Vec::new();
        for f in &self.findings {
            match groups.iter_mut().find(|g| g.0 == f.code) {
                Some(g) => g.1.push(f),
                None => groups.push((f.code, vec![f])),
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
        if let Some((m, _)) = self.errors.first() {
            if self.capture.as_ref().is_none_or(|c| c.packets == 0) {
                return format!("✗ could not analyse: {m}");
            }
        }
        let groups = self.grouped();
        if let Some((code, fs)) = groups.first() {
            let f = fs[0];
            let mark = match f.severity {
                Severity::Error => "✗",
                Severity::Warning => "⚠",
                Severity::Info => "",
            };
            if !mark.is_empty() {
                let more = if fs.len() > 1 {
                    format!(" ({} connections)", fs.len())
                } else {
                    String::new()
                };
                return match *code {
                    "ws_upgrade_rejected_pre_iis8" => {
                        let who = self
                            .conns
                            .iter()
                            .filter(|c| Some(c.meta.stream) == f.stream)
                            .flat_map(|c| c.upgrades.iter())
                            .find_map(|u| u.server.clone())
                            .map(|p| {
                                format!(
                                    "IIS {} ({})",
                                    p.version.unwrap_or_default(),
                                    p.os.unwrap_or_default()
                                )
                            })
                            .unwrap_or_else(|| "an IIS older than 8.0".into());
                        format!(
                            "{mark} WebSocket upgrade refused by {who}: this server cannot speak WebSocket, so the device's MQTT-over-WebSocket connection can never start{more}"
                        )
                    }
                    _ => format!("{mark} {}{more}", f.message),
                };
            }
        }
        if self.conns_total == 0 {
            // Nothing decoded is never a green "no problems".
            let why = self
                .findings
                .iter()
                .find(|f| f.code == "capture_no_tcp")
                .map(|f| f.message.clone())
                .unwrap_or_else(|| "no TCP connection was decoded: nothing to analyse".into());
            return format!("ℹ {why}");
        }
        let ws = self
            .conns
            .iter()
            .filter(|c| c.proto.protocol == "websocket")
            .count();
        let mqtt_ws = self
            .conns
            .iter()
            .filter(|c| {
                c.proto.protocol == "websocket"
                    && c.proto.summary.iter().any(|l| l.starts_with("MQTT"))
            })
            .count();
        let mqtt = self
            .conns
            .iter()
            .filter(|c| c.proto.protocol == "mqtt")
            .count();
        let mut parts = Vec::new();
        if mqtt_ws > 0 {
            parts.push(format!("{mqtt_ws} MQTT-over-WebSocket session(s)"));
        } else if ws > 0 {
            parts.push(format!("{ws} WebSocket connection(s)"));
        }
        if mqtt > 0 {
            parts.push(format!("{mqtt} MQTT session(s)"));
        }
        if parts.is_empty() {
            parts.push(format!("{} TCP connection(s)", self.conns_total));
        }
        format!("✓ {}, no problems found", parts.join(" and "))
    }

    fn event(&mut self, stream: u64, e: TimelineEvent) {
        if !self.timelines {
            return;
        }
        let entry = self.open.entry(stream).or_default();
        if entry.events.len() < MAX_EVENTS {
            entry.events.push(e);
        } else {
            entry.dropped += 1;
        }
    }
}

impl Sink for CaptureReport {
    fn connection(&mut self, meta: &ConnMeta, proto: &ConnProto) {
        self.conns_total += 1;
        let o = self.open.remove(&meta.stream).unwrap_or_default();
        if self.conns.len() < MAX_CONNS {
            self.conns.push(Conn {
                meta: meta.clone(),
                proto: proto.clone(),
                upgrades: o.upgrades,
                events: o.events,
                events_dropped: o.dropped,
            });
        }
    }

    fn finding(&mut self, f: &Finding) {
        let same = self.per_code.entry(f.code).or_default();
        *same += 1;
        if self.findings.len() < MAX_FINDINGS && *same <= MAX_FINDINGS_PER_CODE {
            self.findings.push(f.clone());
        } else {
            self.findings_dropped += 1;
        }
    }

    fn capture(&mut self, c: &CaptureSummary) {
        self.capture = Some(c.clone());
        self.conns.sort_by_key(|c| c.meta.stream);
        self.open.clear();
    }

    fn error(&mut self, message: &str, offset: Option<u64>) {
        if self.errors.len() < 100 {
            self.errors.push((message.to_string(), offset));
        }
    }

    fn record(&mut self, r: &Record<'_>) {
        match r {
            Record::Upgrade { meta, info } => {
                let s = meta.stream;
                self.event(
                    s,
                    TimelineEvent {
                        frame: info.request_frame,
                        ts: meta.first_ts,
                        dir: Some(Dir::C2S),
                        layer: "http",
                        label: format!("{} {}", info.request.method, info.request.uri),
                        bad: false,
                    },
                );
                if let (Some(resp), Some(f)) = (&info.response, info.response_frame) {
                    self.event(
                        s,
                        TimelineEvent {
                            frame: f,
                            ts: meta.last_ts,
                            dir: Some(Dir::S2C),
                            layer: "http",
                            label: format!("{} {}", resp.status, resp.reason),
                            bad: resp.status != 101,
                        },
                    );
                }
                let entry = self.open.entry(s).or_default();
                if entry.upgrades.len() < 16 {
                    entry.upgrades.push((*info).clone());
                }
            }
            Record::Ws { .. } | Record::Mqtt { .. } if !self.timelines => {}
            Record::Ws {
                meta,
                dir,
                frame,
                ts,
                h,
                end,
            } => {
                let mut label = format!("{} {} B", h.opcode_name(), h.payload_len);
                if let Some(c) = end.close_code {
                    label = format!("close {c}");
                }
                self.event(
                    meta.stream,
                    TimelineEvent {
                        frame: *frame,
                        ts: *ts,
                        dir: Some(*dir),
                        layer: "ws",
                        label,
                        bad: end.close_code.is_some_and(|c| c != 1000 && c != 1001),
                    },
                );
            }
            Record::Mqtt {
                meta,
                dir,
                frame,
                ts,
                p,
                ..
            } => {
                let mut label = p.msg_name().to_string();
                if let crate::proto::mqtt::Body::Publish(pb) = &p.body {
                    label = format!("PUBLISH {}", pb.topic);
                }
                let bad = p.msg_type == 2 && p.reason_code().is_some_and(|c| c != 0);
                self.event(
                    meta.stream,
                    TimelineEvent {
                        frame: *frame,
                        ts: *ts,
                        dir: Some(*dir),
                        layer: "mqtt",
                        label,
                        bad,
                    },
                );
            }
        }
    }
}
