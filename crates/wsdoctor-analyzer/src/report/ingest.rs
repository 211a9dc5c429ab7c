//! Reports from JSON Lines written earlier (`wsdoctor report --from-jsonl`):
//! each record is parsed into the plain values of [`super::model`] and goes
//! through the same ingestion API as the live records, so the HTML,
//! Markdown, CSV and text reports come out the same as when made directly.
//!
//! Records of one capture are contiguous (as `wsdoctor analyze --format
//! jsonl` writes them, and as files written by many machines are when
//! concatenated): a record whose `file` differs from the previous one starts
//! a new capture, and so does a record after a `capture` record (the end of
//! a capture). An unreadable capture is a lone `error` record.
//!
//! The input is untrusted: lines longer than [`MAX_LINE`] are skipped, a line
//! that is not a JSON object with `type` and `file` is counted as bad (and
//! reported), values of the wrong type count as absent, numbers are clamped,
//! and the model bounds everything else.
//!
//! Secrets: the model redacts with the report's own setting, so a report
//! without `--show-secrets` made from JSON Lines written with it is still
//! redacted; JSON Lines written redacted (the default) cannot be un-redacted.

use super::model::*;
use crate::capture::Ts;
use crate::diagnose::{Severity, Status};
use crate::flow::{ConnEnd, Dir};
use base64::Engine as _;
use serde_json::Value;
use std::io::BufRead;

/// Longest JSON Lines record read (longer lines are skipped as bad).
pub const MAX_LINE: usize = 64 << 20;
/// Bad lines described in [`Ingest::bad`] (all are counted).
pub const MAX_BAD_LISTED: usize = 20;

/// Parse an RFC 3339 UTC timestamp as [`Ts`] writes it
/// (`2026-11-25T16:53:01.123456Z`, 0-9 fractional digits).
pub fn parse_ts(s: &str) -> Option<Ts> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' {
        return None;
    }
    if b[16] != b':' || *b.last()? != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        (!t.is_empty() && t.bytes().all(|c| c.is_ascii_digit()))
            .then(|| t.parse().ok())
            .flatten()
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let frac = &s[19..s.len() - 1];
    let (nanos, digits) = if frac.is_empty() {
        (0, 0)
    } else {
        let f = frac.strip_prefix('.')?;
        if f.is_empty() || f.len() > 9 || !f.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let v: u32 = f.parse().ok()?;
        (v * 10u32.pow(9 - f.len() as u32), f.len() as u8)
    };
    let days = days_from_civil(y, mo as u32, d as u32);
    Some(Ts::new(
        days * 86_400 + h * 3600 + mi * 60 + sec,
        nanos,
        digits,
    ))
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

// ---- typed access to untrusted values ----

fn s(v: &Value, k: &str) -> Option<String> {
    v.get(k)?.as_str().map(str::to_string)
}
fn u(v: &Value, k: &str) -> Option<u64> {
    v.get(k)?.as_u64()
}
fn i(v: &Value, k: &str) -> Option<i64> {
    v.get(k)?.as_i64()
}
fn b(v: &Value, k: &str) -> Option<bool> {
    v.get(k)?.as_bool()
}
fn u8_(v: &Value, k: &str) -> Option<u8> {
    u(v, k).map(|n| n.min(255) as u8)
}
fn u16_(v: &Value, k: &str) -> Option<u16> {
    u(v, k).map(|n| n.min(65_535) as u16)
}
fn ts(v: &Value, k: &str) -> Option<Ts> {
    parse_ts(v.get(k)?.as_str()?)
}
fn strs(v: &Value, k: &str, max: usize) -> Vec<String> {
    v.get(k)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .take(max)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}
fn dir(v: &Value, k: &str) -> Option<Dir> {
    match v.get(k)?.as_str()? {
        "c2s" => Some(Dir::C2S),
        "s2c" => Some(Dir::S2C),
        _ => None,
    }
}
fn pairs(v: &Value, k: &str) -> Vec<(String, String)> {
    v.get(k)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .take(MAX_HEADERS)
                .filter_map(|p| {
                    let p = p.as_array()?;
                    Some((
                        p.first()?.as_str()?.to_string(),
                        p.get(1)?.as_str()?.to_string(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}
/// `{"text": ...}` or `{"base64": ...}`.
fn payload(v: &Value, k: &str) -> Option<Payload> {
    let p = v.get(k)?;
    if let Some(t) = p.get("text").and_then(Value::as_str) {
        return Some(Payload::Text(t.to_string()));
    }
    let b64 = p.get("base64")?.as_str()?;
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .ok()
        .map(Payload::Binary)
}

pub fn severity(s: &str) -> Option<Severity> {
    Some(match s {
        "error" => Severity::Error,
        "warning" => Severity::Warning,
        "info" => Severity::Info,
        _ => return None,
    })
}

pub fn status(s: &str) -> Option<Status> {
    Some(match s {
        "ok" => Status::Ok,
        "inconclusive" => Status::Inconclusive,
        "warning" => Status::Warning,
        "error" => Status::Error,
        "unreadable" => Status::Unreadable,
        _ => return None,
    })
}

fn upgrade(v: &Value) -> Option<Upgrade> {
    let sp = v.get("server_product").filter(|p| p.is_object());
    Some(Upgrade {
        request_frame: u(v, "request_frame")?,
        response_frame: u(v, "response_frame"),
        method: s(v, "method").unwrap_or_default(),
        uri: s(v, "uri").unwrap_or_default(),
        request_version: s(v, "request_version").unwrap_or_else(|| "HTTP/1.1".into()),
        request_headers: pairs(v, "request_headers"),
        status: u16_(v, "status"),
        reason: s(v, "reason"),
        response_version: s(v, "response_version"),
        response_headers: pairs(v, "response_headers"),
        protocols_offered: strs(v, "protocols_offered", MAX_HEADERS),
        protocol_selected: s(v, "protocol_selected"),
        extensions_offered: strs(v, "extensions_offered", MAX_HEADERS),
        extensions_selected: strs(v, "extensions_selected", MAX_HEADERS),
        accept: s(v, "accept"),
        accept_expected: s(v, "accept_expected"),
        accept_valid: b(v, "accept_valid"),
        outcome: s(v, "outcome").unwrap_or_default(),
        websocket: b(v, "websocket").unwrap_or(true),
        server: sp.map(|p| ServerInfo {
            product: s(p, "product").unwrap_or_default(),
            version: s(p, "version"),
            os: s(p, "os"),
            websocket: s(p, "websocket").unwrap_or_else(|| "unknown".into()),
            evidence: strs(p, "evidence", 16),
            confidence: s(p, "confidence").unwrap_or_default(),
        }),
        body: payload(v, "response_body"),
        page_text: strs(v, "response_text", crate::proto::handshake::PAGE_TEXT_LINES),
    })
}

fn ws(v: &Value) -> Option<WsFrame> {
    Some(WsFrame {
        dir: dir(v, "dir")?,
        frame: u(v, "frame")?,
        ts: ts(v, "ts")?,
        opcode: u8_(v, "opcode")?,
        opcode_name: s(v, "opcode_name").unwrap_or_default(),
        payload_len: u(v, "payload_len").unwrap_or(0),
        close_code: u16_(v, "close_code"),
        close_reason: s(v, "close_reason"),
    })
}

fn mqtt(v: &Value) -> Option<MqttPacket> {
    let msg_type = u8_(v, "msg_type")?;
    // A CONNECT whose body was not decoded (too large) has no fields.
    let connect = (msg_type == 1 && v.get("protocol_name").is_some()).then(|| MqttConnect {
        protocol_name: s(v, "protocol_name").unwrap_or_default(),
        level: u8_(v, "protocol_level").unwrap_or(0),
        client_id: s(v, "client_id"),
        username: s(v, "username"),
        password: s(v, "password"),
        keep_alive: u16_(v, "keep_alive").unwrap_or(0),
        clean_start: b(v, "clean_start").unwrap_or(false),
        will_topic: s(v, "will_topic"),
    });
    let mut filters: Vec<(String, Option<u8>)> = Vec::new();
    if let Some(subs) = v.get("subscriptions").and_then(Value::as_array) {
        for sub in subs.iter().take(MAX_FILTERS) {
            if let Some(t) = s(sub, "topic") {
                filters.push((t, u8_(sub, "qos")));
            }
        }
    }
    for t in strs(v, "topics", MAX_FILTERS) {
        filters.push((t, None));
    }
    let codes = v
        .get("reason_codes")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .take(MAX_FILTERS)
                .filter_map(Value::as_u64)
                .map(|c| c.min(255) as u8)
                .collect()
        })
        .unwrap_or_default();
    Some(MqttPacket {
        dir: dir(v, "dir")?,
        frame: u(v, "frame")?,
        ts: ts(v, "ts")?,
        msg_type,
        name: s(v, "msg_name").unwrap_or_default(),
        topic: if msg_type == 3 { s(v, "topic") } else { None },
        filters,
        codes,
        qos: if msg_type == 3 { u8_(v, "qos") } else { None },
        packet_id: u16_(v, "packet_id"),
        retain: b(v, "retain").unwrap_or(false),
        dup: b(v, "dup").unwrap_or(false),
        code: u8_(v, "reason_code").or_else(|| u8_(v, "return_code")),
        reason_name: s(v, "reason_name"),
        session_present: b(v, "session_present"),
        payload_len: u(v, "payload_len"),
        payload: payload(v, "payload"),
        connect,
        anomalies: strs(v, "anomalies", MAX_FILTERS),
    })
}

fn tls(t: &Value) -> TlsInfo {
    let certs = t
        .get("certificates")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .take(MAX_CERTS)
                .map(|c| CertView {
                    subject: s(c, "subject").unwrap_or_default(),
                    issuer: s(c, "issuer").unwrap_or_default(),
                    san: strs(c, "san", MAX_FILTERS),
                    not_before: s(c, "not_before").unwrap_or_default(),
                    not_after: s(c, "not_after").unwrap_or_default(),
                    self_signed: b(c, "self_signed").unwrap_or(false),
                    key: s(c, "key").unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default();
    let alerts = t
        .get("alerts")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .take(MAX_ALERTS)
                .filter_map(|x| {
                    Some(AlertView {
                        dir: dir(x, "dir")?,
                        level: s(x, "level").unwrap_or_default(),
                        description: u8_(x, "description").unwrap_or(0),
                        name: s(x, "name").unwrap_or_default(),
                        frame: u(x, "frame").unwrap_or(0),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let enc = t.get("encrypted_records").and_then(Value::as_array);
    let enc_n = |i: usize| {
        enc.and_then(|a| a.get(i))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    };
    TlsInfo {
        client_hello_frame: u(t, "client_hello_frame"),
        client_versions: strs(t, "client_versions", MAX_FILTERS),
        sni: s(t, "sni"),
        alpn_offered: strs(t, "alpn_offered", MAX_FILTERS),
        suites_offered: u(t, "suites_offered").unwrap_or(0),
        server_hello_frame: u(t, "server_hello_frame"),
        version: s(t, "version"),
        suite: s(t, "suite"),
        alpn: s(t, "alpn"),
        resumed: b(t, "resumed").unwrap_or(false),
        hello_retry: s(t, "hello_retry_group"),
        certificates: certs,
        alerts,
        handshake_complete: b(t, "handshake_complete").unwrap_or(false),
        encrypted_records: [enc_n(0), enc_n(1)],
    }
}

fn connection(v: &Value) -> Option<ConnFacts> {
    let end = match v.get("end")?.as_str()? {
        "fin" => ConnEnd::Fin,
        "rst" => ConnEnd::Rst,
        _ => ConnEnd::Open,
    };
    let gaps = v
        .get("gaps")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .take(64)
                .filter_map(|g| {
                    Some(Gap {
                        dir: dir(g, "dir")?,
                        frame: u(g, "frame")?,
                        bytes: u(g, "bytes")?,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let close = v.get("close").filter(|c| c.is_object()).and_then(|c| {
        Some(CloseInfo {
            by: match c.get("by")?.as_str()? {
                "client" => Dir::C2S,
                "server" => Dir::S2C,
                _ => return None,
            },
            rst: c.get("flag")?.as_str()? == "rst",
            frame: u(c, "frame")?,
            ts: ts(c, "ts")?,
            quiet_us: i(c, "quiet_us").unwrap_or(0),
            last_data_frame: u(c, "last_data_frame"),
        })
    });
    let first_ts = ts(v, "first_ts").unwrap_or_default();
    Some(ConnFacts {
        stream: u(v, "stream")?,
        client: s(v, "client").unwrap_or_default(),
        server: s(v, "server").unwrap_or_default(),
        protocol: s(v, "protocol").unwrap_or_else(|| "unknown".into()),
        syn: b(v, "syn").unwrap_or(false),
        first_frame: u(v, "first_frame").unwrap_or(0),
        last_frame: u(v, "last_frame").unwrap_or(0),
        first_ts,
        last_ts: ts(v, "last_ts").unwrap_or(first_ts),
        packets: u(v, "packets").unwrap_or(0),
        bytes: [
            u(v, "bytes_c2s").unwrap_or(0),
            u(v, "bytes_s2c").unwrap_or(0),
        ],
        gaps,
        gaps_total: u(v, "gaps_total").unwrap_or(0),
        gap_bytes: u(v, "gap_bytes").unwrap_or(0),
        retransmissions: u(v, "retransmissions").unwrap_or(0),
        out_of_order: u(v, "out_of_order").unwrap_or(0),
        reasm_limit_hits: u(v, "reasm_limit_hits").unwrap_or(0),
        evicted: b(v, "evicted").unwrap_or(false),
        end,
        rst_frame: u(v, "rst_frame"),
        close,
        sni: s(v, "sni"),
        alpn: v
            .get("alpn")
            .filter(|a| a.is_array())
            .map(|_| strs(v, "alpn", MAX_FILTERS)),
        summary: strs(v, "summary", MAX_SUMMARY_LINES),
        tls: v.get("tls").filter(|t| t.is_object()).map(tls),
        decrypted: b(v, "decrypted").unwrap_or(false),
    })
}

fn finding(v: &Value) -> Option<ReportFinding> {
    Some(ReportFinding {
        code: s(v, "code")?,
        severity: severity(v.get("severity")?.as_str()?)?,
        stream: u(v, "stream"),
        frames: v
            .get("frames")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .take(MAX_FRAMES)
                    .filter_map(Value::as_u64)
                    .collect()
            })
            .unwrap_or_default(),
        message: s(v, "message").unwrap_or_default(),
        hint: s(v, "hint").unwrap_or_default(),
        filter: s(v, "filter"),
        group: s(v, "group"),
    })
}

fn capture(v: &Value) -> Option<(CaptureInfo, VerdictInfo)> {
    let vd = v.get("verdict").filter(|x| x.is_object());
    let st = vd
        .and_then(|x| x.get("status"))
        .and_then(Value::as_str)
        .and_then(status)
        .unwrap_or(Status::Inconclusive);
    let text = vd
        .and_then(|x| s(x, "text"))
        .unwrap_or_else(|| format!("{} (no verdict in the record)", st.mark()));
    Some((
        CaptureInfo {
            format: s(v, "container")
                .or_else(|| s(v, "format"))
                .unwrap_or_default(),
            packets: u(v, "packets").unwrap_or(0),
            bytes: u(v, "bytes").unwrap_or(0),
            first_ts: ts(v, "first_ts"),
            last_ts: ts(v, "last_ts"),
            streams: u(v, "streams").unwrap_or(0),
            complete: b(v, "complete").unwrap_or(true),
            not_decoded: v
                .get("decoded")
                .and_then(|d| u(d, "not_decoded"))
                .unwrap_or(0),
        },
        VerdictInfo {
            status: st,
            code: vd.and_then(|x| s(x, "code")),
            text,
        },
    ))
}

/// Where the current capture is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Records are coming.
    Open,
    /// Only error records so far (an unreadable file is one of them alone).
    ErrorOnly,
    /// Its `capture` record was read.
    Closed,
}

/// Builds capture reports from JSON Lines records, in order.
pub struct Ingest {
    opts: ModelOpts,
    reports: Vec<CaptureReport>,
    cur: Option<(CaptureReport, State)>,
    /// Lines that were not records (counted).
    pub bad_lines: u64,
    /// The first bad lines: (source, line number, why).
    pub bad: Vec<(String, u64, String)>,
}

impl Ingest {
    pub fn new(opts: ModelOpts) -> Ingest {
        Ingest {
            opts,
            reports: Vec::new(),
            cur: None,
            bad_lines: 0,
            bad: Vec::new(),
        }
    }

    fn bad_line(&mut self, source: &str, line: u64, why: String) {
        self.bad_lines += 1;
        if self.bad.len() < MAX_BAD_LISTED {
            self.bad.push((source.to_string(), line, why));
        }
    }

    /// The report a record of `file` of type `ty` belongs to.
    fn report_for(&mut self, file: &str, ty: &str) -> &mut CaptureReport {
        let same = match &self.cur {
            Some((r, st)) if r.file == file => match st {
                State::Open => true,
                State::ErrorOnly => ty != "error",
                State::Closed => false,
            },
            _ => false,
        };
        if !same {
            if let Some((r, _)) = self.cur.take() {
                self.reports.push(r);
            }
        }
        let opts = self.opts;
        let (r, st) = self.cur.get_or_insert_with(|| {
            let st = if ty == "error" {
                State::ErrorOnly
            } else {
                State::Open
            };
            (CaptureReport::with_opts(file, opts), st)
        });
        if ty == "capture" {
            *st = State::Closed;
        } else if *st == State::ErrorOnly && ty != "error" {
            *st = State::Open;
        }
        r
    }

    /// One parsed record. Records of unknown types are ignored (a newer
    /// wsdoctor may write more); records without their key fields count as bad.
    pub fn record(&mut self, v: &Value) -> Result<(), String> {
        let ty = v.get("type").and_then(Value::as_str).ok_or("no \"type\"")?;
        let file = v.get("file").and_then(Value::as_str).ok_or("no \"file\"")?;
        let stream = u(v, "stream");
        let bad = |what: &str| format!("a {what} record without its key fields");
        match ty {
            "upgrade" => {
                let st = stream.ok_or_else(|| bad(ty))?;
                let up = upgrade(v).ok_or_else(|| bad(ty))?;
                self.report_for(file, ty).add_upgrade(st, up);
            }
            "ws" => {
                let st = stream.ok_or_else(|| bad(ty))?;
                let r = self.report_for(file, ty);
                if r.wants_detail(st) {
                    let w = ws(v).ok_or_else(|| bad(ty))?;
                    r.add_ws(st, w);
                }
            }
            "mqtt" => {
                let st = stream.ok_or_else(|| bad(ty))?;
                let r = self.report_for(file, ty);
                if r.wants_detail(st) {
                    let p = mqtt(v).ok_or_else(|| bad(ty))?;
                    r.add_mqtt(st, p);
                }
            }
            "connection" => {
                let c = connection(v).ok_or_else(|| bad(ty))?;
                self.report_for(file, ty).add_connection(c);
            }
            "finding" => {
                let f = finding(v).ok_or_else(|| bad(ty))?;
                self.report_for(file, ty).add_finding(f);
            }
            "capture" => {
                let (c, vd) = capture(v).ok_or_else(|| bad(ty))?;
                self.report_for(file, ty).set_capture(c, vd);
            }
            "error" => {
                let m = s(v, "message").unwrap_or_default();
                self.report_for(file, ty).add_error(&m, u(v, "offset"));
            }
            _ => {}
        }
        Ok(())
    }

    /// One line of JSON Lines (`source`:`n` names it in messages).
    pub fn line(&mut self, source: &str, n: u64, line: &[u8]) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(|c| c.is_ascii_whitespace()) {
            return;
        }
        match serde_json::from_slice::<Value>(line) {
            Ok(v) if v.is_object() => {
                if let Err(e) = self.record(&v) {
                    self.bad_line(source, n, e);
                }
            }
            Ok(_) => self.bad_line(source, n, "not a JSON object".into()),
            Err(e) => self.bad_line(source, n, format!("not JSON: {e}")),
        }
    }

    /// All records of a reader (a JSON Lines file).
    pub fn read(&mut self, source: &str, mut r: impl BufRead) -> std::io::Result<()> {
        let mut buf = Vec::with_capacity(4096);
        let mut n = 0u64;
        loop {
            buf.clear();
            n += 1;
            let (len, complete) = read_line_bounded(&mut r, &mut buf, MAX_LINE)?;
            if len == 0 {
                return Ok(());
            }
            if complete {
                self.line(source, n, &buf);
            } else {
                self.bad_line(source, n, format!("a line longer than {MAX_LINE} bytes"));
            }
        }
    }

    /// The reports, in the order their records came.
    pub fn finish(mut self) -> Vec<CaptureReport> {
        if let Some((r, _)) = self.cur.take() {
            self.reports.push(r);
        }
        self.reports
    }
}

/// Read one line (without its `\n`) into `buf`, keeping at most `max`
/// bytes; returns (bytes consumed, whether the line fitted).
fn read_line_bounded(
    r: &mut impl BufRead,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<(usize, bool)> {
    let mut consumed = 0;
    let mut fits = true;
    loop {
        let avail = match r.fill_buf() {
            Ok(a) => a,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if avail.is_empty() {
            return Ok((consumed, fits));
        }
        let (take, done) = match memchr::memchr(b'\n', avail) {
            Some(i) => (i + 1, true),
            None => (avail.len(), false),
        };
        let data = &avail[..if done { take - 1 } else { take }];
        if fits && buf.len() + data.len() <= max {
            buf.extend_from_slice(data);
        } else {
            fits = false;
            buf.clear();
        }
        r.consume(take);
        consumed += take;
        if done {
            return Ok((consumed, fits));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip() {
        for (secs, nanos, digits) in [
            (0i64, 0u32, 6u8),
            (1_764_089_581, 123_456_789, 9),
            (1_764_089_581, 123_456_000, 6),
            (951_782_400, 0, 0),
            (-1, 0, 0),
            (-86_400 * 365 * 100, 5_000_000, 3),
            (u32::MAX as i64, 0, 0),
            (253_402_300_799, 999_999_999, 9),
            (-62_167_219_200, 0, 6),
        ] {
            let t = Ts::new(secs, nanos, digits);
            assert_eq!(parse_ts(&t.to_string()), Some(t), "{t}");
        }
        for bad in [
            "",
            "2026-11-25",
            "2026-11-25T16:53:01",
            "2026-13-25T16:53:01Z",
            "2026-11-25T16:53:01.Z",
            "2026-11-25T16:53:01.1234567890Z",
            "2026-11-25T16:53:01+01:00",
            "x026-11-25T16:53:01Z",
            "2026-11-25T16:53:0xZ",
            "2026-11-25T16:53:01.12é4Z",
        ] {
            assert_eq!(parse_ts(bad), None, "{bad}");
        }
    }

    #[test]
    fn bounded_lines() {
        let data = b"aaaa\nbbbbbbbbbb\ncc";
        let mut r = std::io::BufReader::with_capacity(3, &data[..]);
        let mut buf = Vec::new();
        assert_eq!(read_line_bounded(&mut r, &mut buf, 5).unwrap(), (5, true));
        assert_eq!(buf, b"aaaa");
        buf.clear();
        assert_eq!(read_line_bounded(&mut r, &mut buf, 5).unwrap(), (11, false));
        buf.clear();
        assert_eq!(read_line_bounded(&mut r, &mut buf, 5).unwrap(), (2, true));
        assert_eq!(buf, b"cc");
        buf.clear();
        assert_eq!(read_line_bounded(&mut r, &mut buf, 5).unwrap(), (0, true));
    }

    #[test]
    fn hostile_lines_are_counted_not_fatal() {
        let mut ing = Ingest::new(ModelOpts::default());
        let input = concat!(
            "not json\n",
            "[1,2]\n",
            "{\"type\":\"finding\"}\n",
            "{\"type\":\"finding\",\"file\":\"a\",\"code\":7}\n",
            "{\"type\":\"mqtt\",\"file\":\"a\",\"stream\":0,\"msg_type\":1e300,\"dir\":\"c2s\",\"frame\":-1}\n",
            "{\"type\":\"ws\",\"file\":\"a\",\"stream\":0,\"dir\":\"x\",\"frame\":1,\"ts\":\"2026-11-25T16:53:01Z\",\"opcode\":8}\n",
            "{\"type\":\"finding\",\"file\":\"a\",\"code\":\"x\",\"severity\":\"error\",\"frames\":[1,\"2\",3],\"stream\":1e9}\n",
            "{\"type\":\"connection\",\"file\":\"a\",\"stream\":0,\"end\":\"fin\",\"close\":{\"by\":\"nobody\"},\"tls\":{\"alerts\":[{}]}}\n",
            "{\"type\":\"newer_kind\",\"file\":\"a\"}\n",
            "{\"type\":\"capture\",\"file\":\"a\",\"verdict\":{\"status\":\"bogus\"}}\n",
            "\n",
        );
        ing.read("t.jsonl", input.as_bytes()).unwrap();
        assert_eq!(ing.bad_lines, 6, "{:?}", ing.bad);
        assert_eq!(ing.bad[0].1, 1);
        let reps = ing.finish();
        assert_eq!(reps.len(), 1);
        assert_eq!(reps[0].findings.len(), 1);
        assert_eq!(reps[0].findings[0].frames, vec![1, 3]);
        assert_eq!(reps[0].conns.len(), 1);
        assert_eq!(reps[0].status(), Status::Inconclusive);
    }

    #[test]
    fn captures_split_by_file_and_capture_record() {
        let mut ing = Ingest::new(ModelOpts::default());
        let lines = [
            r#"{"type":"error","file":"bad.pcap","message":"not a capture"}"#,
            r#"{"type":"error","file":"bad.pcap","message":"not a capture"}"#,
            r#"{"type":"finding","file":"a.pcap","code":"x","severity":"info"}"#,
            r#"{"type":"capture","file":"a.pcap","verdict":{"status":"ok","text":"✓ fine"}}"#,
            r#"{"type":"capture","file":"a.pcap","verdict":{"status":"ok","text":"✓ fine"}}"#,
            r#"{"type":"error","file":"cut.pcap","message":"cut","offset":24}"#,
            r#"{"type":"finding","file":"cut.pcap","code":"capture_truncated","severity":"warning"}"#,
            r#"{"type":"capture","file":"cut.pcap","verdict":{"status":"warning","text":"⚠ cut"}}"#,
        ];
        for (i, l) in lines.iter().enumerate() {
            ing.line("t", i as u64 + 1, l.as_bytes());
        }
        assert_eq!(ing.bad_lines, 0);
        let reps = ing.finish();
        let files: Vec<&str> = reps.iter().map(|r| r.file.as_str()).collect();
        assert_eq!(
            files,
            ["bad.pcap", "bad.pcap", "a.pcap", "a.pcap", "cut.pcap"]
        );
        assert_eq!(reps[4].errors.len(), 1);
        assert_eq!(reps[4].findings.len(), 1);
        assert_eq!(reps[4].verdict(), "⚠ cut");
        assert_eq!(reps[2].findings.len(), 1);
        assert_eq!(reps[3].findings.len(), 0);
    }
}
