//! The human report: per capture a one-line verdict, then findings with
//! evidence (grouped by code), then the connections.

use super::model::CaptureReport;
use crate::diagnose::Severity;
use crate::flow::ConnEnd;
use std::fmt::Write as _;

fn paint(color: bool, code: &str, s: &str) -> String {
    if color {
        format!("\x1b[{code}m{s}\x1b[0m")
    } else {
        s.to_string()
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

/// A short pause (time since the last data): µs, ms, then seconds.
pub fn fmt_gap(secs: f64) -> String {
    let secs = if secs.is_finite() { secs.max(0.0) } else { 0.0 };
    if secs < 0.001 {
        format!("{} µs", (secs * 1e6).round() as u64)
    } else if secs < 1.0 {
        format!("{:.1} ms", secs * 1e3)
    } else {
        fmt_dur(secs)
    }
}

/// Quote a string from a capture for a terminal: control characters escaped.
pub fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect()
}

/// The header line of a capture.
pub fn headline(r: &CaptureReport) -> String {
    match &r.capture {
        Some(c) => {
            let dur = match (c.first_ts, c.last_ts) {
                (Some(a), Some(b)) => fmt_dur(b.as_f64() - a.as_f64()),
                _ => "-".into(),
            };
            let undecoded = if c.not_decoded > 0 {
                format!(" ({} not decoded)", c.not_decoded)
            } else {
                String::new()
            };
            format!(
                "{}  {} · {} packets{undecoded} · {} · {} TCP connection(s){}",
                r.file,
                c.format,
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
        None => r.file.clone(),
    }
}

/// Render the report of one capture.
pub fn render(r: &CaptureReport, color: bool) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{}", paint(color, "1", &clean(&headline(r))));
    let v = clean(&r.verdict());
    let code = if v.starts_with('✓') {
        "32"
    } else if v.starts_with('?') {
        "36"
    } else if v.starts_with('⚠') {
        "33"
    } else {
        "31"
    };
    let _ = writeln!(s, "\n{}", paint(color, code, &v));
    for (m, off) in &r.errors {
        match off {
            Some(o) => {
                let _ = writeln!(s, "  error at byte {o}: {}", clean(m));
            }
            None => {
                let _ = writeln!(s, "  error: {}", clean(m));
            }
        }
    }
    let groups = r.grouped();
    if !groups.is_empty() {
        let _ = writeln!(s, "\nFINDINGS");
        for (code, fs) in &groups {
            let f = fs[0];
            let sev = match f.severity {
                Severity::Error => paint(color, "31", "error  "),
                Severity::Warning => paint(color, "33", "warning"),
                Severity::Info => paint(color, "36", "info   "),
            };
            let streams: Vec<u64> = fs.iter().filter_map(|f| f.stream).collect();
            let where_ = match streams.len() {
                0 => String::new(),
                1 => format!("  tcp.stream {}", streams[0]),
                n => format!(
                    "  {n} connections (tcp.stream {})",
                    streams
                        .iter()
                        .take(20)
                        .map(|s| s.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            let _ = writeln!(s, "  {sev} {code}{where_}");
            let _ = writeln!(s, "          {}", clean(&f.message));
            let _ = writeln!(s, "          Hint: {}", clean(f.hint_or_default()));
            let filter = if fs.len() > 1 && streams.len() > 1 {
                Some(format!(
                    "tcp.stream in {{{}}}",
                    streams
                        .iter()
                        .map(|s| s.to_string())
                        .collect::<Vec<_>>()
                        .join(" ")
                ))
            } else {
                f.filter()
            };
            if let Some(flt) = filter {
                let _ = writeln!(
                    s,
                    "          See:  wireshark -r {} -Y \"{flt}\"",
                    clean(&r.file)
                );
            }
        }
        if r.findings_dropped > 0 {
            let _ = writeln!(s, "  ... {} more finding(s) not listed", r.findings_dropped);
        }
    }
    if !r.conns.is_empty() {
        let _ = writeln!(s, "\nCONNECTIONS");
        for c in &r.conns {
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
                ConnEnd::Fin => "closed",
                ConnEnd::Rst => "reset",
                ConnEnd::Open => "open",
            };
            let _ = writeln!(
                s,
                "  #{:<3} {} → {}  {}  {} pkts  {}/{} bytes  {}  frames {}-{}{}",
                m.stream,
                m.client,
                m.server,
                m.protocol,
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
            for l in &m.summary {
                let _ = writeln!(s, "        {}", clean(l));
            }
        }
        if r.conns_total > r.conns.len() as u64 {
            let _ = writeln!(
                s,
                "  ... and {} more connection(s)",
                r.conns_total - r.conns.len() as u64
            );
        }
    }
    s
}
