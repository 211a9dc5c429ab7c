//! Both directions of a TLS connection, as far as they can be seen without
//! keys: records reassembled across TCP segments, handshake messages
//! reassembled across records (ClientHello, ServerHello, HelloRetryRequest,
//! Certificate up to TLS 1.2), alerts in clear, ChangeCipherSpec and where
//! encryption starts. Push-based: fed byte chunks per direction with the
//! frame they arrived in; what it learns accumulates in [`TlsFacts`].
//! Handshake messages are parsed with `tls-parser`, certificates with
//! `x509-parser`.
//!
//! # Use
//!
//! One [`TlsConn`] per TCP connection. Feed it the bytes of each direction
//! in order with [`TlsConn::feed`] (or [`TlsConn::feed_with`] to receive
//! decrypted data), tell it about missing bytes with [`TlsConn::gap`], stop
//! feeding once [`TlsConn::done`] says nothing more can be learnt, and read
//! [`TlsConn::facts`]. Frame numbers and times are the caller's: they are
//! only copied into the facts. Memory is bounded by [`TlsLimits`]; no input
//! makes it panic.
//!
//! ```
//! use wsdoctor_proto::tls::conn::TlsConn;
//!
//! let mut c = TlsConn::default();
//! // server to client: a fatal handshake_failure alert, split over two frames
//! c.feed(1, &[21, 3, 3, 0], 7, 1.5);
//! c.feed(1, &[2, 2, 40], 8, 1.6);
//! let a = c.facts().fatal_alert().unwrap();
//! assert_eq!((a.dir, a.description, a.frame), (1, 40, 8));
//! ```
//!
//! With a [`SecretSource`] (a key log) the records of both directions are
//! decrypted ([`super::crypto`]): TLS 1.3's encrypted handshake (ALPN in
//! EncryptedExtensions, the certificate chain, Finished, KeyUpdate) and
//! alerts are read like clear ones, and application data is handed to the
//! caller as [`Plain`] bytes per direction. A record that does not decrypt
//! ends that direction's plaintext (never garbage passed on).

use super::cert::{self, CertInfo};
use super::crypto::{Direction, Epoch, RecordDecryptor, SessionParams};
use super::keylog::{KeyLog, SessionSecrets};
use super::names::is_grease;
use tls_parser::{
    parse_tls_client_hello_extensions, parse_tls_message_handshake,
    parse_tls_server_hello_extensions, SNIType, TlsExtension, TlsMessage, TlsMessageHandshake,
};

/// Limits of the TLS analysis. Reaching one stops the analysis of that
/// direction (reported in [`TlsFacts::limit_hit`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TlsLimits {
    /// Largest record (header included): 2^14 + 2048 + 5 (RFC 5246).
    pub max_record: usize,
    /// Largest handshake message reassembled (certificate chains).
    pub max_handshake: usize,
    /// Certificates parsed per chain.
    pub max_certs: usize,
    /// Alerts kept.
    pub max_alerts: usize,
}

impl Default for TlsLimits {
    fn default() -> Self {
        TlsLimits {
            max_record: (1 << 14) + 2048 + 5,
            max_handshake: 64 * 1024,
            max_certs: 8,
            max_alerts: 16,
        }
    }
}

/// A direction: 0 client to server, 1 server to client (the index into the
/// per-direction arrays of [`TlsFacts`] and [`DecryptFacts`]).
pub type DirIdx = usize;

/// Where the secrets of TLS sessions come from (a key log file, the
/// Decryption Secrets Blocks of a pcapng file).
pub trait SecretSource: Send {
    /// A key log was given at all (then a session without secrets in it is
    /// worth saying).
    fn given(&self) -> bool;
    /// The secrets of the session with this ClientHello random.
    fn secrets(&self, client_random: &[u8; 32]) -> Option<SessionSecrets>;
}

impl SecretSource for KeyLog {
    fn given(&self) -> bool {
        true
    }
    fn secrets(&self, client_random: &[u8; 32]) -> Option<SessionSecrets> {
        self.get(client_random).copied()
    }
}

/// Decrypted application data, handed on by [`TlsConn::feed_with`].
#[derive(Debug, PartialEq, Eq)]
pub enum Plain<'a> {
    /// Bytes of direction `dir`, in order.
    Data {
        /// The direction (0 or 1).
        dir: DirIdx,
        /// The plaintext of one application_data record (never empty).
        bytes: &'a [u8],
    },
    /// Direction `dir` cannot be followed further: a record that did not
    /// decrypt, or a capture gap. `len` is at most the bytes lost (the
    /// record's length; unknown after a gap: 0).
    Lost {
        /// The direction (0 or 1).
        dir: DirIdx,
        /// Length of the record's encrypted fragment in bytes.
        len: u64,
    },
}

/// A record that could not be decrypted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecryptFailure {
    /// The direction of the record (0 or 1).
    pub dir: DirIdx,
    /// The frame of the record (or of the ServerHello, when the decryptor
    /// could not even be built from the secrets).
    pub frame: u64,
    /// What went wrong (no secret for the epoch, an unsupported version or
    /// suite, the integrity check failed...).
    pub error: String,
    /// The integrity check failed: the secrets are not this session's.
    pub auth: bool,
}

/// What decryption with a key log did for a connection.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DecryptFacts {
    /// The key log has secrets for this session's client random.
    pub secrets: bool,
    /// The labels of the secrets found (never the secrets).
    pub labels: Vec<&'static str>,
    /// Records decrypted per direction.
    pub records: [u64; 2],
    /// Application data bytes decrypted per direction.
    pub app_bytes: [u64; 2],
    /// The first decrypted record (frame).
    pub first_frame: Option<u64>,
    /// KeyUpdates followed per direction.
    pub key_updates: [u32; 2],
    /// The first record (per connection) that did not decrypt.
    pub failure: Option<DecryptFailure>,
}

impl DecryptFacts {
    /// Some records were decrypted.
    pub fn decrypted(&self) -> bool {
        self.records.iter().any(|&n| n > 0)
    }
}

/// What the ClientHello offered.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClientHelloFacts {
    /// The legacy_version field, e.g. `0x0303` (RFC 8446 section 4.1.2).
    pub legacy_version: u16,
    /// supported_versions (GREASE removed), or the legacy version alone.
    pub versions: Vec<u16>,
    /// Cipher suites in the client's order, without GREASE values and the
    /// signalling values `TLS_EMPTY_RENEGOTIATION_INFO_SCSV` (0x00ff) and
    /// `TLS_FALLBACK_SCSV` (0x5600).
    pub suites: Vec<u16>,
    /// The first host_name of server_name (RFC 6066 section 3), invalid
    /// UTF-8 replaced by U+FFFD, at most 255 characters; `None` without one.
    pub sni: Option<String>,
    /// The ALPN protocols offered (RFC 7301), in order, at most 16.
    pub alpn: Vec<String>,
    /// supported_groups (RFC 8446 section 4.2.7), GREASE removed.
    pub groups: Vec<u16>,
    /// The groups of the key_share entries (RFC 8446 section 4.2.8), GREASE
    /// removed, at most 16.
    pub key_share_groups: Vec<u16>,
    /// Extension types in order (GREASE removed).
    pub extensions: Vec<u16>,
    /// Length of legacy_session_id in bytes (0 to 32).
    pub session_id_len: usize,
    /// A pre_shared_key extension was offered (TLS 1.3 resumption).
    pub psk: bool,
    /// extended_master_secret was offered (RFC 7627).
    pub ems: bool,
    /// encrypt_then_mac was offered (RFC 7366).
    pub etm: bool,
    /// ClientHello.random (identifies the session in a key log).
    pub random: [u8; 32],
    /// The frame that completed the ClientHello.
    pub frame: u64,
    /// When the ClientHello was complete (seconds).
    pub ts: f64,
}

impl ClientHelloFacts {
    /// The highest version offered.
    pub fn max_version(&self) -> u16 {
        self.versions
            .iter()
            .copied()
            .max()
            .unwrap_or(self.legacy_version)
    }
    /// The lowest version offered.
    pub fn min_version(&self) -> u16 {
        self.versions
            .iter()
            .copied()
            .min()
            .unwrap_or(self.legacy_version)
    }
}

/// What the ServerHello chose.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerHelloFacts {
    /// The negotiated version (supported_versions, or the legacy field).
    pub version: u16,
    /// The chosen cipher suite.
    pub suite: u16,
    /// The ALPN protocol chosen: from the ServerHello (up to TLS 1.2) or
    /// from the decrypted EncryptedExtensions (TLS 1.3, at most 64
    /// characters); `None` when none was chosen or it could not be seen.
    pub alpn: Option<String>,
    /// TLS 1.2: the server echoed the client's session id (resumption).
    pub session_resumed: bool,
    /// TLS 1.3: pre_shared_key accepted (resumption).
    pub psk: bool,
    /// The server agreed to extended_master_secret (RFC 7627).
    pub ems: bool,
    /// The server agreed to encrypt_then_mac (RFC 7366).
    pub etm: bool,
    /// ServerHello.random.
    pub random: [u8; 32],
    /// The frame that completed the ServerHello.
    pub frame: u64,
}

/// One alert.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertFacts {
    /// Who sent it (0 client, 1 server).
    pub dir: DirIdx,
    /// 1 warning, 2 fatal; 0 when the alert was encrypted.
    pub level: u8,
    /// The description code; meaningless when `encrypted`.
    pub description: u8,
    /// The alert record was encrypted (its content cannot be seen).
    pub encrypted: bool,
    /// The frame the alert record ended in.
    pub frame: u64,
    /// The time of that frame (seconds, as given to [`TlsConn::feed`]).
    pub ts: f64,
}

/// Everything the TLS analysis learnt of a connection.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TlsFacts {
    /// The client's (first) ClientHello; `None` until one was seen whole.
    pub client_hello: Option<ClientHelloFacts>,
    /// The server's ServerHello (not a HelloRetryRequest); `None` until one
    /// was seen whole.
    pub server_hello: Option<ServerHelloFacts>,
    /// A HelloRetryRequest was sent, asking for this key share group (0
    /// when it had no key_share).
    pub hello_retry: Option<u16>,
    /// The frame of the HelloRetryRequest; 0 without one.
    pub hello_retry_frame: u64,
    /// The server's certificate chain, leaf first (clear up to TLS 1.2;
    /// TLS 1.3 only when decrypted), at most [`TlsLimits::max_certs`];
    /// certificates that do not parse are left out.
    pub certificates: Vec<CertInfo>,
    /// The frame of the Certificate message; 0 when none was seen.
    pub certificate_frame: u64,
    /// Alerts of both directions in the order seen, at most
    /// [`TlsLimits::max_alerts`].
    pub alerts: Vec<AlertFacts>,
    /// ChangeCipherSpec per direction (frame).
    pub ccs: [Option<u64>; 2],
    /// The first encrypted record per direction (frame, time).
    pub first_encrypted: [Option<(u64, f64)>; 2],
    /// Encrypted records per direction.
    pub encrypted_records: [u64; 2],
    /// Server encrypted records after the client's first encrypted one.
    pub server_after_client: u64,
    /// Bytes in a direction were not TLS records.
    pub not_tls: [bool; 2],
    /// A capture gap: that direction was not followed further.
    pub lost: [bool; 2],
    /// A [`TlsLimits`] limit was reached (a record or a handshake message
    /// too long): the analysis of a direction stopped or a message was
    /// dropped.
    pub limit_hit: bool,
    /// Decryption with a key log (None: no key log was given).
    pub decrypt: Option<DecryptFacts>,
}

impl TlsFacts {
    /// The negotiated version, when the ServerHello was seen.
    pub fn version(&self) -> Option<u16> {
        self.server_hello.as_ref().map(|s| s.version)
    }

    /// The handshake finished, as far as a capture without keys can tell:
    /// TLS 1.2 both sides switched (ChangeCipherSpec) and encrypted data
    /// followed; TLS 1.3 the client sent its encrypted flight and the server
    /// answered it (NewSessionTicket, data), or the client went on sending.
    pub fn handshake_complete(&self) -> bool {
        let Some(sh) = &self.server_hello else {
            return false;
        };
        if self.alerts.iter().any(|a| a.level == 2) {
            return false;
        }
        if sh.version >= 0x0304 {
            self.encrypted_records[0] >= 2
                || (self.encrypted_records[0] >= 1 && self.server_after_client > 0)
        } else {
            self.ccs[0].is_some() && self.ccs[1].is_some()
        }
    }

    /// The first fatal alert in clear, if any.
    pub fn fatal_alert(&self) -> Option<&AlertFacts> {
        self.alerts.iter().find(|a| a.level == 2 && !a.encrypted)
    }

    /// Records of this connection were decrypted with a key log.
    pub fn decrypted(&self) -> bool {
        self.decrypt.as_ref().is_some_and(DecryptFacts::decrypted)
    }
}

/// A direction as an index that cannot be out of range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    /// 0: client to server.
    Client,
    /// 1: server to client.
    Server,
}

impl Side {
    /// The side of an even (client) or odd (server) index.
    fn of_index(d: DirIdx) -> Side {
        if d & 1 == 0 {
            Side::Client
        } else {
            Side::Server
        }
    }

    /// The side of index 0 or 1; `None` for any other.
    fn new(d: DirIdx) -> Option<Side> {
        match d {
            0 => Some(Side::Client),
            1 => Some(Side::Server),
            _ => None,
        }
    }

    fn idx(self) -> DirIdx {
        match self {
            Side::Client => 0,
            Side::Server => 1,
        }
    }

    fn direction(self) -> Direction {
        match self {
            Side::Client => Direction::ClientToServer,
            Side::Server => Direction::ServerToClient,
        }
    }

    /// This side's element of a per-direction array (index 0 client).
    fn of<T>(self, a: &[T; 2]) -> &T {
        let [c, s] = a;
        match self {
            Side::Client => c,
            Side::Server => s,
        }
    }

    /// [`Side::of`], mutable.
    fn of_mut<T>(self, a: &mut [T; 2]) -> &mut T {
        let [c, s] = a;
        match self {
            Side::Client => c,
            Side::Server => s,
        }
    }
}

/// One value per direction, indexed by [`Side`] (no bounds check).
#[derive(Default)]
struct Pair<T>([T; 2]);

impl<T> std::ops::Index<Side> for Pair<T> {
    type Output = T;
    fn index(&self, d: Side) -> &T {
        d.of(&self.0)
    }
}

impl<T> std::ops::IndexMut<Side> for Pair<T> {
    fn index_mut(&mut self, d: Side) -> &mut T {
        d.of_mut(&mut self.0)
    }
}

#[derive(Default)]
struct Dir {
    /// A record being reassembled.
    rec: Vec<u8>,
    /// A handshake message being reassembled.
    hs: Vec<u8>,
    /// Records after this point are encrypted.
    encrypted: bool,
    done: bool,
    /// The decryptor of this direction, once its records are encrypted
    /// and the key log has its secret.
    dec: Option<RecordDecryptor>,
    /// Decrypted handshake bytes (a message may span records).
    phs: Vec<u8>,
    /// TLS 1.3: this direction's Finished was in the last record: switch
    /// to the application traffic secret.
    finished: bool,
    /// TLS 1.3: a KeyUpdate was in the last record.
    key_update: bool,
}

/// Both directions of one TLS connection.
pub struct TlsConn {
    lim: TlsLimits,
    dirs: Pair<Dir>,
    facts: TlsFacts,
    keys: Option<Box<dyn SecretSource>>,
    /// The session's parameters and secrets, when the key log has them.
    session: Option<(SessionParams, SessionSecrets)>,
    /// Decryptors built at the ServerHello for TLS 1.2, used after each
    /// side's ChangeCipherSpec.
    waiting: Pair<Option<RecordDecryptor>>,
    /// Plaintext of the record being handled.
    scratch: Vec<u8>,
}

impl Default for TlsConn {
    fn default() -> Self {
        TlsConn::new(TlsLimits::default())
    }
}

/// SHA-256("HelloRetryRequest"): the random of a HelloRetryRequest (RFC 8446 4.1.3).
const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// The first 32 bytes of `r`, zero-padded.
fn random32(r: &[u8]) -> [u8; 32] {
    let mut a = [0u8; 32];
    for (x, y) in a.iter_mut().zip(r) {
        *x = *y;
    }
    a
}

impl TlsConn {
    /// A connection analysed without keys (records are not decrypted).
    pub fn new(lim: TlsLimits) -> Self {
        TlsConn {
            lim,
            dirs: Default::default(),
            facts: TlsFacts::default(),
            keys: None,
            session: None,
            waiting: Pair::default(),
            scratch: Vec::new(),
        }
    }

    /// A connection whose records are decrypted with the secrets of `keys`.
    pub fn with_keys(lim: TlsLimits, keys: Box<dyn SecretSource>) -> Self {
        TlsConn {
            keys: Some(keys),
            ..TlsConn::new(lim)
        }
    }

    /// What has been learnt so far.
    pub fn facts(&self) -> &TlsFacts {
        &self.facts
    }

    /// Nothing more can be learnt from this connection's bytes: both
    /// directions stopped (not TLS, a gap), or the handshake completed,
    /// both sides sent encrypted data after it, and nothing is decrypted.
    pub fn done(&self) -> bool {
        if self.dirs.0.iter().all(|d| d.done) {
            return true;
        }
        let f = &self.facts;
        let decrypting = self.dirs.0.iter().any(|d| d.dec.is_some())
            || self.waiting.0.iter().any(Option::is_some);
        !decrypting
            && f.handshake_complete()
            && f.encrypted_records[0] >= 2
            && f.encrypted_records[1] >= 2
            && f.server_after_client > 0
    }

    /// What has been learnt, taking the connection apart.
    pub fn into_facts(self) -> TlsFacts {
        self.facts
    }

    /// Bytes of direction `d` are missing: that direction's records cannot
    /// be followed any more (sets [`TlsFacts::lost`]). A `d` other than 0 or
    /// 1 is ignored.
    pub fn gap(&mut self, d: DirIdx) {
        let Some(d) = Side::new(d) else { return };
        let st = &mut self.dirs[d];
        st.done = true;
        st.rec = Vec::new();
        st.hs = Vec::new();
        st.phs = Vec::new();
        st.dec = None;
        *d.of_mut(&mut self.facts.lost) = true;
    }

    /// Bytes of direction `d` (0: client to server; any other even value is
    /// taken as 0, odd as 1), arriving in `frame` at time `ts` (seconds);
    /// decrypted application data is dropped. Bytes after the direction
    /// stopped (not TLS, a gap, a limit) are ignored.
    pub fn feed(&mut self, d: DirIdx, input: &[u8], frame: u64, ts: f64) {
        self.feed_with(d, input, frame, ts, &mut |_| {});
    }

    /// [`TlsConn::feed`], handing decrypted application data to `app`
    /// (it belongs to `frame`: where its record ended).
    pub fn feed_with(
        &mut self,
        d: DirIdx,
        mut input: &[u8],
        frame: u64,
        ts: f64,
        app: &mut dyn FnMut(Plain<'_>),
    ) {
        let d = Side::of_index(d);
        let max = self.lim.max_record;
        while !input.is_empty() && !self.dirs[d].done {
            if self.dirs[d].rec.is_empty() {
                // Whole records straight from the input.
                match record_len(input) {
                    RecLen::Len(n) if n <= max => {
                        if let Some((r, rest)) = input.split_at_checked(n) {
                            input = rest;
                            self.record(d, r, frame, ts, app);
                        } else {
                            self.dirs[d].rec.extend_from_slice(input);
                            return;
                        }
                    }
                    RecLen::NeedMore => {
                        self.dirs[d].rec.extend_from_slice(input);
                        return;
                    }
                    RecLen::Len(_) => {
                        self.facts.limit_hit = true;
                        self.not_tls(d);
                        return;
                    }
                    RecLen::NotTls => {
                        self.not_tls(d);
                        return;
                    }
                }
                continue;
            }
            // A record started earlier: complete its header, then its body.
            let need = match record_len(&self.dirs[d].rec) {
                RecLen::Len(n) if n <= max => n,
                RecLen::NeedMore => 5,
                RecLen::Len(_) => {
                    self.facts.limit_hit = true;
                    self.not_tls(d);
                    return;
                }
                RecLen::NotTls => {
                    self.not_tls(d);
                    return;
                }
            };
            let have = self.dirs[d].rec.len();
            // At least one byte (the input is not empty), at most all of it.
            let take = need.saturating_sub(have).max(1);
            let (head, rest) = input.split_at_checked(take).unwrap_or((input, &[]));
            input = rest;
            self.dirs[d].rec.extend_from_slice(head);
            if let RecLen::Len(n) = record_len(&self.dirs[d].rec) {
                if self.dirs[d].rec.len() >= n {
                    let r = std::mem::take(&mut self.dirs[d].rec);
                    self.record(d, &r, frame, ts, app);
                }
            }
        }
    }

    fn not_tls(&mut self, d: Side) {
        *d.of_mut(&mut self.facts.not_tls) = true;
        let st = &mut self.dirs[d];
        st.done = true;
        st.rec = Vec::new();
        st.hs = Vec::new();
        st.dec = None;
    }

    /// One whole record (header included).
    fn record(&mut self, d: Side, r: &[u8], frame: u64, ts: f64, app: &mut dyn FnMut(Plain<'_>)) {
        let (Some(&ct), Some(body)) = (r.first(), r.get(5..)) else {
            return;
        };
        let encrypted = self.dirs[d].encrypted;
        // TLS 1.3 encrypts into records of outer type 23 only (an alert in
        // clear may still come); TLS 1.2 everything after ChangeCipherSpec.
        let v13 = self.facts.version().is_some_and(|v| v >= 0x0304);
        let sealed = if v13 { ct == 23 } else { ct != 20 };
        if encrypted && sealed && self.dirs[d].dec.is_some() {
            if ct != 21 {
                self.encrypted(d, frame, ts);
            }
            let version = u16::from_be_bytes([
                r.get(1).copied().unwrap_or(3),
                r.get(2).copied().unwrap_or(3),
            ]);
            self.decrypt(d, ct, version, body, frame, ts, app);
            return;
        }
        match ct {
            20 => {
                // ChangeCipherSpec: in TLS 1.2 what follows is encrypted; in
                // TLS 1.3 it is a compatibility no-op.
                // Before the ServerHello (around a HelloRetryRequest) it can
                // only be TLS 1.3's.
                d.of_mut(&mut self.facts.ccs).get_or_insert(frame);
                let v12 = self.facts.version().is_some_and(|v| v < 0x0304);
                if v12 && !self.dirs[d].encrypted {
                    self.dirs[d].encrypted = true;
                    self.dirs[d].dec = self.waiting[d].take();
                }
            }
            21 => {
                // In TLS 1.3 encrypted records are all of outer type 23: an
                // alert record is in clear (a client refusing the server's
                // certificate before its keys are in use sends one).
                let v13 = self.facts.version().is_some_and(|v| v >= 0x0304);
                let hidden = (encrypted && !v13) || body.len() != 2;
                if self.facts.alerts.len() < self.lim.max_alerts {
                    let (level, description) = match body {
                        [l, de] if !hidden => (*l, *de),
                        _ => (0, 0),
                    };
                    self.facts.alerts.push(AlertFacts {
                        dir: d.idx(),
                        level,
                        description,
                        encrypted: hidden,
                        frame,
                        ts,
                    });
                }
            }
            22 if !encrypted => self.handshake(d, body, frame, ts),
            22 | 23 => self.encrypted(d, frame, ts),
            _ => self.not_tls(d),
        }
    }

    fn encrypted(&mut self, d: Side, frame: u64, ts: f64) {
        let f = &mut self.facts;
        d.of_mut(&mut f.first_encrypted).get_or_insert((frame, ts));
        let n = d.of_mut(&mut f.encrypted_records);
        *n = n.saturating_add(1);
        if d == Side::Server && f.encrypted_records[0] > 0 {
            f.server_after_client = f.server_after_client.saturating_add(1);
        }
    }

    /// At the ServerHello: the session's secrets, and a decryptor per
    /// direction (TLS 1.3: the handshake epoch; TLS 1.2: used after that
    /// side's ChangeCipherSpec).
    fn find_keys(&mut self) {
        let Some(keys) = &self.keys else { return };
        if !keys.given() {
            return;
        }
        let (Some(ch), Some(sh)) = (&self.facts.client_hello, &self.facts.server_hello) else {
            return;
        };
        let params = SessionParams {
            version: sh.version,
            cipher_suite: sh.suite,
            client_random: ch.random,
            server_random: sh.random,
            encrypt_then_mac: sh.etm && ch.etm,
        };
        let frame = sh.frame;
        let found = keys.secrets(&ch.random).filter(|s| !s.is_empty());
        let mut df = DecryptFacts {
            secrets: found.is_some(),
            labels: found.map(|s| s.labels()).unwrap_or_default(),
            ..Default::default()
        };
        if let Some(secrets) = found {
            for d in [Side::Client, Side::Server] {
                match RecordDecryptor::from_keylog(
                    &params,
                    &secrets,
                    d.direction(),
                    Epoch::Handshake,
                ) {
                    Ok(dec) => self.waiting[d] = Some(dec),
                    Err(e) => {
                        df.failure.get_or_insert(DecryptFailure {
                            dir: d.idx(),
                            frame,
                            error: e.to_string(),
                            auth: false,
                        });
                    }
                }
            }
            self.session = Some((params, secrets));
        }
        self.facts.decrypt = Some(df);
    }

    /// An encrypted record of direction `d`, decrypted.
    #[allow(clippy::too_many_arguments)]
    fn decrypt(
        &mut self,
        d: Side,
        ct: u8,
        version: u16,
        body: &[u8],
        frame: u64,
        ts: f64,
        app: &mut dyn FnMut(Plain<'_>),
    ) {
        let Some(dec) = self.dirs[d].dec.as_mut() else {
            return;
        };
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        let r = dec.decrypt(ct, version, body, &mut buf);
        let df = self.facts.decrypt.get_or_insert_with(DecryptFacts::default);
        match r {
            Ok(inner) => {
                let n = d.of_mut(&mut df.records);
                *n = n.saturating_add(1);
                df.first_frame.get_or_insert(frame);
                match inner {
                    22 => self.plain_handshake(d, &buf, frame),
                    21 => {
                        if let ([level, description], true) = (
                            buf.as_slice(),
                            self.facts.alerts.len() < self.lim.max_alerts,
                        ) {
                            self.facts.alerts.push(AlertFacts {
                                dir: d.idx(),
                                level: *level,
                                description: *description,
                                encrypted: false,
                                frame,
                                ts,
                            });
                        }
                    }
                    23 => {
                        if let Some(df) = self.facts.decrypt.as_mut() {
                            let n = d.of_mut(&mut df.app_bytes);
                            *n = n.saturating_add(buf.len() as u64);
                        }
                        if !buf.is_empty() {
                            app(Plain::Data {
                                dir: d.idx(),
                                bytes: &buf,
                            });
                        }
                    }
                    _ => {}
                }
                self.after_record(d, frame);
            }
            Err(e) => {
                df.failure.get_or_insert(DecryptFailure {
                    dir: d.idx(),
                    frame,
                    error: e.to_string(),
                    auth: e.is_auth_failure(),
                });
                self.dirs[d].dec = None;
                self.dirs[d].phs = Vec::new();
                app(Plain::Lost {
                    dir: d.idx(),
                    len: body.len() as u64,
                });
            }
        }
        self.scratch = buf;
    }

    /// TLS 1.3: after the record with a direction's Finished, its
    /// application secret; after a KeyUpdate, the next one.
    fn after_record(&mut self, d: Side, frame: u64) {
        let st = &mut self.dirs[d];
        if std::mem::take(&mut st.finished) {
            let dir = d.direction();
            let next = self
                .session
                .as_ref()
                .map(|(p, s)| RecordDecryptor::from_keylog(p, s, dir, Epoch::Application));
            match next {
                Some(Ok(dec)) => st.dec = Some(dec),
                Some(Err(e)) => {
                    st.dec = None;
                    if let Some(df) = self.facts.decrypt.as_mut() {
                        df.failure.get_or_insert(DecryptFailure {
                            dir: d.idx(),
                            frame,
                            error: e.to_string(),
                            auth: false,
                        });
                    }
                }
                None => st.dec = None,
            }
        }
        let st = &mut self.dirs[d];
        if std::mem::take(&mut st.key_update) {
            if let Some(dec) = st.dec.as_mut() {
                if dec.key_update().is_err() {
                    st.dec = None;
                } else if let Some(df) = self.facts.decrypt.as_mut() {
                    let n = d.of_mut(&mut df.key_updates);
                    *n = n.saturating_add(1);
                }
            }
        }
    }

    /// Decrypted handshake bytes: TLS 1.3's EncryptedExtensions (ALPN),
    /// Certificate, Finished and KeyUpdate.
    fn plain_handshake(&mut self, d: Side, body: &[u8], frame: u64) {
        let st = &mut self.dirs[d];
        if st.phs.len().saturating_add(body.len()) > self.lim.max_handshake {
            self.facts.limit_hit = true;
            st.phs = Vec::new();
            return;
        }
        st.phs.extend_from_slice(body);
        loop {
            let st = &mut self.dirs[d];
            let Some((ty, len)) = hs_header(&st.phs) else {
                return;
            };
            if len > self.lim.max_handshake {
                self.facts.limit_hit = true;
                st.phs = Vec::new();
                return;
            }
            if st.phs.len() < len {
                return;
            }
            let msg: Vec<u8> = st.phs.drain(..len).collect();
            let body = msg.get(4..).unwrap_or(&[]);
            let v13 = self.facts.version().is_some_and(|v| v >= 0x0304);
            match ty {
                8 if d == Side::Server => {
                    if let Some(alpn) = alpn_of_extensions(body) {
                        if let Some(sh) = self.facts.server_hello.as_mut() {
                            sh.alpn.get_or_insert(alpn);
                        }
                    }
                }
                11 if d == Side::Server && v13 && self.facts.certificates.is_empty() => {
                    self.facts.certificate_frame = frame;
                    for raw in tls13_certificates(body)
                        .into_iter()
                        .take(self.lim.max_certs)
                    {
                        if let Some(ci) = cert::parse(raw) {
                            self.facts.certificates.push(ci);
                        }
                    }
                }
                20 if v13 => self.dirs[d].finished = true,
                24 if v13 => self.dirs[d].key_update = true,
                _ => {}
            }
        }
    }

    /// Handshake record payload: messages may span records.
    fn handshake(&mut self, d: Side, body: &[u8], frame: u64, ts: f64) {
        let st = &mut self.dirs[d];
        if st.hs.len().saturating_add(body.len()) > self.lim.max_handshake {
            self.facts.limit_hit = true;
            st.hs = Vec::new();
            st.done = true;
            return;
        }
        st.hs.extend_from_slice(body);
        loop {
            let st = &mut self.dirs[d];
            let Some((_, len)) = hs_header(&st.hs) else {
                return;
            };
            if len > self.lim.max_handshake {
                self.facts.limit_hit = true;
                st.hs = Vec::new();
                st.done = true;
                return;
            }
            if st.hs.len() < len {
                return;
            }
            let msg: Vec<u8> = st.hs.drain(..len).collect();
            self.message(d, &msg, frame, ts);
            if self.dirs[d].encrypted {
                // Handshake bytes after the switch are not in clear.
                self.dirs[d].hs.clear();
                return;
            }
        }
    }

    fn message(&mut self, d: Side, msg: &[u8], frame: u64, ts: f64) {
        let Ok((_, TlsMessage::Handshake(h))) = parse_tls_message_handshake(msg) else {
            return;
        };
        match h {
            TlsMessageHandshake::ClientHello(ch)
                if d == Side::Client && self.facts.client_hello.is_none() =>
            {
                let mut f = ClientHelloFacts {
                    legacy_version: ch.version.0,
                    // GREASE and the signalling values (renegotiation info,
                    // fallback) are not suites.
                    suites: ch
                        .ciphers
                        .iter()
                        .map(|c| c.0)
                        .filter(|&c| !is_grease(c) && c != 0x00ff && c != 0x5600)
                        .collect(),
                    session_id_len: ch.session_id.map_or(0, |s| s.len()),
                    random: random32(ch.random),
                    frame,
                    ts,
                    ..Default::default()
                };
                if let Some(Ok((_, exts))) = ch.ext.map(parse_tls_client_hello_extensions) {
                    for e in &exts {
                        let t = tls_parser::TlsExtensionType::from(e).0;
                        if !is_grease(t) {
                            f.extensions.push(t);
                        }
                        match t {
                            22 => f.etm = true,
                            23 => f.ems = true,
                            _ => {}
                        }
                        match e {
                            TlsExtension::SNI(names) => {
                                f.sni = names.iter().find(|(t, _)| *t == SNIType::HostName).map(
                                    |(_, n)| String::from_utf8_lossy(n).chars().take(255).collect(),
                                );
                            }
                            TlsExtension::ALPN(p) => {
                                f.alpn = p
                                    .iter()
                                    .take(16)
                                    .map(|x| String::from_utf8_lossy(x).into_owned())
                                    .collect();
                            }
                            TlsExtension::SupportedVersions(v) => {
                                f.versions =
                                    v.iter().map(|x| x.0).filter(|&x| !is_grease(x)).collect();
                            }
                            TlsExtension::EllipticCurves(g) => {
                                f.groups =
                                    g.iter().map(|x| x.0).filter(|&x| !is_grease(x)).collect();
                            }
                            TlsExtension::KeyShare(b) => f.key_share_groups = key_share_groups(b),
                            TlsExtension::PreSharedKey(_) => f.psk = true,
                            TlsExtension::ExtendedMasterSecret => f.ems = true,
                            TlsExtension::EncryptThenMac => f.etm = true,
                            _ => {}
                        }
                    }
                }
                if f.versions.is_empty() {
                    f.versions = vec![f.legacy_version];
                }
                self.facts.client_hello = Some(f);
            }
            TlsMessageHandshake::ServerHello(sh) if d == Side::Server => {
                let random = random32(sh.random);
                let mut f = ServerHelloFacts {
                    version: sh.version.0,
                    suite: sh.cipher.0,
                    random,
                    frame,
                    ..Default::default()
                };
                let mut hrr_group = None;
                if let Some(Ok((_, exts))) = sh.ext.map(parse_tls_server_hello_extensions) {
                    for e in &exts {
                        // By number: tls-parser reads some of these as Unknown
                        // in a ServerHello.
                        match tls_parser::TlsExtensionType::from(e).0 {
                            22 => f.etm = true,
                            23 => f.ems = true,
                            _ => {}
                        }
                        match e {
                            TlsExtension::SupportedVersions(v) => {
                                if let Some(x) = v.first() {
                                    f.version = x.0;
                                }
                            }
                            TlsExtension::ALPN(p) => {
                                f.alpn = p.first().map(|x| String::from_utf8_lossy(x).into_owned());
                            }
                            TlsExtension::KeyShare(b) => {
                                hrr_group = b.first_chunk::<2>().map(|g| u16::from_be_bytes(*g));
                            }
                            TlsExtension::PreSharedKey(_) => f.psk = true,
                            TlsExtension::ExtendedMasterSecret => f.ems = true,
                            TlsExtension::EncryptThenMac => f.etm = true,
                            _ => {}
                        }
                    }
                }
                if random == HRR_RANDOM {
                    self.facts.hello_retry = Some(hrr_group.unwrap_or(0));
                    self.facts.hello_retry_frame = frame;
                    return;
                }
                if let (Some(ch), Some(sid)) = (&self.facts.client_hello, sh.session_id) {
                    f.session_resumed = f.version < 0x0304
                        && ch.session_id_len > 0
                        && sid.len() == ch.session_id_len
                        && f.version != 0;
                }
                let v13 = f.version >= 0x0304;
                self.facts.server_hello = Some(f);
                self.find_keys();
                if v13 {
                    // Everything after the ServerHello is encrypted, both ways.
                    self.dirs[Side::Server].encrypted = true;
                    self.dirs[Side::Client].encrypted = true;
                    self.dirs[Side::Client].dec = self.waiting[Side::Client].take();
                    self.dirs[Side::Server].dec = self.waiting[Side::Server].take();
                }
            }
            TlsMessageHandshake::Certificate(c)
                if d == Side::Server && self.facts.certificates.is_empty() =>
            {
                self.facts.certificate_frame = frame;
                for raw in c.cert_chain.iter().take(self.lim.max_certs) {
                    if let Some(ci) = cert::parse(raw.data) {
                        self.facts.certificates.push(ci);
                    }
                }
            }
            _ => {}
        }
    }
}

/// The whole length (header included) of the handshake message at the
/// start of `b` and its type; `None` before the 4-byte header is whole.
fn hs_header(hs: &[u8]) -> Option<(u8, usize)> {
    let &[ty, a, b, c] = hs.first_chunk::<4>()?;
    let len = (usize::from(a) << 16) | (usize::from(b) << 8) | usize::from(c);
    // At most 2^24 + 3: no overflow.
    Some((ty, len.saturating_add(4)))
}

/// The protocol chosen by ALPN in an EncryptedExtensions body.
fn alpn_of_extensions(b: &[u8]) -> Option<String> {
    let (&total, rest) = b.split_first_chunk::<2>()?;
    let total = usize::from(u16::from_be_bytes(total));
    let mut exts = rest.get(..total).unwrap_or(rest);
    while let Some((&[t0, t1, n0, n1], tail)) = exts.split_first_chunk::<4>() {
        let n = usize::from(u16::from_be_bytes([n0, n1]));
        let (data, after) = tail.split_at_checked(n)?;
        if u16::from_be_bytes([t0, t1]) == 16 {
            // protocol_name_list: u16 length, then u8-length names.
            let (&name_len, names) = data.get(2..)?.split_first()?;
            let name = names.get(..usize::from(name_len))?;
            return Some(String::from_utf8_lossy(name).chars().take(64).collect());
        }
        exts = after;
    }
    None
}

/// The DER certificates of a TLS 1.3 Certificate message body
/// (request context, then entries with their own extensions).
fn tls13_certificates(b: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let Some((&ctx, rest)) = b.split_first() else {
        return out;
    };
    let Some((&[t0, t1, t2], rest)) = rest
        .get(usize::from(ctx)..)
        .and_then(|r| r.split_first_chunk::<3>())
    else {
        return out;
    };
    let total = (usize::from(t0) << 16) | (usize::from(t1) << 8) | usize::from(t2);
    let mut list = rest.get(..total).unwrap_or(rest);
    while let Some((&[n0, n1, n2], tail)) = list.split_first_chunk::<3>() {
        let n = (usize::from(n0) << 16) | (usize::from(n1) << 8) | usize::from(n2);
        let Some((der, tail)) = tail.split_at_checked(n) else {
            break;
        };
        out.push(der);
        let Some((&ext, tail)) = tail.split_first_chunk::<2>() else {
            break;
        };
        // Extensions running past the end: that was the last entry.
        list = tail
            .get(usize::from(u16::from_be_bytes(ext))..)
            .unwrap_or(&[]);
        if out.len() >= 16 {
            break;
        }
    }
    out
}

/// The key share groups of a ClientHello key_share extension body.
fn key_share_groups(b: &[u8]) -> Vec<u16> {
    let mut out = Vec::new();
    // After the client_shares length.
    let mut rest = b.get(2..).unwrap_or(&[]);
    while let Some((&[g0, g1, n0, n1], tail)) = rest.split_first_chunk::<4>() {
        let g = u16::from_be_bytes([g0, g1]);
        let n = usize::from(u16::from_be_bytes([n0, n1]));
        if !is_grease(g) {
            out.push(g);
        }
        rest = tail.get(n..).unwrap_or(&[]);
        if out.len() >= 16 {
            break;
        }
    }
    out
}

enum RecLen {
    Len(usize),
    NeedMore,
    NotTls,
}

/// The length of the record at the start of `b`, header included.
fn record_len(b: &[u8]) -> RecLen {
    let Some(&ct) = b.first() else {
        return RecLen::NeedMore;
    };
    if !(20..=24).contains(&ct) {
        return RecLen::NotTls;
    }
    match b.get(1) {
        None => return RecLen::NeedMore,
        Some(&3) => {}
        Some(_) => return RecLen::NotTls,
    }
    match (b.get(2), b.get(3), b.get(4)) {
        (Some(&minor), _, _) if minor > 4 => RecLen::NotTls,
        (Some(_), Some(&hi), Some(&lo)) => {
            RecLen::Len(5 + usize::from(u16::from_be_bytes([hi, lo])))
        }
        _ => RecLen::NeedMore,
    }
}

#[cfg(test)]
#[allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::arithmetic_side_effects
)]
mod tests {
    use super::*;

    fn rec(ct: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![ct, 3, 3];
        v.extend_from_slice(&(body.len() as u16).to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn alerts_across_every_split() {
        let r = rec(21, &[2, 70]);
        for cut in 0..=r.len() {
            let mut c = TlsConn::default();
            c.feed(1, &r[..cut], 5, 1.0);
            c.feed(1, &r[cut..], 6, 2.0);
            let a = &c.facts().alerts;
            assert_eq!(a.len(), 1, "cut {cut}");
            assert_eq!(
                (a[0].level, a[0].description, a[0].encrypted),
                (2, 70, false)
            );
        }
    }

    #[test]
    fn not_tls_stops() {
        let mut c = TlsConn::default();
        c.feed(0, b"GET / HTTP/1.1\r\n", 1, 0.0);
        assert!(c.facts().not_tls[0]);
        c.feed(0, &rec(21, &[2, 40]), 2, 0.0);
        assert!(c.facts().alerts.is_empty());
    }

    #[test]
    fn huge_records_and_messages_are_bounded() {
        let mut c = TlsConn::default();
        c.feed(0, &[22, 3, 1, 0xff, 0xff], 1, 0.0);
        assert!(c.facts().limit_hit);
        let mut c = TlsConn::default();
        // a handshake message claiming 16 MiB, fed record by record
        let mut body = vec![1, 0xff, 0xff, 0xff];
        body.resize(16_000, 0);
        for _ in 0..10 {
            c.feed(0, &rec(22, &body), 1, 0.0);
        }
        assert!(c.facts().limit_hit);
    }
}
