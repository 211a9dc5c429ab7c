//! Both directions of a TLS connection, as far as they can be seen without
//! keys: records reassembled across TCP segments, handshake messages
//! reassembled across records (ClientHello, ServerHello, HelloRetryRequest,
//! Certificate up to TLS 1.2), alerts in clear, ChangeCipherSpec and where
//! encryption starts. Push-based: fed byte chunks per direction with the
//! frame they arrived in; what it learns accumulates in [`TlsFacts`].
//! Handshake messages are parsed with `tls-parser`, certificates with
//! `x509-parser`.
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

/// A direction: 0 client to server, 1 server to client.
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
    Data { dir: DirIdx, bytes: &'a [u8] },
    /// Direction `dir` cannot be followed further: a record that did not
    /// decrypt, or a capture gap. `len` is at most the bytes lost (the
    /// record's length; unknown after a gap: 0).
    Lost { dir: DirIdx, len: u64 },
}

/// A record that could not be decrypted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecryptFailure {
    pub dir: DirIdx,
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
    pub legacy_version: u16,
    /// supported_versions (GREASE removed), or the legacy version alone.
    pub versions: Vec<u16>,
    pub suites: Vec<u16>,
    pub sni: Option<String>,
    pub alpn: Vec<String>,
    pub groups: Vec<u16>,
    pub key_share_groups: Vec<u16>,
    /// Extension types in order (GREASE removed).
    pub extensions: Vec<u16>,
    pub session_id_len: usize,
    pub psk: bool,
    pub ems: bool,
    pub etm: bool,
    pub random: [u8; 32],
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
    pub suite: u16,
    pub alpn: Option<String>,
    /// TLS 1.2: the server echoed the client's session id (resumption).
    pub session_resumed: bool,
    /// TLS 1.3: pre_shared_key accepted (resumption).
    pub psk: bool,
    pub ems: bool,
    pub etm: bool,
    pub random: [u8; 32],
    pub frame: u64,
}

/// One alert.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertFacts {
    pub dir: DirIdx,
    /// 1 warning, 2 fatal; 0 when the alert was encrypted.
    pub level: u8,
    /// The description code; meaningless when `encrypted`.
    pub description: u8,
    /// The alert record was encrypted (its content cannot be seen).
    pub encrypted: bool,
    pub frame: u64,
    pub ts: f64,
}

/// Everything the TLS analysis learnt of a connection.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TlsFacts {
    pub client_hello: Option<ClientHelloFacts>,
    pub server_hello: Option<ServerHelloFacts>,
    /// A HelloRetryRequest was sent, asking for this key share group.
    pub hello_retry: Option<u16>,
    pub hello_retry_frame: u64,
    /// The server's certificate chain, leaf first (clear up to TLS 1.2).
    pub certificates: Vec<CertInfo>,
    pub certificate_frame: u64,
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
    dirs: [Dir; 2],
    facts: TlsFacts,
    keys: Option<Box<dyn SecretSource>>,
    /// The session's parameters and secrets, when the key log has them.
    session: Option<(SessionParams, SessionSecrets)>,
    /// Decryptors built at the ServerHello for TLS 1.2, used after each
    /// side's ChangeCipherSpec.
    waiting: [Option<RecordDecryptor>; 2],
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

fn random32(r: &[u8]) -> [u8; 32] {
    let mut a = [0u8; 32];
    let n = r.len().min(32);
    a[..n].copy_from_slice(&r[..n]);
    a
}

impl TlsConn {
    pub fn new(lim: TlsLimits) -> Self {
        TlsConn {
            lim,
            dirs: Default::default(),
            facts: TlsFacts::default(),
            keys: None,
            session: None,
            waiting: [None, None],
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

    pub fn facts(&self) -> &TlsFacts {
        &self.facts
    }

    /// Nothing more can be learnt from this connection's bytes: both
    /// directions stopped (not TLS, a gap), or the handshake completed,
    /// both sides sent encrypted data after it, and nothing is decrypted.
    pub fn done(&self) -> bool {
        if self.dirs.iter().all(|d| d.done) {
            return true;
        }
        let f = &self.facts;
        let decrypting =
            self.dirs.iter().any(|d| d.dec.is_some()) || self.waiting.iter().any(Option::is_some);
        !decrypting
            && f.handshake_complete()
            && f.encrypted_records[0] >= 2
            && f.encrypted_records[1] >= 2
            && f.server_after_client > 0
    }

    pub fn into_facts(self) -> TlsFacts {
        self.facts
    }

    /// `n` bytes of direction `d` are missing: that direction's records
    /// cannot be followed any more.
    pub fn gap(&mut self, d: DirIdx) {
        if let Some(st) = self.dirs.get_mut(d) {
            st.done = true;
            st.rec = Vec::new();
            st.hs = Vec::new();
            st.phs = Vec::new();
            st.dec = None;
        }
        if let Some(l) = self.facts.lost.get_mut(d) {
            *l = true;
        }
    }

    /// Bytes of direction `d` (0: client to server), arriving in `frame` at
    /// time `ts` (seconds); decrypted application data is dropped.
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
        let d = d & 1;
        let max = self.lim.max_record;
        while !input.is_empty() && !self.dirs[d].done {
            if self.dirs[d].rec.is_empty() {
                // Whole records straight from the input.
                match record_len(input) {
                    RecLen::Len(n) if n <= max => {
                        if input.len() >= n {
                            let (r, rest) = input.split_at(n);
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
            let take = need.saturating_sub(have).clamp(1, input.len());
            let (head, rest) = input.split_at(take);
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

    fn not_tls(&mut self, d: DirIdx) {
        self.facts.not_tls[d] = true;
        self.dirs[d].done = true;
        self.dirs[d].rec = Vec::new();
        self.dirs[d].hs = Vec::new();
        self.dirs[d].dec = None;
    }

    /// One whole record (header included).
    fn record(&mut self, d: DirIdx, r: &[u8], frame: u64, ts: f64, app: &mut dyn FnMut(Plain<'_>)) {
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
                self.facts.ccs[d].get_or_insert(frame);
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
                        dir: d,
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

    fn encrypted(&mut self, d: DirIdx, frame: u64, ts: f64) {
        let f = &mut self.facts;
        f.first_encrypted[d].get_or_insert((frame, ts));
        f.encrypted_records[d] = f.encrypted_records[d].saturating_add(1);
        if d == 1 && f.encrypted_records[0] > 0 {
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
            for (d, dir) in [
                (0, Direction::ClientToServer),
                (1, Direction::ServerToClient),
            ] {
                match RecordDecryptor::from_keylog(&params, &secrets, dir, Epoch::Handshake) {
                    Ok(dec) => self.waiting[d] = Some(dec),
                    Err(e) => {
                        df.failure.get_or_insert(DecryptFailure {
                            dir: d,
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
        d: DirIdx,
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
                df.records[d] = df.records[d].saturating_add(1);
                df.first_frame.get_or_insert(frame);
                match inner {
                    22 => self.plain_handshake(d, &buf, frame),
                    21 => {
                        if let ([level, description], true) = (
                            buf.as_slice(),
                            self.facts.alerts.len() < self.lim.max_alerts,
                        ) {
                            self.facts.alerts.push(AlertFacts {
                                dir: d,
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
                            df.app_bytes[d] = df.app_bytes[d].saturating_add(buf.len() as u64);
                        }
                        if !buf.is_empty() {
                            app(Plain::Data {
                                dir: d,
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
                    dir: d,
                    frame,
                    error: e.to_string(),
                    auth: e.is_auth_failure(),
                });
                self.dirs[d].dec = None;
                self.dirs[d].phs = Vec::new();
                app(Plain::Lost {
                    dir: d,
                    len: body.len() as u64,
                });
            }
        }
        self.scratch = buf;
    }

    /// TLS 1.3: after the record with a direction's Finished, its
    /// application secret; after a KeyUpdate, the next one.
    fn after_record(&mut self, d: DirIdx, frame: u64) {
        let st = &mut self.dirs[d];
        if std::mem::take(&mut st.finished) {
            let dir = if d == 0 {
                Direction::ClientToServer
            } else {
                Direction::ServerToClient
            };
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
                            dir: d,
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
                    df.key_updates[d] = df.key_updates[d].saturating_add(1);
                }
            }
        }
    }

    /// Decrypted handshake bytes: TLS 1.3's EncryptedExtensions (ALPN),
    /// Certificate, Finished and KeyUpdate.
    fn plain_handshake(&mut self, d: DirIdx, body: &[u8], frame: u64) {
        let st = &mut self.dirs[d];
        if st.phs.len().saturating_add(body.len()) > self.lim.max_handshake {
            self.facts.limit_hit = true;
            st.phs = Vec::new();
            return;
        }
        st.phs.extend_from_slice(body);
        loop {
            let st = &mut self.dirs[d];
            let Some(h) = st.phs.get(..4) else { return };
            let ty = h[0];
            let len = (usize::from(h[1]) << 16) | (usize::from(h[2]) << 8) | usize::from(h[3]);
            if 4 + len > self.lim.max_handshake {
                self.facts.limit_hit = true;
                st.phs = Vec::new();
                return;
            }
            if st.phs.len() < 4 + len {
                return;
            }
            let msg: Vec<u8> = st.phs.drain(..4 + len).collect();
            let body = msg.get(4..).unwrap_or(&[]);
            let v13 = self.facts.version().is_some_and(|v| v >= 0x0304);
            match ty {
                8 if d == 1 => {
                    if let Some(alpn) = alpn_of_extensions(body) {
                        if let Some(sh) = self.facts.server_hello.as_mut() {
                            sh.alpn.get_or_insert(alpn);
                        }
                    }
                }
                11 if d == 1 && v13 && self.facts.certificates.is_empty() => {
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
    fn handshake(&mut self, d: DirIdx, body: &[u8], frame: u64, ts: f64) {
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
            let Some(h) = st.hs.get(..4) else { return };
            let len = (usize::from(h[1]) << 16) | (usize::from(h[2]) << 8) | usize::from(h[3]);
            if 4 + len > self.lim.max_handshake {
                self.facts.limit_hit = true;
                st.hs = Vec::new();
                st.done = true;
                return;
            }
            if st.hs.len() < 4 + len {
                return;
            }
            let msg: Vec<u8> = st.hs.drain(..4 + len).collect();
            self.message(d, &msg, frame, ts);
            if self.dirs[d].encrypted {
                // Handshake bytes after the switch are not in clear.
                self.dirs[d].hs.clear();
                return;
            }
        }
    }

    fn message(&mut self, d: DirIdx, msg: &[u8], frame: u64, ts: f64) {
        let Ok((_, TlsMessage::Handshake(h))) = parse_tls_message_handshake(msg) else {
            return;
        };
        match h {
            TlsMessageHandshake::ClientHello(ch) if d == 0 && self.facts.client_hello.is_none() => {
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
            TlsMessageHandshake::ServerHello(sh) if d == 1 => {
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
                                hrr_group = b.get(..2).map(|g| u16::from_be_bytes([g[0], g[1]]));
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
                    self.dirs[1].encrypted = true;
                    self.dirs[0].encrypted = true;
                    self.dirs[0].dec = self.waiting[0].take();
                    self.dirs[1].dec = self.waiting[1].take();
                }
            }
            TlsMessageHandshake::Certificate(c) if d == 1 && self.facts.certificates.is_empty() => {
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

fn u16_at(b: &[u8], i: usize) -> Option<usize> {
    b.get(i..i + 2)
        .map(|x| usize::from(u16::from_be_bytes([x[0], x[1]])))
}

fn u24_at(b: &[u8], i: usize) -> Option<usize> {
    b.get(i..i + 3)
        .map(|x| (usize::from(x[0]) << 16) | (usize::from(x[1]) << 8) | usize::from(x[2]))
}

/// The protocol chosen by ALPN in an EncryptedExtensions body.
fn alpn_of_extensions(b: &[u8]) -> Option<String> {
    let total = u16_at(b, 0)?;
    let exts = b.get(2..2 + total.min(b.len().saturating_sub(2)))?;
    let mut i = 0usize;
    while let (Some(ty), Some(n)) = (u16_at(exts, i), u16_at(exts, i + 2)) {
        let data = exts.get(i + 4..i + 4 + n)?;
        if ty == 16 {
            // protocol_name_list: u16 length, then u8-length names.
            let name_len = usize::from(*data.get(2)?);
            let name = data.get(3..3 + name_len)?;
            return Some(String::from_utf8_lossy(name).chars().take(64).collect());
        }
        i = i + 4 + n;
    }
    None
}

/// The DER certificates of a TLS 1.3 Certificate message body
/// (request context, then entries with their own extensions).
fn tls13_certificates(b: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let Some(&ctx) = b.first() else { return out };
    let start = 1 + usize::from(ctx);
    let Some(total) = u24_at(b, start) else {
        return out;
    };
    let list = b
        .get(start + 3..)
        .map(|l| l.get(..total).unwrap_or(l))
        .unwrap_or(&[]);
    let mut i = 0usize;
    while let Some(n) = u24_at(list, i) {
        let Some(der) = list.get(i + 3..i + 3 + n) else {
            break;
        };
        out.push(der);
        let Some(ext) = u16_at(list, i + 3 + n) else {
            break;
        };
        i = i + 3 + n + 2 + ext;
        if out.len() >= 16 {
            break;
        }
    }
    out
}

/// The key share groups of a ClientHello key_share extension body.
fn key_share_groups(b: &[u8]) -> Vec<u16> {
    let mut out = Vec::new();
    let mut i = 2usize; // client_shares length
    while let Some(h) = b.get(i..i + 4) {
        let g = u16::from_be_bytes([h[0], h[1]]);
        let n = usize::from(u16::from_be_bytes([h[2], h[3]]));
        if !is_grease(g) {
            out.push(g);
        }
        i = i.saturating_add(4).saturating_add(n);
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
