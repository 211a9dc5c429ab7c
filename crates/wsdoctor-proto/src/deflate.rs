//! permessage-deflate (RFC 7692) inflater, one per direction.
//!
//! Input is raw DEFLATE (no zlib header). Any negotiated window size (8..=15)
//! is inflated with a 15-bit window, which is always large enough. Output is
//! produced through a fixed 32 KiB scratch buffer and handed out piece by
//! piece: a message is never accumulated, and each message's inflated size is
//! capped at `max_message_bytes`.
//!
//! Error policy, once per message: the first problem in a message is returned
//! as `Err`, the rest of that message is silently discarded, and the next
//! message starts clean. With context takeover (the default), a message that
//! was not fully inflated leaves the LZ77 window incomplete, so every later
//! message of the direction could silently decode to wrong bytes: the inflater
//! then refuses to inflate them and returns [`DeflateError::ContextLost`] once
//! per message instead. With no_context_takeover every message is independent
//! and errors never carry over.
//!
//! Use: one [`Inflater`] per direction; for each compressed message call
//! [`Inflater::feed`] with its payload pieces (unmasked, in order) and
//! [`Inflater::end_message`] after its last frame;
//! [`Inflater::abandon_message`] or [`Inflater::lose_message`] when part of
//! it is missing. [`crate::ws::WsDirection`] does all of this.

use super::ws::ViolationCode;
use flate2::{Decompress, FlushDecompress, Status};
use std::fmt;

/// Size of the output scratch buffer.
pub const INFLATE_CHUNK: usize = 32 * 1024;
/// The tail that RFC 7692 section 7.2.2 appends to every message.
pub const DEFLATE_TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Why a message (or the rest of it) could not be inflated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeflateError {
    /// The inflated message reached the cap; the rest was discarded.
    Limit {
        /// The cap in bytes.
        limit: u64,
    },
    /// The compressed data is corrupt; the rest of the message was discarded.
    Corrupt(String),
    /// An earlier message was not fully inflated and context takeover is in
    /// use: this message cannot be inflated reliably and is discarded.
    ContextLost,
}

impl DeflateError {
    /// Stable code reported for this error (`ws_inflate_limit`,
    /// `ws_inflate_error` or `ws_inflate_context_lost`; see
    /// [`ViolationCode::as_str`]).
    pub fn code(&self) -> ViolationCode {
        match self {
            DeflateError::Limit { .. } => ViolationCode::InflateLimit,
            DeflateError::Corrupt(_) => ViolationCode::InflateError,
            DeflateError::ContextLost => ViolationCode::InflateContextLost,
        }
    }
}

impl fmt::Display for DeflateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeflateError::Limit { limit } => write!(
                f,
                "inflated message exceeds {limit} bytes; rest of the message not inflated"
            ),
            DeflateError::Corrupt(m) => write!(
                f,
                "corrupt DEFLATE data ({m}); rest of the message not inflated"
            ),
            DeflateError::ContextLost => write!(
                f,
                "message not inflated: an earlier message of this direction was lost or \
                 truncated and context takeover is in use, so the compression window is unknown"
            ),
        }
    }
}

impl std::error::Error for DeflateError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MsgState {
    /// Inflating normally.
    Ok,
    /// A final (BFINAL) block ended the stream; the rest of the message is ignored.
    StreamEnded,
    /// An error was reported for this message; discard until `end_message`.
    Discarding,
}

/// Streaming permessage-deflate inflater for one direction.
pub struct Inflater {
    d: Decompress,
    no_context_takeover: bool,
    max_message_bytes: u64,
    msg_out: u64,
    state: MsgState,
    /// Context lost (takeover only): refuse later messages.
    poisoned: bool,
    scratch: Vec<u8>,
}

impl fmt::Debug for Inflater {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inflater")
            .field("no_context_takeover", &self.no_context_takeover)
            .field("max_message_bytes", &self.max_message_bytes)
            .field("msg_out", &self.msg_out)
            .field("state", &self.state)
            .field("poisoned", &self.poisoned)
            .finish()
    }
}

impl Inflater {
    /// `no_context_takeover`: the *sender* of this direction resets its
    /// compressor after each message (client_/server_no_context_takeover).
    /// `max_message_bytes`: cap on inflated bytes per message.
    pub fn new(no_context_takeover: bool, max_message_bytes: u64) -> Self {
        Inflater {
            d: Decompress::new(false),
            no_context_takeover,
            max_message_bytes,
            msg_out: 0,
            state: MsgState::Ok,
            poisoned: false,
            scratch: Vec::new(),
        }
    }

    /// Inflated bytes of the current message so far (capped).
    pub fn message_bytes(&self) -> u64 {
        self.msg_out
    }

    /// True when context takeover is in use and the window was lost: later
    /// messages of this direction will not be inflated.
    pub fn context_lost(&self) -> bool {
        self.poisoned
    }

    /// Feeds compressed payload bytes of the current message, handing inflated
    /// bytes to `out`. Returns `Err` at most once per message.
    pub fn feed(
        &mut self,
        compressed: &[u8],
        out: &mut dyn FnMut(&[u8]),
    ) -> Result<(), DeflateError> {
        if self.poisoned {
            if self.state == MsgState::Ok {
                self.state = MsgState::Discarding;
                return Err(DeflateError::ContextLost);
            }
            return Ok(());
        }
        if self.state != MsgState::Ok {
            return Ok(());
        }
        self.inflate(compressed, out)
    }

    /// Ends the current message: inflates the RFC 7692 tail, then resets the
    /// window when `no_context_takeover` (or when a final block ended the
    /// stream), and prepares for the next message.
    pub fn end_message(&mut self, out: &mut dyn FnMut(&[u8])) -> Result<(), DeflateError> {
        let r = if self.state == MsgState::Ok && !self.poisoned {
            self.inflate(&DEFLATE_TAIL, out)
        } else {
            Ok(())
        };
        self.finish_message();
        r
    }

    /// The current message was damaged (capture gap, lost frame): discard
    /// whatever of it still arrives until [`end_message`](Self::end_message).
    /// With context takeover the window is now unknown and later messages are
    /// refused (see [`DeflateError::ContextLost`]).
    pub fn abandon_message(&mut self) {
        if self.state == MsgState::Ok {
            self.state = MsgState::Discarding;
        }
        if !self.no_context_takeover {
            self.poisoned = true;
        }
    }

    /// The current message is gone and its end will never be seen (framing
    /// sync lost): like [`abandon_message`](Self::abandon_message) followed by
    /// [`end_message`](Self::end_message) without output.
    pub fn lose_message(&mut self) {
        self.abandon_message();
        self.finish_message();
    }

    fn finish_message(&mut self) {
        if self.state == MsgState::Discarding && !self.no_context_takeover {
            self.poisoned = true;
        }
        if self.no_context_takeover {
            self.poisoned = false;
        }
        if self.state != MsgState::Ok {
            // A fresh stream after a BFINAL block or a broken message. Without
            // context takeover no reset is needed between clean messages: the
            // sender never refers back past its own message, so the old window
            // is never read (and resetting zeroes ~33 KB per message).
            self.d.reset(false);
        }
        self.state = MsgState::Ok;
        self.msg_out = 0;
    }

    fn inflate(
        &mut self,
        mut input: &[u8],
        out: &mut dyn FnMut(&[u8]),
    ) -> Result<(), DeflateError> {
        // Output goes to the scratch vector's spare room (decompress_vec
        // writes there without the vector being zeroed first: a new
        // inflater per connection would otherwise clear 32 KiB).
        if self.scratch.capacity() < INFLATE_CHUNK {
            self.scratch.reserve_exact(INFLATE_CHUNK);
        }
        loop {
            let before_in = self.d.total_in();
            self.scratch.clear();
            let res = self
                .d
                .decompress_vec(input, &mut self.scratch, FlushDecompress::None);
            let used = usize::try_from(self.d.total_in().wrapping_sub(before_in))
                .unwrap_or(usize::MAX)
                .min(input.len());
            let produced = self.scratch.len();
            input = input.get(used..).unwrap_or(&[]);
            if produced > 0 {
                let room = self.max_message_bytes.saturating_sub(self.msg_out);
                let give = usize::try_from(room).unwrap_or(usize::MAX).min(produced);
                if give > 0 {
                    out(self.scratch.get(..give).unwrap_or(&[]));
                }
                self.msg_out = self.msg_out.saturating_add(give as u64);
                if give < produced {
                    self.state = MsgState::Discarding;
                    return Err(DeflateError::Limit {
                        limit: self.max_message_bytes,
                    });
                }
            }
            match res {
                Err(e) => {
                    self.state = MsgState::Discarding;
                    return Err(DeflateError::Corrupt(e.to_string()));
                }
                Ok(Status::StreamEnd) => {
                    self.state = MsgState::StreamEnded;
                    return Ok(());
                }
                Ok(Status::Ok) | Ok(Status::BufError) => {
                    if produced == self.scratch.capacity() {
                        continue; // output buffer full: more may be pending
                    }
                    if input.is_empty() {
                        return Ok(());
                    }
                    if used == 0 && produced == 0 {
                        // no progress with input and output room available:
                        // should not happen; stop rather than loop
                        self.state = MsgState::Discarding;
                        return Err(DeflateError::Corrupt("inflater made no progress".into()));
                    }
                }
            }
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
    use flate2::{Compress, Compression, FlushCompress};

    /// Compresses like a permessage-deflate sender: sync flush, strip the tail.
    pub(crate) fn pmd_compress(c: &mut Compress, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(data.len() / 2 + 64);
        let mut input = data;
        loop {
            let before = c.total_in();
            c.compress_vec(input, &mut out, FlushCompress::Sync)
                .unwrap();
            input = &input[(c.total_in() - before) as usize..];
            if input.is_empty() && out.len() < out.capacity() {
                break;
            }
            out.reserve(out.capacity().max(64));
        }
        assert!(out.ends_with(&DEFLATE_TAIL));
        out.truncate(out.len() - 4);
        out
    }

    fn inflate_msg(inf: &mut Inflater, msg: &[u8]) -> (Vec<u8>, Vec<&'static str>) {
        let mut out = Vec::new();
        let mut errs = Vec::new();
        if let Err(e) = inf.feed(msg, &mut |b| out.extend_from_slice(b)) {
            errs.push(e.code().as_str());
        }
        if let Err(e) = inf.end_message(&mut |b| out.extend_from_slice(b)) {
            errs.push(e.code().as_str());
        }
        (out, errs)
    }

    #[test]
    fn rfc7692_examples() {
        // 7.2.3.1: "Hello" compressed
        let mut inf = Inflater::new(false, 1 << 20);
        let hello = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        assert_eq!(inflate_msg(&mut inf, &hello), (b"Hello".to_vec(), vec![]));
        // 7.2.3.2: second message with context takeover (back-reference)
        let again = [0xf2, 0x00, 0x11, 0x00, 0x00];
        assert_eq!(inflate_msg(&mut inf, &again), (b"Hello".to_vec(), vec![]));
        // 7.2.3.3: no compression (stored block)
        let mut inf = Inflater::new(false, 1 << 20);
        let stored = [
            0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
        ];
        assert_eq!(inflate_msg(&mut inf, &stored), (b"Hello".to_vec(), vec![]));
        // 7.2.3.4: BFINAL set
        let mut inf = Inflater::new(false, 1 << 20);
        let fin = [0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00];
        assert_eq!(inflate_msg(&mut inf, &fin), (b"Hello".to_vec(), vec![]));
        // next message after a final block starts a fresh stream
        assert_eq!(inflate_msg(&mut inf, &hello), (b"Hello".to_vec(), vec![]));
        // 7.2.3.5: two deflate blocks in one message
        let mut inf = Inflater::new(false, 1 << 20);
        let two = [
            0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00,
        ];
        assert_eq!(inflate_msg(&mut inf, &two), (b"Hello".to_vec(), vec![]));
    }

    #[test]
    fn every_split_point() {
        let mut c = Compress::new(Compression::default(), false);
        let text: Vec<u8> = (0..3000u32)
            .flat_map(|i| format!("msg {} ", i % 97).into_bytes())
            .collect();
        let m1 = pmd_compress(&mut c, &text);
        let m2 = pmd_compress(&mut c, &text);
        for split in 0..=m2.len() {
            let mut inf = Inflater::new(false, 1 << 20);
            assert_eq!(inflate_msg(&mut inf, &m1).0, text);
            let mut out = Vec::new();
            inf.feed(&m2[..split], &mut |b| out.extend_from_slice(b))
                .unwrap();
            inf.feed(&m2[split..], &mut |b| out.extend_from_slice(b))
                .unwrap();
            inf.end_message(&mut |b| out.extend_from_slice(b)).unwrap();
            assert_eq!(out, text, "split {split}");
        }
    }

    #[test]
    fn deflate_bomb_is_capped() {
        let zeros = vec![0u8; 10 * 1024 * 1024];
        let mut c = Compress::new(Compression::best(), false);
        let bomb = pmd_compress(&mut c, &zeros);
        assert!(bomb.len() < 64 * 1024);
        let cap = 1024 * 1024;
        let mut inf = Inflater::new(false, cap);
        let mut total = 0usize;
        let mut max_piece = 0usize;
        let mut errs = Vec::new();
        for piece in bomb.chunks(1000) {
            if let Err(e) = inf.feed(piece, &mut |b| {
                total += b.len();
                max_piece = max_piece.max(b.len());
            }) {
                errs.push(e.code().as_str());
            }
        }
        if let Err(e) = inf.end_message(&mut |b| total += b.len()) {
            errs.push(e.code().as_str());
        }
        assert_eq!(total as u64, cap);
        assert!(max_piece <= INFLATE_CHUNK);
        assert_eq!(errs, vec!["ws_inflate_limit"]);
        // context takeover: the window is incomplete, later messages refused
        assert!(inf.context_lost());
        let (out, errs) = inflate_msg(&mut inf, &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
        assert!(out.is_empty());
        assert_eq!(errs, vec!["ws_inflate_context_lost"]);
    }

    #[test]
    fn bomb_without_takeover_recovers() {
        let zeros = vec![0u8; 4 * 1024 * 1024];
        let mut c = Compress::new(Compression::best(), false);
        let bomb = pmd_compress(&mut c, &zeros);
        let mut inf = Inflater::new(true, 1024 * 1024);
        let (out, errs) = inflate_msg(&mut inf, &bomb);
        assert_eq!(out.len(), 1024 * 1024);
        assert_eq!(errs, vec!["ws_inflate_limit"]);
        let hello = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        assert_eq!(inflate_msg(&mut inf, &hello), (b"Hello".to_vec(), vec![]));
    }

    #[test]
    fn corrupt_data() {
        let mut inf = Inflater::new(true, 1 << 20);
        let (_, errs) = inflate_msg(&mut inf, &[0xff, 0xff, 0xff, 0xff, 0x01, 0x02]);
        assert_eq!(errs, vec!["ws_inflate_error"]);
        let hello = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        assert_eq!(inflate_msg(&mut inf, &hello), (b"Hello".to_vec(), vec![]));
        // with takeover the corruption sticks
        let mut inf = Inflater::new(false, 1 << 20);
        let (_, errs) = inflate_msg(&mut inf, &[0xff, 0xff, 0xff, 0xff, 0x01, 0x02]);
        assert_eq!(errs, vec!["ws_inflate_error"]);
        let (_, errs) = inflate_msg(&mut inf, &hello);
        assert_eq!(errs, vec!["ws_inflate_context_lost"]);
    }

    #[test]
    fn every_prefix_garbage_never_panics() {
        let data: Vec<u8> = (0..600u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        for n in 0..data.len() {
            let mut inf = Inflater::new(n % 2 == 0, 4096);
            let _ = inf.feed(&data[..n], &mut |_| {});
            let _ = inf.end_message(&mut |_| {});
        }
    }
}
