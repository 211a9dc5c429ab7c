//! The batch report as Markdown, for pasting into tickets: per capture the
//! verdict, a findings table and the Wireshark filters.
//!
//! Strings from a capture are escaped so that they show as written and
//! cannot break a table, open a link, emphasis or a code span, or inject
//! HTML (which many Markdown renderers pass through): markdown punctuation
//! is backslash-escaped (`\<script\>` renders as `<script>`), newlines become
//! spaces.

use super::html::group_filter;
use super::model::CaptureReport;
use super::text;
use crate::diagnose::Finding;
use std::fmt::Write as _;

/// Escape text from a capture for Markdown (also safe inside table cells):
/// `` \ ` * [ ] < > | & ~ # `` and `_` at word edges are backslash-escaped;
/// line breaks and other control characters become spaces.
pub fn escape(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len() + 8);
    for (i, &c) in chars.iter().enumerate() {
        match c {
            '\\' | '`' | '*' | '[' | ']' | '<' | '>' | '|' | '&' | '~' | '#' => {
                out.push('\\');
                out.push(c);
            }
            '_' => {
                // Intraword underscores never make emphasis; keep them readable.
                let alnum = |j: Option<&char>| j.is_some_and(|c| c.is_alphanumeric());
                let inner = i > 0 && alnum(chars.get(i - 1)) && alnum(chars.get(i + 1));
                if !inner {
                    out.push('\\');
                }
                out.push('_');
            }
            '\r' | '\n' => out.push(' '),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// `s` as an inline code span (fence longer than any backtick run inside,
/// newlines as spaces). Pipes are escaped for use in table cells (GFM
/// unescapes `\|` inside code spans in tables).
pub fn code_span(s: &str, in_table: bool) -> String {
    let s: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let s = if in_table { s.replace('|', "\\|") } else { s };
    let mut run = 0;
    let mut longest = 0;
    for c in s.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    let fence = "`".repeat(longest + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') || s.starts_with(' ') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{s}{pad}{fence}")
}

fn nums(v: &[u64], max: usize) -> String {
    let mut s = v
        .iter()
        .take(max)
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    if v.len() > max {
        let _ = write!(s, ", … ({} more)", v.len() - max);
    }
    s
}

/// Render a batch of capture reports as Markdown.
pub fn render(reports: &[CaptureReport]) -> String {
    let mut s = String::new();
    for (i, r) in reports.iter().enumerate() {
        if i > 0 {
            s.push_str("\n---\n\n");
        }
        capture(&mut s, r);
    }
    s
}

fn capture(s: &mut String, r: &CaptureReport) {
    let _ = writeln!(s, "### {}\n", escape(&r.file));
    let _ = writeln!(s, "**Verdict:** {}\n", escape(&r.verdict()));
    let _ = writeln!(s, "{}\n", code_span(&text::headline(r), false));
    for (m, off) in &r.errors {
        match off {
            Some(o) => {
                let _ = writeln!(s, "- error at byte {o}: {}", escape(m));
            }
            None => {
                let _ = writeln!(s, "- error: {}", escape(m));
            }
        }
    }
    if !r.errors.is_empty() {
        s.push('\n');
    }
    let groups = r.grouped();
    if groups.is_empty() {
        s.push_str("No findings.\n");
        return;
    }
    s.push_str("| Severity | Code | Streams | Frames | Message |\n");
    s.push_str("|---|---|---|---|---|\n");
    for (code, fs) in &groups {
        let (streams, frames) = streams_frames(fs);
        let msg = if fs.len() > 1 {
            format!("{} (and {} more like it)", fs[0].message, fs.len() - 1)
        } else {
            fs[0].message.clone()
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} |",
            fs[0].severity.as_str(),
            code_span(code, true),
            nums(&streams, 20),
            nums(&frames, 20),
            escape(&msg)
        );
    }
    if r.findings_dropped > 0 {
        let _ = writeln!(s, "\n… {} more finding(s) not listed.", r.findings_dropped);
    }
    s.push('\n');
    for (code, fs) in &groups {
        let flt = group_filter(fs);
        let hint = Some(fs[0].hint_or_default());
        if flt.is_none() && hint.is_none() {
            continue;
        }
        let _ = write!(s, "- {}", code_span(code, false));
        if let Some(f) = flt {
            let _ = write!(s, " — Wireshark filter: {}", code_span(&f, false));
        }
        if let Some(h) = hint {
            let _ = write!(s, "  \n  What to do: {}", escape(h));
        }
        s.push('\n');
    }
}

fn streams_frames(fs: &[&Finding]) -> (Vec<u64>, Vec<u64>) {
    let mut streams: Vec<u64> = fs.iter().filter_map(|f| f.stream).collect();
    streams.sort_unstable();
    streams.dedup();
    let mut frames: Vec<u64> = fs.iter().flat_map(|f| f.frames.iter().copied()).collect();
    frames.sort_unstable();
    frames.dedup();
    (streams, frames)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::Severity;

    #[test]
    fn escapes_pipes_backticks_newlines_and_html() {
        assert_eq!(escape("a|b"), "a\\|b");
        assert_eq!(escape("x`y`"), "x\\`y\\`");
        assert_eq!(escape("l1\nl2\r\nl3"), "l1 l2  l3");
        assert_eq!(
            escape("<script>alert(1)</script>"),
            "\\<script\\>alert(1)\\</script\\>"
        );
        assert_eq!(
            escape("<img src=x onerror=alert(2)>"),
            "\\<img src=x onerror=alert(2)\\>"
        );
        assert_eq!(escape("[x](http://e)"), "\\[x\\](http://e)");
        assert_eq!(escape("server_header, _em_"), "server_header, \\_em\\_");
        assert_eq!(code_span("a`b", false), "``a`b``");
        assert_eq!(code_span("`x", false), "`` `x ``");
        assert_eq!(code_span("a|b", true), "`a\\|b`");
    }

    #[test]
    fn table_rows_stay_one_row() {
        let mut r = CaptureReport::new("a|b\n.pcap");
        r.findings.push(
            Finding::new(
                "ws_upgrade_rejected",
                Severity::Error,
                "GET /x|y\n| injected | row |\n`code` <script>alert(1)</script>",
            )
            .stream(3)
            .frames(vec![4, 9])
            .hint("do | this"),
        );
        let md = render(&[r]);
        assert!(md.starts_with("### a\\|b .pcap\n"), "{md}");
        let rows: Vec<&str> = md.lines().filter(|l| l.starts_with("| ")).collect();
        assert_eq!(rows.len(), 2, "{md}");
        let row = rows[1];
        assert!(row.starts_with("| error | `ws_upgrade_rejected` | 3 | 4, 9 | GET /x\\|y \\| injected \\| row \\| \\`code\\` \\<script\\>"));
        // Five cells: six unescaped pipes.
        let unescaped = row
            .char_indices()
            .filter(|&(i, c)| c == '|' && (i == 0 || &row[i - 1..i] != "\\"))
            .count();
        assert_eq!(unescaped, 6, "{row}");
        assert!(md.contains("Wireshark filter: `tcp.stream eq 3 && frame.number in {4 9}`"));
        assert!(md.contains("What to do: do \\| this"));
        // Every `<` outside code spans is backslash-escaped: no raw HTML.
        for (i, _) in md.match_indices('<') {
            assert_eq!(&md[i - 1..i], "\\", "raw < in {md}");
        }
    }
}
