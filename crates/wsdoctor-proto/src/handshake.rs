//! RFC 6455 opening handshake validation (plus RFC 7692 parameter checks).

use super::http::{Request, Response};
use base64::Engine as _;
use sha1::{Digest, Sha1};
use std::fmt;

/// The GUID of RFC 6455 section 1.3.
pub const WS_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// `base64(SHA-1(key + GUID))`: the Sec-WebSocket-Accept a server must send.
/// `key` is used as given (callers trim header whitespace).
pub fn accept_for_key(key: &str) -> String {
    let mut h = Sha1::new();
    h.update(key.as_bytes());
    h.update(WS_GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(h.finalize())
}

/// One extension from a Sec-WebSocket-Extensions value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    /// Extension token, e.g. `permessage-deflate`.
    pub name: String,
    /// Parameters in order; quoted values are unquoted.
    pub params: Vec<(String, Option<String>)>,
}

impl Extension {
    /// First value of parameter `name` (case-insensitive). `Some(None)` for a
    /// parameter without value.
    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_deref())
    }
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

impl fmt::Display for Extension {
    /// Canonical text, e.g. `permessage-deflate; client_max_window_bits=10`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        for (k, v) in &self.params {
            write!(f, "; {k}")?;
            if let Some(v) = v {
                if is_token(v) {
                    write!(f, "={v}")?;
                } else {
                    f.write_str("=\"")?;
                    for c in v.chars() {
                        if c == '"' || c == '\\' {
                            f.write_str("\\")?;
                        }
                        write!(f, "{c}")?;
                    }
                    f.write_str("\"")?;
                }
            }
        }
        Ok(())
    }
}

/// Splits `s` on `sep` outside double quotes (backslash escapes honoured).
fn split_outside_quotes(s: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_q = false;
    let mut esc = false;
    for (i, c) in s.char_indices() {
        if esc {
            esc = false;
            continue;
        }
        match c {
            '\\' if in_q => esc = true,
            '"' => in_q = !in_q,
            c if c == sep && !in_q => {
                out.push(s.get(start..i).unwrap_or(""));
                start = i.saturating_add(c.len_utf8());
            }
            _ => {}
        }
    }
    out.push(s.get(start..).unwrap_or(""));
    out
}

fn unquote(v: &str) -> String {
    let v = v.trim();
    match v.strip_prefix('"') {
        Some(inner) => {
            let inner = inner.strip_suffix('"').unwrap_or(inner);
            let mut out = String::with_capacity(inner.len());
            let mut esc = false;
            for c in inner.chars() {
                if esc {
                    out.push(c);
                    esc = false;
                } else if c == '\\' {
                    esc = true;
                } else {
                    out.push(c);
                }
            }
            out
        }
        None => v.to_string(),
    }
}

/// Parses a Sec-WebSocket-Extensions value (RFC 6455 section 9.1), tolerant:
/// empty elements are skipped, whitespace trimmed, quoted values unquoted.
pub fn parse_extensions(value: &str) -> Vec<Extension> {
    let mut out = Vec::new();
    for elem in split_outside_quotes(value, ',') {
        let mut parts = split_outside_quotes(elem, ';').into_iter();
        let name = parts.next().unwrap_or("").trim();
        if name.is_empty() {
            continue;
        }
        let params = parts
            .filter_map(|p| {
                let p = p.trim();
                if p.is_empty() {
                    return None;
                }
                Some(match p.split_once('=') {
                    Some((k, v)) => (k.trim().to_string(), Some(unquote(v))),
                    None => (p.to_string(), None),
                })
            })
            .collect();
        out.push(Extension {
            name: name.to_string(),
            params,
        });
    }
    out
}

/// How the handshake ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 101 with a valid handshake.
    Accepted,
    /// A final non-101 response.
    Rejected,
    /// The connection ended without a response.
    NoResponse,
    /// The connection was reset without a response.
    Reset,
    /// 101, but the handshake is invalid (a conforming client fails it).
    Invalid,
}

impl Outcome {
    /// "accepted", "rejected", "no_response", "reset" or "invalid".
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Rejected => "rejected",
            Outcome::NoResponse => "no_response",
            Outcome::Reset => "reset",
            Outcome::Invalid => "invalid",
        }
    }
}

pub use crate::Severity;

/// Stable code of a handshake [`Problem`]; [`ProblemCode::as_str`] is the
/// snake_case text used in reports (never changes for a given code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ProblemCode {
    /// The request is not HTTP/1.1 or later (RFC 6455 §4.1 requires it).
    HttpVersionTooOld,
    /// Sec-WebSocket-Accept of the 101 is not the value computed from the request key (§4.2.2): a conforming client fails.
    AcceptMismatch,
    /// The 101 has no Sec-WebSocket-Accept: a conforming client fails.
    AcceptMissing,
    /// Connection: Upgrade is missing (in the request, or in the 101).
    ConnectionHeaderMissing,
    /// permessage-deflate parameters that RFC 7692 §7 does not allow.
    DeflateParamsInvalid,
    /// The 101 selects an extension the request did not offer.
    ExtensionNotOffered,
    /// A handshake header that must appear once appears more than once.
    HeaderDuplicated,
    /// Sec-WebSocket-Key is not 16 bytes in base64 (§4.1).
    KeyInvalid,
    /// The request has no Sec-WebSocket-Key.
    KeyMissing,
    /// The Upgrade request's method is not GET.
    MethodNotGet,
    /// The 101 selects a subprotocol the request did not offer: a conforming client fails.
    SubprotocolNotOffered,
    /// Subprotocols were offered and the server selected none (a warning: clients differ).
    SubprotocolNotSelected,
    /// Upgrade: websocket is missing (in the request, or in the 101).
    UpgradeHeaderMissing,
    /// The request has no Sec-WebSocket-Version.
    VersionMissing,
    /// Sec-WebSocket-Version is not 13.
    VersionUnsupported,
}

impl ProblemCode {
    /// The snake_case code, e.g. `"ws_accept_mismatch"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ProblemCode::HttpVersionTooOld => "http_version_too_old",
            ProblemCode::AcceptMismatch => "ws_accept_mismatch",
            ProblemCode::AcceptMissing => "ws_accept_missing",
            ProblemCode::ConnectionHeaderMissing => "ws_connection_header_missing",
            ProblemCode::DeflateParamsInvalid => "ws_deflate_params_invalid",
            ProblemCode::ExtensionNotOffered => "ws_extension_not_offered",
            ProblemCode::HeaderDuplicated => "ws_header_duplicated",
            ProblemCode::KeyInvalid => "ws_key_invalid",
            ProblemCode::KeyMissing => "ws_key_missing",
            ProblemCode::MethodNotGet => "ws_method_not_get",
            ProblemCode::SubprotocolNotOffered => "ws_subprotocol_not_offered",
            ProblemCode::SubprotocolNotSelected => "ws_subprotocol_not_selected",
            ProblemCode::UpgradeHeaderMissing => "ws_upgrade_header_missing",
            ProblemCode::VersionMissing => "ws_version_missing",
            ProblemCode::VersionUnsupported => "ws_version_unsupported",
        }
    }
}

impl fmt::Display for ProblemCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for ProblemCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<str> for ProblemCode {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

/// One finding about the handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Stable code; [`ProblemCode::as_str`] is its snake_case text, e.g.
    /// `ws_accept_mismatch`.
    pub code: ProblemCode,
    /// Severity.
    pub severity: Severity,
    /// Human-readable text (expected vs found where relevant).
    pub message: String,
}

/// Negotiated permessage-deflate parameters (RFC 7692), from the 101.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflateParams {
    /// The server resets its compressor per message (server->client direction).
    pub server_no_context_takeover: bool,
    /// The client resets its compressor per message (client->server direction).
    pub client_no_context_takeover: bool,
    /// Server's LZ77 window bits (8..=15, default 15).
    pub server_max_window_bits: u8,
    /// Client's LZ77 window bits (8..=15, default 15).
    pub client_max_window_bits: u8,
}

impl Default for DeflateParams {
    fn default() -> Self {
        DeflateParams {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
        }
    }
}

/// Result of [`validate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handshake {
    /// Sec-WebSocket-Protocol values of the request, in order.
    pub protocols_offered: Vec<String>,
    /// Extension offers of the request, canonical text.
    pub extensions_offered: Vec<String>,
    /// Sec-WebSocket-Protocol of the response (trimmed).
    pub protocol_selected: Option<String>,
    /// Extensions of the response, canonical text.
    pub extensions_selected: Vec<String>,
    /// Sec-WebSocket-Accept found in the response.
    pub accept: Option<String>,
    /// Accept value computed from the request key.
    pub accept_expected: Option<String>,
    /// For a 101 with a request key: did the accept match (false if missing)?
    pub accept_valid: Option<bool>,
    /// Outcome.
    pub outcome: Outcome,
    /// Findings, in discovery order.
    pub problems: Vec<Problem>,
    /// permessage-deflate parameters when the 101 selected it.
    pub deflate: Option<DeflateParams>,
}

impl Handshake {
    /// True if any problem has this code.
    pub fn has_problem(&self, code: ProblemCode) -> bool {
        self.problems.iter().any(|p| p.code == code)
    }
}

struct Ctx {
    problems: Vec<Problem>,
    invalid: bool,
}

impl Ctx {
    fn push(&mut self, code: ProblemCode, severity: Severity, message: String) {
        self.problems.push(Problem {
            code,
            severity,
            message,
        });
    }
    /// An error that makes a 101 invalid.
    fn fatal(&mut self, code: ProblemCode, message: String) {
        self.invalid = true;
        self.push(code, Severity::Error, message);
    }
}

fn split_list(values: impl Iterator<Item = impl AsRef<str>>) -> Vec<String> {
    let mut out = Vec::new();
    for v in values {
        for p in v.as_ref().split(',') {
            let p = p.trim();
            if !p.is_empty() {
                out.push(p.to_string());
            }
        }
    }
    out
}

/// Validates an opening handshake.
///
/// `resp` is the final response (the caller skips 100 Continue); `None` when
/// the connection ended first, then `ended_by_reset` picks
/// [`Outcome::Reset`] over [`Outcome::NoResponse`].
///
/// Request-side problems are always reported but never change the outcome
/// (the server decided). For a 101 the outcome is [`Outcome::Invalid`] when a
/// conforming client must fail the connection: Sec-WebSocket-Accept missing,
/// mismatched or duplicated, Upgrade/Connection missing in the 101, an
/// extension or subprotocol selected that was not offered, invalid
/// permessage-deflate parameters. Deliberate deviation: RFC 6455 4.1 also
/// lets a client fail when it offered subprotocols and the server selects
/// none, but real clients (browsers, MQTT libraries) differ here, so that is
/// reported as the warning `ws_subprotocol_not_selected` and the outcome
/// stays [`Outcome::Accepted`].
pub fn validate(req: &Request, resp: Option<&Response>, ended_by_reset: bool) -> Handshake {
    let mut cx = Ctx {
        problems: Vec::new(),
        invalid: false,
    };
    let rh = &req.headers;

    // ---- request side ----
    if !req.method.eq_ignore_ascii_case("GET") {
        cx.push(
            ProblemCode::MethodNotGet,
            Severity::Error,
            format!("expected method GET, found {}", req.method),
        );
    }
    if req.minor_version < 1 {
        cx.push(
            ProblemCode::HttpVersionTooOld,
            Severity::Error,
            format!(
                "WebSocket upgrade requires HTTP/1.1, found HTTP/1.{}",
                req.minor_version
            ),
        );
    }
    if !rh.has_token("upgrade", "websocket") {
        cx.push(
            ProblemCode::UpgradeHeaderMissing,
            Severity::Error,
            format!(
                "request: expected Upgrade: websocket, found {}",
                show(rh.get("upgrade"))
            ),
        );
    }
    if !rh.has_token("connection", "upgrade") {
        cx.push(
            ProblemCode::ConnectionHeaderMissing,
            Severity::Error,
            format!(
                "request: expected Connection containing upgrade, found {}",
                show(rh.get("connection"))
            ),
        );
    }
    for name in ["Sec-WebSocket-Key", "Sec-WebSocket-Version"] {
        let n = rh.count(name);
        if n > 1 {
            cx.push(
                ProblemCode::HeaderDuplicated,
                Severity::Error,
                format!("request: {name} appears {n} times"),
            );
        }
    }
    let key = rh.get("sec-websocket-key").map(str::trim);
    let accept_expected = match key {
        None => {
            cx.push(
                ProblemCode::KeyMissing,
                Severity::Error,
                "request lacks Sec-WebSocket-Key".into(),
            );
            None
        }
        Some(k) => {
            let ok = k.len() == 24
                && base64::engine::general_purpose::STANDARD
                    .decode(k)
                    .is_ok_and(|d| d.len() == 16);
            if !ok {
                cx.push(
                    ProblemCode::KeyInvalid,
                    Severity::Error,
                    format!("Sec-WebSocket-Key must be 16 bytes base64-encoded, found {k:?}"),
                );
            }
            Some(accept_for_key(k))
        }
    };
    match rh.get("sec-websocket-version").map(str::trim) {
        None => cx.push(
            ProblemCode::VersionMissing,
            Severity::Error,
            "request lacks Sec-WebSocket-Version (expected 13)".into(),
        ),
        Some("13") => {}
        Some(v) => cx.push(
            ProblemCode::VersionUnsupported,
            Severity::Error,
            format!("expected Sec-WebSocket-Version 13, found {v:?}"),
        ),
    }
    let protocols_offered = split_list(rh.get_all("sec-websocket-protocol"));
    let offered_ext: Vec<Extension> = rh
        .get_all("sec-websocket-extensions")
        .flat_map(parse_extensions)
        .collect();

    let mut hs = Handshake {
        protocols_offered,
        extensions_offered: offered_ext.iter().map(|e| e.to_string()).collect(),
        protocol_selected: None,
        extensions_selected: Vec::new(),
        accept: None,
        accept_expected,
        accept_valid: None,
        outcome: Outcome::NoResponse,
        problems: Vec::new(),
        deflate: None,
    };

    let resp = match resp {
        None => {
            hs.outcome = if ended_by_reset {
                Outcome::Reset
            } else {
                Outcome::NoResponse
            };
            hs.problems = cx.problems;
            return hs;
        }
        Some(r) => r,
    };
    let sh = &resp.headers;
    hs.accept = sh.get("sec-websocket-accept").map(|s| s.trim().to_string());
    let selected_ext: Vec<Extension> = sh
        .get_all("sec-websocket-extensions")
        .flat_map(parse_extensions)
        .collect();
    hs.extensions_selected = selected_ext.iter().map(|e| e.to_string()).collect();
    let selected_protocols = split_list(sh.get_all("sec-websocket-protocol"));
    hs.protocol_selected = sh
        .get("sec-websocket-protocol")
        .map(|s| s.trim().to_string());

    if resp.status != 101 {
        hs.outcome = Outcome::Rejected;
        hs.problems = cx.problems;
        return hs;
    }

    // ---- 101 response ----
    if resp.minor_version < 1 {
        cx.push(
            ProblemCode::HttpVersionTooOld,
            Severity::Error,
            format!("101 response sent as HTTP/1.{}", resp.minor_version),
        );
    }
    if !sh.has_token("upgrade", "websocket") {
        cx.fatal(
            ProblemCode::UpgradeHeaderMissing,
            format!(
                "101 response: expected Upgrade: websocket, found {}",
                show(sh.get("upgrade"))
            ),
        );
    }
    if !sh.has_token("connection", "upgrade") {
        cx.fatal(
            ProblemCode::ConnectionHeaderMissing,
            format!(
                "101 response: expected Connection containing upgrade, found {}",
                show(sh.get("connection"))
            ),
        );
    }
    let n_accept = sh.count("sec-websocket-accept");
    if n_accept > 1 {
        cx.fatal(
            ProblemCode::HeaderDuplicated,
            format!("101 response: Sec-WebSocket-Accept appears {n_accept} times"),
        );
    }
    let n_proto = sh.count("sec-websocket-protocol");
    if n_proto > 1 {
        cx.fatal(
            ProblemCode::HeaderDuplicated,
            format!("101 response: Sec-WebSocket-Protocol appears {n_proto} times"),
        );
    }
    match (&hs.accept, &hs.accept_expected) {
        (None, exp) => {
            cx.fatal(
                ProblemCode::AcceptMissing,
                match exp {
                    Some(e) => format!("101 response lacks Sec-WebSocket-Accept (expected {e})"),
                    None => "101 response lacks Sec-WebSocket-Accept".into(),
                },
            );
            if exp.is_some() {
                hs.accept_valid = Some(false);
            }
        }
        (Some(found), Some(exp)) => {
            let ok = found == exp;
            hs.accept_valid = Some(ok);
            if !ok {
                cx.fatal(
                    ProblemCode::AcceptMismatch,
                    format!("Sec-WebSocket-Accept: expected {exp}, found {found}"),
                );
            }
        }
        (Some(_), None) => {} // no key: cannot check (ws_key_missing already reported)
    }

    // subprotocol
    if selected_protocols.len() > 1 {
        cx.fatal(
            ProblemCode::SubprotocolNotOffered,
            format!(
                "101 selects several subprotocols ({}), at most one allowed",
                selected_protocols.join(", ")
            ),
        );
    } else if let Some(sel) = selected_protocols.first() {
        if !hs.protocols_offered.iter().any(|p| p == sel) {
            let case_variant = hs
                .protocols_offered
                .iter()
                .find(|p| p.eq_ignore_ascii_case(sel));
            let offered = if hs.protocols_offered.is_empty() {
                "none".to_string()
            } else {
                hs.protocols_offered.join(", ")
            };
            let mut msg = format!("101 selects subprotocol {sel:?}; offered: {offered}");
            if let Some(v) = case_variant {
                msg.push_str(&format!(
                    " (offered {v:?} differs only in case; subprotocol names are case-sensitive)"
                ));
            }
            cx.fatal(ProblemCode::SubprotocolNotOffered, msg);
        }
    } else if !hs.protocols_offered.is_empty() {
        cx.push(
            ProblemCode::SubprotocolNotSelected,
            Severity::Warning,
            format!(
                "client offered {} but the 101 selects no subprotocol",
                hs.protocols_offered.join(", ")
            ),
        );
    }

    // extensions
    for e in &selected_ext {
        if !offered_ext
            .iter()
            .any(|o| o.name.eq_ignore_ascii_case(&e.name))
        {
            cx.fatal(
                ProblemCode::ExtensionNotOffered,
                format!(
                    "101 selects extension {e} which the client did not offer (offered: {})",
                    if hs.extensions_offered.is_empty() {
                        "none".to_string()
                    } else {
                        hs.extensions_offered.join(", ")
                    }
                ),
            );
        }
    }
    let pmd: Vec<&Extension> = selected_ext
        .iter()
        .filter(|e| e.name.eq_ignore_ascii_case("permessage-deflate"))
        .collect();
    if pmd.len() > 1 {
        cx.fatal(
            ProblemCode::DeflateParamsInvalid,
            "101 selects permessage-deflate more than once".into(),
        );
    }
    if let Some(e) = pmd.first() {
        let offers: Vec<&Extension> = offered_ext
            .iter()
            .filter(|o| o.name.eq_ignore_ascii_case("permessage-deflate"))
            .collect();
        hs.deflate = Some(deflate_params(e, &offers, &mut cx));
    }

    hs.outcome = if cx.invalid {
        Outcome::Invalid
    } else {
        Outcome::Accepted
    };
    hs.problems = cx.problems;
    hs
}

fn show(v: Option<&str>) -> String {
    match v {
        Some(v) => format!("{v:?}"),
        None => "nothing".into(),
    }
}

/// Reads the server's permessage-deflate response (RFC 7692 section 7.1).
/// Invalid parameters are reported (`ws_deflate_params_invalid`, fatal) and
/// defaults are used for them.
fn deflate_params(e: &Extension, offers: &[&Extension], cx: &mut Ctx) -> DeflateParams {
    let mut p = DeflateParams::default();
    let mut seen: Vec<String> = Vec::new();
    for (k, v) in &e.params {
        let kl = k.to_ascii_lowercase();
        if seen.contains(&kl) {
            cx.fatal(
                ProblemCode::DeflateParamsInvalid,
                format!("permessage-deflate parameter {k} appears more than once"),
            );
            continue;
        }
        seen.push(kl.clone());
        match kl.as_str() {
            "server_no_context_takeover" | "client_no_context_takeover" => {
                if v.is_some() {
                    cx.fatal(
                        ProblemCode::DeflateParamsInvalid,
                        format!("permessage-deflate {k} takes no value"),
                    );
                }
                if kl == "server_no_context_takeover" {
                    p.server_no_context_takeover = true;
                } else {
                    p.client_no_context_takeover = true;
                }
            }
            "server_max_window_bits" | "client_max_window_bits" => {
                let bits = v.as_deref().and_then(|s| {
                    if s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit()) {
                        s.parse::<u8>().ok().filter(|b| (8..=15).contains(b))
                    } else {
                        None
                    }
                });
                match bits {
                    Some(b) => {
                        if kl == "server_max_window_bits" {
                            p.server_max_window_bits = b;
                        } else {
                            p.client_max_window_bits = b;
                            if !offers
                                .iter()
                                .any(|o| o.param("client_max_window_bits").is_some())
                            {
                                cx.fatal(
                                    ProblemCode::DeflateParamsInvalid,
                                    "101 sets client_max_window_bits but the client did not offer it"
                                        .into(),
                                );
                            }
                        }
                    }
                    None => cx.fatal(
                        ProblemCode::DeflateParamsInvalid,
                        format!(
                            "permessage-deflate {k}: expected a value 8..15, found {}",
                            show(v.as_deref())
                        ),
                    ),
                }
            }
            _ => cx.fatal(
                ProblemCode::DeflateParamsInvalid,
                format!("unknown permessage-deflate parameter {k}"),
            ),
        }
    }
    p
}

/// Everything about one Upgrade request and its answer.
#[derive(Clone, Debug)]
pub struct UpgradeInfo {
    /// Capture frame number (1-based, as Wireshark counts) where the
    /// request head ended.
    pub request_frame: u64,
    /// Capture time of the request (seconds since the epoch).
    pub request_ts: f64,
    /// Frame where the final response head ended; `None` without a response.
    pub response_frame: Option<u64>,
    /// The request head.
    pub request: Request,
    /// The final response head (after any 100 Continue); `None` when the
    /// connection ended first.
    pub response: Option<Response>,
    /// The request asks for `websocket` (not h2c or others).
    pub websocket: bool,
    /// The handshake checked against RFC 6455 §4 ([`validate`]).
    pub handshake: Handshake,
    /// The server product that answered, when anything identifies it
    /// ([`crate::server::identify_server`]).
    pub server: Option<super::server::ServerProduct>,
    /// The first bytes of the response body (an error page), at most
    /// [`BODY_EXCERPT`] bytes.
    pub body: Vec<u8>,
    /// The first lines of visible text of the response body (an error
    /// page's headings and messages, markup removed; see [`page_text`]),
    /// from the first 8 KiB the stream layer keeps: an IIS page's "HTTP
    /// Error 404.0 - Not Found" comes after 2 KiB of style sheet. Empty
    /// also when its consumer said it would not show it (the analyzer's
    /// reports decide; the diagnosis does not read it).
    pub page_text: Vec<String>,
}

/// Bytes of a rejected Upgrade's response body kept as evidence.
pub const BODY_EXCERPT: usize = 1024;
/// Lines of an error page's text kept by [`page_text`].
pub const PAGE_TEXT_LINES: usize = 12;
/// Characters per line kept by [`page_text`] (longer lines end in `…`).
pub const PAGE_TEXT_CHARS: usize = 200;

fn collapse(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for w in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

/// Appends `ch` to ASCII `out` if it holds fewer than `max` characters;
/// otherwise ends it as [`cut_chars`] does (`max - 1` characters and an
/// ellipsis) and says false.
fn push_within(out: &mut String, ch: char, max: usize) -> bool {
    if out.len() < max {
        out.push(ch);
        return true;
    }
    out.truncate(max.saturating_sub(1));
    out.push('…');
    false
}

/// At most `max` characters, with an ellipsis when cut.
fn cut_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
    t.push('…');
    t
}

/// Entities [`decode_entities`] decodes, and their text.
const ENTITIES: [(&str, &str); 7] = [
    ("&nbsp;", " "),
    ("&lt;", "<"),
    ("&gt;", ">"),
    ("&quot;", "\""),
    ("&#39;", "'"),
    ("&#x27;", "'"),
    ("&amp;", "&"),
];

/// Decodes the few HTML entities error pages use (`&nbsp;`, `&lt;`, `&gt;`,
/// `&quot;`, `&#39;`, `&#x27;`, `&amp;`), in one pass: `&amp;lt;` is `&lt;`.
pub fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(p) = memchr::memchr(b'&', rest.as_bytes()) {
        let (plain, at) = rest.split_at(p);
        out.push_str(plain);
        match ENTITIES.iter().find(|(k, _)| at.starts_with(k)) {
            Some((k, v)) => {
                out.push_str(v);
                rest = at.get(k.len()..).unwrap_or("");
            }
            None => {
                out.push('&');
                rest = at.get(1..).unwrap_or("");
            }
        }
    }
    out.push_str(rest);
    out
}

/// Elements that end a line of [`page_text`].
const BLOCK_ELEMENTS: [&str; 18] = [
    "br", "p", "div", "h1", "h2", "h3", "h4", "h5", "li", "tr", "fieldset", "legend", "hr", "pre",
    "table", "ul", "body", "center",
];

/// The visible text of an HTML page (or a plain text body), by lines, at
/// most [`PAGE_TEXT_LINES`] of [`PAGE_TEXT_CHARS`]: tags removed, the
/// content of `<script>`, `<style>` and `<title>` dropped, block elements
/// end lines, whitespace collapsed, a few entities decoded
/// ([`decode_entities`]). Stops reading once it has its lines.
pub fn page_text(body: &[u8]) -> Vec<String> {
    let body = crate::lossy(body);
    let mut out = Vec::new();
    let mut line = String::new();
    let mut rest: &str = &body;
    while !rest.is_empty() {
        let lt = memchr::memchr(b'<', rest.as_bytes()).unwrap_or(rest.len());
        let (content, at) = rest.split_at(lt);
        if !page_content(&mut out, &mut line, content) {
            return out;
        }
        let Some(close) = memchr::memchr(b'>', at.as_bytes()) else {
            break;
        };
        let tag = at.get(1..close).unwrap_or("");
        rest = at.get(close.saturating_add(1)..).unwrap_or("");
        let name = tag.trim_start_matches('/');
        let name = name
            .get(..name.bytes().take_while(u8::is_ascii_alphanumeric).count())
            .unwrap_or("");
        let kind = tag_kind(name);
        if !tag.starts_with('/') && kind == TagKind::Hidden {
            match closing_tag(rest, name) {
                Some(end) => rest = rest.get(end..).unwrap_or(""),
                None => break,
            }
            continue;
        }
        if kind == TagKind::Block {
            if !page_line(&mut out, &mut line) {
                return out;
            }
        } else {
            line.push(' ');
        }
    }
    page_line(&mut out, &mut line);
    out
}

/// What a tag does to a page's text.
#[derive(PartialEq)]
enum TagKind {
    /// Its content is not text (`script`, `style`, `title`).
    Hidden,
    /// It ends a line ([`BLOCK_ELEMENTS`]).
    Block,
    /// Anything else: a space.
    Inline,
}

/// The kind of the tag called `name` (ASCII letters and digits, any case).
fn tag_kind(name: &str) -> TagKind {
    let mut low = [0u8; 8];
    let Some(dst) = low.get_mut(..name.len()) else {
        return TagKind::Inline;
    };
    for (d, s) in dst.iter_mut().zip(name.as_bytes()) {
        *d = s.to_ascii_lowercase();
    }
    let low = low.get(..name.len()).unwrap_or(&[]);
    if matches!(low, b"script" | b"style" | b"title") {
        TagKind::Hidden
    } else if BLOCK_ELEMENTS.iter().any(|b| b.as_bytes() == low) {
        TagKind::Block
    } else {
        TagKind::Inline
    }
}

/// Where `</name` (any case) starts in `s`.
fn closing_tag(s: &str, name: &str) -> Option<usize> {
    let b = s.as_bytes();
    memchr::memchr_iter(b'<', b).find(|&p| {
        b.get(p.saturating_add(1)) == Some(&b'/')
            && b.get(p.saturating_add(2)..p.saturating_add(2).saturating_add(name.len()))
                .is_some_and(|n| n.eq_ignore_ascii_case(name.as_bytes()))
    })
}

/// Text between tags: its newlines end lines. False once enough lines.
fn page_content(out: &mut Vec<String>, line: &mut String, content: &str) -> bool {
    let mut parts = content.split('\n');
    if let Some(first) = parts.next() {
        line.push_str(first);
    }
    for p in parts {
        if !page_line(out, line) {
            return false;
        }
        line.push_str(p);
    }
    true
}

/// Ends the current line (kept when not blank). False once enough lines.
fn page_line(out: &mut Vec<String>, line: &mut String) -> bool {
    let t = if line.contains('&') {
        collapse_cut(&decode_entities(line), PAGE_TEXT_CHARS)
    } else {
        collapse_cut(line, PAGE_TEXT_CHARS)
    };
    if !t.is_empty() {
        out.push(t);
    }
    line.clear();
    out.len() < PAGE_TEXT_LINES
}

/// `cut_chars(&collapse(s), max)` in one pass, without allocating for a
/// blank line (most lines of a page's source are blank between tags).
fn collapse_cut(s: &str, max: usize) -> String {
    if !s.is_ascii() {
        return cut_chars(&collapse(s), max);
    }
    // ASCII: the bytes are the characters, and `char::is_whitespace` of
    // an ASCII character is this test (it counts U+000B, unlike
    // `u8::is_ascii_whitespace`).
    let ws = |b: &u8| matches!(b, b'\t'..=b'\r' | b' ');
    let b = s.as_bytes();
    let Some(start) = b.iter().position(|c| !ws(c)) else {
        return String::new();
    };
    let mut out = String::with_capacity(b.len().saturating_sub(start).min(max));
    let mut space = false;
    for c in b.iter().skip(start) {
        if ws(c) {
            space = true;
            continue;
        }
        if space && !push_within(&mut out, ' ', max) {
            return out;
        }
        if !push_within(&mut out, char::from(*c), max) {
            return out;
        }
        space = false;
    }
    out
}

impl UpgradeInfo {
    /// The first request header field called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.request.headers.get(name)
    }
    /// The first response header field called `name`; `None` also without
    /// a response.
    pub fn resp_header(&self, name: &str) -> Option<&str> {
        self.response.as_ref().and_then(|r| r.headers.get(name))
    }
    /// The server in words: `"IIS 7.5 (Windows 7 / Server 2008 R2)"`, or
    /// `"an unidentified server"`.
    pub fn server_text(&self) -> String {
        crate::server::describe(
            self.server
                .as_ref()
                .map(|p| (p.product.as_str(), p.version.as_deref(), p.os.as_deref())),
        )
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
    use super::super::http::{parse_request, parse_response, Head, HttpLimits};
    use super::*;

    #[test]
    fn error_page_text() {
        let page = "<!DOCTYPE html><html><head><title>IIS 7.5 Detailed Error - 404.0 - Not Found</title>\
            <style>body{x}</style></head><body><div id=\"header\"><h1>Server Error in Application &quot;DEFAULT WEB SITE&quot;</h1></div>\
            <div><h2>HTTP Error 404.0 - Not Found</h2><h3>The resource you are looking for has been removed.</h3></div>\
            <script>alert(1)</script><p>Module&nbsp;IIS Web Core</p></body></html>";
        assert_eq!(
            page_text(page.as_bytes()),
            vec![
                "Server Error in Application \"DEFAULT WEB SITE\"",
                "HTTP Error 404.0 - Not Found",
                "The resource you are looking for has been removed.",
                "Module IIS Web Core"
            ]
        );
        assert_eq!(page_text(b"400 Bad Request\r\n"), vec!["400 Bad Request"]);
        let many = "<p>x</p>".repeat(100) + &"y".repeat(1000);
        let t = page_text(many.as_bytes());
        assert_eq!(t.len(), PAGE_TEXT_LINES);
        // Hostile or cut bodies never panic.
        for body in [
            "<",
            "<title",
            "<title>x",
            "<script>",
            "</",
            "<a<b<c>>",
            "&amp;lt;",
            "<title></title>",
            "\u{fffd}<é>",
        ] {
            let _ = page_text(body.as_bytes());
        }
        let _ = page_text(&[0xff, b'<', 0xfe, b'>', 0x80]);
    }

    #[test]
    fn page_text_equals_the_reference() {
        let mut pages: Vec<Vec<u8>> = Vec::new();
        let www = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../samples/gen/scenarios/www"
        );
        for f in std::fs::read_dir(www).into_iter().flatten().flatten() {
            pages.push(std::fs::read(f.path()).unwrap());
        }
        // Random pages from a vocabulary that reaches every branch: tags of
        // every kind in any case, unclosed tags, entities (cut ones too),
        // newlines, invalid UTF-8.
        const BITS: [&str; 37] = [
            "<p>",
            "</P>",
            "<BR/>",
            "<div class=x>",
            "</div>",
            "<TITLE>",
            "</title>",
            "<script>",
            "</SCRIPT >",
            "<style>",
            "</style>",
            "<b>",
            "</b>",
            "<",
            ">",
            "&amp;",
            "&lt;",
            "&gt;",
            "&nbsp;",
            "&quot;",
            "&#39;",
            "&#x27;",
            "&am",
            "&",
            "\n",
            "\r\n",
            "  ",
            "\t",
            "Error",
            " 404 ",
            "é",
            "\u{a0}",
            "</",
            "<h1>",
            "\u{b}",
            "\u{c}",
            "a-rather-long-word-of-forty-characters--",
        ];
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..4000 {
            let mut page = Vec::new();
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            for _ in 0..(x % 60) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                if x % 97 == 0 {
                    page.push(0xff);
                } else {
                    page.extend_from_slice(BITS[(x % BITS.len() as u64) as usize].as_bytes());
                }
            }
            pages.push(page);
        }
        pages.push(("<p>line</p>\n".repeat(40)).into_bytes());
        // Lines about the cut (200 characters), in ASCII and not.
        for n in [198, 199, 200, 201, 202, 260] {
            pages.push(format!("<p>{}</p>", "x".repeat(n)).into_bytes());
            pages.push(format!("<p>{} {}</p>", "y".repeat(n - 2), "z").into_bytes());
            pages
                .push(format!("<p> \t{}é {}\n</p>", "w".repeat(n - 3), "v".repeat(5)).into_bytes());
            pages.push(format!("<p>{}</p>", "ab ".repeat(n / 3)).into_bytes());
        }
        for p in &pages {
            assert_eq!(
                page_text(p),
                page_text_ref(p),
                "{:?}",
                String::from_utf8_lossy(p)
            );
            let t = String::from_utf8_lossy(p);
            assert_eq!(decode_entities(&t), decode_entities_ref(&t));
        }
    }

    // The implementation before the single-pass rewrite (issue 14): the
    // reference the rewrite must equal.
    fn decode_entities_ref(s: &str) -> String {
        if !s.contains('&') {
            return s.to_string();
        }
        s.replace("&nbsp;", " ")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&#x27;", "'")
            .replace("&amp;", "&")
    }

    fn page_text_ref(body: &[u8]) -> Vec<String> {
        let body = String::from_utf8_lossy(body);
        let lower = body.to_ascii_lowercase();
        let mut text = String::with_capacity(body.len().min(8192));
        let mut i = 0;
        let b = body.as_bytes();
        while i < b.len() {
            if b[i] != b'<' {
                let next = body[i..].find('<').map_or(body.len(), |n| i + n);
                text.push_str(&body[i..next]);
                i = next;
                continue;
            }
            let Some(close) = body[i..].find('>') else {
                break;
            };
            let tag = &lower[i + 1..i + close];
            let name: String = tag
                .trim_start_matches('/')
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            i += close + 1;
            if !tag.starts_with('/') && matches!(name.as_str(), "script" | "style" | "title") {
                match lower[i..].find(&format!("</{name}")) {
                    Some(end) => i += end,
                    None => break,
                }
                continue;
            }
            let block = matches!(
                name.as_str(),
                "br" | "p"
                    | "div"
                    | "h1"
                    | "h2"
                    | "h3"
                    | "h4"
                    | "h5"
                    | "li"
                    | "tr"
                    | "fieldset"
                    | "legend"
                    | "hr"
                    | "pre"
                    | "table"
                    | "ul"
                    | "body"
                    | "center"
            );
            text.push(if block { '\n' } else { ' ' });
        }
        decode_entities_ref(&text)
            .lines()
            .map(collapse)
            .filter(|l| !l.is_empty())
            .take(PAGE_TEXT_LINES)
            .map(|l| cut_chars(&l, PAGE_TEXT_CHARS))
            .collect()
    }

    fn req(s: &str) -> Request {
        match parse_request(s.as_bytes(), &HttpLimits::default()) {
            Head::Complete(r, _) => r,
            other => panic!("{other:?}"),
        }
    }
    fn resp(s: &str) -> Response {
        match parse_response(s.as_bytes(), &HttpLimits::default()) {
            Head::Complete(r, _) => r,
            other => panic!("{other:?}"),
        }
    }

    const REQ: &str = "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n\r\n";
    const RESP: &str = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\n";

    fn codes(h: &Handshake) -> Vec<&'static str> {
        h.problems.iter().map(|p| p.code.as_str()).collect()
    }

    #[test]
    fn rfc6455_accept() {
        assert_eq!(
            accept_for_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn rfc_example_accepted() {
        let h = validate(&req(REQ), Some(&resp(RESP)), false);
        assert_eq!(h.outcome, Outcome::Accepted, "{:?}", h.problems);
        assert!(h.problems.is_empty());
        assert_eq!(h.accept_valid, Some(true));
        assert_eq!(h.protocols_offered, vec!["chat", "superchat"]);
        assert_eq!(h.protocol_selected.as_deref(), Some("chat"));
    }

    #[test]
    fn accept_mismatch_and_missing() {
        let r = RESP.replace(
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        );
        let h = validate(&req(REQ), Some(&resp(&r)), false);
        assert_eq!(h.outcome, Outcome::Invalid);
        assert_eq!(h.accept_valid, Some(false));
        let p = &h.problems[0];
        assert_eq!(p.code, "ws_accept_mismatch");
        assert!(p.message.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") && p.message.contains("AAAA"));
        let r = RESP.replace("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n", "");
        let h = validate(&req(REQ), Some(&resp(&r)), false);
        assert_eq!(h.outcome, Outcome::Invalid);
        assert_eq!(codes(&h), vec!["ws_accept_missing"]);
        let r = RESP.replace(
            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n",
            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n",
        );
        let h = validate(&req(REQ), Some(&resp(&r)), false);
        assert_eq!(h.outcome, Outcome::Invalid);
        assert_eq!(codes(&h), vec!["ws_header_duplicated"]);
    }

    #[test]
    fn no_response_reset_rejected() {
        assert_eq!(
            validate(&req(REQ), None, false).outcome,
            Outcome::NoResponse
        );
        assert_eq!(validate(&req(REQ), None, true).outcome, Outcome::Reset);
        let h = validate(
            &req(REQ),
            Some(&resp("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")),
            false,
        );
        assert_eq!(h.outcome, Outcome::Rejected);
        assert_eq!(h.outcome.as_str(), "rejected");
    }

    #[test]
    fn request_problems() {
        let r = "POST /chat HTTP/1.0\r\nUpgrade: h2c\r\nConnection: keep-alive\r\nSec-WebSocket-Key: short\r\nSec-WebSocket-Key: short\r\nSec-WebSocket-Version: 8\r\n\r\n";
        let h = validate(&req(r), None, false);
        let c = codes(&h);
        for want in [
            "ws_method_not_get",
            "http_version_too_old",
            "ws_upgrade_header_missing",
            "ws_connection_header_missing",
            "ws_header_duplicated",
            "ws_key_invalid",
            "ws_version_unsupported",
        ] {
            assert!(c.contains(&want), "{want} missing from {c:?}");
        }
        let r = "GET / HTTP/1.1\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n\r\n";
        let h = validate(&req(r), None, false);
        assert_eq!(codes(&h), vec!["ws_key_missing", "ws_version_missing"]);
    }

    #[test]
    fn response_missing_upgrade_connection() {
        let r = "HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\n";
        let h = validate(&req(REQ), Some(&resp(r)), false);
        assert_eq!(h.outcome, Outcome::Invalid);
        assert_eq!(
            codes(&h),
            vec!["ws_upgrade_header_missing", "ws_connection_header_missing"]
        );
    }

    #[test]
    fn subprotocols() {
        let mq = REQ.replace("chat, superchat", "mqtt");
        // not selected: warning, still accepted
        let r = RESP.replace("Sec-WebSocket-Protocol: chat\r\n", "");
        let h = validate(&req(&mq), Some(&resp(&r)), false);
        assert_eq!(h.outcome, Outcome::Accepted);
        assert_eq!(codes(&h), vec!["ws_subprotocol_not_selected"]);
        assert_eq!(h.problems[0].severity, Severity::Warning);
        // case variant
        let r = RESP.replace("Protocol: chat", "Protocol: MQTT");
        let h = validate(&req(&mq), Some(&resp(&r)), false);
        assert_eq!(h.outcome, Outcome::Invalid);
        assert_eq!(codes(&h), vec!["ws_subprotocol_not_offered"]);
        assert!(h.problems[0].message.contains("case"));
        // selected, none offered
        let none = REQ.replace("Sec-WebSocket-Protocol: chat, superchat\r\n", "");
        let h = validate(&req(&none), Some(&resp(RESP)), false);
        assert_eq!(codes(&h), vec!["ws_subprotocol_not_offered"]);
    }

    #[test]
    fn extensions_parse_and_display() {
        let e = parse_extensions(
            "permessage-deflate; client_max_window_bits, permessage-deflate;server_max_window_bits=\"10\" ; x=\"a,b;c\", , foo",
        );
        assert_eq!(e.len(), 3);
        assert_eq!(
            e[0].to_string(),
            "permessage-deflate; client_max_window_bits"
        );
        assert_eq!(e[1].param("server_max_window_bits"), Some(Some("10")));
        assert_eq!(e[1].param("x"), Some(Some("a,b;c")));
        assert_eq!(
            e[1].to_string(),
            "permessage-deflate; server_max_window_bits=10; x=\"a,b;c\""
        );
        assert_eq!(e[2].name, "foo");
        // every prefix: never panics
        let s = "permessage-deflate; a=\"\\\"q\\\\\"; b, c;d=é";
        for (i, _) in s.char_indices() {
            let _ = parse_extensions(&s[..i]);
        }
    }

    #[test]
    fn deflate_negotiation() {
        let rq = REQ.replace(
            "Sec-WebSocket-Version: 13\r\n",
            "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n",
        );
        let rs = RESP.replace(
            "Sec-WebSocket-Protocol: chat\r\n",
            "Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_max_window_bits=10\r\n",
        );
        let h = validate(&req(&rq), Some(&resp(&rs)), false);
        assert_eq!(h.outcome, Outcome::Accepted, "{:?}", h.problems);
        assert_eq!(
            h.deflate,
            Some(DeflateParams {
                server_no_context_takeover: true,
                client_no_context_takeover: false,
                server_max_window_bits: 15,
                client_max_window_bits: 10
            })
        );
        assert_eq!(
            h.extensions_selected,
            vec!["permessage-deflate; server_no_context_takeover; client_max_window_bits=10"]
        );
        // not offered
        let h = validate(&req(REQ), Some(&resp(&rs)), false);
        assert_eq!(h.outcome, Outcome::Invalid);
        assert!(h.has_problem(ProblemCode::ExtensionNotOffered));
        // bad bits
        let rs2 = rs.replace("client_max_window_bits=10", "server_max_window_bits=7");
        let h = validate(&req(&rq), Some(&resp(&rs2)), false);
        assert_eq!(codes(&h), vec!["ws_deflate_params_invalid"]);
    }
}
