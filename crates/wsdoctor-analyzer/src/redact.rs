//! `redact`: the one rule book for secrets, used by every output (text,
//! JSON Lines, HTML, Markdown, CSV) and by the reports built from JSON Lines.
//!
//! By default a secret's value is replaced by [`REDACTED`]; what is around it
//! stays (the header's name, an authorization scheme, a cookie's name, a query
//! parameter's name), because that is often the evidence. `--show-secrets`
//! ([`Secrets::shown`]) turns every rule off.
//!
//! The rules:
//! - **MQTT passwords**: always replaced as a whole. MQTT 5
//!   `authentication_data` (enhanced authentication) too.
//! - **Secret headers** ([`is_secret_header`]): `Authorization` and
//!   `Proxy-Authorization` keep their scheme (`Bearer <redacted>`);
//!   `Cookie` and `Set-Cookie` keep the cookie names (`session=<redacted>`)
//!   and Set-Cookie's attributes; `X-Api-Key`-like headers and any header
//!   whose name ends in `token`, `-secret`, `-signature` or `password` are
//!   replaced as a whole.
//! - **Free text** ([`Secrets::text`]: every other header value, request
//!   URIs, MQTT user names, subprotocols, WebSocket close reasons, error page
//!   text, and the messages, hints and summary lines that quote them):
//!   - JSON Web Tokens (`eyJ...`.`...`.`...`), wherever they appear (a
//!     public capture carries one in `Sec-WebSocket-Protocol`);
//!   - the token after `Bearer ` and after Kubernetes'
//!     `base64url.bearer.authorization.k8s.io.`;
//!   - the values of query-style parameters named like a secret
//!     ([`is_secret_param`]: `access_token`, `token`, `sig`, `signature`,
//!     `X-Amz-Signature`, `X-Amz-Security-Token`, `password`,
//!     `client_secret`, `api_key`...), also percent-encoded (`%26sig%3D...`).
//!     This covers Azure IoT SAS tokens (`SharedAccessSignature
//!     sr=...&sig=...&se=...`: the signature goes, the resource and the expiry
//!     stay) in MQTT user names and passwords and in URIs;
//!   - `Authorization: ...`, `Cookie: ...` and the like quoted in a text, up
//!     to the end of the line or a double space.
//!
//! Every rule is idempotent: redacting a redacted string changes nothing, so
//! a report made from redacted JSON Lines is the same as one made directly.
//! MQTT topics and payloads are data, not credentials, and are shown as sent.

use std::borrow::Cow;

/// What a secret's value is replaced with.
pub const REDACTED: &str = "<redacted>";

/// Whether secrets are shown (`--show-secrets`) or redacted (the default).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Secrets {
    pub show: bool,
}

impl Secrets {
    /// Secrets redacted (the default).
    pub const fn redacted() -> Secrets {
        Secrets { show: false }
    }
    /// Secrets shown as captured (`--show-secrets`).
    pub const fn shown() -> Secrets {
        Secrets { show: true }
    }

    /// An MQTT password (or other credential given as a whole).
    pub fn password<'a>(&self, value: &'a str) -> Cow<'a, str> {
        if self.show || value == REDACTED {
            Cow::Borrowed(value)
        } else {
            Cow::Borrowed(REDACTED)
        }
    }

    /// An HTTP header value, by the header's name.
    pub fn header<'a>(&self, name: &str, value: &'a str) -> Cow<'a, str> {
        if self.show {
            return Cow::Borrowed(value);
        }
        let n = name.trim();
        if n.eq_ignore_ascii_case("authorization") || n.eq_ignore_ascii_case("proxy-authorization")
        {
            return auth_value(value);
        }
        if n.eq_ignore_ascii_case("cookie") {
            return cookie_value(value, false);
        }
        if n.eq_ignore_ascii_case("set-cookie") || n.eq_ignore_ascii_case("set-cookie2") {
            return cookie_value(value, true);
        }
        if is_secret_header(n) {
            return Cow::Borrowed(REDACTED);
        }
        self.text(value)
    }

    /// Free text from a capture (or quoting it): tokens, signatures and
    /// secret parameters in it are redacted.
    pub fn text<'a>(&self, s: &'a str) -> Cow<'a, str> {
        if self.show {
            Cow::Borrowed(s)
        } else {
            scrub(s)
        }
    }

    /// [`Secrets::text`] into an owned string.
    pub fn text_owned(&self, s: String) -> String {
        match self.text(&s) {
            Cow::Borrowed(_) => s,
            Cow::Owned(o) => o,
        }
    }
}

/// Headers whose values are credentials.
pub fn is_secret_header(name: &str) -> bool {
    // ASCII case folded in place: every header of every record passes here.
    const EXACT: [&[u8]; 10] = [
        b"authorization",
        b"proxy-authorization",
        b"cookie",
        b"set-cookie",
        b"set-cookie2",
        b"x-api-key",
        b"api-key",
        b"apikey",
        b"x-functions-key",
        b"ocp-apim-subscription-key",
    ];
    const SUFFIX: [&[u8]; 4] = [b"token", b"-secret", b"-signature", b"password"];
    let n = name.trim().as_bytes();
    EXACT.iter().any(|e| n.eq_ignore_ascii_case(e))
        || SUFFIX.iter().any(|x| ends_with_ci(n, n.len(), x))
}

/// Query (or `name=value` list) parameters whose values are credentials.
pub fn is_secret_param(name: &str) -> bool {
    secret_param(name.as_bytes())
}

/// [`is_secret_param`] on bytes, without allocating (ASCII case folded).
fn secret_param(n: &[u8]) -> bool {
    const EXACT: [&[u8]; 8] = [
        b"sig",
        b"pwd",
        b"passwd",
        b"apikey",
        b"api_key",
        b"api-key",
        b"authorization",
        b"auth",
    ];
    const SUFFIX: [&[u8]; 4] = [b"token", b"signature", b"password", b"secret"];
    EXACT.iter().any(|e| n.eq_ignore_ascii_case(e))
        || SUFFIX
            .iter()
            .any(|x| n.len() >= x.len() && n[n.len() - x.len()..].eq_ignore_ascii_case(x))
}

/// `Scheme <redacted>` (the scheme is evidence: Basic, Bearer, SAS...).
fn auth_value(value: &str) -> Cow<'_, str> {
    let v = value.trim_start();
    match v.split_once([' ', '\t']) {
        Some((scheme, rest))
            if !scheme.is_empty()
                && scheme
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
                && !rest.trim().is_empty() =>
        {
            if rest.trim() == REDACTED {
                Cow::Borrowed(value)
            } else {
                Cow::Owned(format!("{scheme} {REDACTED}"))
            }
        }
        _ if value == REDACTED => Cow::Borrowed(value),
        _ => Cow::Borrowed(REDACTED),
    }
}

/// Cookie names kept, values redacted. For Set-Cookie only the first pair
/// is the cookie; the attributes (Path, Expires, HttpOnly...) stay.
fn cookie_value(value: &str, set: bool) -> Cow<'_, str> {
    let mut out = String::with_capacity(value.len());
    for (i, part) in value.split(';').enumerate() {
        if i > 0 {
            out.push(';');
        }
        if set && i > 0 {
            out.push_str(part);
            continue;
        }
        match part.split_once('=') {
            Some((name, _)) => {
                out.push_str(name);
                out.push('=');
                out.push_str(REDACTED);
            }
            None if part.trim().is_empty() => out.push_str(part),
            None => {
                let lead = &part[..part.len() - part.trim_start().len()];
                out.push_str(lead);
                out.push_str(REDACTED);
            }
        }
    }
    if out == value {
        Cow::Borrowed(value)
    } else {
        Cow::Owned(out)
    }
}

fn is_b64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// RFC 7235 token68 characters (what a Bearer token is made of).
fn is_token68(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b)
}

fn starts_with_ci(b: &[u8], at: usize, pat: &[u8]) -> bool {
    b.len() >= at + pat.len() && b[at..at + pat.len()].eq_ignore_ascii_case(pat)
}

/// A JSON Web Token (JWS or JWE in compact form) starting at `i`: its end.
fn jwt_at(b: &[u8], i: usize) -> Option<usize> {
    if !b[i..].starts_with(b"eyJ") || (i > 0 && (is_b64url(b[i - 1]) || b[i - 1] == b'.')) {
        return None;
    }
    let mut j = i;
    let mut segs = [0usize; 3];
    let mut seg = 0;
    while j < b.len() && (is_b64url(b[j]) || b[j] == b'.' || b[j] == b'=') {
        if b[j] == b'.' {
            seg += 1;
        } else if seg < 3 {
            segs[seg] += 1;
        }
        j += 1;
    }
    // header (at least `{"alg":"x"}`) . payload . signature (may be empty)
    (seg >= 2 && segs[0] >= 10 && segs[1] >= 2).then_some(j)
}

/// The span of a token after an auth scheme word at `i` (`Bearer xyz`).
fn bearer_at(b: &[u8], i: usize) -> Option<(usize, usize)> {
    if !starts_with_ci(b, i, b"bearer") || (i > 0 && b[i - 1].is_ascii_alphanumeric()) {
        return None;
    }
    let mut j = i + 6;
    if j < b.len() && b[j] == b'.' && starts_with_ci(b, j, b".authorization.k8s.io.") {
        // Kubernetes: `base64url.bearer.authorization.k8s.io.<token>`
        let start = j + ".authorization.k8s.io.".len();
        let mut k = start;
        while k < b.len() && is_token68(b[k]) {
            k += 1;
        }
        return (k > start).then_some((start, k));
    }
    let ws = j;
    while j < b.len() && (b[j] == b' ' || b[j] == b'\t') {
        j += 1;
    }
    if j == ws {
        return None;
    }
    let start = j;
    while j < b.len() && is_token68(b[j]) {
        j += 1;
    }
    (j > start).then_some((start, j))
}

/// Characters that can end a parameter value in a URI or a text.
fn ends_value(b: &[u8], j: usize) -> bool {
    matches!(
        b[j],
        b'&' | b'#'
            | b' '
            | b'\t'
            | b'\r'
            | b'\n'
            | b'"'
            | b'\''
            | b';'
            | b','
            | b'<'
            | b'>'
            | b')'
    ) || starts_with_ci(b, j, b"%26")
}

/// A secret parameter whose name starts at `i`: the span of its value.
fn param_at(b: &[u8], i: usize) -> Option<(usize, usize)> {
    let sep_before = i == 0
        || matches!(
            b[i - 1],
            b'?' | b'&' | b';' | b' ' | b'\t' | b',' | b'"' | b'\'' | b'(' | b'\n'
        )
        || (i >= 3 && (starts_with_ci(b, i - 3, b"%26") || starts_with_ci(b, i - 3, b"%3F")));
    if !sep_before || !(b[i].is_ascii_alphabetic() || b[i] == b'_') {
        return None;
    }
    let mut j = i;
    while j < b.len() && (b[j].is_ascii_alphanumeric() || b"_-.$".contains(&b[j])) {
        j += 1;
    }
    let name = &b[i..j];
    let vstart = if j < b.len() && b[j] == b'=' {
        j + 1
    } else if starts_with_ci(b, j, b"%3D") {
        j + 3
    } else {
        return None;
    };
    if !secret_param(name) {
        return None;
    }
    let mut k = vstart;
    while k < b.len() && !ends_value(b, k) {
        k += 1;
    }
    Some((vstart, k))
}

/// Header names whose value is redacted where a text quotes them.
const QUOTED_HEADERS: [&[u8]; 5] = [
    b"authorization",
    b"proxy-authorization",
    b"cookie",
    b"set-cookie",
    b"x-api-key",
];

/// Do the bytes before `end` end with `pat` (ASCII case folded)?
fn ends_with_ci(b: &[u8], end: usize, pat: &[u8]) -> bool {
    end >= pat.len() && b[end - pat.len()..end].eq_ignore_ascii_case(pat)
}

/// Could a secret parameter name end right before `end` (an `=` or `%3D`)?
/// True when some suffix of the name-character run there, starting with a
/// letter or `_`, is one (a superset of what [`param_at`] accepts).
fn secret_name_before(b: &[u8], end: usize) -> bool {
    let mut s = end;
    while s > 0 && (b[s - 1].is_ascii_alphanumeric() || b"_-.$".contains(&b[s - 1])) {
        s -= 1;
    }
    (s..end).any(|k| (b[k].is_ascii_alphabetic() || b[k] == b'_') && secret_param(&b[k..end]))
}

/// `Authorization: value` quoted in a text: the span of the value.
fn quoted_header_at(b: &[u8], i: usize) -> Option<(usize, usize)> {
    if i > 0 && !matches!(b[i - 1], b' ' | b'\t' | b'\n' | b',' | b'(' | b'"' | b'[') {
        return None;
    }
    let name = QUOTED_HEADERS.iter().find(|n| starts_with_ci(b, i, n))?;
    let mut j = i + name.len();
    if j >= b.len() || b[j] != b':' {
        return None;
    }
    j += 1;
    while j < b.len() && b[j] == b' ' {
        j += 1;
    }
    let start = j;
    while j < b.len() && b[j] != b'\n' && b[j] != b'\r' && !b[j..].starts_with(b"  ") {
        j += 1;
    }
    (j > start).then_some((start, j))
}

/// Texts up to this long are gated by one pass over [`TRIGGER`].
const SHORT_TEXT: usize = 128;

/// The bytes without which no free-text rule applies.
static TRIGGER: [bool; 256] = {
    let mut t = [false; 256];
    t[b'J' as usize] = true;
    t[b'b' as usize] = true;
    t[b'B' as usize] = true;
    t[b'=' as usize] = true;
    t[b'%' as usize] = true;
    t[b':' as usize] = true;
    t
};

/// The free-text rules (see the module documentation).
pub fn scrub(s: &str) -> Cow<'_, str> {
    let b = s.as_bytes();
    // Every rule needs one of these bytes (`eyJ`, `bearer`, `=`, `%3D`,
    // `:`). Short texts (topics, client ids, most header values) are
    // checked for them in one pass, cheaper there than the scans below.
    if b.len() <= SHORT_TEXT && !b.iter().any(|&c| TRIGGER[usize::from(c)]) {
        return Cow::Borrowed(s);
    }
    scrub_rules(s)
}

/// [`scrub`] without its short-text gate.
fn scrub_rules(s: &str) -> Cow<'_, str> {
    let b = s.as_bytes();
    // Which rules can apply at all: a parameter needs `=` or `%3D`, a quoted
    // header `:`, a JWT `eyJ`, a token `bearer`. Most texts need none.
    // The gates are exact enough that most texts are done after these
    // memchr scans: `=` counts only after a secret parameter name, `:` only
    // after a quoted header name.
    let jwt = memchr::memmem::find(b, b"eyJ").is_some();
    let bearer = memchr::memchr2_iter(b'b', b'B', b).any(|i| starts_with_ci(b, i, b"bearer"));
    let (mut eq, mut colon) = (false, false);
    for i in memchr::memchr3_iter(b'=', b'%', b':', b) {
        match b[i] {
            b'=' => eq |= secret_name_before(b, i),
            b'%' => eq |= starts_with_ci(b, i, b"%3D") && secret_name_before(b, i),
            _ => colon |= QUOTED_HEADERS.iter().any(|n| ends_with_ci(b, i, n)),
        }
        if eq && colon {
            break;
        }
    }
    if !(eq || colon || jwt || bearer) {
        return Cow::Borrowed(s);
    }
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut i = 0;
    while i < b.len() {
        // Every rule starts at a word start (or after `%26` / `%3F`).
        if i > 0 && b[i - 1].is_ascii_alphanumeric() && !(i >= 3 && b[i - 3] == b'%') {
            i += 1;
            continue;
        }
        let span = match jwt.then(|| jwt_at(b, i)).flatten() {
            Some(end) => Some((i, end)),
            None => bearer
                .then(|| bearer_at(b, i))
                .flatten()
                .or_else(|| eq.then(|| param_at(b, i)).flatten())
                .or_else(|| colon.then(|| quoted_header_at(b, i)).flatten()),
        };
        match span {
            Some((start, end)) => {
                // All the rules start and end on ASCII bytes: char boundaries.
                let value = &s[start..end];
                if !value.is_empty() && !value.starts_with(REDACTED) {
                    let o = out.get_or_insert_with(|| String::with_capacity(s.len()));
                    o.push_str(&s[copied..start]);
                    o.push_str(REDACTED);
                    copied = end;
                }
                i = end.max(i + 1);
            }
            None => i += 1,
        }
    }
    match out {
        None => Cow::Borrowed(s),
        Some(mut o) => {
            o.push_str(&s[copied..]);
            Cow::Owned(o)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JWT: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJkZXYxIn0.c2lnbmF0dXJl-_x";
    const R: Secrets = Secrets::redacted();

    fn t(s: &str) -> String {
        R.text(s).into_owned()
    }

    #[test]
    fn the_short_text_gate_changes_nothing() {
        let words = [
            "eyJ",
            "bearer ",
            "Bearer",
            "token=",
            "pwd%3D",
            "authorization: ",
            "Cookie:",
            "x",
            "a b",
            "=",
            "%",
            ":",
            "J",
            "b",
            "sig",
            "&",
            "?",
            " ",
            "e",
            "y",
            "abc",
            "\n",
        ];
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            let mut t = String::new();
            while t.len() < 140 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                if x % 7 == 0 {
                    break;
                }
                t.push_str(words[(x >> 8) as usize % words.len()]);
            }
            assert_eq!(scrub(&t), scrub_rules(&t), "{t:?}");
        }
    }

    #[test]
    fn secret_header_names() {
        for n in [
            "Authorization",
            " x-api-key ",
            "X-Auth-Token",
            "my-secret",
            "db-password",
            "X-Hub-Signature",
            "ApiKey",
        ] {
            assert!(is_secret_header(n), "{n}");
        }
        for n in [
            "Host",
            "signature",
            "secret",
            "tokens",
            "Sec-WebSocket-Key",
            "",
        ] {
            assert!(!is_secret_header(n), "{n}");
        }
    }

    #[test]
    fn jwts_anywhere() {
        assert_eq!(t(&format!("mqtt, {JWT}")), "mqtt, <redacted>");
        assert_eq!(t(JWT), REDACTED);
        assert_eq!(t(&format!("x={JWT}&y=1")), "x=<redacted>&y=1");
        // Not a JWT: too short, or base64 that merely starts with eyJ.
        assert_eq!(t("eyJhbGc"), "eyJhbGc");
        assert_eq!(t("eyJhbGciOiJI.x"), "eyJhbGciOiJI.x");
        assert_eq!(
            t("keyJhbGciOiJIUzI1.eyJzdWIi.x"),
            "keyJhbGciOiJIUzI1.eyJzdWIi.x"
        );
    }

    #[test]
    fn bearer_and_k8s_tokens() {
        assert_eq!(t("Bearer abc.def-123"), "Bearer <redacted>");
        assert_eq!(t("auth: bearer   xyz=="), "auth: bearer   <redacted>");
        assert_eq!(
            t("base64url.bearer.authorization.k8s.io.ZXlKaGJHY2lP, base64.binary.k8s.io"),
            "base64url.bearer.authorization.k8s.io.<redacted>, base64.binary.k8s.io"
        );
        assert_eq!(t("Bearer"), "Bearer");
        assert_eq!(t("unbearable x"), "unbearable x");
    }

    #[test]
    fn secret_parameters() {
        assert_eq!(
            t("/mqtt?access_token=abc&x=1&token=t#frag"),
            "/mqtt?access_token=<redacted>&x=1&token=<redacted>#frag"
        );
        assert_eq!(
            t("/ws?sig=s1&signature=s2&X-Amz-Signature=s3&X-Amz-Security-Token=s4&X-Amz-Date=20261125"),
            "/ws?sig=<redacted>&signature=<redacted>&X-Amz-Signature=<redacted>&X-Amz-Security-Token=<redacted>&X-Amz-Date=20261125"
        );
        // Names that merely contain a secret word are kept.
        assert_eq!(
            t("/ws?tokens=1&signed=2&sigma=3"),
            "/ws?tokens=1&signed=2&sigma=3"
        );
        assert_eq!(
            t("GET /mqtt?token=abc  Upgrade: websocket"),
            "GET /mqtt?token=<redacted>  Upgrade: websocket"
        );
        // Percent-encoded inside another parameter.
        assert_eq!(
            t("/c?sas=SharedAccessSignature%20sr%3Dhub%26sig%3DAbC%2B%3D%26se%3D17"),
            "/c?sas=SharedAccessSignature%20sr%3Dhub%26sig%3D<redacted>%26se%3D17"
        );
    }

    #[test]
    fn azure_sas_tokens() {
        let sas = "SharedAccessSignature sr=myhub.azure-devices.net%2Fdevices%2Fdev1&sig=q8R%2Fk3JHbXkK0n5b2l%2BxM%3D&se=1795000000";
        assert_eq!(
            t(sas),
            "SharedAccessSignature sr=myhub.azure-devices.net%2Fdevices%2Fdev1&sig=<redacted>&se=1795000000"
        );
        // Any order of the fields, with the key name.
        assert_eq!(
            t("SharedAccessSignature sig=abc&se=1&skn=iothubowner&sr=hub"),
            "SharedAccessSignature sig=<redacted>&se=1&skn=iothubowner&sr=hub"
        );
        // An Azure user name is not a secret.
        let user = "myhub.azure-devices.net/dev1/?api-version=2021-04-12";
        assert_eq!(t(user), user);
    }

    #[test]
    fn quoted_headers_in_text() {
        assert_eq!(
            t("sent Authorization: Basic dXNlcjpwdw==  Upgrade: websocket"),
            "sent Authorization: <redacted>  Upgrade: websocket"
        );
        assert_eq!(t("Cookie: a=b; c=d"), "Cookie: <redacted>");
        assert_eq!(
            t("Proxy-Authenticate: Basic realm=x"),
            "Proxy-Authenticate: Basic realm=x"
        );
    }

    #[test]
    fn headers_keep_what_is_evidence() {
        assert_eq!(
            R.header("Authorization", &format!("Bearer {JWT}")),
            "Bearer <redacted>"
        );
        assert_eq!(
            R.header("authorization", "Basic dXNlcjpwdw=="),
            "Basic <redacted>"
        );
        assert_eq!(R.header("Authorization", "opaque"), REDACTED);
        assert_eq!(
            R.header("Authorization", "SharedAccessSignature sr=a&sig=b&se=1"),
            "SharedAccessSignature <redacted>"
        );
        assert_eq!(
            R.header("Cookie", "session=abc; AWSALB=xyz"),
            "session=<redacted>; AWSALB=<redacted>"
        );
        assert_eq!(
            R.header(
                "Set-Cookie",
                "id=a3fWa; Expires=Thu, 21 Oct 2027 07:28:00 GMT; HttpOnly"
            ),
            "id=<redacted>; Expires=Thu, 21 Oct 2027 07:28:00 GMT; HttpOnly"
        );
        assert_eq!(R.header("X-Api-Key", "k"), REDACTED);
        assert_eq!(R.header("X-Amz-Security-Token", "k"), REDACTED);
        assert_eq!(R.header("X-Auth-Token", "k"), REDACTED);
        assert_eq!(
            R.header("Sec-WebSocket-Protocol", &format!("mqtt, {JWT}")),
            "mqtt, <redacted>"
        );
        assert_eq!(
            R.header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            "dGhlIHNhbXBsZSBub25jZQ=="
        );
        assert_eq!(
            R.header("Referer", "http://x/?access_token=a"),
            "http://x/?access_token=<redacted>"
        );
        assert_eq!(R.header("Server", "Microsoft-IIS/7.5"), "Microsoft-IIS/7.5");
        assert_eq!(R.password("hunter2"), REDACTED);
    }

    #[test]
    fn shown_changes_nothing() {
        let s = Secrets::shown();
        assert_eq!(s.header("Authorization", "Basic x"), "Basic x");
        assert_eq!(s.text(JWT), JWT);
        assert_eq!(s.password("pw"), "pw");
    }

    #[test]
    fn idempotent_on_every_rule() {
        let inputs = [
            format!("mqtt, {JWT}"),
            "Bearer abc".to_string(),
            "/m?access_token=a&sig=b%26token%3Dc".to_string(),
            "SharedAccessSignature sr=a&sig=b&se=1".to_string(),
            "Authorization: Basic x  y".to_string(),
            "base64url.bearer.authorization.k8s.io.abc".to_string(),
        ];
        for s in &inputs {
            let once = t(s);
            assert_ne!(&once, s, "{s}");
            assert_eq!(t(&once), once, "{s}");
        }
        for (name, v) in [
            ("Authorization", "Bearer x"),
            ("Authorization", "x"),
            ("Cookie", "a=b; c"),
            ("Set-Cookie", "a=b; Path=/"),
            ("X-Api-Key", "k"),
        ] {
            let once = R.header(name, v).into_owned();
            assert_eq!(R.header(name, &once), once, "{name}");
        }
        assert_eq!(R.password(REDACTED), REDACTED);
    }

    #[test]
    fn hostile_text_never_panics() {
        for s in [
            "",
            "=",
            "&=",
            "?token=",
            "eyJ",
            "bearer ",
            "%26",
            "%3D",
            "a%3",
            "token%3",
            "é=ü&sig=ß€",
            "Authorization:",
            "cookie:  ",
            "eyJ......",
            "\u{0}sig=\u{0}",
        ] {
            let _ = t(s);
        }
        // Multi-byte text around the rules stays intact.
        assert_eq!(t("ünï ?sig=ç€ x"), "ünï ?sig=<redacted> x");
    }
}
