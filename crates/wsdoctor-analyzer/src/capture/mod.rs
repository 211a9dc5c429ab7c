//! `capture`: pcap / pcapng / NetMon records from any `Read` (file, gzip, stdin).
//!
//! The reader owns one buffer that holds at most one record (plus read-ahead),
//! so memory stays constant whatever the file size. Records are parsed with
//! `pcap-parser`'s nom parsers over that buffer; block lengths are checked here
//! first (pcap-parser 0.17 underflows on a pcapng block length under 12, and
//! its `build_ts_resolution` rejects every power-of-two resolution, so
//! timestamps are decoded here as well).

mod netmon;
mod ts;

pub use netmon::{ReadSeek, PRIVATE_LINKTYPE, TABLE_CHUNK};
pub use ts::Ts;

use pcap_parser::pcapng::{parse_block_be, parse_block_le, Block};
use std::fmt;
use std::io::{self, Read};

/// A link-layer header type (the pcap `LINKTYPE_*` registry). Open newtype:
/// any number is representable, known ones have names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Linktype(pub u32);

impl Linktype {
    pub const NULL: Linktype = Linktype(0);
    pub const ETHERNET: Linktype = Linktype(1);
    pub const RAW_12: Linktype = Linktype(12);
    pub const RAW_14: Linktype = Linktype(14);
    pub const LOOP: Linktype = Linktype(108);
    pub const RAW: Linktype = Linktype(101);
    pub const LINUX_SLL: Linktype = Linktype(113);
    pub const IPV4: Linktype = Linktype(228);
    pub const IPV6: Linktype = Linktype(229);
    pub const LINUX_SLL2: Linktype = Linktype(276);

    /// The registry number with the FCS-length/flag bits (pcap "LINKTYPE_EXT")
    /// stripped: the low 16 bits.
    pub fn base(self) -> Linktype {
        Linktype(self.0 & 0xffff)
    }

    pub fn name(self) -> Option<&'static str> {
        if self.0 & 0x0FFF_0000 == PRIVATE_LINKTYPE {
            // NetMon media types without a pcap link type
            return Some(match self.0 & 0xFFFF {
                4 => "NETMON_NDIS_WAN",
                6 => "NETMON_802_11",
                0xE081..=0xE08A => "NETMON_MESSAGE",
                0xFFE0 => "NETMON_EVENT",
                0xFFFB => "NETMON_NETWORK_INFO_EX",
                0xFFFF => "NETMON_FILTER",
                _ => "NETMON_MEDIA",
            });
        }
        Some(match self.base().0 {
            0 => "NULL",
            1 => "ETHERNET",
            6 => "IEEE802_5",
            10 => "FDDI",
            12 | 14 | 101 => "RAW",
            108 => "LOOP",
            113 => "LINUX_SLL",
            228 => "IPV4",
            229 => "IPV6",
            276 => "LINUX_SLL2",
            9 => "PPP",
            50 => "PPP_HDLC",
            104 => "C_HDLC",
            105 => "IEEE802_11",
            127 => "IEEE802_11_RADIOTAP",
            192 => "PPI",
            239 => "NFLOG",
            _ => return None,
        })
    }
}

impl fmt::Display for Linktype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{} ({})", n, self.0),
            None => write!(f, "{}", self.0),
        }
    }
}

/// Container format of a capture file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Pcap,
    Pcapng,
    /// Microsoft Network Monitor 1.x (`RTSS`).
    Netmon1,
    /// Microsoft Network Monitor 2.x (`GMBU`, 2.0 to 2.3).
    Netmon2,
}

impl Format {
    /// The `format` of the JSON Lines contract v1, which knows `pcap` and
    /// `pcapng` only: Network Monitor files are `pcap` there (see
    /// [`Format::as_str`] for what the file really is).
    pub fn contract_name(self) -> &'static str {
        match self {
            Format::Pcapng => "pcapng",
            Format::Pcap | Format::Netmon1 | Format::Netmon2 => "pcap",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Pcap => "pcap",
            Format::Pcapng => "pcapng",
            Format::Netmon1 => "netmon1",
            Format::Netmon2 => "netmon2",
        }
    }
}

/// Limits of the capture reader.
#[derive(Clone, Debug)]
pub struct CaptureLimits {
    /// Largest record (pcap caplen, NetMon frame) or pcapng block accepted.
    /// Larger is an error at that offset (Wireshark's own limit for packets
    /// is 256 KiB).
    pub max_record_bytes: usize,
    /// A NetMon file read from standard input or through gzip is spooled
    /// (its frame table is at the end): at most this many bytes, in memory
    /// up to [`SPOOL_IN_MEMORY`], then in an anonymous temporary file.
    /// Default 4 GiB, the largest NetMon file (frame offsets are 32-bit).
    pub max_spool_bytes: u64,
    /// Bytes of pcapng Decryption Secrets Blocks kept per file (TLS key
    /// logs embedded by `editcap --inject-secrets`); blocks beyond it are
    /// ignored with a warning.
    pub max_secrets_bytes: usize,
}

/// Bytes of a spooled NetMon file kept in memory before it goes to disk.
pub const SPOOL_IN_MEMORY: usize = 4 << 20;

impl Default for CaptureLimits {
    fn default() -> Self {
        CaptureLimits {
            max_record_bytes: 16 << 20,
            max_spool_bytes: 4 << 30,
            max_secrets_bytes: 16 << 20,
        }
    }
}

/// A fatal problem reading a capture: everything before `offset` was read.
#[derive(Debug)]
pub struct CaptureError {
    pub offset: u64,
    pub kind: CaptureErrorKind,
}

#[derive(Debug)]
pub enum CaptureErrorKind {
    /// The first bytes are not a pcap, pcapng or NetMon magic number.
    NotACapture(String),
    /// A record or block header that cannot be right.
    Corrupt(String),
    /// Reading failed.
    Io(io::Error),
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            CaptureErrorKind::NotACapture(m) => {
                write!(f, "not a pcap, pcapng or NetMon file: {m}")
            }
            CaptureErrorKind::Corrupt(m) => {
                write!(f, "corrupt capture at byte {}: {m}", self.offset)
            }
            CaptureErrorKind::Io(e) => write!(f, "read error at byte {}: {e}", self.offset),
        }
    }
}

impl std::error::Error for CaptureError {}

/// Something the reader noticed and went on from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaptureWarning {
    pub offset: u64,
    pub message: String,
}

/// One captured packet.
#[derive(Debug)]
pub struct Record<'a> {
    /// 1-based frame number, as Wireshark numbers it.
    pub frame: u64,
    pub ts: Ts,
    pub linktype: Linktype,
    /// Captured bytes (possibly fewer than `orig_len`).
    pub data: &'a [u8],
    pub orig_len: u32,
    /// Byte offset of the record in the (decompressed) file.
    pub offset: u64,
}

#[derive(Clone, Debug)]
struct Iface {
    linktype: Linktype,
    snaplen: u32,
    /// Units per second.
    per_sec: u64,
    digits: u8,
    offset_secs: i64,
}

enum State {
    Pcap {
        big_endian: bool,
        modified: bool,
        linktype: Linktype,
        per_sec: u64,
        digits: u8,
        snaplen: u32,
    },
    Pcapng {
        big_endian: bool,
        ifaces: Vec<Iface>,
    },
    Netmon(Box<netmon::Netmon>),
}

const PCAPNG_SHB: u32 = 0x0A0D_0D0A;
const PCAPNG_BOM: u32 = 0x1A2B_3C4D;
const BLOCK_OBSOLETE_PACKET: u32 = 2;
const BLOCK_IDB: u32 = 1;
/// pcapng Decryption Secrets Block.
const BLOCK_DSB: u32 = 10;
const BLOCK_SPB: u32 = 3;
const BLOCK_EPB: u32 = 6;

/// Streaming reader of pcap, pcapng and NetMon records.
pub struct CaptureReader<R: Read> {
    src: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// File offset of `buf[start]`.
    offset: u64,
    eof: bool,
    format: Format,
    state: State,
    frame: u64,
    limits: CaptureLimits,
    /// Link types seen (in order of first appearance).
    pub linktypes: Vec<Linktype>,
    /// Set when the file ended inside a record or block.
    pub truncated_at: Option<u64>,
    pub warnings: Vec<CaptureWarning>,
    /// Cap on stored warnings (the rest are counted).
    pub warnings_dropped: u64,
    pending: Option<Pending>,
    /// Decryption Secrets Blocks not yet taken: (secrets type and data as
    /// the block holds them, the section's byte order).
    secrets: Vec<(Vec<u8>, bool)>,
    secrets_bytes: usize,
}

const READ_CHUNK: usize = 256 * 1024;
const MAX_WARNINGS: usize = 100;

#[inline]
fn u32_at(b: &[u8], at: usize, big: bool) -> u32 {
    let a: [u8; 4] = b
        .get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .unwrap_or_default();
    if big {
        u32::from_be_bytes(a)
    } else {
        u32::from_le_bytes(a)
    }
}

impl<R: Read> CaptureReader<R> {
    fn blank(src: R, limits: CaptureLimits) -> Self {
        CaptureReader {
            src,
            buf: vec![0; READ_CHUNK],
            start: 0,
            end: 0,
            offset: 0,
            eof: false,
            format: Format::Pcap,
            state: State::Pcapng {
                big_endian: false,
                ifaces: Vec::new(),
            },
            frame: 0,
            limits,
            linktypes: Vec::new(),
            truncated_at: None,
            warnings: Vec::new(),
            warnings_dropped: 0,
            pending: None,
            secrets: Vec::new(),
            secrets_bytes: 0,
        }
    }

    /// Read the file header and get ready for records. A NetMon file is
    /// spooled (bounded by `limits.max_spool_bytes`) to reach its frame
    /// table; give a seekable file to [`CaptureReader::from_seekable`] to
    /// avoid that.
    pub fn new(src: R, limits: CaptureLimits) -> Result<Self, CaptureError> {
        let mut r = Self::blank(src, limits);
        r.fill(4)?;
        let avail = r.end - r.start;
        if avail < 4 {
            let what = if avail == 0 {
                "the file is empty".to_string()
            } else {
                format!("the file is only {avail} byte(s) long")
            };
            return Err(r.err(CaptureErrorKind::NotACapture(what)));
        }
        let magic_le = u32_at(&r.buf, r.start, false);
        let magic_be = u32_at(&r.buf, r.start, true);
        match magic_be {
            0xa1b2c3d4 | 0xa1b23c4d | 0xa1b2cd34 | 0xd4c3b2a1 | 0x4d3cb2a1 | 0x34cdb2a1 => {
                r.read_pcap_header()?;
            }
            PCAPNG_SHB => {
                r.format = Format::Pcapng;
            }
            _ if is_netmon(&r.buf[r.start..r.end]) => {
                let spool = r.spool()?;
                r.start_netmon(spool)?;
            }
            _ => {
                let hint = if r.buf[r.start..r.start + 2] == [0x1f, 0x8b] {
                    " (gzip data inside gzip?)"
                } else {
                    ""
                };
                return Err(r.err(CaptureErrorKind::NotACapture(format!(
                    "unknown magic number 0x{magic_le:08x}{hint}"
                ))));
            }
        }
        Ok(r)
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// Byte offset of the next unread byte.
    pub fn position(&self) -> u64 {
        self.offset
    }

    fn err(&self, kind: CaptureErrorKind) -> CaptureError {
        CaptureError {
            offset: self.offset,
            kind,
        }
    }

    fn warn(&mut self, offset: u64, message: String) {
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(CaptureWarning { offset, message });
        } else {
            self.warnings_dropped += 1;
        }
    }

    fn note_linktype(&mut self, lt: Linktype) {
        if !self.linktypes.contains(&lt) && self.linktypes.len() < 64 {
            self.linktypes.push(lt);
        }
    }

    /// Make at least `need` bytes available from `start`, unless the input ends.
    /// Short reads are retried; only a 0-byte read is the end.
    #[inline]
    fn fill(&mut self, need: usize) -> Result<(), CaptureError> {
        if self.end - self.start >= need {
            return Ok(());
        }
        self.refill(need)
    }

    /// [`CaptureReader::fill`] when the buffer holds too little: once per
    /// `READ_CHUNK` of input, so kept out of the per-record path.
    #[inline(never)]
    fn refill(&mut self, need: usize) -> Result<(), CaptureError> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.buf.len() < need {
            self.buf.resize(need.max(READ_CHUNK), 0);
        }
        while self.end < need && !self.eof {
            match self.src.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.end += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.err(CaptureErrorKind::Io(e))),
            }
        }
        Ok(())
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        self.offset += n as u64;
        // Give back memory after an unusually large record.
        if self.start == self.end && self.buf.len() > 4 * READ_CHUNK {
            self.buf = vec![0; READ_CHUNK];
            self.start = 0;
            self.end = 0;
        }
    }

    fn read_pcap_header(&mut self) -> Result<(), CaptureError> {
        self.fill(24)?;
        if self.end - self.start < 24 {
            self.truncated_at = Some(self.offset);
            return Err(self.err(CaptureErrorKind::Corrupt(
                "the file ends inside the 24-byte pcap header".into(),
            )));
        }
        // The magic as written by the capturing host tells the byte order,
        // the resolution and the modified (Kuznetsov) record format.
        let magic = u32_at(&self.buf, self.start, false);
        let (big, nsec, modified) = match magic {
            0xa1b2c3d4 => (false, false, false),
            0xa1b23c4d => (false, true, false),
            0xa1b2cd34 => (false, false, true),
            0xd4c3b2a1 => (true, false, false),
            0x4d3cb2a1 => (true, true, false),
            0x34cdb2a1 => (true, false, true),
            _ => {
                return Err(self.err(CaptureErrorKind::Corrupt(format!(
                    "bad pcap magic 0x{magic:08x}"
                ))))
            }
        };
        let snaplen = u32_at(&self.buf, self.start + 16, big);
        let lt = Linktype(u32_at(&self.buf, self.start + 20, big));
        self.note_linktype(lt);
        self.state = State::Pcap {
            big_endian: big,
            modified,
            linktype: lt,
            per_sec: if nsec { 1_000_000_000 } else { 1_000_000 },
            digits: if nsec { 9 } else { 6 },
            snaplen,
        };
        self.format = Format::Pcap;
        self.consume(24);
        Ok(())
    }

    /// The next packet record, `Ok(None)` at the end of the file (check
    /// `truncated_at` for an incomplete last record).
    /// Decryption Secrets Blocks read since the last call (each: its body
    /// between the two length fields, and whether the section is
    /// big-endian). They come before the packets they decrypt.
    pub fn take_secrets(&mut self) -> Vec<(Vec<u8>, bool)> {
        std::mem::take(&mut self.secrets)
    }

    /// Whether [`CaptureReader::take_secrets`] has anything.
    pub fn has_secrets(&self) -> bool {
        !self.secrets.is_empty()
    }

    pub fn next_record(&mut self) -> Result<Option<Record<'_>>, CaptureError> {
        loop {
            match self.format {
                Format::Pcap => return self.next_pcap(),
                Format::Netmon1 | Format::Netmon2 => return self.next_netmon(),
                Format::Pcapng => {
                    // Non-packet blocks return Ok(false); loop until a packet.
                    match self.next_pcapng_block()? {
                        Some(true) => {
                            return Ok(self.pending_pcapng_record());
                        }
                        Some(false) => continue,
                        None => return Ok(None),
                    }
                }
            }
        }
    }

    fn next_pcap(&mut self) -> Result<Option<Record<'_>>, CaptureError> {
        let (big, modified, linktype, per_sec, digits, snaplen) = match &self.state {
            State::Pcap {
                big_endian,
                modified,
                linktype,
                per_sec,
                digits,
                snaplen,
            } => (
                *big_endian,
                *modified,
                *linktype,
                *per_sec,
                *digits,
                *snaplen,
            ),
            _ => return Ok(None),
        };
        let hdr = if modified { 24 } else { 16 };
        self.fill(hdr)?;
        let avail = self.end - self.start;
        if avail == 0 {
            return Ok(None);
        }
        if avail < hdr {
            self.truncated_at = Some(self.offset);
            return Ok(None);
        }
        let caplen = u32_at(&self.buf, self.start + 8, big) as usize;
        if caplen > self.limits.max_record_bytes {
            return Err(self.err(CaptureErrorKind::Corrupt(format!(
                "record {} claims {} captured bytes (limit {})",
                self.frame + 1,
                caplen,
                self.limits.max_record_bytes
            ))));
        }
        self.fill(hdr + caplen)?;
        if self.end - self.start < hdr + caplen {
            self.truncated_at = Some(self.offset);
            return Ok(None);
        }
        // The record header: seconds, fraction, captured and original
        // length, in the file's byte order (the modified format's extra 8
        // bytes follow them).
        let ts_sec = u32_at(&self.buf, self.start, big);
        let ts_frac = u32_at(&self.buf, self.start + 4, big);
        let orig_len = u32_at(&self.buf, self.start + 12, big);
        // (from_parts holds a fraction out of range to the last unit; it
        // is warned about below.)
        let ts = Ts::from_parts(ts_sec as u64, ts_frac as u64, per_sec, 0, digits);
        if ts_frac as u64 >= per_sec {
            let off = self.offset;
            self.warn(
                off,
                format!(
                    "record {}: fractional timestamp {} out of range",
                    self.frame + 1,
                    ts_frac
                ),
            );
        }
        if snaplen > 0 && caplen > snaplen as usize {
            let off = self.offset;
            self.warn(
                off,
                format!(
                    "record {} has {caplen} captured bytes, more than the snaplen {snaplen}",
                    self.frame + 1
                ),
            );
        }
        let offset = self.offset;
        let start = self.start + hdr;
        self.consume(hdr + caplen);
        self.frame += 1;
        Ok(Some(Record {
            frame: self.frame,
            ts,
            linktype,
            data: &self.buf[start..start + caplen],
            orig_len,
            offset,
        }))
    }

    /// Reads one pcapng block. `Some(true)`: a packet is ready at
    /// `self.pending`; `Some(false)`: a non-packet block was handled.
    fn next_pcapng_block(&mut self) -> Result<Option<bool>, CaptureError> {
        self.pending = None;
        self.fill(12)?;
        let avail = self.end - self.start;
        if avail == 0 {
            return Ok(None);
        }
        if avail < 12 {
            self.truncated_at = Some(self.offset);
            return Ok(None);
        }
        let b = &self.buf[self.start..self.end];
        let raw_type = u32_at(b, 0, false);
        let mut big = match &self.state {
            State::Pcapng { big_endian, .. } => *big_endian,
            _ => return Ok(None),
        };
        if raw_type == PCAPNG_SHB {
            let bom = u32_at(b, 8, false);
            big = if bom == PCAPNG_BOM {
                false
            } else if bom.swap_bytes() == PCAPNG_BOM {
                true
            } else {
                return Err(self.err(CaptureErrorKind::Corrupt(format!(
                    "section header with bad byte-order magic 0x{bom:08x}"
                ))));
            };
        } else if self.frame == 0 && self.offset == 0 {
            return Err(self.err(CaptureErrorKind::NotACapture(
                "pcapng file does not start with a section header".into(),
            )));
        }
        let btype = u32_at(b, 0, big);
        let blen = u32_at(b, 4, big) as usize;
        if blen < 12 || blen % 4 != 0 {
            return Err(self.err(CaptureErrorKind::Corrupt(format!(
                "pcapng block type 0x{btype:08x} has invalid length {blen}"
            ))));
        }
        if blen > self.limits.max_record_bytes.saturating_add(64) {
            return Err(self.err(CaptureErrorKind::Corrupt(format!(
                "pcapng block type 0x{btype:08x} claims {blen} bytes (limit {})",
                self.limits.max_record_bytes
            ))));
        }
        self.fill(blen)?;
        if self.end - self.start < blen {
            self.truncated_at = Some(self.offset);
            return Ok(None);
        }
        let offset = self.offset;
        let block_bytes = &self.buf[self.start..self.start + blen];
        let trailer = u32_at(block_bytes, blen - 4, big) as usize;
        if trailer != blen {
            return Err(self.err(CaptureErrorKind::Corrupt(format!(
                "pcapng block type 0x{btype:08x}: trailing length {trailer} differs from {blen}"
            ))));
        }
        let mut result = false;
        match btype {
            PCAPNG_SHB => {
                self.state = State::Pcapng {
                    big_endian: big,
                    ifaces: Vec::new(),
                };
            }
            BLOCK_IDB => {
                let parsed = if big {
                    parse_block_be(block_bytes)
                } else {
                    parse_block_le(block_bytes)
                };
                match parsed {
                    Ok((_, Block::InterfaceDescription(idb))) => {
                        let (per_sec, digits) = tsresol(idb.if_tsresol);
                        let iface = Iface {
                            linktype: Linktype(idb.linktype.0 as u32),
                            snaplen: idb.snaplen,
                            per_sec,
                            digits,
                            offset_secs: idb.if_tsoffset,
                        };
                        let lt = iface.linktype;
                        if let State::Pcapng { ifaces, .. } = &mut self.state {
                            if ifaces.len() < 65_536 {
                                ifaces.push(iface);
                            }
                        }
                        self.note_linktype(lt);
                    }
                    _ => {
                        // Fall back to the fixed fields; options are damaged.
                        let lt = if big {
                            u16::from_be_bytes([block_bytes[8], block_bytes[9]])
                        } else {
                            u16::from_le_bytes([block_bytes[8], block_bytes[9]])
                        };
                        let lt = Linktype(lt as u32);
                        let snaplen = u32_at(block_bytes, 12, big);
                        self.warn(
                            offset,
                            "interface description block with unreadable options".into(),
                        );
                        if let State::Pcapng { ifaces, .. } = &mut self.state {
                            ifaces.push(Iface {
                                linktype: lt,
                                snaplen,
                                per_sec: 1_000_000,
                                digits: 6,
                                offset_secs: 0,
                            });
                        }
                        self.note_linktype(lt);
                    }
                }
            }
            BLOCK_EPB | BLOCK_SPB | BLOCK_OBSOLETE_PACKET => {
                result = self.prepare_packet(btype, blen, big, offset);
            }
            BLOCK_DSB => {
                if self.secrets_bytes.saturating_add(blen) <= self.limits.max_secrets_bytes {
                    self.secrets_bytes += blen;
                    let body = block_bytes.get(8..blen - 4).unwrap_or(&[]).to_vec();
                    self.secrets.push((body, big));
                } else {
                    self.warn(
                        offset,
                        format!(
                            "decryption secrets block ignored: more than {} bytes of secrets in this file",
                            self.limits.max_secrets_bytes
                        ),
                    );
                }
            }
            _ => {}
        }
        if !result {
            self.consume(blen);
        }
        Ok(Some(result))
    }
}

/// Decoded `if_tsresol`: units per second and printable digits.
fn tsresol(r: u8) -> (u64, u8) {
    if r & 0x80 == 0 {
        match 10u64.checked_pow(r as u32) {
            Some(p) if r <= 19 => (p, r.min(9)),
            _ => (1_000_000, 6),
        }
    } else {
        let e = (r & 0x7f) as u32;
        if e <= 63 {
            (1u64 << e, if e == 0 { 0 } else { 9 })
        } else {
            (1_000_000, 6)
        }
    }
}

/// Where a prepared pcapng packet sits in the buffer.
#[derive(Debug)]
struct Pending {
    data_start: usize,
    caplen: usize,
    orig_len: u32,
    ts: Ts,
    linktype: Linktype,
    offset: u64,
    block_len: usize,
}

impl<R: Read> CaptureReader<R> {
    fn prepare_packet(&mut self, btype: u32, blen: usize, big: bool, offset: u64) -> bool {
        let b = &self.buf[self.start..self.start + blen];
        let ifaces = match &self.state {
            State::Pcapng { ifaces, .. } => ifaces,
            _ => return false,
        };
        let (if_id, ts_units, caplen, orig_len, data_off) = match btype {
            BLOCK_EPB => {
                if blen < 32 {
                    self.warn(
                        offset,
                        format!("enhanced packet block of {blen} bytes is too short"),
                    );
                    return false;
                }
                let hi = u32_at(b, 12, big) as u64;
                let lo = u32_at(b, 16, big) as u64;
                (
                    u32_at(b, 8, big) as usize,
                    Some((hi << 32) | lo),
                    u32_at(b, 20, big) as usize,
                    u32_at(b, 24, big),
                    28usize,
                )
            }
            BLOCK_OBSOLETE_PACKET => {
                if blen < 32 {
                    self.warn(offset, format!("packet block of {blen} bytes is too short"));
                    return false;
                }
                let id = if big {
                    u16::from_be_bytes([b[8], b[9]])
                } else {
                    u16::from_le_bytes([b[8], b[9]])
                };
                let hi = u32_at(b, 12, big) as u64;
                let lo = u32_at(b, 16, big) as u64;
                (
                    id as usize,
                    Some((hi << 32) | lo),
                    u32_at(b, 20, big) as usize,
                    u32_at(b, 24, big),
                    28usize,
                )
            }
            _ => {
                // SPB: interface 0, no timestamp.
                let orig = u32_at(b, 8, big);
                let snap = ifaces.first().map(|i| i.snaplen).unwrap_or(0);
                let room = blen.saturating_sub(16);
                let mut cap = orig as usize;
                if snap > 0 {
                    cap = cap.min(snap as usize);
                }
                (0, None, cap.min(room), orig, 12usize)
            }
        };
        let Some(iface) = ifaces.get(if_id).cloned() else {
            let n = ifaces.len();
            self.warn(
                offset,
                format!("packet for interface {if_id}, but only {n} interface(s) are described; skipped"),
            );
            self.frame += 1;
            return false;
        };
        let room = blen.saturating_sub(data_off + 4);
        let caplen = if caplen > room {
            self.warn(
                offset,
                format!("packet claims {caplen} captured bytes but its block holds {room}"),
            );
            room
        } else {
            caplen
        };
        // A block may be up to 64 bytes longer than the record limit (its
        // headers and options); the packet in it may not.
        let limit = self.limits.max_record_bytes;
        let caplen = if caplen > limit {
            self.warn(
                offset,
                format!("packet holds {caplen} captured bytes, more than the limit of {limit}; only the first {limit} are read"),
            );
            limit
        } else {
            caplen
        };
        if iface.snaplen > 0 && caplen > iface.snaplen as usize {
            self.warn(
                offset,
                format!(
                    "packet has {caplen} captured bytes, more than its interface's snaplen {}",
                    iface.snaplen
                ),
            );
        }
        let ts = match ts_units {
            Some(u) => Ts::from_units(u, iface.per_sec, iface.offset_secs, iface.digits),
            None => Ts::new(0, 0, iface.digits),
        };
        self.pending = Some(Pending {
            data_start: self.start + data_off,
            caplen,
            orig_len,
            ts,
            linktype: iface.linktype,
            offset,
            block_len: blen,
        });
        true
    }

    fn pending_pcapng_record(&mut self) -> Option<Record<'_>> {
        let p = self.pending.take()?;
        self.frame += 1;
        self.start += p.block_len;
        self.offset += p.block_len as u64;
        Some(Record {
            frame: self.frame,
            ts: p.ts,
            linktype: p.linktype,
            data: &self.buf[p.data_start..p.data_start + p.caplen],
            orig_len: p.orig_len,
            offset: p.offset,
        })
    }

    /// Number of records returned so far (the last frame number).
    pub fn frames(&self) -> u64 {
        self.frame
    }
}

fn is_netmon(head: &[u8]) -> bool {
    head.get(..4)
        .is_some_and(|m| m == netmon::MAGIC_1 || m == netmon::MAGIC_2)
}

impl<R: Read> CaptureReader<R> {
    /// Copy the whole input (what is buffered, then the rest) into a spool:
    /// memory up to [`SPOOL_IN_MEMORY`], then an anonymous temporary file.
    fn spool(&mut self) -> Result<Box<dyn ReadSeek>, CaptureError> {
        use std::io::{Seek, SeekFrom, Write};
        let io_err = |offset: u64| {
            move |e: io::Error| CaptureError {
                offset,
                kind: CaptureErrorKind::Io(e),
            }
        };
        let max = self.limits.max_spool_bytes;
        let mut spool = tempfile::SpooledTempFile::new(SPOOL_IN_MEMORY);
        let mut total = (self.end - self.start) as u64;
        spool
            .write_all(&self.buf[self.start..self.end])
            .map_err(io_err(0))?;
        loop {
            if total > max {
                return Err(CaptureError {
                    offset: max,
                    kind: CaptureErrorKind::Corrupt(format!(
                        "a NetMon file has its frame table at the end, so one read from standard input or through gzip is spooled first; this one is larger than the spool limit ({max} bytes): give wsdoctor the uncompressed file itself"
                    )),
                });
            }
            let n = match self.src.read(&mut self.buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_err(total)(e)),
            };
            spool.write_all(&self.buf[..n]).map_err(io_err(total))?;
            total += n as u64;
        }
        self.start = 0;
        self.end = 0;
        self.eof = true;
        spool.seek(SeekFrom::Start(0)).map_err(io_err(0))?;
        Ok(Box::new(spool))
    }

    #[inline(never)]
    fn start_netmon(&mut self, src: Box<dyn ReadSeek>) -> Result<(), CaptureError> {
        let mut warns = Vec::new();
        let mut truncated = None;
        let nm = netmon::Netmon::open(src, &mut |o, m| warns.push((o, m)), &mut truncated);
        for (o, m) in warns {
            self.warn(o, m);
        }
        if truncated.is_some() {
            self.truncated_at = truncated;
        }
        let nm = nm?;
        self.format = if nm.major == 1 {
            Format::Netmon1
        } else {
            Format::Netmon2
        };
        if !(nm.major == 2 && nm.minor >= 1) {
            self.note_linktype(nm.linktype);
        }
        self.offset = netmon::HEADER_LEN.min(nm.file_len());
        self.state = State::Netmon(Box::new(nm));
        Ok(())
    }

    #[inline(never)]
    fn next_netmon(&mut self) -> Result<Option<Record<'_>>, CaptureError> {
        let State::Netmon(nm) = &mut self.state else {
            return Ok(None);
        };
        let mut warns = Vec::new();
        let r = nm.next(&mut self.buf, &self.limits, self.frame, &mut |o, m| {
            warns.push((o, m))
        });
        for (o, m) in warns {
            self.warn(o, m);
        }
        match r {
            Err(e) => {
                self.offset = e.offset;
                Err(e)
            }
            Ok(netmon::Next::End) => Ok(None),
            Ok(netmon::Next::Truncated(at)) => {
                self.truncated_at = Some(at);
                Ok(None)
            }
            Ok(netmon::Next::Frame(f)) => {
                self.frame += 1;
                self.note_linktype(f.linktype);
                self.offset = f.offset;
                let end = f.data_start + f.caplen;
                Ok(Some(Record {
                    frame: self.frame,
                    ts: f.ts,
                    linktype: f.linktype,
                    data: self.buf.get(f.data_start..end).unwrap_or(&[]),
                    orig_len: f.orig_len,
                    offset: f.offset,
                }))
            }
        }
    }
}

impl CaptureReader<Box<dyn Read + Send>> {
    /// A NetMon file from a seekable source (the file itself): frames are
    /// read through its frame table, without spooling.
    pub fn from_seekable(
        src: Box<dyn ReadSeek>,
        limits: CaptureLimits,
    ) -> Result<Self, CaptureError> {
        let mut r = Self::blank(Box::new(io::empty()), limits);
        r.eof = true;
        r.start_netmon(src)?;
        Ok(r)
    }
}

/// Opens a capture file (or standard input for `-`), transparently
/// decompressing gzip as Wireshark does. Byte offsets in errors and warnings
/// are offsets in the decompressed data.
pub fn open(
    path: &std::path::Path,
    limits: CaptureLimits,
) -> Result<CaptureReader<Box<dyn Read + Send>>, CaptureError> {
    use std::io::BufRead;
    let io_err = |e: io::Error| CaptureError {
        offset: 0,
        kind: CaptureErrorKind::Io(e),
    };
    let stdin = path.as_os_str() == "-";
    let raw: Box<dyn ReadOrFile> = if stdin {
        Box::new(io::stdin())
    } else {
        Box::new(std::fs::File::open(path).map_err(io_err)?)
    };
    let mut br = io::BufReader::with_capacity(64 * 1024, raw);
    // Peek at the magic; fill_buf may return fewer bytes than asked (a pipe),
    // so keep the check to what it gives: 2 bytes suffice for gzip's magic.
    let (gzip, netmon) = loop {
        match br.fill_buf() {
            Ok(b) => break (b.get(..2) == Some(&[0x1f, 0x8b][..]), is_netmon(b)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_err(e)),
        }
    };
    if netmon && !stdin {
        // A NetMon file on disk: seek through its frame table, no spool.
        return CaptureReader::from_seekable(Box::new(SeekFile(br)), limits);
    }
    let src: Box<dyn Read + Send> = if gzip {
        Box::new(flate2::read::MultiGzDecoder::new(br))
    } else {
        Box::new(br)
    };
    CaptureReader::new(src, limits)
}

/// Standard input or a file, behind one buffered reader.
trait ReadOrFile: Read + Send {
    fn seek_to(&mut self, pos: io::SeekFrom) -> io::Result<u64>;
}

impl ReadOrFile for io::Stdin {
    fn seek_to(&mut self, _: io::SeekFrom) -> io::Result<u64> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "standard input cannot seek",
        ))
    }
}

impl ReadOrFile for std::fs::File {
    fn seek_to(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
        io::Seek::seek(self, pos)
    }
}

/// The buffered file, seekable (what it buffered is dropped on a seek).
struct SeekFile(io::BufReader<Box<dyn ReadOrFile>>);

impl Read for SeekFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl io::Seek for SeekFile {
    fn seek(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
        use std::io::BufRead;
        // BufReader<File> would do this itself; through the trait object
        // drop the buffered bytes, then seek the file.
        let pos = match pos {
            io::SeekFrom::Current(d) => {
                let buffered = self.0.buffer().len() as i64;
                io::SeekFrom::Current(d - buffered)
            }
            p => p,
        };
        let n = self.0.buffer().len();
        self.0.consume(n);
        self.0.get_mut().seek_to(pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out one byte per read call (a slow pipe).
    struct Trickle<'a>(&'a [u8]);
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() || buf.is_empty() {
                return Ok(0);
            }
            buf[0] = self.0[0];
            self.0 = &self.0[1..];
            Ok(1)
        }
    }

    fn block(big: bool, ty: u32, body: &[u8]) -> Vec<u8> {
        let len = (12 + body.len()).div_ceil(4) * 4;
        let w = |v: u32| {
            if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let mut b = Vec::new();
        b.extend_from_slice(&w(ty));
        b.extend_from_slice(&w(len as u32));
        b.extend_from_slice(body);
        b.resize(len - 4, 0);
        b.extend_from_slice(&w(len as u32));
        b
    }

    fn shb(big: bool) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(&if big {
            PCAPNG_BOM.to_be_bytes()
        } else {
            PCAPNG_BOM.to_le_bytes()
        });
        body.extend_from_slice(&if big {
            1u16.to_be_bytes()
        } else {
            1u16.to_le_bytes()
        });
        body.extend_from_slice(&[0, 0]);
        body.extend_from_slice(&[0xff; 8]);
        block(big, PCAPNG_SHB, &body)
    }

    fn idb(big: bool, linktype: u16, tsresol: Option<u8>) -> Vec<u8> {
        let h16 = |v: u16| {
            if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let mut body = Vec::new();
        body.extend_from_slice(&h16(linktype));
        body.extend_from_slice(&[0, 0]);
        body.extend_from_slice(&if big {
            65535u32.to_be_bytes()
        } else {
            65535u32.to_le_bytes()
        });
        if let Some(r) = tsresol {
            body.extend_from_slice(&h16(9));
            body.extend_from_slice(&h16(1));
            body.extend_from_slice(&[r, 0, 0, 0]);
            body.extend_from_slice(&[0, 0, 0, 0]);
        }
        block(big, BLOCK_IDB, &body)
    }

    fn epb(big: bool, iface: u32, ts: u64, data: &[u8]) -> Vec<u8> {
        let w = |v: u32| {
            if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let mut body = Vec::new();
        body.extend_from_slice(&w(iface));
        body.extend_from_slice(&w((ts >> 32) as u32));
        body.extend_from_slice(&w(ts as u32));
        body.extend_from_slice(&w(data.len() as u32));
        body.extend_from_slice(&w(data.len() as u32));
        body.extend_from_slice(data);
        while body.len() % 4 != 0 {
            body.push(0);
        }
        block(big, BLOCK_EPB, &body)
    }

    /// frame, timestamp, link type, bytes
    type Rec = (u64, Ts, Linktype, Vec<u8>);
    /// records, warnings, truncated at, fatal error
    type ReadAll = (
        Vec<Rec>,
        Vec<CaptureWarning>,
        Option<u64>,
        Option<CaptureError>,
    );

    fn read_all(bytes: &[u8]) -> ReadAll {
        let mut r = match CaptureReader::new(Trickle(bytes), CaptureLimits::default()) {
            Ok(r) => r,
            Err(e) => return (vec![], vec![], None, Some(e)),
        };
        let mut out = Vec::new();
        let err = loop {
            match r.next_record() {
                Ok(Some(rec)) => out.push((rec.frame, rec.ts, rec.linktype, rec.data.to_vec())),
                Ok(None) => break None,
                Err(e) => break Some(e),
            }
        };
        (out, r.warnings.clone(), r.truncated_at, err)
    }

    #[test]
    fn pcapng_sections_interfaces_and_resolutions() {
        // Section 1 (little endian): Ethernet in microseconds, raw IP in 2^-10 s.
        let mut f = shb(false);
        f.extend(idb(false, 1, None));
        f.extend(idb(false, 101, Some(0x80 | 10)));
        f.extend(epb(false, 0, 1_500_000, b"eth"));
        f.extend(epb(false, 1, 3 * 1024 + 512, b"raw"));
        f.extend(epb(false, 7, 0, b"nobody")); // no such interface
                                               // Section 2 (big endian): its own interface list, nanoseconds.
        f.extend(shb(true));
        f.extend(idb(true, 113, Some(9)));
        f.extend(epb(true, 0, 2_000_000_123, b"sll"));
        let (recs, warnings, trunc, err) = read_all(&f);
        assert!(err.is_none() && trunc.is_none(), "{err:?}");
        let frames: Vec<u64> = recs.iter().map(|r| r.0).collect();
        // The record for the missing interface still takes its frame number.
        assert_eq!(frames, [1, 2, 4]);
        assert_eq!(
            (recs[0].1.secs, recs[0].1.nanos, recs[0].1.digits),
            (1, 500_000_000, 6)
        );
        assert_eq!(recs[0].2, Linktype::ETHERNET);
        assert_eq!((recs[1].1.secs, recs[1].1.nanos), (3, 500_000_000));
        assert_eq!(recs[1].2, Linktype::RAW);
        assert_eq!(
            (recs[2].1.secs, recs[2].1.nanos, recs[2].1.digits),
            (2, 123, 9)
        );
        assert_eq!(recs[2].2, Linktype::LINUX_SLL);
        assert_eq!(recs[2].3, b"sll");
        assert!(warnings[0].message.contains("interface 7"), "{warnings:?}");
    }

    /// A classic pcap file: `magic` as written by a host of that byte order
    /// (`big`), one record per (seconds, fraction, data), `extra` bytes after
    /// each record header (8 in the modified format).
    fn pcap_file(magic: u32, big: bool, extra: usize, recs: &[(u32, u32, &[u8])]) -> Vec<u8> {
        let w = |v: u32| {
            if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let mut f = w(magic).to_vec();
        f.extend_from_slice(&if big { [0, 2, 0, 4] } else { [2, 0, 4, 0] });
        f.extend_from_slice(&[0; 8]);
        f.extend_from_slice(&w(65535));
        f.extend_from_slice(&w(1));
        for (sec, frac, data) in recs {
            f.extend_from_slice(&w(*sec));
            f.extend_from_slice(&w(*frac));
            f.extend_from_slice(&w(data.len() as u32));
            f.extend_from_slice(&w(data.len() as u32 + 100));
            f.extend(std::iter::repeat_n(0xee, extra));
            f.extend_from_slice(data);
        }
        f
    }

    #[test]
    fn pcap_records_in_either_byte_order_and_the_modified_format() {
        for big in [false, true] {
            for (magic, extra, nanos) in [
                (0xa1b2c3d4u32, 0, 250_000),
                (0xa1b23c4d, 0, 250),
                (0xa1b2cd34, 8, 250_000),
            ] {
                let f = pcap_file(magic, big, extra, &[(7, 250, b"abc"), (8, 999_999, b"")]);
                let mut r = CaptureReader::new(Trickle(&f), CaptureLimits::default()).unwrap();
                let what = format!("magic {magic:08x} big {big}");
                let rec = r.next_record().unwrap().expect(&what);
                assert_eq!((rec.ts.secs, rec.ts.nanos), (7, nanos), "{what}");
                assert_eq!((rec.data, rec.orig_len), (&b"abc"[..], 103), "{what}");
                let rec = r.next_record().unwrap().expect(&what);
                assert_eq!(
                    (rec.frame, rec.data.len(), rec.orig_len),
                    (2, 0, 100),
                    "{what}"
                );
                assert!(r.next_record().unwrap().is_none(), "{what}");
                assert!(r.truncated_at.is_none() && r.warnings.is_empty(), "{what}");
            }
        }
    }

    #[test]
    fn a_simple_packet_block_is_held_to_the_record_limit() {
        // An SPB's headers are 16 bytes, so a block within the limit's 64
        // bytes of slack can hold a packet over the limit: it is cut to it.
        let mut f = shb(false);
        f.extend(idb(false, 1, None));
        let mut body = 140u32.to_le_bytes().to_vec();
        body.extend_from_slice(&[0xab; 140]);
        f.extend(block(false, BLOCK_SPB, &body));
        let small = CaptureLimits {
            max_record_bytes: 100,
            ..CaptureLimits::default()
        };
        let mut r = CaptureReader::new(Trickle(&f), small).unwrap();
        let rec = r.next_record().unwrap().expect("the packet");
        assert_eq!((rec.data.len(), rec.orig_len), (100, 140));
        assert!(r.next_record().unwrap().is_none());
        assert!(
            r.warnings[0].message.contains("more than the limit of 100"),
            "{:?}",
            r.warnings
        );
    }

    #[test]
    fn block_length_under_12_is_an_error_not_a_panic() {
        let mut f = shb(false);
        f.extend(idb(false, 1, None));
        let at = f.len() as u64;
        let mut bad = block(false, BLOCK_EPB, &[]);
        bad[4..8].copy_from_slice(&8u32.to_le_bytes());
        f.extend(bad);
        let (recs, _, _, err) = read_all(&f);
        assert!(recs.is_empty());
        let e = err.expect("an error");
        assert_eq!(e.offset, at);
        assert!(e.to_string().contains("invalid length 8"), "{e}");
    }

    #[test]
    fn truncated_block_and_record() {
        let mut f = shb(false);
        f.extend(idb(false, 1, None));
        f.extend(epb(false, 0, 0, b"one"));
        let cut_at = f.len() as u64;
        f.extend(epb(false, 0, 0, b"two is cut"));
        for cut in (cut_at as usize + 1)..f.len() {
            let (recs, _, trunc, err) = read_all(&f[..cut]);
            assert_eq!(recs.len(), 1);
            assert!(err.is_none());
            assert_eq!(trunc, Some(cut_at), "cut {cut}");
        }
        // pcap: header, one record, then half a record
        let mut p = vec![
            0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0,
            0,
        ];
        let rec = |d: &[u8]| {
            let mut r = vec![1, 0, 0, 0, 2, 0, 0, 0];
            r.extend_from_slice(&(d.len() as u32).to_le_bytes());
            r.extend_from_slice(&(d.len() as u32).to_le_bytes());
            r.extend_from_slice(d);
            r
        };
        p.extend(rec(b"abc"));
        let at = p.len() as u64;
        p.extend(&rec(b"defgh")[..10]);
        let (recs, _, trunc, _) = read_all(&p);
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].1.nanos, 2_000);
        assert_eq!(trunc, Some(at));
    }

    #[test]
    fn not_captures() {
        for bytes in [
            &b""[..],
            b"x",
            b"GET / HTTP/1.1\r\n\r\n",
            &[0x1f, 0x8b, 8, 0],
        ] {
            let (_, _, _, err) = read_all(bytes);
            assert!(
                matches!(
                    err,
                    Some(CaptureError {
                        kind: CaptureErrorKind::NotACapture(_),
                        ..
                    })
                ),
                "{bytes:?}"
            );
        }
    }

    use super::netmon::tests::build as netmon_file;

    fn eth(tag: u8) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x08, 0x00, tag]);
        f
    }

    /// Through the spool (a slow pipe) and through a seekable source.
    fn read_netmon(bytes: &[u8]) -> (ReadAll, ReadAll) {
        let a = read_all(bytes);
        let mut r = match CaptureReader::from_seekable(
            Box::new(io::Cursor::new(bytes.to_vec())),
            CaptureLimits::default(),
        ) {
            Ok(r) => r,
            Err(e) => return (a, (vec![], vec![], None, Some(e))),
        };
        let mut out = Vec::new();
        let err = loop {
            match r.next_record() {
                Ok(Some(rec)) => out.push((rec.frame, rec.ts, rec.linktype, rec.data.to_vec())),
                Ok(None) => break None,
                Err(e) => break Some(e),
            }
        };
        (a, (out, r.warnings.clone(), r.truncated_at, err))
    }

    #[test]
    fn netmon_versions_timestamps_and_media() {
        let (e1, e2, e3) = (eth(1), eth(2), eth(3));
        // 1.x: millisecond deltas from 2026-11-25 16:53:01.123
        let f = netmon_file(1, 1, 1, &[(0, &e1, 0), (1500, &e2, 0)]);
        let ((recs, w, trunc, err), (recs2, _, _, err2)) = read_netmon(&f);
        assert!(
            err.is_none() && err2.is_none() && trunc.is_none(),
            "{err:?} {w:?}"
        );
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].1, Ts::new(1_764_089_581, 123_000_000, 3));
        assert_eq!(recs[1].1, Ts::new(1_764_089_582, 623_000_000, 3));
        assert_eq!(recs[1].3, e2);
        assert_eq!(recs[0].2, Linktype::ETHERNET);
        assert_eq!(
            recs.iter().map(|r| &r.3).collect::<Vec<_>>(),
            recs2.iter().map(|r| &r.3).collect::<Vec<_>>()
        );
        // 2.0: microseconds; a delta of 2^64 - 1 us reads as Wireshark does (-1000 ns)
        let f = netmon_file(2, 0, 9, &[(250, &e1, 0), (u64::MAX, &e2, 0)]);
        let ((recs, _, _, err), _) = read_netmon(&f);
        assert!(err.is_none());
        assert_eq!(recs[0].1, Ts::new(1_764_089_581, 123_250_000, 6));
        assert_eq!(recs[1].1, Ts::new(1_764_089_581, 122_999_000, 6));
        assert_eq!(recs[0].2, Linktype::RAW); // media 9: raw IP
                                              // 2.1: per-frame media; 0xFFFD (network info) is not a frame
        let f = netmon_file(
            2,
            1,
            1,
            &[(0, &e1, 0xE001), (1, &e2, 0xFFFD), (2, &e3, 0xFFE0)],
        );
        let ((recs, _, _, err), _) = read_netmon(&f);
        assert!(err.is_none());
        let frames: Vec<(u64, u32)> = recs.iter().map(|r| (r.0, r.2 .0)).collect();
        assert_eq!(frames, [(1, 1), (2, PRIVATE_LINKTYPE | 0xFFE0)]);
        assert_eq!(recs[1].3, e3);
        // 2.2 (6-byte trailer) and 2.3 (15 bytes, UTC FILETIME)
        let f = netmon_file(2, 2, 1, &[(7, &e1, 0xE001)]);
        let ((recs, _, _, err), _) = read_netmon(&f);
        assert!(err.is_none());
        assert_eq!(
            (recs[0].1.nanos, recs[0].3.clone()),
            (123_007_000, e1.clone())
        );
        let f = netmon_file(2, 3, 1, &[(7, &e1, 0xE001)]);
        let ((recs, _, _, err), _) = read_netmon(&f);
        assert!(err.is_none());
        assert_eq!(recs[0].1, Ts::new(1_764_089_581, 500_000_000, 7));
    }

    #[test]
    fn netmon_80211_radio_header_is_stripped() {
        let mut radio = vec![2u8, 32, 0];
        radio.resize(32, 0);
        let mut frame = radio.clone();
        frame.extend_from_slice(&[0x08, 0x01, 0, 0, 9, 9]);
        let f = netmon_file(2, 0, 6, &[(0, &frame, 0)]);
        let ((recs, _, _, err), _) = read_netmon(&f);
        assert!(err.is_none());
        assert_eq!(recs[0].2, Linktype(105));
        assert_eq!(recs[0].3, [0x08, 0x01, 0, 0, 9, 9]);
    }

    #[test]
    fn netmon_truncated_at_every_length() {
        let frames: Vec<Vec<u8>> = (0..4).map(eth).collect();
        let list: Vec<(u64, &[u8], u16)> = frames.iter().map(|f| (10, &f[..], 0)).collect();
        for (major, minor) in [(1, 1), (2, 0), (2, 3)] {
            let f = netmon_file(major, minor, 1, &list);
            let frame_len = f.len() - netmon::HEADER_LEN as usize - 16;
            let per = frame_len / 4;
            for cut in 0..f.len() {
                let ((recs, _, trunc, err), (recs2, _, trunc2, err2)) = read_netmon(&f[..cut]);
                assert_eq!(recs.len(), recs2.len(), "cut {cut}");
                assert_eq!(trunc, trunc2, "cut {cut}");
                assert_eq!(err.is_some(), err2.is_some(), "cut {cut}");
                if cut < 64 {
                    assert!(err.is_some(), "cut {cut}");
                    continue;
                }
                // the frames complete before the cut are read in file order
                let complete = cut.saturating_sub(netmon::HEADER_LEN as usize) / per;
                assert_eq!(recs.len(), complete.min(4), "{major}.{minor} cut {cut}");
                assert!(err.is_none(), "cut {cut}: {err:?}");
                assert!(trunc.is_some(), "cut {cut}");
                for (i, r) in recs.iter().enumerate() {
                    assert_eq!(r.3, frames[i]);
                }
            }
        }
    }

    #[test]
    fn netmon_corrupt_headers_and_tables() {
        let e = eth(7);
        let good = netmon_file(2, 0, 1, &[(0, &e, 0), (1, &e, 0)]);
        // version 3
        let mut f = good.clone();
        f[5] = 3;
        let ((_, _, _, err), _) = read_netmon(&f);
        assert!(err.unwrap().to_string().contains("version 3"));
        // a table entry past the end of the file
        let mut f = good.clone();
        let t = u32::from_le_bytes([f[24], f[25], f[26], f[27]]) as usize;
        f[t + 4..t + 8].copy_from_slice(&0x00ff_0000u32.to_le_bytes());
        let ((recs, _, _, err), _) = read_netmon(&f);
        assert_eq!(recs.len(), 1);
        assert!(err.unwrap().to_string().contains("past the end"));
        // a frame claiming 256 MiB
        let mut f = good.clone();
        f[128 + 12..128 + 16].copy_from_slice(&(256u32 << 20).to_le_bytes());
        let ((recs, _, _, err), _) = read_netmon(&f);
        assert!(recs.is_empty());
        assert!(err.unwrap().to_string().contains("limit"));
        // table entries backwards and repeated: read in table order
        let mut f = good.clone();
        let (a, b) = (f[t..t + 4].to_vec(), f[t + 4..t + 8].to_vec());
        f[t..t + 4].copy_from_slice(&b);
        f[t + 4..t + 8].copy_from_slice(&a);
        let ((recs, _, _, err), _) = read_netmon(&f);
        assert!(err.is_none());
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].1.nanos, 123_001_000);
        // no table at all (never closed): frames in file order, a warning
        let mut f = good.clone();
        f[24..32].copy_from_slice(&[0; 8]);
        let ((recs, w, _, err), _) = read_netmon(&f[..t]);
        assert!(err.is_none());
        assert_eq!(recs.len(), 2);
        assert!(w[0].message.contains("no frame table"), "{w:?}");
        // a media type without a link type is still read (and counted later)
        let f = netmon_file(2, 0, 11, &[(0, &e, 0)]);
        let ((recs, _, _, err), _) = read_netmon(&f);
        assert!(err.is_none());
        assert_eq!(recs[0].2 .0, PRIVATE_LINKTYPE | 11);
        assert_eq!(
            recs[0].2.to_string(),
            format!("NETMON_MEDIA ({})", PRIVATE_LINKTYPE | 11)
        );
    }

    #[test]
    fn netmon_spool_limit() {
        let e = eth(1);
        let f = netmon_file(2, 0, 1, &[(0, &e, 0)]);
        let lim = CaptureLimits {
            max_spool_bytes: 100,
            ..CaptureLimits::default()
        };
        match CaptureReader::new(Trickle(&f), lim) {
            Err(e) => assert!(e.to_string().contains("spool limit"), "{e}"),
            Ok(_) => panic!("over the spool limit"),
        }
    }

    #[test]
    fn tsresol_decoding() {
        assert_eq!(tsresol(6), (1_000_000, 6));
        assert_eq!(tsresol(9), (1_000_000_000, 9));
        assert_eq!(tsresol(0x80 | 20), (1 << 20, 9));
        assert_eq!(tsresol(0x80 | 63), (1 << 63, 9));
        assert_eq!(tsresol(0xff), (1_000_000, 6));
        assert_eq!(tsresol(20), (1_000_000, 6));
    }
}
