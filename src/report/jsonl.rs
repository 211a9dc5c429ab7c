//! JSON Lines records (`../shared/spec/jsonl-v1.md`), written as they happen.

use super::json::Obj;
use crate::event::{CaptureSummary, ConnProto, Finding, Sink};
use crate::flow::ConnMeta;
use std::io::Write;

/// Writes one capture's records to `out`.
pub struct Jsonl<W: Write> {
    out: W,
    file: String,
    buf: Vec<u8>,
    /// First write error (the report is then incomplete).
    pub io_error: Option<std::io::Error>,
}

impl<W: Write> Jsonl<W> {
    pub fn new(out: W, file: &str) -> Self {
        Jsonl {
            out,
            file: file.to_string(),
            buf: Vec::with_capacity(1024),
            io_error: None,
        }
    }

    pub fn into_inner(self) -> W {
        self.out
    }

    fn begin(&mut self, ty: &str) -> Obj<'_> {
        self.buf.clear();
        let mut o = Obj::new(&mut self.buf);
        o.str("type", ty).str("file", &self.file);
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

impl<W: Write> Sink for Jsonl<W> {
    fn connection(&mut self, m: &ConnMeta, p: &ConnProto) {
        let mut o = self.begin("connection");
        o.u64("stream", m.stream)
            .display("client", m.client)
            .display("server", m.server)
            .u64("first_frame", m.first_frame)
            .u64("last_frame", m.last_frame)
            .display("first_ts", m.first_ts)
            .display("last_ts", m.last_ts)
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
            .str("protocol", p.protocol)
            .bool("evicted", m.evicted);
        if p.protocol == "tls" {
            o.opt_str("sni", p.sni.as_deref());
            match &p.alpn {
                Some(a) => o.str_list("alpn", a.iter().map(|s| s.as_str())),
                None => o.null("alpn"),
            };
        }
        o.end();
        self.flush_line();
    }

    fn finding(&mut self, f: &Finding) {
        let filter = f.filter();
        let mut o = self.begin("finding");
        o.str("code", f.code)
            .str("severity", f.severity.as_str())
            .opt_u64("stream", f.stream)
            .u64_list("frames", f.frames.iter().copied())
            .str("message", &f.message)
            .opt_str("hint", f.hint.as_deref())
            .opt_str("filter", filter.as_deref())
            .end();
        self.flush_line();
    }

    fn capture(&mut self, c: &CaptureSummary) {
        let mut o = self.begin("capture");
        o.str("format", c.format.as_str())
            .u64_list("linktypes", c.linktypes.iter().map(|l| l.0 as u64))
            .u64("packets", c.packets)
            .u64("bytes", c.bytes);
        match c.first_ts {
            Some(t) => o.display("first_ts", t),
            None => o.null("first_ts"),
        };
        match c.last_ts {
            Some(t) => o.display("last_ts", t),
            None => o.null("last_ts"),
        };
        o.u64("streams", c.streams).bool("complete", c.complete).end();
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
