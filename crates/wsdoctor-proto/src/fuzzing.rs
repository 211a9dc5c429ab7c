//! Fuzzing entry points for the decoders: one function per parser, each
//! taking raw bytes and asserting properties of the result (not just "it did
//! not crash"). Not part of the API: the crate's `fuzz/` targets call these,
//! and `tests/fuzz_replay.rs` replays the committed corpora through them in
//! plain `cargo test`. Structured inputs are decoded from the bytes by
//! [`Input`], a small `arbitrary::Unstructured`-like reader, so the same bytes
//! mean the same thing to the fuzzer and to the replay test without an extra
//! dependency.
//!
//! Every `assert!` here states a property; nothing else may panic.
#![allow(
    missing_docs,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::arithmetic_side_effects
)]

use crate::deflate::Inflater;
use crate::handshake::DeflateParams;
use crate::http::{self, BodyKind, BodySkipper, Head, HttpLimits};
use crate::mqtt::{self, Dir, Event, MqttConn, MqttLimits, Packet};
use crate::ws::{FrameEnd, FrameHeader, Violation, WsDataSink, WsDirection, WsLimits};

/// Consumes structured values from the front of the fuzz input; reads past
/// the end yield zeros / empty slices (like `arbitrary::Unstructured`).
pub struct Input<'a> {
    d: &'a [u8],
}

impl<'a> Input<'a> {
    pub fn new(d: &'a [u8]) -> Self {
        Input { d }
    }
    pub fn is_empty(&self) -> bool {
        self.d.is_empty()
    }
    pub fn u8(&mut self) -> u8 {
        match self.d.split_first() {
            Some((&b, rest)) => {
                self.d = rest;
                b
            }
            None => 0,
        }
    }
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }
    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    pub fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }
    /// Up to `n` bytes.
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.d.len());
        let (a, b) = self.d.split_at(n);
        self.d = b;
        a
    }
    /// A length-prefixed (one byte, or two when `wide`) byte string.
    pub fn blob(&mut self, wide: bool) -> &'a [u8] {
        let n = if wide {
            usize::from(self.u16())
        } else {
            usize::from(self.u8())
        };
        self.bytes(n)
    }
    pub fn rest(&mut self) -> &'a [u8] {
        let r = self.d;
        self.d = &[];
        r
    }
}

/// Is `inner` a subslice of `outer` (zero-copy decoding kept the borrow)?
pub fn within(outer: &[u8], inner: &[u8]) -> bool {
    if inner.is_empty() {
        return true;
    }
    let o = outer.as_ptr_range();
    let i = inner.as_ptr_range();
    o.start <= i.start && i.end <= o.end
}

/// HTTP head parser and body skipper: consumed <= input, and feeding the
/// input in pieces (prefixes for the head, splits for the body) gives the same
/// result as feeding it whole.
pub fn http(data: &[u8]) {
    let mut inp = Input::new(data);
    let sel = inp.u8();
    let cut = usize::from(inp.u16());
    let buf = inp.rest();
    let lim = if sel & 0x80 != 0 {
        HttpLimits {
            max_head_bytes: 64 + usize::from(sel & 0x3f) * 16,
            max_headers: 1 + usize::from(sel & 0x0f),
        }
    } else {
        HttpLimits::default()
    };
    let request = sel & 1 == 0;
    let parse = |b: &[u8]| -> Head<String> {
        if request {
            match http::parse_request(b, &lim) {
                Head::Complete(r, n) => Head::Complete(format!("{r:?}"), n),
                Head::Partial => Head::Partial,
                Head::Error(e) => Head::Error(e),
            }
        } else {
            match http::parse_response(b, &lim) {
                Head::Complete(r, n) => Head::Complete(format!("{r:?}"), n),
                Head::Partial => Head::Partial,
                Head::Error(e) => Head::Error(e),
            }
        }
    };
    let whole = parse(buf);
    let mut body_kind = BodyKind::UntilClose;
    if let Head::Complete(_, n) = &whole {
        assert!(*n <= buf.len(), "head longer than the input");
        assert!(*n <= lim.max_head_bytes);
        // any longer prefix gives the same head; a shorter one is partial
        let cut = cut % buf.len().saturating_add(1);
        let got = parse(buf.get(..cut).unwrap_or(buf));
        if cut >= *n {
            assert_eq!(got, whole, "a longer buffer changed the head");
        } else {
            assert!(
                matches!(got, Head::Partial),
                "prefix of a complete head is not partial: {got:?}"
            );
        }
        body_kind = if request {
            match http::parse_request(buf, &lim) {
                Head::Complete(r, _) => http::body_kind_request(&r),
                _ => BodyKind::None,
            }
        } else {
            match http::parse_response(buf, &lim) {
                Head::Complete(r, _) => http::body_kind_response(&r, Some("GET")),
                _ => BodyKind::None,
            }
        };
    }
    // body skipper: a chunked / length body over the rest of the input
    let body = match &whole {
        Head::Complete(_, n) => buf.get(*n..).unwrap_or(&[]),
        _ => buf,
    };
    let kinds = [
        body_kind,
        BodyKind::Chunked,
        BodyKind::Length(u64::from(sel) * 3),
    ];
    for kind in kinds {
        let mut a = BodySkipper::new(kind);
        let mut out_a = Vec::new();
        let sa = a.feed_with(body, &mut |b| out_a.extend_from_slice(b));
        assert!(sa.consumed <= body.len());
        assert!(out_a.len() <= sa.consumed);
        assert_eq!(a.body_bytes(), out_a.len() as u64);
        // the same bytes in two pieces
        let k = if body.is_empty() { 0 } else { cut % body.len() };
        let (p1, p2) = body.split_at(k);
        let mut b = BodySkipper::new(kind);
        let mut out_b = Vec::new();
        let s1 = b.feed_with(p1, &mut |x| out_b.extend_from_slice(x));
        assert!(s1.consumed <= p1.len());
        let consumed_b = if s1.done {
            s1.consumed
        } else {
            assert_eq!(s1.consumed, p1.len(), "not done but input left over");
            let s2 = b.feed_with(p2, &mut |x| out_b.extend_from_slice(x));
            assert!(s2.consumed <= p2.len());
            s1.consumed + s2.consumed
        };
        assert_eq!(consumed_b, sa.consumed, "split changed the body length");
        assert_eq!(out_b, out_a, "split changed the body bytes");
        assert_eq!(a.is_done(), b.is_done());
    }
}

/// Everything a [`WsDirection`] reports, for comparing runs. Recording
/// stops when framing sync is lost (`ws_length_msb_set`): the resync scan is
/// a heuristic whose choice depends on how much input it can look ahead at
/// (`plausible_chain` over the current piece vs a single header over the
/// carried bytes), so what follows may legitimately differ between splits.
#[derive(Default, Debug, PartialEq, Eq)]
struct WsLog {
    data: Vec<u8>,
    frames: Vec<(FrameHeader, FrameEnd)>,
    starts: Vec<FrameHeader>,
    violations: Vec<(&'static str, u64)>,
    lost: usize,
    /// Sync was lost: later events are not recorded.
    frozen: bool,
    /// Corrupt compressed data: later data is not recorded (how much of the
    /// failing call's output miniz_oxide hands back depends on the split).
    inflate_failed: bool,
    /// All application bytes, recorded or not.
    data_total: u64,
    /// Data messages started (text/binary frames), recorded or not.
    msg_starts: u64,
    /// A compressed message was still open when the input ended.
    open_at_end: bool,
}

impl WsDataSink for WsLog {
    fn data(&mut self, bytes: &[u8]) {
        self.data_total = self.data_total.saturating_add(bytes.len() as u64);
        if !self.frozen && !self.inflate_failed {
            self.data.extend_from_slice(bytes);
        }
    }
    fn frame(&mut self, h: &FrameHeader, end: &FrameEnd) {
        if !self.frozen {
            self.frames.push((*h, end.clone()));
        }
    }
    fn violation(&mut self, v: Violation) {
        if !self.frozen {
            self.violations.push((v.code.as_str(), v.offset));
        }
        if v.code == "ws_length_msb_set" {
            self.frozen = true;
        }
        if v.code == "ws_inflate_error" {
            self.inflate_failed = true;
        }
    }
    fn data_gap(&mut self, _len: Option<u64>) {
        if !self.frozen {
            self.lost += 1;
        }
    }
    fn frame_start(&mut self, h: &FrameHeader) {
        if h.is_data() && h.opcode != 0 {
            self.msg_starts = self.msg_starts.saturating_add(1);
        }
        if !self.frozen {
            self.starts.push(*h);
        }
    }
}

/// WebSocket frame decoder (with permessage-deflate when selected): feed
/// consumes all of its input (the position advances by its length),
/// uncompressed payload delivered <= bytes fed, headers lie
/// inside the stream, and splitting the input anywhere gives the same frames,
/// data and violations.
pub fn ws(data: &[u8]) {
    let mut inp = Input::new(data);
    let sel = inp.u8();
    let cut = usize::from(inp.u16());
    let from_client = sel & 1 != 0;
    let deflate = (sel & 2 != 0).then(|| DeflateParams {
        client_no_context_takeover: sel & 4 != 0,
        server_no_context_takeover: sel & 8 != 0,
        ..DeflateParams::default()
    });
    let limits = WsLimits {
        max_message_bytes: if sel & 0x10 != 0 { 1024 } else { 1 << 20 },
        max_plausible_frame_len: if sel & 0x20 != 0 { 4096 } else { 16 << 20 },
        payload_chunk: if sel & 0x40 != 0 { 7 } else { 64 * 1024 },
        ..WsLimits::default()
    };
    let gap_at = (sel & 0x80 != 0).then_some(usize::from(inp.u8()));
    let stream = inp.rest();
    let run = |pieces: &[&[u8]]| -> WsLog {
        let mut d = WsDirection::new(from_client, deflate, limits);
        let mut log = WsLog::default();
        let mut fed = 0u64;
        for p in pieces {
            d.feed(p, &mut log);
            fed = fed.saturating_add(p.len() as u64);
            assert_eq!(d.decoder().position(), fed);
        }
        log.open_at_end = d.decoder().current_message().is_some_and(|m| m.compressed);
        log
    };
    let whole = run(&[stream]);
    let k = if stream.is_empty() {
        0
    } else {
        cut % stream.len()
    };
    let (a, b) = stream.split_at(k);
    let split = run(&[a, b]);
    let ones: Vec<&[u8]> = if stream.len() <= 512 {
        stream.chunks(1).collect()
    } else {
        stream.chunks(97).collect()
    };
    let bytewise = run(&ones);
    for (name, other) in [("split", &split), ("bytewise", &bytewise)] {
        assert_eq!(whole.starts, other.starts, "{name}: frame headers differ");
        assert_eq!(whole.frames, other.frames, "{name}: frames differ");
        let n = whole.data.len().min(other.data.len());
        // a compressed message still open at the end may have inflated
        // output pending inside the inflater (it needs more input to decide)
        let lenient = whole.inflate_failed || other.inflate_failed || whole.open_at_end;
        let same = if lenient {
            whole.data.get(..n) == other.data.get(..n)
        } else {
            whole.data == other.data
        };
        assert!(
            same,
            "{name}: data differs: {} vs {} bytes, violations {:?} vs {:?}",
            whole.data.len(),
            other.data.len(),
            whole.violations,
            other.violations
        );
        // (with inflate output pending, whether the cap is reached may
        // depend on the split too)
        let keep = |v: &&(&str, u64)| !(lenient && v.0.starts_with("ws_inflate_"));
        let va: Vec<_> = whole.violations.iter().filter(keep).collect();
        let vb: Vec<_> = other.violations.iter().filter(keep).collect();
        assert_eq!(va, vb, "{name}: violations differ");
    }
    for h in &whole.starts {
        assert!(h.offset < stream.len() as u64 || stream.is_empty());
        assert!((2..=14).contains(&h.header_len));
    }
    if deflate.is_none() {
        // without compression the data is a part of the payload bytes fed
        assert!(
            whole.data_total <= stream.len() as u64,
            "more data than input"
        );
    } else {
        // inflated output per message is capped
        // (+1: a continuation whose start was not seen is never inflated,
        // but count one spare message to stay on the safe side)
        // uncompressed messages pass through (at most the input's size)
        let msgs = whole.msg_starts + 1;
        assert!(
            whole.data_total
                <= msgs
                    .saturating_mul(limits.max_message_bytes)
                    .saturating_add(stream.len() as u64),
            "inflated more than the per-message cap allows"
        );
    }
    // a gap somewhere in the middle: no panic, position accounts for it
    if let Some(g) = gap_at {
        let mut d = WsDirection::new(from_client, deflate, limits);
        let mut log = WsLog::default();
        d.feed(a, &mut log);
        d.gap(g as u64 * 1000 + 1, &mut log);
        d.feed(b, &mut log);
        assert_eq!(
            d.decoder().position(),
            stream.len() as u64 + g as u64 * 1000 + 1
        );
    }
}

/// permessage-deflate: inflated bytes per message never exceed the cap,
/// an error is reported at most once per message, and splitting a message's
/// compressed bytes gives the same output.
pub fn deflate(data: &[u8]) {
    let mut inp = Input::new(data);
    let sel = inp.u8();
    let nct = sel & 1 != 0;
    let cap = match sel >> 6 {
        0 => 1u64,
        1 => 1000,
        2 => 65_536,
        _ => 1 << 20,
    };
    let cut = usize::from(inp.u8());
    let mut msgs = Vec::new();
    while !inp.is_empty() && msgs.len() < 64 {
        msgs.push(inp.blob(true));
    }
    let run = |split: bool| -> Vec<(Vec<u8>, u32)> {
        let mut inf = Inflater::new(nct, cap);
        let mut out = Vec::new();
        for m in &msgs {
            let mut bytes = Vec::new();
            let mut errors = 0u32;
            let pieces: Vec<&[u8]> = if split && !m.is_empty() {
                let (a, b) = m.split_at(cut % m.len());
                vec![a, b]
            } else {
                vec![m]
            };
            for p in pieces {
                if inf.feed(p, &mut |b| bytes.extend_from_slice(b)).is_err() {
                    errors += 1;
                }
                assert!(inf.message_bytes() <= cap);
                assert!(bytes.len() as u64 <= cap, "inflated past the cap");
            }
            if inf
                .end_message(&mut |b| bytes.extend_from_slice(b))
                .is_err()
            {
                errors += 1;
            }
            assert!(bytes.len() as u64 <= cap, "inflated past the cap");
            assert!(errors <= 1, "more than one error for a message");
            out.push((bytes, errors));
        }
        out
    };
    let whole = run(false);
    let split = run(true);
    assert_eq!(whole.len(), split.len());
    for ((a, ea), (b, eb)) in whole.iter().zip(&split) {
        assert_eq!(ea, eb, "splitting changed whether a message failed");
        if *ea == 0 {
            assert_eq!(a, b, "splitting compressed input changed the output");
        } else {
            // on corrupt data the inflater (miniz_oxide) may drop the output
            // of the call that failed, so how much came out before the
            // error depends on the split; it is still the same stream
            let n = a.len().min(b.len());
            assert_eq!(a.get(..n), b.get(..n), "outputs before an error differ");
        }
    }
}

fn check_packet(p: &Packet<'_>, first: u8, body: &[u8]) {
    assert_eq!(p.msg_type, first >> 4);
    assert_eq!(p.flags, first & 0x0f);
    assert_eq!(p.remaining_len as usize, body.len());
    assert!(p.anomalies.len() <= MqttLimits::default().max_anomalies_per_packet + 1);
    // a CONNECT carries its own (raw) level byte; other packets a dialect
    if let Some(l) = p.level.filter(|_| p.msg_type != mqtt::msg::CONNECT) {
        assert!(l == 3 || l == 4 || l == 5, "odd level {l}");
    }
    // lengths add up: every slice the packet hands out lies inside the body
    match &p.body {
        mqtt::Body::Publish(x) => {
            assert!(within(body, x.payload));
            // (the topic is decoded lossily, so its length is not the wire's)
            assert!(x.payload.len() <= body.len());
            // decoded whole, the payload is all there
            assert_eq!(x.payload_len, x.payload.len() as u64);
        }
        mqtt::Body::Connect(c) => {
            if let Some(pw) = c.password {
                assert!(within(body, pw));
            }
            if let Some(w) = &c.will {
                assert!(within(body, w.payload));
            }
        }
        mqtt::Body::Suback(s) => assert!(within(body, s.reason_codes)),
        mqtt::Body::Unsuback(s) => assert!(within(body, s.reason_codes)),
        mqtt::Body::Reserved { raw } => assert!(within(body, raw)),
        _ => {}
    }
    if let Some(props) = p.properties() {
        // each property takes at least two bytes (id + value)
        assert!(props.user_properties().count().saturating_mul(2) <= body.len());
    }
    let _ = p.reason_name();
    let _ = p.packet_id();
    let _ = p.is_malformed();
}

/// MQTT packet decoder at one level (`Some(3|4|5)` or `None` to infer):
/// the first byte and the body are taken from the input; the packet's
/// fields agree with the header and lie inside the body. Then the same bytes
/// as a stream through [`MqttConn`], whole and split: same packets.
pub fn mqtt_packet(data: &[u8], level: Option<u8>) {
    let Some((&first, body)) = data.split_first() else {
        return;
    };
    let p = mqtt::decode_packet(first, body, level);
    check_packet(&p, first, body);
    // the same packet with a real fixed header, through the connection decoder
    let mut wire_bytes = vec![first];
    let mut n = body.len();
    loop {
        let mut b = (n % 128) as u8;
        n /= 128;
        if n > 0 {
            b |= 0x80;
        }
        wire_bytes.push(b);
        if n == 0 {
            break;
        }
    }
    wire_bytes.extend_from_slice(body);
    match mqtt::parse_fixed_header(&wire_bytes) {
        mqtt::FixedHeader::Complete {
            header_len,
            remaining_len,
        } => {
            assert_eq!(remaining_len as usize, body.len());
            assert_eq!(usize::from(header_len), wire_bytes.len() - body.len());
        }
        other => assert!(body.len() > 268_435_455, "{other:?}"),
    }
    // through the connection decoder, whole and byte by byte: same events
    let whole = conn_run(level, &[&wire_bytes], &[Dir::C2S]);
    let k = usize::from(body.first().copied().unwrap_or(0)) % wire_bytes.len();
    let (a, b) = wire_bytes.split_at(k);
    let split = conn_run(level, &[a, b], &[Dir::C2S, Dir::C2S]);
    assert_eq!(
        until_sync_lost(whole.iter()),
        until_sync_lost(split.iter()),
        "splitting the packet changed the events"
    );
}

/// What an [`MqttConn`] run produced.
fn conn_run(level: Option<u8>, stream: &[&[u8]], dirs: &[Dir]) -> Vec<String> {
    let mut c = MqttConn::new(MqttLimits::default(), true);
    if let Some(l) = level {
        c.set_level_hint(l);
    }
    let mut out = Vec::new();
    let mut offs = [0u64; 2];
    for (piece, dir) in stream.iter().zip(dirs) {
        c.feed(*dir, 0.0, piece, &mut |e| match e {
            Event::Packet(d, p) => {
                // a packet is complete within the bytes fed so far (a packet
                // over the size limit is announced, as Skipped, at its header)
                if !matches!(p.body, mqtt::Body::Skipped) {
                    let fed = offs[d.index()] + piece.len() as u64;
                    assert!(p.offset.saturating_add(p.total_len()) <= fed);
                }
                out.push(format!(
                    "P {d:?} {} {} {:?}",
                    p.offset,
                    p.total_len(),
                    p.body
                ));
            }
            Event::Anomaly(d, a) => out.push(format!("A {d:?} {} {a:?}", a.code)),
            Event::Finding(f) => out.push(format!("F {f:?}")),
        });
        let i = dir.index();
        offs[i] = offs[i].saturating_add(piece.len() as u64);
        let _ = c.stream_offset(*dir);
        assert!(
            c.buffered_bytes(*dir) as u64 <= u64::from(MqttLimits::default().max_packet_bytes) + 8,
            "buffered more than the packet limit"
        );
    }
    c.end(&mut |e| match e {
        Event::Packet(d, p) => out.push(format!(
            "P {d:?} {} {} {:?}",
            p.offset,
            p.total_len(),
            p.body
        )),
        Event::Anomaly(d, a) => out.push(format!("A {d:?} {} {a:?}", a.code)),
        Event::Finding(f) => out.push(format!("F {f:?}")),
    });
    let _ = c.summary();
    out
}

/// Events up to (and including) the first one after which packet boundaries
/// are lost: the resync scan that follows looks ahead as far as the bytes at
/// hand allow, so its choice may legitimately depend on how the stream was
/// split.
fn until_sync_lost<'a>(events: impl Iterator<Item = &'a String>) -> Vec<&'a String> {
    let mut out = Vec::new();
    for e in events {
        out.push(e);
        if e.contains("boundary lost") || e.contains("mqtt_resync") || e.contains("resynchron") {
            break;
        }
    }
    out
}

/// MQTT byte streams through [`MqttConn`] (both directions): the same
/// packet framing (type, offset, length) and anomalies, up to a loss of
/// packet boundaries, whether each direction's bytes arrive whole or split at
/// arbitrary points; buffers stay under the packet limit.
pub fn mqtt_stream(data: &[u8]) {
    let mut inp = Input::new(data);
    let sel = inp.u8();
    let level = match sel & 3 {
        0 => None,
        1 => Some(3),
        2 => Some(4),
        _ => Some(5),
    };
    // chunks alternating direction
    let mut chunks: Vec<(Dir, &[u8])> = Vec::new();
    while !inp.is_empty() && chunks.len() < 256 {
        let h = inp.u8();
        let dir = if h & 1 == 0 { Dir::C2S } else { Dir::S2C };
        let n = usize::from(h >> 1) * 8 + usize::from(inp.u8() & 7);
        chunks.push((dir, inp.bytes(n)));
    }
    let pieces: Vec<&[u8]> = chunks.iter().map(|c| c.1).collect();
    let dirs: Vec<Dir> = chunks.iter().map(|c| c.0).collect();
    let coarse = conn_run(level, &pieces, &dirs);
    // split each chunk further at its middle and into single bytes (small)
    let mut fine_p: Vec<&[u8]> = Vec::new();
    let mut fine_d: Vec<Dir> = Vec::new();
    for (d, c) in &chunks {
        if c.len() <= 16 {
            for b in c.chunks(1) {
                fine_p.push(b);
                fine_d.push(*d);
            }
        } else {
            let (a, b) = c.split_at(c.len() / 2);
            fine_p.extend([a, b]);
            fine_d.extend([*d, *d]);
        }
    }
    let fine = conn_run(level, &fine_p, &fine_d);
    // events are per direction; session findings may interleave differently
    // between directions, so compare each direction's packet/anomaly events
    for d in ["C2S", "S2C"] {
        let a = until_sync_lost(
            coarse
                .iter()
                .filter(|s| !s.starts_with('F') && s.get(2..5) == Some(d)),
        );
        let b = until_sync_lost(
            fine.iter()
                .filter(|s| !s.starts_with('F') && s.get(2..5) == Some(d)),
        );
        // The dialect (3.x or 5) of a packet is inferred from the packets
        // seen so far (a level hint counts as inferred too) and may settle
        // at a different point when the bytes arrive in other pieces, which
        // changes how a body is read: compare the framing (type, offset,
        // length) and the anomalies, not the decoded bodies.
        let frame = |v: &[&String]| -> Vec<String> {
            v.iter()
                .map(|e| e.split(['(', '{']).next().unwrap_or("").to_string())
                .collect()
        };
        assert_eq!(frame(&a), frame(&b), "splitting changed the {d} framing");
    }
}
/// TLS record decryption (`proto::tls::crypto`) and key log parsing
/// (`proto::tls::keylog`) over arbitrary bytes.
///
/// Layout: a selector byte (bit 0: key log mode; bit 1: server direction;
/// bit 2: encrypt_then_mac), a suite index into `SUITES`, a 48-byte secret
/// (the first hash-length bytes for TLS 1.3), client and server randoms (32
/// bytes each), then records: content type, version (u16 LE), a flag byte
/// (bit 0: KeyUpdate before the record) and a wide blob (the fragment). In key
/// log mode the rest is key log text, also wrapped in Decryption Secrets Blocks.
///
/// Properties: no panic; each record uses up exactly one sequence number; an
/// error leaves the output untouched; plaintext is never longer than the
/// fragment nor than 2^14; the TLS 1.2 content type is the outer one; a
/// second decryptor with the same keys gives the same results; the output
/// buffer never holds more than one record; key logs keep at most
/// `max_entries` sessions and count every line once. Returns the number of
/// records that decrypted (the seeds from RFC 8448 do).
pub fn tls_decrypt(data: &[u8]) -> usize {
    use crate::tls::crypto::{
        DecryptError, Direction, RecordDecryptor, MAX_PLAINTEXT, MAX_TLS12_CIPHERTEXT, SUITES,
    };
    use crate::tls::keylog::{KeyLog, KeyLogLimits, Secret};
    let mut inp = Input::new(data);
    let sel = inp.u8();
    if sel & 1 == 1 {
        let text = inp.rest();
        let limits = KeyLogLimits {
            max_entries: 4,
            max_line_len: 200,
        };
        let mut k = KeyLog::with_limits(limits);
        k.add_text(text);
        let st = k.stats();
        assert!(k.len() <= limits.max_entries);
        assert_eq!(
            st.lines,
            st.secrets + st.comments + st.skipped + st.malformed + st.too_long + st.over_limit
        );
        let mut body = Vec::new();
        body.extend_from_slice(&0x544c_534bu32.to_le_bytes());
        body.extend_from_slice(&(text.len() as u32).to_le_bytes());
        body.extend_from_slice(text);
        let mut k2 = KeyLog::with_limits(limits);
        let _ = k2.add_dsb(&body, false);
        let _ = k2.add_dsb(text, true);
        assert!(k2.len() <= limits.max_entries);
        let _ = format!("{k:?}");
        return 0;
    }
    let Some(info) = SUITES.get(usize::from(inp.u8()) % SUITES.len()).copied() else {
        return 0;
    };
    let dir = if sel & 2 != 0 {
        Direction::ServerToClient
    } else {
        Direction::ClientToServer
    };
    let etm = sel & 4 != 0;
    let mut secret = [0u8; 48];
    secret.copy_from_slice(&{
        let mut s = inp.bytes(48).to_vec();
        s.resize(48, 0);
        s
    });
    let cr: [u8; 32] = {
        let mut s = inp.bytes(32).to_vec();
        s.resize(32, 0);
        s.try_into().unwrap_or([0; 32])
    };
    let sr: [u8; 32] = {
        let mut s = inp.bytes(32).to_vec();
        s.resize(32, 0);
        s.try_into().unwrap_or([0; 32])
    };
    let make = || {
        let s = if info.tls13 {
            Secret::new(secret.get(..info.hash.len()).unwrap_or(&[]))
        } else {
            Secret::new(&secret)
        };
        let s = s.ok_or(DecryptError::NotTls13)?;
        if info.tls13 {
            RecordDecryptor::tls13(info.id, &s)
        } else {
            RecordDecryptor::tls12(info.id, &s, &cr, &sr, etm, dir)
        }
    };
    let (a, b) = (make(), make());
    assert!(
        a.is_ok() && b.is_ok(),
        "every listed suite builds from a right-sized secret"
    );
    let (Ok(mut a), Ok(mut b)) = (a, b) else {
        return 0;
    };
    let mut out = Vec::new();
    let mut out_b = Vec::new();
    let mut records = 0;
    let mut decrypted = 0;
    while !inp.is_empty() && records < 64 {
        records += 1;
        let ty = inp.u8();
        let ver = inp.u16();
        let flags = inp.u8();
        let frag = inp.blob(true);
        if flags & 1 == 1 && info.tls13 {
            assert!(a.key_update().is_ok() && b.key_update().is_ok());
            assert_eq!(a.next_seq(), 0);
        }
        let seq = a.next_seq();
        out.clear();
        out.extend_from_slice(b"keep");
        let r = a.decrypt(ty, ver, frag, &mut out);
        assert_eq!(a.next_seq(), seq + 1, "one sequence number per record");
        match r {
            Ok(t) => {
                decrypted += 1;
                let n = out.len() - 4;
                assert!(n <= frag.len() && n <= MAX_PLAINTEXT);
                if !info.tls13 {
                    assert_eq!(t, ty);
                }
            }
            Err(_) => assert_eq!(out, b"keep", "output untouched on error"),
        }
        assert_eq!(&out[..4], b"keep");
        assert!(out.capacity() <= 2 * (MAX_TLS12_CIPHERTEXT + 4) + 64);
        out_b.clear();
        let rb = b.decrypt(ty, ver, frag, &mut out_b);
        assert_eq!(r, rb, "deterministic");
        assert_eq!(&out[4..], &out_b[..]);
    }
    decrypted
}
