//! `diagnose`: the one stage that decides what the records mean.
//!
//! It consumes the record stream of one capture (`event::Record`, the
//! connection table's events and the capture's own problems) and owns all
//! finding policy: one table from code to severity, rank and hint
//! (`policy`), rules per upgrade (`upgrade`), per connection and MQTT
//! session (`conn`) and across connections (`cross`: retries, client-id
//! takeovers, repeated idle cuts, the two legs of a proxied request), and
//! the capture's verdict as a structured value. Records are passed on to
//! the report at once (streaming); findings follow when what decides them
//! is known: a connection's when it ends, cross-connection ones at the end
//! of the capture.

mod conn;
mod cross;
pub mod policy;
mod tls;
mod upgrade;

use crate::capture::Ts;
use crate::event::{CaptureSummary, ConnSummary, Record, RecordSink};
use crate::flow::{ConnMeta, FlowOut};
use crate::proto::handshake::UpgradeInfo;
use crate::proto::mqtt::SessionFinding;
use foldhash::HashMap;

pub use cross::DecodeIssues;

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
    /// Findings of one code that mean the same thing share a group (e.g.
    /// the reason code of a refused CONNECT); reports group by code and
    /// group.
    pub group: Option<String>,
    /// A quantity that adds up over a group (e.g. bytes missing), with its unit.
    pub amount: Option<(u64, &'static str)>,
}

impl Finding {
    /// A finding with the policy's severity for `code`.
    pub fn of(code: &'static str, message: impl Into<String>) -> Finding {
        Finding::new(code, policy::policy(code).severity, message)
    }

    pub fn new(code: &'static str, severity: Severity, message: impl Into<String>) -> Finding {
        Finding {
            code,
            severity,
            stream: None,
            frames: Vec::new(),
            message: message.into(),
            hint: None,
            group: None,
            amount: None,
        }
    }
    pub fn stream(mut self, s: u64) -> Self {
        self.stream = Some(s);
        self
    }
    pub fn frames(mut self, f: impl IntoIterator<Item = u64>) -> Self {
        self.frames = f.into_iter().filter(|&f| f > 0).collect();
        self
    }
    pub fn hint(mut self, h: impl Into<String>) -> Self {
        self.hint = Some(h.into());
        self
    }
    pub fn severity(mut self, s: Severity) -> Self {
        self.severity = s;
        self
    }
    pub fn group(mut self, g: impl Into<String>) -> Self {
        self.group = Some(g.into());
        self
    }
    pub fn amount(mut self, n: u64, unit: &'static str) -> Self {
        self.amount = Some((n, unit));
        self
    }

    /// The hint to show: the rule's own, else the policy's for the code.
    pub fn hint_or_default(&self) -> &str {
        match &self.hint {
            Some(h) => h,
            None => policy::policy(self.code).hint,
        }
    }

    /// A Wireshark display filter showing the evidence.
    pub fn filter(&self) -> Option<String> {
        let frames = match self.frames.as_slice() {
            [] => None,
            [f] => Some(format!("frame.number == {f}")),
            fs => {
                let list: Vec<String> = fs.iter().map(|f| f.to_string()).collect();
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

/// What a capture's headline says, as a value each report renders.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// Every attempt the capture shows succeeded.
    Ok,
    /// The capture cannot decide (nothing of the device's traffic in it,
    /// only encrypted sessions, or it stops before the answers).
    Inconclusive,
    Warning,
    Error,
    /// The file could not be read at all.
    Unreadable,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Inconclusive => "inconclusive",
            Status::Warning => "warning",
            Status::Error => "error",
            Status::Unreadable => "unreadable",
        }
    }
    /// The mark a report shows before the headline.
    pub fn mark(self) -> &'static str {
        match self {
            Status::Ok => "✓",
            Status::Inconclusive => "?",
            Status::Warning => "⚠",
            Status::Error | Status::Unreadable => "✗",
        }
    }
}

/// What the capture carried, counted per connection.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub tcp: u64,
    pub websocket: u64,
    pub mqtt_websocket: u64,
    pub mqtt_tcp: u64,
    /// TLS connections whose contents are not known (not decrypted).
    pub tls: u64,
    /// TLS connections decrypted with a key log.
    pub tls_decrypted: u64,
    pub http: u64,
    /// Connections that tried to start a session (Upgrade, CONNECT) and
    /// the ones whose session was accepted.
    pub attempts: u64,
    pub accepted: u64,
}

/// The capture's verdict.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    pub status: Status,
    /// The finding code behind the headline, if one is.
    pub code: Option<&'static str>,
    /// What the headline says, without the mark.
    pub cause: String,
    /// Connections the cause concerns.
    pub connections: u64,
    pub counts: Counts,
}

impl Verdict {
    /// The one-line verdict a person can paste into a ticket.
    pub fn text(&self) -> String {
        format!("{} {}", self.status.mark(), self.cause)
    }
}

/// Where the diagnosis goes: every report implements this.
pub trait Report {
    /// A record of the protocol stack, as it happens.
    fn record(&mut self, _r: &Record<'_>) {}
    /// A connection's final record, with what the protocol stack learnt
    /// and its Upgrades (kept once, here, for every report).
    fn connection(&mut self, meta: &ConnMeta, s: &ConnSummary, upgrades: &[UpgradeInfo]);
    fn finding(&mut self, f: &Finding);
    /// The end of the capture, with its verdict.
    fn capture(&mut self, c: &CaptureSummary, v: &Verdict);
    /// The file could not be (fully) read.
    fn error(&mut self, message: &str, offset: Option<u64>);
    /// Would this report show the text of an error page answering an
    /// Upgrade on `stream`? The diagnosis does not read it, so the stream
    /// layer extracts it only when asked (a report that keeps a bounded
    /// number of connections says no past its bound).
    fn wants_page_text(&self, _stream: u64) -> bool {
        true
    }
}

/// Anomaly records of one code on one connection, aggregated.
#[derive(Clone, Debug)]
struct Agg {
    code: &'static str,
    count: u64,
    frames: Vec<u64>,
    message: String,
}

/// Upgrades and session facts kept per connection.
const MAX_UPGRADES: usize = 16;
const MAX_SESSION_FACTS: usize = 64;
const MAX_ANOMALY_CODES: usize = 64;

/// What the diagnosis keeps of a live connection.
#[derive(Default)]
struct ConnDiag {
    anomalies: Vec<Agg>,
    upgrades: Vec<UpgradeInfo>,
    sessions: Vec<(u64, SessionFinding)>,
    summary: Option<Box<ConnSummary>>,
}

impl ConnDiag {
    fn anomaly(&mut self, code: &'static str, frame: u64, message: &str) {
        if let Some(a) = self.anomalies.iter_mut().find(|a| a.code == code) {
            a.count = a.count.saturating_add(1);
            if a.frames.len() < 10 && a.frames.last() != Some(&frame) {
                a.frames.push(frame);
            }
        } else if self.anomalies.len() < MAX_ANOMALY_CODES {
            self.anomalies.push(Agg {
                code,
                count: 1,
                frames: vec![frame],
                message: message.to_string(),
            });
        }
    }
}

/// What the diagnosis of a capture came to.
#[derive(Clone, Debug)]
pub struct Done {
    pub verdict: Verdict,
    /// Findings of severity warning or error.
    pub problems: u64,
    /// The file could not be (fully) read.
    pub error: bool,
}

/// The diagnosis stage of one capture.
pub struct Diagnoser<'a> {
    out: &'a mut dyn Report,
    live: HashMap<u64, ConnDiag>,
    cross: cross::Cross,
    /// Findings of severity warning or error.
    pub problems: u64,
    /// The file could not be (fully) read.
    pub error: bool,
    first_error: Option<String>,
}

impl<'a> Diagnoser<'a> {
    pub fn new(out: &'a mut dyn Report) -> Self {
        Diagnoser {
            out,
            live: HashMap::default(),
            cross: cross::Cross::default(),
            problems: 0,
            error: false,
            first_error: None,
        }
    }

    fn emit(&mut self, f: Finding) {
        if f.severity >= Severity::Warning {
            self.problems += 1;
        }
        self.cross.tally(&f);
        self.out.finding(&f);
    }

    /// The capture's last packet: connections still open are judged
    /// against it (an answer may simply not have been captured).
    pub fn capture_ends(&mut self, last: Option<Ts>) {
        self.cross.capture_end = last;
    }

    /// The file could not be (fully) read.
    pub fn error(&mut self, message: &str, offset: Option<u64>) {
        self.error = true;
        self.first_error.get_or_insert_with(|| message.to_string());
        self.out.error(message, offset);
    }

    /// The capture ended: cross-connection findings, the capture's own
    /// problems, then the verdict.
    pub fn finish(mut self, summary: &CaptureSummary, issues: &DecodeIssues) -> Done {
        let mut fs = Vec::new();
        self.cross.finish(&mut fs);
        cross::decode_findings(issues, summary, &mut fs);
        for f in fs {
            self.emit(f);
        }
        let verdict = self.cross.verdict(summary, self.first_error.as_deref());
        self.out.capture(summary, &verdict);
        Done {
            verdict,
            problems: self.problems,
            error: self.error,
        }
    }
}

impl FlowOut for Diagnoser<'_> {
    fn connection(&mut self, meta: &ConnMeta) {
        let mut d = self.live.remove(&meta.stream).unwrap_or_default();
        let summary = d.summary.take().map(|b| *b).unwrap_or_else(|| ConnSummary {
            protocol: "unknown",
            ..Default::default()
        });
        let mut fs = Vec::new();
        conn::findings(meta, &d, &summary, &mut self.cross, &mut fs);
        for f in fs {
            self.emit(f);
        }
        self.cross.connection(meta, &d, &summary);
        self.out.connection(meta, &summary, &d.upgrades);
    }

    fn table_full(&mut self, frame: u64, limit: usize) {
        self.emit(
            Finding::of(
                "tcp_connection_limit",
                format!(
                    "more than {limit} TCP connections were live at once (frame {frame}); the least recently active were dropped"
                ),
            )
            .frames([frame]),
        );
    }
}

impl Diagnoser<'_> {
    fn has_room_for_upgrade(&self, stream: u64) -> bool {
        self.live
            .get(&stream)
            .is_none_or(|d| d.upgrades.len() < MAX_UPGRADES)
    }

    fn keep_upgrade(&mut self, stream: u64, mut info: UpgradeInfo) {
        // Its page text went out with its record; neither the diagnosis
        // nor a connection's record reads it, and the Upgrade is kept until
        // the connection is reported (after its linger).
        info.page_text = Vec::new();
        let d = self.live.entry(stream).or_default();
        if d.upgrades.len() < MAX_UPGRADES {
            // Almost every connection has one: no spare capacity.
            d.upgrades.reserve_exact(1);
            d.upgrades.push(info);
        }
    }
}

impl RecordSink for Diagnoser<'_> {
    fn wants_page_text(&self, stream: u64) -> bool {
        self.out.wants_page_text(stream)
    }

    fn upgrade(&mut self, meta: &ConnMeta, info: UpgradeInfo) {
        self.out.record(&Record::Upgrade { meta, info: &info });
        self.keep_upgrade(meta.stream, info);
    }

    fn summary(&mut self, meta: &ConnMeta, s: ConnSummary) {
        self.out.record(&Record::Summary { meta, s: &s });
        self.live.entry(meta.stream).or_default().summary = Some(Box::new(s));
    }

    fn record(&mut self, r: &Record<'_>) {
        self.out.record(r);
        match r {
            Record::Upgrade { meta, info } => {
                if self.has_room_for_upgrade(meta.stream) {
                    self.keep_upgrade(meta.stream, (*info).clone());
                }
            }
            Record::HttpRequest {
                meta,
                frame,
                ts,
                req,
            } => {
                self.cross.request(meta, *frame, *ts, req);
            }
            Record::Anomaly {
                meta,
                frame,
                code,
                message,
                ..
            } => {
                self.live
                    .entry(meta.stream)
                    .or_default()
                    .anomaly(code, *frame, message);
            }
            Record::Mqtt { meta, frame, p, .. } => {
                if !p.anomalies.is_empty() {
                    let d = self.live.entry(meta.stream).or_default();
                    for a in &p.anomalies {
                        d.anomaly(a.code.as_str(), *frame, &a.message);
                    }
                }
            }
            Record::MqttSession { meta, frame, f } => {
                let d = self.live.entry(meta.stream).or_default();
                if d.sessions.len() < MAX_SESSION_FACTS {
                    d.sessions.reserve_exact(1);
                    d.sessions.push((*frame, (*f).clone()));
                }
            }
            Record::Summary { meta, s } => {
                self.live.entry(meta.stream).or_default().summary = Some(Box::new((*s).clone()));
            }
            Record::Ws { .. } | Record::Tunnel { .. } => {}
        }
    }
}
