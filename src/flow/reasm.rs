//! One direction of a TCP connection: sequence tracking and reassembly into
//! chunks (data | gap | end).
//!
//! In-order data is handed on straight from the packet (no copy). Segments
//! ahead of the expected sequence number wait in a bounded buffer; when the
//! capture moves past a hole (the peer acknowledges beyond it, the buffer
//! limit is hit, or the connection ends), the hole becomes an explicit gap.
//! Positions are 64-bit offsets from the start of the direction, so sequence
//! wraparound at 2^32 is handled by taking differences modulo 2^32.

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
    /// `len` bytes that the capture does not hold.
    Gap { len: u64, frame: u64, ts: Ts },
    /// No more data in this direction.
    End { kind: EndKind, frame: u64, ts: Ts },
}

/// Limits of one direction's reassembly. All are reported when reached.
#[derive(Clone, Debug)]
pub struct ReasmLimits {
    /// Bytes held out of order per direction before the hole is skipped.
    pub max_ooo_bytes: usize,
    /// Segments held out of order per direction before the hole is skipped.
    pub max_ooo_segments: usize,
    /// Bytes of recently delivered data kept to compare retransmissions with.
    pub overlap_check_bytes: usize,
}

impl Default for ReasmLimits {
    fn default() -> Self {
        ReasmLimits {
            max_ooo_bytes: 1 << 20,
            max_ooo_segments: 2048,
            overlap_check_bytes: 2048,
        }
    }
}

/// What processing one segment revealed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SegNote {
    pub retransmission: bool,
    pub out_of_order: bool,
    /// Overlapping bytes differ from the bytes seen first.
    pub conflict: bool,
    /// The out-of-order buffer limit forced a gap.
    pub limit_hit: bool,
}

struct Held {
    data: Vec<u8>,
    /// Bytes the headers claimed beyond `data` (snaplen cut): a gap after it.
    missing: u32,
}

/// Reassembly state of one direction.
#[derive(Default)]
pub struct Reassembler {
    init: bool,
    /// First sequence number seen (ISN for a SYN); Wireshark's base_seq.
    base_seq: u32,
    /// Next expected sequence number.
    next: u32,
    /// Offset of `next` from the start of the direction.
    off: u64,
    fin_at: Option<u64>,
    ended: bool,
    held: BTreeMap<u64, Held>,
    held_bytes: usize,
    tail: Vec<u8>,
}

type Emit<'e> = dyn FnMut(Chunk<'_>) + 'e;

impl Reassembler {
    pub fn base_seq(&self) -> Option<u32> {
        self.init.then_some(self.base_seq)
    }

    /// The peer's SYN-ACK acknowledges `ack`: our ISN was `ack - 1`.
    pub fn init_from_synack(&mut self, ack: u32) {
        if !self.init {
            self.init = true;
            self.base_seq = ack.wrapping_sub(1);
            self.next = ack;
        }
    }

    pub fn ended(&self) -> bool {
        self.ended
    }

    /// Bytes held out of order (for memory accounting).
    pub fn held_bytes(&self) -> usize {
        self.held_bytes
    }

    /// Feed one segment. `emit` receives the chunks that became available.
    #[allow(clippy::too_many_arguments)]
    pub fn segment(
        &mut self,
        seq: u32,
        syn: bool,
        fin: bool,
        payload: &[u8],
        claimed: u32,
        frame: u64,
        ts: Ts,
        lim: &ReasmLimits,
        emit: &mut Emit<'_>,
    ) -> SegNote {
        let mut note = SegNote::default();
        let mut seq = seq;
        if syn {
            if !self.init {
                self.init = true;
                self.base_seq = seq;
                self.next = seq.wrapping_add(1);
            }
            seq = seq.wrapping_add(1);
        } else if !self.init {
            self.init = true;
            self.base_seq = seq;
            self.next = seq;
        }
        if self.ended {
            return note;
        }
        let claimed = claimed.max(payload.len() as u32);
        let rel = seq.wrapping_sub(self.next) as i32 as i64;
        let start = self.off as i64 + rel;
        let end = start + claimed as i64;
        if fin {
            let f = end.max(0) as u64;
            if self.fin_at.is_none() {
                self.fin_at = Some(f);
            }
        }
        if claimed > 0 {
            if rel == -1 && claimed <= 1 {
                // TCP keep-alive probe: one old byte (or none); not data.
            } else if end <= self.off as i64 {
                note.retransmission = true;
                note.conflict = self.check_overlap(start, payload);
            } else if start <= self.off as i64 {
                if start < self.off as i64 {
                    note.retransmission = true;
                    note.conflict = self.check_overlap(start, payload);
                }
                let skip = (self.off as i64 - start) as usize;
                let missing = claimed as usize - payload.len();
                let fresh = payload.get(skip..).unwrap_or(&[]);
                let gap_len = if skip > payload.len() {
                    (claimed as usize - skip) as u64
                } else {
                    missing as u64
                };
                self.deliver(fresh, frame, ts, lim, emit);
                if gap_len > 0 {
                    self.gap(gap_len, frame, ts, emit);
                }
                self.drain(frame, ts, lim, emit);
            } else {
                note.out_of_order = true;
                self.hold(start as u64, payload, claimed, &mut note);
                if self.held_bytes > lim.max_ooo_bytes || self.held.len() > lim.max_ooo_segments {
                    note.limit_hit = true;
                    while self.held_bytes > lim.max_ooo_bytes / 2
                        || self.held.len() > lim.max_ooo_segments / 2
                    {
                        if !self.skip_hole(frame, ts, lim, emit) {
                            break;
                        }
                    }
                }
            }
        }
        self.check_fin(frame, ts, emit);
        note
    }

    /// The peer acknowledged `ack`: data before it was received, so a hole
    /// before it will never be filled in this capture.
    pub fn peer_ack(
        &mut self,
        ack: u32,
        frame: u64,
        ts: Ts,
        lim: &ReasmLimits,
        emit: &mut Emit<'_>,
    ) {
        if !self.init || self.ended {
            return;
        }
        let rel = ack.wrapping_sub(self.next) as i32 as i64;
        if rel <= 0 || rel > (1 << 30) {
            return;
        }
        let mut target = self.off + rel as u64;
        if let Some(f) = self.fin_at {
            // The FIN takes a sequence number but is not data.
            target = target.min(f);
        } else if rel == 1 && self.held.is_empty() {
            // Most likely the ACK of a FIN the capture missed.
            return;
        }
        while self.off < target {
            let hole_end = self
                .held
                .keys()
                .next()
                .copied()
                .unwrap_or(target)
                .min(target);
            if hole_end > self.off {
                self.gap(hole_end - self.off, frame, ts, emit);
            }
            self.drain(frame, ts, lim, emit);
            if self.held.is_empty() && self.off >= target {
                break;
            }
            if self.held.is_empty() {
                continue;
            }
            if self.held.keys().next().is_some_and(|&k| k >= target) {
                break;
            }
        }
        self.check_fin(frame, ts, emit);
    }

    /// The connection ended (RST, capture end, eviction): flush what is held
    /// (holes become gaps) and end the direction.
    pub fn finish(
        &mut self,
        kind: EndKind,
        frame: u64,
        ts: Ts,
        lim: &ReasmLimits,
        emit: &mut Emit<'_>,
    ) {
        if self.ended || !self.init {
            if !self.ended {
                self.ended = true;
                emit(Chunk::End { kind, frame, ts });
            }
            return;
        }
        while self.skip_hole(frame, ts, lim, emit) {}
        if let Some(f) = self.fin_at {
            if f > self.off {
                self.gap(f - self.off, frame, ts, emit);
            }
            self.ended = true;
            emit(Chunk::End {
                kind: EndKind::Fin,
                frame,
                ts,
            });
            return;
        }
        self.ended = true;
        emit(Chunk::End { kind, frame, ts });
    }

    /// Free the buffers of an ended direction (the sequence state stays).
    pub fn shrink(&mut self) {
        self.tail = Vec::new();
        self.held = BTreeMap::new();
        self.held_bytes = 0;
    }

    /// Give up on every hole: held data is delivered with gaps before it.
    pub fn skip_held(&mut self, frame: u64, ts: Ts, lim: &ReasmLimits, emit: &mut Emit<'_>) {
        while self.skip_hole(frame, ts, lim, emit) {}
        self.check_fin(frame, ts, emit);
    }

    fn check_fin(&mut self, frame: u64, ts: Ts, emit: &mut Emit<'_>) {
        if let Some(f) = self.fin_at {
            if !self.ended && self.off >= f {
                self.ended = true;
                self.held.clear();
                self.held_bytes = 0;
                emit(Chunk::End {
                    kind: EndKind::Fin,
                    frame,
                    ts,
                });
            }
        }
    }

    fn deliver(&mut self, data: &[u8], frame: u64, ts: Ts, lim: &ReasmLimits, emit: &mut Emit<'_>) {
        if data.is_empty() {
            return;
        }
        self.off += data.len() as u64;
        self.next = self.next.wrapping_add(data.len() as u32);
        let keep = lim.overlap_check_bytes;
        if keep > 0 {
            if data.len() >= keep {
                self.tail.clear();
                self.tail.extend_from_slice(&data[data.len() - keep..]);
            } else {
                let total = self.tail.len() + data.len();
                if total > keep {
                    self.tail.drain(..total - keep);
                }
                self.tail.extend_from_slice(data);
            }
        }
        emit(Chunk::Data {
            bytes: data,
            frame,
            ts,
        });
    }

    fn gap(&mut self, len: u64, frame: u64, ts: Ts, emit: &mut Emit<'_>) {
        self.off += len;
        self.next = self.next.wrapping_add(len as u32);
        self.tail.clear();
        emit(Chunk::Gap { len, frame, ts });
    }

    /// Compare bytes at stream offset `start` with what was delivered.
    fn check_overlap(&self, start: i64, payload: &[u8]) -> bool {
        let tail_start = self.off as i64 - self.tail.len() as i64;
        let lo = start.max(tail_start);
        let hi = (start + payload.len() as i64).min(self.off as i64);
        if lo >= hi {
            return false;
        }
        let a = &payload[(lo - start) as usize..(hi - start) as usize];
        let b = &self.tail[(lo - tail_start) as usize..(hi - tail_start) as usize];
        a != b
    }

    fn hold(&mut self, start: u64, payload: &[u8], claimed: u32, note: &mut SegNote) {
        let missing = claimed - payload.len() as u32;
        if let Some(old) = self.held.get(&start) {
            let n = old.data.len().min(payload.len());
            if old.data[..n] != payload[..n] {
                note.conflict = true;
            }
            if old.data.len() >= payload.len() {
                note.retransmission = true;
                note.out_of_order = false;
                return;
            }
            self.held_bytes -= old.data.len();
        }
        self.held_bytes += payload.len();
        self.held.insert(
            start,
            Held {
                data: payload.to_vec(),
                missing,
            },
        );
    }

    /// Deliver held segments that are now in order.
    fn drain(&mut self, frame: u64, ts: Ts, lim: &ReasmLimits, emit: &mut Emit<'_>) {
        while let Some(entry) = self.held.first_entry() {
            let start = *entry.key();
            if start > self.off {
                break;
            }
            let held = entry.remove();
            self.held_bytes -= held.data.len();
            let end = start + held.data.len() as u64 + held.missing as u64;
            if end <= self.off {
                continue;
            }
            let skip = (self.off - start) as usize;
            if skip < held.data.len() {
                self.deliver(&held.data[skip..], frame, ts, lim, emit);
                if held.missing > 0 {
                    self.gap(held.missing as u64, frame, ts, emit);
                }
            } else {
                self.gap(end - self.off, frame, ts, emit);
            }
        }
    }

    /// Skip the hole before the first held segment. False if nothing is held.
    fn skip_hole(&mut self, frame: u64, ts: Ts, lim: &ReasmLimits, emit: &mut Emit<'_>) -> bool {
        let Some(&first) = self.held.keys().next() else {
            return false;
        };
        if first > self.off {
            self.gap(first - self.off, frame, ts, emit);
        }
        self.drain(frame, ts, lim, emit);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Clone)]
    enum C {
        D(Vec<u8>),
        G(u64),
        E(EndKind),
    }

    fn run(r: &mut Reassembler, segs: &[(u32, &[u8])], out: &mut Vec<C>) -> Vec<SegNote> {
        let lim = ReasmLimits::default();
        segs.iter()
            .map(|(seq, p)| {
                r.segment(
                    *seq,
                    false,
                    false,
                    p,
                    p.len() as u32,
                    1,
                    Ts::default(),
                    &lim,
                    &mut |c| {
                        out.push(match c {
                            Chunk::Data { bytes, .. } => C::D(bytes.to_vec()),
                            Chunk::Gap { len, .. } => C::G(len),
                            Chunk::End { kind, .. } => C::E(kind),
                        })
                    },
                )
            })
            .collect()
    }

    fn bytes_of(out: &[C]) -> Vec<u8> {
        out.iter()
            .flat_map(|c| match c {
                C::D(d) => d.clone(),
                _ => vec![],
            })
            .collect()
    }

    fn syn(r: &mut Reassembler, isn: u32) {
        let lim = ReasmLimits::default();
        r.segment(
            isn,
            true,
            false,
            &[],
            0,
            1,
            Ts::default(),
            &lim,
            &mut |_| {},
        );
    }

    const MSG: &[u8] = b"The quick brown fox jumps over the lazy dog, 0123456789";

    #[test]
    fn every_split_point_every_order() {
        for isn in [0u32, 1000, u32::MAX - 20, u32::MAX] {
            for a in 1..MSG.len() {
                for b in a..MSG.len() {
                    let parts = [(0, a), (a, b), (b, MSG.len())];
                    let perms: [[usize; 3]; 6] = [
                        [0, 1, 2],
                        [0, 2, 1],
                        [1, 0, 2],
                        [1, 2, 0],
                        [2, 0, 1],
                        [2, 1, 0],
                    ];
                    for p in perms {
                        let mut r = Reassembler::default();
                        syn(&mut r, isn);
                        let segs: Vec<(u32, &[u8])> = p
                            .iter()
                            .map(|&i| {
                                let (s, e) = parts[i];
                                (isn.wrapping_add(1).wrapping_add(s as u32), &MSG[s..e])
                            })
                            .collect();
                        let mut out = vec![];
                        run(&mut r, &segs, &mut out);
                        assert_eq!(bytes_of(&out), MSG, "isn {isn} split {a},{b} order {p:?}");
                        assert!(!out.iter().any(|c| matches!(c, C::G(_))));
                    }
                }
            }
        }
    }

    #[test]
    fn duplicates_and_overlaps() {
        let mut r = Reassembler::default();
        syn(&mut r, 99);
        let mut out = vec![];
        let notes = run(
            &mut r,
            &[
                (100, &MSG[..10]),
                (100, &MSG[..10]),
                (105, &MSG[5..20]),
                (120, &MSG[20..]),
            ],
            &mut out,
        );
        assert_eq!(bytes_of(&out), MSG);
        assert!(notes[1].retransmission && !notes[1].conflict);
        assert!(notes[2].retransmission && !notes[2].conflict);
        // conflicting retransmission
        let mut r = Reassembler::default();
        syn(&mut r, 99);
        let mut out = vec![];
        let notes = run(&mut r, &[(100, b"abcdef"), (102, b"XY")], &mut out);
        assert!(notes[1].conflict);
        assert_eq!(bytes_of(&out), b"abcdef");
        // conflicting out-of-order copies
        let mut r = Reassembler::default();
        syn(&mut r, 99);
        let mut out = vec![];
        let notes = run(
            &mut r,
            &[(110, b"abc"), (110, b"xyz"), (100, b"0123456789")],
            &mut out,
        );
        assert!(notes[1].conflict);
        assert_eq!(bytes_of(&out), b"0123456789abc");
    }

    #[test]
    fn hole_becomes_gap_on_ack_and_finish() {
        let lim = ReasmLimits::default();
        let mut r = Reassembler::default();
        syn(&mut r, 0);
        let mut out = vec![];
        run(&mut r, &[(1, b"aaaa"), (9, b"cccc")], &mut out);
        let mut push = |c: Chunk<'_>| {
            out.push(match c {
                Chunk::Data { bytes, .. } => C::D(bytes.to_vec()),
                Chunk::Gap { len, .. } => C::G(len),
                Chunk::End { kind, .. } => C::E(kind),
            })
        };
        r.peer_ack(13, 5, Ts::default(), &lim, &mut push);
        r.finish(EndKind::Open, 6, Ts::default(), &lim, &mut push);
        assert_eq!(
            out,
            vec![
                C::D(b"aaaa".to_vec()),
                C::G(4),
                C::D(b"cccc".to_vec()),
                C::E(EndKind::Open)
            ]
        );
    }

    #[test]
    fn midstream_and_snaplen_cut() {
        let lim = ReasmLimits::default();
        let mut r = Reassembler::default();
        let mut out = vec![];
        let mut push = |c: Chunk<'_>| {
            out.push(match c {
                Chunk::Data { bytes, .. } => C::D(bytes.to_vec()),
                Chunk::Gap { len, .. } => C::G(len),
                Chunk::End { kind, .. } => C::E(kind),
            })
        };
        // mid-stream: first segment seen starts the direction; cut to 3 of 10 bytes
        r.segment(
            5000,
            false,
            false,
            b"abc",
            10,
            1,
            Ts::default(),
            &lim,
            &mut push,
        );
        r.segment(
            5010,
            false,
            true,
            b"z",
            1,
            2,
            Ts::default(),
            &lim,
            &mut push,
        );
        assert_eq!(
            out,
            vec![
                C::D(b"abc".to_vec()),
                C::G(7),
                C::D(b"z".to_vec()),
                C::E(EndKind::Fin)
            ]
        );
    }

    #[test]
    fn ooo_limit_bounds_memory() {
        let lim = ReasmLimits {
            max_ooo_bytes: 1000,
            max_ooo_segments: 100,
            overlap_check_bytes: 64,
        };
        let mut r = Reassembler::default();
        syn(&mut r, 0);
        let mut gaps = 0u64;
        let mut data = 0u64;
        // 50,000 one-byte segments arriving backwards, never in order.
        for i in (0..50_000u32).rev() {
            r.segment(
                10 + i * 2,
                false,
                false,
                b"x",
                1,
                1,
                Ts::default(),
                &lim,
                &mut |c| match c {
                    Chunk::Gap { len, .. } => gaps += len,
                    Chunk::Data { bytes, .. } => data += bytes.len() as u64,
                    _ => {}
                },
            );
            assert!(r.held.len() <= 101 && r.held_bytes() <= 1001);
        }
    }
}
