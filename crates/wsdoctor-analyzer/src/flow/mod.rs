//! `flow`: the TCP connection table and per-direction reassembly.
//!
//! Connections are numbered as Wireshark numbers `tcp.stream`: in order of
//! their first packet; a SYN (without ACK) whose sequence number differs from
//! the first sequence number seen in that direction starts a new stream on
//! the same 4-tuple. Each connection carries a protocol handler `H` that
//! receives its chunks (see [`Handler`]).

mod defrag;
mod reasm;

pub use defrag::{Defrag, DefragLimits};
pub use reasm::{Chunk, Clock, EndKind, ReasmLimits, Reassembly, SegIn, SegNote};

use crate::capture::Ts;
use crate::wire::{flags, Segment};
use foldhash::HashMap;
use std::net::IpAddr;

/// Direction of data within a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dir {
    C2S,
    S2C,
}

impl Dir {
    pub fn as_str(self) -> &'static str {
        match self {
            Dir::C2S => "c2s",
            Dir::S2C => "s2c",
        }
    }
    pub fn idx(self) -> usize {
        match self {
            Dir::C2S => 0,
            Dir::S2C => 1,
        }
    }
    pub fn rev(self) -> Dir {
        match self {
            Dir::C2S => Dir::S2C,
            Dir::S2C => Dir::C2S,
        }
    }
}

/// An (address, port) pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    pub ip: IpAddr,
    pub port: u16,
}

impl Endpoint {
    /// Appends `a.b.c.d:port` or `[v6]:port` (as [`std::fmt::Display`]
    /// writes it) without `core::fmt` for IPv4: every JSON record carries
    /// two endpoints.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        match self.ip {
            IpAddr::V4(a) => {
                for (i, o) in a.octets().into_iter().enumerate() {
                    if i > 0 {
                        out.push(b'.');
                    }
                    if o >= 100 {
                        out.push(b'0' + o / 100);
                    }
                    if o >= 10 {
                        out.push(b'0' + (o / 10) % 10);
                    }
                    out.push(b'0' + o % 10);
                }
                out.push(b':');
                let mut tmp = [0u8; 5];
                let mut i = tmp.len();
                let mut p = self.port;
                loop {
                    i -= 1;
                    tmp[i] = b'0' + (p % 10) as u8;
                    p /= 10;
                    if p == 0 {
                        break;
                    }
                }
                out.extend_from_slice(&tmp[i..]);
            }
            IpAddr::V6(_) => {
                use std::io::Write as _;
                let _ = write!(out, "{self}");
            }
        }
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.ip {
            IpAddr::V4(a) => write!(f, "{a}:{}", self.port),
            IpAddr::V6(a) => write!(f, "[{a}]:{}", self.port),
        }
    }
}

/// A hole in a direction's data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GapInfo {
    pub dir: Dir,
    pub frame: u64,
    pub bytes: u64,
}

/// How the connection ended (for its record).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnEnd {
    Open,
    Fin,
    Rst,
}

impl ConnEnd {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnEnd::Open => "open",
            ConnEnd::Fin => "fin",
            ConnEnd::Rst => "rst",
        }
    }
}

/// The first FIN or RST of a connection: who closed, how, and after how
/// much silence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CloseEvent {
    pub by: Dir,
    pub rst: bool,
    pub frame: u64,
    pub ts: Ts,
    /// Microseconds since the last payload segment of either direction
    /// (0 when the closing segment carries data).
    pub quiet_us: i64,
    /// The last payload segment before it (either direction).
    pub last_data_frame: Option<u64>,
}

/// Everything known about a connection at the TCP level.
#[derive(Clone, Debug)]
pub struct ConnMeta {
    pub stream: u64,
    pub client: Endpoint,
    pub server: Endpoint,
    /// A SYN (without ACK) from the client was seen.
    pub syn: bool,
    /// Roles are known from a SYN or SYN-ACK (not guessed).
    pub roles_from_syn: bool,
    pub first_frame: u64,
    pub last_frame: u64,
    pub first_ts: Ts,
    pub last_ts: Ts,
    pub packets: u64,
    /// Payload bytes delivered to the protocol layers, per direction.
    pub bytes: [u64; 2],
    /// Sum of TCP payload lengths as the headers state them (tshark's tcp.len).
    pub tcp_len: [u64; 2],
    pub gaps: Vec<GapInfo>,
    pub gaps_total: u64,
    /// Bytes missing over all gaps (listed or not).
    pub gap_bytes: u64,
    pub retransmissions: u64,
    /// Segments whose data came after data further on in the stream
    /// (reordering, not loss).
    pub out_of_order: u64,
    /// Segments acknowledging bytes the capture never showed.
    pub acked_unseen: u64,
    /// Payload bytes sent after the direction's FIN or RST (not decoded).
    pub after_end_bytes: u64,
    pub overlap_conflicts: u64,
    pub conflict_frames: Vec<u64>,
    pub end: ConnEnd,
    pub fin_seen: [bool; 2],
    pub rst_frame: Option<u64>,
    /// The first FIN of each direction (frame, time).
    pub fin: [Option<(u64, Ts)>; 2],
    /// Who sent the first RST, and when.
    pub rst: Option<(Dir, Ts)>,
    /// The first and the last captured segment carrying payload, per
    /// direction (frame, time; retransmissions included).
    pub first_data: [Option<(u64, Ts)>; 2],
    pub last_data: [Option<(u64, Ts)>; 2],
    /// The first FIN or RST.
    pub first_close: Option<CloseEvent>,
    /// The out-of-order limit forced gaps (count).
    pub reasm_limit_hits: u64,
    /// The connection was removed before the capture ended (idle or table full).
    pub evicted: bool,
    /// Set on the copy the protocol layers inside a decrypted TLS
    /// connection report with: their records come from decrypted bytes.
    pub decrypted: bool,
}

const MAX_GAPS_LISTED: usize = 64;

impl ConnMeta {
    /// A connection first seen in `frame` at `ts`, with nothing counted yet.
    pub fn new(
        stream: u64,
        client: Endpoint,
        server: Endpoint,
        roles_from_syn: bool,
        frame: u64,
        ts: Ts,
    ) -> ConnMeta {
        ConnMeta {
            stream,
            client,
            server,
            syn: false,
            roles_from_syn,
            first_frame: frame,
            last_frame: frame,
            first_ts: ts,
            last_ts: ts,
            packets: 0,
            bytes: [0; 2],
            tcp_len: [0; 2],
            gaps: Vec::new(),
            gaps_total: 0,
            gap_bytes: 0,
            retransmissions: 0,
            out_of_order: 0,
            acked_unseen: 0,
            after_end_bytes: 0,
            overlap_conflicts: 0,
            conflict_frames: Vec::new(),
            end: ConnEnd::Open,
            fin_seen: [false; 2],
            rst_frame: None,
            fin: [None; 2],
            rst: None,
            first_data: [None; 2],
            last_data: [None; 2],
            first_close: None,
            reasm_limit_hits: 0,
            evicted: false,
            decrypted: false,
        }
    }

    /// Swap client and server (only sensible before any data was delivered).
    pub fn swap_roles(&mut self) {
        std::mem::swap(&mut self.client, &mut self.server);
        self.bytes.swap(0, 1);
        self.tcp_len.swap(0, 1);
        self.fin_seen.swap(0, 1);
        self.fin.swap(0, 1);
        self.first_data.swap(0, 1);
        self.last_data.swap(0, 1);
        if let Some((d, _)) = self.rst.as_mut() {
            *d = d.rev();
        }
        if let Some(c) = self.first_close.as_mut() {
            c.by = c.by.rev();
        }
        for g in &mut self.gaps {
            g.dir = g.dir.rev();
        }
    }
}

/// Where the connection table reports what it did.
pub trait FlowOut {
    /// A connection left the table (closed and lingered, evicted, or the
    /// capture ended): its record is final.
    fn connection(&mut self, meta: &ConnMeta);
    /// More connections were live than `limit` at `frame`: the least
    /// recently active were dropped (reported the first time only).
    fn table_full(&mut self, frame: u64, limit: usize);
}

/// The protocol layers of one connection, reporting to `O`.
pub trait Handler<O: FlowOut + ?Sized> {
    /// A chunk of one direction. The handler may call `meta.swap_roles()`
    /// on the very first data of a connection without SYN when the payload
    /// shows the roles are the other way round; it must then treat `dir` as
    /// reversed.
    fn chunk(&mut self, meta: &mut ConnMeta, dir: Dir, chunk: Chunk<'_>, out: &mut O);
    /// The connection is done (both directions ended, evicted, or capture end).
    fn finish(&mut self, meta: &ConnMeta, out: &mut O);
    /// The handler wants no more data of this connection (it carries
    /// nothing decoded: an unknown protocol, TLS without keys after its
    /// handshake). The table then only follows its TCP lifecycle: packets,
    /// bytes, retransmissions, FIN/RST; nothing is held or copied.
    fn done(&self) -> bool {
        false
    }
}

/// Limits of the connection table.
#[derive(Clone, Debug)]
pub struct FlowLimits {
    /// Connections tracked at once; beyond it the least recently active are evicted.
    pub max_connections: usize,
    /// A connection without packets for this long (capture time) is evicted.
    pub idle_timeout_secs: i64,
    /// A closed (FIN both ways or RST) connection is dropped after this long.
    pub closed_linger_secs: i64,
    /// Out-of-order bytes held over all connections before holes are skipped.
    pub max_total_ooo_bytes: usize,
    pub reasm: ReasmLimits,
    pub defrag: DefragLimits,
}

impl Default for FlowLimits {
    fn default() -> Self {
        FlowLimits {
            max_connections: 100_000,
            idle_timeout_secs: 3600,
            closed_linger_secs: 30,
            max_total_ooo_bytes: 64 << 20,
            reasm: ReasmLimits::default(),
            defrag: DefragLimits::default(),
        }
    }
}

struct Conn<H> {
    meta: ConnMeta,
    tcp: Reassembly,
    /// None once the connection closed: its protocol state is finished and
    /// dropped; only the record lingers to count trailing packets.
    handler: Option<Box<H>>,
    closed: bool,
    last_us: i64,
}

/// The connection table's key: both endpoints, the lower first, packed
/// into integers (an IPv4 address as the low 32 bits, its family kept
/// apart, so that no IPv6 address aliases it): hashed and compared as a few
/// words, not as two `IpAddr` enums.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Key {
    lo: u128,
    hi: u128,
    /// The lower endpoint's port in the high 16 bits.
    ports: u32,
    /// Bit 1: the lower endpoint is IPv6; bit 0: the higher one is.
    families: u8,
}

fn ip_bits(ip: IpAddr) -> (bool, u128) {
    match ip {
        IpAddr::V4(a) => (false, u128::from(u32::from(a))),
        IpAddr::V6(a) => (true, u128::from(a)),
    }
}

fn key(a: Endpoint, b: Endpoint) -> Key {
    let (fa, ia) = ip_bits(a.ip);
    let (fb, ib) = ip_bits(b.ip);
    let (l, h) = if (fa, ia, a.port) <= (fb, ib, b.port) {
        ((fa, ia, a.port), (fb, ib, b.port))
    } else {
        ((fb, ib, b.port), (fa, ia, a.port))
    };
    Key {
        lo: l.1,
        hi: h.1,
        ports: u32::from(l.2) << 16 | u32::from(h.2),
        families: u8::from(l.0) << 1 | u8::from(h.0),
    }
}

/// Counters of what the table did.
#[derive(Clone, Debug, Default)]
pub struct FlowStats {
    pub streams: u64,
    pub evicted_idle: u64,
    pub evicted_full: u64,
    pub total_ooo_limit_hits: u64,
    /// Connections followed by their TCP lifecycle only once their handler
    /// was done (`Handler::done`).
    pub discarded: u64,
}

/// The connection table.
pub struct FlowTable<H> {
    map: HashMap<Key, usize>,
    slots: Vec<Option<Conn<H>>>,
    free: Vec<usize>,
    next_stream: u64,
    limits: FlowLimits,
    last_sweep_us: i64,
    held_total: usize,
    pub stats: FlowStats,
    new_handler: Box<dyn FnMut() -> H + Send>,
}

impl<H> FlowTable<H> {
    pub fn new(limits: FlowLimits, new_handler: Box<dyn FnMut() -> H + Send>) -> Self {
        FlowTable {
            map: HashMap::default(),
            slots: Vec::new(),
            free: Vec::new(),
            next_stream: 0,
            limits,
            last_sweep_us: i64::MIN,
            held_total: 0,
            stats: FlowStats::default(),
            new_handler,
        }
    }

    /// Number of live connections.
    pub fn live(&self) -> usize {
        self.map.len()
    }

    /// Streams numbered so far.
    pub fn streams(&self) -> u64 {
        self.next_stream
    }

    /// Process one TCP segment from frame `frame`.
    pub fn segment<O: FlowOut + ?Sized>(
        &mut self,
        frame: u64,
        ts: Ts,
        seg: &Segment<'_>,
        out: &mut O,
    ) where
        H: Handler<O>,
    {
        let now = ts.micros();
        self.maybe_sweep(now, frame, ts, out);
        let src = Endpoint {
            ip: seg.src,
            port: seg.sport,
        };
        let dst = Endpoint {
            ip: seg.dst,
            port: seg.dport,
        };
        let k = key(src, dst);
        let pure_syn = seg.flags & (flags::SYN | flags::ACK) == flags::SYN;
        let mut slot = self.map.get(&k).copied();
        if let (Some(i), true) = (slot, pure_syn) {
            if let Some(c) = self.slots[i].as_ref() {
                let d = if c.meta.client == src { 0 } else { 1 };
                // A SYN with a new ISN starts a new connection on the 4-tuple;
                // a SYN whose ISN is just before the first data seen is this
                // connection's own, captured late.
                let isn_next = seg.seq.wrapping_add(1);
                if c.tcp
                    .base_seq(d)
                    .is_some_and(|b| b != seg.seq && b != isn_next)
                {
                    self.close_slot(i, frame, ts, out);
                    slot = None;
                }
            }
        }
        let i = match slot {
            Some(i) => i,
            None => self.open(k, src, dst, seg, frame, ts, now, out),
        };
        let lim = &self.limits.reasm;
        let Some(conn) = self.slots[i].as_mut() else {
            return;
        };
        conn.last_us = now;
        let Conn {
            meta, tcp, handler, ..
        } = conn;
        meta.packets += 1;
        meta.last_frame = frame;
        meta.last_ts = ts;
        let dir = if meta.client == src {
            Dir::C2S
        } else {
            Dir::S2C
        };
        meta.tcp_len[dir.idx()] += seg.wire_len as u64;
        if pure_syn && dir == Dir::C2S {
            meta.syn = true;
        }
        let held_before = tcp.held_bytes();
        let clk = Clock {
            packets: meta.packets,
            us: now,
        };
        let input = SegIn {
            seq: seg.seq,
            ack: seg.has(flags::ACK).then_some(seg.ack),
            syn: seg.has(flags::SYN),
            fin: seg.has(flags::FIN),
            rst: seg.has(flags::RST),
            payload: seg.payload,
            claimed: seg.claimed_len,
            frame,
            ts,
        };
        let mut swapped = false;
        let discarding = tcp.discarding();
        let mut emit = |d: usize, c: Chunk<'_>| {
            if discarding {
                count_only(meta, d, &c);
            } else {
                deliver(meta, handler, d, c, out, &mut swapped)
            }
        };
        let note = tcp.segment(dir.idx(), &input, clk, lim, &mut emit);
        if tcp.pending() {
            tcp.tick(clk, false, frame, ts, lim, &mut emit);
        }
        if !discarding && handler.as_ref().is_some_and(|h| h.done()) {
            tcp.discard();
            self.stats.discarded += 1;
        }
        if swapped {
            // Reassembly indices follow the roles at creation; the swap moved
            // client/server, so the directions move too.
            tcp.swap();
        }
        if note.retransmission {
            meta.retransmissions += 1;
        }
        if note.out_of_order {
            meta.out_of_order += 1;
        }
        if note.acked_unseen {
            meta.acked_unseen += 1;
        }
        meta.after_end_bytes = meta.after_end_bytes.saturating_add(note.after_end);
        if note.conflict {
            meta.overlap_conflicts += 1;
            if meta.conflict_frames.len() < 16 {
                meta.conflict_frames.push(frame);
            }
        }
        if note.limit_hit {
            meta.reasm_limit_hits += 1;
        }
        let d = if meta.client == src { 0 } else { 1 };
        let closing = seg.has(flags::FIN) || seg.has(flags::RST);
        if closing && meta.first_close.is_none() {
            let carries = seg.claimed_len > 0 && !seg.has(flags::RST);
            let last = match (meta.last_data[0], meta.last_data[1]) {
                (Some(a), Some(b)) => Some(if a.1 >= b.1 { a } else { b }),
                (a, b) => a.or(b),
            };
            meta.first_close = Some(CloseEvent {
                by: if d == 0 { Dir::C2S } else { Dir::S2C },
                rst: seg.has(flags::RST),
                frame,
                ts,
                quiet_us: if carries {
                    0
                } else {
                    last.map_or(0, |(_, t)| ts.micros().saturating_sub(t.micros()).max(0))
                },
                last_data_frame: if carries {
                    Some(frame)
                } else {
                    last.map(|l| l.0)
                },
            });
        }
        if seg.has(flags::FIN) {
            meta.fin_seen[d] = true;
            meta.fin[d].get_or_insert((frame, ts));
        }
        if seg.claimed_len > 0 && !seg.has(flags::RST) {
            meta.first_data[d].get_or_insert((frame, ts));
            meta.last_data[d] = Some((frame, ts));
        }
        if seg.has(flags::RST) {
            if meta.rst_frame.is_none() {
                meta.rst_frame = Some(frame);
                meta.rst = Some((if d == 0 { Dir::C2S } else { Dir::S2C }, ts));
            }
            meta.end = ConnEnd::Rst;
        }
        let held_after = tcp.held_bytes();
        self.held_total = (self.held_total + held_after).saturating_sub(held_before);
        if tcp.both_ended() {
            if meta.end == ConnEnd::Open {
                meta.end = ConnEnd::Fin;
            }
            self.mark_closed(i, out);
        }
        if self.held_total > self.limits.max_total_ooo_bytes {
            self.relieve_memory(i, frame, ts, out);
        }
    }

    /// Both directions ended: finish the protocol layers now and keep only
    /// their summary (the record lingers to count trailing packets).
    fn mark_closed<O: FlowOut + ?Sized>(&mut self, i: usize, out: &mut O)
    where
        H: Handler<O>,
    {
        let Some(conn) = self.slots[i].as_mut() else {
            return;
        };
        if conn.closed {
            return;
        }
        conn.closed = true;
        if let Some(mut h) = conn.handler.take() {
            h.finish(&conn.meta, out);
        }
        self.held_total = self.held_total.saturating_sub(conn.tcp.held_bytes());
        conn.tcp.shrink();
    }

    #[allow(clippy::too_many_arguments)]
    fn open<O: FlowOut + ?Sized>(
        &mut self,
        k: Key,
        src: Endpoint,
        dst: Endpoint,
        seg: &Segment<'_>,
        frame: u64,
        ts: Ts,
        now: i64,
        out: &mut O,
    ) -> usize
    where
        H: Handler<O>,
    {
        if self.map.len() >= self.limits.max_connections {
            self.evict_oldest(frame, ts, out);
        }
        let syn = seg.has(flags::SYN);
        let ack = seg.has(flags::ACK);
        let (client, server, from_syn) = if syn && !ack {
            (src, dst, true)
        } else if syn && ack {
            (dst, src, true)
        } else if src.port > dst.port {
            (src, dst, false)
        } else if dst.port > src.port {
            (dst, src, false)
        } else {
            (src, dst, false)
        };
        let meta = ConnMeta::new(self.next_stream, client, server, from_syn, frame, ts);
        self.next_stream += 1;
        self.stats.streams = self.next_stream;
        let conn = Conn {
            meta,
            tcp: Reassembly::default(),
            handler: Some(Box::new((self.new_handler)())),
            closed: false,
            last_us: now,
        };
        let i = match self.free.pop() {
            Some(i) => {
                self.slots[i] = Some(conn);
                i
            }
            None => {
                self.slots.push(Some(conn));
                self.slots.len() - 1
            }
        };
        self.map.insert(k, i);
        i
    }

    /// Finish connection `i` and report it.
    fn close_slot<O: FlowOut + ?Sized>(&mut self, i: usize, frame: u64, ts: Ts, out: &mut O)
    where
        H: Handler<O>,
    {
        let Some(mut conn) = self.slots[i].take() else {
            return;
        };
        let k = key(conn.meta.client, conn.meta.server);
        if self.map.get(&k) == Some(&i) {
            self.map.remove(&k);
        }
        self.free.push(i);
        self.held_total = self.held_total.saturating_sub(conn.tcp.held_bytes());
        let lim = &self.limits.reasm;
        let Conn {
            meta, tcp, handler, ..
        } = &mut conn;
        // Ends are reported at the last frame the connection saw.
        let (f, t) = (meta.last_frame.max(1), meta.last_ts);
        let _ = (frame, ts);
        let mut sw = false;
        tcp.finish(EndKind::Open, f, t, lim, &mut |d, c| {
            deliver(meta, handler, d, c, out, &mut sw)
        });
        if meta.end == ConnEnd::Open && meta.fin_seen[0] && meta.fin_seen[1] {
            meta.end = ConnEnd::Fin;
        }
        if let Some(mut h) = handler.take() {
            h.finish(meta, out);
        }
        out.connection(meta);
    }

    fn maybe_sweep<O: FlowOut + ?Sized>(&mut self, now: i64, frame: u64, ts: Ts, out: &mut O)
    where
        H: Handler<O>,
    {
        if self.last_sweep_us != i64::MIN && now - self.last_sweep_us < 10_000_000 {
            return;
        }
        if self.last_sweep_us == i64::MIN {
            self.last_sweep_us = now;
            return;
        }
        self.last_sweep_us = now;
        let idle = self.limits.idle_timeout_secs.saturating_mul(1_000_000);
        let linger = self.limits.closed_linger_secs.saturating_mul(1_000_000);
        // Connections whose both ends are known but wait for missing data:
        // time alone decides (no further packets will come).
        let closing: Vec<usize> = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                c.as_ref()
                    .filter(|c| !c.closed && c.tcp.closing())
                    .map(|_| i)
            })
            .collect();
        for i in closing {
            self.tick_closing(i, now, out);
        }
        let mut victims: Vec<(u64, usize)> = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let c = c.as_ref()?;
                let age = now.saturating_sub(c.last_us);
                let limit = if c.closed { linger } else { idle };
                (age > limit).then_some((c.meta.stream, i))
            })
            .collect();
        victims.sort_unstable();
        for (_, i) in victims {
            if let Some(c) = self.slots[i].as_mut() {
                if !c.closed {
                    c.meta.evicted = true;
                    self.stats.evicted_idle += 1;
                }
            }
            self.close_slot(i, frame, ts, out);
        }
    }

    /// A closing connection's reordering window is measured in time alone.
    fn tick_closing<O: FlowOut + ?Sized>(&mut self, i: usize, now: i64, out: &mut O)
    where
        H: Handler<O>,
    {
        let lim = &self.limits.reasm;
        let Some(conn) = self.slots[i].as_mut() else {
            return;
        };
        let Conn {
            meta, tcp, handler, ..
        } = conn;
        let clk = Clock {
            packets: meta.packets,
            us: now,
        };
        let (f, t) = (meta.last_frame, meta.last_ts);
        let before = tcp.held_bytes();
        let mut sw = false;
        tcp.tick(clk, true, f, t, lim, &mut |d, c| {
            deliver(meta, handler, d, c, out, &mut sw)
        });
        if sw {
            tcp.swap();
        }
        self.held_total = self
            .held_total
            .saturating_sub(before.saturating_sub(tcp.held_bytes()));
        if tcp.both_ended() {
            if meta.end == ConnEnd::Open {
                meta.end = ConnEnd::Fin;
            }
            self.mark_closed(i, out);
        }
    }

    /// The table is full: drop the least recently active tenth.
    fn evict_oldest<O: FlowOut + ?Sized>(&mut self, frame: u64, ts: Ts, out: &mut O)
    where
        H: Handler<O>,
    {
        let mut ages: Vec<(i64, u64, usize)> = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.as_ref().map(|c| (c.last_us, c.meta.stream, i)))
            .collect();
        let n = (ages.len() / 10).max(1);
        if ages.len() > n {
            ages.select_nth_unstable(n);
        }
        ages.truncate(n);
        ages.sort_unstable_by_key(|a| a.1);
        if self.stats.evicted_full == 0 {
            out.table_full(frame, self.limits.max_connections);
        }
        for (_, _, i) in ages {
            if let Some(c) = self.slots[i].as_mut() {
                c.meta.evicted = true;
            }
            self.stats.evicted_full += 1;
            self.close_slot(i, frame, ts, out);
        }
    }

    /// Held out-of-order data over all connections is over its limit: skip
    /// the holes of the connection at hand.
    fn relieve_memory<O: FlowOut + ?Sized>(&mut self, i: usize, frame: u64, ts: Ts, out: &mut O)
    where
        H: Handler<O>,
    {
        self.stats.total_ooo_limit_hits += 1;
        let lim = &self.limits.reasm;
        let Some(conn) = self.slots[i].as_mut() else {
            return;
        };
        let Conn {
            meta, tcp, handler, ..
        } = conn;
        let before = tcp.held_bytes();
        let clk = Clock {
            packets: meta.packets,
            us: ts.micros(),
        };
        let mut sw = false;
        tcp.relieve(clk, frame, ts, lim, &mut |d, c| {
            deliver(meta, handler, d, c, out, &mut sw)
        });
        if sw {
            tcp.swap();
        }
        meta.reasm_limit_hits += 1;
        let after = tcp.held_bytes();
        self.held_total = self.held_total.saturating_sub(before - after.min(before));
        if tcp.both_ended() {
            if meta.end == ConnEnd::Open {
                meta.end = ConnEnd::Fin;
            }
            self.mark_closed(i, out);
        }
    }

    /// The capture ended: finish every connection, in stream order.
    pub fn finish_all<O: FlowOut + ?Sized>(&mut self, out: &mut O)
    where
        H: Handler<O>,
    {
        let mut live: Vec<(u64, usize)> = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.as_ref().map(|c| (c.meta.stream, i)))
            .collect();
        live.sort_unstable();
        for (_, i) in live {
            self.close_slot(i, 0, Ts::default(), out);
        }
    }
}

/// Route a chunk to the handler, keeping TCP accounting.
/// A chunk of a connection whose handler is done: its bytes are counted.
fn count_only(meta: &mut ConnMeta, d: usize, c: &Chunk<'_>) {
    if let Chunk::Data { bytes, .. } = c {
        meta.bytes[d & 1] += bytes.len() as u64;
    }
}

fn deliver<O: FlowOut + ?Sized, H: Handler<O>>(
    meta: &mut ConnMeta,
    handler: &mut Option<Box<H>>,
    d: usize,
    c: Chunk<'_>,
    out: &mut O,
    swapped: &mut bool,
) {
    let dir = if d == 0 { Dir::C2S } else { Dir::S2C };
    let dir = if *swapped { dir.rev() } else { dir };
    match &c {
        Chunk::Data { bytes, .. } => meta.bytes[dir.idx()] += bytes.len() as u64,
        Chunk::Gap { len, frame, .. } => {
            meta.gaps_total += 1;
            meta.gap_bytes = meta.gap_bytes.saturating_add(*len);
            if meta.gaps.len() < MAX_GAPS_LISTED {
                meta.gaps.push(GapInfo {
                    dir,
                    frame: *frame,
                    bytes: *len,
                });
            }
        }
        Chunk::End { .. } => {}
    }
    let Some(handler) = handler.as_mut() else {
        return;
    };
    let before = meta.client;
    handler.chunk(meta, dir, c, out);
    if meta.client != before {
        *swapped = !*swapped;
    }
}

#[cfg(test)]
mod endpoint_tests {
    use super::*;

    #[test]
    fn write_to_matches_display() {
        for (ip, port) in [
            ("0.0.0.0", 0u16),
            ("255.255.255.255", 65535),
            ("10.9.100.1", 1883),
            ("192.168.0.99", 10),
            ("::1", 443),
            ("fe80::1:2", 8080),
        ] {
            let e = Endpoint {
                ip: ip.parse().unwrap(),
                port,
            };
            let mut b = Vec::new();
            e.write_to(&mut b);
            assert_eq!(String::from_utf8(b).unwrap(), e.to_string());
        }
    }

    #[test]
    fn table_key_is_symmetric_and_keeps_families_apart() {
        let ep = |ip: &str, port| Endpoint {
            ip: ip.parse().unwrap(),
            port,
        };
        let (a, b) = (ep("10.0.0.1", 50000), ep("10.0.0.2", 80));
        assert_eq!(key(a, b), key(b, a));
        assert_ne!(key(a, b), key(ep("10.0.0.1", 80), ep("10.0.0.2", 50000)));
        assert_ne!(
            key(a, b),
            key(ep("::ffff:10.0.0.1", 50000), ep("::ffff:10.0.0.2", 80))
        );
        assert_ne!(key(a, b), key(ep("::a00:1", 50000), ep("::a00:2", 80)));
        let (c, d) = (ep("fe80::1", 1), ep("fe80::1", 2));
        assert_eq!(key(c, d), key(d, c));
        assert_ne!(key(c, d), key(ep("fe80::1", 2), ep("fe80::2", 1)));
    }
}

#[cfg(test)]
mod discard_tests {
    use super::*;
    use crate::wire::Segment;
    use std::net::{IpAddr, Ipv4Addr};

    /// Takes data until it has `want` bytes, then is done.
    struct Taker {
        got: Vec<u8>,
        want: usize,
        finished: bool,
    }

    #[derive(Default)]
    struct Out {
        metas: Vec<ConnMeta>,
    }

    impl FlowOut for Out {
        fn connection(&mut self, meta: &ConnMeta) {
            self.metas.push(meta.clone());
        }
        fn table_full(&mut self, _: u64, _: usize) {}
    }

    impl Handler<Out> for Taker {
        fn chunk(&mut self, _: &mut ConnMeta, _: Dir, c: Chunk<'_>, _: &mut Out) {
            if let Chunk::Data { bytes, .. } = c {
                self.got.extend_from_slice(bytes);
            }
        }
        fn finish(&mut self, _: &ConnMeta, _: &mut Out) {
            self.finished = true;
            assert_eq!(self.got, b"hello", "nothing after done() is delivered");
        }
        fn done(&self) -> bool {
            self.got.len() >= self.want
        }
    }

    fn seg(c2s: bool, seq: u32, fl: u8, payload: &'static [u8]) -> Segment<'static> {
        let (a, b) = (
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
        );
        let (src, dst, sport, dport) = if c2s {
            (a, b, 40000, 443)
        } else {
            (b, a, 443, 40000)
        };
        Segment {
            src,
            dst,
            sport,
            dport,
            seq,
            ack: 0,
            flags: fl,
            payload,
            claimed_len: payload.len() as u32,
            wire_len: payload.len() as u32,
        }
    }

    #[test]
    fn a_done_handler_gets_nothing_more_and_the_lifecycle_goes_on() {
        let mut t: FlowTable<Taker> = FlowTable::new(
            FlowLimits::default(),
            Box::new(|| Taker {
                got: Vec::new(),
                want: 5,
                finished: false,
            }),
        );
        let mut out = Out::default();
        let ts = |n: i64| Ts::new(1_700_000_000 + n, 0, 6);
        let f = &mut 0u64;
        let mut feed = |t: &mut FlowTable<Taker>, s: Segment<'_>, out: &mut Out| {
            *f += 1;
            t.segment(*f, ts(*f as i64), &s, out);
        };
        feed(&mut t, seg(true, 99, flags::SYN, b""), &mut out);
        feed(&mut t, seg(true, 100, flags::ACK, b"hello"), &mut out);
        // after done: more data, a retransmission, a hole, then FIN both ways
        feed(&mut t, seg(true, 105, flags::ACK, b" world"), &mut out);
        feed(&mut t, seg(true, 105, flags::ACK, b" world"), &mut out);
        feed(
            &mut t,
            seg(true, 200, flags::ACK, b"after a hole"),
            &mut out,
        );
        feed(
            &mut t,
            seg(true, 212, flags::FIN | flags::ACK, b""),
            &mut out,
        );
        feed(
            &mut t,
            seg(false, 500, flags::FIN | flags::ACK, b"bye"),
            &mut out,
        );
        t.finish_all(&mut out);
        assert_eq!(t.stats.discarded, 1);
        let m = &out.metas[0];
        assert_eq!(m.packets, 7);
        assert_eq!(m.retransmissions, 1);
        assert!(
            m.gaps.is_empty(),
            "holes of a discarded connection are not gaps"
        );
        assert_eq!(m.end, ConnEnd::Fin);
        assert_eq!(m.bytes, [5 + 6 + 12, 3]);
        assert!(m.fin_seen[0] && m.fin_seen[1]);
    }
}
