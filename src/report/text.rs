//! The human report: per capture a one-line verdict, then findings with
//! evidence, then the connections.

use crate::event::{CaptureSummary, ConnProto, Finding, Severity, Sink};
use crate::flow::ConnMeta;
use std::fmt::Write as _;

/// Connections listed in full; the rest are counted.
const MAX_CONNS_LISTED: usize = 200;

struct ConnLine {
    meta: ConnMeta,
    proto: ConnProto,
}

/// Collects one capture's records and renders them.
pub struct Text {
    file: String,
    color: bool,
    conns: Vec<ConnLine>,
    conns_total: u64,
    findings: Vec<Finding>,
    capture: Option<CaptureSummary>,
    errors: Vec<(String, Option<u64>)>,
}

impl Text {
    pub fn new(file: &str, color: bool) -> Text {
        Text {
            file: file.to_string(),
            color,
            conns: Vec::new(),
            conns_total: 0,
            findings: Vec::new(),
            capture: None,
            errors: Vec::new(),
        }
    }

    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    /// The one-line verdict.
    pub fn verdict(&self) -> String {
        if let Some((m, _)) = self.errors.first() {
            return format!("✗ could not analyse: {m}");
        }
        let worst = self.findings.iter().map(|f| f.severity).max();
        let first_of = |s: Severity| self.findings.iter().find(|f| f.severity == s);
        match worst {
            Some(Severity::Error) => {
                let f = first_of(Severity::Error)
                    .map(|f| f.message.as_str())
                    .unwrap_or("");
                format!("✗ {f}")
            }
            Some(Severity::Warning) => {
                let f = first_of(Severity::Warning)
                    .map(|f| f.message.as_str())
                    .unwrap_or("");
                format!("⚠ {f}")
            }
            _ => {
                let n = self.conns_total;
                format!("✓ {n} TCP connection(s), no problems found")
            }
        }
    }

    /// Render the report.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let head = match &self.capture {
            Some(c) => {
                let dur = match (c.first_ts, c.last_ts) {
                    (Some(a), Some(b)) => fmt_dur(b.as_f64() - a.as_f64()),
                    _ => "-".into(),
                };
                format!(
                    "{}  {} · {} packets · {} · {} TCP connection(s){}",
                    self.file,
                    c.format.as_str(),
                    c.packets,
                    dur,
                    c.streams,
                    if c.complete {
                        ""
                    } else {
                        " · INCOMPLETE FILE"
                    }
                )
            }
            None => self.file.clone(),
        };
        let _ = writeln!(s, "{}", self.paint("1", &head));
        let v = self.verdict();
        let code = if v.starts_with('✓') {
            "32"
        } else if v.starts_with('⚠') {
            "33"
        } else {
            "31"
        };
        let _ = writeln!(s, "\n{}", self.paint(code, &v));
        for (m, off) in &self.errors {
            match off {
                Some(o) => {
                    let _ = writeln!(s, "  error at byte {o}: {m}");
                }
                None => {
                    let _ = writeln!(s, "  error: {m}");
                }
            }
        }
        if !self.findings.is_empty() {
            let _ = writeln!(s, "\nFINDINGS");
            let mut sorted: Vec<&Finding> = self.findings.iter().collect();
            sorted.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.stream.cmp(&b.stream)));
            for f in sorted {
                let sev = match f.severity {
                    Severity::Error => self.paint("31", "error  "),
                    Severity::Warning => self.paint("33", "warning"),
                    Severity::Info => self.paint("36", "info   "),
                };
                let stream = f
                    .stream
                    .map(|s| format!("  tcp.stream {s}"))
                    .unwrap_or_default();
                let _ = writeln!(s, "  {sev} {}{stream}", f.code);
                let _ = writeln!(s, "          {}", f.message);
                if let Some(h) = &f.hint {
                    let _ = writeln!(s, "          Hint: {h}");
                }
                if let Some(flt) = f.filter() {
                    let _ = writeln!(s, "          See:  wireshark -r {} -Y \"{flt}\"", self.file);
                }
            }
        }
        if !self.conns.is_empty() {
            let _ = writeln!(s, "\nCONNECTIONS");
            for c in &self.conns {
                let m = &c.meta;
                let mut notes = Vec::new();
                if !m.syn {
                    notes.push("no SYN (mid-stream)".to_string());
                }
                if m.retransmissions > 0 {
                    notes.push(format!("{} retransmission(s)", m.retransmissions));
                }
                if m.out_of_order > 0 {
                    notes.push(format!("{} out of order", m.out_of_order));
                }
                if !m.gaps.is_empty() {
                    let b: u64 = m.gaps.iter().map(|g| g.bytes).sum();
                    notes.push(format!("{} gap(s), {} bytes missing", m.gaps_total, b));
                }
                let end = match m.end {
                    crate::flow::ConnEnd::Fin => "closed",
                    crate::flow::ConnEnd::Rst => "reset",
                    crate::flow::ConnEnd::Open => "open",
                };
                let _ = writeln!(
                    s,
                    "  #{:<3} {} → {}  {}  {} pkts  {}/{} bytes  {}  frames {}-{}{}",
                    m.stream,
                    m.client,
                    m.server,
                    c.proto.protocol,
                    m.packets,
                    m.bytes[0],
                    m.bytes[1],
                    end,
                    m.first_frame,
                    m.last_frame,
                    if notes.is_empty() {
                        String::new()
                    } else {
                        format!("  ({})", notes.join(", "))
                    }
                );
                for l in &c.proto.summary {
                    let _ = writeln!(s, "        {l}");
                }
            }
            if self.conns_total > self.conns.len() as u64 {
                let _ = writeln!(
                    s,
                    "  ... and {} more connection(s)",
                    self.conns_total - self.conns.len() as u64
                );
            }
        }
        s
    }
}

fn fmt_dur(secs: f64) -> String {
    let secs = secs.max(0.0);
    if secs < 60.0 {
        format!("{secs:.3} s")
    } else {
        let t = secs as u64;
        format!("{:02}:{:02}:{:02}", t / 3600, (t / 60) % 60, t % 60)
    }
}

impl Sink for Text {
    fn connection(&mut self, meta: &ConnMeta, proto: &ConnProto) {
        self.conns_total += 1;
        if self.conns.len() < MAX_CONNS_LISTED {
            self.conns.push(ConnLine {
                meta: meta.clone(),
                proto: proto.clone(),
            });
        }
    }
    fn finding(&mut self, f: &Finding) {
        // Bounded: a hostile capture can produce findings per connection.
        if self.findings.len() < 10_000 {
            self.findings.push(f.clone());
        }
    }
    fn capture(&mut self, c: &CaptureSummary) {
        self.capture = Some(c.clone());
        self.conns.sort_by_key(|c| c.meta.stream);
    }
    fn error(&mut self, message: &str, offset: Option<u64>) {
        self.errors.push((message.to_string(), offset));
    }
}
