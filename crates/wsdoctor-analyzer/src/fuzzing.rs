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
use crate::proto::fuzzing::within;
pub use crate::proto::fuzzing::Input;
use crate::report::jsonl::Jsonl;
use crate::wire::{self, Decoded};
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr};

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
