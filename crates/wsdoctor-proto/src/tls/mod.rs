//! TLS as seen in a capture, with or without the session keys.
//!
//! * [`parse_client_hello`] sniffs the start of a client's byte stream: is it
//!   TLS, and if so which server name (SNI) and ALPN protocols does the
//!   ClientHello offer. It needs no state and never panics.
//! * [`conn::TlsConn`] follows both directions of one connection: the record
//!   layer (RFC 8446 section 5, RFC 5246 section 6), the handshake messages in
//!   clear, alerts, ChangeCipherSpec and where encryption starts; what it
//!   learns accumulates in [`conn::TlsFacts`]. With a [`conn::SecretSource`]
//!   (a key log) it also decrypts the records ([`crypto`]) and hands the
//!   application data on.
//! * [`cert`] reads the facts of a server certificate, [`names`] gives the
//!   registry names of versions, suites, groups and alerts as tshark prints
//!   them, and [`keylog`] reads NSS key logs (and the Decryption Secrets
//!   Blocks of pcapng files).
//!
//! Memory is bounded: [`MAX_HELLO`] for the sniffer, [`conn::TlsLimits`] for a
//! connection, [`keylog::KeyLogLimits`] for a key log.

pub mod cert;
pub mod conn;
pub mod crypto;
pub mod keylog;
pub mod names;

/// What a ClientHello offers, as far as sniffing needs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientHello {
    /// The first `host_name` of the server_name extension (RFC 6066
    /// section 3), invalid UTF-8 replaced by U+FFFD; `None` without one.
    pub sni: Option<String>,
    /// The protocols of the ALPN extension (RFC 7301), in the client's order,
    /// at most 16; empty without the extension.
    pub alpn: Vec<String>,
}

/// Result of [`parse_client_hello`].
#[derive(Debug, PartialEq, Eq)]
pub enum Parse {
    /// A whole ClientHello was found and decoded.
    Done(ClientHello),
    /// So far the bytes look like the start of a ClientHello; call again
    /// with more of the stream. Never returned for an input longer than
    /// [`MAX_HELLO`]: then the answer is [`Parse::NotTls`].
    NeedMore,
    /// The stream does not start with a ClientHello (or its body does not
    /// decode).
    NotTls,
}

/// Largest ClientHello handshake message looked at (they span several
/// records only with post-quantum key shares; 16 KiB covers those).
pub const MAX_HELLO: usize = 16 * 1024;

/// Reads big-endian fields off the front of a slice.
struct Rd<'a> {
    b: &'a [u8],
}

impl<'a> Rd<'a> {
    fn u8(&mut self) -> Option<u8> {
        let (&v, rest) = self.b.split_first()?;
        self.b = rest;
        Some(v)
    }
    fn u16(&mut self) -> Option<usize> {
        let (&v, rest) = self.b.split_first_chunk::<2>()?;
        self.b = rest;
        Some(usize::from(u16::from_be_bytes(v)))
    }
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (s, rest) = self.b.split_at_checked(n)?;
        self.b = rest;
        Some(s)
    }
}

/// The type and body length of the handshake message at the start of `hs`,
/// and the bytes after its 4-byte header; `None` before the header is whole.
fn hs_header(hs: &[u8]) -> Option<(u8, usize, &[u8])> {
    let (&[ty, a, b, c], rest) = hs.split_first_chunk::<4>()?;
    let len = (usize::from(a) << 16) | (usize::from(b) << 8) | usize::from(c);
    Some((ty, len, rest))
}

/// Parse the ClientHello at the start of `b` (TLS records, possibly several:
/// the handshake message may span records). Never panics; looks at no more
/// than the ClientHello's records.
pub fn parse_client_hello(b: &[u8]) -> Parse {
    let need_more = || {
        if b.len() > MAX_HELLO {
            Parse::NotTls
        } else {
            Parse::NeedMore
        }
    };
    // Concatenate handshake-record payloads.
    let mut hs = Vec::new();
    let mut rest = b;
    while let Some((&[ct, major, _, hi, lo], tail)) = rest.split_first_chunk::<5>() {
        if ct != 0x16 || major != 3 {
            if hs.is_empty() {
                return Parse::NotTls;
            }
            break;
        }
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        // A record cut short: what there is of it.
        let (body, after) = tail.split_at_checked(len).unwrap_or((tail, &[]));
        hs.extend_from_slice(body);
        if hs_header(&hs).is_some_and(|(_, n, msg)| msg.len() >= n) {
            break;
        }
        if body.len() < len {
            break;
        }
        rest = after;
    }
    let Some((ty, len, msg)) = hs_header(&hs) else {
        return need_more();
    };
    if ty != 1 {
        return Parse::NotTls;
    }
    let Some(body) = msg.get(..len) else {
        return need_more();
    };
    match hello_body(body) {
        Some(h) => Parse::Done(h),
        None => Parse::NotTls,
    }
}

fn hello_body(b: &[u8]) -> Option<ClientHello> {
    let mut r = Rd { b };
    r.take(34)?; // version (2), random (32)
    let sid = r.u8()?;
    r.take(usize::from(sid))?;
    let cs = r.u16()?;
    r.take(cs)?;
    let comp = r.u8()?;
    r.take(usize::from(comp))?;
    let mut out = ClientHello::default();
    if r.b.is_empty() {
        return Some(out);
    }
    let ext_len = r.u16()?;
    let mut e = Rd {
        b: r.take(ext_len)?,
    };
    while !e.b.is_empty() {
        let ty = e.u16()?;
        let len = e.u16()?;
        let mut x = Rd { b: e.take(len)? };
        match ty {
            0 => {
                let _list = x.u16()?;
                while !x.b.is_empty() {
                    let kind = x.u8()?;
                    let n = x.u16()?;
                    let name = x.take(n)?;
                    if kind == 0 && out.sni.is_none() {
                        out.sni = Some(String::from_utf8_lossy(name).into_owned());
                    }
                }
            }
            16 => {
                let _list = x.u16()?;
                while !x.b.is_empty() {
                    let n = x.u8()?;
                    let p = x.take(usize::from(n))?;
                    if out.alpn.len() < 16 {
                        out.alpn.push(String::from_utf8_lossy(p).into_owned());
                    }
                }
            }
            _ => {}
        }
    }
    Some(out)
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

    fn hello(sni: &str, alpn: &[&str]) -> Vec<u8> {
        let mut ext = Vec::new();
        let mut s = vec![0u8];
        s.extend_from_slice(&(sni.len() as u16).to_be_bytes());
        s.extend_from_slice(sni.as_bytes());
        let mut sn = (s.len() as u16).to_be_bytes().to_vec();
        sn.extend_from_slice(&s);
        ext.extend_from_slice(&0u16.to_be_bytes());
        ext.extend_from_slice(&(sn.len() as u16).to_be_bytes());
        ext.extend_from_slice(&sn);
        let mut a = Vec::new();
        for p in alpn {
            a.push(p.len() as u8);
            a.extend_from_slice(p.as_bytes());
        }
        let mut al = (a.len() as u16).to_be_bytes().to_vec();
        al.extend_from_slice(&a);
        ext.extend_from_slice(&16u16.to_be_bytes());
        ext.extend_from_slice(&(al.len() as u16).to_be_bytes());
        ext.extend_from_slice(&al);
        let mut body = vec![3, 3];
        body.extend_from_slice(&[0; 32]);
        body.push(0);
        body.extend_from_slice(&[0, 2, 0x13, 0x01, 1, 0]);
        body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        body.extend_from_slice(&ext);
        let mut hs = vec![1, 0, 0, 0];
        hs[1..4].copy_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        hs.extend_from_slice(&body);
        let mut rec = vec![0x16, 3, 1];
        rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
        rec.extend_from_slice(&hs);
        rec
    }

    #[test]
    fn sni_and_alpn() {
        let h = hello("broker.example", &["mqtt", "http/1.1"]);
        assert_eq!(
            parse_client_hello(&h),
            Parse::Done(ClientHello {
                sni: Some("broker.example".into()),
                alpn: vec!["mqtt".into(), "http/1.1".into()]
            })
        );
        for n in 0..h.len() {
            assert_eq!(parse_client_hello(&h[..n]), Parse::NeedMore, "prefix {n}");
        }
        assert_eq!(parse_client_hello(b"GET / HTTP/1.1\r\n"), Parse::NotTls);
    }
}
