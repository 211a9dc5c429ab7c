//! A small JSON object writer: records are written field by field into a
//! byte buffer, without building a tree.

use std::fmt::Write as _;

/// Writes one JSON object into `buf`.
pub struct Obj<'b> {
    buf: &'b mut Vec<u8>,
    first: bool,
}

/// Append `s` as a JSON string literal.
pub fn string(buf: &mut Vec<u8>, s: &str) {
    buf.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: Option<&[u8]> = match b {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            b'\t' => Some(b"\\t"),
            0..=0x1f | 0x7f => None,
            _ => continue,
        };
        buf.extend_from_slice(&bytes[start..i]);
        match esc {
            Some(e) => buf.extend_from_slice(e),
            None => {
                let mut s = String::new();
                let _ = write!(s, "\\u{:04x}", b);
                buf.extend_from_slice(s.as_bytes());
            }
        }
        start = i + 1;
    }
    buf.extend_from_slice(&bytes[start..]);
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
fn itoa(b: &mut Vec<u8>, mut v: u64) {
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
