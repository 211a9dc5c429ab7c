//! NSS key log files (the `SSLKEYLOGFILE` format written by browsers, curl,
//! Node `--tls-keylog`, Python `SSLContext.keylog_filename`, OpenSSL
//! `-keylogfile`, ...) and the key logs embedded in pcapng Decryption Secrets
//! Blocks.
//!
//! A line is `LABEL <client random, 64 hex digits> <secret, hex>`. The labels
//! kept are those a passive decryptor needs:
//!
//! | label | TLS | secret |
//! |---|---|---|
//! | `CLIENT_RANDOM` | 1.2 and below | the 48-byte master secret |
//! | `CLIENT_HANDSHAKE_TRAFFIC_SECRET` | 1.3 | client handshake traffic secret |
//! | `SERVER_HANDSHAKE_TRAFFIC_SECRET` | 1.3 | server handshake traffic secret |
//! | `CLIENT_TRAFFIC_SECRET_0` | 1.3 | first client application traffic secret |
//! | `SERVER_TRAFFIC_SECRET_0` | 1.3 | first server application traffic secret |
//!
//! Known labels that are not needed are skipped and counted: comments (`#`),
//! `EXPORTER_SECRET`, `EARLY_EXPORTER_SECRET`, `CLIENT_EARLY_TRAFFIC_SECRET`
//! (0-RTT data is not decrypted), `RSA` (8 bytes of an encrypted premaster
//! secret and the premaster: the `CLIENT_RANDOM` line OpenSSL writes beside it
//! is enough), and OpenSSL 3's `CLIENT_TRAFFIC_SECRET_N` /
//! `SERVER_TRAFFIC_SECRET_N` (written at each TLS 1.3 KeyUpdate; the next
//! secret is derived from the previous one instead). Anything else is a
//! malformed line: counted, never an error, never a panic.
//!
//! Memory is bounded: at most [`KeyLogLimits::max_entries`] client randoms and
//! lines longer than [`KeyLogLimits::max_line_len`] are not parsed.
//!
//! Secrets are never printed: the `Debug` impls of [`Secret`],
//! [`SessionSecrets`] and [`KeyLog`] redact them.
// The panic-freedom lints are denied for the whole `tls` module (tls/mod.rs).

use std::collections::HashMap;
use std::fmt;

/// Default for [`KeyLogLimits::max_entries`].
pub const MAX_KEYLOG_ENTRIES: usize = 100_000;
/// Default for [`KeyLogLimits::max_line_len`]. The longest line of interest
/// (`CLIENT_HANDSHAKE_TRAFFIC_SECRET`, a client random, a 48-byte secret) is
/// 193 bytes.
pub const MAX_KEYLOG_LINE: usize = 1024;
/// Longest secret kept (48 bytes: a TLS 1.2 master secret, a SHA-384 TLS 1.3
/// traffic secret).
pub const MAX_SECRET_LEN: usize = 48;

/// pcapng Decryption Secrets Block: secrets type "TLSK" (NSS key log text).
pub const DSB_SECRETS_TYPE_TLS: u32 = 0x544c_534b;

/// Bounds for one [`KeyLog`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyLogLimits {
    /// Most client randoms (sessions) kept; lines for further client randoms
    /// are counted in [`KeyLogStats::over_limit`].
    pub max_entries: usize,
    /// Longest line parsed, in bytes (without the line end); longer lines are
    /// counted in [`KeyLogStats::too_long`].
    pub max_line_len: usize,
}

impl Default for KeyLogLimits {
    fn default() -> Self {
        KeyLogLimits {
            max_entries: MAX_KEYLOG_ENTRIES,
            max_line_len: MAX_KEYLOG_LINE,
        }
    }
}

/// A secret from a key log (1..=48 bytes). Its `Debug` output is redacted.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Secret {
    len: u8,
    bytes: [u8; MAX_SECRET_LEN],
}

impl Secret {
    /// A secret from raw bytes; `None` when empty or longer than
    /// [`MAX_SECRET_LEN`].
    pub fn new(b: &[u8]) -> Option<Secret> {
        if b.is_empty() || b.len() > MAX_SECRET_LEN {
            return None;
        }
        let mut bytes = [0u8; MAX_SECRET_LEN];
        bytes.get_mut(..b.len())?.copy_from_slice(b);
        Some(Secret {
            len: u8::try_from(b.len()).ok()?,
            bytes,
        })
    }

    /// The secret's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Always false for a constructed secret (kept for clippy's `len` rule).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(<redacted {} bytes>)", self.len)
    }
}

/// The secrets of one TLS session (one client random).
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionSecrets {
    /// TLS 1.2 and below: the master secret (`CLIENT_RANDOM`).
    pub master_secret: Option<Secret>,
    /// TLS 1.3 `CLIENT_HANDSHAKE_TRAFFIC_SECRET`.
    pub client_handshake: Option<Secret>,
    /// TLS 1.3 `SERVER_HANDSHAKE_TRAFFIC_SECRET`.
    pub server_handshake: Option<Secret>,
    /// TLS 1.3 `CLIENT_TRAFFIC_SECRET_0`.
    pub client_traffic_0: Option<Secret>,
    /// TLS 1.3 `SERVER_TRAFFIC_SECRET_0`.
    pub server_traffic_0: Option<Secret>,
}

impl SessionSecrets {
    /// Whether it holds anything at all.
    pub fn is_empty(&self) -> bool {
        self.master_secret.is_none()
            && self.client_handshake.is_none()
            && self.server_handshake.is_none()
            && self.client_traffic_0.is_none()
            && self.server_traffic_0.is_none()
    }

    /// Names of the secrets present (for reports; never the values).
    pub fn labels(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        for (label, s) in [
            (Label::ClientRandom, &self.master_secret),
            (Label::ClientHandshakeTrafficSecret, &self.client_handshake),
            (Label::ServerHandshakeTrafficSecret, &self.server_handshake),
            (Label::ClientTrafficSecret0, &self.client_traffic_0),
            (Label::ServerTrafficSecret0, &self.server_traffic_0),
        ] {
            if s.is_some() {
                v.push(label.as_str());
            }
        }
        v
    }

    fn slot(&mut self, label: Label) -> &mut Option<Secret> {
        match label {
            Label::ClientRandom => &mut self.master_secret,
            Label::ClientHandshakeTrafficSecret => &mut self.client_handshake,
            Label::ServerHandshakeTrafficSecret => &mut self.server_handshake,
            Label::ClientTrafficSecret0 => &mut self.client_traffic_0,
            Label::ServerTrafficSecret0 => &mut self.server_traffic_0,
        }
    }
}

impl fmt::Debug for SessionSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionSecrets")
            .field("present", &self.labels())
            .finish()
    }
}

/// A key log label that is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Label {
    /// `CLIENT_RANDOM`: TLS 1.2 master secret.
    ClientRandom,
    /// `CLIENT_HANDSHAKE_TRAFFIC_SECRET`.
    ClientHandshakeTrafficSecret,
    /// `SERVER_HANDSHAKE_TRAFFIC_SECRET`.
    ServerHandshakeTrafficSecret,
    /// `CLIENT_TRAFFIC_SECRET_0`.
    ClientTrafficSecret0,
    /// `SERVER_TRAFFIC_SECRET_0`.
    ServerTrafficSecret0,
}

impl Label {
    /// The label as written in a key log.
    pub fn as_str(self) -> &'static str {
        match self {
            Label::ClientRandom => "CLIENT_RANDOM",
            Label::ClientHandshakeTrafficSecret => "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
            Label::ServerHandshakeTrafficSecret => "SERVER_HANDSHAKE_TRAFFIC_SECRET",
            Label::ClientTrafficSecret0 => "CLIENT_TRAFFIC_SECRET_0",
            Label::ServerTrafficSecret0 => "SERVER_TRAFFIC_SECRET_0",
        }
    }

    fn parse(s: &[u8]) -> Option<Label> {
        Some(match s {
            b"CLIENT_RANDOM" => Label::ClientRandom,
            b"CLIENT_HANDSHAKE_TRAFFIC_SECRET" => Label::ClientHandshakeTrafficSecret,
            b"SERVER_HANDSHAKE_TRAFFIC_SECRET" => Label::ServerHandshakeTrafficSecret,
            b"CLIENT_TRAFFIC_SECRET_0" => Label::ClientTrafficSecret0,
            b"SERVER_TRAFFIC_SECRET_0" => Label::ServerTrafficSecret0,
            _ => return None,
        })
    }

    /// Secret lengths allowed for the label: the master secret is 48 bytes,
    /// TLS 1.3 secrets are a hash long (32 for SHA-256, 48 for SHA-384).
    fn len_ok(self, n: usize) -> bool {
        match self {
            Label::ClientRandom => n == 48,
            _ => n == 32 || n == 48,
        }
    }
}

/// Labels that are recognised and deliberately not kept.
const SKIPPED_LABELS: &[&[u8]] = &[
    b"EXPORTER_SECRET",
    b"EARLY_EXPORTER_SECRET",
    b"CLIENT_EARLY_TRAFFIC_SECRET",
    b"RSA",
    b"PMS_CLIENT_RANDOM",
    b"CLIENT_TRAFFIC_SECRET_N",
    b"SERVER_TRAFFIC_SECRET_N",
];

/// What parsing saw, line by line (every line lands in exactly one counter).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyLogStats {
    /// Lines seen (non-empty after trimming, comments included).
    pub lines: u64,
    /// Secrets kept (one per label and client random; later duplicates
    /// replace earlier ones and are counted here too).
    pub secrets: u64,
    /// `#` comments.
    pub comments: u64,
    /// Known labels that are not needed (see the module doc).
    pub skipped: u64,
    /// Lines that are not key log lines: unknown label, wrong field count,
    /// bad hex, wrong lengths.
    pub malformed: u64,
    /// Lines longer than [`KeyLogLimits::max_line_len`].
    pub too_long: u64,
    /// Lines for a new client random after [`KeyLogLimits::max_entries`].
    pub over_limit: u64,
}

/// Secrets by client random, from NSS key log text.
#[derive(Clone, Default)]
pub struct KeyLog {
    sessions: HashMap<[u8; 32], SessionSecrets>,
    stats: KeyLogStats,
    limits: KeyLogLimits,
}

impl fmt::Debug for KeyLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyLog")
            .field("sessions", &self.sessions.len())
            .field("stats", &self.stats)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// Why a Decryption Secrets Block body could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DsbError {
    /// The body is shorter than its 8-byte header.
    Truncated,
    /// Secrets Length runs past the end of the body.
    LengthBeyondBlock {
        /// Declared Secrets Length.
        declared: u32,
        /// Bytes available after the header.
        available: usize,
    },
}

impl fmt::Display for DsbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DsbError::Truncated => write!(f, "decryption secrets block shorter than its header"),
            DsbError::LengthBeyondBlock {
                declared,
                available,
            } => write!(
                f,
                "decryption secrets block declares {declared} bytes of secrets, {available} present"
            ),
        }
    }
}

impl std::error::Error for DsbError {}

/// Result of reading one Decryption Secrets Block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DsbContent {
    /// A TLS key log ("TLSK"): its lines were added; the number of secrets
    /// kept from it.
    TlsKeyLog(u64),
    /// Secrets of another kind (WireGuard, ZigBee, ...): ignored.
    Other(u32),
}

impl KeyLog {
    /// An empty key log with the default limits.
    pub fn new() -> KeyLog {
        KeyLog::with_limits(KeyLogLimits::default())
    }

    /// An empty key log with the given limits.
    pub fn with_limits(limits: KeyLogLimits) -> KeyLog {
        KeyLog {
            sessions: HashMap::new(),
            stats: KeyLogStats::default(),
            limits,
        }
    }

    /// Parse key log text (any bytes: LF or CRLF line ends, blank lines and
    /// garbage are tolerated and counted).
    pub fn parse(text: &[u8]) -> KeyLog {
        let mut k = KeyLog::new();
        k.add_text(text);
        k
    }

    /// Add the lines of more key log text (several files, several blocks).
    /// Returns how many secrets were kept from it.
    pub fn add_text(&mut self, text: &[u8]) -> u64 {
        let before = self.stats.secrets;
        for line in text.split(|&b| b == b'\n') {
            self.add_line(line);
        }
        self.stats.secrets.saturating_sub(before)
    }

    fn add_line(&mut self, raw: &[u8]) {
        let line = raw.trim_ascii();
        if line.is_empty() {
            return;
        }
        self.stats.lines = self.stats.lines.saturating_add(1);
        if line.len() > self.limits.max_line_len {
            self.stats.too_long = self.stats.too_long.saturating_add(1);
            return;
        }
        if line.first() == Some(&b'#') {
            self.stats.comments = self.stats.comments.saturating_add(1);
            return;
        }
        let mut fields = line
            .split(|b| b.is_ascii_whitespace())
            .filter(|f| !f.is_empty());
        let (Some(label), Some(cr), Some(secret), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            if line
                .split(|b| b.is_ascii_whitespace())
                .next()
                .is_some_and(|l| SKIPPED_LABELS.contains(&l))
            {
                self.stats.skipped = self.stats.skipped.saturating_add(1);
            } else {
                self.stats.malformed = self.stats.malformed.saturating_add(1);
            }
            return;
        };
        let Some(label) = Label::parse(label) else {
            if SKIPPED_LABELS.contains(&label) {
                self.stats.skipped = self.stats.skipped.saturating_add(1);
            } else {
                self.stats.malformed = self.stats.malformed.saturating_add(1);
            }
            return;
        };
        let mut random = [0u8; 32];
        let mut buf = [0u8; MAX_SECRET_LEN];
        let secret = match (
            decode_hex(cr, &mut random),
            decode_hex(secret, &mut buf).and_then(|n| buf.get(..n)),
        ) {
            (Some(32), Some(s)) if label.len_ok(s.len()) => Secret::new(s),
            _ => None,
        };
        let Some(secret) = secret else {
            self.stats.malformed = self.stats.malformed.saturating_add(1);
            return;
        };
        if !self.sessions.contains_key(&random) && self.sessions.len() >= self.limits.max_entries {
            self.stats.over_limit = self.stats.over_limit.saturating_add(1);
            return;
        }
        *self.sessions.entry(random).or_default().slot(label) = Some(secret);
        self.stats.secrets = self.stats.secrets.saturating_add(1);
    }

    /// Add the secrets of a pcapng Decryption Secrets Block (block type 10).
    ///
    /// `body` is the block body: the bytes after Block Type and Block Total
    /// Length and before the trailing Block Total Length, i.e. Secrets Type
    /// (u32), Secrets Length (u32), the secrets (padded to 32 bits) and
    /// options. `big_endian` is the byte order of the section (from its
    /// Section Header Block). Secrets of a type other than
    /// [`DSB_SECRETS_TYPE_TLS`] are ignored.
    pub fn add_dsb(&mut self, body: &[u8], big_endian: bool) -> Result<DsbContent, DsbError> {
        let u32_at = |i: usize| -> Option<u32> {
            let b: [u8; 4] = body.get(i..i.checked_add(4)?)?.try_into().ok()?;
            Some(if big_endian {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            })
        };
        let (Some(kind), Some(len)) = (u32_at(0), u32_at(4)) else {
            return Err(DsbError::Truncated);
        };
        let rest = body.get(8..).unwrap_or(&[]);
        let Some(data) = usize::try_from(len).ok().and_then(|n| rest.get(..n)) else {
            return Err(DsbError::LengthBeyondBlock {
                declared: len,
                available: rest.len(),
            });
        };
        if kind != DSB_SECRETS_TYPE_TLS {
            return Ok(DsbContent::Other(kind));
        }
        Ok(DsbContent::TlsKeyLog(self.add_text(data)))
    }

    /// The secrets logged for a client random.
    pub fn get(&self, client_random: &[u8; 32]) -> Option<&SessionSecrets> {
        self.sessions.get(client_random)
    }

    /// Number of sessions (client randoms) with at least one secret.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Whether no secret was found.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// What parsing saw.
    pub fn stats(&self) -> KeyLogStats {
        self.stats
    }

    /// The limits in force.
    pub fn limits(&self) -> KeyLogLimits {
        self.limits
    }
}

/// Decode hex into `out`; returns the byte count, `None` for an odd length,
/// a non-hex digit, or more bytes than `out` holds.
fn decode_hex(s: &[u8], out: &mut [u8]) -> Option<usize> {
    if s.len() % 2 != 0 {
        return None;
    }
    let n = s.len() / 2;
    let dst = out.get_mut(..n)?;
    for (d, pair) in dst.iter_mut().zip(s.chunks_exact(2)) {
        let &[hi, lo] = pair else {
            return None;
        };
        *d = (nibble(hi)? << 4) | nibble(lo)?;
    }
    Some(n)
}

fn nibble(c: u8) -> Option<u8> {
    char::from(c)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
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

    const CR: &str = "e720993edc45963ef774db96176702f2832819d30d8a92afce3126568d52cc68";

    fn cr(s: &str) -> [u8; 32] {
        let mut b = [0u8; 32];
        assert_eq!(decode_hex(s.as_bytes(), &mut b), Some(32));
        b
    }

    #[test]
    fn openssl_tls13_keylog_with_key_updates() {
        // samples/tls/tls13-keyupdate.keys (openssl s_client -keylogfile)
        let text = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../samples/tls/tls13-keyupdate.keys"
        ))
        .unwrap();
        let k = KeyLog::parse(&text);
        assert_eq!(k.len(), 1);
        let s = k.get(&cr(CR)).unwrap();
        assert_eq!(
            s.labels(),
            [
                "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
                "SERVER_HANDSHAKE_TRAFFIC_SECRET",
                "CLIENT_TRAFFIC_SECRET_0",
                "SERVER_TRAFFIC_SECRET_0"
            ]
        );
        assert!(s.master_secret.is_none());
        assert_eq!(
            s.server_traffic_0.unwrap().as_bytes()[..4],
            [0xf6, 0x42, 0x5b, 0xdb]
        );
        let st = k.stats();
        // header comment, EXPORTER_SECRET, 2 CLIENT_TRAFFIC_SECRET_N, 1 SERVER_TRAFFIC_SECRET_N
        assert_eq!(
            (st.lines, st.secrets, st.comments, st.skipped, st.malformed),
            (9, 4, 1, 4, 0)
        );
    }

    #[test]
    fn tls12_rsa_keylog() {
        let text = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../samples/tls/tls12-rsa-aes128-gcm.keys"
        ))
        .unwrap();
        let k = KeyLog::parse(&text);
        let s = k
            .get(&cr(
                "5e675605b53afa43d352f72d61c4974e200f4cbc48391608c08f62fc32e5f646",
            ))
            .unwrap();
        assert_eq!(s.master_secret.unwrap().len(), 48);
        assert_eq!(s.labels(), ["CLIENT_RANDOM"]);
        assert_eq!(k.stats().skipped, 1); // the RSA line
    }

    #[test]
    fn crlf_blank_garbage_and_case() {
        let ms = "AB".repeat(48);
        let text = format!(
            "\r\n# comment\r\n\r\nCLIENT_RANDOM {} {ms}\r\n   \r\ngarbage\r\nCLIENT_RANDOM zz {ms}\r\n\
             CLIENT_RANDOM {CR} abcd\r\nCLIENT_RANDOM {CR}\r\nSERVER_TRAFFIC_SECRET_0 {CR} {} extra\r\n\
             \u{00ff}\u{0000}\r\nCLIENT_TRAFFIC_SECRET_0\t{CR}\t{}",
            CR.to_uppercase(),
            "11".repeat(32),
            "22".repeat(48),
        );
        let k = KeyLog::parse(text.as_bytes());
        let s = k.get(&cr(CR)).unwrap();
        assert_eq!(s.master_secret.unwrap().as_bytes(), [0xab; 48]);
        assert_eq!(s.client_traffic_0.unwrap().as_bytes(), [0x22; 48]);
        assert!(s.server_traffic_0.is_none());
        let st = k.stats();
        assert_eq!(st.secrets, 2);
        assert_eq!(st.comments, 1);
        assert_eq!(st.malformed, 6);
        assert_eq!(st.lines, 9);
    }

    #[test]
    fn master_secret_must_be_48_and_traffic_32_or_48() {
        let k = KeyLog::parse(
            format!(
                "CLIENT_RANDOM {CR} {}\nCLIENT_HANDSHAKE_TRAFFIC_SECRET {CR} {}\n\
                 SERVER_HANDSHAKE_TRAFFIC_SECRET {CR} {}",
                "00".repeat(32),
                "00".repeat(40),
                "00".repeat(49)
            )
            .as_bytes(),
        );
        assert!(k.is_empty());
        assert_eq!(k.stats().malformed, 3);
    }

    #[test]
    fn limits_hold() {
        let mut text = String::new();
        for i in 0..20u32 {
            text.push_str(&format!("CLIENT_RANDOM {:064x} {}\n", i, "01".repeat(48)));
        }
        text.push_str(&format!("CLIENT_RANDOM {:064x} {}\n", 3, "02".repeat(48)));
        text.push_str(&"A".repeat(2000));
        let mut k = KeyLog::with_limits(KeyLogLimits {
            max_entries: 10,
            max_line_len: 300,
        });
        k.add_text(text.as_bytes());
        assert_eq!(k.len(), 10);
        let st = k.stats();
        assert_eq!(st.over_limit, 10);
        assert_eq!(st.too_long, 1);
        // an existing entry may still be updated at the limit
        let mut r = [0u8; 32];
        r[31] = 3;
        assert_eq!(
            k.get(&r).unwrap().master_secret.unwrap().as_bytes(),
            [2; 48]
        );
    }

    #[test]
    fn debug_never_shows_secrets() {
        let k = KeyLog::parse(format!("CLIENT_RANDOM {CR} {}", "ab".repeat(48)).as_bytes());
        let s = *k.get(&cr(CR)).unwrap();
        for d in [
            format!("{k:?}"),
            format!("{s:?}"),
            format!("{:?}", s.master_secret.unwrap()),
            format!("{k:#?}"),
        ] {
            assert!(!d.to_lowercase().contains("abab"), "{d}");
            assert!(!d.contains("171, 171"), "{d}");
            assert!(!d.contains(&CR[..16]), "{d}");
        }
        assert_eq!(
            format!("{:?}", s.master_secret.unwrap()),
            "Secret(<redacted 48 bytes>)"
        );
    }

    fn dsb(kind: u32, data: &[u8], be: bool) -> Vec<u8> {
        let w = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
        let mut b = Vec::new();
        b.extend_from_slice(&w(kind));
        b.extend_from_slice(&w(data.len() as u32));
        b.extend_from_slice(data);
        while b.len() % 4 != 0 {
            b.push(0);
        }
        b
    }

    #[test]
    fn decryption_secrets_block() {
        let text = format!("CLIENT_RANDOM {CR} {}\n", "cd".repeat(48));
        for be in [false, true] {
            let mut k = KeyLog::new();
            let body = dsb(DSB_SECRETS_TYPE_TLS, text.as_bytes(), be);
            assert_eq!(k.add_dsb(&body, be), Ok(DsbContent::TlsKeyLog(1)));
            assert!(k.get(&cr(CR)).is_some());
            // WireGuard secrets: ignored
            let wg = dsb(0x5747_4b4c, b"xxxx", be);
            assert_eq!(k.add_dsb(&wg, be), Ok(DsbContent::Other(0x5747_4b4c)));
            for n in 0..8 {
                assert_eq!(k.add_dsb(&body[..n], be), Err(DsbError::Truncated));
            }
            assert!(matches!(
                k.add_dsb(&body[..20], be),
                Err(DsbError::LengthBeyondBlock { .. })
            ));
        }
    }

    /// The block editcap wrote into samples/tls/wss-keys-injected.pcapng
    /// (`editcap --inject-secrets tls,wss-mqttjs-tls13.keys`): found by
    /// walking the pcapng blocks, it must give the same secrets as the key
    /// log file it was made from.
    #[test]
    fn editcap_injected_block() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../samples/tls/");
        let cap = std::fs::read(format!("{dir}wss-keys-injected.pcapng")).unwrap();
        let file = KeyLog::parse(&std::fs::read(format!("{dir}wss-mqttjs-tls13.keys")).unwrap());
        let mut k = KeyLog::new();
        let mut i = 0;
        let mut found = 0;
        // little-endian section (the capture was written on x86)
        assert_eq!(&cap[8..12], &0x1A2B_3C4Du32.to_le_bytes());
        while i + 12 <= cap.len() {
            let ty = u32::from_le_bytes(cap[i..i + 4].try_into().unwrap());
            let len = u32::from_le_bytes(cap[i + 4..i + 8].try_into().unwrap()) as usize;
            if ty == 10 {
                let r = k.add_dsb(&cap[i + 8..i + len - 4], false).unwrap();
                assert!(matches!(r, DsbContent::TlsKeyLog(n) if n > 0));
                found += 1;
            }
            i += len;
        }
        assert_eq!(found, 1);
        assert_eq!(k.len(), file.len());
        assert!(!k.is_empty());
        for (r, s) in &file.sessions {
            assert_eq!(k.get(r), Some(s));
        }
    }
}
