//! Push-style HTTP/1.x head parsing (via `httparse`) and body skipping.
//!
//! Nothing here buffers input: [`parse_request`] / [`parse_response`] look at
//! the caller's buffer and say how many bytes the head took, and
//! [`BodySkipper`] walks over a body (including chunked encoding) one chunk of
//! input at a time, keeping only a few counters.

use std::fmt;

/// Limits for head parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Largest head (start line + headers + blank line) accepted.
    pub max_head_bytes: usize,
    /// Largest number of header fields accepted.
    pub max_headers: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_head_bytes: 64 * 1024,
            max_headers: 100,
        }
    }
}

/// Longest method token accepted before the input is declared "not HTTP".
const MAX_METHOD_LEN: usize = 32;
/// Longest chunk-size line (size + extensions) accepted by [`BodySkipper`].
pub const MAX_CHUNK_LINE: usize = 4096;
/// Most trailer bytes accepted after the last chunk by [`BodySkipper`].
pub const MAX_TRAILER_BYTES: usize = 64 * 1024;
/// Header array size tried first; grown up to `HttpLimits::max_headers`.
const INITIAL_HEADERS: usize = 32;

/// An HTTP-level problem. `code()` is stable and snake_case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// No complete head within `max_head_bytes`.
    HeadTooLarge {
        /// The limit in force.
        limit: usize,
    },
    /// More header fields than `max_headers`.
    TooManyHeaders {
        /// The limit in force.
        limit: usize,
    },
    /// The bytes do not look like an HTTP/1.x head at all.
    NotHttp(String),
    /// HTTP-looking but syntactically broken head.
    Malformed(String),
    /// Content-Length not a valid decimal number.
    ContentLengthInvalid(String),
    /// Several Content-Length values that differ.
    ContentLengthConflict(String),
    /// Both Transfer-Encoding and Content-Length (Transfer-Encoding wins).
    TransferEncodingWithContentLength,
    /// Transfer-Encoding whose final coding is not `chunked`.
    TransferEncodingNotChunked(String),
    /// Broken chunked framing in a body.
    ChunkedMalformed(String),
}

impl HttpError {
    /// Stable snake_case identifier.
    pub fn code(&self) -> &'static str {
        match self {
            HttpError::HeadTooLarge { .. } => "http_head_too_large",
            HttpError::TooManyHeaders { .. } => "http_too_many_headers",
            HttpError::NotHttp(_) => "http_not_http",
            HttpError::Malformed(_) => "http_malformed",
            HttpError::ContentLengthInvalid(_) => "http_content_length_invalid",
            HttpError::ContentLengthConflict(_) => "http_content_length_conflict",
            HttpError::TransferEncodingWithContentLength => "http_te_with_content_length",
            HttpError::TransferEncodingNotChunked(_) => "http_te_not_chunked",
            HttpError::ChunkedMalformed(_) => "http_chunked_malformed",
        }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::HeadTooLarge { limit } => {
                write!(f, "no complete HTTP head within {limit} bytes")
            }
            HttpError::TooManyHeaders { limit } => {
                write!(f, "more than {limit} header fields")
            }
            HttpError::NotHttp(s) => write!(f, "not HTTP: {s}"),
            HttpError::Malformed(s) => write!(f, "malformed HTTP head: {s}"),
            HttpError::ContentLengthInvalid(v) => write!(f, "invalid Content-Length: {v:?}"),
            HttpError::ContentLengthConflict(v) => {
                write!(f, "conflicting Content-Length values: {v}")
            }
            HttpError::TransferEncodingWithContentLength => {
                write!(
                    f,
                    "both Transfer-Encoding and Content-Length present (Transfer-Encoding used)"
                )
            }
            HttpError::TransferEncodingNotChunked(v) => {
                write!(f, "Transfer-Encoding {v:?} does not end with chunked")
            }
            HttpError::ChunkedMalformed(s) => write!(f, "malformed chunked body: {s}"),
        }
    }
}

impl std::error::Error for HttpError {}

/// Result of a head parse attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Head<T> {
    /// A complete head and the number of bytes it occupied (incl. the blank line).
    Complete(T, usize),
    /// More bytes are needed (buffer still under `max_head_bytes`).
    Partial,
    /// Not parseable; the stream is not (or no longer) valid HTTP.
    Error(HttpError),
}

/// Header fields in wire order, duplicates kept. Values are decoded lossily.
/// Stored as one text buffer and the spans of each name and value: two
/// allocations per head, not two per field (heads are kept as evidence for
/// every Upgrade).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers {
    text: String,
    /// Name start, name end, value end (the value starts at name end).
    spans: Vec<[u32; 3]>,
}

impl std::fmt::Debug for Headers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<N: AsRef<str>, V: AsRef<str>> FromIterator<(N, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(it: I) -> Self {
        let mut h = Headers::default();
        for (n, v) in it {
            h.push(n.as_ref(), v.as_ref());
        }
        h
    }
}

impl Headers {
    /// Add a field at the end. Heads are bounded by `HttpLimits` (64 KiB), far
    /// below the u32 offsets.
    pub fn push(&mut self, name: &str, value: &str) {
        let start = self.text.len() as u32;
        self.text.push_str(name);
        let mid = self.text.len() as u32;
        self.text.push_str(value);
        self.spans.push([start, mid, self.text.len() as u32]);
    }

    fn pair(&self, s: &[u32; 3]) -> (&str, &str) {
        let [a, b, c] = s.map(|x| x as usize);
        (
            self.text.get(a..b).unwrap_or(""),
            self.text.get(b..c).unwrap_or(""),
        )
    }

    /// First value of `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.get_all(name).next()
    }

    /// All values of `name` (case-insensitive), in order. Names are compared
    /// by length first, from the spans, so most fields are passed over
    /// without being sliced.
    pub fn get_all<'a, 'n>(&'a self, name: &'n str) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
        let n = name.as_bytes();
        let t = self.text.as_bytes();
        self.spans.iter().filter_map(move |&[a, b, c]| {
            let (a, b, c) = (a as usize, b as usize, c as usize);
            if b.wrapping_sub(a) != n.len() || !t.get(a..b)?.eq_ignore_ascii_case(n) {
                return None;
            }
            Some(self.text.get(b..c).unwrap_or(""))
        })
    }

    /// Number of fields named `name` (case-insensitive).
    pub fn count(&self, name: &str) -> usize {
        self.get_all(name).count()
    }

    /// True when any `name` field holds `token` in its comma-separated list
    /// (case-insensitive, surrounding whitespace ignored).
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.get_all(name)
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// All (name, value) pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.spans.iter().map(|s| self.pair(s))
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// True when there are no fields.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }
}

/// A parsed request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Method token, e.g. `GET`.
    pub method: String,
    /// Request target as sent.
    pub uri: String,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor_version: u8,
    /// Header fields.
    pub headers: Headers,
}

/// A parsed response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Reason phrase (may be empty).
    pub reason: String,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor_version: u8,
    /// Header fields.
    pub headers: Headers,
}

fn convert_headers(h: &[httparse::Header<'_>]) -> Headers {
    let mut out = Headers {
        text: String::with_capacity(
            h.iter()
                .map(|h| h.name.len().saturating_add(h.value.len()))
                .fold(0usize, usize::saturating_add),
        ),
        spans: Vec::with_capacity(h.len()),
    };
    for f in h {
        out.push(f.name, &super::lossy(f.value));
    }
    out
}

fn map_parse_error(e: httparse::Error, is_request: bool, start_line_done: bool) -> HttpError {
    // Errors in the start line mean "this is not HTTP"; later ones are malformed HTTP.
    let msg = e.to_string();
    match e {
        httparse::Error::Version if !is_request => HttpError::NotHttp(msg),
        httparse::Error::Token | httparse::Error::Version | httparse::Error::Status
            if !start_line_done =>
        {
            HttpError::NotHttp(msg)
        }
        _ => HttpError::Malformed(msg),
    }
}

/// True when `buf` holds a complete start line (a LF after a non-empty line).
fn start_line_complete(buf: &[u8]) -> bool {
    // httparse skips leading empty lines
    let i = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len());
    buf.get(i..)
        .is_some_and(|rest| memchr::memchr(b'\n', rest).is_some())
}

/// Quick rejection of non-HTTP request bytes that httparse would keep calling partial.
fn quick_request_check(buf: &[u8]) -> Option<HttpError> {
    let start = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len());
    let rest = buf.get(start..).unwrap_or(&[]);
    let window = rest.get(..MAX_METHOD_LEN.saturating_add(1)).unwrap_or(rest);
    if window.len() > MAX_METHOD_LEN && !window.contains(&b' ') {
        return Some(HttpError::NotHttp(format!(
            "no method token within {MAX_METHOD_LEN} bytes"
        )));
    }
    None
}

/// Quick rejection of non-HTTP response bytes: must start with `HTTP/`.
fn quick_response_check(buf: &[u8]) -> Option<HttpError> {
    let start = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len());
    let rest = buf.get(start..).unwrap_or(&[]);
    let n = rest.len().min(5);
    if rest.get(..n) != b"HTTP/".get(..n) {
        return Some(HttpError::NotHttp(
            "response does not start with HTTP/".into(),
        ));
    }
    None
}

/// Parses a request head from the start of `buf`.
pub fn parse_request(buf: &[u8], lim: &HttpLimits) -> Head<Request> {
    let view = buf.get(..lim.max_head_bytes).unwrap_or(buf);
    if let Some(e) = quick_request_check(view) {
        return Head::Error(e);
    }
    let mut n = INITIAL_HEADERS.min(lim.max_headers.max(1));
    loop {
        let mut hdrs = vec![httparse::EMPTY_HEADER; n];
        let mut req = httparse::Request::new(&mut hdrs);
        match req.parse(view) {
            Ok(httparse::Status::Complete(len)) => {
                return Head::Complete(
                    Request {
                        method: req.method.unwrap_or_default().to_string(),
                        uri: req.path.unwrap_or_default().to_string(),
                        minor_version: req.version.unwrap_or(1),
                        headers: convert_headers(req.headers),
                    },
                    len,
                );
            }
            Ok(httparse::Status::Partial) => return partial(buf, lim),
            Err(httparse::Error::TooManyHeaders) => {
                if n >= lim.max_headers {
                    return Head::Error(HttpError::TooManyHeaders {
                        limit: lim.max_headers,
                    });
                }
                n = n.saturating_mul(2).min(lim.max_headers);
            }
            Err(e) => return Head::Error(map_parse_error(e, true, start_line_complete(view))),
        }
    }
}

/// Parses a response head from the start of `buf`.
pub fn parse_response(buf: &[u8], lim: &HttpLimits) -> Head<Response> {
    let view = buf.get(..lim.max_head_bytes).unwrap_or(buf);
    if let Some(e) = quick_response_check(view) {
        return Head::Error(e);
    }
    let mut cfg = httparse::ParserConfig::default();
    cfg.allow_spaces_after_header_name_in_responses(true)
        .allow_obsolete_multiline_headers_in_responses(true);
    let mut n = INITIAL_HEADERS.min(lim.max_headers.max(1));
    loop {
        let mut hdrs = vec![httparse::EMPTY_HEADER; n];
        let mut resp = httparse::Response::new(&mut hdrs);
        match cfg.parse_response(&mut resp, view) {
            Ok(httparse::Status::Complete(len)) => {
                return Head::Complete(
                    Response {
                        status: resp.code.unwrap_or_default(),
                        reason: resp.reason.unwrap_or_default().to_string(),
                        minor_version: resp.version.unwrap_or(1),
                        headers: convert_headers(resp.headers),
                    },
                    len,
                );
            }
            Ok(httparse::Status::Partial) => return partial(buf, lim),
            Err(httparse::Error::TooManyHeaders) => {
                if n >= lim.max_headers {
                    return Head::Error(HttpError::TooManyHeaders {
                        limit: lim.max_headers,
                    });
                }
                n = n.saturating_mul(2).min(lim.max_headers);
            }
            Err(e) => return Head::Error(map_parse_error(e, false, start_line_complete(view))),
        }
    }
}

fn partial<T>(buf: &[u8], lim: &HttpLimits) -> Head<T> {
    if buf.len() >= lim.max_head_bytes {
        Head::Error(HttpError::HeadTooLarge {
            limit: lim.max_head_bytes,
        })
    } else {
        Head::Partial
    }
}

/// How a message body is delimited (RFC 9112 section 6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// No body.
    None,
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
    /// Everything until the connection closes.
    UntilClose,
}

/// Body framing decision plus any problems found while deciding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyInfo {
    /// The framing to use.
    pub kind: BodyKind,
    /// Problems (Content-Length / Transfer-Encoding issues).
    pub problems: Vec<HttpError>,
}

/// Result of Content-Length examination.
enum Cl {
    Absent,
    Valid(u64),
    Invalid,
}

fn content_length(h: &Headers, problems: &mut Vec<HttpError>) -> Cl {
    let mut found: Option<u64> = None;
    let mut all = Vec::new();
    for v in h.get_all("content-length") {
        for part in v.split(',') {
            let p = part.trim();
            all.push(p.to_string());
            let ok = !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
            let parsed = if ok { p.parse::<u64>().ok() } else { None };
            match parsed {
                None => {
                    problems.push(HttpError::ContentLengthInvalid(v.to_string()));
                    return Cl::Invalid;
                }
                Some(n) => match found {
                    Some(prev) if prev != n => {
                        problems.push(HttpError::ContentLengthConflict(all.join(", ")));
                        return Cl::Invalid;
                    }
                    _ => found = Some(n),
                },
            }
        }
    }
    match found {
        Some(n) => Cl::Valid(n),
        None if all.is_empty() => Cl::Absent,
        None => Cl::Invalid,
    }
}

/// Final transfer coding is chunked? `None` when there is no Transfer-Encoding.
fn te_chunked(h: &Headers) -> Option<(bool, String)> {
    if h.count("transfer-encoding") == 0 {
        return None;
    }
    let joined = h
        .get_all("transfer-encoding")
        .collect::<Vec<_>>()
        .join(", ");
    let last = joined
        .split(',')
        .map(str::trim)
        .rfind(|s| !s.is_empty())
        .unwrap_or("");
    // a coding may carry parameters: "chunked;foo=bar" is not valid, but be tolerant
    let last = last.split(';').next().unwrap_or("").trim();
    Some((last.eq_ignore_ascii_case("chunked"), joined))
}

/// RFC 9112 6.3 rules 3-4: with Transfer-Encoding, the body is chunked
/// when chunked is last, else it runs until the connection closes.
/// Content-Length beside it is reported. None without Transfer-Encoding.
fn transfer_encoding_body(h: &Headers, problems: &mut Vec<HttpError>) -> Option<BodyInfo> {
    let (chunked, joined) = te_chunked(h)?;
    if h.count("content-length") > 0 {
        problems.push(HttpError::TransferEncodingWithContentLength);
    }
    if !chunked {
        problems.push(HttpError::TransferEncodingNotChunked(joined));
    }
    Some(BodyInfo {
        kind: if chunked {
            BodyKind::Chunked
        } else {
            BodyKind::UntilClose
        },
        problems: std::mem::take(problems),
    })
}

/// Body framing of a request, with problems.
///
/// Invalid Content-Length in a request: the server would answer 400 and close;
/// we assume no body ([`BodyKind::None`]) and report.
pub fn body_info_request(req: &Request) -> BodyInfo {
    let mut problems = Vec::new();
    let h = &req.headers;
    // RFC 9112 6.3 rule 4: a request not chunked last: the server responds
    // 400 and closes; the rest is unknowable.
    if let Some(info) = transfer_encoding_body(h, &mut problems) {
        return info;
    }
    let kind = match content_length(h, &mut problems) {
        Cl::Valid(0) | Cl::Absent | Cl::Invalid => BodyKind::None,
        Cl::Valid(n) => BodyKind::Length(n),
    };
    BodyInfo { kind, problems }
}

/// Body framing of a response to a request with method `request_method`
/// (`None` if unknown), with problems.
///
/// 1xx (incl. 101), 204, 304 and responses to HEAD have no body; a 2xx to
/// CONNECT turns into a tunnel ([`BodyKind::UntilClose`]). After a 101 the
/// connection switches protocols: the caller must stop parsing HTTP.
pub fn body_info_response(resp: &Response, request_method: Option<&str>) -> BodyInfo {
    let mut problems = Vec::new();
    let s = resp.status;
    let method = request_method.unwrap_or("");
    if method.eq_ignore_ascii_case("HEAD") || (100..200).contains(&s) || s == 204 || s == 304 {
        return BodyInfo {
            kind: BodyKind::None,
            problems,
        };
    }
    if method.eq_ignore_ascii_case("CONNECT") && (200..300).contains(&s) {
        return BodyInfo {
            kind: BodyKind::UntilClose,
            problems,
        };
    }
    let h = &resp.headers;
    if let Some(info) = transfer_encoding_body(h, &mut problems) {
        return info;
    }
    let kind = match content_length(h, &mut problems) {
        Cl::Valid(0) => BodyKind::None,
        Cl::Valid(n) => BodyKind::Length(n),
        Cl::Absent | Cl::Invalid => BodyKind::UntilClose,
    };
    BodyInfo { kind, problems }
}

/// Body framing of a request (see [`body_info_request`] for problems).
pub fn body_kind_request(req: &Request) -> BodyKind {
    body_info_request(req).kind
}

/// Body framing of a response (see [`body_info_response`] for problems).
pub fn body_kind_response(resp: &Response, request_method: Option<&str>) -> BodyKind {
    body_info_response(resp, request_method).kind
}

/// Result of one [`BodySkipper::feed`] call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip {
    /// Bytes of the input that belong to the body (framing included).
    pub consumed: usize,
    /// The body is complete (or broken: see `error`); the bytes after
    /// `consumed` belong to whatever follows.
    pub done: bool,
    /// Set (once, with `done`) when chunked framing is broken.
    pub error: Option<HttpError>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SkipState {
    Done,
    Length(u64),
    UntilClose,
    /// Expecting the first hex digit of a chunk size.
    SizeStart,
    /// Reading hex digits; `len` bytes of line seen so far.
    Size {
        size: u64,
        len: usize,
    },
    /// In extensions/whitespace after the size, until LF.
    SizeExt {
        size: u64,
        len: usize,
    },
    /// Chunk data.
    Data(u64),
    /// CRLF after chunk data; `cr` = CR already seen.
    DataEnd {
        cr: bool,
    },
    /// Trailer section; `line` bytes on the current line, `total` overall.
    Trailer {
        line: usize,
        total: usize,
    },
    Failed,
}

/// Push state machine that walks over a body without buffering it.
#[derive(Debug, Clone)]
pub struct BodySkipper {
    state: SkipState,
    body_bytes: u64,
}

impl BodySkipper {
    /// A skipper for a body of the given kind.
    pub fn new(kind: BodyKind) -> Self {
        let state = match kind {
            BodyKind::None | BodyKind::Length(0) => SkipState::Done,
            BodyKind::Length(n) => SkipState::Length(n),
            BodyKind::Chunked => SkipState::SizeStart,
            BodyKind::UntilClose => SkipState::UntilClose,
        };
        BodySkipper {
            state,
            body_bytes: 0,
        }
    }

    /// True once the body is complete (or broken).
    pub fn is_done(&self) -> bool {
        matches!(self.state, SkipState::Done | SkipState::Failed)
    }

    /// De-chunked body bytes passed over so far.
    pub fn body_bytes(&self) -> u64 {
        self.body_bytes
    }

    /// Consumes body bytes from `buf`.
    pub fn feed(&mut self, buf: &[u8]) -> Skip {
        self.feed_with(buf, &mut |_| {})
    }

    /// Like [`feed`](Self::feed), handing the (de-chunked) body bytes to `on_body`.
    pub fn feed_with(&mut self, buf: &[u8], on_body: &mut dyn FnMut(&[u8])) -> Skip {
        let mut i = 0usize;
        while let Some(rest) = buf.get(i..).filter(|r| !r.is_empty()) {
            match self.state {
                SkipState::Done | SkipState::Failed => break,
                SkipState::UntilClose => {
                    on_body(rest);
                    self.count(rest.len());
                    i = buf.len();
                }
                SkipState::Length(rem) | SkipState::Data(rem) => {
                    let n = usize::try_from(rem).unwrap_or(usize::MAX).min(rest.len());
                    let piece = rest.get(..n).unwrap_or(rest);
                    on_body(piece);
                    self.count(n);
                    i = i.saturating_add(n);
                    let left = rem.saturating_sub(n as u64);
                    self.state = match (self.state, left) {
                        (SkipState::Length(_), 0) => SkipState::Done,
                        (SkipState::Length(_), l) => SkipState::Length(l),
                        (_, 0) => SkipState::DataEnd { cr: false },
                        (_, l) => SkipState::Data(l),
                    };
                }
                _ => {
                    let Some(&b) = rest.first() else { break };
                    i = i.saturating_add(1);
                    if let Err(msg) = self.step(b) {
                        self.state = SkipState::Failed;
                        return Skip {
                            consumed: i,
                            done: true,
                            error: Some(HttpError::ChunkedMalformed(msg)),
                        };
                    }
                }
            }
        }
        Skip {
            consumed: i,
            done: self.is_done(),
            error: None,
        }
    }

    fn count(&mut self, n: usize) {
        self.body_bytes = self.body_bytes.saturating_add(n as u64);
    }

    /// One framing byte of chunked encoding.
    fn step(&mut self, b: u8) -> Result<(), String> {
        self.state = match self.state {
            SkipState::SizeStart => match hex_val(b) {
                Some(d) => SkipState::Size {
                    size: u64::from(d),
                    len: 1,
                },
                None => return Err(format!("expected chunk size, found byte 0x{b:02x}")),
            },
            SkipState::Size { size, len } => {
                let len = len.saturating_add(1);
                if len > MAX_CHUNK_LINE {
                    return Err(format!("chunk size line longer than {MAX_CHUNK_LINE}"));
                }
                if let Some(d) = hex_val(b) {
                    let size = size
                        .checked_mul(16)
                        .and_then(|s| s.checked_add(u64::from(d)))
                        .ok_or_else(|| "chunk size overflows 64 bits".to_string())?;
                    SkipState::Size { size, len }
                } else if b == b'\n' {
                    after_size_line(size)
                } else if matches!(b, b'\r' | b';' | b' ' | b'\t') {
                    SkipState::SizeExt { size, len }
                } else {
                    return Err(format!("invalid byte 0x{b:02x} in chunk size"));
                }
            }
            SkipState::SizeExt { size, len } => {
                let len = len.saturating_add(1);
                if len > MAX_CHUNK_LINE {
                    return Err(format!("chunk size line longer than {MAX_CHUNK_LINE}"));
                }
                if b == b'\n' {
                    after_size_line(size)
                } else {
                    SkipState::SizeExt { size, len }
                }
            }
            SkipState::DataEnd { cr } => match b {
                b'\r' if !cr => SkipState::DataEnd { cr: true },
                b'\n' => SkipState::SizeStart,
                _ => return Err(format!("expected CRLF after chunk data, found 0x{b:02x}")),
            },
            SkipState::Trailer { line, total } => {
                let total = total.saturating_add(1);
                if total > MAX_TRAILER_BYTES {
                    return Err(format!("trailer section longer than {MAX_TRAILER_BYTES}"));
                }
                match b {
                    b'\n' if line == 0 => SkipState::Done,
                    b'\n' => SkipState::Trailer { line: 0, total },
                    b'\r' => SkipState::Trailer { line, total },
                    _ => SkipState::Trailer {
                        line: line.saturating_add(1),
                        total,
                    },
                }
            }
            s => s,
        };
        Ok(())
    }
}

fn after_size_line(size: u64) -> SkipState {
    if size == 0 {
        SkipState::Trailer { line: 0, total: 0 }
    } else {
        SkipState::Data(size)
    }
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b.wrapping_sub(b'0')),
        b'a'..=b'f' => Some(b.wrapping_sub(b'a').wrapping_add(10)),
        b'A'..=b'F' => Some(b.wrapping_sub(b'A').wrapping_add(10)),
        _ => None,
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

    const REQ: &[u8] = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nX-Dup: a\r\nx-dup: b\r\n\r\nrest";

    #[test]
    fn request_every_prefix() {
        let lim = HttpLimits::default();
        let full = REQ.len() - 4;
        for n in 0..=REQ.len() {
            match parse_request(&REQ[..n], &lim) {
                Head::Complete(r, len) => {
                    assert!(n >= full, "complete too early at {n}");
                    assert_eq!(len, full);
                    assert_eq!(r.method, "GET");
                    assert_eq!(r.uri, "/chat");
                    assert_eq!(r.minor_version, 1);
                    assert_eq!(r.headers.get("UPGRADE"), Some("websocket"));
                    assert!(r.headers.has_token("connection", "upgrade"));
                    assert!(r.headers.has_token("connection", "Keep-Alive"));
                    assert_eq!(r.headers.count("x-dup"), 2);
                    assert_eq!(
                        r.headers.get_all("X-DUP").collect::<Vec<_>>(),
                        vec!["a", "b"]
                    );
                }
                Head::Partial => assert!(n < full, "partial at {n}"),
                Head::Error(e) => panic!("error at {n}: {e}"),
            }
        }
    }

    #[test]
    fn response_every_prefix() {
        let r = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n\x81\x05";
        let full = r.len() - 2;
        for n in 0..=r.len() {
            match parse_response(&r[..n], &HttpLimits::default()) {
                Head::Complete(resp, len) => {
                    assert!(n >= full);
                    assert_eq!(len, full);
                    assert_eq!(resp.status, 101);
                    assert_eq!(resp.reason, "Switching Protocols");
                }
                Head::Partial => assert!(n < full),
                Head::Error(e) => panic!("error at {n}: {e}"),
            }
        }
    }

    #[test]
    fn not_http_is_quick() {
        let lim = HttpLimits::default();
        let bin = [0x10u8, 0x20, 0x00, 0x04, b'M', b'Q', b'T', b'T'];
        assert!(matches!(
            parse_request(&bin, &lim),
            Head::Error(HttpError::NotHttp(_))
        ));
        assert!(matches!(
            parse_response(&bin, &lim),
            Head::Error(HttpError::NotHttp(_))
        ));
        assert!(matches!(parse_response(b"HTT", &lim), Head::Partial));
        let long = [b'A'; 100];
        assert!(matches!(
            parse_request(&long, &lim),
            Head::Error(HttpError::NotHttp(_))
        ));
    }

    #[test]
    fn head_too_large_and_too_many_headers() {
        let lim = HttpLimits {
            max_head_bytes: 100,
            max_headers: 3,
        };
        let mut big = b"GET / HTTP/1.1\r\nX: ".to_vec();
        big.extend(std::iter::repeat_n(b'a', 200));
        let e = match parse_request(&big, &lim) {
            Head::Error(e) => e,
            _ => panic!(),
        };
        assert_eq!(e.code(), "http_head_too_large");
        let many = b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n";
        match parse_request(many, &lim) {
            Head::Error(e) => assert_eq!(e.code(), "http_too_many_headers"),
            _ => panic!(),
        }
        // growth beyond the initial array works
        let mut h = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..80 {
            h.extend(format!("H{i}: v\r\n").bytes());
        }
        h.extend(b"\r\n");
        match parse_request(&h, &HttpLimits::default()) {
            Head::Complete(r, _) => assert_eq!(r.headers.len(), 80),
            _ => panic!(),
        }
    }

    #[test]
    fn body_kinds() {
        let req = |hs: &[(&str, &str)]| Request {
            method: "POST".into(),
            uri: "/".into(),
            minor_version: 1,
            headers: hs.iter().copied().collect(),
        };
        let resp = |s: u16, hs: &[(&str, &str)]| Response {
            status: s,
            reason: String::new(),
            minor_version: 1,
            headers: hs.iter().copied().collect(),
        };
        assert_eq!(body_kind_request(&req(&[])), BodyKind::None);
        assert_eq!(
            body_kind_request(&req(&[("Content-Length", "12")])),
            BodyKind::Length(12)
        );
        assert_eq!(
            body_kind_request(&req(&[("Transfer-Encoding", "gzip, chunked")])),
            BodyKind::Chunked
        );
        let bi = body_info_request(&req(&[("Content-Length", "5"), ("Content-Length", "6")]));
        assert_eq!(bi.problems[0].code(), "http_content_length_conflict");
        let bi = body_info_request(&req(&[("Content-Length", "5, 5")]));
        assert_eq!(bi.kind, BodyKind::Length(5));
        assert!(bi.problems.is_empty());
        let bi = body_info_response(&resp(200, &[("Content-Length", "-1")]), Some("GET"));
        assert_eq!(bi.kind, BodyKind::UntilClose);
        assert_eq!(bi.problems[0].code(), "http_content_length_invalid");
        let bi = body_info_response(
            &resp(
                200,
                &[("Content-Length", "3"), ("Transfer-Encoding", "chunked")],
            ),
            None,
        );
        assert_eq!(bi.kind, BodyKind::Chunked);
        assert_eq!(bi.problems[0].code(), "http_te_with_content_length");
        for s in [101, 100, 204, 304] {
            assert_eq!(
                body_kind_response(&resp(s, &[("Content-Length", "3")]), Some("GET")),
                BodyKind::None
            );
        }
        assert_eq!(
            body_kind_response(&resp(200, &[("Content-Length", "3")]), Some("HEAD")),
            BodyKind::None
        );
        assert_eq!(
            body_kind_response(&resp(400, &[]), Some("GET")),
            BodyKind::UntilClose
        );
        assert_eq!(
            body_kind_response(&resp(200, &[]), Some("CONNECT")),
            BodyKind::UntilClose
        );
        assert_eq!(
            body_kind_response(&resp(403, &[("Content-Length", "0")]), None),
            BodyKind::None
        );
    }

    fn skip_all_splits(kind: BodyKind, input: &[u8]) -> (usize, Vec<u8>, Option<String>) {
        // reference: whole input at once
        let mut sk = BodySkipper::new(kind);
        let mut body = Vec::new();
        let r = sk.feed_with(input, &mut |b| body.extend_from_slice(b));
        let reference = (
            r.consumed,
            body,
            r.error.as_ref().map(|e| e.code().to_string()),
        );
        for split in 0..=input.len() {
            let mut sk = BodySkipper::new(kind);
            let mut body = Vec::new();
            let a = sk.feed_with(&input[..split], &mut |b| body.extend_from_slice(b));
            let (consumed, err) = if a.done {
                (a.consumed, a.error)
            } else {
                assert_eq!(a.consumed, split);
                let b = sk.feed_with(&input[split..], &mut |b| body.extend_from_slice(b));
                (split + b.consumed, b.error)
            };
            let got = (consumed, body, err.map(|e| e.code().to_string()));
            assert_eq!(got, reference, "split at {split}");
        }
        // byte by byte
        let mut sk = BodySkipper::new(kind);
        let mut body = Vec::new();
        let mut consumed = 0;
        let mut err = None;
        for b in input {
            if sk.is_done() {
                break;
            }
            let r = sk.feed_with(std::slice::from_ref(b), &mut |x| body.extend_from_slice(x));
            consumed += r.consumed;
            if r.error.is_some() {
                err = r.error.map(|e| e.code().to_string());
            }
        }
        assert_eq!((consumed, body, err), reference);
        reference
    }

    #[test]
    fn chunked_every_split() {
        let input = b"4;ext=1\r\nWiki\r\n5\r\npedia\r\nE \r\n in\r\n\r\nchunks.\r\n0\r\nTrailer: x\r\n\r\nNEXT";
        let (consumed, body, err) = skip_all_splits(BodyKind::Chunked, input);
        assert_eq!(consumed, input.len() - 4);
        assert_eq!(body, b"Wikipedia in\r\n\r\nchunks.");
        assert_eq!(err, None);
        // bare LF and no trailer
        let input = b"3\nabc\n0\n\nX";
        let (consumed, body, err) = skip_all_splits(BodyKind::Chunked, input);
        assert_eq!(
            (consumed, body.as_slice(), err),
            (input.len() - 1, &b"abc"[..], None)
        );
    }

    #[test]
    fn chunked_errors() {
        let (_, _, err) = skip_all_splits(BodyKind::Chunked, b"zz\r\n");
        assert_eq!(err.as_deref(), Some("http_chunked_malformed"));
        let (_, body, err) = skip_all_splits(BodyKind::Chunked, b"2\r\nabX\r\n");
        assert_eq!(body, b"ab");
        assert_eq!(err.as_deref(), Some("http_chunked_malformed"));
        let (_, _, err) = skip_all_splits(BodyKind::Chunked, b"fffffffffffffffff\r\n");
        assert_eq!(err.as_deref(), Some("http_chunked_malformed"));
        let mut long = b"1;".to_vec();
        long.extend(std::iter::repeat_n(b'x', MAX_CHUNK_LINE + 10));
        let mut sk = BodySkipper::new(BodyKind::Chunked);
        assert!(sk.feed(&long).error.is_some());
    }

    #[test]
    fn garbage_never_panics() {
        let mut x: u32 = 99;
        let mut data: Vec<u8> = (0..2000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        data.splice(0..0, b"GET / HTTP/1.1\r\nA: b\r\n".iter().copied());
        let lim = HttpLimits {
            max_head_bytes: 512,
            max_headers: 4,
        };
        for n in 0..data.len() {
            let _ = parse_request(&data[..n], &lim);
            let _ = parse_response(&data[..n], &lim);
            let _ = parse_request(&data[n..], &lim);
            let mut sk = BodySkipper::new(BodyKind::Chunked);
            let _ = sk.feed(&data[n..]);
        }
    }

    #[test]
    fn length_and_until_close() {
        let (consumed, body, _) = skip_all_splits(BodyKind::Length(5), b"helloworld");
        assert_eq!((consumed, body.as_slice()), (5, &b"hello"[..]));
        let (consumed, body, _) = skip_all_splits(BodyKind::UntilClose, b"abc");
        assert_eq!((consumed, body.as_slice()), (3, &b"abc"[..]));
        let mut sk = BodySkipper::new(BodyKind::None);
        assert_eq!(
            sk.feed(b"abc"),
            Skip {
                consumed: 0,
                done: true,
                error: None
            }
        );
    }
}
