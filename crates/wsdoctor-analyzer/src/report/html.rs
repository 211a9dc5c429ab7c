//! The batch report as ONE self-contained HTML file: a summary of all
//! captures (sortable and filterable), then per capture its verdict,
//! findings and connections, each connection with a timeline drawn inline as
//! SVG and a drill-down into the evidence (native `<details>`: the Upgrade
//! request and answer with their headers and error page, the TLS handshake,
//! the MQTT session and its packets, how the connection ended).
//!
//! Captures are hostile: every string that comes from one (file names, URIs,
//! headers, server names, topics, client ids, payloads, messages, labels...)
//! goes through [`escape`] before it reaches the page, in text and in
//! attributes alike (all attributes are double-quoted). The page loads
//! nothing (no fonts, images or links to other hosts). Its one script
//! ([`SCRIPT`], inline, a fixed text) sorts and filters the summary table,
//! opens the drill-down a link points into and opens every drill-down for
//! printing; the page is complete without it. A Content-Security-Policy
//! allows that script only (by its SHA-256), no other script, no fetches, as
//! a second line of defence.
//!
//! Anchors are stable (they come from the capture's path, not its position):
//! `#cap-PATH` a capture, `#cap-PATH-f-CODE` a finding, `#cap-PATH-sN` the
//! connection `tcp.stream N` and `#cap-PATH-sN-detail` its drill-down (a
//! link to it opens it).

use super::model::{
    truncate, CaptureReport, Conn, MqttPacket, Payload, ReportFinding, TimelineEvent, Upgrade,
};
use super::text;
use crate::diagnose::{Severity, Status};
use crate::flow::{ConnEnd, Dir};
use base64::Engine as _;
use std::collections::HashMap;
use std::fmt::Write as _;

/// Connections drawn in full per capture (those with findings first).
pub const MAX_CONN_BLOCKS: usize = 100;
/// Timeline events drawn per connection; the rest are counted.
pub const MAX_DRAWN_EVENTS: usize = 60;
/// Occurrences listed per finding code.
const MAX_OCCURRENCES: usize = 50;
/// Lines of an error page's text shown.
pub const MAX_PAGE_LINES: usize = 12;
/// Finding codes and servers named per row of the summary table.
const MAX_ROW_ITEMS: usize = 8;

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

fn status_rank(s: Status) -> u8 {
    match s {
        Status::Ok => 0,
        Status::Inconclusive => 1,
        Status::Warning => 2,
        Status::Error => 3,
        Status::Unreadable => 4,
    }
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
pub(crate) fn group_filter(fs: &[&ReportFinding]) -> Option<String> {
    let mut streams: Vec<u64> = fs.iter().filter_map(|f| f.stream).collect();
    streams.dedup();
    if fs.len() > 1 && streams.len() > 1 {
        Some(format!(
            "tcp.stream in {{{}}}",
            join_nums(&streams, 500, " ")
        ))
    } else {
        fs.first().and_then(|f| f.filter.clone())
    }
}

/// `cap-` and the path in lower-case letters, digits and dashes (at most
/// 64 characters), made unique in the batch with `-2`, `-3`...
pub fn capture_slugs(reports: &[CaptureReport]) -> Vec<String> {
    let mut seen: HashMap<String, u32> = HashMap::new();
    let mut out = Vec::with_capacity(reports.len());
    for r in reports {
        let mut s = String::from("cap-");
        let mut dash = true;
        for c in r.file.chars() {
            if s.len() >= 68 {
                break;
            }
            if c.is_ascii_alphanumeric() {
                s.push(c.to_ascii_lowercase());
                dash = false;
            } else if !dash {
                s.push('-');
                dash = true;
            }
        }
        while s.ends_with('-') && s.len() > 4 {
            s.pop();
        }
        if s == "cap-" {
            s.push('x');
        }
        let base = s.clone();
        let mut n = 1;
        while seen.contains_key(&s) {
            n += 1;
            s = format!("{base}-{n}");
        }
        seen.insert(s.clone(), n);
        out.push(s);
    }
    out
}

/// The anchors of one capture's findings groups: `SLUG-f-CODE`, `-2`... for
/// a second group of the same code.
fn group_anchors(slug: &str, groups: &[(&str, Vec<&ReportFinding>)]) -> Vec<String> {
    let mut n: HashMap<String, u32> = HashMap::new();
    groups
        .iter()
        .map(|(code, _)| {
            let c: String = code
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '_' {
                        c.to_ascii_lowercase()
                    } else {
                        '-'
                    }
                })
                .take(64)
                .collect();
            let k = n.entry(c.clone()).or_default();
            *k += 1;
            if *k == 1 {
                format!("{slug}-f-{c}")
            } else {
                format!("{slug}-f-{c}-{k}")
            }
        })
        .collect()
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
h4{font-size:13.5px;margin:14px 0 6px}
code,.mono,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono",monospace;font-size:12.5px}
code{background:var(--panel);border:1px solid var(--line);border-radius:4px;padding:1px 5px;overflow-wrap:anywhere}
pre{background:var(--panel);border:1px solid var(--line);border-radius:4px;padding:6px 9px;margin:0;white-space:pre-wrap;overflow-wrap:anywhere}
a{color:var(--info);text-decoration:none}a:hover{text-decoration:underline}
.sub{color:var(--muted);margin:0 0 18px}
.tiles{display:flex;gap:12px;flex-wrap:wrap;margin:14px 0 22px}
.tile{border:1px solid var(--line);border-radius:8px;padding:10px 16px;min-width:130px;background:var(--panel)}
.tile b{display:block;font-size:22px;line-height:1.2}
.tile.ok b{color:var(--ok)}.tile.warn b{color:var(--warn)}.tile.bad b{color:var(--bad)}
table{border-collapse:collapse;width:100%;margin:6px 0 10px;font-size:13px}
th,td{border-bottom:1px solid var(--line);padding:6px 8px;text-align:left;vertical-align:top}
th{background:var(--panel);font-weight:600;white-space:nowrap}
th.sort{cursor:pointer}th.sort::after{content:" \2195";color:#afb8c1}
th[aria-sort=ascending]::after{content:" \2191";color:var(--fg)}th[aria-sort=descending]::after{content:" \2193";color:var(--fg)}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.file{overflow-wrap:anywhere;min-width:150px;max-width:280px}
td.codes{min-width:210px;max-width:300px;font-size:12px}td.codes a{white-space:nowrap}
td.zero{color:#afb8c1}
.filters{display:flex;gap:8px 16px;flex-wrap:wrap;align-items:center;margin:6px 0;font-size:13px}
.filters select,.filters input{font:inherit;padding:2px 4px}
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
.finding:target,.conn:target{box-shadow:0 0 0 3px var(--info-bg)}
.fhead{display:flex;gap:10px;align-items:baseline;flex-wrap:wrap}
.fhead .code{font-weight:600}
.where{color:var(--muted);font-size:13px}
.msg{margin:6px 0;overflow-wrap:anywhere}
.hint{margin:6px 0;padding:6px 10px;background:var(--panel);border-radius:4px;overflow-wrap:anywhere}
.hint b,.filter b{color:var(--muted);font-weight:600;margin-right:6px}
.filter{margin:6px 0 2px;font-size:13px}
details{margin-top:6px;font-size:13px}summary{cursor:pointer;color:var(--muted)}
details ul{margin:4px 0;padding-left:20px}details li{overflow-wrap:anywhere}
details.drill{margin:8px 0 2px;border-top:1px dashed var(--line);padding-top:6px}
details.drill>summary{color:var(--info);font-weight:600}
.ev{padding:2px 0 6px}
.pair{display:grid;grid-template-columns:repeat(auto-fit,minmax(340px,1fr));gap:10px}
.pair figure{margin:0}.pair figcaption,.cap{color:var(--muted);font-size:12px;margin:0 0 3px}
pre.page{background:#fff;border-style:dashed}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:4px 0 8px}
dl.kv dt{color:var(--muted)}dl.kv dd{margin:0;overflow-wrap:anywhere}
table.pk td,table.tlsc td{overflow-wrap:anywhere}
table.pk{font-size:12px}table.pk td.pl{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono",monospace;white-space:pre-wrap;max-width:420px}
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
.dot.http{background:var(--http)}.dot.ws{background:var(--ws)}.dot.mqtt{background:var(--mqtt)}.dot.tls{background:#953800}.dot.tcp{background:var(--tcp)}.dot.bad{background:var(--bad);box-shadow:0 0 0 2px var(--bad-bg)}
.more{color:var(--muted);font-style:italic}
.none{color:var(--muted)}
.badt{color:var(--bad);font-weight:600}
footer{margin-top:40px;color:var(--muted);font-size:12px;border-top:1px solid var(--line);padding-top:10px}
@media print{main{max-width:none;padding:0}.filters{display:none}
.conn,.finding,tr,figure{break-inside:avoid}section.capture{break-before:page}
details::details-content{content-visibility:visible;display:block}
details>summary{list-style:none}details.drill>summary::after{content:" (shown in full for printing)"}
th.sort::after{content:""}a{color:inherit}
.finding:target,.conn:target{box-shadow:none}}
"#;

/// The page's one script: it sorts and filters the summary table, opens the
/// drill-down a link points into, and opens every drill-down for printing.
/// It only reads the page, moves rows and sets `hidden` / `open`; it never
/// builds markup. The Content-Security-Policy allows exactly this text.
pub const SCRIPT: &str = r#"(function(){
"use strict";
var t=document.getElementById("captures"),f=document.getElementById("filters");
if(t&&f){
f.hidden=false;
var body=t.tBodies[0],rows=[].slice.call(body.rows),shown=document.getElementById("shown");
var sel=[].slice.call(f.querySelectorAll("[data-filter]"));
var apply=function(){var n=0;rows.forEach(function(r){var ok=sel.every(function(s){var v=s.value,k=s.getAttribute("data-filter");if(!v)return true;var a=r.getAttribute("data-"+k)||"";if(k==="file")return a.toLowerCase().indexOf(v.toLowerCase())>=0;if(k==="status")return a===v;return a.indexOf("|"+v+"|")>=0;});r.hidden=!ok;if(ok)n++;});shown.textContent=n+" of "+rows.length+" shown";};
sel.forEach(function(s){s.addEventListener("input",apply);s.addEventListener("change",apply);});
apply();
var key=function(c){var v=c.getAttribute("data-v");if(v===null)v=c.textContent.trim();var x=parseFloat(v.replace(/,/g,""));return isNaN(x)?v.toLowerCase():x;};
[].forEach.call(t.tHead.rows[0].cells,function(th,i){th.classList.add("sort");th.tabIndex=0;
var go=function(){var d=th.getAttribute("aria-sort")==="ascending"?-1:1;[].forEach.call(t.tHead.rows[0].cells,function(o){o.removeAttribute("aria-sort");});th.setAttribute("aria-sort",d>0?"ascending":"descending");
rows.sort(function(a,b){var x=key(a.cells[i]),y=key(b.cells[i]);if(typeof x!==typeof y){x=String(x);y=String(y);}return x<y?-d:x>y?d:0;});rows.forEach(function(r){body.appendChild(r);});};
th.addEventListener("click",go);th.addEventListener("keydown",function(e){if(e.key==="Enter"||e.key===" "){e.preventDefault();go();}});});
}
var open=function(){var id=location.hash.slice(1);if(!id)return;try{id=decodeURIComponent(id);}catch(e){return;}var e=document.getElementById(id);for(;e;e=e.parentElement){if(e.tagName==="DETAILS")e.open=true;}};
window.addEventListener("hashchange",open);open();
window.addEventListener("beforeprint",function(){[].forEach.call(document.querySelectorAll("details:not([open])"),function(d){d.open=true;d.setAttribute("data-print","");});});
window.addEventListener("afterprint",function(){[].forEach.call(document.querySelectorAll("details[data-print]"),function(d){d.open=false;d.removeAttribute("data-print");});});
})();"#;

/// The Content-Security-Policy of the page: inline style, [`SCRIPT`] by its
/// hash, nothing else.
pub fn csp() -> String {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(SCRIPT.as_bytes());
    format!(
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; script-src 'sha256-{}'; form-action 'none'; base-uri 'none'",
        base64::engine::general_purpose::STANDARD.encode(h)
    )
}

/// Render a batch of capture reports as one self-contained HTML page.
pub fn render(reports: &[CaptureReport], title: &str) -> String {
    let mut s = String::with_capacity(16 * 1024 + reports.len() * 8 * 1024);
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{}\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"wsdoctor {}\">\n<title>{}</title>\n<style>{}</style>\n</head>\n<body>\n<main>\n",
        csp(),
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
    let slugs = capture_slugs(reports);
    summary(&mut s, reports, &slugs);
    for (r, slug) in reports.iter().zip(&slugs) {
        capture(&mut s, slug, r);
    }
    let _ = writeln!(
        s,
        "<footer>Generated offline by wsdoctor {}. Everything shown comes from the capture files; \
         Wireshark filters open the evidence: <code>wireshark -r FILE -Y \"FILTER\"</code>. \
         Secrets (passwords, credentials, tokens, signatures) are shown as &lt;redacted&gt; unless the report was made with --show-secrets.</footer>",
        escape(env!("CARGO_PKG_VERSION"))
    );
    let _ = write!(s, "<script>{SCRIPT}</script>\n</main>\n</body>\n</html>\n");
    s
}

/// The anchor a capture's verdict points to: the finding behind it, else
/// the capture.
fn verdict_anchor(slug: &str, r: &CaptureReport) -> String {
    let groups = r.grouped();
    let anchors = group_anchors(slug, &groups);
    if let Some(code) = r.verdict.as_ref().and_then(|v| v.code.as_deref()) {
        if let Some(i) = groups.iter().position(|g| g.0 == code) {
            return anchors[i].clone();
        }
    }
    slug.to_string()
}

/// `|a|b|`: a list for the summary table's filters ('|' in values is replaced).
fn bar_list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let mut s = String::from("|");
    for i in items {
        s.push_str(&i.replace('|', "¦"));
        s.push('|');
    }
    s
}

fn summary(s: &mut String, reports: &[CaptureReport], slugs: &[String]) {
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

    // What the filters offer: the statuses, codes and servers present.
    let mut statuses: Vec<Status> = reports.iter().map(|r| r.status()).collect();
    statuses.sort_by_key(|st| std::cmp::Reverse(status_rank(*st)));
    statuses.dedup();
    let mut all_codes: Vec<&str> = Vec::new();
    let mut all_servers: Vec<String> = Vec::new();
    let per_report: Vec<(Vec<&str>, Vec<String>)> = reports
        .iter()
        .map(|r| {
            let codes: Vec<&str> = r
                .grouped()
                .iter()
                .map(|g| g.0)
                .fold(Vec::new(), |mut v, c| {
                    if !v.contains(&c) {
                        v.push(c);
                    }
                    v
                });
            let servers = r.servers();
            for c in &codes {
                if !all_codes.contains(c) {
                    all_codes.push(c);
                }
            }
            for sv in &servers {
                if !all_servers.contains(sv) {
                    all_servers.push(sv.clone());
                }
            }
            (codes, servers)
        })
        .collect();
    all_codes.sort_unstable();
    all_servers.sort();

    s.push_str("<h3>Captures</h3>\n<div class=\"filters\" id=\"filters\" hidden>\n");
    s.push_str("<label>Verdict <select data-filter=\"status\"><option value=\"\">all</option>");
    for st in &statuses {
        let _ = write!(
            s,
            "<option value=\"{}\">{} {}</option>",
            st.as_str(),
            st.mark(),
            st.as_str()
        );
    }
    s.push_str("</select></label>\n<label>Finding <select data-filter=\"codes\"><option value=\"\">any</option>");
    for c in all_codes.iter().take(500) {
        let v = escape(&c.replace('|', "¦"));
        let _ = write!(s, "<option value=\"{v}\">{v}</option>");
    }
    s.push_str("</select></label>\n<label>Server <select data-filter=\"servers\"><option value=\"\">any</option>");
    for sv in all_servers.iter().take(500) {
        let v = escape(&sv.replace('|', "¦"));
        let _ = write!(s, "<option value=\"{v}\">{v}</option>");
    }
    s.push_str("</select></label>\n<label>File <input type=\"search\" data-filter=\"file\" placeholder=\"part of the path\"></label>\n<span class=\"more\" id=\"shown\"></span>\n</div>\n");

    s.push_str("<table class=\"summary\" id=\"captures\">\n<thead><tr><th class=\"n\">#</th><th>Capture</th><th>Verdict</th><th>Findings</th><th>Servers</th>\
        <th class=\"n\">Packets</th><th class=\"n\">Connections</th><th class=\"n\">Errors</th><th class=\"n\">Warnings</th><th class=\"n\">Info</th></tr></thead>\n<tbody>\n");
    for (i, (r, slug)) in reports.iter().zip(slugs).enumerate() {
        let v = r.verdict();
        let n = sev_counts(r);
        let (codes, servers) = &per_report[i];
        let cell = |x: u64| {
            if x == 0 {
                "<td class=\"n zero\">0</td>".to_string()
            } else {
                format!("<td class=\"n\">{}</td>", num(x))
            }
        };
        let groups = r.grouped();
        let anchors = group_anchors(slug, &groups);
        let mut code_links: Vec<String> = codes
            .iter()
            .take(MAX_ROW_ITEMS)
            .map(|c| {
                let a = groups
                    .iter()
                    .position(|g| g.0 == *c)
                    .map(|p| anchors[p].clone())
                    .unwrap_or_else(|| slug.clone());
                format!("<a href=\"#{}\">{}</a>", escape(&a), escape(c))
            })
            .collect();
        if codes.len() > MAX_ROW_ITEMS {
            code_links.push(format!(
                "<span class=\"more\">+{}</span>",
                codes.len() - MAX_ROW_ITEMS
            ));
        }
        let mut server_names: Vec<String> = servers
            .iter()
            .take(MAX_ROW_ITEMS)
            .map(|sv| escape(sv))
            .collect();
        if servers.len() > MAX_ROW_ITEMS {
            server_names.push(format!("+{}", servers.len() - MAX_ROW_ITEMS));
        }
        let _ = writeln!(
            s,
            "<tr data-status=\"{}\" data-codes=\"{}\" data-servers=\"{}\" data-file=\"{}\"><td class=\"n\">{}</td>\
             <td class=\"file\"><a href=\"#{}\">{}</a></td><td data-v=\"{}\"><a class=\"pill {}\" href=\"#{}\">{}</a></td>\
             <td class=\"codes\">{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>{}{}{}</tr>",
            r.status().as_str(),
            escape(&bar_list(codes.iter().copied())),
            escape(&bar_list(servers.iter().map(|x| x.as_str()))),
            escape(&r.file),
            i + 1,
            escape(slug),
            escape(&r.file),
            status_rank(r.status()),
            verdict_class(&v),
            escape(&verdict_anchor(slug, r)),
            escape(&v),
            code_links.join(", "),
            server_names.join(", "),
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
    struct CodeRow<'a> {
        code: &'a str,
        sev: Severity,
        findings: u64,
        captures: u64,
        first: String,
    }
    let mut codes: Vec<CodeRow> = Vec::new();
    for (r, slug) in reports.iter().zip(slugs) {
        let mut seen: Vec<&str> = Vec::new();
        let groups = r.grouped();
        let anchors = group_anchors(slug, &groups);
        for f in &r.findings {
            let i = match codes.iter().position(|c| c.code == f.code) {
                Some(i) => i,
                None => {
                    let first = groups
                        .iter()
                        .position(|g| g.0 == f.code)
                        .map(|p| anchors[p].clone())
                        .unwrap_or_else(|| slug.clone());
                    codes.push(CodeRow {
                        code: &f.code,
                        sev: f.severity,
                        findings: 0,
                        captures: 0,
                        first,
                    });
                    codes.len() - 1
                }
            };
            let row = &mut codes[i];
            row.findings += 1;
            row.sev = row.sev.max(f.severity);
            if !seen.contains(&f.code.as_str()) {
                seen.push(&f.code);
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
                "<tr><td><a href=\"#{}\"><code>{}</code></a></td><td><span class=\"sev {}\">{}</span></td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                escape(&c.first),
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
    for (i, (_, sv)) in per_report.iter().enumerate() {
        for name in sv {
            match servers.iter_mut().find(|x| &x.0 == name) {
                Some(x) => x.1.push(i),
                None => servers.push((name.clone(), vec![i])),
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
                        "<a href=\"#{}\">{}</a>",
                        escape(&slugs[i]),
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

/// The connections of a capture drawn in full: those named by a finding
/// first, then the others, up to the cap, in stream order.
fn chosen_conns(r: &CaptureReport) -> (Vec<&Conn>, Vec<u64>) {
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
    (chosen, flagged)
}

fn capture(s: &mut String, slug: &str, r: &CaptureReport) {
    let v = r.verdict();
    let _ = writeln!(
        s,
        "<section class=\"capture\" id=\"{}\">\n<h2><a href=\"#{}\">{}</a></h2>",
        escape(slug),
        escape(slug),
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

    let (chosen, flagged) = chosen_conns(r);
    let shown: Vec<u64> = chosen.iter().map(|c| c.meta.stream).collect();
    let groups = r.grouped();
    let anchors = group_anchors(slug, &groups);
    if !groups.is_empty() {
        let _ = writeln!(s, "<h3>Findings ({})</h3>", num(r.findings.len() as u64));
        for ((code, fs), anchor) in groups.iter().zip(&anchors) {
            finding_group(s, r, slug, anchor, code, fs, &shown);
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
             <span><i class=\"dot mqtt\"></i>MQTT</span><span><i class=\"dot tls\"></i>TLS</span><span><i class=\"dot tcp\"></i>TCP</span>\
             <span><i class=\"dot bad\"></i>problem</span></div>\n",
        );
        for c in &chosen {
            conn_block(s, slug, c, flagged.contains(&c.meta.stream));
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

/// `tcp.stream N`, a link to its drill-down when the connection is shown.
fn stream_link(slug: &str, stream: u64, shown: &[u64]) -> String {
    if shown.contains(&stream) {
        format!(
            "<a href=\"#{}-s{stream}-detail\">tcp.stream {stream}</a>",
            escape(slug)
        )
    } else {
        format!("tcp.stream {stream}")
    }
}

fn finding_group(
    s: &mut String,
    r: &CaptureReport,
    slug: &str,
    anchor: &str,
    code: &str,
    fs: &[&ReportFinding],
    shown: &[u64],
) {
    let f = fs[0];
    let mut streams: Vec<u64> = fs.iter().filter_map(|f| f.stream).collect();
    streams.dedup();
    let mut frames: Vec<u64> = fs.iter().flat_map(|f| f.frames.iter().copied()).collect();
    frames.sort_unstable();
    frames.dedup();
    // Escaped parts (links are markup).
    let mut where_ = match streams.len() {
        0 => String::new(),
        1 => stream_link(slug, streams[0], shown),
        n => {
            let mut links: Vec<String> = streams
                .iter()
                .take(20)
                .map(|&st| stream_link(slug, st, shown))
                .collect();
            if n > 20 {
                links.push(format!("… ({} more)", n - 20));
            }
            format!("{n} connections ({})", links.join(", "))
        }
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
        "<div class=\"finding {}\" id=\"{}\">\n<div class=\"fhead\"><span class=\"sev {}\">{}</span><a href=\"#{}\"><code class=\"code\">{}</code></a><span class=\"where\">{}</span></div>",
        sev_class(f.severity),
        escape(anchor),
        sev_class(f.severity),
        escape(f.severity.as_str()),
        escape(anchor),
        escape(code),
        where_
    );
    let _ = writeln!(s, "<p class=\"msg\">{}</p>", escape(&f.message));
    let _ = writeln!(
        s,
        "<p class=\"hint\"><b>What to do</b>{}</p>",
        escape(&f.hint)
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
                at.push_str(&stream_link(slug, st, shown));
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
                at,
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

fn conn_block(s: &mut String, slug: &str, c: &Conn, flagged: bool) {
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
        "<div class=\"conn{}\" id=\"{}-s{}\">\n<div class=\"chead\"><span class=\"id\">#{}</span><span class=\"ep mono\">{} → {}</span><span class=\"proto {}\">{}</span>{}\
         <span class=\"facts\">{} pkts · {} / {} bytes (c→s / s→c) · {} · frames {}–{} · {}{}</span></div>\n<div class=\"cbody\">",
        if flagged { " flagged" } else { "" },
        escape(slug),
        m.stream,
        m.stream,
        escape(&m.client),
        escape(&m.server),
        escape(&m.protocol),
        escape(&m.protocol),
        if m.decrypted {
            "<span class=\"proto tls\" title=\"decrypted with the TLS key log\">decrypted TLS</span>"
        } else {
            ""
        },
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
    if let Some(sni) = &m.sni {
        lines.push(format!("TLS server name (SNI): {sni}"));
    }
    if let Some(alpn) = m.alpn.as_ref().filter(|a| !a.is_empty()) {
        lines.push(format!("ALPN: {}", alpn.join(", ")));
    }
    // The upgrade's own summary line is shown as the table below.
    let asks: Vec<String> = c
        .upgrades
        .iter()
        .map(|u| format!("{} {} ", u.method, u.uri))
        .collect();
    lines.extend(
        m.summary
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
            let (answer, good) = match u.status {
                Some(st) => (
                    format!("{} {}", st, u.reason.as_deref().unwrap_or("")),
                    st == 101,
                ),
                None => ("no answer".to_string(), false),
            };
            let frames = match u.response_frame {
                Some(f) => format!("{} → {}", u.request_frame, f),
                None => u.request_frame.to_string(),
            };
            let mut req = format!("{} {}", u.method, u.uri);
            if !u.protocols_offered.is_empty() {
                let _ = write!(
                    req,
                    "  (Sec-WebSocket-Protocol: {})",
                    u.protocols_offered.join(", ")
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
                escape(&u.outcome)
            );
        }
        if c.upgrades_dropped > 0 {
            let _ = writeln!(
                s,
                "<tr><td colspan=\"5\" class=\"more\">… {} more upgrade request(s) not kept</td></tr>",
                num(c.upgrades_dropped)
            );
        }
        s.push_str("</tbody>\n</table>\n");
    }
    timeline(s, c);
    drill_down(s, slug, c);
    s.push_str("</div>\n</div>\n");
}

fn dir_arrow(d: Dir) -> &'static str {
    match d {
        Dir::C2S => "client → server",
        Dir::S2C => "server → client",
    }
}

fn side(d: Dir) -> &'static str {
    match d {
        Dir::C2S => "client",
        Dir::S2C => "server",
    }
}

/// `68 69 ff` (at most `max` bytes).
fn hex(b: &[u8], max: usize) -> String {
    let mut s = String::with_capacity(b.len().min(max) * 3);
    for (i, x) in b.iter().take(max).enumerate() {
        if i > 0 {
            s.push(' ');
        }
        let _ = write!(s, "{x:02x}");
    }
    if b.len() > max {
        s.push_str(" …");
    }
    s
}

/// An HTTP message as text: its first line and its header fields.
fn http_text(first: &str, headers: &[(String, String)]) -> String {
    let mut t = String::from(first);
    for (k, v) in headers {
        t.push('\n');
        t.push_str(k);
        t.push_str(": ");
        t.push_str(v);
    }
    t
}

fn kv(s: &mut String, k: &str, v: &str) {
    let _ = write!(s, "<dt>{}</dt><dd>{}</dd>", escape(k), escape(v));
}

fn opt(v: Option<&str>) -> String {
    match v {
        Some(v) => format!("“{v}”"),
        None => "none".to_string(),
    }
}

/// The drill-down of a connection: what the evidence is, in full.
fn drill_down(s: &mut String, slug: &str, c: &Conn) {
    let m = &c.meta;
    let mut parts: Vec<String> = Vec::new();
    if !c.upgrades.is_empty() {
        parts.push("HTTP Upgrade".into());
    }
    if m.tls.is_some() {
        parts.push("TLS handshake".into());
    }
    if c.mqtt.total > 0 {
        parts.push(format!("MQTT ({} packets)", num(c.mqtt.total)));
    }
    parts.push("how the connection ended".into());
    let _ = writeln!(
        s,
        "<details class=\"drill\"><summary>Evidence: {}</summary>\n<div class=\"ev\" id=\"{}-s{}-detail\">",
        escape(&parts.join(" · ")),
        escape(slug),
        m.stream
    );
    for (i, u) in c.upgrades.iter().enumerate() {
        upgrade_detail(s, u, i, c.upgrades.len());
    }
    if let Some(t) = &m.tls {
        tls_detail(s, t);
    }
    if c.mqtt.total > 0 {
        mqtt_detail(s, c);
    }
    end_detail(s, c);
    s.push_str("</div></details>\n");
}

fn upgrade_detail(s: &mut String, u: &Upgrade, i: usize, n: usize) {
    if n > 1 {
        let _ = writeln!(s, "<h4>HTTP Upgrade {} of {}</h4>", i + 1, n);
    } else {
        s.push_str("<h4>HTTP Upgrade</h4>\n");
    }
    s.push_str("<div class=\"pair\">\n");
    let _ = writeln!(
        s,
        "<figure class=\"http\"><figcaption>Request · frame {} · client → server</figcaption><pre>{}</pre></figure>",
        u.request_frame,
        escape(&http_text(&u.request_line(), &u.request_headers))
    );
    match (u.status_line(), u.response_frame) {
        (Some(line), f) => {
            let _ = writeln!(
                s,
                "<figure class=\"http\"><figcaption>Response · frame {} · server → client</figcaption><pre>{}</pre></figure>",
                f.map_or("?".to_string(), |f| f.to_string()),
                escape(&http_text(&line, &u.response_headers))
            );
        }
        (None, _) => {
            let _ = writeln!(
                s,
                "<figure class=\"http\"><figcaption>Response</figcaption><p class=\"badt\">No answer ({}).</p></figure>",
                escape(&u.outcome.replace('_', " "))
            );
        }
    }
    s.push_str("</div>\n");
    let title = u.error_title();
    let lines = u.error_lines(MAX_PAGE_LINES);
    if title.is_some() || !lines.is_empty() {
        let _ = writeln!(
            s,
            "<p class=\"cap\">Response body{}</p>",
            match &title {
                Some(t) => format!(": page title <b>“{}”</b>", escape(t)),
                None => String::new(),
            }
        );
        if !lines.is_empty() {
            let _ = writeln!(s, "<pre class=\"page\">{}</pre>", escape(&lines.join("\n")));
        }
    } else if let Some(Payload::Binary(b)) = &u.body {
        let _ = writeln!(
            s,
            "<p class=\"cap\">Response body: not text (first bytes: <span class=\"mono\">{}</span>)</p>",
            hex(b, 32)
        );
    }
    s.push_str("<dl class=\"kv\">");
    kv(s, "Outcome", &u.outcome.replace('_', " "));
    if u.websocket {
        kv(
            s,
            "Subprotocol",
            &format!(
                "offered {}; selected {}",
                if u.protocols_offered.is_empty() {
                    "none".to_string()
                } else {
                    u.protocols_offered.join(", ")
                },
                opt(u.protocol_selected.as_deref())
            ),
        );
        if !u.extensions_offered.is_empty() || !u.extensions_selected.is_empty() {
            kv(
                s,
                "Extensions",
                &format!(
                    "offered {}; selected {}",
                    if u.extensions_offered.is_empty() {
                        "none".to_string()
                    } else {
                        u.extensions_offered.join(", ")
                    },
                    if u.extensions_selected.is_empty() {
                        "none".to_string()
                    } else {
                        u.extensions_selected.join(", ")
                    }
                ),
            );
        }
        if u.status == Some(101) {
            let acc = match (u.accept_valid, &u.accept, &u.accept_expected) {
                (Some(true), _, _) => "valid (base64(SHA-1(key + GUID)))".to_string(),
                (_, None, _) => "missing".to_string(),
                (_, Some(a), Some(e)) => format!("wrong: found {a}, expected {e}"),
                (_, Some(a), None) => format!("found {a}, no key to check it against"),
            };
            kv(s, "Sec-WebSocket-Accept", &acc);
        }
    }
    if let Some(p) = &u.server {
        kv(
            s,
            "Server",
            &format!(
                "{} · WebSocket support: {} · confidence {} (from {})",
                u.server_text(),
                p.websocket,
                p.confidence,
                p.evidence.join(", ")
            ),
        );
    }
    s.push_str("</dl>\n");
}

fn tls_detail(s: &mut String, t: &super::model::TlsInfo) {
    s.push_str("<h4>TLS handshake</h4>\n<dl class=\"kv\">");
    match t.client_hello_frame {
        Some(f) => kv(
            s,
            &format!("ClientHello (frame {f})"),
            &format!(
                "versions {}; server name (SNI) {}; ALPN {}; {} cipher suites",
                if t.client_versions.is_empty() {
                    "?".to_string()
                } else {
                    t.client_versions.join(", ")
                },
                opt(t.sni.as_deref()),
                if t.alpn_offered.is_empty() {
                    "none".to_string()
                } else {
                    t.alpn_offered.join(", ")
                },
                t.suites_offered
            ),
        ),
        None => kv(s, "ClientHello", "not seen"),
    }
    if let Some(g) = &t.hello_retry {
        kv(s, "HelloRetryRequest", &format!("asks for key share {g}"));
    }
    match t.server_hello_frame {
        Some(f) => kv(
            s,
            &format!("ServerHello (frame {f})"),
            &format!(
                "{} · {} · ALPN {}{}",
                t.version.as_deref().unwrap_or("?"),
                t.suite.as_deref().unwrap_or("?"),
                opt(t.alpn.as_deref()),
                if t.resumed { " · session resumed" } else { "" }
            ),
        ),
        None => kv(s, "ServerHello", "not seen"),
    }
    kv(
        s,
        "Handshake",
        &format!(
            "{} · encrypted records {} c→s / {} s→c",
            if t.handshake_complete {
                "completed"
            } else {
                "not completed"
            },
            num(t.encrypted_records[0]),
            num(t.encrypted_records[1])
        ),
    );
    s.push_str("</dl>\n");
    if !t.certificates.is_empty() {
        s.push_str("<table class=\"tlsc\"><thead><tr><th>Certificate</th><th>Issuer</th><th>Valid</th><th>Names (SAN)</th><th>Key</th></tr></thead><tbody>\n");
        for c in &t.certificates {
            let _ = writeln!(
                s,
                "<tr><td>{}{}</td><td>{}</td><td class=\"mono\">{} – {}</td><td>{}</td><td>{}</td></tr>",
                escape(&c.subject),
                if c.self_signed { " <b>(self-signed)</b>" } else { "" },
                escape(&c.issuer),
                escape(&c.not_before),
                escape(&c.not_after),
                escape(&c.san.join(", ")),
                escape(&c.key)
            );
        }
        s.push_str("</tbody></table>\n");
    }
    if !t.alerts.is_empty() {
        s.push_str("<ul class=\"summary\">\n");
        for a in &t.alerts {
            let _ = writeln!(
                s,
                "<li class=\"{}\">frame {}: {} alert from the {}: {} ({})</li>",
                if a.level == "fatal" { "badt" } else { "" },
                a.frame,
                escape(&a.level),
                side(a.dir),
                escape(&a.name),
                a.description
            );
        }
        s.push_str("</ul>\n");
    }
}

fn payload_cell(p: &MqttPacket) -> String {
    let Some(pl) = &p.payload else {
        return String::new();
    };
    let total = p.payload_len.unwrap_or(pl.as_bytes().len() as u64);
    let shown = pl.as_bytes().len() as u64;
    let cut = if shown < total {
        format!(
            " <span class=\"more\">(first {} of {} bytes)</span>",
            num(shown),
            num(total)
        )
    } else {
        String::new()
    };
    match pl {
        Payload::Text(t) if !t.is_empty() => format!("{}{cut}", escape(t)),
        Payload::Text(_) => "<span class=\"none\">empty</span>".to_string(),
        Payload::Binary(b) => format!("<span class=\"none\">hex</span> {}{cut}", hex(b, b.len())),
    }
}

fn mqtt_detail(s: &mut String, c: &Conn) {
    let t0 = c.meta.first_ts.as_f64();
    let log = &c.mqtt;
    s.push_str("<h4>MQTT</h4>\n<dl class=\"kv\">");
    match log
        .connect
        .as_ref()
        .and_then(|p| p.connect.as_ref().map(|x| (p, x)))
    {
        Some((p, k)) => {
            let level = super::markdown::mqtt_version(k.level);
            kv(
                s,
                &format!("CONNECT (frame {})", p.frame),
                &format!(
                    "{} level {} ({level}) · client id {} · user name {} · password {} · keep-alive {} s · clean {} {} · will topic {}",
                    k.protocol_name,
                    k.level,
                    opt(k.client_id.as_deref()),
                    opt(k.username.as_deref()),
                    k.password.as_deref().unwrap_or("none"),
                    k.keep_alive,
                    if k.level >= 5 { "start" } else { "session" },
                    if k.clean_start { "yes" } else { "no" },
                    opt(k.will_topic.as_deref())
                ),
            );
        }
        None => kv(s, "CONNECT", "not seen on this connection"),
    }
    match &log.connack {
        Some(p) => kv(
            s,
            &format!("CONNACK (frame {})", p.frame),
            &format!(
                "code {} ({}) · session present {}",
                p.code.unwrap_or(0),
                p.reason_name.as_deref().unwrap_or("?"),
                if p.session_present == Some(true) {
                    "yes"
                } else {
                    "no"
                }
            ),
        ),
        None => kv(s, "CONNACK", "none"),
    }
    for d in log.disconnect.iter().flatten() {
        kv(
            s,
            &format!("DISCONNECT (frame {})", d.frame),
            &format!(
                "from the {} · reason {} ({})",
                side(d.dir),
                d.code.unwrap_or(0),
                d.reason_name.as_deref().unwrap_or("normal")
            ),
        );
    }
    s.push_str("</dl>\n");
    s.push_str("<table class=\"pk\"><thead><tr><th class=\"n\">Frame</th><th class=\"n\">Time</th><th>Dir</th><th>Type</th><th>Topic</th><th class=\"n\">QoS</th><th class=\"n\">Id</th><th>Payload / details</th></tr></thead><tbody>\n");
    let row = |s: &mut String, p: &MqttPacket| {
        let mut topic = p.topic.clone().unwrap_or_default();
        if !p.filters.is_empty() {
            topic = p
                .filters
                .iter()
                .map(|(t, q)| match q {
                    Some(q) => format!("{t} (QoS {q})"),
                    None => t.clone(),
                })
                .collect::<Vec<_>>()
                .join(", ");
        }
        let mut details = payload_cell(p);
        let mut notes: Vec<String> = Vec::new();
        if p.retain {
            notes.push("retain".into());
        }
        if p.dup {
            notes.push("dup".into());
        }
        if let Some(code) = p.code {
            if p.msg_type != 3 {
                notes.push(match &p.reason_name {
                    Some(n) => format!("code {code} ({n})"),
                    None => format!("code {code}"),
                });
            }
        }
        if !p.codes.is_empty() {
            notes.push(format!(
                "codes {}",
                p.codes
                    .iter()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if let Some(k) = &p.connect {
            notes.push(format!("client id {}", opt(k.client_id.as_deref())));
        }
        if !p.anomalies.is_empty() {
            notes.push(format!("anomalies: {}", p.anomalies.join(", ")));
        }
        if !notes.is_empty() {
            if !details.is_empty() {
                details.push_str(" · ");
            }
            details.push_str(&escape(&notes.join(" · ")));
        }
        let _ = writeln!(
            s,
            "<tr><td class=\"n\">{}</td><td class=\"n\">+{}</td><td title=\"{}\">{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"pl\">{}</td></tr>",
            p.frame,
            escape(&fmt_secs(p.ts.as_f64() - t0)),
            dir_arrow(p.dir),
            if p.dir == Dir::C2S { "→" } else { "←" },
            escape(&p.name),
            escape(&topic),
            p.qos.map(|q| q.to_string()).unwrap_or_default(),
            p.packet_id.map(|q| q.to_string()).unwrap_or_default(),
            details
        );
    };
    for p in &log.head {
        row(s, p);
    }
    if log.hidden() > 0 {
        let _ = writeln!(
            s,
            "<tr><td colspan=\"8\" class=\"more\">… {} packet(s) not listed</td></tr>",
            num(log.hidden())
        );
    }
    for p in &log.tail {
        row(s, p);
    }
    s.push_str("</tbody></table>\n");
}

fn end_detail(s: &mut String, c: &Conn) {
    let m = &c.meta;
    let t0 = m.first_ts.as_f64();
    s.push_str("<h4>How the connection ended</h4>\n<ul class=\"summary\">\n");
    match &m.close {
        Some(cl) => {
            let quiet = if cl.quiet_us > 0 {
                format!(
                    ", {} after the last data{}",
                    text::fmt_gap(cl.quiet_us as f64 / 1e6),
                    cl.last_data_frame
                        .map(|f| format!(" (frame {f})"))
                        .unwrap_or_default()
                )
            } else if cl.last_data_frame == Some(cl.frame) {
                ", with the last data".to_string()
            } else {
                String::new()
            };
            let _ = writeln!(
                s,
                "<li{}>The {} closed first with {} (frame {}, +{}{}).</li>",
                if cl.rst { " class=\"badt\"" } else { "" },
                side(cl.by),
                if cl.rst { "a reset (RST)" } else { "FIN" },
                cl.frame,
                escape(&fmt_secs(cl.ts.as_f64() - t0)),
                escape(&quiet)
            );
        }
        None => s.push_str("<li>Neither side closed the connection in the capture.</li>\n"),
    }
    let state = match (m.end, m.rst_frame) {
        (ConnEnd::Rst, Some(f)) => format!("reset (RST in frame {f})"),
        (ConnEnd::Rst, None) => "reset".to_string(),
        (ConnEnd::Fin, _) => "closed with FIN".to_string(),
        (ConnEnd::Open, _) if m.evicted => {
            "dropped from the connection table (idle, or the table was full) before the capture ended".to_string()
        }
        (ConnEnd::Open, _) => "still open when the capture ended".to_string(),
    };
    let _ = writeln!(
        s,
        "<li>At the end: {}; last frame {}, +{}.</li>",
        escape(&state),
        m.last_frame,
        escape(&fmt_secs(m.last_ts.as_f64() - t0))
    );
    if c.ws_frames != [0, 0] || m.protocol == "websocket" {
        for d in [Dir::C2S, Dir::S2C] {
            match &c.ws_close[d.idx()] {
                Some(w) => {
                    let _ = writeln!(
                        s,
                        "<li{}>WebSocket: the {} sent Close {}{} (frame {}).</li>",
                        if w.close_code.is_some_and(|c| c != 1000 && c != 1001) {
                            " class=\"badt\""
                        } else {
                            ""
                        },
                        side(d),
                        w.close_code
                            .map_or("without a status code".to_string(), |c| c.to_string()),
                        w.close_reason
                            .as_deref()
                            .filter(|r| !r.is_empty())
                            .map(|r| format!(" “{}”", escape(r)))
                            .unwrap_or_default(),
                        w.frame
                    );
                }
                None => {
                    let _ = writeln!(
                        s,
                        "<li>WebSocket: no Close frame from the {}.</li>",
                        side(d)
                    );
                }
            }
        }
    }
    if c.mqtt.total > 0 {
        if c.mqtt.disconnect.iter().all(Option::is_none) {
            s.push_str(
                "<li>MQTT: no DISCONNECT from either side: the session ended without one.</li>\n",
            );
        }
        for d in c.mqtt.disconnect.iter().flatten() {
            let _ = writeln!(
                s,
                "<li>MQTT: the {} sent DISCONNECT (frame {}){}.</li>",
                side(d.dir),
                d.frame,
                match (d.code, &d.reason_name) {
                    (Some(c), Some(n)) if c != 0 => format!(", reason {c} ({})", escape(n)),
                    _ => String::new(),
                }
            );
        }
    }
    s.push_str("</ul>\n");
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
        "tls" => "#953800",
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
    // The TLS handshake, from the connection's facts.
    if let Some(t) = &m.tls {
        let mut tls = |frame: u64, dir: Dir, label: String, bad: bool| {
            all.push(Point {
                frame,
                t: None,
                dir: Some(dir),
                layer: "tls",
                label,
                bad,
            })
        };
        if let Some(f) = t.client_hello_frame {
            tls(f, Dir::C2S, "ClientHello".into(), false);
        }
        if let Some(f) = t.server_hello_frame {
            tls(
                f,
                Dir::S2C,
                format!("ServerHello {}", t.version.as_deref().unwrap_or("")),
                false,
            );
        }
        for a in &t.alerts {
            tls(
                a.frame,
                a.dir,
                format!("alert {}", a.name),
                a.level == "fatal",
            );
        }
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
        // HTTP messages carry no time of their own: none is shown.
        t: e.ts.map(|t| t.as_f64() - t0),
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
    use crate::report::model::{ConnFacts, MqttLog, ReportFinding, VerdictInfo};

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
        assert_eq!(hex(&[0, 0xab, 0x10], 2), "00 ab …");
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

    #[test]
    fn slugs_are_stable_and_unique() {
        let reps: Vec<CaptureReport> = [
            "samples/IIS75-404.pcap",
            "samples/iis75_404.pcap",
            "<script>",
            "",
            "samples/iis75-404.pcap",
        ]
        .iter()
        .map(|f| CaptureReport::new(f))
        .collect();
        assert_eq!(
            capture_slugs(&reps),
            [
                "cap-samples-iis75-404-pcap",
                "cap-samples-iis75-404-pcap-2",
                "cap-script",
                "cap-x",
                "cap-samples-iis75-404-pcap-3"
            ]
        );
        let long = CaptureReport::new(&"a/".repeat(200));
        assert!(capture_slugs(&[long])[0].len() <= 68);
    }

    fn facts(stream: u64) -> ConnFacts {
        ConnFacts {
            stream,
            client: "10.0.0.1:50000".into(),
            server: "10.0.0.2:80".into(),
            protocol: "mqtt".into(),
            syn: true,
            first_frame: 1,
            last_frame: 9,
            first_ts: Ts::new(100, 0, 6),
            last_ts: Ts::new(101, 500_000_000, 6),
            packets: 9,
            bytes: [10, 20],
            gaps: vec![],
            gaps_total: 0,
            gap_bytes: 0,
            retransmissions: 0,
            out_of_order: 0,
            reasm_limit_hits: 0,
            evicted: false,
            end: ConnEnd::Rst,
            rst_frame: Some(9),
            close: None,
            sni: None,
            alpn: None,
            summary: vec![],
            tls: None,
            decrypted: false,
        }
    }

    /// A report where every string a capture controls is hostile.
    fn hostile() -> CaptureReport {
        let mut r = CaptureReport::new(&format!("dir/{}.pcap", XSS[0]));
        let mut events = Vec::new();
        for (i, x) in XSS.iter().enumerate() {
            events.push(TimelineEvent {
                frame: 2 + i as u64,
                ts: Some(Ts::new(100, 1000, 6)),
                dir: Some(if i % 2 == 0 { Dir::C2S } else { Dir::S2C }),
                layer: "mqtt",
                label: format!("PUBLISH {x}"),
                bad: i == 1,
            });
        }
        let mut meta = facts(0);
        meta.sni = Some(XSS[1].into());
        meta.alpn = Some(vec![XSS[2].into()]);
        meta.summary = XSS.iter().map(|x| format!("client \"{x}\"")).collect();
        r.conns.push(Conn {
            meta,
            upgrades: Vec::new(),
            upgrades_dropped: 0,
            events,
            events_dropped: 0,
            mqtt: MqttLog::default(),
            ws_close: [None, None],
            ws_frames: [0, 0],
        });
        r.conns_total = 1;
        for x in XSS {
            r.add_finding(ReportFinding::from_finding(
                &Finding::new("ws_upgrade_rejected", Severity::Error, format!("msg {x}"))
                    .stream(0)
                    .frames(vec![2, 3])
                    .hint(format!("hint {x}")),
            ));
        }
        r.errors.push((format!("err {}", XSS[1]), Some(12)));
        r.verdict = Some(VerdictInfo {
            status: Status::Error,
            code: Some("ws_upgrade_rejected".into()),
            text: format!("✗ refused {}", XSS[2]),
        });
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
            if name == "script" {
                // Our own script: skip its text (it holds `<` and quotes).
                let close = rest.find("</script>").expect("closed script");
                assert_eq!(&rest[..close], SCRIPT);
                rest = &rest[close..];
            }
        }
        out
    }

    fn assert_clean(html: &str) {
        let lower = html.to_ascii_lowercase();
        assert_eq!(lower.matches("<script").count(), 1, "one script: ours");
        assert!(html.contains(&format!("<script>{SCRIPT}</script>")));
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
                    "id" => assert!(
                        value
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
                        "id {value}"
                    ),
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
        assert!(html.contains("data-file=\"dir/&lt;script&gt;"));
    }

    #[test]
    fn escaped_in_attributes_and_svg() {
        let html = render(&[hostile()], "t");
        // The timeline tooltips hold the hostile labels, escaped.
        assert!(html.contains("<title>frame 3 · +0.000 s · server→client · mqtt · PUBLISH &lt;img src=x onerror=alert(2)&gt; · problem</title>"));
        // Every attribute value is double-quoted and none contains a raw quote or `<`.
        let body = html.replace(&format!("<script>{SCRIPT}</script>"), "");
        let mut in_tag = false;
        let mut in_val = false;
        let mut prev = ' ';
        for ch in body.chars() {
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
    }

    #[test]
    fn csp_allows_our_script_only() {
        let c = csp();
        assert!(c.contains("script-src 'sha256-"));
        assert!(!c.contains("unsafe-inline'; img") || c.contains("style-src 'unsafe-inline'"));
        assert!(!c.contains("script-src 'unsafe"));
        assert!(!SCRIPT.contains("</"));
        assert!(!SCRIPT.contains("innerHTML") && !SCRIPT.contains("eval"));
    }

    #[test]
    fn verdict_summary_links_and_anchors() {
        let mut ok = CaptureReport::new("ok.pcap");
        ok.conns_total = 0;
        let html = render(&[hostile(), ok], "t");
        assert!(html.contains("class=\"pill bad\""));
        assert!(html.contains("href=\"#cap-ok-pcap\">ok.pcap</a>"));
        assert!(html.contains("<code class=\"code\">ws_upgrade_rejected</code>"));
        assert!(html.contains("All 3 occurrences"));
        // The verdict links to the finding behind it, the finding to the
        // connection's drill-down, which is there.
        let slug = "cap-dir-script-alert-1-script-pcap";
        assert!(html.contains(&format!("href=\"#{slug}-f-ws_upgrade_rejected\">✗ refused")));
        assert!(html.contains(&format!("id=\"{slug}-f-ws_upgrade_rejected\"")));
        assert!(html.contains(&format!("href=\"#{slug}-s0-detail\">tcp.stream 0</a>")));
        assert!(html.contains(&format!("id=\"{slug}-s0-detail\"")));
        assert!(html.contains("data-codes=\"|ws_upgrade_rejected|\""));
        assert!(html.contains("<option value=\"ws_upgrade_rejected\">"));
        // The filters are hidden until the script shows them.
        assert!(html.contains("<div class=\"filters\" id=\"filters\" hidden>"));
    }

    #[test]
    fn long_timelines_are_capped() {
        let mut r = hostile();
        let c = &mut r.conns[0];
        c.events.clear();
        for i in 0..150u64 {
            c.events.push(TimelineEvent {
                frame: 10 + i,
                ts: Some(Ts::new(100, 0, 6)),
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
