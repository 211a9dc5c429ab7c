//! Fuzzing entry points: one function per parser, each taking raw bytes and
//! asserting properties of the result (not just "it did not crash").
//!
//! The `fuzz/` crate (cargo-fuzz) calls these from thin targets, and
//! `tests/fuzz_replay.rs` replays the committed corpora and regression inputs
//! through them in plain `cargo test`. Structured inputs (TCP segment
//! sequences, conversations) are decoded from the bytes by [`Input`], a small
//! `arbitrary::Unstructured`-like reader, so the same bytes mean the same
//! thing to the fuzzer and to the replay test without an extra dependency.
//!
//! Every `assert!` here states a property; nothing else may panic.

use crate::analyze::{analyze_bytes, Options};
use crate::capture::{CaptureLimits, CaptureReader, Format, Linktype, Ts};
use crate::flow::{Chunk, Clock, EndKind, ReasmLimits, Reassembly, SegIn};
use crate::proto::deflate::Inflater;
use crate::proto::handshake::DeflateParams;
use crate::proto::http::{self, BodyKind, BodySkipper, Head, HttpLimits};
use crate::proto::mqtt::{self, Dir, Event, MqttConn, MqttLimits, Packet};
use crate::proto::ws::{FrameEnd, FrameHeader, Violation, WsDataSink, WsDirection, WsLimits};
use crate::report::jsonl::Jsonl;
use crate::wire::{self, Decoded};
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr};

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

fn within(outer: &[u8], inner: &[u8]) -> bool {
    if inner.is_empty() {
        return true;
    }
    let o = outer.as_ptr_range();
    let i = inner.as_ptr_range();
    o.start <= i.start && i.end <= o.end
}

/// A `Read` handing out the input in pieces of varying size (short reads).
struct Dribble<'a> {
    d: &'a [u8],
    sizes: &'a [u8],
    i: usize,
}

impl Read for Dribble<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let s = self
            .sizes
            .get(self.i % self.sizes.len().max(1))
            .copied()
            .unwrap_or(7);
        self.i = self.i.wrapping_add(1);
        let n = usize::from(s).max(1).min(buf.len()).min(self.d.len());
        let (a, b) = self.d.split_at(n);
        buf.get_mut(..n).unwrap_or(&mut []).copy_from_slice(a);
        self.d = b;
        Ok(n)
    }
}

/// What one reader run produced (for comparing runs).
#[derive(Debug, PartialEq, Eq)]
struct ReadLog {
    records: Vec<(u64, u64, Linktype, Vec<u8>, u32)>,
    error: Option<(u64, String)>,
    truncated_at: Option<u64>,
    warnings: usize,
}

fn read_all<R: Read>(src: R, limits: CaptureLimits, input_len: usize, input: &[u8]) -> ReadLog {
    read_from(CaptureReader::new(src, limits), input_len, input)
}

fn read_from<R: Read>(
    reader: Result<CaptureReader<R>, crate::capture::CaptureError>,
    input_len: usize,
    input: &[u8],
) -> ReadLog {
    let mut log = ReadLog {
        records: Vec::new(),
        error: None,
        truncated_at: None,
        warnings: 0,
    };
    let mut r = match reader {
        Ok(r) => r,
        Err(e) => {
            assert!(e.offset as usize <= input_len);
            log.error = Some((e.offset, e.to_string()));
            return log;
        }
    };
    let mut last_frame = 0u64;
    let mut last_offset = None::<u64>;
    // NetMon frames come through a frame table that may point anywhere,
    // backwards and more than once (4 bytes per entry).
    let netmon = matches!(r.format(), Format::Netmon1 | Format::Netmon2);
    loop {
        match r.next_record() {
            Ok(Some(rec)) => {
                // frame numbers strictly increase, records move forward
                assert!(rec.frame > last_frame, "frame numbers must increase");
                last_frame = rec.frame;
                assert!(netmon || last_offset.is_none_or(|o| rec.offset > o));
                last_offset = Some(rec.offset);
                // the record's data is a piece of the input, just after its header
                let off = rec.offset as usize;
                assert!(off.saturating_add(rec.data.len()) <= input_len);
                let found = if netmon {
                    // after the 8- or 16-byte frame header (and, for 802.11,
                    // NetMon's radio header, which is stripped)
                    input.get(off.saturating_add(8)..).is_some_and(|s| {
                        rec.data.is_empty()
                            || s.windows(rec.data.len())
                                .take(65_536 + 16)
                                .any(|w| w == rec.data)
                    })
                } else {
                    [12usize, 16, 24, 28].iter().any(|h| {
                        input
                            .get(off.saturating_add(*h)..)
                            .and_then(|s| s.get(..rec.data.len()))
                            == Some(rec.data)
                    })
                };
                assert!(found, "record data not found in the input at its offset");
                let per = if netmon { 4 } else { 12 };
                assert!(log.records.len() <= input_len / per + 1);
                log.records.push((
                    rec.frame,
                    rec.offset,
                    rec.linktype,
                    rec.data.to_vec(),
                    rec.orig_len,
                ));
            }
            Ok(None) => break,
            Err(e) => {
                assert!(e.offset as usize <= input_len);
                log.error = Some((e.offset, e.to_string()));
                break;
            }
        }
    }
    assert!(r.position() as usize <= input_len);
    assert!(r.frames() >= last_frame);
    if let Some(t) = r.truncated_at {
        assert!(t as usize <= input_len);
    }
    for w in &r.warnings {
        assert!(w.offset as usize <= input_len);
    }
    assert!(r.warnings.len() <= 100);
    log.truncated_at = r.truncated_at;
    log.warnings = r.warnings.len();
    log
}

/// Capture reader (pcap and pcapng) over arbitrary bytes: records lie within
/// the input, frame numbers increase, errors point inside the input, and
/// reading through short reads gives exactly the same records.
pub fn capture(data: &[u8]) {
    let whole = read_all(data, CaptureLimits::default(), data.len(), data);
    let sizes = data.get(..data.len().min(8)).unwrap_or(&[]);
    let dribble = Dribble {
        d: data,
        sizes,
        i: 0,
    };
    let split = read_all(dribble, CaptureLimits::default(), data.len(), data);
    assert_eq!(whole, split, "short reads changed the records");
    if data.starts_with(b"RTSS") || data.starts_with(b"GMBU") {
        // a NetMon file on disk (seekable, no spool) reads the same
        let seekable = CaptureReader::from_seekable(
            Box::new(std::io::Cursor::new(data.to_vec())),
            CaptureLimits::default(),
        );
        let direct = read_from(seekable, data.len(), data);
        assert_eq!(
            whole, direct,
            "the spooled and the seekable NetMon reader differ"
        );
    }
    // a small record limit: larger records become errors, never panics
    let small = CaptureLimits {
        max_record_bytes: 100,
        ..CaptureLimits::default()
    };
    let lim = read_all(data, small, data.len(), data);
    for r in &lim.records {
        assert!(r.3.len() <= 100);
    }
}

const LINKTYPES: [u32; 17] = [
    0, 1, 12, 14, 101, 108, 113, 228, 229, 276, 127, 239, 192, 105, 9, 104, 50,
];

/// Link/IP/TCP decoding: the payload (and fragment payload) is a subslice of
/// the frame, and the claimed length covers the captured payload.
pub fn wire(data: &[u8]) {
    let mut inp = Input::new(data);
    let sel = inp.u8();
    let lt = match LINKTYPES.get(usize::from(sel)) {
        Some(&l) => Linktype(l),
        None => Linktype(u32::from(sel) | (u32::from(inp.u8()) << 8)),
    };
    let extra = inp.u16();
    let frame = inp.rest();
    for orig in [
        frame.len() as u32,
        (frame.len() as u32).saturating_add(u32::from(extra)),
        0,
    ] {
        check_decoded(frame, &wire::decode(lt, frame, orig));
    }
    // The fast path for plain Ethernet/IP + TCP decodes as the general one.
    wire::fast_path_agrees(true, frame);
    wire::fast_path_agrees(false, frame);
    let v4 = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    check_decoded(frame, &wire::tcp_from_reassembled(v4, v4, frame));
    // a reassembled tunnel datagram (GRE, IP-in-IP, 6in4) at any depth
    let proto = [47u8, 4, 41, 97, 137][usize::from(extra % 5)];
    let depth = (extra >> 8) as u8 % (wire::MAX_TUNNEL_DEPTH + 2);
    check_decoded(frame, &wire::from_reassembled(v4, v4, proto, depth, frame));
}

fn check_decoded(frame: &[u8], d: &Decoded<'_>) {
    match d {
        Decoded::Tcp(seg) => {
            assert!(within(frame, seg.payload), "TCP payload outside the frame");
            assert!(seg.claimed_len as usize >= seg.payload.len());
            assert!(seg.payload.len() <= frame.len());
        }
        Decoded::Fragment(f) => {
            assert!(
                within(frame, f.payload),
                "fragment payload outside the frame"
            );
        }
        _ => {}
    }
}

/// One segment of the structured reassembly input.
#[derive(Debug, Clone)]
pub struct SegOp {
    /// Direction: client (0) or server (1).
    pub dir: usize,
    /// Sequence number relative to the direction's next in-order byte
    /// (negative: retransmission, positive: ahead).
    pub rel: i32,
    pub syn: bool,
    pub fin: bool,
    pub rst: bool,
    /// Acknowledge everything the peer sent so far (`peer_ack`).
    pub ack_all: bool,
    /// Bytes the headers claim beyond the captured payload (snaplen cut).
    pub extra_claimed: u16,
    pub payload: Vec<u8>,
}

/// Decode a sequence of segments; also used by the pipeline target.
pub fn seg_ops(data: &[u8]) -> Vec<SegOp> {
    let mut inp = Input::new(data);
    let mut ops = Vec::new();
    while !inp.is_empty() && ops.len() < 4096 {
        let f = inp.u8();
        let rel = match inp.u8() {
            // mostly in order, sometimes a little off, rarely anywhere
            0..=159 => 0,
            160..=223 => i32::from(inp.u8() as i8),
            224..=247 => i32::from(inp.u16() as i16),
            _ => inp.u32() as i32,
        };
        let extra_claimed = if f & 0x40 != 0 {
            u16::from(inp.u8())
        } else {
            0
        };
        let payload = inp.blob(f & 0x80 != 0).to_vec();
        ops.push(SegOp {
            dir: usize::from(f & 1),
            rel,
            syn: f & 0x02 != 0 && f & 0x18 != 0x18,
            fin: f & 0x04 != 0 && f & 0x18 != 0x18,
            rst: f & 0x18 == 0x18,
            ack_all: f & 0x20 != 0,
            extra_claimed,
            payload,
        });
    }
    ops
}

#[derive(Default)]
struct DirTrack {
    /// Bytes of payload sent in order (the stream as the sender wrote it),
    /// when every segment was in order so far.
    sent: Vec<u8>,
    /// Highest stream offset a segment reached (bytes + claimed extra).
    sent_hi: u64,
    /// Upper bound of data + gaps the segments and ACKs can account for.
    budget: u64,
    in_order: bool,
    delivered: Vec<u8>,
    gaps: u64,
    ended: bool,
    isn: u32,
    next_rel: u64,
}

impl DirTrack {
    fn take(&mut self, c: Chunk<'_>) {
        match c {
            Chunk::Data { bytes, .. } => {
                assert!(!self.ended, "data after the end");
                self.delivered.extend_from_slice(bytes);
            }
            Chunk::Gap { len, .. } => {
                assert!(!self.ended, "gap after the end");
                self.gaps = self.gaps.saturating_add(len);
            }
            Chunk::End { .. } => {
                assert!(!self.ended, "two ends");
                self.ended = true;
            }
        }
    }
}

fn fuzz_reasm_limits(inp: &mut Input<'_>) -> ReasmLimits {
    let lim_sel = inp.u8();
    let win = inp.u8();
    ReasmLimits {
        max_ooo_bytes: 1 + usize::from(lim_sel & 0x0f) * 512,
        max_ooo_segments: 1 + usize::from(lim_sel >> 4) * 8,
        overlap_check_bytes: usize::from(inp.u8()) * 16,
        reorder_window_packets: u64::from(win & 0x0f),
        reorder_window_us: i64::from(win >> 4) * 100_000,
        max_ack_ahead: 65_535,
    }
}

/// TCP reassembler over a structured sequence of segments: delivered bytes
/// plus gaps never exceed what was sent, with everything in order the
/// delivered bytes are exactly the sent stream, held bytes stay within the
/// limits, and nothing is delivered after the end.
pub fn reasm(data: &[u8]) {
    let mut inp = Input::new(data);
    let lim = fuzz_reasm_limits(&mut inp);
    let isns = [inp.u32(), inp.u32()];
    let ops = seg_ops(inp.rest());
    let mut r = Reassembly::default();
    let mut t: [DirTrack; 2] = Default::default();
    for (d, tr) in t.iter_mut().enumerate() {
        tr.in_order = true;
        tr.isn = isns.get(d).copied().unwrap_or(0);
    }
    for (frame, op) in ops.iter().enumerate() {
        let frame = frame as u64 + 1;
        let d = op.dir & 1;
        let ts = Ts::from_micros(frame as i64 * 50_000);
        // absolute sequence number of this segment
        let (seq, claimed, ack) = {
            let [t0, t1] = &mut t;
            let (tm, tp) = if d == 0 { (t0, t1) } else { (t1, t0) };
            let start = (tm.next_rel as i64)
                .saturating_add(i64::from(op.rel))
                .max(0) as u64;
            let seq = tm.isn.wrapping_add(1).wrapping_add(start as u32);
            let seq = if op.syn { seq.wrapping_sub(1) } else { seq };
            if op.rel != 0 || op.extra_claimed > 0 {
                tm.in_order = false;
            }
            let claimed = (op.payload.len() as u32).saturating_add(u32::from(op.extra_claimed));
            // an RST's payload is not data (the reassembler only ends the direction)
            let later_syn = op.syn && frame > 1;
            if tm.in_order && !tm.ended && !later_syn && !op.rst {
                tm.sent.extend_from_slice(&op.payload);
            } else {
                tm.in_order = false;
            }
            let end = start.saturating_add(u64::from(claimed));
            tm.sent_hi = tm.sent_hi.max(end);
            // sequence numbers are compared modulo 2^32 within +-2^31: one
            // segment can move the direction forward by its length plus a hole
            // of less than 2^31 (and a SYN/FIN by one)
            tm.budget = tm
                .budget
                .saturating_add(u64::from(claimed))
                .saturating_add((1 << 31) + 1);
            if op.rel == 0 {
                tm.next_rel = tm.next_rel.max(end);
            }
            let ack = op.ack_all.then(|| {
                // an ACK can vouch for (and so turn into gaps) at most
                // `max_ack_ahead` unseen bytes, plus holes below what was seen
                tp.budget = tp.budget.saturating_add(lim.max_ack_ahead + 1);
                tp.isn.wrapping_add(1).wrapping_add(tp.next_rel as u32)
            });
            (seq, claimed, ack)
        };
        let s = SegIn {
            seq,
            ack,
            syn: op.syn,
            fin: op.fin,
            rst: op.rst,
            payload: &op.payload,
            claimed,
            frame,
            ts,
        };
        let clk = Clock {
            packets: frame,
            us: ts.micros(),
        };
        let mut emit = |dd: usize, c: Chunk<'_>| t[dd & 1].take(c);
        r.segment(d, &s, clk, &lim, &mut emit);
        r.tick(clk, false, frame, ts, &lim, &mut emit);
        assert!(
            r.held_bytes() <= 2 * lim.max_ooo_bytes + 2,
            "held bytes over the limit"
        );
    }
    let mut emit = |dd: usize, c: Chunk<'_>| t[dd & 1].take(c);
    r.finish(EndKind::Open, u64::MAX, Ts::default(), &lim, &mut emit);
    assert_eq!(r.held_bytes(), 0, "bytes held after finish");
    for tm in t.iter_mut() {
        assert!(tm.ended, "finish must end the direction");
        // delivered data + gaps never exceed what the segments can account for
        let total = (tm.delivered.len() as u64).saturating_add(tm.gaps);
        assert!(
            total <= tm.budget,
            "delivered {total} > budget {}",
            tm.budget
        );
        if tm.in_order {
            assert_eq!(tm.gaps, 0, "gap without loss or reordering");
            assert_eq!(tm.delivered, tm.sent, "in-order stream altered");
        }
    }
}

/// Reordering is not loss: two streams cut into segments (with the ACKs a
/// receiver would send), delivered in an order permuted within a window of
/// a few positions, reassemble to exactly the original bytes of each
/// direction, with no gap, in an order consistent with the ACKs.
pub fn reasm_reorder(data: &[u8]) {
    let mut inp = Input::new(data);
    let isns = [inp.u32(), inp.u32()];
    let window = 1 + usize::from(inp.u8() % 4);
    // The conversation: alternating messages, cut into segments.
    let mut msgs: Vec<(usize, Vec<u8>)> = Vec::new();
    let mut total = 0usize;
    while !inp.is_empty() && msgs.len() < 64 && total < 16_384 {
        let h = inp.u8();
        let len = 1 + usize::from(inp.u8()) + usize::from(h & 0x70) * 8;
        let d = usize::from(h & 1);
        let body: Vec<u8> = (0..len).map(|i| (i as u8) ^ h).collect();
        total += len;
        msgs.push((d, body));
    }
    let cuts = inp.u8();
    // Segments in send order: (dir, rel offset, bytes, ack of peer rel).
    let mut sent = [0u64; 2];
    let mut segs: Vec<(usize, u64, Vec<u8>, u64)> = Vec::new();
    for (d, body) in &msgs {
        let seg_len = 1 + usize::from(cuts % 61);
        for piece in body.chunks(seg_len) {
            segs.push((*d, sent[*d], piece.to_vec(), sent[d ^ 1]));
            sent[*d] += piece.len() as u64;
        }
    }
    // Permute within the window: each step picks one of the next `window`.
    let mut order: Vec<usize> = Vec::new();
    let mut pool: Vec<usize> = (0..segs.len()).collect();
    while !pool.is_empty() {
        let k = usize::from(inp.u8()) % window.min(pool.len());
        order.push(pool.remove(k));
    }
    let lim = ReasmLimits::default();
    let mut r = Reassembly::default();
    let mut out: [Vec<u8>; 2] = Default::default();
    let mut gaps = 0u64;
    // Per direction: (rel start, peer bytes acknowledged) of each segment,
    // to check that data is never handed on before what it acknowledges.
    let mut acks: [Vec<(u64, u64)>; 2] = Default::default();
    for (d, rel, _, peer_rel) in &segs {
        acks[*d].push((*rel, *peer_rel));
    }
    let base = |d: usize| isns[d].wrapping_add(1);
    let take = |out: &mut [Vec<u8>; 2], gaps: &mut u64, dd: usize, c: Chunk<'_>| match c {
        Chunk::Data { bytes, .. } => {
            let d = dd & 1;
            out[d].extend_from_slice(bytes);
            let last = out[d].len() as u64 - 1;
            let i = acks[d].partition_point(|a| a.0 <= last).saturating_sub(1);
            let need = acks[d].get(i).map_or(0, |a| a.1);
            assert!(
                out[d ^ 1].len() as u64 >= need,
                "direction {d} handed on before the bytes it acknowledges"
            );
        }
        Chunk::Gap { len, .. } => *gaps += len,
        Chunk::End { .. } => {}
    };
    let mut frame = 0u64;
    for (d, &isn) in isns.iter().enumerate() {
        frame += 1;
        let s = SegIn {
            seq: isn,
            ack: (d == 1).then(|| base(0)),
            syn: true,
            fin: false,
            rst: false,
            payload: &[],
            claimed: 0,
            frame,
            ts: Ts::from_micros(frame as i64),
        };
        let clk = Clock {
            packets: frame,
            us: frame as i64,
        };
        r.segment(d, &s, clk, &lim, &mut |_, _| {});
    }
    for i in order {
        let (d, rel, bytes, peer_rel) = &segs[i];
        frame += 1;
        let s = SegIn {
            seq: base(*d).wrapping_add(*rel as u32),
            ack: Some(base(d ^ 1).wrapping_add(*peer_rel as u32)),
            syn: false,
            fin: false,
            rst: false,
            payload: bytes,
            claimed: bytes.len() as u32,
            frame,
            ts: Ts::from_micros(frame as i64),
        };
        let clk = Clock {
            packets: frame,
            us: frame as i64,
        };
        r.segment(*d, &s, clk, &lim, &mut |dd, c| {
            take(&mut out, &mut gaps, dd, c)
        });
        r.tick(clk, false, frame, s.ts, &lim, &mut |dd, c| {
            take(&mut out, &mut gaps, dd, c)
        });
    }
    r.finish(
        EndKind::Open,
        frame + 1,
        Ts::default(),
        &lim,
        &mut |dd, c| take(&mut out, &mut gaps, dd, c),
    );
    assert_eq!(gaps, 0, "reordering reported as loss");
    for (d, got) in out.iter().enumerate() {
        let want: Vec<u8> = msgs
            .iter()
            .filter(|m| m.0 == d)
            .flat_map(|m| m.1.iter().copied())
            .collect();
        assert_eq!(got, &want, "direction {d} altered by reordering");
    }
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
            Event::Anomaly(d, a) => out.push(format!("A {d:?} {a:?}")),
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
        Event::Anomaly(d, a) => out.push(format!("A {d:?} {a:?}")),
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

/// Whole pipeline over arbitrary capture bytes into JSON Lines: no panic,
/// every line is JSON with a `type`.
pub fn pipeline(data: &[u8]) {
    let mut buf = Vec::new();
    {
        let mut sink = Jsonl::new(&mut buf, "fuzz");
        let _ = analyze_bytes(data, &fuzz_options(), &mut sink);
    }
    check_jsonl(&buf);
    let mut report = crate::report::model::CaptureReport::new("fuzz");
    let _ = analyze_bytes(data, &fuzz_options(), &mut report);
    let _ = crate::report::text::render(&report, false);
    same_from_jsonl(&report, &buf);
}

/// The report made from the JSON Lines is the one made directly.
fn same_from_jsonl(report: &crate::report::model::CaptureReport, jsonl: &[u8]) {
    let mut ing = crate::report::ingest::Ingest::new(report.opts);
    ing.read("fuzz", jsonl).expect("reading from memory");
    assert_eq!(ing.bad_lines, 0, "{:?}", ing.bad);
    let back = ing.finish();
    assert_eq!(back.len(), 1, "one capture, one report");
    for (a, b) in reports(report).iter().zip(reports(&back[0]).iter()) {
        assert!(a == b, "the report from JSON Lines differs");
    }
}

/// Every rendering of a report.
fn reports(r: &crate::report::model::CaptureReport) -> [String; 4] {
    use crate::report::{csv, html, markdown, text};
    let one = std::slice::from_ref(r);
    [
        html::render(one, "fuzz"),
        markdown::render(one),
        csv::render(one),
        text::render(r, false),
    ]
}

/// Arbitrary bytes as JSON Lines for `report --from-jsonl` (the records of
/// a hostile or damaged file): no panic, every report renders, bad lines
/// are counted.
pub fn jsonl_report(data: &[u8]) {
    let mut ing = crate::report::ingest::Ingest::new(Default::default());
    ing.read("fuzz", data).expect("reading from memory");
    let lines = data.split(|&b| b == b'\n').count() as u64;
    assert!(ing.bad_lines <= lines);
    let reps = ing.finish();
    let _ = crate::report::html::render(&reps, "fuzz");
    let _ = crate::report::markdown::render(&reps);
    let _ = crate::report::csv::render(&reps);
    for r in &reps {
        let _ = crate::report::text::render(r, false);
    }
}

fn fuzz_options() -> Options {
    let mut o = Options::default();
    // small tables so limits are reached with small inputs
    o.flow.max_connections = 64;
    o
}

/// Every line of a JSON Lines report parses and has a `type` string.
pub fn check_jsonl(buf: &[u8]) {
    for line in buf.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let v: Result<serde_json::Value, _> = serde_json::from_slice(line);
        assert!(
            v.is_ok(),
            "invalid JSON line: {}",
            String::from_utf8_lossy(line)
        );
        if let Ok(v) = v {
            assert!(
                v.get("type").and_then(|t| t.as_str()).is_some(),
                "record without type"
            );
        }
    }
}

/// A minimal pcap writer (Ethernet, IPv4, TCP) for structured targets.
pub struct PcapWriter {
    pub bytes: Vec<u8>,
    frames: u32,
}

impl Default for PcapWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl PcapWriter {
    pub fn new() -> Self {
        let mut bytes = Vec::with_capacity(4096);
        bytes.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        bytes.extend_from_slice(&2u16.to_le_bytes());
        bytes.extend_from_slice(&4u16.to_le_bytes());
        bytes.extend_from_slice(&[0; 8]);
        bytes.extend_from_slice(&65_535u32.to_le_bytes());
        bytes.extend_from_slice(&1u32.to_le_bytes());
        PcapWriter { bytes, frames: 0 }
    }

    /// One Ethernet/IPv4/TCP frame.
    #[allow(clippy::too_many_arguments)]
    pub fn tcp(
        &mut self,
        src: ([u8; 4], u16),
        dst: ([u8; 4], u16),
        seq: u32,
        ack: u32,
        flags: u8,
        payload: &[u8],
    ) {
        let payload = payload.get(..payload.len().min(65_000)).unwrap_or(&[]);
        let ip_len = 20 + 20 + payload.len();
        let mut f = Vec::with_capacity(14 + ip_len);
        f.extend_from_slice(&[0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00]);
        f.extend_from_slice(&[0x45, 0]);
        f.extend_from_slice(&(ip_len as u16).to_be_bytes());
        f.extend_from_slice(&[0, 0, 0x40, 0, 64, 6, 0, 0]);
        f.extend_from_slice(&src.0);
        f.extend_from_slice(&dst.0);
        f.extend_from_slice(&src.1.to_be_bytes());
        f.extend_from_slice(&dst.1.to_be_bytes());
        f.extend_from_slice(&seq.to_be_bytes());
        f.extend_from_slice(&ack.to_be_bytes());
        f.extend_from_slice(&[0x50, flags]);
        f.extend_from_slice(&[0xff, 0xff, 0, 0, 0, 0]);
        f.extend_from_slice(payload);
        self.frames = self.frames.wrapping_add(1);
        let t = self.frames;
        self.bytes
            .extend_from_slice(&(1_700_000_000u32 + t / 1000).to_le_bytes());
        self.bytes
            .extend_from_slice(&((t % 1000) * 1000).to_le_bytes());
        self.bytes
            .extend_from_slice(&(f.len() as u32).to_le_bytes());
        self.bytes
            .extend_from_slice(&(f.len() as u32).to_le_bytes());
        self.bytes.extend_from_slice(&f);
    }
}

/// A valid WebSocket upgrade (permessage-deflate offered when `deflate`)
/// and its 101 response.
pub fn upgrade_pair(deflate: bool, mqtt: bool) -> (Vec<u8>, Vec<u8>) {
    let ext = if deflate {
        "Sec-WebSocket-Extensions: permessage-deflate\r\n"
    } else {
        ""
    };
    let proto = if mqtt {
        "Sec-WebSocket-Protocol: mqtt\r\n"
    } else {
        ""
    };
    let req = format!(
        "GET /mqtt HTTP/1.1\r\nHost: broker.example:8083\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n{proto}{ext}\r\n"
    );
    let resp = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n{proto}{ext}\r\n"
    );
    (req.into_bytes(), resp.into_bytes())
}

/// Whole pipeline over a structured two-direction conversation behind a
/// valid WebSocket upgrade (handshake, then chunks alternating direction,
/// some skipped to make gaps, some reordered, optional FIN/RST): no panic,
/// every record is JSON, the connection is reported.
pub fn pipeline_upgrade(data: &[u8]) {
    let mut inp = Input::new(data);
    let sel = inp.u8();
    let (req, resp) = upgrade_pair(sel & 1 != 0, sel & 2 != 0);
    let c = ([10, 0, 0, 1], 50_000u16);
    let s = ([10, 0, 0, 2], if sel & 4 != 0 { 80 } else { 8083u16 });
    let mut isn = [inp.u32(), inp.u32()];
    let mut w = PcapWriter::new();
    w.tcp(c, s, isn[0], 0, 0x02, &[]);
    w.tcp(s, c, isn[1], isn[0].wrapping_add(1), 0x12, &[]);
    isn[0] = isn[0].wrapping_add(1);
    isn[1] = isn[1].wrapping_add(1);
    w.tcp(c, s, isn[0], isn[1], 0x10, &[]);
    let mut next = isn;
    let send = |w: &mut PcapWriter,
                dir: usize,
                bytes: &[u8],
                skip: bool,
                flags: u8,
                next: &mut [u32; 2]| {
        let (from, to) = if dir == 0 { (c, s) } else { (s, c) };
        let d = dir & 1;
        let o = 1 - d;
        let (seq, ack) = (
            next.get(d).copied().unwrap_or(0),
            next.get(o).copied().unwrap_or(0),
        );
        if !skip {
            w.tcp(from, to, seq, ack, flags, bytes);
        }
        if let Some(n) = next.get_mut(d) {
            *n = n.wrapping_add(bytes.len() as u32);
        }
    };
    send(&mut w, 0, &req, false, 0x18, &mut next);
    send(&mut w, 1, &resp, false, 0x18, &mut next);
    let mut held: Option<(usize, Vec<u8>, u32, u32)> = None;
    let mut ended = false;
    while !inp.is_empty() && !ended {
        let h = inp.u8();
        let dir = usize::from(h & 1);
        let chunk = inp.blob(h & 2 != 0);
        match h >> 5 {
            // skipped: a gap in the capture
            0 => send(&mut w, dir, chunk, true, 0x18, &mut next),
            // held back and sent after the next chunk (out of order)
            1 if held.is_none() => {
                let d = dir & 1;
                let seq = next.get(d).copied().unwrap_or(0);
                let ack = next.get(1 - d).copied().unwrap_or(0);
                held = Some((dir, chunk.to_vec(), seq, ack));
                send(&mut w, dir, chunk, true, 0x18, &mut next);
            }
            // a FIN or RST ends the conversation
            7 => {
                let flags = if h & 0x10 != 0 { 0x14 } else { 0x19 };
                send(&mut w, dir, chunk, false, flags, &mut next);
                ended = h & 0x10 != 0;
            }
            _ => {
                send(&mut w, dir, chunk, false, 0x18, &mut next);
                if let Some((hd, hb, seq, ack)) = held.take() {
                    let (from, to) = if hd == 0 { (c, s) } else { (s, c) };
                    w.tcp(from, to, seq, ack, 0x18, &hb);
                }
            }
        }
    }
    let pcap = w.bytes;
    let mut buf = Vec::new();
    {
        let mut sink = Jsonl::new(&mut buf, "fuzz");
        let o = analyze_bytes(&pcap, &Options::default(), &mut sink);
        assert!(!o.error, "a well-formed pcap was reported as unreadable");
    }
    check_jsonl(&buf);
    let text = String::from_utf8_lossy(&buf);
    assert!(
        text.contains("\"type\":\"connection\""),
        "the connection was not reported"
    );
    let mut report = crate::report::model::CaptureReport::new("fuzz");
    let _ = analyze_bytes(&pcap, &Options::default(), &mut report);
    let _ = crate::report::text::render(&report, false);
    same_from_jsonl(&report, &buf);
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
    use crate::proto::tls::crypto::{
        DecryptError, Direction, RecordDecryptor, MAX_PLAINTEXT, MAX_TLS12_CIPHERTEXT, SUITES,
    };
    use crate::proto::tls::keylog::{KeyLog, KeyLogLimits, Secret};
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
