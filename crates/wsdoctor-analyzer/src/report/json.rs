//! A small JSON object writer: records are written field by field into a
//! byte buffer, without building a tree.

/// Writes one JSON object into `buf`.
pub struct Obj<'b> {
    buf: &'b mut Vec<u8>,
    first: bool,
}

/// Bytes that cannot stand for themselves in a JSON string (RFC 8259 §7:
/// quote, backslash, controls; DEL too, so output stays printable).
static ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t[0x7f] = true;
    t
};

/// Where the first byte that [`ESCAPE`] marks is in `b`. Eight bytes at a
/// time (a word that holds none of them is skipped whole), then one by one.
fn first_escape(b: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // The high bit of each byte of the result is set where `x`'s byte is
    // below `n` (for bytes below 0x80; others are tested by `ascii`).
    let below = |x: u64, n: u8| x.wrapping_sub(ONES * u64::from(n)) & !x & HIGH;
    let zero = |x: u64| below(x, 1);
    let mut words = b.chunks_exact(8);
    let mut at = 0;
    for w in &mut words {
        let mut a = [0u8; 8];
        a.copy_from_slice(w);
        let x = u64::from_le_bytes(a);
        let hit = below(x, 0x20)
            | zero(x ^ (ONES * u64::from(b'"')))
            | zero(x ^ (ONES * u64::from(b'\\')))
            | zero(x ^ (ONES * 0x7f));
        if hit != 0 {
            // The word holds one (a byte >= 0x80 can only hide nothing here:
            // the exact position is found byte by byte).
            break;
        }
        at += 8;
    }
    b.get(at..)?
        .iter()
        .position(|&c| ESCAPE[c as usize])
        .map(|i| at + i)
}

/// Append `s` as a JSON string literal.
pub fn string(buf: &mut Vec<u8>, s: &str) {
    buf.reserve(s.len() + 2);
    buf.push(b'"');
    let mut rest = s.as_bytes();
    // Copy runs of plain bytes whole; the scan looks at 8 bytes at a time.
    while let Some(i) = first_escape(rest) {
        let (plain, tail) = rest.split_at(i);
        buf.extend_from_slice(plain);
        let b = tail[0];
        match b {
            b'"' => buf.extend_from_slice(b"\\\""),
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'\n' => buf.extend_from_slice(b"\\n"),
            b'\r' => buf.extend_from_slice(b"\\r"),
            b'\t' => buf.extend_from_slice(b"\\t"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                buf.extend_from_slice(b"\\u00");
                buf.push(HEX[usize::from(b >> 4)]);
                buf.push(HEX[usize::from(b & 0xf)]);
            }
        }
        rest = &tail[1..];
    }
    buf.extend_from_slice(rest);
    buf.push(b'"');
}

impl<'b> Obj<'b> {
    pub fn new(buf: &'b mut Vec<u8>) -> Obj<'b> {
        buf.push(b'{');
        Obj { buf, first: true }
    }

    fn key(&mut self, k: &str) -> &mut Vec<u8> {
        if !self.first {
            self.buf.push(b',');
        }
        self.first = false;
        self.buf.push(b'"');
        self.buf.extend_from_slice(k.as_bytes());
        self.buf.extend_from_slice(b"\":");
        self.buf
    }

    pub fn str(&mut self, k: &str, v: &str) -> &mut Self {
        let b = self.key(k);
        string(b, v);
        self
    }

    pub fn opt_str(&mut self, k: &str, v: Option<&str>) -> &mut Self {
        match v {
            Some(v) => self.str(k, v),
            None => self.null(k),
        }
    }

    pub fn display(&mut self, k: &str, v: impl std::fmt::Display) -> &mut Self {
        let s = v.to_string();
        self.str(k, &s)
    }

    /// A value whose text needs no JSON escaping (timestamps, endpoints),
    /// formatted straight into the buffer.
    pub fn display_plain(&mut self, k: &str, v: impl std::fmt::Display) -> &mut Self {
        use std::io::Write as _;
        let b = self.key(k);
        b.push(b'"');
        let _ = write!(b, "{v}");
        b.push(b'"');
        self
    }

    /// A capture timestamp as an RFC 3339 string.
    pub fn ts(&mut self, k: &str, v: crate::capture::Ts) -> &mut Self {
        let (t, n) = v.rfc3339();
        let b = self.key(k);
        b.push(b'"');
        b.extend_from_slice(&t[..n]);
        b.push(b'"');
        self
    }

    /// An endpoint as `"a.b.c.d:port"` / `"[v6]:port"`.
    pub fn endpoint(&mut self, k: &str, v: crate::flow::Endpoint) -> &mut Self {
        let b = self.key(k);
        b.push(b'"');
        v.write_to(b);
        b.push(b'"');
        self
    }

    pub fn u64(&mut self, k: &str, v: u64) -> &mut Self {
        let b = self.key(k);
        itoa(b, v);
        self
    }

    /// Seconds with microsecond precision (finite values; others are null).
    pub fn secs(&mut self, k: &str, v: f64) -> &mut Self {
        if !v.is_finite() {
            return self.null(k);
        }
        use std::io::Write as _;
        let b = self.key(k);
        let _ = write!(b, "{v:.6}");
        self
    }

    pub fn opt_u64(&mut self, k: &str, v: Option<u64>) -> &mut Self {
        match v {
            Some(v) => self.u64(k, v),
            None => self.null(k),
        }
    }

    pub fn bool(&mut self, k: &str, v: bool) -> &mut Self {
        let b = self.key(k);
        b.extend_from_slice(if v { b"true" } else { b"false" });
        self
    }

    pub fn opt_bool(&mut self, k: &str, v: Option<bool>) -> &mut Self {
        match v {
            Some(v) => self.bool(k, v),
            None => self.null(k),
        }
    }

    pub fn null(&mut self, k: &str) -> &mut Self {
        self.key(k).extend_from_slice(b"null");
        self
    }

    /// A value written by `f` (raw JSON).
    /// Fields already rendered (`"a":1,"b":2`), as if written one by one.
    pub fn fields(&mut self, rendered: &[u8]) -> &mut Self {
        if rendered.is_empty() {
            return self;
        }
        if !self.first {
            self.buf.push(b',');
        }
        self.first = false;
        self.buf.extend_from_slice(rendered);
        self
    }

    pub fn raw(&mut self, k: &str, f: impl FnOnce(&mut Vec<u8>)) -> &mut Self {
        let b = self.key(k);
        f(b);
        self
    }

    pub fn str_list<'s>(&mut self, k: &str, v: impl IntoIterator<Item = &'s str>) -> &mut Self {
        let b = self.key(k);
        b.push(b'[');
        for (i, s) in v.into_iter().enumerate() {
            if i > 0 {
                b.push(b',');
            }
            string(b, s);
        }
        b.push(b']');
        self
    }

    pub fn u64_list(&mut self, k: &str, v: impl IntoIterator<Item = u64>) -> &mut Self {
        let b = self.key(k);
        b.push(b'[');
        for (i, n) in v.into_iter().enumerate() {
            if i > 0 {
                b.push(b',');
            }
            itoa(b, n);
        }
        b.push(b']');
        self
    }

    pub fn end(&mut self) {
        self.buf.push(b'}');
    }
}

/// Append the decimal digits of `v`.
pub fn itoa(b: &mut Vec<u8>, mut v: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    b.extend_from_slice(&tmp[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_escape_equals_a_scan_byte_by_byte() {
        let scan = |b: &[u8]| b.iter().position(|&c| ESCAPE[c as usize]);
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let alphabet: Vec<u8> = (0..=255u8).collect();
        for len in 0..200 {
            for _ in 0..50 {
                let s: Vec<u8> = (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        // mostly plain text, sometimes any byte
                        if x % 16 == 0 {
                            alphabet[(x >> 8) as usize % 256]
                        } else {
                            b'a' + (x >> 8) as u8 % 26
                        }
                    })
                    .collect();
                assert_eq!(first_escape(&s), scan(&s), "{s:?}");
            }
        }
        for c in 0..=255u8 {
            for at in 0..17 {
                let mut s = vec![b'x'; 17];
                s[at] = c;
                assert_eq!(first_escape(&s), scan(&s), "{c} at {at}");
            }
        }
    }

    #[test]
    fn writes_valid_json() {
        let mut b = Vec::new();
        Obj::new(&mut b)
            .str("s", "a\"b\\c\n\u{1}é<")
            .u64("n", 1234567890123)
            .u64("z", 0)
            .bool("t", true)
            .null("x")
            .str_list("l", ["a", "b"])
            .u64_list("f", [1, 2])
            .end();
        let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v["s"], "a\"b\\c\n\u{1}é<");
        assert_eq!(v["n"], 1234567890123u64);
        assert_eq!(v["z"], 0);
        assert_eq!(v["l"][1], "b");
        assert_eq!(v["f"][1], 2);
    }
}
