//! Rules for one HTTP Upgrade to WebSocket: who answered, and what the
//! answer (or its absence) means for the device.

use super::cross::{Cross, DeferKind};
use super::{Finding, Severity};
use crate::event::{ConnSummary, Opening};
use crate::flow::{ConnEnd, ConnMeta, Dir};
use crate::proto::handshake::{Outcome, UpgradeInfo};
use crate::proto::server::ServerProduct;

/// An answer that came this quickly after the request, with no HTTP
/// bytes, is the server refusing the protocol, not a slow server.
pub(super) const IMMEDIATE_CLOSE_SECS: f64 = 2.0;
/// A capture that goes on this long after a request with the connection
/// still open shows that no answer came.
pub(super) const ANSWER_WAIT_SECS: f64 = 5.0;

/// Request-side handshake problems: the server decided on a bad request.
fn request_side(code: &str, message: &str) -> bool {
    matches!(
        code,
        "ws_key_missing"
            | "ws_key_invalid"
            | "ws_version_missing"
            | "ws_version_unsupported"
            | "ws_method_not_get"
            | "http_version_too_old"
    ) || (matches!(
        code,
        "ws_upgrade_header_missing" | "ws_connection_header_missing" | "ws_header_duplicated"
    ) && message.starts_with("request"))
}

/// The Server header names a reverse proxy or load balancer (or a Via
/// header says one was on the way).
fn proxy_answer(u: &UpgradeInfo) -> Option<String> {
    if let Some(v) = u.resp_header("via") {
        return Some(format!("Via: {v}"));
    }
    let s = u.resp_header("server")?;
    let l = s.to_ascii_lowercase();
    [
        "nginx",
        "apache",
        "haproxy",
        "envoy",
        "traefik",
        "caddy",
        "awselb",
        "cloudflare",
        "varnish",
        "squid",
        "openresty",
    ]
    .iter()
    .any(|p| l.starts_with(p))
    .then(|| format!("Server: {s}"))
}

fn body_text(u: &UpgradeInfo) -> std::borrow::Cow<'_, str> {
    crate::proto::lossy(&u.body)
}

/// The `<title>` of an error page, if it has one.
pub(super) fn page_title(body: &[u8]) -> Option<String> {
    let a = crate::proto::find_ascii_ci(body, b"<title>")? + 7;
    let b = crate::proto::find_ascii_ci(body.get(a..)?, b"</title>")? + a;
    let t = crate::proto::lossy(body.get(a..b)?);
    let s = t.trim();
    (!s.is_empty()).then(|| s.chars().take(120).collect())
}

fn is_iis8_plus(p: Option<&ServerProduct>) -> bool {
    p.is_some_and(|p| p.product == "IIS" && p.websocket == "optional")
}

/// Findings of one Upgrade (WebSocket upgrades only; h2c and others are
/// ordinary for a server to ignore).
pub(super) fn findings(
    meta: &ConnMeta,
    u: &UpgradeInfo,
    s: &ConnSummary,
    cx: &mut Cross,
    out: &mut Vec<Finding>,
) {
    if !u.websocket {
        return;
    }
    let mut frames = vec![u.request_frame];
    if let Some(f) = u.response_frame {
        frames.push(f);
    }
    // Only the findings of a refused or unanswered Upgrade say what was asked.
    let ask = || {
        // Endpoints written without core::fmt (IPv4): one per refused or
        // unanswered Upgrade, and a device may retry thousands of times.
        let mut b = Vec::with_capacity(u.request.method.len() + u.request.uri.len() + 56);
        b.extend_from_slice(u.request.method.as_bytes());
        b.push(b' ');
        b.extend_from_slice(u.request.uri.as_bytes());
        b.extend_from_slice(b" from ");
        meta.client.write_to(&mut b);
        b.extend_from_slice(b" to ");
        meta.server.write_to(&mut b);
        String::from_utf8(b).unwrap_or_default()
    };
    let base = |code: &'static str, msg: String| {
        Finding::of(code, msg)
            .stream(meta.stream)
            .frames(frames.clone())
    };
    let request_problems: Vec<&str> = u
        .handshake
        .problems
        .iter()
        .filter(|p| request_side(p.code.as_str(), &p.message))
        .map(|p| p.code.as_str())
        .collect();
    match u.handshake.outcome {
        Outcome::Rejected => rejected(meta, u, s, cx, out, &ask(), &request_problems, base),
        Outcome::NoResponse | Outcome::Reset => unanswered(meta, u, s, cx, out, &ask(), base),
        Outcome::Accepted | Outcome::Invalid => {}
    }
    for p in &u.handshake.problems {
        let mut f = Finding::of(p.code.as_str(), p.message.clone())
            .stream(meta.stream)
            .frames(frames.clone());
        match p.code.as_str() {
            "ws_accept_mismatch" | "ws_accept_missing" => {
                if is_iis8_plus(u.server.as_ref()) {
                    f = f.hint("IIS 8 or later answered 101 without a correct Sec-WebSocket-Accept: the IIS WebSocket Protocol feature (or its module) is not installed or not enabled for this site, so the request reaches an application that cannot complete the handshake. Install it (Server Manager > Web Server (IIS) > Application Development > WebSocket Protocol) and check that the application (or ARR) handles WebSocket.");
                } else if u
                    .request
                    .headers
                    .get("sec-websocket-extensions")
                    .is_some_and(|e| e.contains("permessage-deflate"))
                    && u.resp_header("server").is_some_and(|s| s.contains("IIS"))
                {
                    f = f.hint("IIS with Application Request Routing does not support permessage-deflate and can break the handshake when the client offers it: turn off permessage-deflate on the device, or connect to the backend directly.");
                }
            }
            "ws_subprotocol_not_selected" => {
                // Strict clients close at once: then the session never starts.
                let quit = meta.first_close.is_some_and(|c| c.by == Dir::C2S)
                    && s.mqtt.as_ref().is_none_or(|m| m.connect.is_none());
                if quit {
                    f = f.severity(Severity::Error);
                    f.message.push_str(
                        "; the client then closed the connection without sending anything",
                    );
                } else if s.mqtt.as_ref().is_some_and(|m| m.connack.is_some()) {
                    f.message
                        .push_str("; this client went on regardless (the session worked)");
                }
            }
            "ws_version_unsupported" => {
                f = f.hint("The device offers a WebSocket version other than 13 (RFC 6455), which servers refuse (426). Update the device's WebSocket library or firmware.");
            }
            _ => {}
        }
        out.push(f);
    }
}

#[allow(clippy::too_many_arguments)]
fn rejected(
    meta: &ConnMeta,
    u: &UpgradeInfo,
    _s: &ConnSummary,
    cx: &mut Cross,
    out: &mut Vec<Finding>,
    ask: &str,
    request_problems: &[&str],
    base: impl Fn(&'static str, String) -> Finding,
) {
    let resp = u.response.as_ref();
    let status = resp.map(|r| r.status).unwrap_or(0);
    let reason = resp.map(|r| r.reason.as_str()).unwrap_or("");
    let reason = if reason.is_empty() {
        String::new()
    } else {
        format!(" {reason}")
    };
    let server_h = u
        .resp_header("server")
        .map(|s| format!(" (Server: \"{s}\")"))
        .unwrap_or_default();
    let title = page_title(&u.body)
        .map(|t| format!(", page \"{t}\""))
        .unwrap_or_default();
    let port_hint = |h: &mut String| {
        if matches!(meta.server.port, 80 | 443) {
            h.push_str(" Advantech WebAccess on Windows 7 serves WebSocket on port 51328 (51329 with TLS), not 80/443: point the device there if that is the server.");
        }
    };
    let pre8 = u
        .server
        .as_ref()
        .is_some_and(|p| p.product == "IIS" && p.websocket == "no");
    if pre8 {
        let p = u.server.as_ref();
        let ver = p.and_then(|p| p.version.clone()).unwrap_or_default();
        let os = p
            .and_then(|p| p.os.clone())
            .unwrap_or_else(|| "an old Windows".into());
        let ev = p.map(|p| p.evidence.join(", ")).unwrap_or_default();
        let mut hint = format!(
            "WebSocket support arrived in IIS 8.0 (Windows 8 / Server 2012). IIS {ver} runs on {os} and treats the Upgrade as a plain request, so the device's MQTT-over-WebSocket connection can never start. Fix: move the server to Windows 8 / Server 2012 or later (IIS 8+ with the WebSocket Protocol feature), or connect the device with plain MQTT on TCP port 1883."
        );
        port_hint(&mut hint);
        out.push(
            base(
                "ws_upgrade_rejected_pre_iis8",
                format!(
                    "WebSocket upgrade refused by IIS {ver} ({os}): {ask} answered {status}{reason}{server_h}, identified by {ev}"
                ),
            )
            .hint(hint)
            .group(format!("IIS {ver} ({os})")),
        );
        return;
    }
    let body = body_text(u);
    if status == 400
        && (body.contains("plain HTTP request was sent to HTTPS port")
            || reason.contains("HTTPS port"))
    {
        out.push(
            base(
                "ws_plain_to_tls_port",
                format!(
                    "clear-text WebSocket upgrade sent to a TLS port: {ask} answered {status}{reason}{server_h}{title}"
                ),
            )
            .hint("The device uses ws:// on a port that expects TLS: the server says \"The plain HTTP request was sent to HTTPS port\". Use wss:// with the broker's CA certificate on the device, or point ws:// at the clear-text port (usually 80 or the broker's WebSocket port)."),
        );
        return;
    }
    let who = u.server_text();
    if request_problems.is_empty() && matches!(status, 400 | 426 | 502 | 503 | 504) {
        if let Some(proxy) = proxy_answer(u) {
            let leg = cx.backend_leg(meta, u);
            let mut msg = format!(
                "WebSocket upgrade answered by a proxy ({proxy}): {ask} answered {status}{reason}"
            );
            let mut frames = vec![u.request_frame];
            frames.extend(u.response_frame);
            if let Some(l) = &leg {
                msg.push_str(&format!(
                    "; the proxy forwarded it to {} as \"{} {} {}\" ({}) in frame {} (tcp.stream {}): {}",
                    l.server, l.method, l.uri, l.version, l.headers_text(), l.frame, l.stream, l.what_was_dropped()
                ));
            }
            let mut f = base("ws_upgrade_dropped_by_proxy", msg).frames(frames);
            if let Some(l) = &leg {
                f.message.push_str(&format!(
                    " (see: tcp.stream in {{{} {}}})",
                    meta.stream, l.stream
                ));
                let hint = format!(
                    "The capture shows both legs: the proxy received a valid Upgrade from the device, but in the request it sent the backend {}, so the backend could only answer it as a plain request. Configure the proxy to pass WebSocket upgrades: in nginx, `proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection \"upgrade\";` in the location that proxies {} (IIS ARR: install the WebSocket Protocol feature; other load balancers: enable WebSocket/HTTP upgrade passthrough).",
                    l.what_was_dropped(),
                    u.request.uri
                );
                f = f.hint(hint);
            } else if status == 502 {
                f.message.push_str(" (the backend leg is not in the capture: capture on the proxy's backend side too to see what it forwarded)");
            }
            out.push(f);
            return;
        }
    }
    if status == 404 && !is_iis8_plus(u.server.as_ref()) {
        let f = base(
            "ws_upgrade_path_not_found",
            format!(
                "WebSocket path not found: {ask} answered {status}{reason} by {who}{server_h}{title}"
            ),
        )
        .group(u.request.uri.clone());
        cx.defer(
            DeferKind::PathWorks {
                server: meta.server,
                uri: u.request.uri.clone(),
            },
            f,
        );
        return;
    }
    let mut hint = match &u.server {
        Some(p) if p.product == "IIS" => "This IIS version can speak WebSocket, but only with the WebSocket Protocol feature installed (Server Manager > Web Server (IIS) > Application Development > WebSocket Protocol) and an application on this path that accepts it. Enable the feature and check the URL the device uses.".to_string(),
        _ if !request_problems.is_empty() => format!(
            "The server refused a malformed handshake request ({}): update the device's WebSocket library or firmware so that it sends an RFC 6455 request.",
            request_problems.join(", ")
        ),
        Some(p) if p.product == "nginx" => "nginx answered itself: a location that proxies to a WebSocket backend must pass the Upgrade through (proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection \"upgrade\").".to_string(),
        _ => "The server (or a proxy in front of it) does not accept a WebSocket upgrade on this URL. Check the path, the port and any proxy between device and broker.".to_string(),
    };
    match status {
        426 => hint.push_str(&format!(
            " 426 means the server wants a different protocol version{}.",
            u.resp_header("sec-websocket-version")
                .map(|v| format!(" (it offers Sec-WebSocket-Version: {v})"))
                .unwrap_or_default()
        )),
        403 => hint.push_str(
            " 403 means the server refuses this client (Origin, IP or credentials checks).",
        ),
        401 | 407 => hint.push_str(" The server asks for credentials the device did not send."),
        _ => {}
    }
    out.push(
        base(
            "ws_upgrade_rejected",
            format!("WebSocket upgrade refused: {ask} answered {status}{reason} by {who}{server_h}{title}"),
        )
        .hint(hint)
        .group(format!("{status}")),
    );
}

fn unanswered(
    meta: &ConnMeta,
    u: &UpgradeInfo,
    s: &ConnSummary,
    cx: &mut Cross,
    out: &mut Vec<Finding>,
    ask: &str,
    base: impl Fn(&'static str, String) -> Finding,
) {
    // A server that chose HTTP/2 by ALPN answers an HTTP/1.1 Upgrade in
    // HTTP/2: `tls_alpn_h2_on_websocket` (diagnose::tls) is the cause.
    let h2 = s
        .tls
        .as_ref()
        .and_then(|t| t.server_hello.as_ref())
        .is_some_and(|sh| sh.alpn.as_deref() == Some("h2"));
    if h2 {
        return;
    }
    let close = meta.first_close;
    let close_frame = close.map(|c| c.frame);
    let since = |t: f64| t - u.request_ts;
    // The server answered in TLS: a TLS listener.
    let opening = s.app_opening();
    if let Opening::TlsRecord { content_type } = opening[1] {
        out.push(
            base(
                "ws_plain_to_tls_port",
                format!(
                    "clear-text WebSocket upgrade sent to a TLS port: {ask} was answered with a TLS {} record",
                    if content_type == 21 { "alert" } else { "handshake" }
                ),
            )
            .frames([u.request_frame].into_iter().chain(meta.first_data[1].map(|d| d.0))),
        );
        return;
    }
    let server_closed_at_once = opening[1] == Opening::Nothing
        && close.is_some_and(|c| c.by == Dir::S2C && since(c.ts.as_f64()) <= IMMEDIATE_CLOSE_SECS);
    let how = match close {
        Some(c) if c.rst => "a TCP reset",
        Some(_) => "a FIN",
        None => "nothing",
    };
    let fallback = if u.handshake.outcome == Outcome::Reset
        || close.is_some_and(|c| c.rst && c.by == Dir::S2C)
    {
        base(
            "ws_upgrade_reset",
            format!(
                "WebSocket upgrade reset: {ask} was answered by a TCP reset{}",
                meta.rst_frame
                    .map(|f| format!(" in frame {f}"))
                    .unwrap_or_default()
            ),
        )
        .frames([u.request_frame].into_iter().chain(meta.rst_frame))
    } else if meta.end == ConnEnd::Open {
        let waited = cx.capture_end.map(|t| since(t.as_f64())).unwrap_or(0.0);
        if waited < ANSWER_WAIT_SECS {
            out.push(
                base(
                    "capture_ended_before_answer",
                    format!(
                        "the capture ends {waited:.3} s after {ask} (its last packet), with the connection open and no answer yet: whether the server answers cannot be seen"
                    ),
                )
                .hint("Capture longer (at least a few seconds after the device's request) to see the answer."),
            );
            return;
        }
        base(
            "ws_upgrade_no_response",
            format!("WebSocket upgrade got no answer: {ask}, no answer in the {waited:.1} s the capture went on"),
        )
    } else {
        let by = match close {
            Some(c) if c.by == Dir::C2S => format!(
                "the device closed the connection {:.1} s after the request",
                since(c.ts.as_f64())
            ),
            Some(c) => format!(
                "the server closed the connection {:.3} s after the request without an answer",
                since(c.ts.as_f64())
            ),
            None => "the connection ended".into(),
        };
        base(
            "ws_upgrade_no_response",
            format!("WebSocket upgrade got no answer: {ask}; {by}"),
        )
        .frames([u.request_frame].into_iter().chain(close_frame))
    };
    if !server_closed_at_once {
        out.push(fallback);
        return;
    }
    let ms = close.map(|c| since(c.ts.as_f64()) * 1000.0).unwrap_or(0.0);
    let frames: Vec<u64> = [u.request_frame].into_iter().chain(close_frame).collect();
    let to_mqtt = Finding::of(
        "ws_upgrade_to_mqtt_port",
        format!(
            "WebSocket upgrade sent to a plain MQTT port: {ask} got no HTTP answer, the broker closed the connection ({how}) {ms:.0} ms later"
        ),
    )
    .stream(meta.stream)
    .frames(frames.clone());
    let to_tls = Finding::of(
        "ws_plain_to_tls_port",
        format!(
            "clear-text WebSocket upgrade sent to a TLS port: {ask} got no answer, the server closed the connection ({how}) {ms:.0} ms later"
        ),
    )
    .stream(meta.stream)
    .frames(frames);
    let port = meta.server.port;
    if matches!(port, 1883 | 1884) || cx.carries_mqtt(meta.server) {
        out.push(to_mqtt);
    } else if matches!(port, 443 | 8443 | 8883 | 8884 | 8081 | 8082 | 9443)
        || cx.carries_tls(meta.server)
    {
        out.push(to_tls);
    } else {
        cx.defer(
            DeferKind::Unanswered {
                server: meta.server,
                to_mqtt: Box::new(to_mqtt),
                to_tls: Box::new(to_tls),
            },
            fallback,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::page_title;

    #[test]
    fn page_titles() {
        let t = |b: &[u8]| page_title(b);
        assert_eq!(
            t(b"<html><TITLE> 404 - Not Found </Title>"),
            Some("404 - Not Found".into())
        );
        assert_eq!(
            t(b"\xff\xfe<title>IIS \xe9 7.5</title>"),
            Some("IIS \u{fffd} 7.5".into())
        );
        assert_eq!(t(b"<title></title>"), None);
        assert_eq!(t(b"<title>no end"), None);
        assert_eq!(t(b"<titl"), None);
        let long = format!("<title>{}</title>", "é".repeat(300));
        assert_eq!(t(long.as_bytes()).unwrap().chars().count(), 120);
    }
}
