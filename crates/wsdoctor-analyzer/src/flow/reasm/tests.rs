use super::*;

#[derive(Debug, PartialEq, Clone)]
enum C {
    D(Vec<u8>),
    G(u64),
    E(EndKind),
}

/// A connection under test: ISNs 1000 (client) and 5000 (server) unless set.
struct T {
    r: Reassembly,
    lim: ReasmLimits,
    out: [Vec<C>; 2],
    /// (dir, frame) of each data chunk, in emission order.
    frames: Vec<(usize, u64)>,
    isn: [u32; 2],
    frame: u64,
    us: i64,
}

impl T {
    fn new() -> T {
        T::with_isn([1000, 5000])
    }

    fn with_isn(isn: [u32; 2]) -> T {
        T {
            r: Reassembly::default(),
            lim: ReasmLimits::default(),
            out: Default::default(),
            frames: Vec::new(),
            isn,
            frame: 0,
            us: 0,
        }
    }

    /// SYN, SYN-ACK.
    fn handshake(&mut self) -> &mut T {
        let [a, b] = self.isn;
        self.raw(0, a, None, true, false, false, b"");
        self.raw(1, b, Some(a.wrapping_add(1)), true, false, false, b"");
        self
    }

    fn seq(&self, d: usize, rel: u64) -> u32 {
        self.isn[d].wrapping_add(1).wrapping_add(rel as u32)
    }

    /// Data of direction `d` at relative offset `rel`, acknowledging `ack`
    /// bytes of the other direction.
    fn data(&mut self, d: usize, rel: u64, ack: u64, p: &[u8]) -> SegNote {
        let (s, a) = (self.seq(d, rel), self.seq(d ^ 1, ack));
        self.raw(d, s, Some(a), false, false, false, p)
    }

    /// A pure ACK from `d` of `ack` bytes of the other direction.
    fn ack(&mut self, d: usize, rel: u64, ack: u64) -> SegNote {
        self.data(d, rel, ack, b"")
    }

    fn fin(&mut self, d: usize, rel: u64, ack: u64) -> SegNote {
        let (s, a) = (self.seq(d, rel), self.seq(d ^ 1, ack));
        self.raw(d, s, Some(a), false, true, false, b"")
    }

    #[allow(clippy::too_many_arguments)]
    fn raw(
        &mut self,
        d: usize,
        seq: u32,
        ack: Option<u32>,
        syn: bool,
        fin: bool,
        rst: bool,
        p: &[u8],
    ) -> SegNote {
        self.frame += 1;
        self.us += 1000;
        let ts = Ts::from_micros(self.us);
        let s = SegIn {
            seq,
            ack,
            syn,
            fin,
            rst,
            payload: p,
            claimed: p.len() as u32,
            frame: self.frame,
            ts,
        };
        let clk = Clock {
            packets: self.frame,
            us: self.us,
        };
        let (out, frames) = (&mut self.out, &mut self.frames);
        let mut emit = |d: usize, c: Chunk<'_>| push(out, frames, d, c);
        let note = self.r.segment(d, &s, clk, &self.lim, &mut emit);
        self.r
            .tick(clk, false, self.frame, ts, &self.lim, &mut emit);
        note
    }

    /// Let `n` packets and `secs` of capture time pass (pure ACKs that acknowledge nothing new).
    fn idle(&mut self, n: u64, secs: i64) {
        self.us += secs * 1_000_000;
        for _ in 0..n {
            self.frame += 1;
            let ts = Ts::from_micros(self.us);
            let clk = Clock {
                packets: self.frame,
                us: self.us,
            };
            let (out, frames) = (&mut self.out, &mut self.frames);
            let mut emit = |d: usize, c: Chunk<'_>| push(out, frames, d, c);
            self.r
                .tick(clk, false, self.frame, ts, &self.lim, &mut emit);
        }
    }

    fn finish(&mut self) {
        let (out, frames) = (&mut self.out, &mut self.frames);
        let mut emit = |d: usize, c: Chunk<'_>| push(out, frames, d, c);
        self.r
            .finish(EndKind::Open, 999, Ts::default(), &self.lim, &mut emit);
    }

    fn bytes(&self, d: usize) -> Vec<u8> {
        self.out[d]
            .iter()
            .flat_map(|c| match c {
                C::D(b) => b.clone(),
                _ => vec![],
            })
            .collect()
    }

    fn gaps(&self, d: usize) -> Vec<u64> {
        self.out[d]
            .iter()
            .filter_map(|c| match c {
                C::G(n) => Some(*n),
                _ => None,
            })
            .collect()
    }
}

fn push(out: &mut [Vec<C>; 2], frames: &mut Vec<(usize, u64)>, d: usize, c: Chunk<'_>) {
    let c = match c {
        Chunk::Data { bytes, frame, .. } => {
            frames.push((d, frame));
            C::D(bytes.to_vec())
        }
        Chunk::Gap { len, .. } => C::G(len),
        Chunk::End { kind, .. } => C::E(kind),
    };
    out[d & 1].push(c);
}

const MSG: &[u8] = b"The quick brown fox jumps over the lazy dog, 0123456789";

#[test]
fn every_split_point_every_order() {
    let perms: [[usize; 3]; 6] = [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ];
    for isn in [0u32, 1000, u32::MAX - 20, u32::MAX] {
        for a in 1..MSG.len() {
            for b in a..MSG.len() {
                let parts = [(0, a), (a, b), (b, MSG.len())];
                for p in perms {
                    let mut t = T::with_isn([isn, 7]);
                    t.handshake();
                    for &i in &p {
                        let (s, e) = parts[i];
                        t.data(0, s as u64, 0, &MSG[s..e]);
                    }
                    assert_eq!(t.bytes(0), MSG, "isn {isn} split {a},{b} order {p:?}");
                    assert!(t.gaps(0).is_empty());
                }
            }
        }
    }
}

/// Every permutation of a small exchange (three client segments and the
/// server's ACK after each, as sent) reassembles exactly, without a gap,
/// before the connection ends: ACKs that overtake the data they
/// acknowledge are what used to turn reordering into loss.
#[test]
fn every_permutation_with_acks_interleaved() {
    let parts = [(0usize, 7usize), (7, 30), (30, MSG.len())];
    // 0..3: data segments; 3..6: the server's ACK of segment i.
    let mut idx = [0usize, 1, 2, 3, 4, 5];
    let mut count = 0;
    permute(&mut idx, 0, &mut |order| {
        count += 1;
        let mut t = T::new();
        t.handshake();
        for &k in order {
            if k < 3 {
                let (s, e) = parts[k];
                t.data(0, s as u64, 0, &MSG[s..e]);
            } else {
                t.ack(1, 0, parts[k - 3].1 as u64);
            }
        }
        assert_eq!(t.bytes(0), MSG, "order {order:?}");
        assert!(t.gaps(0).is_empty(), "order {order:?}: {:?}", t.out[0]);
        assert!(!t.r.pending(), "order {order:?}: data still held");
    });
    assert_eq!(count, 720);
}

/// A request and its response in both directions, every order of the four
/// data segments: the response is never handed on before the request bytes
/// it acknowledges, and nothing is lost.
#[test]
fn response_waits_for_the_request_it_acknowledges() {
    let req = b"GET /mqtt HTTP/1.1\r\nUpgrade: websocket\r\n\r\n";
    let resp = b"HTTP/1.1 101 Switching Protocols\r\n\r\n";
    let segs: [(usize, u64, u64, &[u8]); 4] = [
        (0, 0, 0, &req[..10]),
        (0, 10, 0, &req[10..]),
        (1, 0, req.len() as u64, &resp[..20]),
        (1, 20, req.len() as u64, &resp[20..]),
    ];
    let mut idx = [0usize, 1, 2, 3];
    permute(&mut idx, 0, &mut |order| {
        let mut t = T::new();
        t.handshake();
        for &k in order {
            let (d, rel, ack, p) = segs[k];
            t.data(d, rel, ack, p);
        }
        assert_eq!(t.bytes(0), req);
        assert_eq!(t.bytes(1), resp);
        assert!(t.gaps(0).is_empty() && t.gaps(1).is_empty());
        // The first response chunk comes after the last request chunk.
        let last_req = t.frames.iter().rposition(|f| f.0 == 0).unwrap();
        let first_resp = t.frames.iter().position(|f| f.0 == 1).unwrap();
        assert!(last_req < first_resp, "order {order:?}: {:?}", t.frames);
    });
}

fn permute(a: &mut [usize], k: usize, f: &mut dyn FnMut(&[usize])) {
    if k == a.len() {
        f(a);
        return;
    }
    for i in k..a.len() {
        a.swap(k, i);
        permute(a, k + 1, f);
        a.swap(k, i);
    }
}

#[test]
fn reordered_frames_are_where_the_data_completed() {
    let mut t = T::new();
    t.handshake(); // frames 1, 2
    t.data(0, 10, 0, &MSG[10..20]); // frame 3: ahead
    t.data(0, 0, 0, &MSG[..10]); // frame 4: fills the hole
    assert_eq!(t.frames, vec![(0, 4), (0, 4)]);
    // A response that waited for the request keeps its own frame.
    let mut t = T::new();
    t.handshake();
    t.data(1, 0, 5, b"reply"); // frame 3, acknowledges an unseen request
    assert!(t.bytes(1).is_empty());
    t.data(0, 0, 0, b"hello"); // frame 4
    assert_eq!(t.frames, vec![(0, 4), (1, 3)]);
}

#[test]
fn acked_hole_becomes_a_gap_after_the_window() {
    let mut t = T::new();
    t.handshake();
    t.data(0, 0, 0, b"aaaa");
    t.data(0, 8, 0, b"cccc");
    t.ack(1, 0, 12);
    t.idle(10, 2);
    assert!(t.gaps(0).is_empty(), "packets window not yet passed");
    t.idle(70, 0);
    assert_eq!(t.gaps(0), vec![4]);
    assert_eq!(t.bytes(0), b"aaaacccc");
    // The late copy is a retransmission now.
    let n = t.data(0, 4, 0, b"bbbb");
    assert!(n.retransmission);
    // Filled within the window: no gap at all.
    let mut t = T::new();
    t.handshake();
    t.data(0, 0, 0, b"aaaa");
    t.data(0, 8, 0, b"cccc");
    t.ack(1, 0, 12);
    t.idle(100, 0);
    t.data(0, 4, 0, b"bbbb");
    assert!(t.gaps(0).is_empty());
    assert_eq!(t.bytes(0), b"aaaabbbbcccc");
}

#[test]
fn unacked_hole_waits_for_the_retransmission() {
    let mut t = T::new();
    t.handshake();
    t.data(0, 0, 0, b"aaaa");
    t.data(0, 8, 0, b"cccc");
    t.ack(1, 0, 4); // the receiver did not get "bbbb" either
    t.idle(200, 10);
    assert!(t.gaps(0).is_empty());
    t.data(0, 4, 0, b"bbbb"); // the sender's retransmission
    assert_eq!(t.bytes(0), b"aaaabbbbcccc");
    // Never retransmitted in the capture: a gap when the connection ends.
    let mut t = T::new();
    t.handshake();
    t.data(0, 0, 0, b"aaaa");
    t.data(0, 8, 0, b"cccc");
    t.ack(1, 0, 4);
    t.finish();
    assert_eq!(t.gaps(0), vec![4]);
    assert_eq!(t.out[0].last(), Some(&C::E(EndKind::Open)));
}

#[test]
fn bogus_ack_is_counted_not_a_gap() {
    // Arkime's synthetic handshake: an ACK of 999999 against an ISN of 6000.
    let mut t = T::with_isn([100, 6000]);
    t.handshake();
    let n = t.raw(0, 101, Some(999_999), false, false, false, b"");
    assert!(n.acked_unseen);
    t.finish();
    assert!(t.gaps(1).is_empty(), "{:?}", t.out[1]);
    // An ACK of one byte beyond everything: an uncaptured FIN, not data.
    let mut t = T::new();
    t.handshake();
    t.data(1, 0, 0, b"xyz");
    let n = t.ack(0, 0, 4);
    assert!(!n.acked_unseen);
    t.finish();
    assert!(t.gaps(1).is_empty());
}

#[test]
fn acked_but_never_captured_tail_is_a_gap_at_the_end() {
    let mut t = T::new();
    t.handshake();
    t.data(1, 0, 0, b"abc");
    let n = t.ack(0, 0, 10); // 7 more bytes (or 6 and a FIN)
    assert!(n.acked_unseen);
    t.finish();
    assert_eq!(t.gaps(1), vec![6]);
}

#[test]
fn fin_and_rst_before_the_last_data() {
    let mut t = T::new();
    t.handshake();
    t.data(0, 0, 0, b"abcd");
    t.fin(0, 8, 0); // FIN after byte 8 captured before "efgh"
    assert_eq!(t.out[0].last(), Some(&C::D(b"abcd".to_vec())));
    t.data(0, 4, 0, b"efgh");
    assert_eq!(t.bytes(0), b"abcdefgh");
    assert_eq!(t.out[0].last(), Some(&C::E(EndKind::Fin)));
    // Data after the FIN is counted, not delivered.
    let n = t.data(0, 8, 0, b"late");
    assert_eq!(n.after_end, 4);
    assert_eq!(t.bytes(0), b"abcdefgh");

    let mut t = T::new();
    t.handshake();
    t.data(0, 0, 0, b"abcd");
    let s = t.seq(0, 8);
    t.raw(0, s, None, false, false, true, b""); // RST overtook "efgh"
    assert!(!t.r.ended(0));
    t.data(0, 4, 0, b"efgh");
    assert_eq!(t.bytes(0), b"abcdefgh");
    assert!(t.r.both_ended());
    assert_eq!(t.out[0].last(), Some(&C::E(EndKind::Rst)));
}

#[test]
fn handshake_order_disturbed() {
    // The client's first data and its ACK of the server's SYN come before
    // the SYN-ACK in the file.
    let mut t = T::new();
    let [a, b] = t.isn;
    t.raw(0, a, None, true, false, false, b"");
    t.raw(
        0,
        a.wrapping_add(1),
        Some(b.wrapping_add(1)),
        false,
        false,
        false,
        b"GET / HTTP/1.1\r\n\r\n",
    );
    t.raw(1, b, Some(a.wrapping_add(1)), true, false, false, b"");
    t.data(1, 0, 18, b"HTTP/1.1 200 OK\r\n\r\n");
    assert_eq!(t.bytes(0), b"GET / HTTP/1.1\r\n\r\n");
    assert_eq!(t.bytes(1), b"HTTP/1.1 200 OK\r\n\r\n");
    assert!(t.gaps(0).is_empty() && t.gaps(1).is_empty());
}

#[test]
fn duplicates_and_overlaps() {
    let mut t = T::new();
    t.handshake();
    t.data(0, 0, 0, &MSG[..10]);
    let n1 = t.data(0, 0, 0, &MSG[..10]);
    let n2 = t.data(0, 5, 0, &MSG[5..20]);
    t.data(0, 20, 0, &MSG[20..]);
    assert_eq!(t.bytes(0), MSG);
    assert!(n1.retransmission && !n1.conflict);
    assert!(n2.retransmission && !n2.conflict);
    // conflicting retransmission
    let mut t = T::new();
    t.handshake();
    t.data(0, 0, 0, b"abcdef");
    let n = t.data(0, 2, 0, b"XY");
    assert!(n.conflict);
    assert_eq!(t.bytes(0), b"abcdef");
    // conflicting out-of-order copies
    let mut t = T::new();
    t.handshake();
    t.data(0, 10, 0, b"abc");
    let n = t.data(0, 10, 0, b"xyz");
    t.data(0, 0, 0, b"0123456789");
    assert!(n.conflict);
    assert_eq!(t.bytes(0), b"0123456789abc");
}

#[test]
fn midstream_and_snaplen_cut() {
    let lim = ReasmLimits::default();
    let mut r = Reassembly::default();
    let mut out: [Vec<C>; 2] = Default::default();
    let mut frames = Vec::new();
    let mut emit = |d: usize, c: Chunk<'_>| push(&mut out, &mut frames, d, c);
    // mid-stream: first segment seen starts the direction; cut to 3 of 10 bytes
    let s = SegIn {
        seq: 5000,
        ack: None,
        syn: false,
        fin: false,
        rst: false,
        payload: b"abc",
        claimed: 10,
        frame: 1,
        ts: Ts::default(),
    };
    r.segment(0, &s, Clock::default(), &lim, &mut emit);
    let s = SegIn {
        seq: 5010,
        fin: true,
        payload: b"z",
        claimed: 1,
        frame: 2,
        ..s
    };
    r.segment(0, &s, Clock::default(), &lim, &mut emit);
    assert_eq!(
        out[0],
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
    let mut t = T::new();
    t.lim = ReasmLimits {
        max_ooo_bytes: 1000,
        max_ooo_segments: 100,
        overlap_check_bytes: 64,
        ..ReasmLimits::default()
    };
    t.handshake();
    // 50,000 one-byte segments arriving backwards, never in order.
    for i in (0..50_000u64).rev() {
        t.data(0, 10 + i * 2, 0, b"x");
        assert!(t.r.h[0].held.len() <= 101 && t.r.held_bytes() <= 1001);
    }
}

#[test]
fn wait_for_the_other_direction_is_bounded() {
    // The server acknowledges request bytes that never appear: its data
    // waits one window, then the missing request bytes are a gap.
    let mut t = T::new();
    t.handshake();
    t.data(1, 0, 20, b"HTTP/1.1 200 OK\r\n\r\n");
    assert!(t.bytes(1).is_empty());
    t.idle(70, 2);
    assert_eq!(t.bytes(1), b"HTTP/1.1 200 OK\r\n\r\n");
    assert_eq!(t.gaps(0), vec![20]);
    // Later server data flows at once.
    t.data(1, 19, 20, b"more");
    assert_eq!(t.bytes(1), b"HTTP/1.1 200 OK\r\n\r\nmore");
}
