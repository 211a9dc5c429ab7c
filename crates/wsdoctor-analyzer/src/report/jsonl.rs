//! JSON Lines records (`../shared/spec/jsonl-v1.md`), written as they happen.
//!
//! Besides the contract's fields the records carry everything the reports
//! show (docs/jsonl.md lists the extra fields), so that `wsdoctor report
//! --from-jsonl` rebuilds the same reports. Secrets are redacted with the
//! rules of [`crate::redact`] unless `--show-secrets`.

use super::json::{string, Obj};
use super::model::TlsInfo;
use crate::diagnose::{Finding, Report, Verdict};
use crate::event::{CaptureSummary, ConnSummary, Record};
use crate::flow::{ConnMeta, Endpoint};
use crate::proto::handshake::{UpgradeInfo, BODY_EXCERPT};
use crate::proto::mqtt::{self, Body, PropValue, Properties};
use crate::redact::Secrets;
use base64::Engine as _;
use foldhash::HashMap;
use std::io::Write;

/// Privacy and size settings of rendered records.
#[derive(Clone, Debug)]
pub struct RenderOpts {
    /// Print MQTT passwords and HTTP credentials instead of `<redacted>`.
    pub show_secrets: bool,
    /// MQTT payload bytes shown (text, or base64 when not UTF-8).
    pub payload_bytes: usize,
}

impl Default for RenderOpts {
    fn default() -> Self {
        RenderOpts {
            show_secrets: false,
            payload_bytes: 256,
        }
    }
}

pub use crate::redact::{is_secret_header, REDACTED};

impl RenderOpts {
    pub fn secrets(&self) -> Secrets {
        Secrets {
            show: self.show_secrets,
        }
    }
}

/// Connections whose rendered fields are kept between their records.
const MAX_CACHED_CONNS: usize = 4096;

/// A connection's fields as last rendered, with what they were made from
/// (the roles can swap and decryption can start during a connection).
struct ConnFields {
    client: Endpoint,
    server: Endpoint,
    decrypted: bool,
    rendered: Vec<u8>,
}

/// A record's object started in `buf`: its type and the file.
fn start<'b>(buf: &'b mut Vec<u8>, file: &[u8], ty: &str) -> Obj<'b> {
    buf.clear();
    let mut o = Obj::new(buf);
    o.str("type", ty).fields(file);
    o
}

/// Writes one capture's records to `out`.
pub struct Jsonl<W: Write> {
    out: W,
    /// `"file":"..."`, rendered once.
    file: Vec<u8>,
    /// `"stream":..,"client":..,"server":..` per live connection, rendered
    /// once per connection rather than once per record.
    conn_fields: HashMap<u64, ConnFields>,
    buf: Vec<u8>,
    opts: RenderOpts,
    /// First write error (the report is then incomplete).
    pub io_error: Option<std::io::Error>,
}

impl<W: Write> Jsonl<W> {
    pub fn new(out: W, file: &str) -> Self {
        Self::with_opts(out, file, RenderOpts::default())
    }

    pub fn with_opts(out: W, file: &str, opts: RenderOpts) -> Self {
        let mut rendered = Vec::new();
        Obj::new(&mut rendered).str("file", file);
        Jsonl {
            out,
            file: rendered.get(1..).unwrap_or_default().to_vec(),
            conn_fields: HashMap::default(),
            buf: Vec::with_capacity(1024),
            opts,
            io_error: None,
        }
    }

    pub fn into_inner(self) -> W {
        self.out
    }

    fn begin(&mut self, ty: &str) -> Obj<'_> {
        start(&mut self.buf, &self.file, ty)
    }

    /// [`Self::begin`] and the connection's fields.
    fn begin_conn(&mut self, ty: &str, m: &ConnMeta) -> Obj<'_> {
        let fresh = |c: &ConnFields| {
            c.client == m.client && c.server == m.server && c.decrypted == m.decrypted
        };
        let known = self.conn_fields.get(&m.stream);
        if !known.is_some_and(fresh)
            && (known.is_some() || self.conn_fields.len() < MAX_CACHED_CONNS)
        {
            let mut rendered = Vec::with_capacity(96);
            Self::conn_fields(&mut Obj::new(&mut rendered), m);
            rendered.remove(0); // the object's `{`
            let c = ConnFields {
                client: m.client,
                server: m.server,
                decrypted: m.decrypted,
                rendered,
            };
            self.conn_fields.insert(m.stream, c);
        }
        let mut o = start(&mut self.buf, &self.file, ty);
        match self.conn_fields.get(&m.stream).filter(|c| fresh(c)) {
            Some(c) => o.fields(&c.rendered),
            // More live connections than are cached: rendered each time.
            None => {
                Self::conn_fields(&mut o, m);
                &mut o
            }
        };
        o
    }

    fn flush_line(&mut self) {
        self.buf.push(b'\n');
        if self.io_error.is_none() {
            if let Err(e) = self.out.write_all(&self.buf) {
                self.io_error = Some(e);
            }
        }
    }
}

/// `{"text": ...}` when UTF-8, else `{"base64": ...}`, cut to `max` bytes
/// (the same choice as [`super::model::Payload::from_bytes`]).
pub(crate) fn bytes_value(b: &mut Vec<u8>, data: &[u8], max: usize) {
    let cut = &data[..data.len().min(max)];
    match std::str::from_utf8(cut) {
        Ok(t) => {
            b.extend_from_slice(b"{\"text\":");
            string(b, t);
        }
        // A multi-byte character cut at the end is still text.
        Err(e) if e.error_len().is_none() && e.valid_up_to() + 4 > cut.len() => {
            b.extend_from_slice(b"{\"text\":");
            string(
                b,
                std::str::from_utf8(&cut[..e.valid_up_to()]).unwrap_or(""),
            );
        }
        Err(_) => {
            b.extend_from_slice(b"{\"base64\":");
            string(b, &base64::engine::general_purpose::STANDARD.encode(cut));
        }
    }
    b.push(b'}');
}

fn properties(b: &mut Vec<u8>, props: &Properties<'_>, max: usize, sec: Secrets) {
    b.push(b'{');
    let mut first = true;
    let mut users_done = false;
    for p in &props.items {
        if matches!(p.value, PropValue::Pair(..)) {
            if users_done {
                continue;
            }
            users_done = true;
            if !first {
                b.push(b',');
            }
            first = false;
            string(b, p.key());
            b.extend_from_slice(b":[");
            for (i, (k, v)) in props.user_properties().enumerate() {
                if i > 0 {
                    b.push(b',');
                }
                b.push(b'[');
                string(b, k);
                b.push(b',');
                string(b, &sec.text(v));
                b.push(b']');
            }
            b.push(b']');
            continue;
        }
        if !first {
            b.push(b',');
        }
        first = false;
        string(b, p.key());
        b.push(b':');
        match &p.value {
            PropValue::Byte(v) => b.extend_from_slice(v.to_string().as_bytes()),
            PropValue::U16(v) => b.extend_from_slice(v.to_string().as_bytes()),
            PropValue::U32(v) | PropValue::VarInt(v) => {
                b.extend_from_slice(v.to_string().as_bytes())
            }
            PropValue::Str(s) => string(b, &sec.text(s)),
            // MQTT 5 enhanced authentication carries credentials.
            PropValue::Bin(_) if p.key() == "authentication_data" && !sec.show => {
                string(b, REDACTED)
            }
            PropValue::Bin(d) => bytes_value(b, d, max),
            PropValue::Pair(..) => {}
        }
    }
    b.push(b'}');
}

impl<W: Write> Jsonl<W> {
    fn conn_fields(o: &mut Obj<'_>, m: &ConnMeta) {
        o.u64("stream", m.stream)
            .endpoint("client", m.client)
            .endpoint("server", m.server);
        if m.decrypted {
            o.bool("decrypted", true);
        }
    }

    fn upgrade(&mut self, m: &ConnMeta, u: &UpgradeInfo) {
        let opts = self.opts.clone();
        let sec = opts.secrets();
        let mut o = self.begin_conn("upgrade", m);
        let h = &u.handshake;
        let resp = u.response.as_ref();
        let req_h = |name: &str| u.header(name).map(|v| sec.header(name, v));
        let resp_h = |name: &str| u.resp_header(name).map(|v| sec.header(name, v));
        let texts = |v: &[String]| {
            v.iter()
                .map(|s| sec.text(s).into_owned())
                .collect::<Vec<_>>()
        };
        let offered = texts(&h.protocols_offered);
        let ext_offered = texts(&h.extensions_offered);
        let ext_selected = texts(&h.extensions_selected);
        o.u64("request_frame", u.request_frame)
            .opt_u64("response_frame", u.response_frame)
            .str("method", &u.request.method)
            .str("uri", &sec.text(&u.request.uri))
            .opt_str("host", req_h("host").as_deref())
            .opt_str("upgrade", req_h("upgrade").as_deref())
            .opt_str("key", req_h("sec-websocket-key").as_deref())
            .opt_str("version", req_h("sec-websocket-version").as_deref())
            .str_list("protocols_offered", offered.iter().map(|s| s.as_str()))
            .str_list("extensions_offered", ext_offered.iter().map(|s| s.as_str()))
            .opt_u64("status", resp.map(|r| r.status as u64))
            .opt_str("reason", resp.map(|r| r.reason.as_str()))
            .opt_str("server_header", resp_h("server").as_deref())
            .opt_str("powered_by", resp_h("x-powered-by").as_deref())
            .opt_str("accept", h.accept.as_deref())
            .opt_str("accept_expected", h.accept_expected.as_deref())
            .opt_bool("accept_valid", h.accept_valid)
            .opt_str(
                "protocol_selected",
                h.protocol_selected
                    .as_deref()
                    .map(|p| sec.text(p))
                    .as_deref(),
            )
            .str_list(
                "extensions_selected",
                ext_selected.iter().map(|s| s.as_str()),
            )
            .str("outcome", h.outcome.as_str())
            .bool("websocket", u.websocket)
            .raw("server_product", |b| match &u.server {
                None => b.extend_from_slice(b"null"),
                Some(p) => {
                    let mut s = Obj::new(b);
                    s.str("product", &p.product)
                        .opt_str("version", p.version.as_deref())
                        .opt_str("os", p.os.as_deref())
                        .str("websocket", p.websocket)
                        .str_list("evidence", p.evidence.iter().copied())
                        .str("confidence", p.confidence)
                        .end();
                }
            })
            .raw("request_headers", |b| headers(b, &u.request.headers, sec))
            .raw("response_headers", |b| match resp {
                Some(r) => headers(b, &r.headers, sec),
                None => b.extend_from_slice(b"null"),
            })
            .display_plain(
                "request_version",
                format_args!("HTTP/1.{}", u.request.minor_version),
            );
        match resp {
            Some(r) => o.display_plain(
                "response_version",
                format_args!("HTTP/1.{}", r.minor_version),
            ),
            None => o.null("response_version"),
        };
        let text: Vec<String> = u
            .page_text
            .iter()
            .map(|l| sec.text(l).into_owned())
            .collect();
        o.str_list("response_text", text.iter().map(|l| l.as_str()));
        if u.body.is_empty() {
            o.null("response_body");
        } else {
            // The error page (or whatever body came): text is redacted like
            // any other text from the capture.
            match super::model::Payload::from_bytes(&u.body, BODY_EXCERPT) {
                super::model::Payload::Text(t) => o.raw("response_body", |b| {
                    b.extend_from_slice(b"{\"text\":");
                    string(b, &sec.text(&t));
                    b.push(b'}');
                }),
                super::model::Payload::Binary(d) => {
                    o.raw("response_body", |b| bytes_value(b, &d, BODY_EXCERPT))
                }
            };
        }
        o.end();
        self.flush_line();
    }

    #[allow(clippy::too_many_arguments)]
    fn mqtt(
        &mut self,
        m: &ConnMeta,
        dir: crate::flow::Dir,
        frame: u64,
        ts: crate::capture::Ts,
        transport: &str,
        level: Option<u8>,
        p: &mqtt::Packet<'_>,
    ) {
        let opts = self.opts.clone();
        let sec = opts.secrets();
        let mut o = self.begin_conn("mqtt", m);
        o.str("dir", dir.as_str())
            .u64("frame", frame)
            .ts("ts", ts)
            .str("transport", transport)
            .u64("msg_type", p.msg_type as u64)
            .str("msg_name", p.msg_name())
            .opt_u64("level", level.map(|l| l as u64))
            .u64("remaining_len", p.remaining_len as u64);
        let max = opts.payload_bytes;
        match &p.body {
            Body::Connect(c) => {
                o.str("protocol_name", &c.protocol_name)
                    .u64("protocol_level", c.level as u64);
                // The contract types client_id as a string: absent when the
                // CONNECT ended before it.
                if let Some(id) = c.client_id.as_deref() {
                    o.str("client_id", id);
                }
                o.u64("keep_alive", c.keep_alive as u64)
                    .bool("clean_start", c.clean_start)
                    .opt_str(
                        "username",
                        c.username.as_deref().map(|u| sec.text(u)).as_deref(),
                    );
                match c.password {
                    None => o.null("password"),
                    Some(pw) => o.str("password", &sec.password(&String::from_utf8_lossy(pw))),
                };
                o.opt_str("will_topic", c.will.as_ref().map(|w| w.topic.as_ref()));
                if !c.properties.is_empty() {
                    o.raw("properties", |b| properties(b, &c.properties, max, sec));
                }
            }
            Body::Connack(c) => {
                o.bool("session_present", c.session_present);
                let code = p.reason_code().unwrap_or(0) as u64;
                if level == Some(5) {
                    o.u64("reason_code", code);
                } else {
                    o.u64("return_code", code);
                }
                o.opt_str("reason_name", p.reason_name());
                if !c.properties.is_empty() {
                    o.raw("properties", |b| properties(b, &c.properties, max, sec));
                }
            }
            Body::Publish(pb) => {
                o.opt_u64("packet_id", pb.packet_id.map(|v| v as u64));
                if pb.qos <= 2 {
                    o.u64("qos", pb.qos as u64);
                } else {
                    // QoS 3 is malformed: the contract allows 0-2 or null.
                    o.null("qos").u64("qos_bits", pb.qos as u64);
                }
                o.bool("retain", pb.retain)
                    .bool("dup", pb.dup)
                    .str("topic", &pb.topic)
                    .opt_u64("topic_alias", pb.topic_alias.map(|v| v as u64))
                    .bool("topic_from_alias", pb.topic_from_alias)
                    .u64("payload_len", pb.payload_len)
                    .raw("payload", |b| bytes_value(b, pb.payload, max));
                if !pb.properties.is_empty() {
                    o.raw("properties", |b| properties(b, &pb.properties, max, sec));
                }
            }
            Body::Puback(r) | Body::Pubrec(r) | Body::Pubrel(r) | Body::Pubcomp(r) => {
                o.u64("packet_id", r.packet_id as u64)
                    .u64("reason_code", r.reason_code as u64);
                if !r.properties.is_empty() {
                    o.raw("properties", |b| properties(b, &r.properties, max, sec));
                }
            }
            Body::Subscribe(sb) => {
                o.u64("packet_id", sb.packet_id as u64)
                    .raw("subscriptions", |b| {
                        b.push(b'[');
                        for (i, s) in sb.subscriptions.iter().enumerate() {
                            if i > 0 {
                                b.push(b',');
                            }
                            let mut so = Obj::new(b);
                            so.str("topic", &s.topic).u64("qos", s.qos as u64).end();
                        }
                        b.push(b']');
                    });
                if !sb.properties.is_empty() {
                    o.raw("properties", |b| properties(b, &sb.properties, max, sec));
                }
            }
            Body::Suback(sa) => {
                o.u64("packet_id", sa.packet_id as u64)
                    .u64_list("reason_codes", sa.reason_codes.iter().map(|&c| c as u64));
            }
            Body::Unsubscribe(u) => {
                o.u64("packet_id", u.packet_id as u64)
                    .str_list("topics", u.topics.iter().map(|t| t.as_ref()));
            }
            Body::Unsuback(u) => {
                o.u64("packet_id", u.packet_id as u64)
                    .u64_list("reason_codes", u.reason_codes.iter().map(|&c| c as u64));
            }
            Body::Disconnect(d) => {
                o.u64("reason_code", d.reason_code as u64)
                    .opt_str("reason_name", p.reason_name());
                if !d.properties.is_empty() {
                    o.raw("properties", |b| properties(b, &d.properties, max, sec));
                }
            }
            Body::Auth(a) => {
                o.u64("reason_code", a.reason_code as u64);
                if !a.properties.is_empty() {
                    o.raw("properties", |b| properties(b, &a.properties, max, sec));
                }
            }
            Body::Pingreq | Body::Pingresp | Body::Reserved { .. } | Body::Skipped => {}
        }
        if !p.anomalies.is_empty() {
            o.str_list("anomalies", p.anomalies.iter().map(|a| a.code.as_str()));
        }
        o.end();
        self.flush_line();
    }
}

fn headers(b: &mut Vec<u8>, h: &crate::proto::http::Headers, sec: Secrets) {
    b.push(b'[');
    for (i, (k, v)) in h.iter().enumerate() {
        if i > 0 {
            b.push(b',');
        }
        b.push(b'[');
        string(b, k);
        b.push(b',');
        string(b, &sec.header(k, v));
        b.push(b']');
    }
    b.push(b']');
}

/// The TLS handshake facts the reports show (extra field `tls`).
fn tls_value(b: &mut Vec<u8>, t: &TlsInfo, sec: Secrets) {
    let mut o = Obj::new(b);
    o.opt_u64("client_hello_frame", t.client_hello_frame)
        .str_list(
            "client_versions",
            t.client_versions.iter().map(|s| s.as_str()),
        )
        .opt_str("sni", t.sni.as_deref())
        .str_list("alpn_offered", t.alpn_offered.iter().map(|s| s.as_str()))
        .u64("suites_offered", t.suites_offered)
        .opt_u64("server_hello_frame", t.server_hello_frame)
        .opt_str("version", t.version.as_deref())
        .opt_str("suite", t.suite.as_deref())
        .opt_str("alpn", t.alpn.as_deref())
        .bool("resumed", t.resumed)
        .opt_str("hello_retry_group", t.hello_retry.as_deref())
        .raw("certificates", |b| {
            b.push(b'[');
            for (i, c) in t.certificates.iter().enumerate() {
                if i > 0 {
                    b.push(b',');
                }
                let mut co = Obj::new(b);
                co.str("subject", &sec.text(&c.subject))
                    .str("issuer", &sec.text(&c.issuer))
                    .str_list("san", c.san.iter().map(|s| s.as_str()))
                    .str("not_before", &c.not_before)
                    .str("not_after", &c.not_after)
                    .bool("self_signed", c.self_signed)
                    .str("key", &c.key)
                    .end();
            }
            b.push(b']');
        })
        .raw("alerts", |b| {
            b.push(b'[');
            for (i, a) in t.alerts.iter().enumerate() {
                if i > 0 {
                    b.push(b',');
                }
                let mut ao = Obj::new(b);
                ao.str("dir", a.dir.as_str())
                    .str("level", &a.level)
                    .u64("description", u64::from(a.description))
                    .str("name", &a.name)
                    .u64("frame", a.frame)
                    .end();
            }
            b.push(b']');
        })
        .bool("handshake_complete", t.handshake_complete)
        .u64_list("encrypted_records", t.encrypted_records)
        .end();
}

impl<W: Write> Report for Jsonl<W> {
    fn record(&mut self, r: &Record<'_>) {
        match r {
            Record::Upgrade { meta, info } => self.upgrade(meta, info),
            Record::Ws {
                meta,
                dir,
                frame,
                ts,
                h,
                end,
            } => {
                let sec = self.opts.secrets();
                let mut o = self.begin_conn("ws", meta);
                o.str("dir", dir.as_str())
                    .u64("frame", *frame)
                    .ts("ts", *ts)
                    .bool("fin", h.fin)
                    .u64("rsv", h.rsv as u64)
                    .u64("opcode", h.opcode as u64)
                    .str("opcode_name", h.opcode_name())
                    .bool("masked", h.masked)
                    .u64("payload_len", h.payload_len)
                    .bool("compressed", end.compressed)
                    .opt_u64("close_code", end.close_code.map(|c| c as u64));
                match end.close_reason.as_deref() {
                    Some(r) => o.str("close_reason", &sec.text(r)),
                    None => o.null("close_reason"),
                };
                if end.truncated {
                    o.bool("truncated", true);
                }
                o.end();
                self.flush_line();
            }
            Record::Mqtt {
                meta,
                dir,
                frame,
                ts,
                transport,
                level,
                p,
            } => self.mqtt(meta, *dir, *frame, *ts, transport, *level, p),
            Record::HttpRequest { .. }
            | Record::Tunnel { .. }
            | Record::Anomaly { .. }
            | Record::MqttSession { .. }
            | Record::Summary { .. } => {}
        }
    }

    fn connection(&mut self, m: &ConnMeta, p: &ConnSummary, upgrades: &[UpgradeInfo]) {
        let sec = self.opts.secrets();
        let tls = p.tls.as_deref().map(TlsInfo::from_facts);
        // The summary lines the reports show (made here for every
        // connection: the records carry what the reports need).
        let summary = super::lines::conn_lines(p, upgrades);
        self.conn_fields.remove(&m.stream);
        let mut o = self.begin("connection");
        o.u64("stream", m.stream)
            .endpoint("client", m.client)
            .endpoint("server", m.server)
            .u64("first_frame", m.first_frame)
            .u64("last_frame", m.last_frame)
            .ts("first_ts", m.first_ts)
            .ts("last_ts", m.last_ts)
            .u64("packets", m.packets)
            .u64("bytes_c2s", m.bytes[0])
            .u64("bytes_s2c", m.bytes[1])
            .u64("tcp_len_c2s", m.tcp_len[0])
            .u64("tcp_len_s2c", m.tcp_len[1])
            .bool("syn", m.syn)
            .str("end", m.end.as_str())
            .raw("gaps", |b| {
                b.push(b'[');
                for (i, g) in m.gaps.iter().enumerate() {
                    if i > 0 {
                        b.push(b',');
                    }
                    let mut g2 = Obj::new(b);
                    g2.str("dir", g.dir.as_str())
                        .u64("frame", g.frame)
                        .u64("bytes", g.bytes)
                        .end();
                }
                b.push(b']');
            })
            .u64("retransmissions", m.retransmissions)
            .u64("out_of_order", m.out_of_order)
            .u64("gap_bytes", m.gap_bytes)
            .u64("acked_unseen", m.acked_unseen)
            .u64("after_end_bytes", m.after_end_bytes)
            .str("protocol", p.protocol)
            .bool("evicted", m.evicted)
            .u64("gaps_total", m.gaps_total)
            .u64("reasm_limit_hits", m.reasm_limit_hits)
            .opt_u64("rst_frame", m.rst_frame);
        match &m.first_close {
            Some(c) => o.raw("close", |b| {
                let mut co = Obj::new(b);
                co.str(
                    "by",
                    match c.by {
                        crate::flow::Dir::C2S => "client",
                        crate::flow::Dir::S2C => "server",
                    },
                )
                .str("flag", if c.rst { "rst" } else { "fin" })
                .u64("frame", c.frame)
                .ts("ts", c.ts)
                .raw("quiet_us", |b| {
                    let _ = write!(b, "{}", c.quiet_us);
                })
                .opt_u64("last_data_frame", c.last_data_frame)
                .end();
            }),
            None => o.null("close"),
        };
        o.raw("summary", |b| {
            b.push(b'[');
            for (i, l) in summary.iter().enumerate() {
                if i > 0 {
                    b.push(b',');
                }
                string(b, &sec.text(l));
            }
            b.push(b']');
        });
        if let Some(t) = &tls {
            o.raw("tls", |b| tls_value(b, t, sec));
        }
        if p.websocket_midstream {
            o.bool("websocket_midstream", true);
        }
        if let Some(t) = &p.tunnel {
            o.raw("tunnel", |b| {
                let mut to = Obj::new(b);
                to.str("target", &t.target)
                    .u64("request_frame", t.request_frame)
                    .u64("response_frame", t.response_frame)
                    .u64("status", u64::from(t.status))
                    .str("reason", &t.reason)
                    .opt_str("proxy", t.proxy.as_deref())
                    .secs("answer_secs", t.answer_secs)
                    .opt_str("proxy_authenticate", t.auth_asked.as_deref())
                    .bool("proxy_authorization_sent", t.auth_sent)
                    .opt_str("proxy_error", t.proxy_error.as_deref())
                    .end();
            });
        }
        if p.protocol == "tls" || p.tls.is_some() {
            o.opt_str("sni", p.sni.as_deref());
            match &p.alpn {
                Some(a) => o.str_list("alpn", a.iter().map(|s| s.as_str())),
                None => o.null("alpn"),
            };
        }
        if p.decrypted() {
            o.bool("decrypted", true);
        }
        o.end();
        self.flush_line();
    }

    fn finding(&mut self, f: &Finding) {
        let filter = f.filter();
        let sec = self.opts.secrets();
        let mut o = self.begin("finding");
        o.str("code", f.code)
            .str("severity", f.severity.as_str())
            .opt_u64("stream", f.stream)
            .u64_list("frames", f.frames.iter().copied())
            .str("message", &sec.text(&f.message))
            // The code's own hint is our text: nothing to redact in it.
            .str(
                "hint",
                &match &f.hint {
                    Some(h) => sec.text(h),
                    None => std::borrow::Cow::Borrowed(f.hint_or_default()),
                },
            )
            .opt_str("filter", filter.as_deref())
            .opt_str("group", f.group.as_deref().map(|g| sec.text(g)).as_deref())
            .end();
        self.flush_line();
    }

    fn capture(&mut self, c: &CaptureSummary, v: &Verdict) {
        let sec = self.opts.secrets();
        let mut o = self.begin("capture");
        o.str("format", c.format.contract_name());
        if c.format.contract_name() != c.format.as_str() {
            o.str("container", c.format.as_str());
        }
        o.u64_list("linktypes", c.linktypes.iter().map(|l| l.0 as u64))
            .u64("packets", c.packets)
            .u64("bytes", c.bytes);
        match c.first_ts {
            Some(t) => o.ts("first_ts", t),
            None => o.null("first_ts"),
        };
        match c.last_ts {
            Some(t) => o.ts("last_ts", t),
            None => o.null("last_ts"),
        };
        let n = c.counts;
        o.u64("streams", c.streams)
            .bool("complete", c.complete)
            .raw("decoded", |b| {
                let mut d = Obj::new(b);
                d.u64("tcp", n.tcp)
                    .u64("fragments", n.fragments)
                    .u64("not_tcp", n.not_tcp)
                    .u64("not_decoded", n.not_decoded)
                    .u64("malformed", n.malformed)
                    .end();
            })
            .raw("verdict", |b| {
                let mut vo = Obj::new(b);
                vo.str("status", v.status.as_str())
                    .opt_str("code", v.code)
                    .str("text", &sec.text(&v.text()))
                    .u64("connections", v.connections)
                    .end();
            })
            .end();
        self.flush_line();
        if self.io_error.is_none() {
            if let Err(e) = self.out.flush() {
                self.io_error = Some(e);
            }
        }
    }

    fn error(&mut self, message: &str, offset: Option<u64>) {
        let mut o = self.begin("error");
        o.str("message", message).opt_u64("offset", offset).end();
        self.flush_line();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::Ts;
    use crate::flow::Dir;
    use crate::proto::ws::{FrameEnd, FrameHeader};

    fn ws_line(j: &mut Jsonl<Vec<u8>>, m: &ConnMeta) -> String {
        let h = FrameHeader {
            fin: true,
            rsv: 0,
            opcode: 2,
            masked: false,
            mask: None,
            payload_len: 4,
            header_len: 2,
            offset: 0,
            compressed: false,
            message_opcode: 2,
        };
        let end = FrameEnd::default();
        let before = j.out.len();
        j.record(&Record::Ws {
            meta: m,
            dir: Dir::S2C,
            frame: 7,
            ts: Ts::default(),
            h: &h,
            end: &end,
        });
        String::from_utf8(j.out[before..].to_vec()).unwrap()
    }

    fn ep(s: &str) -> Endpoint {
        let a: std::net::SocketAddr = s.parse().unwrap();
        Endpoint {
            ip: a.ip(),
            port: a.port(),
        }
    }

    /// The connection fields rendered once per connection are the ones
    /// rendered each time: after a role swap, once decryption starts, and
    /// with more live connections than are cached.
    #[test]
    fn cached_connection_fields_equal_fresh_ones() {
        let fresh = |m: &ConnMeta| {
            let mut j = Jsonl::new(Vec::new(), "a \"capture\".pcap");
            ws_line(&mut j, m)
        };
        let mut j = Jsonl::new(Vec::new(), "a \"capture\".pcap");
        let mut m = ConnMeta::new(
            3,
            ep("10.0.0.1:40000"),
            ep("10.0.0.2:80"),
            true,
            1,
            Ts::default(),
        );
        assert_eq!(ws_line(&mut j, &m), fresh(&m));
        assert_eq!(ws_line(&mut j, &m), fresh(&m));
        m.swap_roles();
        assert_eq!(ws_line(&mut j, &m), fresh(&m));
        assert!(ws_line(&mut j, &m).contains("\"client\":\"10.0.0.2:80\""));
        m.decrypted = true;
        assert_eq!(ws_line(&mut j, &m), fresh(&m));
        assert!(ws_line(&mut j, &m).contains("\"decrypted\":true"));
        for st in 10..10 + MAX_CACHED_CONNS as u64 + 5 {
            let other = ConnMeta::new(
                st,
                ep("[2001:db8::1]:1"),
                ep("10.0.0.9:8080"),
                false,
                1,
                Ts::default(),
            );
            assert_eq!(ws_line(&mut j, &other), fresh(&other));
        }
        assert_eq!(j.conn_fields.len(), MAX_CACHED_CONNS);
        // A connection's record forgets its fields.
        j.connection(&m, &ConnSummary::default(), &[]);
        assert_eq!(j.conn_fields.len(), MAX_CACHED_CONNS - 1);
    }
}
