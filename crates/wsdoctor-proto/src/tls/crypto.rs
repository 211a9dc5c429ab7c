//! TLS record decryption from key log secrets: one [`RecordDecryptor`] per
//! direction (and per key epoch), fed the records of that direction in order.
//!
//! - TLS 1.2 (RFC 5246): the key block is expanded from the master secret with
//!   the PRF (HMAC-SHA256, or HMAC-SHA384 for the `*_SHA384` suites); AES-GCM
//!   (RFC 5288, explicit 8-byte nonce), ChaCha20-Poly1305 (RFC 7905) and
//!   AES-CBC with HMAC-SHA1/SHA256, MAC-then-encrypt or encrypt-then-MAC
//!   (RFC 7366), explicit per-record IVs (TLS 1.1+), padding and MAC checked.
//! - TLS 1.3 (RFC 8446): key and IV from a traffic secret with
//!   HKDF-Expand-Label, per-record nonce, inner content type after the zero
//!   padding, KeyUpdate ("traffic upd"). Handshake records use the handshake
//!   traffic secrets, then the caller switches each direction to the
//!   application secrets after that direction's Finished ([`Epoch`]).
//!
//! A wrong key, a bad tag, a bad MAC or bad padding is an error: nothing is
//! appended to the output. All cryptography is RustCrypto's (`aes-gcm`,
//! `chacha20poly1305`, `aes` + `cbc`, `hmac`, `hkdf`, `sha1`, `sha2`).
//!
//! # Use
//!
//! Per session: look the ClientHello.random up in the [`KeyLog`](super::keylog::KeyLog),
//! build one decryptor per direction after the ServerHello, feed each the
//! records of its direction (TLS 1.2: from that side's ChangeCipherSpec on;
//! TLS 1.3: every `application_data` record after the ServerHello, skipping
//! the compatibility ChangeCipherSpec). In TLS 1.3, replace a direction's
//! decryptor by its [`Epoch::Application`] one after the record carrying that
//! direction's Finished, and call [`RecordDecryptor::key_update`] after a
//! record carrying a KeyUpdate. Here the client's first application data
//! record of RFC 8448 §3:
//!
//! ```
//! use wsdoctor_proto::tls::crypto::{Direction, Epoch, RecordDecryptor, SessionParams, TLS13};
//! use wsdoctor_proto::tls::keylog::KeyLog;
//!
//! let cr = [0x11u8; 32];
//! let log = format!(
//!     "CLIENT_TRAFFIC_SECRET_0 {} 9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5\n",
//!     "11".repeat(32)
//! );
//! let keys = KeyLog::parse(log.as_bytes());
//! let params = SessionParams {
//!     version: TLS13,
//!     cipher_suite: 0x1301,
//!     client_random: cr,
//!     server_random: [0; 32], // from the ServerHello (TLS 1.2 key expansion only)
//!     encrypt_then_mac: false,
//! };
//! let secrets = keys.get(&cr).expect("the key log has this session");
//! let mut client = RecordDecryptor::from_keylog(&params, secrets, Direction::ClientToServer, Epoch::Application)?;
//! let fragment = [
//!     0xa2, 0x3f, 0x70, 0x54, 0xb6, 0x2c, 0x94, 0xd0, 0xaf, 0xfa, 0xfe, 0x82, 0x28, 0xba, 0x55, 0xcb,
//!     0xef, 0xac, 0xea, 0x42, 0xf9, 0x14, 0xaa, 0x66, 0xbc, 0xab, 0x3f, 0x2b, 0x98, 0x19, 0xa8, 0xa5,
//!     0xb4, 0x6b, 0x39, 0x5b, 0xd5, 0x4a, 0x9a, 0x20, 0x44, 0x1e, 0x2b, 0x62, 0x97, 0x4e, 0x1f, 0x5a,
//!     0x62, 0x92, 0xa2, 0x97, 0x70, 0x14, 0xbd, 0x1e, 0x3d, 0xea, 0xe6, 0x3a, 0xee, 0xbb, 0x21, 0x69,
//!     0x49, 0x15, 0xe4,
//! ];
//! let mut out = Vec::new();
//! let inner_type = client.decrypt(0x17, 0x0303, &fragment, &mut out)?;
//! assert_eq!(inner_type, 0x17);
//! assert_eq!(out, (0u8..50).collect::<Vec<u8>>());
//! // the same record again has the wrong sequence number: an error, nothing appended
//! assert!(client.decrypt(0x17, 0x0303, &fragment, &mut out).unwrap_err().is_auth_failure());
//! assert_eq!(out.len(), 50);
//! # Ok::<(), wsdoctor_proto::tls::crypto::DecryptError>(())
//! ```
//!
//! Memory: a decryptor holds its keys (a few hundred bytes, on the heap for the
//! AES-GCM key schedules, allocated once). Decrypting appends to the caller's
//! `out`, in place; nothing else is allocated per record. Records longer than
//! [`MAX_TLS12_CIPHERTEXT`] / [`MAX_TLS13_CIPHERTEXT`] are refused before any
//! work is done.
// The panic-freedom lints are denied for the whole `tls` module (tls/mod.rs).

use super::keylog::{Secret, SessionSecrets};
use aes::{Aes128, Aes256};
use aes_gcm::aead::{AeadInOut, KeyInit, Nonce, Tag};
use aes_gcm::{Aes128Gcm, Aes256Gcm};
use cbc::cipher::consts::U16;
use cbc::cipher::{Array, BlockCipherDecrypt, BlockModeDecrypt, BlockSizeUser, InnerIvInit};
use chacha20poly1305::ChaCha20Poly1305;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Sha256, Sha384};
use std::fmt;

/// Largest TLSPlaintext / TLSInnerPlaintext content: 2^14 bytes.
pub const MAX_PLAINTEXT: usize = 1 << 14;
/// Largest TLS 1.2 TLSCiphertext.length: 2^14 + 2048 (RFC 5246 §6.2.3).
pub const MAX_TLS12_CIPHERTEXT: usize = (1 << 14) + 2048;
/// Largest TLS 1.3 TLSCiphertext.length: 2^14 + 256 (RFC 8446 §5.2).
pub const MAX_TLS13_CIPHERTEXT: usize = (1 << 14) + 256;

/// TLS 1.2 protocol version.
pub const TLS12: u16 = 0x0303;
/// TLS 1.3 protocol version (the negotiated one, from supported_versions).
pub const TLS13: u16 = 0x0304;

const AEAD_TAG: usize = 16;
const AES_BLOCK: usize = 16;
const GCM_EXPLICIT_NONCE: usize = 8;

/// Which side wrote the records a decryptor reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Records sent by the client (client write keys).
    ClientToServer,
    /// Records sent by the server (server write keys).
    ServerToClient,
}

/// TLS 1.3 key epoch of a direction. Each direction starts with
/// [`Epoch::Handshake`] after the ServerHello and moves to
/// [`Epoch::Application`] after the record carrying its own Finished
/// message; [`RecordDecryptor::key_update`] then moves it on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Epoch {
    /// `*_HANDSHAKE_TRAFFIC_SECRET`.
    Handshake,
    /// `*_TRAFFIC_SECRET_0`.
    Application,
}

/// Bulk encryption of a suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bulk {
    /// AES-128-GCM.
    Aes128Gcm,
    /// AES-256-GCM.
    Aes256Gcm,
    /// ChaCha20-Poly1305.
    ChaCha20Poly1305,
    /// AES-128-CBC (TLS 1.2 only).
    Aes128Cbc,
    /// AES-256-CBC (TLS 1.2 only).
    Aes256Cbc,
}

/// Record MAC of a CBC suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MacAlg {
    /// AEAD suite: no separate MAC.
    Aead,
    /// HMAC-SHA1 (20 bytes).
    HmacSha1,
    /// HMAC-SHA256 (32 bytes).
    HmacSha256,
}

/// Hash of the TLS 1.2 PRF or the TLS 1.3 HKDF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlg {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
}

impl HashAlg {
    /// Output length in bytes.
    pub fn len(self) -> usize {
        match self {
            HashAlg::Sha256 => 32,
            HashAlg::Sha384 => 48,
        }
    }

    /// Never true (kept for clippy's `len` rule).
    pub fn is_empty(self) -> bool {
        false
    }
}

/// What wsdoctor knows of a cipher suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SuiteInfo {
    /// IANA number.
    pub id: u16,
    /// IANA name.
    pub name: &'static str,
    /// A TLS 1.3 suite (`TLS_AES_*`, `TLS_CHACHA20_*`).
    pub tls13: bool,
    /// Bulk encryption.
    pub bulk: Bulk,
    /// Record MAC (CBC suites).
    pub mac: MacAlg,
    /// PRF / HKDF hash.
    pub hash: HashAlg,
}

const fn s(id: u16, name: &'static str, bulk: Bulk, mac: MacAlg, hash: HashAlg) -> SuiteInfo {
    SuiteInfo {
        id,
        name,
        tls13: false,
        bulk,
        mac,
        hash,
    }
}

/// The suites that can be decrypted.
pub const SUITES: &[SuiteInfo] = {
    use Bulk::*;
    use HashAlg::*;
    use MacAlg::*;
    &[
        // TLS 1.3 (RFC 8446 B.4)
        SuiteInfo {
            tls13: true,
            ..s(0x1301, "TLS_AES_128_GCM_SHA256", Aes128Gcm, Aead, Sha256)
        },
        SuiteInfo {
            tls13: true,
            ..s(0x1302, "TLS_AES_256_GCM_SHA384", Aes256Gcm, Aead, Sha384)
        },
        SuiteInfo {
            tls13: true,
            ..s(
                0x1303,
                "TLS_CHACHA20_POLY1305_SHA256",
                ChaCha20Poly1305,
                Aead,
                Sha256,
            )
        },
        // TLS 1.2 AES-GCM (RFC 5288, RFC 5289)
        s(
            0xc02f,
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            Aes128Gcm,
            Aead,
            Sha256,
        ),
        s(
            0xc030,
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            Aes256Gcm,
            Aead,
            Sha384,
        ),
        s(
            0xc02b,
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            Aes128Gcm,
            Aead,
            Sha256,
        ),
        s(
            0xc02c,
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
            Aes256Gcm,
            Aead,
            Sha384,
        ),
        s(
            0x009c,
            "TLS_RSA_WITH_AES_128_GCM_SHA256",
            Aes128Gcm,
            Aead,
            Sha256,
        ),
        s(
            0x009d,
            "TLS_RSA_WITH_AES_256_GCM_SHA384",
            Aes256Gcm,
            Aead,
            Sha384,
        ),
        s(
            0x009e,
            "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
            Aes128Gcm,
            Aead,
            Sha256,
        ),
        s(
            0x009f,
            "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
            Aes256Gcm,
            Aead,
            Sha384,
        ),
        // TLS 1.2 ChaCha20-Poly1305 (RFC 7905)
        s(
            0xcca8,
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
            ChaCha20Poly1305,
            Aead,
            Sha256,
        ),
        s(
            0xcca9,
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
            ChaCha20Poly1305,
            Aead,
            Sha256,
        ),
        s(
            0xccaa,
            "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
            ChaCha20Poly1305,
            Aead,
            Sha256,
        ),
        // TLS 1.2 AES-CBC with HMAC-SHA1 (RFC 5246, RFC 4492)
        s(
            0x002f,
            "TLS_RSA_WITH_AES_128_CBC_SHA",
            Aes128Cbc,
            HmacSha1,
            Sha256,
        ),
        s(
            0x0035,
            "TLS_RSA_WITH_AES_256_CBC_SHA",
            Aes256Cbc,
            HmacSha1,
            Sha256,
        ),
        s(
            0x0033,
            "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
            Aes128Cbc,
            HmacSha1,
            Sha256,
        ),
        s(
            0x0039,
            "TLS_DHE_RSA_WITH_AES_256_CBC_SHA",
            Aes256Cbc,
            HmacSha1,
            Sha256,
        ),
        s(
            0xc013,
            "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
            Aes128Cbc,
            HmacSha1,
            Sha256,
        ),
        s(
            0xc014,
            "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
            Aes256Cbc,
            HmacSha1,
            Sha256,
        ),
        s(
            0xc009,
            "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
            Aes128Cbc,
            HmacSha1,
            Sha256,
        ),
        s(
            0xc00a,
            "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
            Aes256Cbc,
            HmacSha1,
            Sha256,
        ),
        // TLS 1.2 AES-CBC with HMAC-SHA256 (RFC 5246, RFC 5289)
        s(
            0x003c,
            "TLS_RSA_WITH_AES_128_CBC_SHA256",
            Aes128Cbc,
            HmacSha256,
            Sha256,
        ),
        s(
            0x003d,
            "TLS_RSA_WITH_AES_256_CBC_SHA256",
            Aes256Cbc,
            HmacSha256,
            Sha256,
        ),
        s(
            0x0067,
            "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256",
            Aes128Cbc,
            HmacSha256,
            Sha256,
        ),
        s(
            0x006b,
            "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256",
            Aes256Cbc,
            HmacSha256,
            Sha256,
        ),
        s(
            0xc027,
            "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
            Aes128Cbc,
            HmacSha256,
            Sha256,
        ),
        s(
            0xc023,
            "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
            Aes128Cbc,
            HmacSha256,
            Sha256,
        ),
    ]
};

/// The suite with this number, when it can be decrypted.
pub fn suite_info(id: u16) -> Option<SuiteInfo> {
    SUITES.iter().copied().find(|s| s.id == id)
}

impl Bulk {
    fn key_len(self) -> usize {
        match self {
            Bulk::Aes128Gcm | Bulk::Aes128Cbc => 16,
            Bulk::Aes256Gcm | Bulk::Aes256Cbc | Bulk::ChaCha20Poly1305 => 32,
        }
    }
    /// TLS 1.2 fixed (implicit) IV from the key block.
    fn tls12_fixed_iv_len(self) -> usize {
        match self {
            Bulk::Aes128Gcm | Bulk::Aes256Gcm => 4,
            Bulk::ChaCha20Poly1305 => 12,
            Bulk::Aes128Cbc | Bulk::Aes256Cbc => 0,
        }
    }
}

impl MacAlg {
    fn len(self) -> usize {
        match self {
            MacAlg::Aead => 0,
            MacAlg::HmacSha1 => 20,
            MacAlg::HmacSha256 => 32,
        }
    }
}

/// Why a decryptor could not be made or a record not decrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DecryptError {
    /// Not TLS 1.2 or 1.3 (TLS 1.0/1.1 and SSL are not decrypted).
    UnsupportedVersion(u16),
    /// A suite this module cannot decrypt (or one of the other version).
    UnsupportedSuite(u16),
    /// The key log has no secret of this label for the session.
    MissingSecret(&'static str),
    /// A secret of the wrong length for the suite.
    BadSecretLength {
        /// Bytes expected.
        expected: usize,
        /// Bytes given.
        got: usize,
    },
    /// Record shorter than its nonce, tag, MAC or one block.
    RecordTooShort {
        /// Fragment length.
        len: usize,
        /// Smallest possible for the suite.
        min: usize,
    },
    /// Record longer than the protocol allows (nothing was decrypted).
    RecordTooLong {
        /// Fragment length.
        len: usize,
        /// [`MAX_TLS12_CIPHERTEXT`] or [`MAX_TLS13_CIPHERTEXT`].
        max: usize,
    },
    /// CBC ciphertext that is not a whole number of blocks.
    BadBlockLength(usize),
    /// AEAD authentication tag check failed (wrong key or altered record).
    BadTag,
    /// HMAC check failed (wrong key or altered record).
    BadMac,
    /// CBC padding malformed (wrong key or altered record).
    BadPadding,
    /// Authentic plaintext longer than 2^14 bytes (a record_overflow).
    PlaintextTooLong {
        /// Plaintext length.
        len: usize,
        /// [`MAX_PLAINTEXT`].
        max: usize,
    },
    /// TLS 1.3 inner plaintext made only of zeros (no content type).
    NoContentType,
    /// 2^64 records in one key epoch.
    SequenceExhausted,
    /// KeyUpdate asked of a TLS 1.2 decryptor.
    NotTls13,
}

impl DecryptError {
    /// A tag, MAC or padding failure: the key does not fit the record (or the
    /// record was altered). The caller reports it (wrong key), it never passes
    /// anything on.
    pub fn is_auth_failure(&self) -> bool {
        matches!(
            self,
            DecryptError::BadTag | DecryptError::BadMac | DecryptError::BadPadding
        )
    }
}

impl fmt::Display for DecryptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecryptError::UnsupportedVersion(v) => {
                write!(f, "TLS version 0x{v:04x} is not decrypted")
            }
            DecryptError::UnsupportedSuite(s) => {
                write!(f, "cipher suite 0x{s:04x} is not decrypted")
            }
            DecryptError::MissingSecret(l) => write!(f, "the key log has no {l} for this session"),
            DecryptError::BadSecretLength { expected, got } => {
                write!(f, "secret of {got} bytes, {expected} expected")
            }
            DecryptError::RecordTooShort { len, min } => {
                write!(f, "encrypted record of {len} bytes, at least {min} needed")
            }
            DecryptError::RecordTooLong { len, max } => {
                write!(f, "encrypted record of {len} bytes, more than {max}")
            }
            DecryptError::BadBlockLength(n) => {
                write!(f, "CBC ciphertext of {n} bytes is not whole blocks")
            }
            DecryptError::BadTag => write!(f, "authentication tag check failed"),
            DecryptError::BadMac => write!(f, "record MAC check failed"),
            DecryptError::BadPadding => write!(f, "CBC padding check failed"),
            DecryptError::PlaintextTooLong { len, max } => {
                write!(f, "decrypted record of {len} bytes, more than {max}")
            }
            DecryptError::NoContentType => {
                write!(f, "TLS 1.3 inner plaintext without a content type")
            }
            DecryptError::SequenceExhausted => write!(f, "record sequence number exhausted"),
            DecryptError::NotTls13 => write!(f, "KeyUpdate is TLS 1.3 only"),
        }
    }
}

impl std::error::Error for DecryptError {}

/// Handshake facts a decryptor needs, from the ClientHello and ServerHello.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionParams {
    /// Negotiated version: [`TLS12`] or [`TLS13`] (from supported_versions).
    pub version: u16,
    /// Cipher suite chosen by the ServerHello.
    pub cipher_suite: u16,
    /// ClientHello.random (the key log lookup key).
    pub client_random: [u8; 32],
    /// ServerHello.random (TLS 1.2 key expansion).
    pub server_random: [u8; 32],
    /// encrypt_then_mac (RFC 7366) in both hellos (TLS 1.2 CBC suites only;
    /// ignored otherwise).
    pub encrypt_then_mac: bool,
}

enum AeadKey {
    Aes128(Box<Aes128Gcm>),
    Aes256(Box<Aes256Gcm>),
    ChaCha(Box<ChaCha20Poly1305>),
}

impl AeadKey {
    fn new(bulk: Bulk, suite: u16, key: &[u8]) -> Result<AeadKey, DecryptError> {
        let bad = |_| DecryptError::BadSecretLength {
            expected: bulk.key_len(),
            got: key.len(),
        };
        Ok(match bulk {
            Bulk::Aes128Gcm => {
                AeadKey::Aes128(Box::new(Aes128Gcm::new_from_slice(key).map_err(bad)?))
            }
            Bulk::Aes256Gcm => {
                AeadKey::Aes256(Box::new(Aes256Gcm::new_from_slice(key).map_err(bad)?))
            }
            Bulk::ChaCha20Poly1305 => AeadKey::ChaCha(Box::new(
                ChaCha20Poly1305::new_from_slice(key).map_err(bad)?,
            )),
            Bulk::Aes128Cbc | Bulk::Aes256Cbc => return Err(DecryptError::UnsupportedSuite(suite)),
        })
    }

    /// Decrypt `buf` in place; false when the tag does not verify.
    fn open(&self, nonce: &[u8; 12], aad: &[u8], buf: &mut [u8], tag: &[u8]) -> bool {
        fn go<A: AeadInOut>(a: &A, nonce: &[u8], aad: &[u8], buf: &mut [u8], tag: &[u8]) -> bool {
            let (Ok(nonce), Ok(tag)) = (Nonce::<A>::try_from(nonce), Tag::<A>::try_from(tag))
            else {
                return false;
            };
            a.decrypt_inout_detached(&nonce, aad, buf.into(), &tag)
                .is_ok()
        }
        match self {
            AeadKey::Aes128(a) => go(a.as_ref(), nonce, aad, buf, tag),
            AeadKey::Aes256(a) => go(a.as_ref(), nonce, aad, buf, tag),
            AeadKey::ChaCha(a) => go(a.as_ref(), nonce, aad, buf, tag),
        }
    }
}

#[derive(Clone)]
enum CbcKey {
    Aes128(Aes128),
    Aes256(Aes256),
}

impl CbcKey {
    /// CBC-decrypt whole blocks of `buf` in place with `iv`.
    fn decrypt(&self, iv: &[u8], buf: &mut [u8]) -> bool {
        fn go<C>(c: &C, iv: &[u8], buf: &mut [u8]) -> bool
        where
            C: Clone + BlockCipherDecrypt + BlockSizeUser<BlockSize = U16>,
        {
            let Ok(mut d) = cbc::Decryptor::<C>::inner_iv_slice_init(c.clone(), iv) else {
                return false;
            };
            let (blocks, tail) = Array::<u8, U16>::slice_as_chunks_mut(buf);
            if !tail.is_empty() {
                return false;
            }
            d.decrypt_blocks(blocks);
            true
        }
        match self {
            CbcKey::Aes128(c) => go(c, iv, buf),
            CbcKey::Aes256(c) => go(c, iv, buf),
        }
    }
}

#[derive(Clone)]
enum MacKey {
    Sha1(Hmac<Sha1>),
    Sha256(Hmac<Sha256>),
}

impl MacKey {
    fn new(alg: MacAlg, key: &[u8]) -> Option<MacKey> {
        match alg {
            MacAlg::HmacSha1 => Some(MacKey::Sha1(
                <Hmac<Sha1> as KeyInit>::new_from_slice(key).ok()?,
            )),
            MacAlg::HmacSha256 => Some(MacKey::Sha256(
                <Hmac<Sha256> as KeyInit>::new_from_slice(key).ok()?,
            )),
            MacAlg::Aead => None,
        }
    }

    fn len(&self) -> usize {
        match self {
            MacKey::Sha1(_) => 20,
            MacKey::Sha256(_) => 32,
        }
    }

    /// HMAC over the concatenation of `parts` equals `expected`.
    fn verify(&self, parts: &[&[u8]], expected: &[u8]) -> bool {
        fn go<M: Mac + Clone>(m: &M, parts: &[&[u8]], expected: &[u8]) -> bool {
            let mut m = m.clone();
            for p in parts {
                m.update(p);
            }
            m.verify_slice(expected).is_ok()
        }
        match self {
            MacKey::Sha1(m) => go(m, parts, expected),
            MacKey::Sha256(m) => go(m, parts, expected),
        }
    }
}

enum State {
    /// TLS 1.2 AEAD: GCM (fixed 4-byte salt + explicit nonce) or ChaCha20
    /// (12-byte IV xor sequence number).
    Tls12Aead {
        key: AeadKey,
        iv: [u8; 12],
        gcm: bool,
    },
    /// TLS 1.2 CBC + HMAC.
    Tls12Cbc {
        key: Box<CbcKey>,
        mac: Box<MacKey>,
        etm: bool,
    },
    /// TLS 1.3 AEAD, keeping the traffic secret for KeyUpdate.
    Tls13 {
        key: AeadKey,
        iv: [u8; 12],
        secret: Secret,
        info: SuiteInfo,
    },
}

/// Decrypts the records of one direction of one TLS session, in order,
/// keeping the sequence number. See the module doc.
pub struct RecordDecryptor {
    state: State,
    seq: u64,
    suite: SuiteInfo,
    version: u16,
    updates: u32,
}

impl fmt::Debug for RecordDecryptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.state {
            State::Tls12Aead { .. } => "tls1.2-aead",
            State::Tls12Cbc { etm: true, .. } => "tls1.2-cbc-etm",
            State::Tls12Cbc { etm: false, .. } => "tls1.2-cbc",
            State::Tls13 { .. } => "tls1.3",
        };
        f.debug_struct("RecordDecryptor")
            .field("suite", &self.suite.name)
            .field("kind", &kind)
            .field("next_seq", &self.seq)
            .field("key_updates", &self.updates)
            .finish_non_exhaustive()
    }
}

impl RecordDecryptor {
    /// A decryptor for one direction, from the handshake facts and the key log
    /// secrets of the session. For TLS 1.3, `epoch` chooses the handshake or
    /// the first application traffic secret; it is ignored for TLS 1.2.
    pub fn from_keylog(
        params: &SessionParams,
        secrets: &SessionSecrets,
        dir: Direction,
        epoch: Epoch,
    ) -> Result<RecordDecryptor, DecryptError> {
        match params.version {
            TLS12 => {
                let ms = secrets
                    .master_secret
                    .ok_or(DecryptError::MissingSecret("CLIENT_RANDOM"))?;
                RecordDecryptor::tls12(
                    params.cipher_suite,
                    &ms,
                    &params.client_random,
                    &params.server_random,
                    params.encrypt_then_mac,
                    dir,
                )
            }
            TLS13 => {
                let (secret, label) = match (dir, epoch) {
                    (Direction::ClientToServer, Epoch::Handshake) => {
                        (secrets.client_handshake, "CLIENT_HANDSHAKE_TRAFFIC_SECRET")
                    }
                    (Direction::ServerToClient, Epoch::Handshake) => {
                        (secrets.server_handshake, "SERVER_HANDSHAKE_TRAFFIC_SECRET")
                    }
                    (Direction::ClientToServer, Epoch::Application) => {
                        (secrets.client_traffic_0, "CLIENT_TRAFFIC_SECRET_0")
                    }
                    (Direction::ServerToClient, Epoch::Application) => {
                        (secrets.server_traffic_0, "SERVER_TRAFFIC_SECRET_0")
                    }
                };
                let secret = secret.ok_or(DecryptError::MissingSecret(label))?;
                RecordDecryptor::tls13(params.cipher_suite, &secret)
            }
            v => Err(DecryptError::UnsupportedVersion(v)),
        }
    }

    /// A TLS 1.2 decryptor: key block from the master secret and the two
    /// randoms; `encrypt_then_mac` matters for CBC suites only.
    pub fn tls12(
        suite: u16,
        master_secret: &Secret,
        client_random: &[u8; 32],
        server_random: &[u8; 32],
        encrypt_then_mac: bool,
        dir: Direction,
    ) -> Result<RecordDecryptor, DecryptError> {
        let info = suite_info(suite)
            .filter(|i| !i.tls13)
            .ok_or(DecryptError::UnsupportedSuite(suite))?;
        if master_secret.len() != 48 {
            return Err(DecryptError::BadSecretLength {
                expected: 48,
                got: master_secret.len(),
            });
        }
        let mut block = [0u8; KEY_BLOCK_MAX];
        let kb = key_block(
            info,
            master_secret.as_bytes(),
            client_random,
            server_random,
            &mut block,
        )?;
        let w = kb.for_dir(dir);
        let state = match info.bulk {
            Bulk::Aes128Cbc | Bulk::Aes256Cbc => {
                let key = match info.bulk {
                    Bulk::Aes128Cbc => CbcKey::Aes128(
                        <Aes128 as KeyInit>::new_from_slice(w.key)
                            .map_err(|_| bad_len(16, w.key))?,
                    ),
                    _ => CbcKey::Aes256(
                        <Aes256 as KeyInit>::new_from_slice(w.key)
                            .map_err(|_| bad_len(32, w.key))?,
                    ),
                };
                let mac =
                    MacKey::new(info.mac, w.mac).ok_or(DecryptError::UnsupportedSuite(suite))?;
                State::Tls12Cbc {
                    key: Box::new(key),
                    mac: Box::new(mac),
                    etm: encrypt_then_mac,
                }
            }
            bulk => {
                let mut iv = [0u8; 12];
                iv.get_mut(..w.iv.len())
                    .ok_or(DecryptError::UnsupportedSuite(suite))?
                    .copy_from_slice(w.iv);
                State::Tls12Aead {
                    key: AeadKey::new(bulk, suite, w.key)?,
                    iv,
                    gcm: bulk != Bulk::ChaCha20Poly1305,
                }
            }
        };
        Ok(RecordDecryptor {
            state,
            seq: 0,
            suite: info,
            version: TLS12,
            updates: 0,
        })
    }

    /// A TLS 1.3 decryptor from a traffic secret (handshake or application).
    pub fn tls13(suite: u16, traffic_secret: &Secret) -> Result<RecordDecryptor, DecryptError> {
        let info = suite_info(suite)
            .filter(|i| i.tls13)
            .ok_or(DecryptError::UnsupportedSuite(suite))?;
        let (key, iv) = tls13_keys(info, traffic_secret)?;
        Ok(RecordDecryptor {
            state: State::Tls13 {
                key,
                iv,
                secret: *traffic_secret,
                info,
            },
            seq: 0,
            suite: info,
            version: TLS13,
            updates: 0,
        })
    }

    /// TLS 1.3 KeyUpdate: after the record carrying a KeyUpdate message in
    /// this direction, move to the next traffic secret
    /// (`HKDF-Expand-Label(secret, "traffic upd", "", Hash.length)`) and
    /// restart the sequence number.
    pub fn key_update(&mut self) -> Result<(), DecryptError> {
        let State::Tls13 {
            key,
            iv,
            secret,
            info,
        } = &mut self.state
        else {
            return Err(DecryptError::NotTls13);
        };
        let mut next = [0u8; 48];
        let n = info.hash.len();
        let out = next.get_mut(..n).ok_or(DecryptError::NotTls13)?;
        expand_label(info.hash, secret.as_bytes(), b"traffic upd", out)?;
        let new_secret = Secret::new(out).ok_or(DecryptError::BadSecretLength {
            expected: n,
            got: out.len(),
        })?;
        let (k, v) = tls13_keys(*info, &new_secret)?;
        *key = k;
        *iv = v;
        *secret = new_secret;
        self.seq = 0;
        self.updates = self.updates.saturating_add(1);
        Ok(())
    }

    /// Decrypt one record of this direction. `outer_type` and
    /// `record_version` are the record header's content type and version,
    /// `fragment` its payload (TLSCiphertext.fragment / encrypted_record).
    ///
    /// On success the plaintext content is appended to `out` and its content
    /// type returned (for TLS 1.3 the inner type, with the zero padding
    /// removed; for TLS 1.2 `outer_type`). On error `out` is left as it was.
    /// Every call uses up one sequence number, success or not, as the sender
    /// did for the record.
    pub fn decrypt(
        &mut self,
        outer_type: u8,
        record_version: u16,
        fragment: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<u8, DecryptError> {
        let seq = self.seq;
        self.seq = seq.checked_add(1).ok_or(DecryptError::SequenceExhausted)?;
        let start = out.len();
        let r = self.decrypt_inner(seq, outer_type, record_version, fragment, out, start);
        match r {
            Ok(_) if out.len().saturating_sub(start) > MAX_PLAINTEXT => {
                let len = out.len().saturating_sub(start);
                out.truncate(start);
                Err(DecryptError::PlaintextTooLong {
                    len,
                    max: MAX_PLAINTEXT,
                })
            }
            Ok(t) => Ok(t),
            Err(e) => {
                out.truncate(start);
                Err(e)
            }
        }
    }

    fn decrypt_inner(
        &self,
        seq: u64,
        outer_type: u8,
        version: u16,
        fragment: &[u8],
        out: &mut Vec<u8>,
        start: usize,
    ) -> Result<u8, DecryptError> {
        let len = fragment.len();
        let max = if self.version == TLS13 {
            MAX_TLS13_CIPHERTEXT
        } else {
            MAX_TLS12_CIPHERTEXT
        };
        if len > max {
            return Err(DecryptError::RecordTooLong { len, max });
        }
        let seq_b = seq.to_be_bytes();
        let [v0, v1] = version.to_be_bytes();
        match &self.state {
            State::Tls12Aead { key, iv, gcm } => {
                let explicit = if *gcm { GCM_EXPLICIT_NONCE } else { 0 };
                let min = explicit.saturating_add(AEAD_TAG);
                let body = fragment
                    .get(explicit..)
                    .ok_or(DecryptError::RecordTooShort { len, min })?;
                let ct_len = body
                    .len()
                    .checked_sub(AEAD_TAG)
                    .ok_or(DecryptError::RecordTooShort { len, min })?;
                let (ct, tag) = body.split_at(ct_len);
                let mut nonce = *iv;
                if *gcm {
                    let (_, tail) = nonce.split_at_mut(4);
                    tail.copy_from_slice(fragment.get(..GCM_EXPLICIT_NONCE).unwrap_or(&[0; 8]));
                } else {
                    xor_seq(&mut nonce, seq);
                }
                let [l0, l1] = u16::try_from(ct_len)
                    .map_err(|_| DecryptError::RecordTooLong { len, max })?
                    .to_be_bytes();
                let aad = aad12(&seq_b, outer_type, v0, v1, l0, l1);
                out.extend_from_slice(ct);
                let buf = out.get_mut(start..).unwrap_or(&mut []);
                if !key.open(&nonce, &aad, buf, tag) {
                    return Err(DecryptError::BadTag);
                }
                Ok(outer_type)
            }
            State::Tls12Cbc { key, mac, etm } => {
                let mac_len = mac.len();
                if *etm {
                    // IV || C || MAC, MAC over seq, header, IV || C (RFC 7366)
                    let min = AES_BLOCK.saturating_mul(2).saturating_add(mac_len);
                    let ivc_len = len
                        .checked_sub(mac_len)
                        .filter(|&n| n >= AES_BLOCK.saturating_mul(2))
                        .ok_or(DecryptError::RecordTooShort { len, min })?;
                    let (ivc, tag) = fragment.split_at(ivc_len);
                    let [l0, l1] = u16::try_from(ivc_len)
                        .map_err(|_| DecryptError::RecordTooLong { len, max })?
                        .to_be_bytes();
                    let hdr = [outer_type, v0, v1, l0, l1];
                    if !mac.verify(&[&seq_b, &hdr, ivc], tag) {
                        return Err(DecryptError::BadMac);
                    }
                    let (iv, c) = ivc.split_at(AES_BLOCK);
                    if c.len() % AES_BLOCK != 0 {
                        return Err(DecryptError::BadBlockLength(c.len()));
                    }
                    out.extend_from_slice(c);
                    let buf = out.get_mut(start..).unwrap_or(&mut []);
                    if !key.decrypt(iv, buf) {
                        return Err(DecryptError::BadBlockLength(c.len()));
                    }
                    let plain = unpad(buf, 0).ok_or(DecryptError::BadPadding)?;
                    out.truncate(start.saturating_add(plain));
                    Ok(outer_type)
                } else {
                    // IV || E(plaintext || MAC || padding), MAC over seq, header, plaintext
                    let min_c = mac_len
                        .saturating_add(1)
                        .div_ceil(AES_BLOCK)
                        .saturating_mul(AES_BLOCK);
                    let min = AES_BLOCK.saturating_add(min_c);
                    if len < min {
                        return Err(DecryptError::RecordTooShort { len, min });
                    }
                    let (iv, c) = fragment.split_at(AES_BLOCK);
                    if c.len() % AES_BLOCK != 0 {
                        return Err(DecryptError::BadBlockLength(c.len()));
                    }
                    out.extend_from_slice(c);
                    let buf = out.get_mut(start..).unwrap_or(&mut []);
                    if !key.decrypt(iv, buf) {
                        return Err(DecryptError::BadBlockLength(c.len()));
                    }
                    let unpadded = unpad(buf, mac_len).ok_or(DecryptError::BadPadding)?;
                    let plain_len = unpadded.saturating_sub(mac_len);
                    let (plain, rest) = buf.split_at(plain_len);
                    let tag = rest.get(..mac_len).ok_or(DecryptError::BadMac)?;
                    let [l0, l1] = u16::try_from(plain_len)
                        .map_err(|_| DecryptError::RecordTooLong { len, max })?
                        .to_be_bytes();
                    let hdr = [outer_type, v0, v1, l0, l1];
                    if !mac.verify(&[&seq_b, &hdr, plain], tag) {
                        return Err(DecryptError::BadMac);
                    }
                    out.truncate(start.saturating_add(plain_len));
                    Ok(outer_type)
                }
            }
            State::Tls13 { key, iv, .. } => {
                let min = AEAD_TAG.saturating_add(1);
                let ct_len = len
                    .checked_sub(AEAD_TAG)
                    .filter(|&n| n >= 1)
                    .ok_or(DecryptError::RecordTooShort { len, min })?;
                let (ct, tag) = fragment.split_at(ct_len);
                let mut nonce = *iv;
                xor_seq(&mut nonce, seq);
                let [l0, l1] = u16::try_from(len)
                    .map_err(|_| DecryptError::RecordTooLong { len, max })?
                    .to_be_bytes();
                let aad = [outer_type, v0, v1, l0, l1];
                out.extend_from_slice(ct);
                let buf = out.get_mut(start..).unwrap_or(&mut []);
                if !key.open(&nonce, &aad, buf, tag) {
                    return Err(DecryptError::BadTag);
                }
                // TLSInnerPlaintext: content || type || zeros
                let pos = buf
                    .iter()
                    .rposition(|&b| b != 0)
                    .ok_or(DecryptError::NoContentType)?;
                let ty = buf.get(pos).copied().ok_or(DecryptError::NoContentType)?;
                out.truncate(start.saturating_add(pos));
                Ok(ty)
            }
        }
    }

    /// Sequence number of the next record.
    pub fn next_seq(&self) -> u64 {
        self.seq
    }

    /// The cipher suite.
    pub fn suite(&self) -> SuiteInfo {
        self.suite
    }

    /// [`TLS12`] or [`TLS13`].
    pub fn version(&self) -> u16 {
        self.version
    }

    /// KeyUpdates applied so far.
    pub fn key_updates(&self) -> u32 {
        self.updates
    }
}

fn bad_len(expected: usize, got: &[u8]) -> DecryptError {
    DecryptError::BadSecretLength {
        expected,
        got: got.len(),
    }
}

/// TLS 1.2 AEAD additional data: seq_num || type || version || length.
fn aad12(seq: &[u8; 8], ty: u8, v0: u8, v1: u8, l0: u8, l1: u8) -> [u8; 13] {
    let mut a = [0u8; 13];
    let (s, h) = a.split_at_mut(8);
    s.copy_from_slice(seq);
    h.copy_from_slice(&[ty, v0, v1, l0, l1]);
    a
}

/// XOR the big-endian sequence number into the last 8 bytes of a nonce.
fn xor_seq(nonce: &mut [u8; 12], seq: u64) {
    let (_, tail) = nonce.split_at_mut(4);
    for (n, s) in tail.iter_mut().zip(seq.to_be_bytes()) {
        *n ^= s;
    }
}

/// Check TLS CBC padding (`padding_length + 1` bytes all equal to
/// `padding_length`) leaving room for `mac_len` bytes before it; returns the
/// length before the padding.
fn unpad(buf: &[u8], mac_len: usize) -> Option<usize> {
    let &p = buf.last()?;
    let pad = usize::from(p).checked_add(1)?;
    let keep = buf.len().checked_sub(pad)?;
    if keep < mac_len {
        return None;
    }
    buf.get(keep..)?.iter().all(|&b| b == p).then_some(keep)
}

const KEY_BLOCK_MAX: usize = 2 * (32 + 32 + 12);

/// One side's slices of the key block.
struct WriteKeys<'a> {
    mac: &'a [u8],
    key: &'a [u8],
    iv: &'a [u8],
}

struct KeyBlock<'a> {
    client: WriteKeys<'a>,
    server: WriteKeys<'a>,
}

impl<'a> KeyBlock<'a> {
    fn for_dir(&self, dir: Direction) -> &WriteKeys<'a> {
        match dir {
            Direction::ClientToServer => &self.client,
            Direction::ServerToClient => &self.server,
        }
    }
}

/// TLS 1.2 key expansion (RFC 5246 §6.3): `PRF(master_secret, "key
/// expansion", server_random + client_random)`, cut into client/server MAC
/// keys, client/server keys, client/server fixed IVs.
fn key_block<'a>(
    info: SuiteInfo,
    master_secret: &[u8],
    client_random: &[u8; 32],
    server_random: &[u8; 32],
    block: &'a mut [u8; KEY_BLOCK_MAX],
) -> Result<KeyBlock<'a>, DecryptError> {
    let unsupported = DecryptError::UnsupportedSuite(info.id);
    let (m, k, i) = (
        info.mac.len(),
        info.bulk.key_len(),
        info.bulk.tls12_fixed_iv_len(),
    );
    let total = m
        .checked_add(k)
        .and_then(|n| n.checked_add(i))
        .and_then(|n| n.checked_mul(2))
        .ok_or(unsupported)?;
    let kb = block.get_mut(..total).ok_or(unsupported)?;
    tls12_prf(
        info.hash,
        master_secret,
        b"key expansion",
        &[server_random, client_random],
        kb,
    );
    let kb: &'a [u8] = kb;
    let (cm, r) = kb.split_at(m);
    let (sm, r) = r.split_at(m);
    let (ck, r) = r.split_at(k);
    let (sk, r) = r.split_at(k);
    let (ci, r) = r.split_at(i);
    let si = r.get(..i).ok_or(unsupported)?;
    Ok(KeyBlock {
        client: WriteKeys {
            mac: cm,
            key: ck,
            iv: ci,
        },
        server: WriteKeys {
            mac: sm,
            key: sk,
            iv: si,
        },
    })
}

/// The TLS 1.2 PRF (RFC 5246 §5): `P_hash(secret, label + seed)` with
/// HMAC-`hash`, filling `out`. `seed` is given in pieces (concatenated).
pub fn tls12_prf(hash: HashAlg, secret: &[u8], label: &[u8], seed: &[&[u8]], out: &mut [u8]) {
    match hash {
        HashAlg::Sha256 => p_hash::<Hmac<Sha256>>(secret, label, seed, out),
        HashAlg::Sha384 => p_hash::<Hmac<Sha384>>(secret, label, seed, out),
    }
}

fn p_hash<M: Mac + KeyInit + Clone>(secret: &[u8], label: &[u8], seed: &[&[u8]], out: &mut [u8]) {
    // HMAC takes keys of any length: new_from_slice cannot fail.
    let Ok(base) = <M as KeyInit>::new_from_slice(secret) else {
        return;
    };
    // A(1) = HMAC(secret, label + seed)
    let mut m = base.clone();
    m.update(label);
    for p in seed {
        m.update(p);
    }
    let mut a = m.finalize().into_bytes();
    for chunk in out.chunks_mut(a.len()) {
        let mut m = base.clone();
        m.update(&a);
        m.update(label);
        for p in seed {
            m.update(p);
        }
        let block = m.finalize().into_bytes();
        for (o, b) in chunk.iter_mut().zip(block.iter()) {
            *o = *b;
        }
        let mut m = base.clone();
        m.update(&a);
        a = m.finalize().into_bytes();
    }
}

/// HKDF-Expand-Label(secret, label, "", out.len()) (RFC 8446 §7.1).
fn expand_label(
    hash: HashAlg,
    secret: &[u8],
    label: &[u8],
    out: &mut [u8],
) -> Result<(), DecryptError> {
    let bad = DecryptError::BadSecretLength {
        expected: hash.len(),
        got: secret.len(),
    };
    if secret.len() != hash.len() {
        return Err(bad);
    }
    // HkdfLabel: uint16 length, opaque label<7..255> = "tls13 " + label, opaque context<0..255> = ""
    let mut info = [0u8; 2 + 1 + 6 + 32 + 1];
    let full = 6usize
        .checked_add(label.len())
        .filter(|&n| n <= 32)
        .ok_or(bad)?;
    let len = u16::try_from(out.len()).map_err(|_| bad)?;
    let n = 2usize
        .saturating_add(1)
        .saturating_add(full)
        .saturating_add(1);
    {
        let i = info.get_mut(..n).ok_or(bad)?;
        let (l, r) = i.split_at_mut(2);
        l.copy_from_slice(&len.to_be_bytes());
        let (ll, r) = r.split_at_mut(1);
        ll.copy_from_slice(&[u8::try_from(full).map_err(|_| bad)?]);
        let (p, r) = r.split_at_mut(6);
        p.copy_from_slice(b"tls13 ");
        let (lab, ctx) = r.split_at_mut(label.len());
        lab.copy_from_slice(label);
        ctx.copy_from_slice(&[0]);
    }
    let info = info.get(..n).ok_or(bad)?;
    let ok = match hash {
        HashAlg::Sha256 => hkdf::Hkdf::<Sha256>::from_prk(secret)
            .ok()
            .and_then(|h| h.expand(info, out).ok()),
        HashAlg::Sha384 => hkdf::Hkdf::<Sha384>::from_prk(secret)
            .ok()
            .and_then(|h| h.expand(info, out).ok()),
    };
    ok.ok_or(bad)
}

/// TLS 1.3 traffic key and IV (RFC 8446 §7.3) as raw bytes.
fn tls13_key_iv(
    info: SuiteInfo,
    secret: &Secret,
) -> Result<([u8; 32], usize, [u8; 12]), DecryptError> {
    let mut key = [0u8; 32];
    let kl = info.bulk.key_len();
    expand_label(
        info.hash,
        secret.as_bytes(),
        b"key",
        key.get_mut(..kl)
            .ok_or(DecryptError::UnsupportedSuite(info.id))?,
    )?;
    let mut iv = [0u8; 12];
    expand_label(info.hash, secret.as_bytes(), b"iv", &mut iv)?;
    Ok((key, kl, iv))
}

fn tls13_keys(info: SuiteInfo, secret: &Secret) -> Result<(AeadKey, [u8; 12]), DecryptError> {
    let (key, kl, iv) = tls13_key_iv(info, secret)?;
    let k = AeadKey::new(info.bulk, info.id, key.get(..kl).unwrap_or(&[]))?;
    Ok((k, iv))
}

#[cfg(test)]
#[path = "crypto_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "capture_tests.rs"]
mod capture_tests;
