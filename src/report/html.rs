//! The batch report as ONE self-contained HTML file: a summary of all
//! captures, then per capture its verdict, findings and connections, each
//! connection with a timeline drawn inline as SVG.
//!
//! Captures are hostile: every string that comes from one (file names, URIs,
//! headers, server names, topics, client ids, messages, labels...) goes
//! through [`escape`] before it reaches the page, in text and in attributes
//! alike (all attributes are double-quoted). The page has no script, loads
//! nothing (no fonts, images or links to other hosts) and carries a
//! Content-Security-Policy that forbids both, as a second line of defence.

use super::model::{CaptureReport, Conn, TimelineEvent};
use super::text;
use crate::diagnose::{Finding, Severity};
use crate::flow::{ConnEnd, Dir};
use std::fmt::Write as _;

/// Connections drawn in full per capture (those with findings first).
pub const MAX_CONN_BLOCKS: usize = 100;
/// Timeline events drawn per connection; the rest are counted.
pub const MAX_DRAWN_EVENTS: usize = 60;
/// Occurrences listed per finding code.
const MAX_OCCURRENCES: usize = 50;

/// Escape text for HTML text nodes and double- or single-quoted attribute
/// values (also inside inline SVG): `& < > " '` become references, and
/// control characters other than tab and newline become U+FFFD.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' => out.push(c),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// At most `max` characters of `s`, with an ellipsis when cut (not escaped).
fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
    t.push('…');
    t
}

/// A timeline label in at most `max` characters: a packet or method name
/// and the end of its object (`PUBLISH …/data`), otherwise the start (not
/// escaped).
fn short_label(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max {
        return s.to_string();
    }
    // Packet and method names (PUBLISH, GET): their object's end tells most.
    if let Some((head, _)) = s.split_once(' ') {
        let h = head.chars().count();
        if h + 4 <= max && head.chars().all(|c| c.is_ascii_uppercase()) {
            let tail: String = s.chars().skip(n - (max - h - 2)).collect();
            return format!("{head} …{tail}");
        }
    }
    truncate(s, max)
}

/// 1234567 -> "1,234,567".
fn num(n: u64) -> String {
    let d = n.to_string();
    let mut out = String::with_capacity(d.len() + d.len() / 3);
    for (i, c) in d.chars().enumerate() {
        if i > 0 && (d.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn fmt_secs(secs: f64) -> String {
    let secs = if secs.is_finite() { secs.max(0.0) } else { 0.0 };
    if secs < 60.0 {
        format!("{secs:.3} s")
    } else {
        let t = secs as u64;
        format!("{:02}:{:02}:{:02}", t / 3600, (t / 60) % 60, t % 60)
    }
}

/// `ok`, `warn` or `bad`: the CSS class of a verdict.
fn verdict_class(v: &str) -> &'static str {
    if v.starts_with('✓') {
        "ok"
    } else if v.starts_with('⚠') || v.starts_with('?') {
        "warn"
    } else {
        "bad"
    }
}

fn sev_class(s: Severity) -> &'static str {
    s.as_str()
}

/// Findings of a capture by severity: [error, warning, info].
fn sev_counts(r: &CaptureReport) -> [u64; 3] {
    let mut n = [0u64; 3];
    for f in &r.findings {
        match f.severity {
            Severity::Error => n[0] += 1,
            Severity::Warning => n[1] += 1,
            Severity::Info => n[2] += 1,
        }
    }
    n
}

fn join_nums(v: &[u64], max: usize, sep: &str) -> String {
    let mut s = v
        .iter()
        .take(max)
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(sep);
    if v.len() > max {
        let _ = write!(s, "{sep}… ({} more)", v.len() - max);
    }
    s
}

/// The Wireshark filter showing a group of findings.
pub(crate) fn group_filter(fs: &[&Finding]) -> Option<String> {
    let mut streams: Vec<u64> = fs.iter().filter_map(|f| f.stream).collect();
    streams.dedup();
    if fs.len() > 1 && streams.len() > 1 {
        Some(format!(
            "tcp.stream in {{{}}}",
            join_nums(&streams, 500, " ")
        ))
    } else {
        fs.first().and_then(|f| f.filter())
    }
}

const CSS: &str = r#"
:root{--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--bg:#ffffff;--panel:#f6f8fa;
--ok:#1a7f37;--ok-bg:#dafbe1;--warn:#9a6700;--warn-bg:#fff8c5;--bad:#cf222e;--bad-bg:#ffebe9;
--info:#0969da;--info-bg:#ddf4ff;--http:#0969da;--ws:#8250df;--mqtt:#1a7f37;--tcp:#6e7781}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.5 -apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans","DejaVu Sans",sans-serif}
main{max-width:1200px;margin:0 auto;padding:24px 28px 60px}
h1{font-size:24px;margin:0 0 4px}
h2{font-size:19px;margin:0;overflow-wrap:anywhere}
h3{font-size:15px;margin:22px 0 8px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono",monospace;font-size:12.5px}
code{background:var(--panel);border:1px solid var(--line);border-radius:4px;padding:1px 5px;overflow-wrap:anywhere}
a{color:var(--info);text-decoration:none}a:hover{text-decoration:underline}
.sub{color:var(--muted);margin:0 0 18px}
.tiles{display:flex;gap:12px;flex-wrap:wrap;margin:14px 0 22px}
.tile{border:1px solid var(--line);border-radius:8px;padding:10px 16px;min-width:130px;background:var(--panel)}
.tile b{display:block;font-size:22px;line-height:1.2}
.tile.ok b{color:var(--ok)}.tile.warn b{color:var(--warn)}.tile.bad b{color:var(--bad)}
table{border-collapse:collapse;width:100%;margin:6px 0 10px;font-size:13px}
th,td{border-bottom:1px solid var(--line);padding:6px 8px;text-align:left;vertical-align:top}
th{background:var(--panel);font-weight:600;white-space:nowrap}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.file{overflow-wrap:anywhere;min-width:150px;max-width:280px}
td.zero{color:#afb8c1}
.pill{display:inline-block;border-radius:6px;padding:2px 8px;font-weight:500}
.pill.ok{background:var(--ok-bg);color:var(--ok)}.pill.warn{background:var(--warn-bg);color:var(--warn)}.pill.bad{background:var(--bad-bg);color:var(--bad)}
.sev{display:inline-block;min-width:62px;text-align:center;border-radius:10px;padding:0 8px;font-size:12px;font-weight:600;text-transform:uppercase;letter-spacing:.03em}
.sev.error{background:var(--bad-bg);color:var(--bad)}.sev.warning{background:var(--warn-bg);color:var(--warn)}.sev.info{background:var(--info-bg);color:var(--info)}
section.capture{margin-top:38px;padding-top:18px;border-top:3px solid var(--line)}
.headline{color:var(--muted);margin:4px 0 10px;overflow-wrap:anywhere}
.verdict{border-left:6px solid;border-radius:6px;padding:10px 14px;font-size:15.5px;font-weight:600;overflow-wrap:anywhere}
.verdict.ok{background:var(--ok-bg);border-color:var(--ok);color:#116329}
.verdict.warn{background:var(--warn-bg);border-color:#bf8700;color:#7d4e00}
.verdict.bad{background:var(--bad-bg);border-color:var(--bad);color:#a40e26}
ul.errors{color:var(--bad);margin:8px 0}
.finding{border:1px solid var(--line);border-left:5px solid var(--tcp);border-radius:6px;padding:10px 14px;margin:10px 0;background:#fff}
.finding.error{border-left-color:var(--bad)}.finding.warning{border-left-color:#bf8700}.finding.info{border-left-color:var(--info)}
.fhead{display:flex;gap:10px;align-items:baseline;flex-wrap:wrap}
.fhead .code{font-weight:600}
.where{color:var(--muted);font-size:13px}
.msg{margin:6px 0;overflow-wrap:anywhere}
.hint{margin:6px 0;padding:6px 10px;background:var(--panel);border-radius:4px;overflow-wrap:anywhere}
.hint b,.filter b{color:var(--muted);font-weight:600;margin-right:6px}
.filter{margin:6px 0 2px;font-size:13px}
details{margin-top:6px;font-size:13px}summary{cursor:pointer;color:var(--muted)}
details ul{margin:4px 0;padding-left:20px}details li{overflow-wrap:anywhere}
.conn{border:1px solid var(--line);border-radius:6px;margin:12px 0;overflow:hidden}
.conn.flagged{border-left:4px solid var(--bad)}
.chead{background:var(--panel);padding:7px 12px;border-bottom:1px solid var(--line);display:flex;gap:8px 14px;flex-wrap:wrap;align-items:baseline}
.chead .id{font-weight:700}.chead .ep{font-weight:600;overflow-wrap:anywhere}
.proto{display:inline-block;border-radius:4px;padding:0 6px;font-size:12px;font-weight:600;color:#fff;background:var(--tcp)}
.proto.websocket{background:var(--ws)}.proto.mqtt{background:var(--mqtt)}.proto.http{background:var(--http)}.proto.tls{background:#953800}
.facts{color:var(--muted);font-size:13px}
.cbody{padding:8px 12px}
ul.summary{margin:2px 0 8px;padding-left:18px}ul.summary li{overflow-wrap:anywhere}
table.upg{font-size:12.5px;margin:4px 0 8px}
table.upg td{overflow-wrap:anywhere}
.st{font-weight:700}.st.good{color:var(--ok)}.st.badst{color:var(--bad)}
.tl{display:block;width:100%;height:auto;margin:4px 0 0}
.tlcap{color:var(--muted);font-size:12px;margin:0 0 4px}
.legend{font-size:12.5px;color:var(--muted);display:flex;gap:14px;flex-wrap:wrap;margin:0 0 6px}
.dot{display:inline-block;width:10px;height:10px;border-radius:50%;margin-right:4px;vertical-align:-1px}
.dot.http{background:var(--http)}.dot.ws{background:var(--ws)}.dot.mqtt{background:var(--mqtt)}.dot.tcp{background:var(--tcp)}.dot.bad{background:var(--bad);box-shadow:0 0 0 2px var(--bad-bg)}
.more{color:var(--muted);font-style:italic}
.none{color:var(--muted)}
footer{margin-top:40px;color:var(--muted);font-size:12px;border-top:1px solid var(--line);padding-top:10px}
@media print{main{max-width:none;padding:0}.conn,.finding{break-inside:avoid}}
"#;

/// Render a batch of capture reports as one self-contained HTML page.
pub fn render(reports: &[CaptureReport], title: &str) -> String {
    let mut s = String::with_capacity(16 * 1024 + reports.len() * 8 * 1024);
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; script-src 'none'; form-action 'none'; base-uri 'none'\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"wsdoctor {}\">\n<title>{}</title>\n<style>{}</style>\n</head>\n<body>\n<main>\n",
        escape(env!("CARGO_PKG_VERSION")),
        escape(title),
        CSS
    );
    let _ = writeln!(s, "<h1>{}</h1>", escape(title));
    let _ = writeln!(
        s,
        "<p class=\"sub\">{} capture(s) analysed by wsdoctor {}</p>",
        num(reports.len() as u64),
        escape(env!("CARGO_PKG_VERSION"))
    );
    summary(&mut s, reports);
    for (i, r) in reports.iter().enumerate() {
        capture(&mut s, i, r);
    }
    let _ = writeln!(
        s,
        "<footer>Generated offline by wsdoctor {}. Everything shown comes from the capture files; \
         Wireshark filters open the evidence: <code>wireshark -r FILE -Y \"FILTER\"</code>.</footer>",
        escape(env!("CARGO_PKG_VERSION"))
    );
    s.push_str("</main>\n</body>\n</html>\n");
    s
}

fn summary(s: &mut String, reports: &[CaptureReport]) {
    let mut tiles = [0u64; 3]; // ok, warn, bad
    for r in reports {
        match verdict_class(&r.verdict()) {
            "ok" => tiles[0] += 1,
            "warn" => tiles[1] += 1,
            _ => tiles[2] += 1,
        }
    }
    let _ = writeln!(
        s,
        "<div class=\"tiles\"><div class=\"tile\"><b>{}</b>captures</div>\
         <div class=\"tile bad\"><b>{}</b>with errors</div>\
         <div class=\"tile warn\"><b>{}</b>with warnings</div>\
         <div class=\"tile ok\"><b>{}</b>without problems</div></div>",
        num(reports.len() as u64),
        num(tiles[2]),
        num(tiles[1]),
        num(tiles[0])
    );

    s.push_str("<h3>Captures</h3>\n<table class=\"summary\">\n<thead><tr><th class=\"n\">#</th><th>Capture</th><th>Verdict</th>\
        <th class=\"n\">Packets</th><th class=\"n\">Connections</th><th class=\"n\">Errors</th><th class=\"n\">Warnings</th><th class=\"n\">Info</th></tr></thead>\n<tbody>\n");
    for (i, r) in reports.iter().enumerate() {
        let v = r.verdict();
        let n = sev_counts(r);
        let cell = |x: u64| {
            if x == 0 {
                "<td class=\"n zero\">0</td>".to_string()
            } else {
                format!("<td class=\"n\">{}</td>", num(x))
            }
        };
        let _ = writeln!(
            s,
            "<tr><td class=\"n\">{}</td><td class=\"file\"><a href=\"#cap-{}\">{}</a></td><td><span class=\"pill {}\">{}</span></td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td>{}{}{}</tr>",
            i + 1,
            i + 1,
            escape(&r.file),
            verdict_class(&v),
            escape(&v),
            r.capture
                .as_ref()
                .map(|c| num(c.packets))
                .unwrap_or_else(|| "–".into()),
            num(r.conns_total),
            cell(n[0]),
            cell(n[1]),
            cell(n[2]),
        );
    }
    s.push_str("</tbody>\n</table>\n");

    // Counts by finding code over the batch.
    struct CodeRow {
        code: &'static str,
        sev: Severity,
        findings: u64,
        captures: u64,
    }
    let mut codes: Vec<CodeRow> = Vec::new();
    for r in reports {
        let mut seen: Vec<&'static str> = Vec::new();
        for f in &r.findings {
            let i = match codes.iter().position(|c| c.code == f.code) {
                Some(i) => i,
                None => {
                    codes.push(CodeRow {
                        code: f.code,
                        sev: f.severity,
                        findings: 0,
                        captures: 0,
                    });
                    codes.len() - 1
                }
            };
            let row = &mut codes[i];
            row.findings += 1;
            row.sev = row.sev.max(f.severity);
            if !seen.contains(&f.code) {
                seen.push(f.code);
                row.captures += 1;
            }
        }
    }
    codes.sort_by(|a, b| b.sev.cmp(&a.sev).then(b.captures.cmp(&a.captures)));
    s.push_str("<h3>Findings by code</h3>\n");
    if codes.is_empty() {
        s.push_str("<p class=\"none\">No findings in this batch.</p>\n");
    } else {
        s.push_str("<table class=\"codes\">\n<thead><tr><th>Code</th><th>Severity</th><th class=\"n\">Captures</th><th class=\"n\">Findings</th></tr></thead>\n<tbody>\n");
        for c in &codes {
            let _ = writeln!(
                s,
                "<tr><td><code>{}</code></td><td><span class=\"sev {}\">{}</span></td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                escape(c.code),
                sev_class(c.sev),
                escape(c.sev.as_str()),
                num(c.captures),
                num(c.findings)
            );
        }
        s.push_str("</tbody>\n</table>\n");
    }

    // Servers seen.
    let mut servers: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, r) in reports.iter().enumerate() {
        for name in r.servers() {
            match servers.iter_mut().find(|x| x.0 == name) {
                Some(x) => x.1.push(i),
                None => servers.push((name, vec![i])),
            }
        }
    }
    s.push_str("<h3>Servers seen answering an Upgrade</h3>\n");
    if servers.is_empty() {
        s.push_str("<p class=\"none\">No server identified.</p>\n");
    } else {
        s.push_str("<table class=\"servers\">\n<thead><tr><th>Server</th><th class=\"n\">Captures</th><th>In</th></tr></thead>\n<tbody>\n");
        for (name, caps) in &servers {
            let mut links: Vec<String> = caps
                .iter()
                .take(8)
                .map(|&i| {
                    format!(
                        "<a href=\"#cap-{}\">{}</a>",
                        i + 1,
                        escape(&truncate(&reports[i].file, 60))
                    )
                })
                .collect();
            if caps.len() > 8 {
                links.push(format!(
                    "<span class=\"more\">{} more</span>",
                    caps.len() - 8
                ));
            }
            let _ = writeln!(
                s,
                "<tr><td><b>{}</b></td><td class=\"n\">{}</td><td class=\"file\">{}</td></tr>",
                escape(name),
                num(caps.len() as u64),
                links.join(", ")
            );
        }
        s.push_str("</tbody>\n</table>\n");
    }
}

fn capture(s: &mut String, i: usize, r: &CaptureReport) {
    let v = r.verdict();
    let _ = writeln!(
        s,
        "<section class=\"capture\" id=\"cap-{}\">\n<h2>{}. {}</h2>",
        i + 1,
        i + 1,
        escape(&r.file)
    );
    let head = text::headline(r);
    let head = head
        .strip_prefix(r.file.as_str())
        .map(str::trim_start)
        .unwrap_or(&head);
    let _ = writeln!(s, "<p class=\"headline mono\">{}</p>", escape(head));
    let _ = writeln!(
        s,
        "<div class=\"verdict {}\">{}</div>",
        verdict_class(&v),
        escape(&v)
    );
    if !r.errors.is_empty() {
        s.push_str("<ul class=\"errors\">\n");
        for (m, off) in &r.errors {
            match off {
                Some(o) => {
                    let _ = writeln!(s, "<li>error at byte {}: {}</li>", num(*o), escape(m));
                }
                None => {
                    let _ = writeln!(s, "<li>error: {}</li>", escape(m));
                }
            }
        }
        s.push_str("</ul>\n");
    }

    let groups = r.grouped();
    if !groups.is_empty() {
        let _ = writeln!(s, "<h3>Findings ({})</h3>", num(r.findings.len() as u64));
        for (code, fs) in &groups {
            finding_group(s, r, code, fs);
        }
        if r.findings_dropped > 0 {
            let _ = writeln!(
                s,
                "<p class=\"more\">… {} more finding(s) not listed</p>",
                num(r.findings_dropped)
            );
        }
    }

    if !r.conns.is_empty() {
        let _ = writeln!(s, "<h3>Connections ({})</h3>", num(r.conns_total));
        s.push_str(
            "<div class=\"legend\"><span>Timelines, in frame order; client→server above the line, server→client below:</span>\
             <span><i class=\"dot http\"></i>HTTP</span><span><i class=\"dot ws\"></i>WebSocket</span>\
             <span><i class=\"dot mqtt\"></i>MQTT</span><span><i class=\"dot tcp\"></i>TCP</span>\
             <span><i class=\"dot bad\"></i>problem</span></div>\n",
        );
        // Connections named by a finding first, then the others, up to the cap,
        // shown in stream order.
        let flagged: Vec<u64> = r.findings.iter().filter_map(|f| f.stream).collect();
        let mut chosen: Vec<&Conn> = r
            .conns
            .iter()
            .filter(|c| flagged.contains(&c.meta.stream))
            .take(MAX_CONN_BLOCKS)
            .collect();
        for c in &r.conns {
            if chosen.len() >= MAX_CONN_BLOCKS {
                break;
            }
            if !flagged.contains(&c.meta.stream) {
                chosen.push(c);
            }
        }
        chosen.sort_by_key(|c| c.meta.stream);
        for c in &chosen {
            conn_block(s, c, flagged.contains(&c.meta.stream));
        }
        let hidden = r.conns_total.saturating_sub(chosen.len() as u64);
        if hidden > 0 {
            let _ = writeln!(
                s,
                "<p class=\"more\">… and {} more connection(s) not shown</p>",
                num(hidden)
            );
        }
    } else if r.conns_total > 0 {
        let _ = writeln!(
            s,
            "<p class=\"more\">{} connection(s), none kept in detail</p>",
            num(r.conns_total)
        );
    }
    s.push_str("</section>\n");
}

fn finding_group(s: &mut String, r: &CaptureReport, code: &str, fs: &[&Finding]) {
    let f = fs[0];
    let mut streams: Vec<u64> = fs.iter().filter_map(|f| f.stream).collect();
    streams.dedup();
    let mut frames: Vec<u64> = fs.iter().flat_map(|f| f.frames.iter().copied()).collect();
    frames.sort_unstable();
    frames.dedup();
    let mut where_ = match streams.len() {
        0 => String::new(),
        1 => format!("tcp.stream {}", streams[0]),
        n => format!(
            "{n} connections (tcp.stream {})",
            join_nums(&streams, 20, ", ")
        ),
    };
    if !frames.is_empty() {
        if !where_.is_empty() {
            where_.push_str(" · ");
        }
        let _ = write!(
            where_,
            "frame{} {}",
            if frames.len() > 1 { "s" } else { "" },
            join_nums(&frames, 20, ", ")
        );
    }
    let _ = writeln!(
        s,
        "<div class=\"finding {}\">\n<div class=\"fhead\"><span class=\"sev {}\">{}</span><code class=\"code\">{}</code><span class=\"where\">{}</span></div>",
        sev_class(f.severity),
        sev_class(f.severity),
        escape(f.severity.as_str()),
        escape(code),
        escape(&where_)
    );
    let _ = writeln!(s, "<p class=\"msg\">{}</p>", escape(&f.message));
    let _ = writeln!(
        s,
        "<p class=\"hint\"><b>What to do</b>{}</p>",
        escape(f.hint_or_default())
    );
    if let Some(flt) = group_filter(fs) {
        let _ = writeln!(
            s,
            "<div class=\"filter\"><b>Wireshark filter</b><code title=\"{}\">{}</code></div>",
            escape(&format!("wireshark -r {} -Y \"{}\"", r.file, flt)),
            escape(&flt)
        );
    }
    if fs.len() > 1 {
        let _ = writeln!(
            s,
            "<details><summary>All {} occurrences</summary><ul>",
            num(fs.len() as u64)
        );
        for g in fs.iter().take(MAX_OCCURRENCES) {
            let mut at = String::new();
            if let Some(st) = g.stream {
                let _ = write!(at, "tcp.stream {st}");
            }
            if !g.frames.is_empty() {
                if !at.is_empty() {
                    at.push_str(" · ");
                }
                let _ = write!(at, "frames {}", join_nums(&g.frames, 20, ", "));
            }
            let _ = writeln!(
                s,
                "<li><span class=\"where\">{}</span> — {}</li>",
                escape(&at),
                escape(&g.message)
            );
        }
        if fs.len() > MAX_OCCURRENCES {
            let _ = writeln!(
                s,
                "<li class=\"more\">… {} more</li>",
                num((fs.len() - MAX_OCCURRENCES) as u64)
            );
        }
        s.push_str("</ul></details>\n");
    }
    s.push_str("</div>\n");
}

fn conn_block(s: &mut String, c: &Conn, flagged: bool) {
    let m = &c.meta;
    let mut notes: Vec<String> = Vec::new();
    if !m.syn {
        notes.push("no SYN (mid-stream)".into());
    }
    if m.retransmissions > 0 {
        notes.push(format!("{} retransmission(s)", num(m.retransmissions)));
    }
    if m.out_of_order > 0 {
        notes.push(format!("{} out of order", num(m.out_of_order)));
    }
    if m.reasm_limit_hits > 0 {
        notes.push(format!(
            "reassembly limit hit {} time(s)",
            num(m.reasm_limit_hits)
        ));
    }
    if m.evicted {
        notes.push("dropped from the connection table before the capture ended".into());
    }
    if !m.gaps.is_empty() || m.gaps_total > 0 {
        let b: u64 = m.gaps.iter().map(|g| g.bytes).sum();
        notes.push(format!(
            "{} gap(s), {} bytes missing",
            num(m.gaps_total.max(m.gaps.len() as u64)),
            num(b)
        ));
    }
    let end = match m.end {
        ConnEnd::Fin => "closed",
        ConnEnd::Rst => "reset",
        ConnEnd::Open => "still open",
    };
    let _ = writeln!(
        s,
        "<div class=\"conn{}\">\n<div class=\"chead\"><span class=\"id\">#{}</span><span class=\"ep mono\">{} → {}</span><span class=\"proto {}\">{}</span>\
         <span class=\"facts\">{} pkts · {} / {} bytes (c→s / s→c) · {} · frames {}–{} · {}{}</span></div>\n<div class=\"cbody\">",
        if flagged { " flagged" } else { "" },
        m.stream,
        escape(&m.client.to_string()),
        escape(&m.server.to_string()),
        escape(c.proto.protocol),
        escape(c.proto.protocol),
        num(m.packets),
        num(m.bytes[0]),
        num(m.bytes[1]),
        end,
        m.first_frame,
        m.last_frame,
        escape(&fmt_secs(m.last_ts.as_f64() - m.first_ts.as_f64())),
        if notes.is_empty() {
            String::new()
        } else {
            escape(&format!(" · {}", notes.join(", ")))
        }
    );
    let mut lines: Vec<String> = Vec::new();
    if let Some(sni) = &c.proto.sni {
        lines.push(format!("TLS server name (SNI): {sni}"));
    }
    if let Some(alpn) = &c.proto.alpn {
        lines.push(format!("ALPN: {}", alpn.join(", ")));
    }
    // The upgrade's own summary line is shown as the table below.
    let asks: Vec<String> = c
        .upgrades
        .iter()
        .map(|u| format!("{} {} ", u.request.method, u.request.uri))
        .collect();
    lines.extend(
        c.proto
            .summary
            .iter()
            .filter(|l| !asks.iter().any(|a| l.starts_with(a.as_str())))
            .cloned(),
    );
    if !lines.is_empty() {
        s.push_str("<ul class=\"summary\">\n");
        for l in &lines {
            let _ = writeln!(s, "<li>{}</li>", escape(l));
        }
        s.push_str("</ul>\n");
    }
    if !c.upgrades.is_empty() {
        s.push_str("<table class=\"upg\">\n<thead><tr><th>Upgrade request</th><th class=\"n\">Frames</th><th>Answer</th><th>Server</th><th>Outcome</th></tr></thead>\n<tbody>\n");
        for u in &c.upgrades {
            let (answer, good) = match &u.response {
                Some(r) => (format!("{} {}", r.status, r.reason), r.status == 101),
                None => ("no answer".to_string(), false),
            };
            let frames = match u.response_frame {
                Some(f) => format!("{} → {}", u.request_frame, f),
                None => u.request_frame.to_string(),
            };
            let mut req = format!("{} {}", u.request.method, u.request.uri);
            if !u.handshake.protocols_offered.is_empty() {
                let _ = write!(
                    req,
                    "  (Sec-WebSocket-Protocol: {})",
                    u.handshake.protocols_offered.join(", ")
                );
            }
            let server = match &u.server {
                Some(p) => format!(
                    "{} · confidence {} ({}) · WebSocket: {}",
                    u.server_text(),
                    p.confidence,
                    p.evidence.join(", "),
                    p.websocket
                ),
                None => match u.resp_header("server") {
                    Some(h) => format!("Server: {h}"),
                    None => "–".to_string(),
                },
            };
            let _ = writeln!(
                s,
                "<tr><td class=\"mono\">{}</td><td class=\"n\">{}</td><td><span class=\"st {}\">{}</span></td><td>{}</td><td>{}</td></tr>",
                escape(&req),
                escape(&frames),
                if good { "good" } else { "badst" },
                escape(&answer),
                escape(&server),
                escape(u.handshake.outcome.as_str())
            );
        }
        s.push_str("</tbody>\n</table>\n");
    }
    timeline(s, c);
    s.push_str("</div>\n</div>\n");
}

/// One point to draw.
struct Point {
    frame: u64,
    /// Seconds since the connection's first packet (None: not known exactly).
    t: Option<f64>,
    dir: Option<Dir>,
    layer: &'static str,
    label: String,
    bad: bool,
}

fn layer_color(layer: &str, bad: bool) -> &'static str {
    if bad {
        return "#cf222e";
    }
    match layer {
        "http" => "#0969da",
        "ws" => "#8250df",
        "mqtt" => "#1a7f37",
        _ => "#6e7781",
    }
}

/// The events to draw: TCP open/close from the connection's facts plus the
/// recorded events, in frame order, capped (bad events are kept first).
fn points(c: &Conn) -> (Vec<Option<Point>>, u64) {
    let m = &c.meta;
    let t0 = m.first_ts.as_f64();
    let mut all: Vec<Point> = Vec::new();
    if m.syn {
        all.push(Point {
            frame: m.first_frame,
            t: Some(0.0),
            dir: None,
            layer: "tcp",
            label: "SYN".into(),
            bad: false,
        });
    }
    for e in &c.events {
        all.push(event_point(e, t0));
    }
    match (m.end, m.rst_frame) {
        (_, Some(f)) => all.push(Point {
            frame: f,
            t: None,
            dir: None,
            layer: "tcp",
            label: "RST".into(),
            bad: false,
        }),
        (ConnEnd::Fin, None) => all.push(Point {
            frame: m.last_frame,
            t: Some(m.last_ts.as_f64() - t0),
            dir: None,
            layer: "tcp",
            label: "FIN".into(),
            bad: false,
        }),
        _ => {}
    }
    all.sort_by_key(|p| p.frame);
    let mut dropped = c.events_dropped;
    if all.len() <= MAX_DRAWN_EVENTS {
        return (all.into_iter().map(Some).collect(), dropped);
    }
    // Keep the start (handshake) and, from the rest, the bad ones first,
    // then the last ones (how it ended).
    let head = MAX_DRAWN_EVENTS - 12;
    let rest: Vec<usize> = (head..all.len()).collect();
    let mut keep: Vec<usize> = rest
        .iter()
        .copied()
        .filter(|&i| all[i].bad)
        .take(12)
        .collect();
    for &i in rest.iter().rev() {
        if keep.len() >= 12 {
            break;
        }
        if !keep.contains(&i) {
            keep.push(i);
        }
    }
    keep.sort_unstable();
    dropped += (all.len() - head - keep.len()) as u64;
    let mut out: Vec<Option<Point>> = Vec::new();
    let mut prev = head - 1;
    let mut slots: Vec<Option<Point>> = all.into_iter().map(Some).collect();
    for slot in slots.iter_mut().take(head) {
        out.push(slot.take());
    }
    for i in keep {
        if i != prev + 1 {
            out.push(None); // a break in the line: events left out here
        }
        out.push(slots[i].take());
        prev = i;
    }
    (out, dropped)
}

fn event_point(e: &TimelineEvent, t0: f64) -> Point {
    Point {
        frame: e.frame,
        // The upgrade's request/response events carry the connection's first
        // and last timestamps, not their own: no time is shown for them.
        t: if e.layer == "http" {
            None
        } else {
            Some(e.ts.as_f64() - t0)
        },
        dir: e.dir,
        layer: e.layer,
        label: e.label.clone(),
        bad: e.bad,
    }
}

fn timeline(s: &mut String, c: &Conn) {
    let (pts, dropped) = points(c);
    if pts.is_empty() {
        return;
    }
    const W: f64 = 1000.0;
    const H: f64 = 150.0;
    const LEFT: f64 = 92.0;
    const RIGHT: f64 = 16.0;
    const AXIS: f64 = 75.0;
    let n = pts.len() as f64;
    let step = (W - LEFT - RIGHT) / n;
    let x = |i: usize| LEFT + (i as f64 + 0.5) * step;
    // Labels alternate between two rows per side, so one has two slots.
    let label_chars = ((2.0 * step - 8.0) / 6.0).floor() as usize;
    let label_chars = label_chars.min(34);
    let show_labels = label_chars >= 4;
    let show_frames = step >= 26.0;

    let _ = writeln!(
        s,
        "<svg class=\"tl\" viewBox=\"0 0 {W} {H}\" width=\"{W}\" height=\"{H}\" role=\"img\" aria-label=\"timeline of tcp.stream {}\" xmlns=\"http://www.w3.org/2000/svg\" font-family=\"-apple-system,Segoe UI,Roboto,DejaVu Sans,sans-serif\">",
        c.meta.stream
    );
    // Lanes and axis.
    let _ = writeln!(
        s,
        "<rect x=\"{LEFT}\" y=\"4\" width=\"{}\" height=\"{}\" fill=\"#f6f8fa\" rx=\"4\"/>\
         <rect x=\"{LEFT}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#fbfcfd\" rx=\"4\"/>\
         <line x1=\"{LEFT}\" y1=\"{AXIS}\" x2=\"{}\" y2=\"{AXIS}\" stroke=\"#8c959f\" stroke-width=\"1.5\"/>\
         <text x=\"8\" y=\"{}\" font-size=\"11\" fill=\"#59636e\">client→server</text>\
         <text x=\"8\" y=\"{}\" font-size=\"11\" fill=\"#59636e\">server→client</text>",
        W - LEFT - RIGHT,
        AXIS - 4.0,
        AXIS,
        W - LEFT - RIGHT,
        H - AXIS - 4.0,
        W - RIGHT,
        AXIS - 28.0,
        AXIS + 34.0,
    );
    let mut row = [0usize; 3];
    for (i, p) in pts.iter().enumerate() {
        let xi = x(i);
        let Some(p) = p else {
            let _ = writeln!(
                s,
                "<text x=\"{xi:.1}\" y=\"{}\" font-size=\"14\" text-anchor=\"middle\" fill=\"#59636e\">⋯<title>events left out here</title></text>",
                AXIS + 4.0
            );
            continue;
        };
        let color = layer_color(p.layer, p.bad);
        let side = match p.dir {
            Some(Dir::C2S) => 0,
            Some(Dir::S2C) => 1,
            None => 2,
        };
        let my = match side {
            0 => AXIS - 24.0,
            1 => AXIS + 24.0,
            _ => AXIS,
        };
        let r = if p.bad { 6.5 } else { 5.0 };
        let mut tip = format!("frame {}", p.frame);
        if let Some(t) = p.t {
            let _ = write!(tip, " · +{}", fmt_secs(t));
        }
        if let Some(d) = p.dir {
            let _ = write!(
                tip,
                " · {}",
                match d {
                    Dir::C2S => "client→server",
                    Dir::S2C => "server→client",
                }
            );
        }
        let _ = write!(tip, " · {} · {}", p.layer, p.label);
        if p.bad {
            tip.push_str(" · problem");
        }
        let _ = write!(s, "<g><title>{}</title>", escape(&tip));
        if side != 2 {
            let _ = write!(
                s,
                "<line x1=\"{xi:.1}\" y1=\"{AXIS}\" x2=\"{xi:.1}\" y2=\"{my}\" stroke=\"{color}\" stroke-opacity=\".45\" stroke-width=\"1.5\"/>\
                 <circle cx=\"{xi:.1}\" cy=\"{my}\" r=\"{r}\" fill=\"{color}\"{}/>",
                if p.bad {
                    " stroke=\"#ffebe9\" stroke-width=\"2\""
                } else {
                    ""
                }
            );
        } else {
            let _ = write!(
                s,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"8\" height=\"8\" transform=\"rotate(45 {xi:.1} {AXIS})\" fill=\"{color}\"/>",
                xi - 4.0,
                AXIS - 4.0
            );
        }
        if show_labels {
            let k = row[side];
            row[side] += 1;
            let ly = match side {
                0 => AXIS - 36.0 - (k % 2) as f64 * 14.0,
                1 => AXIS + 46.0 + (k % 2) as f64 * 14.0,
                _ => AXIS + 18.0 + (k % 2) as f64 * 12.0,
            };
            let weight = if p.bad { " font-weight=\"700\"" } else { "" };
            let _ = write!(
                s,
                "<text x=\"{xi:.1}\" y=\"{ly}\" font-size=\"10.5\" text-anchor=\"middle\" fill=\"{}\"{weight}>{}</text>",
                if p.bad { "#cf222e" } else { "#1f2328" },
                escape(&short_label(&p.label, label_chars))
            );
        }
        if show_frames && side != 2 {
            let fy = if side == 0 { AXIS + 11.0 } else { AXIS - 4.0 };
            let _ = write!(
                s,
                "<text x=\"{xi:.1}\" y=\"{fy}\" font-size=\"8.5\" text-anchor=\"middle\" fill=\"#8c959f\">{}</text>",
                p.frame
            );
        }
        s.push_str("</g>\n");
    }
    s.push_str("</svg>\n");
    let m = &c.meta;
    let mut cap = format!(
        "frames {}–{}, {}",
        m.first_frame,
        m.last_frame,
        fmt_secs(m.last_ts.as_f64() - m.first_ts.as_f64())
    );
    if dropped > 0 {
        let _ = write!(cap, " · {} more event(s) not drawn", num(dropped));
    }
    if !show_labels {
        cap.push_str(" · hover a marker for its label");
    }
    let _ = writeln!(s, "<p class=\"tlcap\">{}</p>", escape(&cap));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::Ts;
    use crate::diagnose::Finding;
    use crate::event::ConnSummary as ConnProto;
    use crate::flow::ConnMeta;

    const XSS: [&str; 3] = [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(2)>",
        "\"'><svg onload=alert(3)>",
    ];

    #[test]
    fn helpers() {
        assert_eq!(num(1234567), "1,234,567");
        assert_eq!(num(12), "12");
        assert_eq!(
            short_label("PUBLISH Advantech/00D0C9E27959/data", 16),
            "PUBLISH …59/data"
        );
        assert_eq!(short_label("binary 12 B", 16), "binary 12 B");
        assert_eq!(short_label("101 Switching Protocols", 12), "101 Switchi…");
        assert_eq!(short_label("abcdefghijkl", 5), "abcd…");
    }

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape("<script>alert(1)</script>"),
            "&lt;script&gt;alert(1)&lt;/script&gt;"
        );
        assert_eq!(
            escape("<img src=x onerror=alert(2)>"),
            "&lt;img src=x onerror=alert(2)&gt;"
        );
        assert_eq!(escape("a\"b'c&d"), "a&quot;b&#39;c&amp;d");
        assert_eq!(escape("x\u{0}y\u{1b}z\nw"), "x\u{fffd}y\u{fffd}z\nw");
        assert_eq!(escape("IIS 7.5 · ✓"), "IIS 7.5 · ✓");
    }

    /// A real connection's facts (from a sample), made to end in a reset.
    fn meta(stream: u64) -> ConnMeta {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/iis75-404.pcap");
        let mut r = CaptureReport::new("s");
        crate::analyze::analyze_path(&path, &crate::analyze::Options::default(), &mut r);
        let mut m = r.conns[0].meta.clone();
        m.stream = stream;
        m.first_frame = 1;
        m.last_frame = 9;
        m.first_ts = Ts::new(100, 0, 6);
        m.last_ts = Ts::new(101, 500_000_000, 6);
        m.syn = true;
        m.end = ConnEnd::Rst;
        m.rst_frame = Some(9);
        m
    }

    /// A report where every string a capture controls is hostile.
    fn hostile() -> CaptureReport {
        let mut r = CaptureReport::new(&format!("dir/{}.pcap", XSS[0]));
        let mut events = Vec::new();
        for (i, x) in XSS.iter().enumerate() {
            events.push(TimelineEvent {
                frame: 2 + i as u64,
                ts: Ts::new(100, 1000, 6),
                dir: Some(if i % 2 == 0 { Dir::C2S } else { Dir::S2C }),
                layer: "mqtt",
                label: format!("PUBLISH {x}"),
                bad: i == 1,
            });
        }
        r.conns.push(Conn {
            meta: meta(0),
            proto: ConnProto {
                protocol: "mqtt",
                sni: Some(XSS[1].into()),
                alpn: Some(vec![XSS[2].into()]),
                summary: XSS.iter().map(|x| format!("client \"{x}\"")).collect(),
                ..Default::default()
            },
            upgrades: Vec::new(),
            events,
            events_dropped: 0,
        });
        r.conns_total = 1;
        for x in XSS {
            r.findings.push(
                Finding::new("ws_upgrade_rejected", Severity::Error, format!("msg {x}"))
                    .stream(0)
                    .frames(vec![2, 3])
                    .hint(format!("hint {x}")),
            );
        }
        r.errors.push((format!("err {}", XSS[1]), Some(12)));
        r
    }

    /// The tags of our own output: (name, [(attribute, raw value)]). Values
    /// are always double-quoted here, and text never holds a raw `<`.
    fn tags(html: &str) -> Vec<(String, Vec<(String, String)>)> {
        let mut out = Vec::new();
        let mut rest = html;
        while let Some(i) = rest.find('<') {
            rest = &rest[i + 1..];
            let end = rest.find('>').expect("unclosed tag");
            let inner = &rest[..end];
            rest = &rest[end + 1..];
            if inner.starts_with('/') || inner.starts_with('!') {
                continue;
            }
            let (name, mut a) = inner.split_once(' ').unwrap_or((inner, ""));
            let mut attrs = Vec::new();
            loop {
                a = a.trim_start_matches([' ', '/']);
                let Some(eq) = a.find("=\"") else { break };
                let key = a[..eq].to_ascii_lowercase();
                let v_end = a[eq + 2..].find('"').expect("unclosed value");
                attrs.push((key, a[eq + 2..eq + 2 + v_end].to_string()));
                a = &a[eq + 3 + v_end..];
            }
            out.push((name.to_ascii_lowercase(), attrs));
        }
        out
    }

    fn assert_clean(html: &str) {
        let lower = html.to_ascii_lowercase();
        assert!(!lower.contains("<script"), "script element in output");
        assert!(!lower.contains("<img"), "img element in output");
        assert!(!lower.contains("<svg onload"), "svg onload in output");
        // No attribute value may be broken out of: an injected quote would be `"'>`.
        assert!(!html.contains("\"'>"));
        assert!(!lower.contains("onerror=alert(2)>"));
        assert!(lower.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(lower.contains("&lt;img src=x onerror=alert(2)&gt;"));
        assert!(lower.contains("&quot;&#39;&gt;&lt;svg onload=alert(3)&gt;"));
        // Nothing is fetched from anywhere: the style sheet has no url() or
        // @import, and no tag has a URL-valued attribute other than in-page
        // links and the SVG namespace.
        assert!(!CSS.contains("url(") && !CSS.contains("@import"));
        for (tag, attrs) in tags(html) {
            for (name, value) in attrs {
                assert!(!name.starts_with("on"), "<{tag} {name}=...>");
                match name.as_str() {
                    "href" => assert!(value.starts_with('#'), "<{tag} href={value}>"),
                    "xmlns" => assert_eq!(value, "http://www.w3.org/2000/svg"),
                    "src" | "srcset" | "data" | "xlink:href" | "action" | "formaction" => {
                        panic!("<{tag} {name}={value}>")
                    }
                    _ => {}
                }
            }
        }
    }

    #[test]
    fn hostile_strings_are_inert() {
        let html = render(&[hostile()], "batch <script>alert(0)</script>");
        assert_clean(&html);
        assert!(html.contains("<title>batch &lt;script&gt;alert(0)&lt;/script&gt;</title>"));
        // File name in an attribute (the filter's tooltip) is escaped too.
        assert!(html.contains("title=\"wireshark -r dir/&lt;script&gt;"));
    }

    #[test]
    fn escaped_in_attributes_and_svg() {
        let html = render(&[hostile()], "t");
        // The timeline tooltips hold the hostile labels, escaped.
        assert!(html.contains("<title>frame 3 · +0.000 s · server→client · mqtt · PUBLISH &lt;img src=x onerror=alert(2)&gt; · problem</title>"));
        // Every attribute value is double-quoted and none contains a raw quote or `<`.
        let mut in_tag = false;
        let mut in_val = false;
        let mut prev = ' ';
        for ch in html.chars() {
            match (in_tag, in_val, ch) {
                (false, _, '<') => in_tag = true,
                (true, false, '>') => in_tag = false,
                (true, false, '"') if prev == '=' => in_val = true,
                (true, false, '\'') => panic!("single-quoted or stray quote in a tag"),
                (true, true, '"') => in_val = false,
                (true, true, '<') => panic!("raw < inside an attribute"),
                _ => {}
            }
            prev = ch;
        }
        // Except for the CSP meta, which is ours: its value holds 'none'.
    }

    #[test]
    fn verdict_and_summary() {
        let mut ok = CaptureReport::new("ok.pcap");
        ok.conns_total = 0;
        let html = render(&[hostile(), ok], "t");
        assert!(html.contains("class=\"pill bad\""));
        assert!(html.contains("href=\"#cap-2\">ok.pcap</a>"));
        assert!(html.contains("<code>ws_upgrade_rejected</code>"));
        assert!(html.contains("All 3 occurrences"));
    }

    #[test]
    fn long_timelines_are_capped() {
        let mut r = hostile();
        let c = &mut r.conns[0];
        c.events.clear();
        for i in 0..150u64 {
            c.events.push(TimelineEvent {
                frame: 10 + i,
                ts: Ts::new(100, 0, 6),
                dir: Some(Dir::C2S),
                layer: "ws",
                label: format!("binary {i} B"),
                bad: i == 120,
            });
        }
        c.meta.last_frame = 200;
        c.meta.rst_frame = Some(200);
        c.events_dropped = 5;
        let html = render(&[r], "t");
        let drawn = html.matches("<g><title>frame ").count();
        assert_eq!(drawn, MAX_DRAWN_EVENTS);
        // 152 points (SYN, 150, RST) - 60 drawn + 5 dropped by the model.
        assert!(html.contains("97 more event(s) not drawn"), "{html}");
        assert!(html.contains("binary 120 B"), "a bad event is kept");
        assert!(html.contains("events left out here"));
    }
}
