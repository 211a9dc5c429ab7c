//! The batch report as CSV: one row per finding
//! (`file,code,severity,stream,frames,message,hint,filter`).
//!
//! RFC 4180: fields with a comma, quote, CR or LF are quoted, quotes doubled,
//! records end with CRLF. Strings from a capture are also guarded against
//! spreadsheet formula injection: a cell that starts with `=`, `+`, `-`, `@`,
//! tab or CR gets a leading `'`, so a spreadsheet shows it as text.
//!
//! A capture that could not be (fully) read adds one row per error, with an
//! empty code, severity `error` and the message (there is nothing else to
//! put on a row for it).

use super::model::CaptureReport;
use std::fmt::Write as _;

/// The header row's names.
pub const COLUMNS: [&str; 8] = [
    "file", "code", "severity", "stream", "frames", "message", "hint", "filter",
];

/// One CSV field: formula-guarded, then quoted when needed (RFC 4180).
pub fn field(s: &str) -> String {
    let guarded;
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        guarded = format!("'{s}");
        guarded.as_str()
    } else {
        s
    };
    if s.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn row(out: &mut String, cells: &[&str]) {
    for (i, c) in cells.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&field(c));
    }
    out.push_str("\r\n");
}

/// Render a batch of capture reports as CSV, header row first.
pub fn render(reports: &[CaptureReport]) -> String {
    let mut out = String::new();
    row(&mut out, &COLUMNS);
    for r in reports {
        for (m, off) in &r.errors {
            let msg = match off {
                Some(o) => format!("could not read the file: {m} (at byte {o})"),
                None => format!("could not read the file: {m}"),
            };
            row(&mut out, &[&r.file, "", "error", "", "", &msg, "", ""]);
        }
        for f in &r.findings {
            let stream = f.stream.map(|s| s.to_string()).unwrap_or_default();
            let mut frames = String::new();
            for (i, fr) in f.frames.iter().enumerate() {
                if i > 0 {
                    frames.push(' ');
                }
                let _ = write!(frames, "{fr}");
            }
            let filter = f.filter().unwrap_or_default();
            row(
                &mut out,
                &[
                    &r.file,
                    &f.code,
                    f.severity.as_str(),
                    &stream,
                    &frames,
                    &f.message,
                    f.hint_or_default(),
                    &filter,
                ],
            );
        }
        if r.findings_dropped > 0 {
            let msg = format!("{} more finding(s) not kept", r.findings_dropped);
            row(&mut out, &[&r.file, "", "info", "", "", &msg, "", ""]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::{Finding, Severity};
    use crate::report::model::ReportFinding;

    #[test]
    fn quotes_per_rfc4180() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("l1\nl2"), "\"l1\nl2\"");
        assert_eq!(field("l1\r\nl2"), "\"l1\r\nl2\"");
        assert_eq!(field(""), "");
        assert_eq!(
            field("<script>alert(1)</script>"),
            "<script>alert(1)</script>"
        );
    }

    #[test]
    fn guards_formulas() {
        assert_eq!(field("=1+2"), "'=1+2");
        assert_eq!(field("+1"), "'+1");
        assert_eq!(field("-2"), "'-2");
        assert_eq!(field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(field("\tx"), "'\tx");
        assert_eq!(field("\rx"), "\"'\rx\"");
        assert_eq!(
            field("=HYPERLINK(\"http://e\",\"x\")"),
            "\"'=HYPERLINK(\"\"http://e\"\",\"\"x\"\")\""
        );
        assert_eq!(field("a=b"), "a=b");
    }

    #[test]
    fn one_row_per_finding() {
        let mut r = CaptureReport::new("site, \"A\".pcap");
        r.add_finding(ReportFinding::from_finding(
            &Finding::new(
                "ws_upgrade_rejected",
                Severity::Error,
                "GET /<img src=x onerror=alert(2)> answered 404,\nfine",
            )
            .stream(2)
            .frames(vec![4, 9])
            .hint("=cmd|' /C calc'!A0"),
        ));
        r.add_finding(ReportFinding::from_finding(
            &Finding::new("tcp_gap", Severity::Warning, "gap").frames(vec![7]),
        ));
        r.errors.push(("truncated".into(), Some(100)));
        let csv = render(&[r]);
        let rows: Vec<&str> = csv.split("\r\n").collect();
        assert_eq!(
            rows[0],
            "file,code,severity,stream,frames,message,hint,filter"
        );
        assert_eq!(
            rows[1],
            "\"site, \"\"A\"\".pcap\",,error,,,could not read the file: truncated (at byte 100),,"
        );
        assert_eq!(
            rows[2],
            "\"site, \"\"A\"\".pcap\",ws_upgrade_rejected,error,2,4 9,\"GET /<img src=x onerror=alert(2)> answered 404,\nfine\",'=cmd|' /C calc'!A0,tcp.stream eq 2 && frame.number in {4 9}"
        );
        assert_eq!(
            rows[3],
            format!(
                "\"site, \"\"A\"\".pcap\",tcp_gap,warning,,7,gap,{},frame.number == 7",
                field(crate::diagnose::policy::policy("tcp_gap").hint)
            )
        );
        assert_eq!(rows[4], "");
        assert_eq!(rows.len(), 5);
    }
}
