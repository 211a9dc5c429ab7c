//! Both directions of a TCP connection: sequence tracking and reassembly
//! into chunks (data | gap | end), robust to reordering.
//!
//! Reordering is not loss. A segment ahead of the next expected byte waits
//! in a bounded buffer until the bytes before it arrive. The peer's ACK
//! covering a hole proves the bytes existed, but they may still arrive a
//! packet later (multi-queue NICs, `-i any`, files merged from two capture
//! points): the hole becomes a gap only when its bytes have not come within
//! the reordering window (`reorder_window_packets` further packets of the
//! connection *and* `reorder_window_us` of capture time), when a memory limit
//! is reached, or when the connection ends.
//!
//! The ACK number also orders the two directions: a segment that
//! acknowledges bytes of the other direction not yet delivered was sent
//! after them, so its data waits until they are delivered (or the window
//! passes). A response captured before its request is handed on after it.
//!
//! In-order data is handed on straight from the packet (no copy). Positions
//! are 64-bit offsets from the start of each direction; sequence numbers are
//! compared modulo 2^32 within +-2^31.

use crate::capture::Ts;
use std::collections::BTreeMap;

/// How a direction ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndKind {
    Fin,
    Rst,
    /// The capture ended (or the connection was evicted) with it open.
    Open,
}

/// What the protocol layers receive, per connection and direction.
#[derive(Debug)]
pub enum Chunk<'a> {
    /// Payload bytes in order; `frame` is where they became available in order.
    Data { bytes: &'a [u8], frame: u64, ts: Ts },
    /// `len` bytes that the capture does not hold; `frame` is where the data
    /// after the hole was captured (or where the loss became certain).
    Gap { len: u64, frame: u64, ts: Ts },
    /// No more data in this direction.
    End { kind: EndKind, frame: u64, ts: Ts },
}

/// Limits of one connection's reassembly. All are reported when reached.
#[derive(Clone, Debug)]
pub struct ReasmLimits {
    /// Bytes held out of order per direction before the first hole is skipped.
    pub max_ooo_bytes: usize,
    /// Segments held out of order per direction before the first hole is skipped.
    pub max_ooo_segments: usize,
    /// Bytes of recently delivered data kept to compare retransmissions with.
    pub overlap_check_bytes: usize,
    /// A hole the peer acknowledged (or a segment waiting for the other
    /// direction) is given up after this many further packets of the
    /// connection, once `reorder_window_us` has passed as well.
    pub reorder_window_packets: u64,
    /// Capture time (µs) a hole or a waiting segment is given at least.
    pub reorder_window_us: i64,
    /// An ACK further than this beyond anything the other direction was seen
    /// to send is not trusted (counted as `acked_unseen`, never a gap).
    pub max_ack_ahead: u64,
}

impl Default for ReasmLimits {
    fn default() -> Self {
        ReasmLimits {
            max_ooo_bytes: 1 << 20,
            max_ooo_segments: 2048,
            overlap_check_bytes: 2048,
            reorder_window_packets: 64,
            reorder_window_us: 1_000_000,
            max_ack_ahead: 65_535,
        }
    }
}

/// Where a connection is in the capture: its packet count and capture time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Clock {
    pub packets: u64,
    pub us: i64,
}

impl Clock {
    fn passed(self, since: Clock, lim: &ReasmLimits) -> bool {
        self.packets.saturating_sub(since.packets) >= lim.reorder_window_packets
            && self.us.saturating_sub(since.us) >= lim.reorder_window_us
    }
}

/// One TCP segment as the reassembler needs it.
#[derive(Clone, Copy, Debug)]
pub struct SegIn<'a> {
    pub seq: u32,
    /// The acknowledgement number, when the ACK flag is set.
    pub ack: Option<u32>,
    pub syn: bool,
    pub fin: bool,
    pub rst: bool,
    /// Captured payload (may be shorter than `claimed`).
    pub payload: &'a [u8],
    /// Payload length according to the headers.
    pub claimed: u32,
    pub frame: u64,
    pub ts: Ts,
}

/// What processing one segment revealed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SegNote {
    pub retransmission: bool,
    /// The segment's data came after data further on in the stream.
    pub out_of_order: bool,
    /// Overlapping bytes differ from the bytes seen first.
    pub conflict: bool,
    /// The out-of-order buffer limit forced a gap before unacknowledged data.
    pub limit_hit: bool,
    /// The segment acknowledges bytes of the other direction that the
    /// capture never showed (tshark's "ACKed unseen segment").
    pub acked_unseen: bool,
    /// Payload bytes beyond the direction's end (after its FIN or RST).
    pub after_end: u64,
}

/// What giving up on the front of a direction did.
enum GaveUp {
    Nothing,
    /// A hole became a gap; `unacked`: the peer never vouched for it.
    Hole {
        unacked: bool,
    },
    /// Data stopped waiting for the other direction to reach `need`.
    Wait {
        need: u64,
        frame: u64,
        ts: Ts,
    },
}

struct Held {
    data: Vec<u8>,
    /// Bytes the headers claimed beyond `data` (snaplen cut): a gap after it.
    missing: u32,
    frame: u64,
    ts: Ts,
    at: Clock,
    /// Offset of the other direction this data waits for (its ACK); 0: none.
    need: u64,
}

/// One direction.
#[derive(Default)]
struct Half {
    init: bool,
    /// First sequence number seen (ISN for a SYN); Wireshark's base_seq.
    base_seq: u32,
    /// Next expected sequence number.
    next: u32,
    /// Offset of `next` from the start of the direction.
    off: u64,
    /// Highest offset any segment of this direction reached.
    high: u64,
    /// Highest offset the peer acknowledged (plausible ACKs only).
    acked: u64,
    /// The peer acknowledged this direction at least once.
    acks_seen: bool,
    /// When the peer first acknowledged beyond the hole at `off`.
    hole_since: Option<Clock>,
    /// Where the direction ends (FIN or RST position).
    end_at: Option<(u64, EndKind)>,
    ended: bool,
    held: BTreeMap<u64, Held>,
    held_bytes: usize,
    tail: Vec<u8>,
    /// The protocol layers want no more data: sequence state only (ends,
    /// retransmissions), nothing held or copied.
    discard: bool,
}

type Emit<'e> = dyn FnMut(usize, Chunk<'_>) + 'e;

impl Half {
    fn init_with(&mut self, seq: u32, syn: bool) {
        if !self.init {
            self.init = true;
            self.base_seq = seq;
            self.next = if syn { seq.wrapping_add(1) } else { seq };
        }
    }

    /// Offset of sequence number `seq` in this direction.
    fn offset_of(&self, seq: u32) -> i64 {
        (self.off as i64).saturating_add(i64::from(seq.wrapping_sub(self.next) as i32))
    }

    /// The peer acknowledged `ack`. Returns true when that covers bytes the
    /// capture never showed.
    fn on_ack(&mut self, ack: u32, clk: Clock, lim: &ReasmLimits) -> bool {
        let a = self.offset_of(ack);
        if a <= self.off as i64 {
            self.acks_seen = true;
            return false;
        }
        let a = a as u64;
        // One beyond everything seen: most likely the ACK of a FIN the
        // capture missed, not data.
        let unseen = a > self.high.saturating_add(1);
        if a.saturating_sub(self.high) > lim.max_ack_ahead {
            return true;
        }
        self.acks_seen = true;
        if a > self.acked {
            self.acked = a;
        }
        if self.hole_since.is_none() {
            self.hole_since = Some(clk);
        }
        unseen
    }

    fn deliver(
        &mut self,
        d: usize,
        data: &[u8],
        frame: u64,
        ts: Ts,
        lim: &ReasmLimits,
        emit: &mut Emit<'_>,
    ) {
        if data.is_empty() {
            return;
        }
        self.advance(data.len() as u64);
        let keep = lim.overlap_check_bytes;
        if keep > 0 && !self.discard {
            // The tail never holds more than `keep` bytes: room for all of
            // it at once, not a doubling per segment of a new connection.
            if self.tail.capacity() < keep {
                self.tail.reserve_exact(keep - self.tail.len());
            }
            if data.len() >= keep {
                self.tail.clear();
                self.tail
                    .extend_from_slice(data.get(data.len() - keep..).unwrap_or(&[]));
            } else {
                let total = self.tail.len() + data.len();
                if total > keep {
                    self.tail.drain(..total - keep);
                }
                self.tail.extend_from_slice(data);
            }
        }
        emit(
            d,
            Chunk::Data {
                bytes: data,
                frame,
                ts,
            },
        );
    }

    fn gap(&mut self, d: usize, len: u64, frame: u64, ts: Ts, emit: &mut Emit<'_>) {
        if len == 0 {
            return;
        }
        self.advance(len);
        self.tail.clear();
        // Holes of a discarded connection are nobody's concern.
        if !self.discard {
            emit(d, Chunk::Gap { len, frame, ts });
        }
    }

    fn advance(&mut self, n: u64) {
        self.off = self.off.saturating_add(n);
        self.next = self.next.wrapping_add(n as u32);
        self.high = self.high.max(self.off);
        if self.acked <= self.off {
            self.hole_since = None;
        }
    }

    /// Compare bytes at stream offset `start` with what was delivered.
    fn check_overlap(&self, start: i64, payload: &[u8]) -> bool {
        let tail_start = self.off as i64 - self.tail.len() as i64;
        let lo = start.max(tail_start);
        let hi = start
            .saturating_add(payload.len() as i64)
            .min(self.off as i64);
        if lo >= hi {
            return false;
        }
        let a = payload.get((lo - start) as usize..(hi - start) as usize);
        let b = self
            .tail
            .get((lo - tail_start) as usize..(hi - tail_start) as usize);
        a != b
    }

    /// Keep `data` (starting at `start`) until it can be delivered.
    fn hold(&mut self, start: u64, data: &[u8], missing: u32, h: Held, note: &mut SegNote) {
        if let Some(old) = self.held.get(&start) {
            let n = old.data.len().min(data.len());
            if old.data.get(..n) != data.get(..n) {
                note.conflict = true;
            }
            if old.data.len() >= data.len() && old.missing >= missing {
                note.retransmission = true;
                note.out_of_order = false;
                return;
            }
            self.held_bytes -= old.data.len();
        }
        self.held_bytes += data.len();
        self.held.insert(
            start,
            Held {
                data: data.to_vec(),
                missing,
                ..h
            },
        );
    }

    /// Deliver held data that is now in order and not waiting for the other
    /// direction (at `peer_off`). `arrival`: the segment whose arrival made
    /// it deliverable (its frame is where the data became complete).
    #[allow(clippy::too_many_arguments)]
    fn drain(
        &mut self,
        d: usize,
        peer_off: u64,
        arrival: Option<(u64, Ts)>,
        clk: Clock,
        lim: &ReasmLimits,
        emit: &mut Emit<'_>,
    ) -> bool {
        let mut progress = false;
        while let Some(entry) = self.held.first_entry() {
            let start = *entry.key();
            if start > self.off {
                break;
            }
            let e = entry.get();
            if e.need > peer_off && !clk.passed(e.at, lim) {
                break;
            }
            let held = entry.remove();
            self.held_bytes -= held.data.len();
            let end = start + held.data.len() as u64 + u64::from(held.missing);
            if end <= self.off {
                continue;
            }
            let (frame, ts) = match arrival {
                Some((f, t)) if f > held.frame => (f, t),
                _ => (held.frame, held.ts),
            };
            let skip = (self.off - start) as usize;
            if skip < held.data.len() {
                self.deliver(
                    d,
                    held.data.get(skip..).unwrap_or(&[]),
                    frame,
                    ts,
                    lim,
                    emit,
                );
                if held.missing > 0 {
                    self.gap(d, u64::from(held.missing), frame, ts, emit);
                }
            } else {
                self.gap(d, end - self.off, frame, ts, emit);
            }
            progress = true;
        }
        progress
    }

    /// Give up on what blocks the front of the held data: skip the hole
    /// before it (a gap) or stop it waiting for the other direction.
    fn give_up_front(&mut self, d: usize, emit: &mut Emit<'_>) -> GaveUp {
        let off = self.off;
        let vouched = self.acked > off || !self.acks_seen;
        let Some(mut entry) = self.held.first_entry() else {
            return GaveUp::Nothing;
        };
        let start = *entry.key();
        let (frame, ts) = (entry.get().frame, entry.get().ts);
        if start > off {
            self.gap(d, start - off, frame, ts, emit);
            GaveUp::Hole { unacked: !vouched }
        } else {
            let need = std::mem::take(&mut entry.get_mut().need);
            GaveUp::Wait { need, frame, ts }
        }
    }

    /// The other direction acknowledged up to `need` and those bytes did not
    /// come: gaps over the holes before `need` (held data stays).
    fn skip_holes_to(
        &mut self,
        d: usize,
        need: u64,
        frame: u64,
        ts: Ts,
        emit: &mut Emit<'_>,
    ) -> bool {
        // The last sequence number acknowledged beyond everything seen may
        // be an uncaptured FIN: not a byte missing.
        let need = if self.held.is_empty() && need == self.high.saturating_add(1) {
            self.high
        } else {
            need
        };
        if self.ended || self.off >= need {
            return false;
        }
        let to = match self.held.keys().next() {
            Some(&k) if k <= self.off => return false,
            Some(&k) => k.min(need),
            None => need,
        };
        self.gap(d, to - self.off, frame, ts, emit);
        true
    }

    /// Is the front of the held data blocked beyond its window?
    fn front_expired(&self, clk: Clock, lim: &ReasmLimits, closing: bool) -> bool {
        let Some((&start, e)) = self.held.iter().next() else {
            return false;
        };
        let passed = |since: Clock| {
            if closing {
                clk.us.saturating_sub(since.us) >= lim.reorder_window_us
            } else {
                clk.passed(since, lim)
            }
        };
        if start > self.off {
            // A hole: the peer vouched for it (or never acknowledges anything,
            // as in a one-sided capture); else the sender will retransmit it.
            if self.acked > self.off {
                self.hole_since.is_some_and(passed)
            } else {
                !self.acks_seen && passed(e.at)
            }
        } else {
            passed(e.at)
        }
    }

    fn over_limit(&self, lim: &ReasmLimits) -> bool {
        self.held_bytes > lim.max_ooo_bytes || self.held.len() > lim.max_ooo_segments
    }

    fn under_half(&self, lim: &ReasmLimits) -> bool {
        self.held_bytes <= lim.max_ooo_bytes / 2 && self.held.len() <= lim.max_ooo_segments / 2
    }

    /// End the direction once its data reached the FIN/RST position.
    fn check_end(&mut self, d: usize, frame: u64, ts: Ts, emit: &mut Emit<'_>) {
        if let Some((pos, kind)) = self.end_at {
            if !self.ended && self.off >= pos {
                self.ended = true;
                self.held.clear();
                self.held_bytes = 0;
                emit(d, Chunk::End { kind, frame, ts });
            }
        }
    }
}

/// Reassembly of both directions of one connection.
#[derive(Default)]
pub struct Reassembly {
    h: [Half; 2],
}

impl Reassembly {
    /// First sequence number seen in direction `d` (0 client, 1 server).
    pub fn base_seq(&self, d: usize) -> Option<u32> {
        self.h.get(d).filter(|h| h.init).map(|h| h.base_seq)
    }

    pub fn ended(&self, d: usize) -> bool {
        self.h.get(d).is_some_and(|h| h.ended)
    }

    pub fn both_ended(&self) -> bool {
        self.h[0].ended && self.h[1].ended
    }

    /// Both directions have a known end (FIN or RST) but data is missing.
    pub fn closing(&self) -> bool {
        !self.both_ended() && self.h.iter().all(|h| h.ended || h.end_at.is_some())
    }

    /// Bytes held out of order, both directions (for memory accounting).
    pub fn held_bytes(&self) -> usize {
        self.h[0].held_bytes + self.h[1].held_bytes
    }

    /// Something waits for a hole or for the other direction.
    pub fn pending(&self) -> bool {
        !self.h[0].held.is_empty() || !self.h[1].held.is_empty()
    }

    /// Swap the directions (client and server roles were the other way round).
    pub fn swap(&mut self) {
        self.h.swap(0, 1);
    }

    fn pair(&mut self, d: usize) -> (&mut Half, &mut Half) {
        let [a, b] = &mut self.h;
        if d == 0 {
            (a, b)
        } else {
            (b, a)
        }
    }

    /// Feed one segment of direction `d`. `emit` receives the chunks that
    /// became available, with their direction.
    pub fn segment(
        &mut self,
        d: usize,
        s: &SegIn<'_>,
        clk: Clock,
        lim: &ReasmLimits,
        emit: &mut Emit<'_>,
    ) -> SegNote {
        let d = d & 1;
        let mut note = SegNote::default();
        let (me, peer) = self.pair(d);
        if s.syn {
            if let Some(a) = s.ack {
                // As Wireshark: a SYN-ACK fixes the peer's initial sequence number.
                if !peer.init {
                    peer.init = true;
                    peer.base_seq = a.wrapping_sub(1);
                    peer.next = a;
                }
            }
        }
        me.init_with(s.seq, s.syn);
        let mut need = 0u64;
        if let (Some(a), false, true) = (s.ack, s.rst, peer.init) {
            note.acked_unseen = peer.on_ack(a, clk, lim);
            let pa = peer.offset_of(a);
            if pa > peer.off as i64 && (pa as u64).saturating_sub(peer.high) <= lim.max_ack_ahead {
                // One past the highest byte seen may be the ACK of a FIN or of
                // one byte not seen yet: waited for (a FIN never captured
                // costs no gap when the wait is given up, see skip_holes_to).
                let mut n = pa as u64;
                if let Some((p, _)) = peer.end_at {
                    n = n.min(p);
                }
                if n > peer.off {
                    need = n;
                }
            }
        }
        let seq = if s.syn { s.seq.wrapping_add(1) } else { s.seq };
        let claimed = s.claimed.max(s.payload.len() as u32);
        let start = me.offset_of(seq);
        let end = start.saturating_add(i64::from(claimed));
        if me.ended {
            if s.rst {
                // What the other direction sent so far is all it will send.
                if peer.end_at.is_none() {
                    peer.end_at = Some((peer.high.max(peer.off), EndKind::Rst));
                }
                self.check_ends(s.frame, s.ts, emit);
            } else if claimed > 0 && end > me.off as i64 {
                note.after_end = (end - start.max(me.off as i64)) as u64;
            }
            return note;
        }
        if s.fin && me.end_at.is_none() {
            me.end_at = Some((end.max(me.off as i64) as u64, EndKind::Fin));
        }
        if s.rst {
            // Data before the RST may still arrive; what the other direction
            // sent so far is all it will send.
            let pos = if start >= me.off as i64
                && (start as u64) <= me.high.saturating_add(lim.max_ack_ahead)
            {
                start as u64
            } else {
                me.high.max(me.off)
            };
            match me.end_at {
                Some((p, _)) if p <= pos => {}
                _ => me.end_at = Some((pos, EndKind::Rst)),
            }
            if peer.end_at.is_none() {
                peer.end_at = Some((peer.high.max(peer.off), EndKind::Rst));
            }
        } else if claimed > 0 {
            let fresh_end = match me.end_at {
                Some((p, _)) if end > p as i64 => {
                    note.after_end = (end - (p as i64).max(start)) as u64;
                    p as i64
                }
                _ => end,
            };
            let off = me.off as i64;
            if seq.wrapping_sub(me.next) as i32 == -1 && claimed <= 1 {
                // TCP keep-alive probe: one old byte (or none); not data.
            } else if start >= fresh_end {
                // Entirely beyond the end: counted in `after_end`.
            } else if fresh_end <= off {
                note.retransmission = true;
                note.conflict = me.check_overlap(start, s.payload);
            } else {
                if start < off {
                    note.retransmission = true;
                    note.conflict = me.check_overlap(start, s.payload);
                }
                let from = start.max(off);
                let skip = (from - start) as usize;
                let cut = (fresh_end - start) as usize;
                let data = s.payload.get(skip..cut.min(s.payload.len())).unwrap_or(&[]);
                let missing = (fresh_end - from) as u64 - data.len() as u64;
                if start >= off && (start as u64) < me.high {
                    note.out_of_order = true;
                }
                me.high = me.high.max(fresh_end as u64);
                let front_free = me.held.keys().next().is_none_or(|&k| k > me.off);
                if me.discard {
                    // Nothing is waited for: a hole is passed over unreported.
                    if from > off {
                        me.advance((from - off) as u64);
                    }
                    me.deliver(d, data, s.frame, s.ts, lim, emit);
                    if missing > 0 {
                        me.advance(missing);
                    }
                } else if from == off && need == 0 && front_free {
                    me.deliver(d, data, s.frame, s.ts, lim, emit);
                    if missing > 0 {
                        me.gap(d, missing, s.frame, s.ts, emit);
                    }
                } else {
                    me.hold(
                        from as u64,
                        data,
                        missing as u32,
                        Held {
                            data: Vec::new(),
                            missing: 0,
                            frame: s.frame,
                            ts: s.ts,
                            at: clk,
                            need,
                        },
                        &mut note,
                    );
                }
            }
        }
        if s.fin {
            me.high = me.high.max(end.max(0) as u64);
        }
        self.pump(d, Some((s.frame, s.ts)), clk, lim, emit);
        // Memory: give up on the front of this direction until it is down to half.
        if self.h[d].over_limit(lim) {
            while !self.h[d].under_half(lim) {
                match self.give_up(d, clk, lim, emit) {
                    GaveUp::Nothing => break,
                    GaveUp::Hole { unacked } => note.limit_hit |= unacked,
                    GaveUp::Wait { .. } => {}
                }
            }
        }
        self.check_ends(s.frame, s.ts, emit);
        note
    }

    /// Deliver what became deliverable in either direction (nothing when
    /// nothing is held: the case of almost every in-order segment).
    #[inline]
    fn pump(
        &mut self,
        d: usize,
        arrival: Option<(u64, Ts)>,
        clk: Clock,
        lim: &ReasmLimits,
        emit: &mut Emit<'_>,
    ) {
        if self.h[0].held.is_empty() && self.h[1].held.is_empty() {
            return;
        }
        self.pump_held(d, arrival, clk, lim, emit);
    }

    fn pump_held(
        &mut self,
        d: usize,
        arrival: Option<(u64, Ts)>,
        clk: Clock,
        lim: &ReasmLimits,
        emit: &mut Emit<'_>,
    ) {
        let mut arrival = arrival;
        loop {
            let (me, peer) = self.pair(d);
            let a = me.drain(d, peer.off, arrival, clk, lim, emit);
            let (me, peer) = self.pair(d);
            let b = peer.drain(d ^ 1, me.off, None, clk, lim, emit);
            arrival = None;
            if !a && !b {
                break;
            }
        }
    }

    /// Give up on the front of direction `d` and deliver what follows; data
    /// that waited for the other direction in vain turns the bytes it
    /// acknowledged there into gaps.
    fn give_up(&mut self, d: usize, clk: Clock, lim: &ReasmLimits, emit: &mut Emit<'_>) -> GaveUp {
        let r = self.h[d].give_up_front(d, emit);
        if let GaveUp::Wait { need, frame, ts } = r {
            let mut guard = 0usize;
            while guard <= lim.max_ooo_segments
                && self.h[d ^ 1].skip_holes_to(d ^ 1, need, frame, ts, emit)
            {
                guard += 1;
                self.pump(d ^ 1, None, clk, lim, emit);
            }
        }
        self.pump(d, None, clk, lim, emit);
        r
    }

    #[inline]
    fn check_ends(&mut self, frame: u64, ts: Ts, emit: &mut Emit<'_>) {
        for (d, h) in self.h.iter_mut().enumerate() {
            if h.end_at.is_some() {
                h.check_end(d, frame, ts, emit);
            }
        }
    }

    /// A packet of the connection was seen (or, with `closing`, time passed
    /// on a connection whose both ends are known): give up holes and waits
    /// whose reordering window has passed.
    pub fn tick(
        &mut self,
        clk: Clock,
        closing: bool,
        frame: u64,
        ts: Ts,
        lim: &ReasmLimits,
        emit: &mut Emit<'_>,
    ) {
        for d in 0..2 {
            let mut guard = 0usize;
            while self.h[d].front_expired(clk, lim, closing) && guard <= lim.max_ooo_segments {
                guard += 1;
                if let GaveUp::Nothing = self.give_up(d, clk, lim, emit) {
                    break;
                }
            }
        }
        self.check_ends(frame, ts, emit);
    }

    /// Give up on every hole and wait (memory relief).
    pub fn relieve(
        &mut self,
        clk: Clock,
        frame: u64,
        ts: Ts,
        lim: &ReasmLimits,
        emit: &mut Emit<'_>,
    ) {
        for d in 0..2 {
            while !matches!(self.give_up(d, clk, lim, emit), GaveUp::Nothing) {}
        }
        self.check_ends(frame, ts, emit);
    }

    /// The connection is over (capture end, eviction, or a closed
    /// connection's window): flush what is held (holes become gaps), report
    /// bytes the peer acknowledged that never appeared, and end both
    /// directions with `kind` where no FIN/RST ended them.
    pub fn finish(
        &mut self,
        kind: EndKind,
        frame: u64,
        ts: Ts,
        lim: &ReasmLimits,
        emit: &mut Emit<'_>,
    ) {
        let clk = Clock {
            packets: u64::MAX,
            us: i64::MAX,
        };
        for d in 0..2 {
            while !self.h[d].ended && !matches!(self.give_up(d, clk, lim, emit), GaveUp::Nothing) {}
        }
        for (d, h) in self.h.iter_mut().enumerate() {
            if h.ended {
                continue;
            }
            if !h.init {
                h.ended = true;
                emit(d, Chunk::End { kind, frame, ts });
                continue;
            }
            match h.end_at {
                Some((pos, _)) => {
                    if pos > h.off {
                        h.gap(d, pos - h.off, frame, ts, emit);
                    }
                }
                None => {
                    // Acknowledged but never captured (the last sequence
                    // number may be an uncaptured FIN: not counted).
                    let trailing = h.acked.saturating_sub(1).saturating_sub(h.off);
                    if trailing > 0 {
                        h.gap(d, trailing, frame, ts, emit);
                    }
                }
            }
            let k = h.end_at.map_or(kind, |(_, k)| k);
            h.ended = true;
            h.held.clear();
            h.held_bytes = 0;
            emit(d, Chunk::End { kind: k, frame, ts });
        }
    }

    /// The protocol layers want no more data: drop what is held (its holes
    /// are not reported) and from now on follow sequence numbers only.
    pub fn discard(&mut self) {
        for h in &mut self.h {
            h.discard = true;
            if let Some((&last, held)) = h.held.iter().next_back() {
                let end = last + held.data.len() as u64 + u64::from(held.missing);
                if end > h.off {
                    h.advance(end - h.off);
                }
            }
        }
        self.shrink();
    }

    /// Whether [`Reassembly::discard`] was called.
    pub fn discarding(&self) -> bool {
        self.h[0].discard
    }

    /// Free the buffers of ended directions (the sequence state stays).
    pub fn shrink(&mut self) {
        for h in &mut self.h {
            h.tail = Vec::new();
            h.held = BTreeMap::new();
            h.held_bytes = 0;
        }
    }
}

#[cfg(test)]
mod tests;
