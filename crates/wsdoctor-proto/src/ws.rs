//! Push WebSocket (RFC 6455) frame decoder, one per direction, plus
//! [`WsDirection`], which adds permessage-deflate inflation (RFC 7692) and
//! yields the application byte stream of data frames.
//!
//! The decoder never buffers payload: it keeps at most a 14-byte header, the
//! payload of the current control frame (at most `max_control_payload`
//! bytes) and a reusable scratch buffer of at most `payload_chunk` bytes used
//! for unmasking. Every call consumes all of its input.
//!
//! Use: after the HTTP Upgrade, make one [`WsDirection`] per direction
//! (`WsDirection::new(from_client, handshake.deflate, WsLimits::default())`,
//! or [`WsDirection::midstream`] when the handshake was not captured), call
//! [`WsDirection::feed`] with each piece of that direction's TCP byte stream
//! in order and [`WsDirection::gap`] for bytes missing from the capture; a
//! [`WsDataSink`] receives the application bytes, one call per frame and the
//! [`Violation`]s. [`FrameDecoder`] with a [`WsSink`] is the layer below
//! (frames and unmasked payload, no inflation). Decoding never fails and
//! never panics: problems are reported with a stable [`ViolationCode`].

use super::deflate::Inflater;
use super::handshake::DeflateParams;
use std::fmt;

/// Limits for WebSocket decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WsLimits {
    /// Largest control-frame payload allowed by RFC 6455 (125); larger ones
    /// are reported and only this many bytes are kept for close decoding.
    pub max_control_payload: usize,
    /// Cap on the inflated size of one message (deflate bomb protection).
    pub max_message_bytes: u64,
    /// Largest payload length considered plausible: longer frames are
    /// reported (`ws_frame_too_large`, decoding still trusts the length) and
    /// never chosen when resynchronizing.
    pub max_plausible_frame_len: u64,
    /// Largest piece of payload unmasked and handed out at once.
    pub payload_chunk: usize,
}

impl Default for WsLimits {
    fn default() -> Self {
        WsLimits {
            max_control_payload: 125,
            max_message_bytes: 16 * 1024 * 1024,
            max_plausible_frame_len: 16 * 1024 * 1024,
            payload_chunk: 64 * 1024,
        }
    }
}

/// Opcode constants.
pub mod opcode {
    /// Continuation frame.
    pub const CONTINUATION: u8 = 0x0;
    /// Text frame.
    pub const TEXT: u8 = 0x1;
    /// Binary frame.
    pub const BINARY: u8 = 0x2;
    /// Close frame.
    pub const CLOSE: u8 = 0x8;
    /// Ping frame.
    pub const PING: u8 = 0x9;
    /// Pong frame.
    pub const PONG: u8 = 0xA;
}

/// A decoded frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// FIN bit.
    pub fin: bool,
    /// RSV1..3 as bits 2..0 (RSV1 = 4).
    pub rsv: u8,
    /// Opcode (0..=15).
    pub opcode: u8,
    /// MASK bit.
    pub masked: bool,
    /// Masking key when masked.
    pub mask: Option<[u8; 4]>,
    /// Payload length as declared.
    pub payload_len: u64,
    /// Header size on the wire (2..=14).
    pub header_len: u8,
    /// Stream offset of the first header byte in this direction (bytes fed
    /// plus gap lengths since the decoder was created).
    pub offset: u64,
    /// Derived, not a wire field: the frame belongs to a message whose first
    /// frame had RSV1 set with permessage-deflate negotiated.
    pub compressed: bool,
    /// Derived: opcode of the message this frame belongs to (1 text, 2
    /// binary; 0 = unknown, e.g. a continuation without a start); for control
    /// and reserved frames their own opcode.
    pub message_opcode: u8,
}

impl FrameHeader {
    /// "continuation", "text", "binary", "close", "ping", "pong" or "reserved".
    pub fn opcode_name(&self) -> &'static str {
        opcode_name(self.opcode)
    }
    /// Close, ping, pong or a reserved control opcode (0x8..=0xF).
    pub fn is_control(&self) -> bool {
        self.opcode & 0x8 != 0
    }
    /// Continuation, text or binary.
    pub fn is_data(&self) -> bool {
        self.opcode <= 2
    }
    /// RSV1 bit.
    pub fn rsv1(&self) -> bool {
        self.rsv & 0b100 != 0
    }
}

/// XOR `buf` with the 4-byte `mask` starting at mask phase `pos`, eight
/// bytes at a time.
pub fn unmask(buf: &mut [u8], mask: [u8; 4], pos: usize) {
    // the key as seen from phase `pos`: rot[i] = mask[(pos + i) % 4]
    let [m0, m1, m2, m3] = mask;
    let rot = match pos & 3 {
        0 => [m0, m1, m2, m3],
        1 => [m1, m2, m3, m0],
        2 => [m2, m3, m0, m1],
        _ => [m3, m0, m1, m2],
    };
    let [r0, r1, r2, r3] = rot;
    let word = u64::from_ne_bytes([r0, r1, r2, r3, r0, r1, r2, r3]);
    let mut chunks = buf.chunks_exact_mut(8);
    for c in &mut chunks {
        // always 8 bytes: the conversion compiles to nothing
        if let Ok(c) = <&mut [u8; 8]>::try_from(c) {
            *c = (u64::from_ne_bytes(*c) ^ word).to_ne_bytes();
        }
    }
    for (b, m) in chunks.into_remainder().iter_mut().zip(rot.iter().cycle()) {
        *b ^= m;
    }
}

/// Name of an opcode.
pub fn opcode_name(op: u8) -> &'static str {
    match op {
        0 => "continuation",
        1 => "text",
        2 => "binary",
        8 => "close",
        9 => "ping",
        10 => "pong",
        _ => "reserved",
    }
}

/// Facts known when a frame's last byte has been seen.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FrameEnd {
    /// Close frames: status code, if the payload had one.
    pub close_code: Option<u16>,
    /// Close frames: reason text (lossy UTF-8), if any.
    pub close_reason: Option<String>,
    /// The frame belongs to a compressed message (RSV1 with deflate).
    pub compressed: bool,
    /// This frame completes a message: a data frame with FIN ending a
    /// message, or any control frame (each is a message of its own).
    /// False for a frame cut off by lost sync.
    pub message_end: bool,
    /// Some payload of this frame was not seen (capture gap), or the frame
    /// was cut off because framing sync was lost.
    pub truncated: bool,
}

/// Stable code of a [`Violation`]; [`ViolationCode::as_str`] is the
/// snake_case text used in reports (never changes for a given code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ViolationCode {
    /// `ws_client_frame_unmasked`: a client-to-server frame without the
    /// MASK bit (RFC 6455 section 5.1).
    ClientFrameUnmasked,
    /// `ws_server_frame_masked`: a server-to-client frame with the MASK bit
    /// (RFC 6455 section 5.1).
    ServerFrameMasked,
    /// `ws_control_frame_too_long`: a control frame payload longer than
    /// [`WsLimits::max_control_payload`] (RFC 6455 section 5.5: 125 bytes).
    ControlFrameTooLong,
    /// `ws_control_frame_fragmented`: a control frame without FIN (RFC 6455
    /// section 5.5).
    ControlFrameFragmented,
    /// `ws_reserved_opcode`: an opcode RFC 6455 section 5.2 reserves
    /// (0x3..=0x7, 0xB..=0xF).
    ReservedOpcode,
    /// `ws_rsv_without_extension`: RSV2/RSV3 set, or RSV1 set without
    /// permessage-deflate, on a control frame or on a continuation frame
    /// (RFC 6455 section 5.2, RFC 7692 section 6).
    RsvWithoutExtension,
    /// `ws_non_minimal_length`: a payload length in a longer encoding than
    /// needed (RFC 6455 section 5.2).
    NonMinimalLength,
    /// `ws_length_msb_set`: a 64-bit payload length with its most
    /// significant bit set (RFC 6455 section 5.2); framing is lost and the
    /// decoder resynchronizes.
    LengthMsbSet,
    /// `ws_frame_too_large`: a payload length above
    /// [`WsLimits::max_plausible_frame_len`]; decoding still trusts it.
    FrameTooLarge,
    /// `ws_unexpected_continuation`: a continuation frame with no message
    /// open (RFC 6455 section 5.4).
    UnexpectedContinuation,
    /// `ws_expected_continuation`: a new text or binary frame while a
    /// fragmented message is open (RFC 6455 section 5.4); the open message
    /// is abandoned.
    ExpectedContinuation,
    /// `ws_data_after_close`: a data frame after a Close frame (RFC 6455
    /// section 5.5.1); reported once per direction.
    DataAfterClose,
    /// `ws_close_code_invalid`: a Close payload of 1 byte or a status code
    /// that must not be sent (RFC 6455 section 7.4).
    CloseCodeInvalid,
    /// `ws_invalid_utf8`: a text message (plain or inflated) or a close
    /// reason that is not valid UTF-8 (RFC 6455 sections 5.6, 8.1); once
    /// per message.
    InvalidUtf8,
    /// `ws_gap_in_payload`: a capture gap inside a frame payload; framing
    /// stays in sync.
    GapInPayload,
    /// `ws_gap_lost_sync`: a capture gap outside a frame payload; the
    /// decoder scans for the next frame header.
    GapLostSync,
    /// `ws_resynced`: a plausible frame header was found after lost sync.
    Resynced,
    /// `ws_midstream_skipped`: the capture starts inside a frame; bytes
    /// were skipped to the first frame header.
    MidstreamSkipped,
    /// `ws_inflate_limit`: an inflated message reached
    /// [`WsLimits::max_message_bytes`] (see
    /// [`DeflateError::Limit`](super::deflate::DeflateError::Limit)).
    InflateLimit,
    /// `ws_inflate_error`: corrupt DEFLATE data (see
    /// [`DeflateError::Corrupt`](super::deflate::DeflateError::Corrupt)).
    InflateError,
    /// `ws_inflate_context_lost`: a compressed message refused because an
    /// earlier one was lost under context takeover (see
    /// [`DeflateError::ContextLost`](super::deflate::DeflateError::ContextLost)).
    InflateContextLost,
}

impl ViolationCode {
    /// The stable snake_case text, e.g. `"ws_client_frame_unmasked"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ViolationCode::ClientFrameUnmasked => "ws_client_frame_unmasked",
            ViolationCode::ServerFrameMasked => "ws_server_frame_masked",
            ViolationCode::ControlFrameTooLong => "ws_control_frame_too_long",
            ViolationCode::ControlFrameFragmented => "ws_control_frame_fragmented",
            ViolationCode::ReservedOpcode => "ws_reserved_opcode",
            ViolationCode::RsvWithoutExtension => "ws_rsv_without_extension",
            ViolationCode::NonMinimalLength => "ws_non_minimal_length",
            ViolationCode::LengthMsbSet => "ws_length_msb_set",
            ViolationCode::FrameTooLarge => "ws_frame_too_large",
            ViolationCode::UnexpectedContinuation => "ws_unexpected_continuation",
            ViolationCode::ExpectedContinuation => "ws_expected_continuation",
            ViolationCode::DataAfterClose => "ws_data_after_close",
            ViolationCode::CloseCodeInvalid => "ws_close_code_invalid",
            ViolationCode::InvalidUtf8 => "ws_invalid_utf8",
            ViolationCode::GapInPayload => "ws_gap_in_payload",
            ViolationCode::GapLostSync => "ws_gap_lost_sync",
            ViolationCode::Resynced => "ws_resynced",
            ViolationCode::MidstreamSkipped => "ws_midstream_skipped",
            ViolationCode::InflateLimit => "ws_inflate_limit",
            ViolationCode::InflateError => "ws_inflate_error",
            ViolationCode::InflateContextLost => "ws_inflate_context_lost",
        }
    }
}

impl fmt::Display for ViolationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for ViolationCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<str> for ViolationCode {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

/// A protocol violation or decoder note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Stable code; its text (e.g. `ws_client_frame_unmasked`) is
    /// [`ViolationCode::as_str`].
    pub code: ViolationCode,
    /// Human-readable detail.
    pub message: String,
    /// Stream offset (see [`FrameHeader::offset`]) of the frame concerned or
    /// of the event.
    pub offset: u64,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {}: {}", self.code, self.offset, self.message)
    }
}

/// Receiver of frame events from [`FrameDecoder`].
pub trait WsSink {
    /// A header is complete (called before any payload).
    fn frame_start(&mut self, h: &FrameHeader);
    /// A piece of unmasked payload, in order (pieces may be of any size).
    fn payload(&mut self, h: &FrameHeader, data: &[u8]);
    /// The frame's last byte was seen (or the frame was cut off).
    fn frame_end(&mut self, h: &FrameHeader, info: &FrameEnd);
    /// A violation or note; decoding continues.
    fn violation(&mut self, v: Violation);
    /// The events that follow concern the stream up to offset `end`
    /// (bytes fed plus gaps): a sink that fed the bytes in pieces can tell
    /// in which piece they arrived. Default: ignored.
    fn at_offset(&mut self, _end: u64) {}
}

/// Incremental UTF-8 validator (state carried across pieces).
#[derive(Debug, Clone, Default)]
pub struct Utf8Validator {
    pending: [u8; 4],
    pending_len: usize,
    failed: bool,
}

impl Utf8Validator {
    /// Starts over.
    pub fn reset(&mut self) {
        *self = Utf8Validator::default();
    }

    /// True once invalid input was seen.
    pub fn failed(&self) -> bool {
        self.failed
    }

    /// Validates the next piece; returns false once the text is invalid.
    pub fn feed(&mut self, mut data: &[u8]) -> bool {
        if self.failed {
            return false;
        }
        // complete a pending partial sequence first
        while self.pending_len > 0 {
            let Some((&b, rest)) = data.split_first() else {
                return true;
            };
            data = rest;
            if let Some(slot) = self.pending.get_mut(self.pending_len) {
                *slot = b;
            }
            self.pending_len = self.pending_len.saturating_add(1);
            let cur = self.pending.get(..self.pending_len).unwrap_or(&[]);
            match std::str::from_utf8(cur) {
                Ok(_) => self.pending_len = 0,
                Err(e) if e.error_len().is_some() => {
                    self.failed = true;
                    return false;
                }
                Err(_) if self.pending_len >= 4 => {
                    self.failed = true;
                    return false;
                }
                Err(_) => {}
            }
        }
        match std::str::from_utf8(data) {
            Ok(_) => true,
            Err(e) if e.error_len().is_some() => {
                self.failed = true;
                false
            }
            Err(e) => {
                let tail = data.get(e.valid_up_to()..).unwrap_or(&[]);
                let n = tail.len().min(4);
                if let (Some(dst), Some(src)) = (self.pending.get_mut(..n), tail.get(..n)) {
                    dst.copy_from_slice(src);
                }
                self.pending_len = n;
                true
            }
        }
    }

    /// End of text: false if invalid or ending inside a sequence.
    pub fn finish(&mut self) -> bool {
        if self.pending_len > 0 {
            self.failed = true;
        }
        !self.failed
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Header,
    Payload,
    Resync,
}

/// The data message currently open (between its first and its FIN frame).
#[derive(Debug, Clone, Copy)]
struct Msg {
    opcode: u8,
    compressed: bool,
    check_utf8: bool,
    utf8_reported: bool,
}

/// Public view of the open data message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageInfo {
    /// 1 text, 2 binary, 0 unknown.
    pub opcode: u8,
    /// RSV1 on its first frame with deflate negotiated.
    pub compressed: bool,
}

enum Plaus {
    Yes,
    No,
    NeedMore,
}

/// Push decoder for one direction of a WebSocket connection.
#[derive(Debug)]
pub struct FrameDecoder {
    from_client: bool,
    rsv1_ext: bool,
    lim: WsLimits,
    state: State,
    hdr: [u8; 14],
    hdr_len: usize,
    hdr_start: u64,
    cur: Option<FrameHeader>,
    remaining: u64,
    mask_pos: usize,
    ctrl: Vec<u8>,
    ctrl_damaged: bool,
    truncated: bool,
    msg: Option<Msg>,
    utf8: Utf8Validator,
    after_resync: bool,
    closed: bool,
    after_close_reported: bool,
    pos: u64,
    scratch: Vec<u8>,
    carry: [u8; 14],
    carry_len: usize,
    skipped: u64,
    /// The capture starts inside this direction (no handshake seen): the
    /// first resynchronisation is the start of decoding, not a loss.
    start_unseen: bool,
    /// When resynchronising, only a binary frame whose payload passes this
    /// test is an anchor (e.g. one that starts a plausible MQTT packet).
    payload_probe: Option<PayloadProbe>,
    /// Resynchronisation with a payload test: the bytes being scanned.
    scan: Vec<u8>,
}

/// Layout of a frame header given its second byte (RFC 6455 section 5.2):
/// where the masking key starts (= the end of the length fields) and the
/// whole header length (2..=14; equal to the first when unmasked).
fn header_layout(b1: u8) -> (usize, usize) {
    match (b1 & 0x7f, b1 & 0x80 != 0) {
        (126, false) => (4, 4),
        (126, true) => (4, 8),
        (127, false) => (10, 10),
        (127, true) => (10, 14),
        (_, false) => (2, 2),
        (_, true) => (2, 6),
    }
}

/// Bytes scanned at once when resynchronising with a payload test.
const SCAN_MAX: usize = 2048;

/// A test of the first (unmasked) payload bytes of a candidate frame while
/// resynchronising: `Some(true)` plausible, `Some(false)` not, `None` too
/// few bytes to say (taken as not).
pub type PayloadProbe = fn(&[u8]) -> Option<bool>;

impl FrameDecoder {
    /// A decoder for frames sent by the client (`from_client`, must be
    /// masked) or by the server; `extensions_rsv1` when permessage-deflate
    /// was negotiated (RSV1 allowed on first data frames).
    pub fn new(from_client: bool, extensions_rsv1: bool) -> Self {
        Self::with_limits(from_client, extensions_rsv1, WsLimits::default())
    }

    /// Like [`new`](Self::new) with explicit limits.
    pub fn with_limits(from_client: bool, extensions_rsv1: bool, lim: WsLimits) -> Self {
        FrameDecoder {
            from_client,
            rsv1_ext: extensions_rsv1,
            lim,
            state: State::Header,
            hdr: [0; 14],
            hdr_len: 0,
            hdr_start: 0,
            cur: None,
            remaining: 0,
            mask_pos: 0,
            ctrl: Vec::new(),
            ctrl_damaged: false,
            truncated: false,
            msg: None,
            utf8: Utf8Validator::default(),
            after_resync: false,
            closed: false,
            after_close_reported: false,
            pos: 0,
            scratch: Vec::new(),
            carry: [0; 14],
            carry_len: 0,
            skipped: 0,
            start_unseen: false,
            payload_probe: None,
            scan: Vec::new(),
        }
    }

    /// Resynchronise only on data frames whose payload passes `probe`.
    pub fn set_payload_probe(&mut self, probe: PayloadProbe) {
        self.payload_probe = Some(probe);
    }

    /// A decoder for a direction whose start was not captured: it looks for
    /// the first plausible frame header (RSV1 allowed on data frames, since
    /// whether permessage-deflate was negotiated is unknown).
    pub fn midstream(from_client: bool, lim: WsLimits) -> Self {
        let mut d = Self::with_limits(from_client, true, lim);
        d.enter_resync(0);
        d.start_unseen = true;
        d
    }

    /// Like [`midstream`](Self::midstream), for a direction known to start
    /// on a frame header (its first bytes were recognised as frames).
    pub fn midstream_aligned(from_client: bool, lim: WsLimits) -> Self {
        let mut d = Self::with_limits(from_client, true, lim);
        d.after_resync = true;
        d
    }

    /// Stream offset: bytes fed plus gap lengths.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// True while scanning for a frame header after lost sync.
    pub fn resyncing(&self) -> bool {
        self.state == State::Resync
    }

    /// True once a Close frame was seen.
    pub fn closed(&self) -> bool {
        self.closed
    }

    /// The open (fragmented or in-flight) data message, if any.
    pub fn current_message(&self) -> Option<MessageInfo> {
        self.msg.map(|m| MessageInfo {
            opcode: m.opcode,
            compressed: m.compressed,
        })
    }

    /// The frame whose payload is being read, if any.
    pub fn current_frame(&self) -> Option<&FrameHeader> {
        match self.state {
            State::Payload => self.cur.as_ref(),
            _ => None,
        }
    }

    /// True if a gap of `len` bytes now keeps framing in sync (it falls
    /// entirely inside the current frame's payload).
    pub fn gap_keeps_sync(&self, len: u64) -> bool {
        len == 0 || (self.state == State::Payload && len <= self.remaining)
    }

    /// Decodes `input`, reporting events to `sink`. Always consumes all of
    /// `input`: bytes of an incomplete header are kept for the next call.
    pub fn feed(&mut self, input: &[u8], sink: &mut impl WsSink) {
        self.feed_dyn(input, sink);
    }

    fn feed_dyn(&mut self, input: &[u8], sink: &mut dyn WsSink) {
        let mut i = 0usize;
        while let Some(rest) = input.get(i..) {
            if rest.is_empty() {
                break;
            }
            let n = match self.state {
                State::Header => self.feed_header(rest, sink),
                State::Payload => self.feed_payload(rest, sink),
                State::Resync if self.payload_probe.is_some() => self.feed_resync_probe(rest, sink),
                State::Resync => self.feed_resync(rest, sink),
            };
            i = i.saturating_add(n);
        }
    }

    /// `len` bytes of this direction are missing from the capture.
    ///
    /// Inside the current frame's payload: the bytes are skipped, framing
    /// stays in sync, `ws_gap_in_payload` is reported and the frame ends
    /// with `truncated`. Otherwise `ws_gap_lost_sync` is reported, any frame
    /// in flight ends with `truncated` (and no `message_end`), the open
    /// message is dropped and the decoder scans for the next plausible
    /// header, reporting `ws_resynced` when it finds one.
    pub fn gap(&mut self, len: u64, sink: &mut impl WsSink) {
        self.gap_dyn(len, sink)
    }

    fn gap_dyn(&mut self, len: u64, sink: &mut dyn WsSink) {
        if len == 0 {
            return;
        }
        let at = self.pos;
        self.pos = self.pos.saturating_add(len);
        if self.gap_keeps_sync(len) {
            self.remaining = self.remaining.saturating_sub(len);
            // the key phase advances modulo 4; only the low 2 bits matter
            self.mask_pos = self.mask_pos.wrapping_add((len & 3) as usize) & 3;
            self.truncated = true;
            let is_data = self.cur.is_some_and(|h| h.is_data());
            if is_data {
                if let Some(m) = self.msg.as_mut() {
                    m.check_utf8 = false;
                }
            } else {
                self.ctrl_damaged = true;
            }
            sink.violation(Violation {
                code: ViolationCode::GapInPayload,
                message: format!(
                    "{len} bytes of frame payload missing from the capture; framing kept in sync"
                ),
                offset: at,
            });
            if self.remaining == 0 {
                self.end_frame(sink, false);
            }
            return;
        }
        if self.state == State::Resync {
            // still scanning; bytes before the gap no longer adjoin anything
            self.skipped = self
                .skipped
                .saturating_add(self.carry_len as u64)
                .saturating_add(self.scan.len() as u64)
                .saturating_add(len);
            self.carry_len = 0;
            self.scan.clear();
            return;
        }
        sink.violation(Violation {
            code: ViolationCode::GapLostSync,
            message: format!(
                "{len} bytes missing from the capture outside a frame payload; scanning for the next frame header"
            ),
            offset: at,
        });
        if self.state == State::Payload {
            self.truncated = true;
            self.end_frame(sink, true);
        }
        self.enter_resync(len);
    }

    fn enter_resync(&mut self, already_skipped: u64) {
        self.scan.clear();
        self.state = State::Resync;
        self.hdr_len = 0;
        self.cur = None;
        self.msg = None;
        self.carry_len = 0;
        self.skipped = already_skipped;
    }

    fn violate(&self, sink: &mut dyn WsSink, code: ViolationCode, message: String) {
        let offset = self.cur.map_or(self.pos, |h| h.offset);
        sink.violation(Violation {
            code,
            message,
            offset,
        });
    }

    fn needed_header_len(&self) -> usize {
        let Some(&b1) = self.hdr.get(1).filter(|_| self.hdr_len >= 2) else {
            return 2;
        };
        header_layout(b1).1
    }

    fn feed_header(&mut self, input: &[u8], sink: &mut dyn WsSink) -> usize {
        if self.hdr_len == 0 {
            self.hdr_start = self.pos;
        }
        let mut rest = input;
        loop {
            let need = self.needed_header_len();
            let Some(dst) = self
                .hdr
                .get_mut(self.hdr_len..need)
                .filter(|d| !d.is_empty())
            else {
                break;
            };
            let Some((src, tail)) = rest.split_at_checked(dst.len()) else {
                // the input ends inside the header: keep all of it
                for (d, s) in dst.iter_mut().zip(rest) {
                    *d = *s;
                }
                self.hdr_len = self.hdr_len.saturating_add(rest.len());
                self.pos = self.pos.saturating_add(input.len() as u64);
                return input.len();
            };
            dst.copy_from_slice(src);
            self.hdr_len = need;
            rest = tail;
        }
        // `rest` is a suffix of `input`
        let used = input.len().saturating_sub(rest.len());
        self.pos = self.pos.saturating_add(used as u64);
        self.header_complete(self.hdr_start, sink);
        used
    }

    fn header_complete(&mut self, offset: u64, sink: &mut dyn WsSink) {
        let hdr = self.hdr;
        let n = self.hdr_len;
        self.hdr_len = 0;
        let [b0, b1, e0, e1, e2, e3, e4, e5, e6, e7, e8, e9, e10, e11] = hdr;
        let len7 = b1 & 0x7f;
        let masked = b1 & 0x80 != 0;
        // extended payload length, then the masking key (RFC 6455 section 5.2)
        let (payload_len, key) = match len7 {
            126 => (u64::from(u16::from_be_bytes([e0, e1])), [e2, e3, e4, e5]),
            127 => (
                u64::from_be_bytes([e0, e1, e2, e3, e4, e5, e6, e7]),
                [e8, e9, e10, e11],
            ),
            l => (u64::from(l), [e0, e1, e2, e3]),
        };
        let mask = masked.then_some(key);
        let mut h = FrameHeader {
            fin: b0 & 0x80 != 0,
            rsv: (b0 >> 4) & 0x7,
            opcode: b0 & 0x0f,
            masked,
            mask,
            payload_len,
            header_len: n as u8,
            offset,
            compressed: false,
            message_opcode: b0 & 0x0f,
        };
        self.cur = Some(h);

        if len7 == 127 && payload_len >> 63 != 0 {
            self.violate(
                sink,
                ViolationCode::LengthMsbSet,
                format!(
                    "64-bit payload length {payload_len:#x} has the most significant bit set; frame boundaries lost, scanning for the next frame header"
                ),
            );
            self.cur = None;
            self.enter_resync(0);
            return;
        }
        if payload_len > self.lim.max_plausible_frame_len {
            self.violate(
                sink,
                ViolationCode::FrameTooLarge,
                format!(
                    "payload length {payload_len} exceeds the plausibility limit of {} bytes; if this header is garbage, the following bytes are misread as its payload",
                    self.lim.max_plausible_frame_len
                ),
            );
        }
        if (len7 == 126 && payload_len < 126) || (len7 == 127 && payload_len <= 0xffff) {
            self.violate(
                sink,
                ViolationCode::NonMinimalLength,
                format!(
                    "payload length {payload_len} encoded in {} bytes; the minimal encoding is required",
                    if len7 == 126 { 2 } else { 8 }
                ),
            );
        }
        if self.from_client && !masked {
            self.violate(
                sink,
                ViolationCode::ClientFrameUnmasked,
                "client-to-server frame is not masked".into(),
            );
        } else if !self.from_client && masked {
            self.violate(
                sink,
                ViolationCode::ServerFrameMasked,
                "server-to-client frame is masked".into(),
            );
        }
        let op = h.opcode;
        let known = matches!(op, 0 | 1 | 2 | 8 | 9 | 10);
        if !known {
            self.violate(
                sink,
                ViolationCode::ReservedOpcode,
                format!("reserved opcode {op:#x}"),
            );
        }
        // RSV bits
        if h.rsv & 0b011 != 0 {
            self.violate(
                sink,
                ViolationCode::RsvWithoutExtension,
                format!(
                    "RSV2/RSV3 set (rsv={:03b}) but no extension defines them",
                    h.rsv
                ),
            );
        }
        if h.rsv1() {
            let why = if !self.rsv1_ext {
                Some("RSV1 set but permessage-deflate was not negotiated")
            } else if h.is_control() {
                Some("RSV1 set on a control frame")
            } else if op == 0 {
                Some(
                    "RSV1 set on a continuation frame (only the first frame of a message may carry it)",
                )
            } else {
                None
            };
            if let Some(why) = why {
                self.violate(sink, ViolationCode::RsvWithoutExtension, why.into());
            }
        }
        if h.is_control() {
            if payload_len > self.lim.max_control_payload as u64 {
                self.violate(
                    sink,
                    ViolationCode::ControlFrameTooLong,
                    format!(
                        "{} frame payload of {payload_len} bytes; at most {} allowed",
                        opcode_name(op),
                        self.lim.max_control_payload
                    ),
                );
            }
            if !h.fin {
                self.violate(
                    sink,
                    ViolationCode::ControlFrameFragmented,
                    format!("{} frame without FIN", opcode_name(op)),
                );
            }
        } else if known {
            if self.closed && !self.after_close_reported {
                self.after_close_reported = true;
                self.violate(
                    sink,
                    ViolationCode::DataAfterClose,
                    "data frame after a Close frame".into(),
                );
            }
            if op == 0 {
                if self.msg.is_none() {
                    if !self.after_resync {
                        self.violate(
                            sink,
                            ViolationCode::UnexpectedContinuation,
                            "continuation frame without a message in progress".into(),
                        );
                    }
                    self.msg = Some(Msg {
                        opcode: 0,
                        compressed: false,
                        check_utf8: false,
                        utf8_reported: false,
                    });
                }
            } else {
                if let Some(prev) = self.msg {
                    self.violate(
                        sink,
                        ViolationCode::ExpectedContinuation,
                        format!(
                            "new {} frame while a fragmented {} message is open; that message is abandoned",
                            opcode_name(op),
                            opcode_name(prev.opcode)
                        ),
                    );
                }
                let compressed = h.rsv1() && self.rsv1_ext;
                self.msg = Some(Msg {
                    opcode: op,
                    compressed,
                    check_utf8: op == 1 && !compressed,
                    utf8_reported: false,
                });
                self.utf8.reset();
            }
            if let Some(m) = self.msg {
                h.compressed = m.compressed;
                h.message_opcode = m.opcode;
            }
        }
        self.after_resync = false;
        self.cur = Some(h);
        self.remaining = payload_len;
        self.mask_pos = 0;
        self.ctrl.clear();
        self.ctrl_damaged = false;
        self.truncated = false;
        sink.frame_start(&h);
        if payload_len == 0 {
            self.end_frame(sink, false);
        } else {
            self.state = State::Payload;
        }
    }

    fn feed_payload(&mut self, input: &[u8], sink: &mut dyn WsSink) -> usize {
        let Some(h) = self.cur else {
            self.state = State::Header;
            return 0;
        };
        let n = usize::try_from(self.remaining)
            .unwrap_or(usize::MAX)
            .min(input.len())
            .min(self.lim.payload_chunk.max(1));
        let piece = input.get(..n).unwrap_or(&[]);
        self.scratch.clear();
        self.scratch.extend_from_slice(piece);
        if let Some(mask) = h.mask {
            unmask(&mut self.scratch, mask, self.mask_pos);
            // the key phase advances modulo 4; only the low 2 bits matter
            self.mask_pos = self.mask_pos.wrapping_add(self.scratch.len()) & 3;
        }
        if h.is_control() {
            let room = self.lim.max_control_payload.saturating_sub(self.ctrl.len());
            let take = room.min(self.scratch.len());
            self.ctrl
                .extend_from_slice(self.scratch.get(..take).unwrap_or(&[]));
        } else if h.is_data() {
            let bad = match self.msg.as_mut() {
                Some(m) if m.check_utf8 && !m.utf8_reported && !self.utf8.feed(&self.scratch) => {
                    m.utf8_reported = true;
                    true
                }
                _ => false,
            };
            if bad {
                sink.violation(Violation {
                    code: ViolationCode::InvalidUtf8,
                    message: "text message is not valid UTF-8".into(),
                    offset: h.offset,
                });
            }
        }
        sink.at_offset(self.pos.saturating_add(n as u64));
        sink.payload(&h, &self.scratch);
        // n <= remaining (see above)
        self.remaining = self.remaining.saturating_sub(n as u64);
        self.pos = self.pos.saturating_add(n as u64);
        if self.remaining == 0 {
            self.end_frame(sink, false);
        }
        n
    }

    /// Finishes the current frame. `cut`: framing sync was lost mid-frame.
    fn end_frame(&mut self, sink: &mut dyn WsSink, cut: bool) {
        let Some(h) = self.cur.take() else {
            self.state = State::Header;
            return;
        };
        self.state = State::Header;
        let mut end = FrameEnd {
            compressed: h.compressed,
            truncated: self.truncated,
            ..FrameEnd::default()
        };
        if h.opcode == opcode::CLOSE && !cut {
            if !self.ctrl_damaged {
                self.decode_close(&h, &mut end, sink);
            }
            self.closed = true;
        }
        if cut {
            end.message_end = false;
        } else if h.is_control() {
            end.message_end = true;
        } else if h.is_data() && h.fin {
            end.message_end = true;
            let m = self.msg.take();
            if m.is_some_and(|m| m.check_utf8 && !m.utf8_reported) && !self.utf8.finish() {
                sink.violation(Violation {
                    code: ViolationCode::InvalidUtf8,
                    message: "text message ends inside a UTF-8 sequence".into(),
                    offset: h.offset,
                });
            }
        } else if !h.is_data() {
            // reserved opcode: treat as a message of its own when FIN
            end.message_end = h.fin;
        }
        self.ctrl.clear();
        self.truncated = false;
        sink.at_offset(self.pos);
        sink.frame_end(&h, &end);
    }

    fn decode_close(&mut self, h: &FrameHeader, end: &mut FrameEnd, sink: &mut dyn WsSink) {
        match self.ctrl.as_slice() {
            [] => {}
            [_] => sink.violation(Violation {
                code: ViolationCode::CloseCodeInvalid,
                message: "close payload of 1 byte (a status code needs 2)".into(),
                offset: h.offset,
            }),
            &[c0, c1, ref reason @ ..] => {
                let code = u16::from_be_bytes([c0, c1]);
                end.close_code = Some(code);
                let valid = matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999);
                if !valid {
                    sink.violation(Violation {
                        code: ViolationCode::CloseCodeInvalid,
                        message: format!("close status code {code} must not be sent"),
                        offset: h.offset,
                    });
                }
                if !reason.is_empty() {
                    if std::str::from_utf8(reason).is_err() {
                        sink.violation(Violation {
                            code: ViolationCode::InvalidUtf8,
                            message: "close reason is not valid UTF-8".into(),
                            offset: h.offset,
                        });
                    }
                    end.close_reason = Some(String::from_utf8_lossy(reason).into_owned());
                }
            }
        }
    }

    /// Judges whether `b` starts a plausible frame header for this direction.
    fn plausible(&self, b: &[u8]) -> Plaus {
        let Some(&b0) = b.first() else {
            return Plaus::NeedMore;
        };
        let op = b0 & 0x0f;
        let rsv = (b0 >> 4) & 7;
        let fin = b0 & 0x80 != 0;
        let control = op & 8 != 0;
        if !matches!(op, 0 | 1 | 2 | 8 | 9 | 10) || rsv & 0b011 != 0 {
            return Plaus::No;
        }
        if rsv & 0b100 != 0 && !(self.rsv1_ext && matches!(op, 1 | 2)) {
            return Plaus::No;
        }
        if control && !fin {
            return Plaus::No;
        }
        let Some(&b1) = b.get(1) else {
            return Plaus::NeedMore;
        };
        if (b1 & 0x80 != 0) != self.from_client {
            return Plaus::No;
        }
        let len7 = b1 & 0x7f;
        if control && len7 > 125 {
            return Plaus::No;
        }
        let len = match len7 {
            126 => match (b.get(2), b.get(3)) {
                (Some(&x), Some(&y)) => {
                    let l = u64::from(u16::from_be_bytes([x, y]));
                    if l < 126 {
                        return Plaus::No;
                    }
                    l
                }
                _ => return Plaus::NeedMore,
            },
            127 => match b.get(2..10) {
                Some(s) => {
                    let mut a = [0u8; 8];
                    a.copy_from_slice(s);
                    let l = u64::from_be_bytes(a);
                    if l <= 0xffff {
                        return Plaus::No;
                    }
                    l
                }
                None => return Plaus::NeedMore,
            },
            l => u64::from(l),
        };
        if len > self.lim.max_plausible_frame_len {
            return Plaus::No;
        }
        Plaus::Yes
    }

    /// Is a binary frame starting at `b` an anchor for resynchronisation
    /// with a payload test? The payloads of up to 8 consecutive data frames
    /// are unmasked and joined (clients such as MQTT.js send a packet's fixed
    /// header in a frame of its own) and must pass `probe`, and a second frame
    /// must follow the first. `NeedMore` while `b` ends too soon to say and
    /// `full` is false.
    fn chain_verdict(&self, b: &[u8], probe: PayloadProbe, full: bool) -> Plaus {
        match b.first() {
            Some(&b0) if b0 & 0x0f == opcode::BINARY => {}
            Some(_) => return Plaus::No,
            None => return Plaus::NeedMore,
        }
        let mut app = [0u8; 96];
        let mut n = 0usize;
        let mut i = 0usize;
        let mut frames = 0usize;
        while frames < 8 && n < app.len() {
            let rest = b.get(i..).unwrap_or(&[]);
            if frames > 0 && rest.first().is_some_and(|&x| x & 0x08 != 0) {
                break;
            }
            match self.plausible(rest) {
                Plaus::Yes => {}
                Plaus::No if frames > 0 => break,
                Plaus::No => return Plaus::No,
                Plaus::NeedMore if full => break,
                Plaus::NeedMore => return Plaus::NeedMore,
            }
            let Some(&b1) = rest.get(1) else { break };
            let (key_at, at) = header_layout(b1);
            let Some(len) = Self::implied_frame_len(rest).and_then(|l| usize::try_from(l).ok())
            else {
                break;
            };
            let raw = rest.get(at..len.min(rest.len())).unwrap_or(&[]);
            let Some(free) = app.get_mut(n..) else { break };
            let take = raw.len().min(free.len());
            let (Some(dst), Some(src)) = (free.get_mut(..take), raw.get(..take)) else {
                break;
            };
            dst.copy_from_slice(src);
            // masked: the key is the 4 bytes before the payload
            if let Some(&[m0, m1, m2, m3]) = rest.get(key_at..at) {
                unmask(dst, [m0, m1, m2, m3], 0);
            }
            // n + take <= app.len()
            n = n.saturating_add(take);
            if len > rest.len() {
                // The frame goes on beyond the bytes at hand.
                if !full && n < app.len() {
                    return Plaus::NeedMore;
                }
                break;
            }
            frames = frames.saturating_add(1);
            // i + len <= b.len(): the frame lies within `rest`
            i = i.saturating_add(len);
        }
        match probe(app.get(..n).unwrap_or(&app)) {
            Some(true) if frames >= 2 || full || n >= app.len() => Plaus::Yes,
            None if !full => Plaus::NeedMore,
            _ if frames < 2 && !full && i >= b.len() => Plaus::NeedMore,
            _ => Plaus::No,
        }
    }

    /// Header length implied by a plausible header prefix (>= 2 bytes known).
    fn implied_frame_len(b: &[u8]) -> Option<u64> {
        let b1 = *b.get(1)?;
        let len = match b1 & 0x7f {
            126 => u64::from(u16::from_be_bytes([*b.get(2)?, *b.get(3)?])),
            127 => u64::from_be_bytes(<[u8; 8]>::try_from(b.get(2..10)?).ok()?),
            l => u64::from(l),
        };
        (header_layout(b1).1 as u64).checked_add(len)
    }

    /// Plausible header at `b`, and (if it lies within `b`) a plausible header
    /// right after that frame too.
    fn plausible_chain(&self, b: &[u8]) -> Plaus {
        match self.plausible(b) {
            Plaus::Yes => {}
            other => return other,
        }
        let len = Self::implied_frame_len(b).and_then(|l| usize::try_from(l).ok());
        let next = len.and_then(|l| b.get(l..));
        match next {
            Some(rest) if !rest.is_empty() => match self.plausible(rest) {
                Plaus::No => Plaus::No,
                _ => Plaus::Yes,
            },
            _ => Plaus::Yes,
        }
    }

    fn resynced(&mut self, sink: &mut dyn WsSink) {
        let skipped = self.skipped;
        self.skipped = 0;
        self.state = State::Header;
        if std::mem::take(&mut self.start_unseen) {
            self.after_resync = true;
            if skipped > 0 {
                sink.violation(Violation {
                    code: ViolationCode::MidstreamSkipped,
                    message: format!(
                        "the capture starts inside a WebSocket frame: {skipped} bytes skipped to the first frame header"
                    ),
                    offset: self.pos,
                });
            }
            return;
        }
        self.after_resync = true;
        sink.violation(Violation {
            code: ViolationCode::Resynced,
            message: format!(
                "resynchronized on a plausible frame header after skipping {skipped} bytes"
            ),
            offset: self.pos,
        });
    }

    fn feed_resync(&mut self, input: &[u8], sink: &mut dyn WsSink) -> usize {
        if self.carry_len > 0 {
            // a local copy: the carry is replayed through `feed_dyn`
            let carry_buf = self.carry;
            let carry = carry_buf.get(..self.carry_len).unwrap_or(&carry_buf);
            let head = input.get(..14).unwrap_or(input);
            let il = head.len();
            let mut tmp = [0u8; 28];
            for (d, s) in tmp.iter_mut().zip(carry.iter().chain(head)) {
                *d = *s;
            }
            // carry and head are at most 14 bytes each
            let view = tmp.get(..carry.len().saturating_add(il)).unwrap_or(&tmp);
            for p in 0..carry.len() {
                let (Some(at), Some(replay)) = (view.get(p..), carry.get(p..)) else {
                    break;
                };
                match self.plausible(at) {
                    Plaus::No => continue,
                    Plaus::Yes => {
                        // header starts inside the carry: replay the carry
                        self.carry_len = 0;
                        self.skipped = self.skipped.saturating_add(p as u64);
                        // pos already counts the carry bytes; rewind it
                        self.pos = self.pos.saturating_sub(replay.len() as u64);
                        self.resynced(sink);
                        self.feed_dyn(replay, sink);
                        return 0;
                    }
                    Plaus::NeedMore => {
                        // everything from p on is shorter than a header
                        self.carry_len = at.len().min(14);
                        for (d, s) in self.carry.iter_mut().zip(at) {
                            *d = *s;
                        }
                        self.skipped = self.skipped.saturating_add(p as u64);
                        self.pos = self.pos.saturating_add(il as u64);
                        return il;
                    }
                }
            }
            self.skipped = self.skipped.saturating_add(carry.len() as u64);
            self.carry_len = 0;
        }
        for p in 0..input.len() {
            let Some(rest) = input.get(p..) else { break };
            match self.plausible_chain(rest) {
                Plaus::No => continue,
                Plaus::Yes => {
                    self.skipped = self.skipped.saturating_add(p as u64);
                    self.pos = self.pos.saturating_add(p as u64);
                    self.resynced(sink);
                    return p;
                }
                Plaus::NeedMore => {
                    self.carry_len = rest.len().min(14);
                    for (d, s) in self.carry.iter_mut().zip(rest) {
                        *d = *s;
                    }
                    self.skipped = self.skipped.saturating_add(p as u64);
                    self.pos = self.pos.saturating_add(input.len() as u64);
                    return input.len();
                }
            }
        }
        self.skipped = self.skipped.saturating_add(input.len() as u64);
        self.pos = self.pos.saturating_add(input.len() as u64);
        input.len()
    }
}

impl FrameDecoder {
    /// Resynchronisation with a payload test: input is gathered (at most
    /// [`SCAN_MAX`] bytes) so that a candidate header can be judged by the
    /// frames that follow it, across TCP segments.
    fn feed_resync_probe(&mut self, input: &[u8], sink: &mut dyn WsSink) -> usize {
        let Some(probe) = self.payload_probe else {
            return self.feed_resync(input, sink);
        };
        if self.carry_len > 0 {
            let carry = self.carry.get(..self.carry_len).unwrap_or(&self.carry);
            self.scan.extend_from_slice(carry);
            self.pos = self.pos.saturating_sub(self.carry_len as u64);
            self.skipped = self.skipped.saturating_sub(self.carry_len as u64);
            self.carry_len = 0;
        }
        let room = SCAN_MAX.saturating_sub(self.scan.len());
        // at most `room` bytes (all of `input` when it is shorter)
        let chunk = input.get(..room).unwrap_or(input);
        let take = chunk.len();
        self.scan.extend_from_slice(chunk);
        self.pos = self.pos.saturating_add(take as u64);
        let full = self.scan.len() >= SCAN_MAX;
        let mut scan = std::mem::take(&mut self.scan);
        for p in 0..scan.len() {
            let Some(at) = scan.get(p..) else { break };
            match self.chain_verdict(at, probe, full) {
                Plaus::No => continue,
                Plaus::Yes => {
                    self.skipped = self.skipped.saturating_add(p as u64);
                    self.pos = self.pos.saturating_sub(at.len() as u64);
                    self.resynced(sink);
                    self.feed_dyn(at, sink);
                    return take;
                }
                Plaus::NeedMore => {
                    self.skipped = self.skipped.saturating_add(p as u64);
                    // keep scan[p..], reusing the buffer (p < scan.len())
                    scan.drain(..p);
                    self.scan = scan;
                    return take;
                }
            }
        }
        self.skipped = self.skipped.saturating_add(scan.len() as u64);
        scan.clear();
        self.scan = scan;
        take
    }
}

/// What the first bytes of a direction say about WebSocket framing when the
/// handshake was not captured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameSniff {
    /// One or more plausible frames, all masked or all unmasked.
    Frames {
        /// The frames are masked: the direction is client-to-server
        /// (RFC 6455 section 5.1).
        masked: bool,
        /// Complete frames in the input (0 when the first frame goes on
        /// beyond it).
        frames: usize,
        /// The complete frames end exactly at the end of the input.
        tiles: bool,
        /// Masking key of the first frame; `None` when unmasked or when the
        /// input ends before the key.
        mask: Option<[u8; 4]>,
        /// Offset in the input of the first frame's payload (may be past the
        /// end of the input).
        payload_at: usize,
        /// Bytes of the first frame's payload present in the input (still
        /// masked).
        payload_len: usize,
    },
    /// The input does not start with WebSocket frames.
    No,
    /// Too few bytes to say (less than one frame header).
    NeedMore,
}

/// Look for WebSocket frames at the start of `b` (a stream whose handshake
/// was not captured): every frame header must be plausible (known opcode,
/// RSV only RSV1 on data frames, short FIN-ed control frames, minimal
/// length encoding) and carry the same mask bit.
pub fn sniff_frames(b: &[u8]) -> FrameSniff {
    let mut lim = WsLimits::default();
    lim.max_plausible_frame_len = lim.max_plausible_frame_len.min(1 << 20);
    let Some(&b1) = b.get(1) else {
        return FrameSniff::NeedMore;
    };
    let masked = b1 & 0x80 != 0;
    let dec = FrameDecoder::with_limits(masked, true, lim);
    let mut i = 0usize;
    let mut frames = 0usize;
    let mut first: Option<(Option<[u8; 4]>, usize, usize)> = None;
    while let Some(rest) = b.get(i..).filter(|r| !r.is_empty()) {
        match dec.plausible(rest) {
            Plaus::No => return FrameSniff::No,
            Plaus::NeedMore => {
                if frames == 0 {
                    return FrameSniff::NeedMore;
                }
                break;
            }
            Plaus::Yes => {}
        }
        let Some(total) =
            FrameDecoder::implied_frame_len(rest).and_then(|l| usize::try_from(l).ok())
        else {
            return FrameSniff::NeedMore;
        };
        if first.is_none() {
            let b1 = rest.get(1).copied().unwrap_or(0);
            let (key_at, at) = header_layout(b1);
            // masked: the key is the 4 bytes before the payload (when present)
            let mask = match rest.get(key_at..at) {
                Some(&[m0, m1, m2, m3]) => Some([m0, m1, m2, m3]),
                _ => None,
            };
            let have = rest.len().saturating_sub(at).min(total.saturating_sub(at));
            first = Some((mask, i.saturating_add(at), have));
        }
        if total > rest.len() {
            break;
        }
        frames = frames.saturating_add(1);
        // i + total <= b.len(): the frame lies within `rest`
        i = i.saturating_add(total);
    }
    let Some((mask, payload_at, payload_len)) = first else {
        return FrameSniff::NeedMore;
    };
    FrameSniff::Frames {
        masked,
        frames,
        tiles: i == b.len(),
        mask,
        payload_at,
        payload_len,
    }
}

/// Receiver of [`WsDirection`] events.
pub trait WsDataSink {
    /// Application bytes of data frames (text/binary/continuation), unmasked
    /// and inflated when compressed, as one continuous stream.
    fn data(&mut self, bytes: &[u8]);
    /// One call per frame, when its last byte has been fed (after the
    /// frame's `data`).
    fn frame(&mut self, h: &FrameHeader, end: &FrameEnd);
    /// Violations and notes (including `ws_inflate_*`).
    fn violation(&mut self, v: Violation);
    /// Application bytes were lost: `Some(n)` when exactly `n` bytes of an
    /// uncompressed data payload are missing (a capture gap inside a frame,
    /// framing still in sync: a byte-stream parser on top can skip them and
    /// stay in sync); `None` when how much is unknown (lost framing, an
    /// inflate error or limit, a gap in compressed data, data of unknown
    /// compression): the parser on top should resynchronize.
    /// Default: ignored.
    fn data_gap(&mut self, _len: Option<u64>) {}
    /// A frame header was decoded. Default: ignored.
    fn frame_start(&mut self, _h: &FrameHeader) {}
    /// See [`WsSink::at_offset`]. Default: ignored.
    fn at_offset(&mut self, _end: u64) {}
}

/// One direction of a WebSocket connection: frame decoding, permessage-deflate
/// inflation and the application byte stream.
#[derive(Debug)]
pub struct WsDirection {
    decoder: FrameDecoder,
    st: DirState,
}

/// Per-direction state besides the frame decoder.
#[derive(Debug)]
struct DirState {
    inflater: Option<Inflater>,
    /// UTF-8 check of inflated text messages.
    text_utf8: Utf8Validator,
    check_text: bool,
    text_reported: bool,
    /// A compressed message has started and not yet ended.
    compressed_open: bool,
}

impl DirState {
    /// The open compressed message (if any) is gone; with `sync_lost` whole
    /// messages may be gone too.
    fn lose(&mut self, sync_lost: bool) {
        let lost = sync_lost || self.compressed_open;
        if let Some(inf) = self.inflater.as_mut().filter(|_| lost) {
            inf.lose_message();
        }
        self.compressed_open = false;
        self.check_text = false;
    }
}

struct Adapter<'a, S: WsDataSink + ?Sized> {
    st: &'a mut DirState,
    sink: &'a mut S,
}

fn deliver_inflated<S: WsDataSink + ?Sized>(
    text_utf8: &mut Utf8Validator,
    check_text: bool,
    text_reported: &mut bool,
    sink: &mut S,
    h: &FrameHeader,
    bytes: &[u8],
) {
    if check_text && !*text_reported && !text_utf8.feed(bytes) {
        *text_reported = true;
        sink.violation(Violation {
            code: ViolationCode::InvalidUtf8,
            message: "inflated text message is not valid UTF-8".into(),
            offset: h.offset,
        });
    }
    sink.data(bytes);
}

impl<S: WsDataSink + ?Sized> Adapter<'_, S> {
    fn inflate_error(&mut self, h: &FrameHeader, e: super::deflate::DeflateError) {
        self.sink.violation(Violation {
            code: e.code(),
            message: e.to_string(),
            offset: h.offset,
        });
        self.sink.data_gap(None);
    }
}

impl<S: WsDataSink + ?Sized> WsSink for Adapter<'_, S> {
    fn at_offset(&mut self, end: u64) {
        self.sink.at_offset(end);
    }

    fn frame_start(&mut self, h: &FrameHeader) {
        if h.is_data() && h.opcode != 0 {
            self.st.check_text = h.opcode == opcode::TEXT && h.compressed;
            self.st.text_reported = false;
            self.st.text_utf8.reset();
            self.st.compressed_open = h.compressed;
        }
        self.sink.frame_start(h);
    }

    fn payload(&mut self, h: &FrameHeader, data: &[u8]) {
        if !h.is_data() {
            return;
        }
        if h.compressed {
            let DirState {
                inflater,
                text_utf8,
                check_text,
                text_reported,
                ..
            } = &mut *self.st;
            let Some(inf) = inflater.as_mut() else {
                return;
            };
            let sink = &mut *self.sink;
            let check = *check_text;
            let r = inf.feed(data, &mut |b| {
                deliver_inflated(text_utf8, check, text_reported, sink, h, b)
            });
            if let Err(e) = r {
                self.inflate_error(h, e);
            }
        } else if h.message_opcode == 0 && self.st.inflater.is_some() {
            // continuation of a message whose start was not seen while
            // deflate is in use: it may be compressed; do not pass it on
            self.sink.data_gap(None);
        } else {
            self.sink.data(data);
        }
    }

    fn frame_end(&mut self, h: &FrameHeader, info: &FrameEnd) {
        if h.is_data() && info.message_end {
            if h.compressed {
                let DirState {
                    inflater,
                    text_utf8,
                    check_text,
                    text_reported,
                    ..
                } = &mut *self.st;
                if let Some(inf) = inflater.as_mut() {
                    let sink = &mut *self.sink;
                    let check = *check_text;
                    let r = inf.end_message(&mut |b| {
                        deliver_inflated(text_utf8, check, text_reported, sink, h, b)
                    });
                    if let Err(e) = r {
                        self.inflate_error(h, e);
                    }
                }
                if self.st.check_text && !self.st.text_reported && !self.st.text_utf8.finish() {
                    self.st.text_reported = true;
                    self.sink.violation(Violation {
                        code: ViolationCode::InvalidUtf8,
                        message: "inflated text message ends inside a UTF-8 sequence".into(),
                        offset: h.offset,
                    });
                }
            }
            self.st.check_text = false;
            self.st.compressed_open = false;
        }
        self.sink.frame(h, info);
    }

    fn violation(&mut self, v: Violation) {
        match v.code {
            // framing lost: the inflater must not continue the old stream
            ViolationCode::LengthMsbSet => {
                self.st.lose(true);
                self.sink.violation(v);
                self.sink.data_gap(None);
            }
            // the open message is abandoned by a new data frame
            ViolationCode::ExpectedContinuation => {
                let had = self.st.compressed_open;
                self.st.lose(false);
                self.sink.violation(v);
                if had {
                    self.sink.data_gap(None);
                }
            }
            _ => self.sink.violation(v),
        }
    }
}

impl WsDirection {
    /// A direction decoder. `deflate`: the negotiated permessage-deflate
    /// parameters (from [`super::handshake::Handshake::deflate`]), `None` when
    /// not negotiated.
    pub fn new(from_client: bool, deflate: Option<DeflateParams>, limits: WsLimits) -> Self {
        let inflater = deflate.map(|p| {
            let nct = if from_client {
                p.client_no_context_takeover
            } else {
                p.server_no_context_takeover
            };
            Inflater::new(nct, limits.max_message_bytes)
        });
        WsDirection {
            decoder: FrameDecoder::with_limits(from_client, deflate.is_some(), limits),
            st: DirState {
                inflater,
                text_utf8: Utf8Validator::default(),
                check_text: false,
                text_reported: false,
                compressed_open: false,
            },
        }
    }

    /// A direction whose handshake was not captured: framing is found by
    /// scanning (see [`FrameDecoder::midstream`]) unless `aligned` (its first
    /// bytes are known to start a frame); compressed messages are
    /// inflated as if without context takeover (the negotiated parameters are
    /// unknown), so a message that refers to earlier ones fails to inflate
    /// and is reported, never passed on as garbage.
    pub fn midstream(from_client: bool, limits: WsLimits, aligned: bool) -> Self {
        WsDirection {
            decoder: if aligned {
                FrameDecoder::midstream_aligned(from_client, limits)
            } else {
                FrameDecoder::midstream(from_client, limits)
            },
            st: DirState {
                inflater: Some(Inflater::new(true, limits.max_message_bytes)),
                text_utf8: Utf8Validator::default(),
                check_text: false,
                text_reported: false,
                compressed_open: false,
            },
        }
    }

    /// Resynchronise only on data frames whose payload passes `probe` (see
    /// [`FrameDecoder::set_payload_probe`]).
    pub fn set_payload_probe(&mut self, probe: PayloadProbe) {
        self.decoder.set_payload_probe(probe);
    }

    /// The underlying frame decoder (position, state queries).
    pub fn decoder(&self) -> &FrameDecoder {
        &self.decoder
    }

    /// Decodes `input`, reporting events to `sink`. Always consumes all of
    /// `input` (see [`FrameDecoder::feed`]).
    pub fn feed<S: WsDataSink + ?Sized>(&mut self, input: &[u8], sink: &mut S) {
        let mut a = Adapter {
            st: &mut self.st,
            sink,
        };
        self.decoder.feed_dyn(input, &mut a);
    }

    /// `len` bytes of this direction are missing from the capture (see
    /// [`FrameDecoder::gap`]). Calls `data_lost` when application bytes may
    /// be missing; a compressed message hit by the gap is abandoned, and with
    /// context takeover later compressed messages are refused
    /// (`ws_inflate_context_lost`) rather than decoded wrongly.
    pub fn gap<S: WsDataSink + ?Sized>(&mut self, len: u64, sink: &mut S) {
        if len == 0 {
            return;
        }
        let keeps = self.decoder.gap_keeps_sync(len);
        let in_data = self.decoder.current_frame().is_some_and(|h| h.is_data());
        if keeps {
            if in_data {
                let open = self.st.compressed_open;
                let compressed = self.decoder.current_frame().is_some_and(|h| h.compressed);
                if let Some(inf) = self.st.inflater.as_mut().filter(|_| open) {
                    inf.abandon_message();
                }
                self.st.check_text = false;
                // Uncompressed payload: exactly `len` application bytes.
                sink.data_gap((!compressed).then_some(len));
            }
        } else {
            sink.data_gap(None);
        }
        let mut a = Adapter {
            st: &mut self.st,
            sink,
        };
        self.decoder.gap_dyn(len, &mut a);
        if !keeps {
            // whole messages may be inside the gap
            self.st.lose(true);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::arithmetic_side_effects
    )]
    use super::*;

    #[test]
    fn unmask_word_at_a_time_equals_bytewise() {
        let mask = [0x37, 0xfa, 0x21, 0x3d];
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        for pos in 0..4 {
            for len in [0, 1, 3, 7, 8, 9, 15, 16, 17, 1000] {
                let mut a = data[..len].to_vec();
                unmask(&mut a, mask, pos);
                let b: Vec<u8> = data[..len]
                    .iter()
                    .enumerate()
                    .map(|(i, x)| x ^ mask[(pos + i) & 3])
                    .collect();
                assert_eq!(a, b, "pos {pos} len {len}");
            }
        }
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Ev {
        Start(FrameHeader),
        Payload(Vec<u8>),
        End(FrameHeader, FrameEnd),
        V(&'static str),
    }

    #[derive(Default)]
    struct Log(Vec<Ev>);

    impl WsSink for Log {
        fn frame_start(&mut self, h: &FrameHeader) {
            self.0.push(Ev::Start(*h));
        }
        fn payload(&mut self, _h: &FrameHeader, data: &[u8]) {
            if let Some(Ev::Payload(p)) = self.0.last_mut() {
                p.extend_from_slice(data);
            } else {
                self.0.push(Ev::Payload(data.to_vec()));
            }
        }
        fn frame_end(&mut self, h: &FrameHeader, info: &FrameEnd) {
            self.0.push(Ev::End(*h, info.clone()));
        }
        fn violation(&mut self, v: Violation) {
            self.0.push(Ev::V(v.code.as_str()));
        }
    }

    fn run(from_client: bool, ext: bool, input: &[u8]) -> Vec<Ev> {
        let mut d = FrameDecoder::new(from_client, ext);
        let mut log = Log::default();
        d.feed(input, &mut log);
        assert_eq!(d.position(), input.len() as u64);
        log.0
    }

    /// Decodes whole, split at every point and byte by byte: all identical.
    fn run_all_splits(from_client: bool, ext: bool, input: &[u8]) -> Vec<Ev> {
        let reference = run(from_client, ext, input);
        for split in 0..=input.len() {
            let mut d = FrameDecoder::new(from_client, ext);
            let mut log = Log::default();
            d.feed(&input[..split], &mut log);
            d.feed(&input[split..], &mut log);
            assert_eq!(log.0, reference, "split at {split}");
        }
        let mut d = FrameDecoder::new(from_client, ext);
        let mut log = Log::default();
        for b in input {
            d.feed(std::slice::from_ref(b), &mut log);
        }
        assert_eq!(log.0, reference, "byte by byte");
        reference
    }

    fn codes(ev: &[Ev]) -> Vec<&'static str> {
        ev.iter()
            .filter_map(|e| match e {
                Ev::V(c) => Some(*c),
                _ => None,
            })
            .collect()
    }

    fn payloads(ev: &[Ev]) -> Vec<Vec<u8>> {
        ev.iter()
            .filter_map(|e| match e {
                Ev::Payload(p) => Some(p.clone()),
                _ => None,
            })
            .collect()
    }

    fn ends(ev: &[Ev]) -> Vec<(FrameHeader, FrameEnd)> {
        ev.iter()
            .filter_map(|e| match e {
                Ev::End(h, f) => Some((*h, f.clone())),
                _ => None,
            })
            .collect()
    }

    const MASKED_HELLO: [u8; 11] = [
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];

    #[test]
    fn rfc6455_5_7_examples() {
        // single-frame unmasked text
        let ev = run_all_splits(false, false, &[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
        assert_eq!(payloads(&ev), vec![b"Hello".to_vec()]);
        assert!(codes(&ev).is_empty());
        let e = ends(&ev);
        assert!(e[0].1.message_end);
        assert_eq!(e[0].0.opcode_name(), "text");
        // single-frame masked text
        let ev = run_all_splits(true, false, &MASKED_HELLO);
        assert_eq!(payloads(&ev), vec![b"Hello".to_vec()]);
        assert!(codes(&ev).is_empty());
        assert_eq!(ends(&ev)[0].0.mask, Some([0x37, 0xfa, 0x21, 0x3d]));
        // fragmented unmasked text
        let ev = run_all_splits(
            false,
            false,
            &[0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f],
        );
        assert_eq!(payloads(&ev), vec![b"Hel".to_vec(), b"lo".to_vec()]);
        let e = ends(&ev);
        assert!(!e[0].1.message_end && e[1].1.message_end);
        assert_eq!(e[1].0.message_opcode, 1);
        assert!(codes(&ev).is_empty());
        // unmasked ping, masked pong
        let ev = run_all_splits(false, false, &[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
        assert_eq!(payloads(&ev), vec![b"Hello".to_vec()]);
        assert_eq!(ends(&ev)[0].0.opcode_name(), "ping");
        let mut pong = MASKED_HELLO;
        pong[0] = 0x8a;
        let ev = run_all_splits(true, false, &pong);
        assert_eq!(payloads(&ev), vec![b"Hello".to_vec()]);
        assert!(codes(&ev).is_empty());
        // 256 bytes binary in a single unmasked frame
        let mut f = vec![0x82, 0x7e, 0x01, 0x00];
        f.extend((0..256u32).map(|i| i as u8));
        let ev = run_all_splits(false, false, &f);
        assert_eq!(payloads(&ev)[0].len(), 256);
        assert_eq!(ends(&ev)[0].0.header_len, 4);
        // 64 KiB binary in a single unmasked frame
        let mut f = vec![0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0];
        f.extend(std::iter::repeat_n(0xabu8, 65536));
        let ev = run(false, false, &f);
        assert_eq!(payloads(&ev)[0].len(), 65536);
        assert_eq!(ends(&ev)[0].0.header_len, 10);
        assert!(codes(&ev).is_empty());
    }

    fn mask_frame(b0: u8, payload: &[u8], key: [u8; 4]) -> Vec<u8> {
        let mut f = vec![b0];
        let n = payload.len();
        if n < 126 {
            f.push(0x80 | n as u8);
        } else if n <= 0xffff {
            f.push(0x80 | 126);
            f.extend((n as u16).to_be_bytes());
        } else {
            f.push(0x80 | 127);
            f.extend((n as u64).to_be_bytes());
        }
        f.extend(key);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        f
    }

    #[test]
    fn interleaved_control_and_close() {
        let k = [1, 2, 3, 4];
        let mut s = mask_frame(0x01, "hé".as_bytes(), k);
        s.extend(mask_frame(0x89, b"p", k));
        s.extend(mask_frame(0x80, "llo €".as_bytes(), k));
        let mut close = vec![0x03, 0xe8];
        close.extend(b"bye");
        s.extend(mask_frame(0x88, &close, k));
        let ev = run_all_splits(true, false, &s);
        assert!(codes(&ev).is_empty(), "{:?}", codes(&ev));
        let e = ends(&ev);
        assert_eq!(e.len(), 4);
        assert!(!e[0].1.message_end);
        assert!(e[1].1.message_end && e[1].0.opcode == 9);
        assert!(e[2].1.message_end);
        assert_eq!(e[3].1.close_code, Some(1000));
        assert_eq!(e[3].1.close_reason.as_deref(), Some("bye"));
    }

    #[test]
    fn utf8_split_across_fragments() {
        // "€" = e2 82 ac split across frames: valid
        let s = [0x01, 0x02, b'a', 0xe2, 0x80, 0x02, 0x82, 0xac];
        let ev = run_all_splits(false, false, &s);
        assert!(codes(&ev).is_empty());
        // truncated sequence at message end
        let s = [0x81, 0x02, b'a', 0xe2];
        assert_eq!(
            codes(&run_all_splits(false, false, &s)),
            vec!["ws_invalid_utf8"]
        );
        // invalid byte: reported once per message
        let s = [0x01, 0x01, 0xff, 0x80, 0x01, 0xfe];
        assert_eq!(
            codes(&run_all_splits(false, false, &s)),
            vec!["ws_invalid_utf8"]
        );
        // binary is not checked
        let s = [0x82, 0x01, 0xff];
        assert!(codes(&run_all_splits(false, false, &s)).is_empty());
    }

    #[test]
    fn violations() {
        let c = |fc: bool, ext: bool, s: &[u8]| codes(&run_all_splits(fc, ext, s));
        assert_eq!(
            c(true, false, &[0x81, 0x01, b'a']),
            vec!["ws_client_frame_unmasked"]
        );
        assert_eq!(
            c(false, false, &[0x82, 0x81, 0, 0, 0, 0, 0]),
            vec!["ws_server_frame_masked"]
        );
        let mut long_ping = vec![0x89, 0x7e, 0x00, 0x80];
        long_ping.extend([0u8; 128]);
        assert_eq!(
            c(false, false, &long_ping),
            vec!["ws_control_frame_too_long"]
        );
        assert_eq!(
            c(false, false, &[0x09, 0x00]),
            vec!["ws_control_frame_fragmented"]
        );
        assert_eq!(c(false, false, &[0x83, 0x00]), vec!["ws_reserved_opcode"]);
        assert_eq!(
            c(false, false, &[0xc2, 0x00]),
            vec!["ws_rsv_without_extension"]
        );
        assert_eq!(
            c(false, true, &[0xa2, 0x00]),
            vec!["ws_rsv_without_extension"]
        );
        assert_eq!(
            c(false, true, &[0xc9, 0x00]),
            vec!["ws_rsv_without_extension"]
        );
        assert!(c(false, true, &[0xc2, 0x01, 0x00]).is_empty());
        let mut nm = vec![0x82, 0x7e, 0x00, 0x05];
        nm.extend(b"abcde");
        assert_eq!(c(false, false, &nm), vec!["ws_non_minimal_length"]);
        let mut nm = vec![0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0, 0x05];
        nm.extend(b"abcde");
        assert_eq!(c(false, false, &nm), vec!["ws_non_minimal_length"]);
        assert_eq!(
            c(false, false, &[0x80, 0x01, b'a']),
            vec!["ws_unexpected_continuation"]
        );
        assert_eq!(
            c(false, false, &[0x01, 0x01, b'a', 0x82, 0x00]),
            vec!["ws_expected_continuation"]
        );
        assert_eq!(
            c(false, false, &[0x88, 0x01, 0x03]),
            vec!["ws_close_code_invalid"]
        );
        assert_eq!(
            c(false, false, &[0x88, 0x02, 0x03, 0xed]),
            vec!["ws_close_code_invalid"]
        ); // 1005
        assert!(c(false, false, &[0x88, 0x02, 0x0f, 0xa0]).is_empty()); // 4000
        assert_eq!(
            c(false, false, &[0x88, 0x03, 0x03, 0xe8, 0xff]),
            vec!["ws_invalid_utf8"]
        );
        assert_eq!(
            c(false, false, &[0x88, 0x00, 0x82, 0x00, 0x82, 0x00]),
            vec!["ws_data_after_close"]
        );
    }

    #[test]
    fn length_msb_set_then_resync() {
        // frame claiming 2^63 bytes, followed by two valid frames
        let mut s = vec![0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0];
        s.extend([0x81, 0x02, b'o', b'k', 0x81, 0x01, b'!']);
        let ev = run_all_splits(false, false, &s);
        assert_eq!(codes(&ev), vec!["ws_length_msb_set", "ws_resynced"]);
        assert_eq!(payloads(&ev), vec![b"ok".to_vec(), b"!".to_vec()]);
        // 2^63 - 1 (MSB clear): taken as a payload, no overflow anywhere
        let s = [
            0x82, 0x7f, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3,
        ];
        let mut d = FrameDecoder::new(false, false);
        let mut log = Log::default();
        d.feed(&s, &mut log);
        assert_eq!(payloads(&log.0), vec![vec![1, 2, 3]]);
        assert_eq!(codes(&log.0), vec!["ws_frame_too_large"]);
        d.gap(u64::MAX, &mut log);
        d.gap(u64::MAX, &mut log);
        d.feed(&[0x81, 0x00], &mut log);
        assert_eq!(d.position(), u64::MAX);
    }

    #[test]
    fn gap_inside_payload_keeps_sync() {
        let k = [9, 8, 7, 6];
        let f1 = mask_frame(0x82, b"0123456789", k);
        let f2 = mask_frame(0x81, b"next", k);
        let mut d = FrameDecoder::new(true, false);
        let mut log = Log::default();
        d.feed(&f1[..6 + 3], &mut log); // header + "012"
        d.gap(4, &mut log); // "3456" lost
        d.feed(&f1[6 + 7..], &mut log); // "789"
        d.feed(&f2, &mut log);
        assert_eq!(codes(&log.0), vec!["ws_gap_in_payload"]);
        assert_eq!(
            payloads(&log.0),
            vec![b"012".to_vec(), b"789".to_vec(), b"next".to_vec()]
        );
        let e = ends(&log.0);
        assert!(e[0].1.truncated && e[0].1.message_end);
        assert!(!e[1].1.truncated);
        assert_eq!(e[1].0.offset, f1.len() as u64);
    }

    #[test]
    fn gap_lost_sync_and_resync() {
        let k = [9, 8, 7, 6];
        let f1 = mask_frame(0x82, b"0123456789", k);
        let f2 = mask_frame(0x82, b"second", k);
        let f3 = mask_frame(0x81, b"third", k);
        let mut tail = f2[3..].to_vec(); // f2 missing its first 3 bytes
        tail.extend(&f3);
        let mut stream_events = None;
        for split in 0..=tail.len() {
            let mut d = FrameDecoder::new(true, false);
            let mut log = Log::default();
            d.feed(&f1[..8], &mut log);
            d.gap(20, &mut log); // rest of f1 and start of f2 lost
            assert!(d.resyncing());
            d.feed(&tail[..split], &mut log);
            d.feed(&tail[split..], &mut log);
            let c = codes(&log.0);
            assert_eq!(c, vec!["ws_gap_lost_sync", "ws_resynced"], "split {split}");
            let e = ends(&log.0);
            assert!(e[0].1.truncated && !e[0].1.message_end);
            assert_eq!(payloads(&log.0).last().unwrap(), b"third");
            assert_eq!(
                e.last().unwrap().0.offset,
                (8 + 20 + tail.len() - f3.len()) as u64
            );
            match &stream_events {
                None => stream_events = Some(log.0),
                Some(r) => assert_eq!(&log.0, r, "split {split}"),
            }
        }
    }

    #[test]
    fn garbage_every_prefix_no_panic() {
        let mut x: u32 = 12345;
        let data: Vec<u8> = (0..3000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        for fc in [false, true] {
            for n in (0..data.len()).step_by(7) {
                let mut d = FrameDecoder::new(fc, true);
                let mut log = Log::default();
                d.feed(&data[..n], &mut log);
                d.gap(3, &mut log);
                d.feed(&data[n..], &mut log);
            }
            let mut dir = WsDirection::new(fc, Some(DeflateParams::default()), WsLimits::default());
            let mut s = DataLog::default();
            dir.feed(&data, &mut s);
        }
    }

    #[derive(Default)]
    struct DataLog {
        data: Vec<u8>,
        frames: Vec<(FrameHeader, FrameEnd)>,
        codes: Vec<&'static str>,
        lost: usize,
    }

    impl WsDataSink for DataLog {
        fn data(&mut self, bytes: &[u8]) {
            self.data.extend_from_slice(bytes);
        }
        fn frame(&mut self, h: &FrameHeader, end: &FrameEnd) {
            self.frames.push((*h, end.clone()));
        }
        fn violation(&mut self, v: Violation) {
            self.codes.push(v.code.as_str());
        }
        fn data_gap(&mut self, _len: Option<u64>) {
            self.lost += 1;
        }
    }

    fn dir_all_splits(
        from_client: bool,
        p: Option<DeflateParams>,
        input: &[u8],
    ) -> (Vec<u8>, Vec<&'static str>, usize) {
        let mut reference = None;
        for split in 0..=input.len() {
            let mut d = WsDirection::new(from_client, p, WsLimits::default());
            let mut s = DataLog::default();
            d.feed(&input[..split], &mut s);
            d.feed(&input[split..], &mut s);
            let got = (s.data, s.codes, s.frames.len());
            match &reference {
                None => reference = Some(got),
                Some(r) => assert_eq!(&got, r, "split {split}"),
            }
        }
        reference.unwrap()
    }

    #[test]
    fn rfc7692_7_2_3_examples() {
        let pmd = Some(DeflateParams::default());
        // 7.2.3.1 single compressed frame
        let one = [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        let (d, c, n) = dir_all_splits(false, pmd, &one);
        assert_eq!((d.as_slice(), c.len(), n), (&b"Hello"[..], 0, 1));
        // fragmented compressed
        let frag = [
            0x41, 0x03, 0xf2, 0x48, 0xcd, 0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00,
        ];
        let (d, c, n) = dir_all_splits(false, pmd, &frag);
        assert_eq!((d.as_slice(), c.len(), n), (&b"Hello"[..], 0, 2));
        // 7.2.3.2 context takeover: second message refers back
        let mut two = one.to_vec();
        two.extend([0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00]);
        let (d, c, _) = dir_all_splits(false, pmd, &two);
        assert_eq!((d.as_slice(), c.len()), (&b"HelloHello"[..], 0));
        // 7.2.3.3 stored block
        let stored = [
            0xc1, 0x0b, 0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
        ];
        let (d, c, _) = dir_all_splits(false, pmd, &stored);
        assert_eq!((d.as_slice(), c.len()), (&b"Hello"[..], 0));
        // same bytes masked from a client; mixed with an uncompressed message
        let mut s = mask_frame(
            0xc1,
            &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00],
            [1, 2, 3, 4],
        );
        s.extend(mask_frame(0x82, b" raw", [5, 6, 7, 8]));
        let (d, c, _) = dir_all_splits(true, pmd, &s);
        assert_eq!((d.as_slice(), c.len()), (&b"Hello raw"[..], 0));
        // without deflate negotiated RSV1 is a violation and bytes pass raw
        let (d, c, _) = dir_all_splits(false, None, &one);
        assert_eq!(c, vec!["ws_rsv_without_extension", "ws_invalid_utf8"]);
        assert_eq!(d, one[2..].to_vec());
    }

    #[test]
    fn deflate_bomb_through_direction() {
        use flate2::{Compress, Compression, FlushCompress};
        let zeros = vec![0u8; 10 * 1024 * 1024];
        let mut c = Compress::new(Compression::best(), false);
        let mut comp = Vec::with_capacity(64 * 1024);
        c.compress_vec(&zeros, &mut comp, FlushCompress::Sync)
            .unwrap();
        assert!(c.total_in() as usize == zeros.len());
        comp.truncate(comp.len() - 4);
        let mut frame = vec![0xc2, 0x7e];
        frame.extend((comp.len() as u16).to_be_bytes());
        frame.extend(&comp);
        let lim = WsLimits {
            max_message_bytes: 1 << 20,
            ..WsLimits::default()
        };
        let mut d = WsDirection::new(false, Some(DeflateParams::default()), lim);
        struct Count(u64, Vec<&'static str>, usize);
        impl WsDataSink for Count {
            fn data(&mut self, b: &[u8]) {
                self.0 += b.len() as u64;
                assert!(b.len() <= super::super::deflate::INFLATE_CHUNK);
            }
            fn frame(&mut self, _: &FrameHeader, _: &FrameEnd) {
                self.2 += 1;
            }
            fn violation(&mut self, v: Violation) {
                self.1.push(v.code.as_str());
            }
        }
        let mut s = Count(0, Vec::new(), 0);
        d.feed(&frame, &mut s);
        assert_eq!(s.0, 1 << 20);
        assert_eq!(s.1, vec!["ws_inflate_limit"]);
        assert_eq!(s.2, 1);
    }

    #[test]
    fn direction_abandoned_compressed_message() {
        // compressed fragment, then a new message instead of its continuation
        let p = DeflateParams {
            server_no_context_takeover: true,
            ..DeflateParams::default()
        };
        let one = [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        let mut s = vec![0x41, 0x03, 0xf2, 0x48, 0xcd];
        s.extend(one);
        let (d, c, n) = dir_all_splits(false, Some(p), &s);
        assert_eq!(c, vec!["ws_expected_continuation"]);
        assert_eq!(n, 2);
        assert!(d.ends_with(b"Hello"));
        // same with takeover: the second message cannot be trusted
        let (_, c, _) = dir_all_splits(false, Some(DeflateParams::default()), &s);
        assert_eq!(
            c,
            vec!["ws_expected_continuation", "ws_inflate_context_lost"]
        );
        // MSB-length frame in the middle of a compressed message
        let mut s = vec![0x41, 0x03, 0xf2, 0x48, 0xcd];
        s.extend([0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0]);
        s.extend(one);
        let (d, c, _) = dir_all_splits(false, Some(p), &s);
        assert_eq!(c, vec!["ws_length_msb_set", "ws_resynced"]);
        assert!(d.ends_with(b"Hello"));
    }

    #[test]
    fn direction_gap_in_compressed_message() {
        let pmd = Some(DeflateParams::default());
        let one = [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        let mut d = WsDirection::new(false, pmd, WsLimits::default());
        let mut s = DataLog::default();
        d.feed(&one[..4], &mut s);
        d.gap(2, &mut s);
        d.feed(&one[6..], &mut s);
        // context takeover: the next message cannot be trusted
        d.feed(&one, &mut s);
        assert_eq!(
            s.codes,
            vec!["ws_gap_in_payload", "ws_inflate_context_lost"]
        );
        assert!(s.lost >= 2);
        assert_eq!(s.frames.len(), 2);
        // no context takeover: next message fine
        let p = DeflateParams {
            server_no_context_takeover: true,
            ..DeflateParams::default()
        };
        let mut d = WsDirection::new(false, Some(p), WsLimits::default());
        let mut s = DataLog::default();
        d.feed(&one[..4], &mut s);
        d.gap(2, &mut s);
        d.feed(&one[6..], &mut s);
        let before = s.data.len();
        d.feed(&one, &mut s);
        assert_eq!(&s.data[before..], b"Hello");
        assert_eq!(s.codes, vec!["ws_gap_in_payload"]);
    }
}
