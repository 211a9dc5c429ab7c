//! Real data: the TLS sessions of `samples/tls/` (openssl s_client/s_server,
//! nginx, paho, MQTT.js, mosquitto; see samples/README.md, "TLS and wss
//! captures") decrypted with their key logs and compared, record by record,
//! with what tshark decrypts from the same files (`testdata/NAME.tshark.json`,
//! made by `testdata/make_fixtures.py`).
//!
//! A small test-only reader takes the records out of the captures (pcap or
//! pcapng, Ethernet, IPv4, TCP in order on loopback) and follows just enough
//! of the handshake to drive the decryptors: client random, ServerHello
//! (random, suite, supported_versions, encrypt_then_mac, HelloRetryRequest),
//! ChangeCipherSpec (TLS 1.2), Finished and KeyUpdate (TLS 1.3).
#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::arithmetic_side_effects
)]

use super::*;
use crate::tls::keylog::{DsbContent, KeyLog};
use std::collections::HashMap;

const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// A file of samples/tls/, or of testdata/extra/ for names starting "extra/".
fn samples(name: &str) -> String {
    match name.strip_prefix("extra/") {
        Some(n) => format!("{}/src/tls/testdata/extra/{n}", env!("CARGO_MANIFEST_DIR")),
        None => format!("{}/../../samples/tls/{name}", env!("CARGO_MANIFEST_DIR")),
    }
}

type ConnKey = ((u32, u16), (u32, u16));

/// A TCP payload.
struct Seg {
    key: ConnKey,
    syn_only: bool,
    syn: bool,
    seq: u32,
    payload: Vec<u8>,
}

/// Packets of a pcap or pcapng file (Ethernet); also the key log of any
/// pcapng Decryption Secrets Block.
fn read_capture(data: &[u8]) -> (Vec<(u64, Vec<u8>)>, KeyLog) {
    let mut pkts = Vec::new();
    let mut keys = KeyLog::new();
    let u32le = |b: &[u8], i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap());
    if u32le(data, 0) == 0xa1b2_c3d4 {
        assert_eq!(u32le(data, 20), 1, "Ethernet");
        let mut i = 24;
        while i + 16 <= data.len() {
            let caplen = u32le(data, i + 8) as usize;
            pkts.push((
                pkts.len() as u64 + 1,
                data[i + 16..i + 16 + caplen].to_vec(),
            ));
            i += 16 + caplen;
        }
    } else {
        assert_eq!(u32le(data, 0), 0x0a0d_0d0a, "pcapng");
        assert_eq!(u32le(data, 8), 0x1a2b_3c4d, "little-endian section");
        let mut i = 0;
        while i + 12 <= data.len() {
            let (ty, len) = (u32le(data, i), u32le(data, i + 4) as usize);
            let body = &data[i + 8..i + len - 4];
            match ty {
                1 => assert_eq!(u16::from_le_bytes([body[0], body[1]]), 1, "Ethernet"),
                6 => {
                    let caplen = u32le(body, 12) as usize;
                    pkts.push((pkts.len() as u64 + 1, body[20..20 + caplen].to_vec()));
                }
                10 => {
                    assert!(
                        matches!(keys.add_dsb(body, false), Ok(DsbContent::TlsKeyLog(n)) if n > 0)
                    );
                }
                _ => {}
            }
            i += len;
        }
    }
    (pkts, keys)
}

fn tcp(p: &[u8]) -> Option<Seg> {
    if p.len() < 14 + 20 || p[12..14] != [0x08, 0x00] {
        return None;
    }
    let ip = &p[14..];
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    if ip[9] != 6 {
        return None;
    }
    let src = u32::from_be_bytes(ip[12..16].try_into().unwrap());
    let dst = u32::from_be_bytes(ip[16..20].try_into().unwrap());
    let t = &ip[ihl..total];
    let off = usize::from(t[12] >> 4) * 4;
    let flags = t[13];
    Some(Seg {
        key: (
            (src, u16::from_be_bytes([t[0], t[1]])),
            (dst, u16::from_be_bytes([t[2], t[3]])),
        ),
        syn_only: flags & 0x12 == 0x02,
        syn: flags & 0x02 != 0,
        seq: u32::from_be_bytes(t[4..8].try_into().unwrap()),
        payload: t[off..].to_vec(),
    })
}

/// One record as the test reader saw it.
#[derive(Debug)]
struct Rec {
    frame: u64,
    /// Outer type for records in clear, the decrypted type otherwise.
    ty: u8,
    /// Decrypted content (None: the record was in clear).
    plain: Option<Vec<u8>>,
    client: bool,
}

#[derive(Default)]
struct Dir {
    next_seq: Option<u32>,
    buf: Vec<u8>,
    dec: Option<RecordDecryptor>,
    /// TLS 1.2: keys made at the ServerHello, in use after this side's CCS.
    pending: Option<RecordDecryptor>,
    app: Vec<u8>,
    key_updates: u32,
    /// TLS 1.3 traffic secrets after each KeyUpdate.
    updated_secrets: Vec<Vec<u8>>,
    errors: Vec<DecryptError>,
}

/// State of one TCP connection.
#[derive(Default)]
struct Conn {
    client_key: Option<(u32, u16)>,
    c: Dir,
    s: Dir,
    client_random: Option<[u8; 32]>,
    params: Option<SessionParams>,
    secrets: Option<SessionSecrets>,
    records: Vec<Rec>,
}

/// Overrides for the wrong-key and garbling tests.
#[derive(Default, Clone, Copy)]
struct Tamper {
    /// XOR into the first byte of every secret.
    key_xor: u8,
    /// (1-based index of an encrypted server record, byte to flip in its fragment).
    garble_server_record: Option<(usize, usize)>,
    /// Cut the fragment of that record to this length instead.
    truncate_to: Option<usize>,
}

struct Run {
    conns: Vec<Conn>,
    /// Client randoms seen, with whether the key log had secrets for them.
    randoms: Vec<([u8; 32], bool)>,
}

fn tamper_secret(s: Option<Secret>, x: u8) -> Option<Secret> {
    s.map(|s| {
        let mut b = s.as_bytes().to_vec();
        b[0] ^= x;
        Secret::new(&b).unwrap()
    })
}

fn run(cap: &str, keylog: Option<&str>, tamper: Tamper) -> Run {
    let data = std::fs::read(samples(cap)).unwrap();
    let (pkts, dsb_keys) = read_capture(&data);
    let keys = match keylog {
        Some(k) => KeyLog::parse(&std::fs::read(samples(k)).unwrap()),
        None => dsb_keys,
    };
    let mut conns: Vec<Conn> = Vec::new();
    let mut by_key: HashMap<ConnKey, usize> = HashMap::new();
    let mut randoms = Vec::new();
    let mut server_enc = 0usize;
    for (frame, p) in pkts {
        let Some(seg) = tcp(&p) else { continue };
        let (a, b) = seg.key;
        let k = if a < b { (a, b) } else { (b, a) };
        let id = *by_key.entry(k).or_insert_with(|| {
            conns.push(Conn::default());
            conns.len() - 1
        });
        let conn = &mut conns[id];
        if seg.syn_only {
            conn.client_key = Some(a);
        }
        let from_client = conn.client_key == Some(a);
        let d = if from_client {
            &mut conn.c
        } else {
            &mut conn.s
        };
        let plen = seg.payload.len() as u32;
        if seg.syn || d.next_seq.is_none() {
            d.next_seq = Some(seg.seq.wrapping_add(u32::from(seg.syn)));
        }
        let next = d.next_seq.unwrap();
        let skip = next.wrapping_sub(seg.seq);
        if seg.payload.is_empty() || skip >= plen {
            continue; // no new bytes (ACK, retransmission)
        }
        assert!(skip < 0x8000_0000, "gap in {cap} frame {frame}");
        d.buf.extend_from_slice(&seg.payload[skip as usize..]);
        d.next_seq = Some(seg.seq.wrapping_add(plen));
        // complete records
        loop {
            let d = if from_client {
                &mut conn.c
            } else {
                &mut conn.s
            };
            if d.buf.len() < 5 {
                break;
            }
            let len = usize::from(u16::from_be_bytes([d.buf[3], d.buf[4]]));
            if d.buf.len() < 5 + len {
                break;
            }
            let rec: Vec<u8> = d.buf.drain(..5 + len).collect();
            let (ty, ver) = (rec[0], u16::from_be_bytes([rec[1], rec[2]]));
            let mut frag = rec[5..].to_vec();
            let tls13 = conn.params.is_some_and(|p| p.version == TLS13);
            // which decryptor applies
            let d = if from_client {
                &mut conn.c
            } else {
                &mut conn.s
            };
            if ty == 20 {
                if !tls13 {
                    d.dec = d.pending.take();
                }
                conn.records.push(Rec {
                    frame,
                    ty,
                    plain: None,
                    client: from_client,
                });
                continue;
            }
            let encrypted = d.dec.is_some() && !(tls13 && ty != 23);
            if !encrypted {
                if ty == 22 {
                    handshake_in_clear(conn, from_client, &frag, &keys, &mut randoms, tamper);
                }
                conn.records.push(Rec {
                    frame,
                    ty,
                    plain: None,
                    client: from_client,
                });
                continue;
            }
            if !from_client {
                server_enc += 1;
                if let Some((n, byte)) = tamper.garble_server_record {
                    if n == server_enc {
                        if let Some(t) = tamper.truncate_to {
                            frag.truncate(t);
                        } else {
                            frag[byte] ^= 0x40;
                        }
                    }
                }
            }
            let d = if from_client {
                &mut conn.c
            } else {
                &mut conn.s
            };
            let mut out = Vec::new();
            match d.dec.as_mut().unwrap().decrypt(ty, ver, &frag, &mut out) {
                Ok(inner) => {
                    if inner == 23 {
                        d.app.extend_from_slice(&out);
                    }
                    if tls13 && inner == 22 {
                        handshake_decrypted(conn, from_client, &out);
                    }
                    conn.records.push(Rec {
                        frame,
                        ty: inner,
                        plain: Some(out),
                        client: from_client,
                    });
                }
                Err(e) => {
                    assert!(out.is_empty());
                    d.errors.push(e);
                }
            }
        }
    }
    Run { conns, randoms }
}

/// ClientHello / ServerHello in clear (first message of the record).
fn handshake_in_clear(
    conn: &mut Conn,
    from_client: bool,
    frag: &[u8],
    keys: &KeyLog,
    randoms: &mut Vec<([u8; 32], bool)>,
    tamper: Tamper,
) {
    let (mt, body) = (frag[0], &frag[4..]);
    if from_client && mt == 1 {
        let r: [u8; 32] = body[2..34].try_into().unwrap();
        if conn.client_random != Some(r) {
            randoms.push((r, keys.get(&r).is_some()));
        }
        conn.client_random = Some(r);
        return;
    }
    if from_client || mt != 2 {
        return;
    }
    let random: [u8; 32] = body[2..34].try_into().unwrap();
    if random == HRR_RANDOM {
        return; // HelloRetryRequest: wait for the real ServerHello
    }
    let sid = usize::from(body[34]);
    let mut i = 35 + sid;
    let suite = u16::from_be_bytes([body[i], body[i + 1]]);
    i += 3; // suite, compression
    let (mut version, mut etm) = (TLS12, false);
    if i + 2 <= body.len() {
        let end = i + 2 + usize::from(u16::from_be_bytes([body[i], body[i + 1]]));
        i += 2;
        while i + 4 <= end {
            let ety = u16::from_be_bytes([body[i], body[i + 1]]);
            let elen = usize::from(u16::from_be_bytes([body[i + 2], body[i + 3]]));
            match ety {
                0x002b => version = u16::from_be_bytes([body[i + 4], body[i + 5]]),
                0x0016 => etm = true,
                _ => {}
            }
            i += 4 + elen;
        }
    }
    let params = SessionParams {
        version,
        cipher_suite: suite,
        client_random: conn.client_random.unwrap(),
        server_random: random,
        encrypt_then_mac: etm,
    };
    conn.params = Some(params);
    let Some(s) = keys.get(&params.client_random) else {
        return;
    };
    let x = tamper.key_xor;
    let s = SessionSecrets {
        master_secret: tamper_secret(s.master_secret, x),
        client_handshake: tamper_secret(s.client_handshake, x),
        server_handshake: tamper_secret(s.server_handshake, x),
        client_traffic_0: tamper_secret(s.client_traffic_0, x),
        server_traffic_0: tamper_secret(s.server_traffic_0, x),
    };
    conn.secrets = Some(s);
    let mk = |dir| RecordDecryptor::from_keylog(&params, &s, dir, Epoch::Handshake);
    if version == TLS13 {
        // a client that failed before its Finished logs no client secret
        conn.c.dec = mk(Direction::ClientToServer).ok();
        conn.s.dec = mk(Direction::ServerToClient).ok();
    } else {
        conn.c.pending = Some(mk(Direction::ClientToServer).unwrap());
        conn.s.pending = Some(mk(Direction::ServerToClient).unwrap());
    }
}

/// TLS 1.3: Finished switches the direction to application keys, KeyUpdate
/// to the next secret.
fn handshake_decrypted(conn: &mut Conn, from_client: bool, mut msgs: &[u8]) {
    while msgs.len() >= 4 {
        let len =
            4 + (usize::from(msgs[1]) << 16 | usize::from(msgs[2]) << 8 | usize::from(msgs[3]));
        let mt = msgs[0];
        let d = if from_client {
            &mut conn.c
        } else {
            &mut conn.s
        };
        match mt {
            20 => {
                let dir = if from_client {
                    Direction::ClientToServer
                } else {
                    Direction::ServerToClient
                };
                d.dec = RecordDecryptor::from_keylog(
                    &conn.params.unwrap(),
                    &conn.secrets.unwrap(),
                    dir,
                    Epoch::Application,
                )
                .ok();
            }
            24 => {
                let dec = d.dec.as_mut().unwrap();
                dec.key_update().unwrap();
                d.key_updates += 1;
                assert_eq!(dec.key_updates(), d.key_updates);
                assert_eq!(dec.next_seq(), 0);
                if let State::Tls13 { secret, .. } = &dec.state {
                    d.updated_secrets.push(secret.as_bytes().to_vec());
                }
            }
            _ => {}
        }
        msgs = &msgs[len.min(msgs.len())..];
    }
}

fn hexs(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Decrypt `cap` and compare every record with tshark's view.
fn check(cap: &str, keylog: Option<&str>, suite: u16, version: u16) -> Run {
    let fixture = format!(
        "{}/src/tls/testdata/{}.tshark.json",
        env!("CARGO_MANIFEST_DIR"),
        cap.rsplit_once('.').unwrap().0.trim_start_matches("extra/")
    );
    let want: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture).unwrap()).unwrap();
    let r = run(cap, keylog, Tamper::default());
    // by frame: content types and decrypted contents, in record order
    let mut types: HashMap<u64, Vec<u64>> = HashMap::new();
    let mut plains: HashMap<u64, Vec<String>> = HashMap::new();
    for c in &r.conns {
        let p = c.params.unwrap_or_else(|| panic!("{cap}: no ServerHello"));
        assert_eq!((p.cipher_suite, p.version), (suite, version), "{cap}");
        for d in [&c.c, &c.s] {
            assert!(d.errors.is_empty(), "{cap}: {:?}", d.errors);
        }
        for rec in &c.records {
            types.entry(rec.frame).or_default().push(u64::from(rec.ty));
            if let Some(pl) = &rec.plain {
                plains.entry(rec.frame).or_default().push(hexs(pl));
            }
        }
    }
    let frames = want["frames"].as_object().unwrap();
    let mut decrypted = 0;
    for (f, v) in frames {
        let f: u64 = f.parse().unwrap();
        let wt: Vec<u64> = v["types"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_u64().unwrap())
            .collect();
        let wd: Vec<String> = v["decrypted"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            types.remove(&f).unwrap_or_default(),
            wt,
            "{cap} frame {f}: content types"
        );
        assert_eq!(
            plains.remove(&f).unwrap_or_default(),
            wd,
            "{cap} frame {f}: decrypted bytes"
        );
        decrypted += wd.len();
    }
    assert!(
        types.is_empty(),
        "{cap}: records tshark does not show: {types:?}"
    );
    assert!(
        plains.is_empty(),
        "{cap}: decrypted where tshark did not: {plains:?}"
    );
    assert!(decrypted > 0, "{cap}: nothing decrypted");
    // application data per stream and direction (tshark's follow,tls,raw)
    for fo in want["follow"].as_array().unwrap() {
        let c = &r.conns[fo["stream"].as_u64().unwrap() as usize];
        assert_eq!(
            hexs(&c.c.app),
            fo["client"].as_str().unwrap(),
            "{cap}: client data"
        );
        assert_eq!(
            hexs(&c.s.app),
            fo["server"].as_str().unwrap(),
            "{cap}: server data"
        );
    }
    r
}

// ---- TLS 1.2 --------------------------------------------------------------

#[test]
fn tls12_ecdhe_rsa_aes128_gcm() {
    check(
        "tls12-ecdhe-rsa-aes128-gcm.pcap",
        Some("tls12-ecdhe-rsa-aes128-gcm.keys"),
        0xc02f,
        TLS12,
    );
}

#[test]
fn tls12_ecdhe_rsa_aes256_gcm_sha384_prf() {
    check(
        "tls12-ecdhe-rsa-aes256-gcm.pcap",
        Some("tls12-ecdhe-rsa-aes256-gcm.keys"),
        0xc030,
        TLS12,
    );
}

#[test]
fn tls12_ecdhe_rsa_chacha20_poly1305() {
    check(
        "tls12-ecdhe-rsa-chacha20.pcap",
        Some("tls12-ecdhe-rsa-chacha20.keys"),
        0xcca8,
        TLS12,
    );
}

#[test]
fn tls12_ecdhe_ecdsa_aes128_gcm() {
    check(
        "tls12-ecdhe-ecdsa-aes128-gcm.pcap",
        Some("tls12-ecdhe-ecdsa-aes128-gcm.keys"),
        0xc02b,
        TLS12,
    );
}

#[test]
fn tls12_rsa_key_exchange_aes128_gcm() {
    check(
        "tls12-rsa-aes128-gcm.pcap",
        Some("tls12-rsa-aes128-gcm.keys"),
        0x009c,
        TLS12,
    );
}

#[test]
fn tls12_cbc_sha1_encrypt_then_mac() {
    let r = check(
        "tls12-rsa-aes128-sha.pcap",
        Some("tls12-rsa-aes128-sha.keys"),
        0x002f,
        TLS12,
    );
    assert!(r.conns[0].params.unwrap().encrypt_then_mac);
    let r = check(
        "tls12-ecdhe-rsa-aes128-sha.pcap",
        Some("tls12-ecdhe-rsa-aes128-sha.keys"),
        0xc013,
        TLS12,
    );
    assert!(r.conns[0].params.unwrap().encrypt_then_mac);
}

#[test]
fn tls12_cbc_sha1_mac_then_encrypt() {
    let r = check(
        "tls12-rsa-aes128-sha-no-etm.pcap",
        Some("tls12-rsa-aes128-sha-no-etm.keys"),
        0x002f,
        TLS12,
    );
    assert!(!r.conns[0].params.unwrap().encrypt_then_mac);
}

#[test]
fn tls12_cbc_sha256_encrypt_then_mac() {
    let r = check(
        "tls12-rsa-aes256-sha256.pcap",
        Some("tls12-rsa-aes256-sha256.keys"),
        0x003d,
        TLS12,
    );
    assert!(r.conns[0].params.unwrap().encrypt_then_mac);
}

#[test]
fn tls12_without_extended_master_secret() {
    check(
        "tls12-no-ems.pcap",
        Some("tls12-no-ems.keys"),
        0xc02f,
        TLS12,
    );
}

#[test]
fn tls12_session_id_resumption() {
    let r = check(
        "tls12-resume.pcap",
        Some("tls12-resume.keys"),
        0xc02f,
        TLS12,
    );
    assert_eq!(r.conns.len(), 2);
    assert!(r.randoms.iter().all(|&(_, k)| k));
}

/// Suites samples/tls/ lacks, captured the same way by testdata/make_extra.sh
/// (testdata/README.md): (name, suite, encrypt_then_mac in the ServerHello).
#[test]
fn tls12_more_suites() {
    for (name, suite, etm) in [
        ("tls12-rsa-aes256-sha256-no-etm", 0x003d, false),
        ("tls12-ecdhe-rsa-aes128-sha256-no-etm", 0xc027, false),
        ("tls12-ecdhe-ecdsa-aes128-sha256", 0xc023, true),
        ("tls12-ecdhe-ecdsa-aes256-sha", 0xc00a, true),
        ("tls12-ecdhe-rsa-aes256-sha-no-etm", 0xc014, false),
        ("tls12-ecdhe-ecdsa-aes256-gcm", 0xc02c, false),
        ("tls12-rsa-aes256-gcm", 0x009d, false),
        ("tls12-ecdhe-ecdsa-chacha20", 0xcca9, false),
        ("tls12-dhe-rsa-chacha20", 0xccaa, false),
    ] {
        let r = check(
            &format!("extra/{name}.pcap"),
            Some(&format!("extra/{name}.keys")),
            suite,
            TLS12,
        );
        assert_eq!(r.conns[0].params.unwrap().encrypt_then_mac, etm, "{name}");
    }
}

// ---- TLS 1.3 --------------------------------------------------------------

#[test]
fn tls13_aes128_gcm() {
    check(
        "tls13-aes128-gcm.pcap",
        Some("tls13-aes128-gcm.keys"),
        0x1301,
        TLS13,
    );
}

#[test]
fn tls13_aes256_gcm_sha384() {
    check(
        "tls13-aes256-gcm.pcap",
        Some("tls13-aes256-gcm.keys"),
        0x1302,
        TLS13,
    );
}

#[test]
fn tls13_chacha20_poly1305() {
    check(
        "tls13-chacha20.pcap",
        Some("tls13-chacha20.keys"),
        0x1303,
        TLS13,
    );
}

/// KeyUpdate c@14 (update_requested), c@18, s@22: the next secrets derived
/// with "traffic upd" are those OpenSSL 3.0 logged as
/// `CLIENT_TRAFFIC_SECRET_N` / `SERVER_TRAFFIC_SECRET_N` (in order).
#[test]
fn tls13_key_update() {
    let r = check(
        "tls13-keyupdate.pcap",
        Some("tls13-keyupdate.keys"),
        0x1301,
        TLS13,
    );
    let c = &r.conns[0];
    assert_eq!((c.c.key_updates, c.s.key_updates), (2, 1));
    let text = std::fs::read_to_string(samples("tls13-keyupdate.keys")).unwrap();
    let logged = |label: &str| -> Vec<Vec<u8>> {
        text.lines()
            .filter_map(|l| l.strip_prefix(label))
            .map(|l| super::tests::hex(l.split_whitespace().nth(1).unwrap()))
            .collect()
    };
    assert_eq!(c.c.updated_secrets, logged("CLIENT_TRAFFIC_SECRET_N "));
    assert_eq!(c.s.updated_secrets, logged("SERVER_TRAFFIC_SECRET_N "));
}

#[test]
fn tls13_hello_retry_request() {
    check("tls13-hrr.pcap", Some("tls13-hrr.keys"), 0x1302, TLS13);
}

#[test]
fn tls13_psk_resumption() {
    let r = check(
        "tls13-resume.pcap",
        Some("tls13-resume.keys"),
        0x1302,
        TLS13,
    );
    assert_eq!(r.conns.len(), 2);
}

/// The client refused the certificate before its Finished: only
/// SERVER_HANDSHAKE_TRAFFIC_SECRET is logged, the server's flight decrypts,
/// the client's alert is in clear.
#[test]
fn tls13_server_handshake_only() {
    let r = check(
        "tls13-cert-expired-openssl.pcap",
        Some("tls13-cert-expired-openssl.keys"),
        0x1302,
        TLS13,
    );
    let c = &r.conns[0];
    assert!(c.c.dec.is_none());
    assert!(c
        .records
        .iter()
        .any(|r| r.client && r.ty == 21 && r.plain.is_none()));
}

// ---- wss and MQTT over TLS (nginx, mosquitto, paho, MQTT.js) --------------

#[test]
fn wss_paho_and_mqttjs() {
    check(
        "wss-paho-tls12.pcap",
        Some("wss-paho-tls12.keys"),
        0xc030,
        TLS12,
    );
    check(
        "wss-paho-tls13.pcap",
        Some("wss-paho-tls13.keys"),
        0x1302,
        TLS13,
    );
    check(
        "wss-mqttjs-tls12.pcap",
        Some("wss-mqttjs-tls12.keys"),
        0xc02f,
        TLS12,
    );
    let r = check(
        "wss-mqttjs-tls13.pcap",
        Some("wss-mqttjs-tls13.keys"),
        0x1302,
        TLS13,
    );
    let up = String::from_utf8_lossy(&r.conns[0].c.app[..16]).into_owned();
    assert!(up.starts_with("GET /mqtt"), "{up}");
    let r = check(
        "wss-connect-refused.pcap",
        Some("wss-connect-refused.keys"),
        0x1302,
        TLS13,
    );
    assert!(r.conns[0].s.app.starts_with(b"HTTP/1.1 101"));
    check("mqtts-paho.pcap", Some("mqtts-paho.keys"), 0x1302, TLS13);
    check("wss-alpn-h2.pcap", Some("wss-alpn-h2.keys"), 0x1302, TLS13);
    check(
        "wss-alpn-h2-tls12.pcap",
        Some("wss-alpn-h2-tls12.keys"),
        0xc030,
        TLS12,
    );
    check(
        "wss-clock-ahead-mqttjs.pcap",
        Some("wss-clock-ahead-mqttjs.keys"),
        0xc02f,
        TLS12,
    );
}

/// Secrets from the pcapng Decryption Secrets Block editcap injected.
#[test]
fn keys_from_pcapng_decryption_secrets_block() {
    let r = check("wss-keys-injected.pcapng", None, 0x1302, TLS13);
    let plain = run(
        "wss-mqttjs-tls13.pcap",
        Some("wss-mqttjs-tls13.keys"),
        Tamper::default(),
    );
    assert_eq!(r.conns[0].c.app, plain.conns[0].c.app);
    assert_eq!(r.conns[0].s.app, plain.conns[0].s.app);
}

/// A key log from another session: no secrets for the capture's ClientHello.
#[test]
fn keylog_of_another_session() {
    let r = run(
        "mqtts-wrong-keylog.pcap",
        Some("mqtts-wrong-keylog.keys"),
        Tamper::default(),
    );
    assert!(!r.randoms.is_empty());
    assert!(r.randoms.iter().all(|&(_, has)| !has));
    assert!(r
        .conns
        .iter()
        .all(|c| c.c.dec.is_none() && c.s.dec.is_none()));
}

// ---- wrong keys, garbled and truncated records -----------------------------

/// A wrong key: every encrypted record fails its tag/MAC/padding check and
/// nothing is passed on.
#[test]
fn wrong_key_is_an_auth_failure_never_garbage() {
    for (cap, keys) in [
        (
            "tls12-ecdhe-rsa-aes128-gcm.pcap",
            "tls12-ecdhe-rsa-aes128-gcm.keys",
        ),
        (
            "tls12-ecdhe-rsa-chacha20.pcap",
            "tls12-ecdhe-rsa-chacha20.keys",
        ),
        ("tls12-rsa-aes128-sha.pcap", "tls12-rsa-aes128-sha.keys"),
        (
            "tls12-rsa-aes128-sha-no-etm.pcap",
            "tls12-rsa-aes128-sha-no-etm.keys",
        ),
        (
            "tls12-rsa-aes256-sha256.pcap",
            "tls12-rsa-aes256-sha256.keys",
        ),
        ("tls13-aes128-gcm.pcap", "tls13-aes128-gcm.keys"),
        ("tls13-chacha20.pcap", "tls13-chacha20.keys"),
    ] {
        let r = run(
            cap,
            Some(keys),
            Tamper {
                key_xor: 0x01,
                ..Tamper::default()
            },
        );
        let c = &r.conns[0];
        assert!(c.records.iter().all(|r| r.plain.is_none()), "{cap}");
        assert!(c.c.app.is_empty() && c.s.app.is_empty());
        for d in [&c.c, &c.s] {
            assert!(!d.errors.is_empty(), "{cap}");
            assert!(
                d.errors.iter().all(|e| e.is_auth_failure()),
                "{cap}: {:?}",
                d.errors
            );
        }
        if cap.contains("gcm") || cap.contains("chacha") {
            assert!(c.s.errors.iter().all(|e| *e == DecryptError::BadTag));
        }
    }
}

/// One garbled or truncated server record fails alone; the records after it
/// still decrypt (the sequence number moves on).
#[test]
fn garbled_and_truncated_records() {
    for (cap, keys) in [
        (
            "tls12-ecdhe-rsa-aes128-gcm.pcap",
            "tls12-ecdhe-rsa-aes128-gcm.keys",
        ),
        ("tls12-rsa-aes128-sha.pcap", "tls12-rsa-aes128-sha.keys"),
        (
            "tls12-rsa-aes128-sha-no-etm.pcap",
            "tls12-rsa-aes128-sha-no-etm.keys",
        ),
        ("tls13-aes256-gcm.pcap", "tls13-aes256-gcm.keys"),
    ] {
        let good = run(cap, Some(keys), Tamper::default());
        let n_good = good.conns[0]
            .records
            .iter()
            .filter(|r| !r.client && r.plain.is_some())
            .count();
        // the first application data record of the server (after the
        // Finished / NewSessionTicket records)
        let target = good.conns[0]
            .records
            .iter()
            .filter(|r| !r.client && r.plain.is_some())
            .position(|r| r.ty == 23)
            .unwrap()
            + 1;
        for (garble, trunc) in [
            (Some((target, 0)), None),
            (Some((target, 20)), None),
            (Some((target, 0)), Some(10)),
        ] {
            let t = Tamper {
                garble_server_record: garble,
                truncate_to: trunc,
                ..Tamper::default()
            };
            let r = run(cap, Some(keys), t);
            let c = &r.conns[0];
            assert_eq!(c.s.errors.len(), 1, "{cap} {garble:?} {trunc:?}");
            let e = c.s.errors[0];
            if trunc.is_some() {
                assert!(
                    matches!(e, DecryptError::RecordTooShort { .. }),
                    "{cap}: {e:?}"
                );
            } else {
                assert!(e.is_auth_failure(), "{cap}: {e:?}");
            }
            let n = c
                .records
                .iter()
                .filter(|r| !r.client && r.plain.is_some())
                .count();
            assert_eq!(n, n_good - 1, "{cap}");
            assert!(c.c.errors.is_empty());
            assert_eq!(c.c.app, good.conns[0].c.app);
        }
    }
}
