//! The batch report as Markdown, for pasting into tickets: per capture a
//! ready block (verdict, cause, fix, where, the Wireshark command, and the
//! evidence lines: request line, status line, Server header, MQTT and TLS
//! facts, how the connection ended, each with its frame), then the findings
//! table and what to do per code.
//!
//! Strings from a capture are escaped so that they show as written and
//! cannot break a table, open a link, emphasis or a code span, or inject
//! HTML (which many Markdown renderers pass through): markdown punctuation
//! is backslash-escaped (`\<script\>` renders as `<script>`), newlines become
//! spaces. Evidence lines are quoted verbatim in a fenced code block whose
//! fence is longer than any run of backticks inside it (Markdown shows code
//! blocks as text, HTML included).

use super::html::{capture_slugs, group_filter};
use super::model::{CaptureReport, Conn, ReportFinding};
use super::text;
use crate::flow::Dir;
use std::fmt::Write as _;

/// Evidence lines shown per connection, and connections shown per ticket.
pub const MAX_EVIDENCE_LINES: usize = 24;
pub const MAX_EVIDENCE_CONNS: usize = 2;
/// Lines of an error page's text quoted in the evidence.
pub const MAX_PAGE_LINES: usize = 4;

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
    let fence = "`".repeat(longest_backtick_run(&s) + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') || s.starts_with(' ') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{s}{pad}{fence}")
}

fn longest_backtick_run(s: &str) -> usize {
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
    longest
}

/// Lines as a fenced code block (control characters become spaces; the
/// fence is longer than any backtick run in the lines).
pub fn code_block(lines: &[String]) -> String {
    let clean: Vec<String> = lines
        .iter()
        .map(|l| {
            l.chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect()
        })
        .collect();
    let longest = clean
        .iter()
        .map(|l| longest_backtick_run(l))
        .max()
        .unwrap_or(0);
    let fence = "`".repeat((longest + 1).max(3));
    let mut s = format!("{fence}text\n");
    for l in &clean {
        s.push_str(l);
        s.push('\n');
    }
    s.push_str(&fence);
    s.push('\n');
    s
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
    let slugs = capture_slugs(reports);
    let mut s = String::new();
    for (i, (r, slug)) in reports.iter().zip(&slugs).enumerate() {
        if i > 0 {
            s.push_str("\n---\n\n");
        }
        capture(&mut s, r, slug);
    }
    s
}

fn secs(t: f64) -> String {
    let t = if t.is_finite() { t.max(0.0) } else { 0.0 };
    format!("{t:.3} s")
}

fn side(d: Dir) -> &'static str {
    match d {
        Dir::C2S => "client",
        Dir::S2C => "server",
    }
}

/// `MQTT 3.1.1` for protocol level 4.
pub fn mqtt_version(level: u8) -> &'static str {
    match level {
        3 => "MQTT 3.1",
        4 => "MQTT 3.1.1",
        5 => "MQTT 5.0",
        _ => "unknown MQTT version",
    }
}

fn quote(s: &str) -> String {
    format!("“{s}”")
}

/// The evidence of one connection, as (frame, direction, lines) in frame
/// order: what a person would point at in Wireshark.
pub fn evidence(c: &Conn) -> Vec<String> {
    let m = &c.meta;
    let t0 = m.first_ts.as_f64();
    let mut items: Vec<(u64, Option<Dir>, Vec<String>)> = Vec::new();
    if let Some(t) = &m.tls {
        if let Some(f) = t.client_hello_frame {
            items.push((
                f,
                Some(Dir::C2S),
                vec![format!(
                    "TLS ClientHello: server name {}, versions {}{}",
                    t.sni.as_deref().map_or("none".to_string(), quote),
                    t.client_versions.join(", "),
                    if t.alpn_offered.is_empty() {
                        String::new()
                    } else {
                        format!(", ALPN {}", t.alpn_offered.join(", "))
                    }
                )],
            ));
        }
        if let Some(f) = t.server_hello_frame {
            let mut l = vec![format!(
                "TLS ServerHello: {}, {}{}",
                t.version.as_deref().unwrap_or("?"),
                t.suite.as_deref().unwrap_or("?"),
                t.alpn
                    .as_deref()
                    .map(|a| format!(", ALPN {a}"))
                    .unwrap_or_default()
            )];
            for cert in t.certificates.iter().take(1) {
                l.push(format!(
                    "certificate {}, issuer {}, valid {} to {}{}",
                    quote(&cert.subject),
                    quote(&cert.issuer),
                    cert.not_before,
                    cert.not_after,
                    if cert.self_signed {
                        " (self-signed)"
                    } else {
                        ""
                    }
                ));
            }
            items.push((f, Some(Dir::S2C), l));
        }
        for a in &t.alerts {
            items.push((
                a.frame,
                Some(a.dir),
                vec![format!(
                    "TLS {} alert {} ({})",
                    a.level, a.name, a.description
                )],
            ));
        }
    }
    for u in c.upgrades.iter().take(2) {
        let mut l = vec![u.request_line()];
        for (k, v) in &u.request_headers {
            let n = k.to_ascii_lowercase();
            if matches!(
                n.as_str(),
                "host"
                    | "upgrade"
                    | "connection"
                    | "sec-websocket-version"
                    | "sec-websocket-protocol"
                    | "sec-websocket-extensions"
                    | "authorization"
                    | "user-agent"
            ) {
                l.push(format!("{k}: {v}"));
            }
        }
        items.push((u.request_frame, Some(Dir::C2S), l));
        match (u.status_line(), u.response_frame) {
            (Some(line), Some(f)) => {
                let mut l = vec![line];
                for (k, v) in &u.response_headers {
                    let n = k.to_ascii_lowercase();
                    if matches!(
                        n.as_str(),
                        "server"
                            | "x-powered-by"
                            | "x-aspnet-version"
                            | "upgrade"
                            | "connection"
                            | "sec-websocket-protocol"
                            | "sec-websocket-accept"
                            | "sec-websocket-version"
                            | "location"
                            | "www-authenticate"
                    ) {
                        l.push(format!("{k}: {v}"));
                    }
                }
                if u.status == Some(101) && u.accept_valid == Some(false) {
                    l.push(format!(
                        "(Sec-WebSocket-Accept expected {})",
                        u.accept_expected.as_deref().unwrap_or("?")
                    ));
                }
                if let Some(t) = u.error_title() {
                    l.push(format!("error page title: {}", quote(&t)));
                }
                for t in u.error_lines(MAX_PAGE_LINES) {
                    l.push(format!("error page: {t}"));
                }
                items.push((f, Some(Dir::S2C), l));
            }
            _ => items.push((
                u.request_frame,
                None,
                vec![format!(
                    "no answer to the Upgrade ({})",
                    u.outcome.replace('_', " ")
                )],
            )),
        }
    }
    if let Some(p) = &c.mqtt.connect {
        if let Some(k) = &p.connect {
            items.push((
                p.frame,
                Some(p.dir),
                vec![format!(
                    "MQTT CONNECT: {} level {} ({}), client id {}, user name {}, keep-alive {} s",
                    k.protocol_name,
                    k.level,
                    mqtt_version(k.level),
                    k.client_id.as_deref().map_or("none".to_string(), quote),
                    k.username.as_deref().map_or("none".to_string(), quote),
                    k.keep_alive
                )],
            ));
        }
    }
    if let Some(p) = &c.mqtt.connack {
        items.push((
            p.frame,
            Some(p.dir),
            vec![format!(
                "MQTT CONNACK: code {} ({})",
                p.code.unwrap_or(0),
                p.reason_name.as_deref().unwrap_or("?")
            )],
        ));
    }
    for d in c.mqtt.disconnect.iter().flatten() {
        items.push((
            d.frame,
            Some(d.dir),
            vec![format!(
                "MQTT DISCONNECT: reason {} ({})",
                d.code.unwrap_or(0),
                d.reason_name.as_deref().unwrap_or("normal")
            )],
        ));
    }
    for w in c.ws_close.iter().flatten() {
        items.push((
            w.frame,
            Some(w.dir),
            vec![format!(
                "WebSocket Close {}{}",
                w.close_code
                    .map_or("without a code".into(), |c| c.to_string()),
                w.close_reason
                    .as_deref()
                    .filter(|r| !r.is_empty())
                    .map(|r| format!(" {}", quote(r)))
                    .unwrap_or_default()
            )],
        ));
    }
    if let Some(cl) = &m.close {
        items.push((
            cl.frame,
            Some(cl.by),
            vec![format!(
                "TCP: the {} closed first with {} at +{}{}",
                side(cl.by),
                if cl.rst { "RST" } else { "FIN" },
                secs(cl.ts.as_f64() - t0),
                if cl.quiet_us > 0 {
                    format!(
                        ", {} after the last data",
                        text::fmt_gap(cl.quiet_us as f64 / 1e6)
                    )
                } else {
                    String::new()
                }
            )],
        ));
    } else if m.end == crate::flow::ConnEnd::Open {
        items.push((
            m.last_frame,
            None,
            vec!["TCP: still open when the capture ended".into()],
        ));
    }
    items.sort_by_key(|i| i.0);
    let mut out = Vec::new();
    for (frame, dir, lines) in items {
        let arrow = match dir {
            Some(Dir::C2S) => "→",
            Some(Dir::S2C) => "←",
            None => " ",
        };
        let head = format!("frame {frame:<5} {arrow} ");
        let indent = " ".repeat(head.chars().count());
        for (i, l) in lines.iter().enumerate() {
            out.push(format!("{}{l}", if i == 0 { &head } else { &indent }));
        }
    }
    if out.len() > MAX_EVIDENCE_LINES {
        let n = out.len() - MAX_EVIDENCE_LINES;
        out.truncate(MAX_EVIDENCE_LINES);
        out.push(format!("… {n} more line(s)"));
    }
    out
}

/// The findings group behind the verdict, if any.
fn verdict_group<'a>(
    r: &'a CaptureReport,
    groups: &'a [(&'a str, Vec<&'a ReportFinding>)],
) -> Option<&'a (&'a str, Vec<&'a ReportFinding>)> {
    let code = r.verdict.as_ref()?.code.as_deref()?;
    groups.iter().find(|g| g.0 == code)
}

fn ticket(s: &mut String, r: &CaptureReport, slug: &str) {
    let groups = r.grouped();
    let vg = verdict_group(r, &groups);
    let verdict = r.verdict();
    match vg {
        Some((code, _)) => {
            let _ = writeln!(
                s,
                "- **Verdict:** {} ({})",
                escape(&verdict),
                code_span(code, false)
            );
        }
        None => {
            let _ = writeln!(s, "- **Verdict:** {}", escape(&verdict));
        }
    }
    if let Some((_, fs)) = vg {
        let f = fs[0];
        // The headline often is the finding's message: not twice.
        if !verdict.contains(f.message.as_str()) {
            let _ = writeln!(s, "- **Cause:** {}", escape(&f.message));
        }
        let _ = writeln!(s, "- **Fix:** {}", escape(&f.hint));
    }
    // The connections the verdict is about (else those with a session).
    let mut streams: Vec<u64> = match vg {
        Some((_, fs)) => fs.iter().filter_map(|f| f.stream).collect(),
        None => r
            .conns
            .iter()
            .filter(|c| !c.upgrades.is_empty() || c.mqtt.total > 0 || c.meta.tls.is_some())
            .map(|c| c.meta.stream)
            .collect(),
    };
    let frames: Vec<u64> = match vg {
        Some((_, fs)) => {
            let mut v: Vec<u64> = fs.iter().flat_map(|f| f.frames.iter().copied()).collect();
            v.sort_unstable();
            v.dedup();
            v
        }
        None => Vec::new(),
    };
    // A finding across connections names frames: their connections.
    if streams.is_empty() {
        streams = r
            .conns
            .iter()
            .filter(|c| {
                frames
                    .iter()
                    .any(|f| (c.meta.first_frame..=c.meta.last_frame).contains(f))
            })
            .map(|c| c.meta.stream)
            .collect();
    }
    streams.sort_unstable();
    streams.dedup();
    if !streams.is_empty() || !frames.is_empty() {
        let mut w = Vec::new();
        if !streams.is_empty() {
            w.push(format!("tcp.stream {}", nums(&streams, 20)));
        }
        if !frames.is_empty() {
            w.push(format!("frames {}", nums(&frames, 20)));
        }
        let _ = writeln!(s, "- **Where:** {}", w.join(" · "));
    }
    let filter = match vg {
        Some((_, fs)) => group_filter(fs),
        None if !streams.is_empty() => Some(if streams.len() == 1 {
            format!("tcp.stream eq {}", streams[0])
        } else {
            format!(
                "tcp.stream in {{{}}}",
                streams
                    .iter()
                    .take(500)
                    .map(|x| x.to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        }),
        None => None,
    };
    if let Some(flt) = filter {
        let _ = writeln!(
            s,
            "- **Wireshark:** {}",
            code_span(&format!("wireshark -r {} -Y \"{flt}\"", r.file), false)
        );
    }
    let _ = writeln!(
        s,
        "- **In the HTML report:** {}",
        code_span(&format!("#{slug}"), false)
    );
    let conns: Vec<&Conn> = streams
        .iter()
        .filter_map(|st| r.conns.iter().find(|c| c.meta.stream == *st))
        .collect();
    for c in conns.iter().take(MAX_EVIDENCE_CONNS) {
        let lines = evidence(c);
        if lines.is_empty() {
            continue;
        }
        let _ = writeln!(
            s,
            "\nEvidence, tcp.stream {} ({} → {}):\n",
            c.meta.stream,
            escape(&c.meta.client),
            escape(&c.meta.server)
        );
        s.push_str(&code_block(&lines));
    }
    if conns.len() > MAX_EVIDENCE_CONNS {
        let rest: Vec<u64> = conns[MAX_EVIDENCE_CONNS..]
            .iter()
            .map(|c| c.meta.stream)
            .collect();
        let _ = writeln!(
            s,
            "\n{} more connection(s) like these: tcp.stream {}.",
            rest.len(),
            nums(&rest, 20)
        );
    }
}

fn capture(s: &mut String, r: &CaptureReport, slug: &str) {
    let _ = writeln!(s, "### {}\n", escape(&r.file));
    ticket(s, r, slug);
    let _ = writeln!(s, "\n{}\n", code_span(&text::headline(r), false));
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
        let _ = write!(s, "- {}", code_span(code, false));
        if let Some(f) = flt {
            let _ = write!(s, " — Wireshark filter: {}", code_span(&f, false));
        }
        let _ = write!(s, "  \n  What to do: {}", escape(&fs[0].hint));
        s.push('\n');
    }
}

fn streams_frames(fs: &[&ReportFinding]) -> (Vec<u64>, Vec<u64>) {
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
    use crate::diagnose::{Finding, Severity};

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
    fn code_blocks_cannot_be_closed_from_inside() {
        let b = code_block(&["a ``` b".into(), "````".into(), "x\u{1b}[31my\r".into()]);
        assert!(b.starts_with("`````text\n"), "{b}");
        assert!(b.ends_with("\n`````\n"));
        assert!(b.contains("x [31my \n"));
        assert_eq!(code_block(&["plain".into()]), "```text\nplain\n```\n");
    }

    #[test]
    fn table_rows_stay_one_row() {
        let mut r = CaptureReport::new("a|b\n.pcap");
        r.add_finding(ReportFinding::from_finding(
            &Finding::new(
                "ws_upgrade_rejected",
                Severity::Error,
                "GET /x|y\n| injected | row |\n`code` <script>alert(1)</script>",
            )
            .stream(3)
            .frames(vec![4, 9])
            .hint("do | this"),
        ));
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
