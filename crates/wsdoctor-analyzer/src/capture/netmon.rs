//! Microsoft Network Monitor capture files (`.cap`): NetMon 1.x ("RTSS")
//! and 2.x ("GMBU", versions 2.0 to 2.3), as Wireshark's `wiretap/netmon.c`
//! reads them and as `editcap -F netmon1|netmon2` writes them.
//!
//! Layout: a 128-byte header (version, media type, the capture start as a
//! local-time SYSTEMTIME, offset and length of the frame table), frames
//! (1.x: 8-byte header with a millisecond delta and 16-bit lengths; 2.x:
//! 16-byte header with a microsecond delta and 32-bit lengths; 2.1 and
//! later add a trailer after the data with a per-frame media type, 2.3 a
//! UTC FILETIME too), and the frame table: one 32-bit file offset per
//! frame, in frame order, usually at the very end of the file.
//!
//! So the reader needs random access: it seeks to each frame through the
//! table, which it reads in chunks of [`TABLE_CHUNK`] entries (constant
//! memory whatever the number of frames). The caller gives a seekable
//! source: the file itself, or (for standard input and gzip) a bounded
//! spool (see `CaptureReader::new`).
//!
//! A file cut short has lost its frame table (or part of it): the frames
//! are then read in file order from byte 128, as far as they are complete,
//! and the cut is reported like any truncated capture.

use super::{CaptureError, CaptureErrorKind, CaptureLimits, Linktype, Ts};
use std::io::{self, Read, Seek, SeekFrom};

/// A seekable byte source.
pub trait ReadSeek: Read + Seek + Send {}
impl<T: Read + Seek + Send> ReadSeek for T {}

pub const MAGIC_1: &[u8; 4] = b"RTSS";
pub const MAGIC_2: &[u8; 4] = b"GMBU";
/// The file header, padded; frames written by NetMon and editcap start here.
pub const HEADER_LEN: u64 = 128;
/// The part of the header with fields in it.
const HEADER_FIELDS: usize = 64;
/// Frame-table entries read at once (4 bytes each: 64 KiB).
pub const TABLE_CHUNK: usize = 16 * 1024;

/// NetMon media types without a pcap link type are reported as this base
/// plus the NetMon number (bits 16-27, which pcap reserves, are set, so no
/// pcap link type can look the same). They are counted, not decoded.
pub const PRIVATE_LINKTYPE: u32 = 0x0FFF_0000;

/// Per-frame media types that are capture metadata Wireshark does not
/// number as frames (payload header, network info, DNS cache).
fn skipped_metadata(network: u16) -> bool {
    matches!(network, 0xFFFC..=0xFFFE)
}

/// NetMon "media type" (NDIS medium, reused by 2.x) to a link type,
/// as Wireshark maps them.
fn media_linktype(media: u16) -> Linktype {
    match media {
        // 0: some NetMon 3.4 VPN captures; the packets are Ethernet
        0 | 1 => Linktype::ETHERNET,
        2 => Linktype(6),  // Token Ring
        3 => Linktype(10), // FDDI (bit-swapped)
        // 7: tunnelling interfaces, 8: wireless WAN, 9: raw IP frames
        7..=9 => Linktype::RAW,
        // 4: NDIS WAN (ATM with a 16-byte pseudo header), 6: 802.11 with
        // NetMon's radio header (stripped below), others unknown
        m => Linktype(PRIVATE_LINKTYPE | u32::from(m)),
    }
}

/// The per-frame media type of NetMon 2.1+ to a link type.
fn frame_linktype(network: u16) -> Linktype {
    match network {
        0xE080 => Linktype(105), // "WiFi Message": plain 802.11
        0xE081..=0xE08A => Linktype(PRIVATE_LINKTYPE | u32::from(network)),
        // a converted pcap: the pcap link type with 0xE000 added
        n if n & 0xF000 == 0xE000 => Linktype(u32::from(n & 0x0FFF)),
        n if n < 12 => media_linktype(n),
        n => Linktype(PRIVATE_LINKTYPE | u32::from(n)),
    }
}

const NETMON_80211: Linktype = Linktype(PRIVATE_LINKTYPE | 6);

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn le16(b: &[u8], at: usize) -> u16 {
    b.get(at..at + 2)
        .map(|x| u16::from_le_bytes([x[0], x[1]]))
        .unwrap_or(0)
}

fn le32(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .map(|x| u32::from_le_bytes([x[0], x[1], x[2], x[3]]))
        .unwrap_or(0)
}

fn le64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    if let Some(x) = b.get(at..at + 8) {
        a.copy_from_slice(x);
    }
    u64::from_le_bytes(a)
}

/// Where the frames come from.
enum Mode {
    /// Through the frame table.
    Table {
        off: u64,
        entries: u64,
        next: u64,
        chunk: Vec<u32>,
        chunk_first: u64,
    },
    /// In file order from `next` up to `end` (the table is missing).
    Scan {
        next: u64,
        end: u64,
    },
    Done,
}

/// One frame read into the caller's buffer.
#[derive(Debug)]
pub struct Frame {
    pub offset: u64,
    pub ts: Ts,
    pub linktype: Linktype,
    /// The frame's bytes are `buf[data_start..data_start + caplen]`.
    pub data_start: usize,
    pub caplen: usize,
    pub orig_len: u32,
}

/// What [`Netmon::next`] found.
#[derive(Debug)]
pub enum Next {
    Frame(Frame),
    End,
    /// The file ends inside the frame (or frame table) at this offset.
    Truncated(u64),
}

/// Reader state of a NetMon file.
pub struct Netmon {
    src: Box<dyn ReadSeek>,
    pos: u64,
    file_len: u64,
    pub major: u8,
    pub minor: u8,
    /// The header's media type as a link type (per frame from 2.1 on).
    pub linktype: Linktype,
    start_secs: i64,
    start_nanos: u32,
    mode: Mode,
    /// Where the table entry of the frame being read is (table mode).
    entry_at: Option<u64>,
    /// Frames returned so far.
    pub frames_read: u64,
}

impl Netmon {
    /// Read the header and locate the frames. Warnings go to `warn`
    /// (offset, message); `truncated` is set when the frame table is cut.
    pub fn open(
        mut src: Box<dyn ReadSeek>,
        warn: &mut dyn FnMut(u64, String),
        truncated: &mut Option<u64>,
    ) -> Result<Netmon, CaptureError> {
        let io = |offset: u64| {
            move |e: io::Error| CaptureError {
                offset,
                kind: CaptureErrorKind::Io(e),
            }
        };
        let file_len = src.seek(SeekFrom::End(0)).map_err(io(0))?;
        src.seek(SeekFrom::Start(0)).map_err(io(0))?;
        let mut h = [0u8; HEADER_FIELDS];
        let n = read_full(&mut src, &mut h).map_err(io(0))?;
        if n < HEADER_FIELDS {
            *truncated = Some(0);
            return Err(CaptureError {
                offset: 0,
                kind: CaptureErrorKind::Corrupt(format!(
                    "the file ends inside the {HEADER_FIELDS}-byte NetMon header ({n} bytes)"
                )),
            });
        }
        let (minor, major) = (h[4], h[5]);
        if major != 1 && major != 2 {
            return Err(CaptureError {
                offset: 5,
                kind: CaptureErrorKind::Corrupt(format!(
                    "NetMon file format version {major}.{minor} is not supported (1.x and 2.x are)"
                )),
            });
        }
        let media = le16(&h, 6);
        // The capture start: a SYSTEMTIME in the capturing machine's local
        // time (the file does not say which zone); read as UTC.
        let (y, mo, d) = (le16(&h, 8), le16(&h, 10), le16(&h, 14));
        let (hh, mi, ss, ms) = (le16(&h, 16), le16(&h, 18), le16(&h, 20), le16(&h, 22));
        if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || hh > 23 || mi > 59 || ss > 60 {
            warn(
                8,
                format!("the NetMon header's start time {y:04}-{mo:02}-{d:02} {hh:02}:{mi:02}:{ss:02} is not a valid date; timestamps are relative to it anyway"),
            );
        }
        let days = days_from_civil(i64::from(y), i64::from(mo.clamp(1, 12)), i64::from(d));
        let start_secs = days * 86_400 + i64::from(hh) * 3600 + i64::from(mi) * 60 + i64::from(ss);
        let start_nanos = u32::from(ms.min(999)) * 1_000_000;
        let table_off = u64::from(le32(&h, 24));
        let table_len = u64::from(le32(&h, 28));
        if table_len % 4 != 0 {
            warn(
                28,
                format!("the NetMon frame table length {table_len} is not a multiple of 4; the last partial entry is ignored"),
            );
        }
        let entries = table_len / 4;
        let table_end = table_off + entries * 4;
        let mode = if entries > 0 && table_off >= HEADER_FIELDS as u64 && table_end <= file_len {
            Mode::Table {
                off: table_off,
                entries,
                next: 0,
                chunk: Vec::new(),
                chunk_first: 0,
            }
        } else {
            let why = if entries == 0 || table_off == 0 {
                "the header names no frame table (the capture was not closed properly?)".to_string()
            } else if table_end > file_len {
                *truncated = Some(file_len);
                format!(
                    "the frame table ({entries} entries at byte {table_off}) lies beyond the end of the file ({file_len} bytes): the file was cut short"
                )
            } else {
                format!("the frame table offset {table_off} lies inside the header")
            };
            warn(
                24,
                format!("{why}; frames are read in file order from byte {HEADER_LEN} instead"),
            );
            let end = if table_off >= HEADER_LEN && table_off <= file_len {
                table_off
            } else {
                file_len
            };
            Mode::Scan {
                next: HEADER_LEN,
                end,
            }
        };
        Ok(Netmon {
            src,
            pos: HEADER_FIELDS as u64,
            file_len,
            major,
            minor,
            linktype: if major == 2 && minor >= 1 {
                Linktype::ETHERNET // per frame; NetMon 3 writes 1 here
            } else {
                media_linktype(media)
            },
            start_secs,
            start_nanos,
            mode,
            entry_at: None,
            frames_read: 0,
        })
    }

    /// Length of the file (or spool).
    pub fn file_len(&self) -> u64 {
        self.file_len
    }

    /// Digits of timestamp precision: 1.x ms, 2.0-2.2 µs, 2.3 100 ns.
    pub fn digits(&self) -> u8 {
        match (self.major, self.minor) {
            (1, _) => 3,
            (_, m) if m >= 3 => 7,
            _ => 6,
        }
    }

    fn io_err(&self, offset: u64, e: io::Error) -> CaptureError {
        CaptureError {
            offset,
            kind: CaptureErrorKind::Io(e),
        }
    }

    /// Read `out.len()` bytes at `off` (fewer only at the end of the file).
    fn read_at(&mut self, off: u64, out: &mut [u8]) -> Result<usize, CaptureError> {
        if self.pos != off {
            if let Err(e) = self.src.seek(SeekFrom::Start(off)) {
                return Err(self.io_err(off, e));
            }
            self.pos = off;
        }
        let n = match read_full(&mut self.src, out) {
            Ok(n) => n,
            Err(e) => return Err(self.io_err(off, e)),
        };
        self.pos += n as u64;
        Ok(n)
    }

    /// The offset of the next frame, or what ended the frames.
    fn next_offset(&mut self) -> Result<Result<u64, Next>, CaptureError> {
        match &mut self.mode {
            Mode::Done => Ok(Err(Next::End)),
            Mode::Scan { next, end } => {
                if *next >= *end {
                    self.mode = Mode::Done;
                    return Ok(Err(Next::End));
                }
                Ok(Ok(*next))
            }
            Mode::Table {
                off,
                entries,
                next,
                chunk,
                chunk_first,
            } => {
                if *next >= *entries {
                    self.mode = Mode::Done;
                    return Ok(Err(Next::End));
                }
                let (i, first) = (*next, *chunk_first);
                if i < first || i >= first + chunk.len() as u64 {
                    let n = (*entries - i).min(TABLE_CHUNK as u64) as usize;
                    let at = *off + i * 4;
                    let mut raw = vec![0u8; n * 4];
                    let got = self.read_at(at, &mut raw)?;
                    let entries_now: Vec<u32> = raw[..got - got % 4]
                        .chunks_exact(4)
                        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .collect();
                    if let Mode::Table {
                        chunk, chunk_first, ..
                    } = &mut self.mode
                    {
                        *chunk = entries_now;
                        *chunk_first = i;
                    }
                }
                let Mode::Table {
                    off,
                    next,
                    chunk,
                    chunk_first,
                    ..
                } = &mut self.mode
                else {
                    return Ok(Err(Next::End));
                };
                let table_off = *off;
                let Some(&o) = usize::try_from(i - *chunk_first)
                    .ok()
                    .and_then(|k| chunk.get(k))
                else {
                    // the table was checked to lie inside the file
                    self.mode = Mode::Done;
                    return Ok(Err(Next::End));
                };
                *next += 1;
                self.entry_at = Some(table_off + i * 4);
                Ok(Ok(u64::from(o)))
            }
        }
    }

    /// The next frame, read into `buf`.
    pub fn next(
        &mut self,
        buf: &mut Vec<u8>,
        limits: &CaptureLimits,
        frame_no: u64,
        warn: &mut dyn FnMut(u64, String),
    ) -> Result<Next, CaptureError> {
        loop {
            let off = match self.next_offset()? {
                Ok(o) => o,
                Err(n) => return Ok(n),
            };
            let scanning = matches!(self.mode, Mode::Scan { .. });
            let hdr_len: usize = if self.major == 1 { 8 } else { 16 };
            let mut h = [0u8; 16];
            let got = self.read_at(off, &mut h[..hdr_len])?;
            if got < hdr_len {
                return self.cut(off);
            }
            let (orig, incl) = if self.major == 1 {
                (u32::from(le16(&h, 4)), usize::from(le16(&h, 6)))
            } else {
                (le32(&h, 8), le32(&h, 12) as usize)
            };
            if incl > limits.max_record_bytes || (scanning && incl as u64 > u64::from(orig)) {
                if scanning {
                    warn(off, format!("implausible NetMon frame header at byte {off} (claims {incl} captured bytes) while reading without a frame table; stopped"));
                    self.mode = Mode::Done;
                    return Ok(Next::Truncated(off));
                }
                return Err(CaptureError {
                    offset: off,
                    kind: CaptureErrorKind::Corrupt(format!(
                        "NetMon frame {} claims {incl} captured bytes (limit {})",
                        frame_no + 1,
                        limits.max_record_bytes
                    )),
                });
            }
            let trailer: usize = match (self.major, self.minor) {
                (2, 1) => 2,
                (2, 2) => 6,
                (2, m) if m >= 3 => 15,
                _ => 0,
            };
            if buf.len() < incl {
                buf.resize(incl, 0);
            } else if buf.len() > 4 << 20 && incl < 256 << 10 {
                *buf = vec![0; 256 << 10]; // give back memory after a huge frame
            }
            let data_at = off + hdr_len as u64;
            let got = match buf.get_mut(..incl) {
                Some(b) => self.read_at(data_at, b)?,
                None => 0,
            };
            if got < incl {
                return self.cut(off);
            }
            let mut t = [0u8; 15];
            let got = self.read_at(data_at + incl as u64, &mut t[..trailer])?;
            if got < trailer {
                return self.cut(off);
            }
            if let Mode::Scan { next, .. } = &mut self.mode {
                *next = data_at + (incl + trailer) as u64;
            }
            let mut linktype = self.linktype;
            if trailer >= 2 {
                let network = le16(&t, 0);
                if skipped_metadata(network) {
                    continue;
                }
                linktype = frame_linktype(network);
            }
            let ts = self.timestamp(&h, &t, trailer);
            let mut frame = Frame {
                offset: off,
                ts,
                linktype,
                data_start: 0,
                caplen: incl,
                orig_len: orig,
            };
            if linktype == NETMON_80211 {
                // NetMon's radio header: version, little-endian length, ...;
                // the 802.11 frame follows it.
                let l = usize::from(le16(buf, 1));
                if l >= 3 && l <= incl {
                    frame.data_start = l;
                    frame.caplen = incl - l;
                    frame.orig_len = orig.saturating_sub(l as u32);
                    frame.linktype = Linktype(105);
                }
            }
            self.frames_read += 1;
            return Ok(Next::Frame(frame));
        }
    }

    fn cut(&mut self, off: u64) -> Result<Next, CaptureError> {
        self.mode = Mode::Done;
        if off >= self.file_len {
            // a table entry pointing past the end of a file whose table is
            // whole: the error is at the entry
            return Err(CaptureError {
                offset: self.entry_at.unwrap_or(self.file_len),
                kind: CaptureErrorKind::Corrupt(format!(
                    "NetMon frame table entry points to byte {off}, past the end of the file ({} bytes)",
                    self.file_len
                )),
            });
        }
        Ok(Next::Truncated(off))
    }

    fn timestamp(&self, h: &[u8], t: &[u8], trailer: usize) -> Ts {
        if trailer >= 15 {
            // 2.3: the frame's UTC time as a FILETIME (100 ns since 1601)
            let ft = i128::from(le64(t, 6));
            let unix_100ns = ft - 116_444_736_000_000_000;
            let secs = unix_100ns.div_euclid(10_000_000);
            let rem = unix_100ns.rem_euclid(10_000_000) as u32;
            return Ts::new(
                i64::try_from(secs).unwrap_or(i64::MAX),
                rem * 100,
                self.digits(),
            );
        }
        // delta from the start: 1.x milliseconds (unsigned 32 bits); 2.x
        // microseconds (64 bits, read as Wireshark does: times 10, signed,
        // in 100 ns units, so a huge value is a small negative delta)
        let delta_ns: i128 = if self.major == 1 {
            i128::from(le32(h, 0)) * 1_000_000
        } else {
            i128::from((le64(h, 0).wrapping_mul(10) as i64).wrapping_mul(100))
        };
        let t = i128::from(self.start_nanos) + delta_ns;
        let secs = i128::from(self.start_secs) + t.div_euclid(1_000_000_000);
        let nanos = t.rem_euclid(1_000_000_000) as u32;
        Ts::new(
            i64::try_from(secs).unwrap_or(if secs < 0 { i64::MIN } else { i64::MAX }),
            nanos,
            self.digits(),
        )
    }
}

/// Read until `out` is full or the source ends; short reads are retried.
fn read_full(src: &mut dyn ReadSeek, out: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < out.len() {
        match src.read(&mut out[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A NetMon file: `major`.`minor`, frames (delta, data, per-frame
    /// network for 2.1+), the frame table at the end (or at `table_at`).
    pub(crate) fn build(major: u8, minor: u8, media: u16, frames: &[(u64, &[u8], u16)]) -> Vec<u8> {
        let mut f = Vec::new();
        f.extend_from_slice(if major == 1 { MAGIC_1 } else { MAGIC_2 });
        f.extend_from_slice(&[minor, major]);
        f.extend_from_slice(&media.to_le_bytes());
        for v in [2025u16, 11, 2, 25, 16, 53, 1, 123] {
            f.extend_from_slice(&v.to_le_bytes());
        }
        f.resize(HEADER_LEN as usize, 0);
        let mut table = Vec::new();
        for (delta, data, net) in frames {
            table.push(f.len() as u32);
            if major == 1 {
                f.extend_from_slice(&(*delta as u32).to_le_bytes());
                f.extend_from_slice(&(data.len() as u16).to_le_bytes());
                f.extend_from_slice(&(data.len() as u16).to_le_bytes());
            } else {
                f.extend_from_slice(&delta.to_le_bytes());
                f.extend_from_slice(&(data.len() as u32).to_le_bytes());
                f.extend_from_slice(&(data.len() as u32).to_le_bytes());
            }
            f.extend_from_slice(data);
            match (major, minor) {
                (2, 1) => f.extend_from_slice(&net.to_le_bytes()),
                (2, 2) => {
                    f.extend_from_slice(&net.to_le_bytes());
                    f.extend_from_slice(&[0; 4]);
                }
                (2, m) if m >= 3 => {
                    f.extend_from_slice(&net.to_le_bytes());
                    f.extend_from_slice(&[0; 4]);
                    // 2025-11-25T16:53:01.5Z as a FILETIME
                    let ft: u64 =
                        (1_764_089_581u64 * 10_000_000 + 5_000_000) + 116_444_736_000_000_000;
                    f.extend_from_slice(&ft.to_le_bytes());
                    f.push(0);
                }
                _ => {}
            }
        }
        let table_off = f.len() as u32;
        for t in &table {
            f.extend_from_slice(&t.to_le_bytes());
        }
        f[24..28].copy_from_slice(&table_off.to_le_bytes());
        f[28..32].copy_from_slice(&((table.len() * 4) as u32).to_le_bytes());
        f
    }

    #[test]
    fn civil_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(2025, 11, 25) * 86_400, 1_764_028_800);
    }

    #[test]
    fn media_types() {
        assert_eq!(media_linktype(1), Linktype::ETHERNET);
        assert_eq!(media_linktype(0), Linktype::ETHERNET);
        assert_eq!(media_linktype(9), Linktype::RAW);
        assert_eq!(frame_linktype(0xE001), Linktype::ETHERNET);
        assert_eq!(frame_linktype(0xE000 | 276), Linktype(276));
        assert_eq!(frame_linktype(0xE080), Linktype(105));
        assert_eq!(frame_linktype(0xFFE0).0, PRIVATE_LINKTYPE | 0xFFE0);
        assert!(skipped_metadata(0xFFFD));
    }
}
