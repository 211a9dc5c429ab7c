//! TLS: the ClientHello's server name (SNI) and ALPN for sniffing, and
//! (`conn`) the record layer and handshake of both directions, what each
//! side offered, chose and complained about; certificates (`cert`) and
//! registry names (`names`).
//!
//! With a key log: [`keylog`] reads NSS key logs (and pcapng Decryption
//! Secrets Blocks), [`crypto`] decrypts the records of each direction.

pub mod cert;
pub mod conn;
pub mod crypto;
pub mod keylog;
pub mod names;

/// What a ClientHello offers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientHello {
    pub sni: Option<String>,
    pub alpn: Vec<String>,
}

/// Result of looking at the start of a client's byte stream.
#[derive(Debug, PartialEq, Eq)]
pub enum Parse {
    Done(ClientHello),
    NeedMore,
    NotTls,
}

/// Largest ClientHello handshake message looked at (they span several
/// records only with post-quantum key shares; 16 KiB covers those).
pub const MAX_HELLO: usize = 16 * 1024;

struct Rd<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Rd<'a> {
    fn u8(&mut self) -> Option<u8> {
        let v = *self.b.get(self.i)?;
        self.i += 1;
        Some(v)
    }
    fn u16(&mut self) -> Option<usize> {
        let s = self.b.get(self.i..self.i + 2)?;
        self.i += 2;
        Some(u16::from_be_bytes([s[0], s[1]]) as usize)
    }
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.i..self.i.checked_add(n)?)?;
        self.i += n;
        Some(s)
    }
}

/// Parse the ClientHello at the start of `b` (TLS records, possibly several).
pub fn parse_client_hello(b: &[u8]) -> Parse {
    // Concatenate handshake-record payloads.
    let mut hs = Vec::new();
    let mut i = 0;
    while let Some(h) = b.get(i..i + 5) {
        if h[0] != 0x16 || h[1] != 3 {
            if hs.is_empty() {
                return Parse::NotTls;
            }
            break;
        }
        let len = u16::from_be_bytes([h[3], h[4]]) as usize;
        let end = (i + 5 + len).min(b.len());
        hs.extend_from_slice(&b[i + 5..end]);
        if hs.len() >= 4 {
            let need = 4 + ((hs[1] as usize) << 16 | (hs[2] as usize) << 8 | hs[3] as usize);
            if hs.len() >= need {
                break;
            }
        }
        if end < i + 5 + len {
            break;
        }
        i += 5 + len;
    }
    if hs.len() < 4 {
        return if b.len() > MAX_HELLO {
            Parse::NotTls
        } else {
            Parse::NeedMore
        };
    }
    if hs[0] != 1 {
        return Parse::NotTls;
    }
    let need = 4 + ((hs[1] as usize) << 16 | (hs[2] as usize) << 8 | hs[3] as usize);
    if hs.len() < need {
        return if b.len() > MAX_HELLO {
            Parse::NotTls
        } else {
            Parse::NeedMore
        };
    }
    match hello_body(&hs[4..need]) {
        Some(h) => Parse::Done(h),
        None => Parse::NotTls,
    }
}

fn hello_body(b: &[u8]) -> Option<ClientHello> {
    let mut r = Rd { b, i: 0 };
    r.take(2 + 32)?; // version, random
    let sid = r.u8()? as usize;
    r.take(sid)?;
    let cs = r.u16()?;
    r.take(cs)?;
    let comp = r.u8()? as usize;
    r.take(comp)?;
    let mut out = ClientHello::default();
    if r.i == b.len() {
        return Some(out);
    }
    let ext_len = r.u16()?;
    let exts = r.take(ext_len)?;
    let mut e = Rd { b: exts, i: 0 };
    while e.i < exts.len() {
        let ty = e.u16()?;
        let len = e.u16()?;
        let body = e.take(len)?;
        let mut x = Rd { b: body, i: 0 };
        match ty {
            0 => {
                let _list = x.u16()?;
                while x.i < body.len() {
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
                while x.i < body.len() {
                    let n = x.u8()? as usize;
                    let p = x.take(n)?;
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
