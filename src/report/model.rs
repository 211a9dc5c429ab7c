//! What a capture's report holds: collected from the records by a [`Sink`],
//! rendered by `text`, `html`, `markdown` and `csv`. Everything is bounded:
//! a hostile capture cannot make a report grow without limit.

use crate::capture::Ts;
use crate::diagnose::{policy, Finding, Report, Severity, Status, Verdict};
use crate::event::{CaptureSummary, ConnSummary, Record};
use crate::flow::{ConnMeta, Dir};
use crate::proto::handshake::UpgradeInfo;

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
    policy::policy(code).rank
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
    pub proto: ConnSummary,
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
    /// The capture's verdict (when the capture ended).
    pub verdict: Option<Verdict>,
    /// Collect per-connection timelines (HTML needs them; text does not).
    pub timelines: bool,
    /// Events of connections still open (moved into `conns` when they end).
    open: std::collections::HashMap<u64, OpenConn>,
}

/// What is gathered about a connection until its record arrives.
#[derive(Clone, Debug, Default)]
struct OpenConn {
    events: Vec<TimelineEvent>,
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
            match groups
                .iter_mut()
                .find(|g| g.0 == f.code && g.1[0].group == f.group && g.1[0].severity == f.severity)
            {
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
        match &self.verdict {
            Some(v) => v.text(),
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

    fn event(&mut self, stream: u64, e: TimelineEvent) {
        // Connections beyond MAX_CONNS are only counted: gather nothing
        // for them (a busy capture has thousands open at once).
        if !self.timelines || self.conns.len() >= MAX_CONNS {
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

impl Report for CaptureReport {
    fn connection(&mut self, meta: &ConnMeta, proto: &ConnSummary, upgrades: &[UpgradeInfo]) {
        self.conns_total += 1;
        let o = self.open.remove(&meta.stream).unwrap_or_default();
        if self.conns.len() < MAX_CONNS {
            let mut proto = proto.clone();
            proto.summary = super::lines::conn_lines(&proto, upgrades);
            self.conns.push(Conn {
                meta: meta.clone(),
                proto,
                upgrades: upgrades.iter().take(16).cloned().collect(),
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

    fn capture(&mut self, c: &CaptureSummary, v: &Verdict) {
        self.capture = Some(c.clone());
        self.verdict = Some(v.clone());
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
            }
            Record::HttpRequest { .. }
            | Record::Tunnel { .. }
            | Record::Anomaly { .. }
            | Record::MqttSession { .. }
            | Record::Summary { .. } => {}
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
