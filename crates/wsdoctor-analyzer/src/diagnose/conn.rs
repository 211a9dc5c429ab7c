//! Rules per connection: TCP, the anomalies of its protocol layers, its
//! Upgrades, its MQTT session and how it ended.

use super::cross::{Cross, DeferKind};
use super::{upgrade, ConnDiag, Finding, Severity};
use crate::event::ConnSummary;
use crate::flow::{ConnEnd, ConnMeta, Dir};
use crate::proto::handshake::Outcome;
use crate::proto::mqtt::FindingCode;

/// Silence shorter than this before a server close is not an idle cut.
pub(super) const MIN_IDLE_SECS: f64 = 1.0;

pub(super) fn findings(
    meta: &ConnMeta,
    d: &ConnDiag,
    s: &ConnSummary,
    cx: &mut Cross,
    out: &mut Vec<Finding>,
) {
    let before = out.len();
    tcp(meta, out);
    for u in &d.upgrades {
        upgrade::findings(meta, u, s, cx, out);
    }
    anomalies(meta, d, out);
    sessions(meta, d, s, out);
    connack(meta, s, cx, out);
    idle_cut(meta, d, s, cx);
    tunnel(meta, s, out);
    super::tls::findings(meta, s, cx, out);
    let serious = out[before..]
        .iter()
        .any(|f| f.severity >= Severity::Warning)
        || cx.deferred_for(meta.stream);
    if !serious {
        not_established(meta, d, s, out);
    }
}

fn tcp(meta: &ConnMeta, out: &mut Vec<Finding>) {
    let st = meta.stream;
    if !meta.gaps.is_empty() {
        let frames: Vec<u64> = meta.gaps.iter().map(|g| g.frame).take(16).collect();
        out.push(
            Finding::of(
                "tcp_gap",
                format!(
                    "{} byte(s) missing from the capture in {} place(s) ({} c2s, {} s2c)",
                    meta.gap_bytes,
                    meta.gaps_total,
                    meta.gaps.iter().filter(|g| g.dir == Dir::C2S).count(),
                    meta.gaps.iter().filter(|g| g.dir == Dir::S2C).count()
                ),
            )
            .stream(st)
            .frames(frames)
            .amount(meta.gap_bytes, "byte(s) missing"),
        );
    }
    if meta.overlap_conflicts > 0 {
        out.push(
            Finding::of(
                "tcp_overlap_conflict",
                format!(
                    "{} retransmitted or overlapping segment(s) carry bytes that differ from the first copy",
                    meta.overlap_conflicts
                ),
            )
            .stream(st)
            .frames(meta.conflict_frames.iter().copied()),
        );
    }
    if meta.reasm_limit_hits > 0 {
        out.push(
            Finding::of(
                "tcp_reassembly_limit",
                format!(
                    "the out-of-order buffer limit was reached {} time(s); holes were skipped as gaps before their bytes could arrive",
                    meta.reasm_limit_hits
                ),
            )
            .stream(st),
        );
    }
    if meta.after_end_bytes > 0 {
        out.push(
            Finding::of(
                "tcp_data_after_close",
                format!(
                    "{} payload byte(s) were sent after the connection's FIN or RST; they were not decoded",
                    meta.after_end_bytes
                ),
            )
            .stream(st)
            .amount(meta.after_end_bytes, "byte(s) after close"),
        );
    }
}

fn anomalies(meta: &ConnMeta, d: &ConnDiag, out: &mut Vec<Finding>) {
    for a in &d.anomalies {
        let msg = if a.count > 1 {
            format!("{} ({} times)", a.message, a.count)
        } else {
            a.message.clone()
        };
        out.push(
            Finding::of(a.code, msg)
                .stream(meta.stream)
                .frames(a.frames.iter().copied()),
        );
    }
}

/// The hint for a refused CONNECT, by protocol level and code.
fn refused_hint(level: Option<u8>, code: u8) -> &'static str {
    match (level == Some(5), code) {
        (false, 1) | (true, 0x84) => "The broker does not accept the protocol version the device asked for: configure the device for the MQTT version the broker speaks (3.1.1 is the safe choice).",
        (false, 2) | (true, 0x85) => "The broker rejected the client id: it may be empty with clean session off, too long, contain characters the broker forbids, or not match what the broker expects for this device (AWS IoT: the thing name; Azure IoT Hub: the device id).",
        (false, 3) | (true, 0x88) | (true, 0x89) => "The broker is unavailable or busy: check its state and connection limits.",
        (false, 4) | (true, 0x86) => "Wrong user name or password: check the device's credentials (and, for Azure IoT Hub, that the SAS token has not expired).",
        (false, 5) | (true, 0x87) => "The broker does not authorise this client: check the broker's access rules (ACL, policy) for this client id and user, and the device's certificate if it uses one.",
        (true, 0x8a) => "The client is banned by the broker.",
        (true, 0x8c) => "The broker does not support the authentication method the device asked for.",
        (true, 0x9f) => "The broker limits the connection rate: the device reconnects too fast; add a back-off.",
        _ => "The broker refused the session and said why (the return / reason code): check the client id, user name and password, and the broker's access rules for this client.",
    }
}

fn sessions(meta: &ConnMeta, d: &ConnDiag, s: &ConnSummary, out: &mut Vec<Finding>) {
    let level = s.mqtt.as_ref().and_then(|m| m.summary.level);
    for (frame, f) in &d.sessions {
        let mut fi = Finding::of(f.code.as_str(), f.message.clone())
            .stream(meta.stream)
            .frames([*frame]);
        match f.code {
            // Decided from the session facts below.
            FindingCode::ConnackMissing => continue,
            FindingCode::QosFlowIncomplete if meta.end == ConnEnd::Open => {
                fi = fi
                    .severity(Severity::Info)
                    .hint("The capture stopped while the connection was open: an unfinished exchange is expected there, not a problem.");
            }
            FindingCode::ConnectRefused => {
                let code = f.reason_code.unwrap_or(0);
                let v = match level {
                    Some(5) => "MQTT 5",
                    Some(3) => "MQTT 3.1",
                    _ => "MQTT 3.1.1",
                };
                fi = fi
                    .hint(refused_hint(level, code))
                    .group(format!("{v} code 0x{code:02x}"));
            }
            FindingCode::ServerDisconnect => {
                let code = f.reason_code.unwrap_or(0);
                if code == 0x8e {
                    fi = fi.hint("The broker ended this session because another connection used the same client id (MQTT 5 reason 0x8E, Session taken over). If that connection is in the capture, see mqtt_client_id_takeover; give every device its own client id.");
                }
                fi = fi.group(format!("0x{code:02x}"));
            }
            _ => {}
        }
        out.push(fi);
    }
}

/// A CONNECT without CONNACK: who ended it tells whose fault it is.
fn connack(meta: &ConnMeta, s: &ConnSummary, cx: &Cross, out: &mut Vec<Finding>) {
    let Some(m) = &s.mqtt else { return };
    let (Some((cf, cts)), None) = (m.connect, m.connack) else {
        return;
    };
    let client = m
        .summary
        .client_id
        .as_deref()
        .map(|c| format!(" (client id \"{c}\")"))
        .unwrap_or_default();
    let t0 = cts.as_f64();
    // Broker data missing from the capture may hold the CONNACK.
    let lost: u64 = meta
        .gaps
        .iter()
        .filter(|g| g.dir == Dir::S2C)
        .map(|g| g.bytes)
        .sum();
    if lost > 0 {
        out.push(
            Finding::of(
                "mqtt_connack_missing",
                format!(
                    "no CONNACK captured after the CONNECT{client}, but {lost} byte(s) from the broker are missing from the capture where it could be"
                ),
            )
            .stream(meta.stream)
            .frames([cf].into_iter().chain(meta.gaps.iter().filter(|g| g.dir == Dir::S2C).map(|g| g.frame)))
            .hint("The capture lost the broker's answer: whether the session was accepted cannot be seen. Capture again without loss (dumpcap -B, no snaplen)."),
        );
        return;
    }
    match meta.first_close {
        Some(c) if c.by == Dir::S2C => {
            let ms = (c.ts.as_f64() - t0) * 1000.0;
            out.push(
                Finding::of(
                    "mqtt_closed_before_connack",
                    format!(
                        "the broker side closed the connection ({}) {ms:.0} ms after the CONNECT{client} without sending a CONNACK",
                        if c.rst { "RST" } else { "FIN" }
                    ),
                )
                .stream(meta.stream)
                .frames([cf, c.frame]),
            );
        }
        Some(c) => out.push(
            Finding::of(
                "mqtt_connack_missing",
                format!(
                    "the device gave up {:.1} s after its CONNECT{client}: no CONNACK came",
                    c.ts.as_f64() - t0
                ),
            )
            .stream(meta.stream)
            .frames([cf, c.frame]),
        ),
        None => {
            let waited = cx.capture_end.map(|t| t.as_f64() - t0).unwrap_or(0.0);
            if waited < upgrade::ANSWER_WAIT_SECS {
                out.push(
                    Finding::of(
                        "capture_ended_before_answer",
                        format!(
                            "the capture ends {waited:.3} s after the CONNECT{client} (its last packet), with the connection open and no CONNACK yet: whether the broker accepts the session cannot be seen"
                        ),
                    )
                    .stream(meta.stream)
                    .frames([cf])
                    .hint("Capture longer (at least a few seconds after the device's CONNECT) to see the broker's answer."),
                );
            } else {
                out.push(
                    Finding::of(
                        "mqtt_connack_missing",
                        format!("no CONNACK in the {waited:.1} s the capture went on after the CONNECT{client}"),
                    )
                    .stream(meta.stream)
                    .frames([cf]),
                );
            }
        }
    }
}

/// An accepted session that the server side cut after silence, without
/// WebSocket Close or MQTT DISCONNECT.
fn idle_cut(meta: &ConnMeta, d: &ConnDiag, s: &ConnSummary, cx: &mut Cross) {
    let Some(c) = meta.first_close else { return };
    if c.by != Dir::S2C {
        return;
    }
    let ws_ok = d
        .upgrades
        .iter()
        .any(|u| u.websocket && u.handshake.outcome == Outcome::Accepted)
        || s.websocket_midstream;
    let mqtt_ok = s.mqtt.as_ref().is_some_and(|m| {
        m.connack.is_some_and(|(_, _, code)| code == 0)
            || (m.connect.is_none()
                && m.summary
                    .counts_c2s
                    .iter()
                    .chain(&m.summary.counts_s2c)
                    .any(|&n| n > 0))
    });
    if !(ws_ok || mqtt_ok) {
        return;
    }
    let quiet = c.quiet_us as f64 / 1e6;
    if quiet < MIN_IDLE_SECS {
        return;
    }
    let closed_before = |t: Option<crate::capture::Ts>| t.is_some_and(|t| t <= c.ts);
    if s.ws_close
        .iter()
        .any(|w| closed_before(w.as_ref().map(|w| w.ts)))
    {
        return;
    }
    if s.mqtt
        .as_ref()
        .is_some_and(|m| m.disconnect.iter().any(|x| closed_before(x.map(|x| x.1))))
    {
        return;
    }
    let ka = s.mqtt.as_ref().and_then(|m| m.summary.keep_alive);
    // The broker itself drops a client that stays silent past 1.5 times its
    // keep-alive: that is the device's fault, not an idle timeout.
    if ka.is_some_and(|k| k > 0 && f64::from(k) <= quiet) {
        return;
    }
    let how = if c.rst { "RST" } else { "FIN" };
    let ka_text = match ka {
        Some(0) => "the device's MQTT keep-alive is 0 (off), so it never sends PINGREQ".to_string(),
        Some(k) => format!("the device's MQTT keep-alive is {k} s"),
        None => "the device's keep-alive was not captured (no CONNECT)".to_string(),
    };
    let mut f = Finding::of(
        "conn_idle_timeout",
        format!(
            "{} closed the connection ({how}) after {quiet:.1} s without traffic, with no WebSocket Close and no MQTT DISCONNECT; {ka_text}",
            meta.server
        ),
    )
    .stream(meta.stream)
    .frames(c.last_data_frame.into_iter().chain([c.frame]));
    if let Some(k) = ka.filter(|&k| k > 0) {
        let limit = (quiet * 2.0 / 3.0).floor().max(1.0);
        f = f.hint(format!(
            "A proxy or load balancer between device and broker closes connections that stay silent for about {quiet:.0} s, and the device's MQTT keep-alive of {k} s is longer, so the device never sends a PINGREQ in time. Raise the idle timeout above {} s (1.5 times the keep-alive; nginx: proxy_read_timeout and proxy_send_timeout, AWS ELB: idle timeout; both default to 60 s), or lower the device's keep-alive to at most {limit:.0} s (2/3 of the timeout).",
            (f64::from(k) * 1.5).ceil()
        ));
    }
    if ka.is_none() {
        f = f.severity(Severity::Warning);
    }
    // A broker ending a session because another connection took its client
    // id over looks the same here: decided at the end of the capture.
    cx.idle_cut(meta, quiet, ka);
    cx.defer(
        DeferKind::IdleCut {
            stream: meta.stream,
        },
        f,
    );
}

/// An HTTP CONNECT the proxy refused.
fn tunnel(meta: &ConnMeta, s: &ConnSummary, out: &mut Vec<Finding>) {
    let Some(t) = &s.tunnel else { return };
    if (200..300).contains(&t.status) {
        return;
    }
    let proxy = t
        .proxy
        .as_deref()
        .map(|p| format!(" ({p})"))
        .unwrap_or_default();
    let mut msg = format!(
        "the proxy {}{proxy} refused CONNECT {} from {}: {} {}",
        meta.server, t.target, meta.client.ip, t.status, t.reason
    );
    if let Some(e) = &t.proxy_error {
        msg.push_str(&format!(" (X-Squid-Error: {e}"));
        // squid appends the errno of its own connection attempt.
        match e.split_whitespace().nth(1) {
            Some("111") => msg.push_str(": the target refused the proxy's connection"),
            Some("110") => msg.push_str(": the proxy's connection to the target timed out"),
            Some("113") => msg.push_str(": no route from the proxy to the target"),
            _ => {}
        }
        msg.push(')');
    }
    if t.answer_secs >= 1.0 {
        msg.push_str(&format!(", {:.1} s after the CONNECT", t.answer_secs));
    }
    let hint = match t.status {
        407 => {
            if let Some(a) = &t.auth_asked {
                msg.push_str(&format!(" (it asks for {a})"));
            }
            if t.auth_sent {
                msg.push_str("; the device sent credentials, which the proxy did not accept");
                "The proxy refused the device's proxy credentials: check the user name and password configured on the device for the proxy.".to_string()
            } else {
                msg.push_str("; the device sent no Proxy-Authorization");
                "The proxy wants authentication and the device sent none: many devices cannot authenticate to a proxy. Configure proxy credentials on the device, allow the device's address or the broker's host without authentication on the proxy, or give the device a direct route to the broker.".to_string()
            }
        }
        403 => "The proxy forbids this target: allow the broker's host and port (CONNECT to 443/8883) in the proxy's rules for the device.".to_string(),
        500..=599 => {
            let errno = t
                .proxy_error
                .as_deref()
                .and_then(|e| e.split_whitespace().nth(1));
            match errno {
                Some("111") => format!("The proxy reached the broker's host but nothing accepts connections on {}: the broker is down or listens on another port than the device uses.", t.target),
                Some("110") => format!("The proxy's connection to {} timed out: a firewall between the proxy and the broker drops it, or the broker's host is down.", t.target),
                _ => format!("The proxy could not open the tunnel to {} (a 5xx is the proxy's own failure, not the broker's answer): check that the broker runs and listens on that port, that the proxy resolves its host name, and that no firewall between the proxy and the broker drops the connection.", t.target),
            }
        }
        _ => "The proxy did not open the tunnel: its answer names the reason.".to_string(),
    };
    out.push(
        Finding::of("http_connect_refused", msg)
            .stream(meta.stream)
            .frames([t.request_frame, t.response_frame])
            .hint(hint)
            .group(t.status.to_string()),
    );
}

/// A connection that tried to carry MQTT and never reached an accepted
/// session is never silent.
fn not_established(meta: &ConnMeta, d: &ConnDiag, s: &ConnSummary, out: &mut Vec<Finding>) {
    let ws_tried = d.upgrades.iter().any(|u| u.websocket);
    let ws_ok = d
        .upgrades
        .iter()
        .any(|u| u.websocket && u.handshake.outcome == Outcome::Accepted);
    let m = s.mqtt.as_ref();
    let connect = m.and_then(|m| m.connect);
    let connack_ok = m.is_some_and(|m| m.connack.is_some_and(|c| c.2 == 0));
    let tried = ws_tried || connect.is_some();
    if !tried {
        return;
    }
    let ok = if connect.is_some() { connack_ok } else { ws_ok };
    if ok {
        return;
    }
    // Findings of this connection that already say why (at info level, e.g.
    // the capture ended first) are enough.
    if out
        .iter()
        .any(|f| f.stream == Some(meta.stream) && f.code == "capture_ended_before_answer")
    {
        return;
    }
    let what = if let Some(u) = d.upgrades.iter().find(|u| u.websocket) {
        format!(
            "a WebSocket upgrade ({} {}, {})",
            u.request.method,
            u.request.uri,
            u.handshake.outcome.as_str()
        )
    } else {
        "an MQTT CONNECT".to_string()
    };
    let frames: Vec<u64> = d
        .upgrades
        .iter()
        .map(|u| u.request_frame)
        .chain(connect.map(|c| c.0))
        .collect();
    out.push(
        Finding::of(
            "session_not_established",
            format!(
                "{} → {} tried {what} and the capture shows no accepted MQTT session",
                meta.client, meta.server
            ),
        )
        .stream(meta.stream)
        .frames(frames),
    );
}

/// The client id of an MQTT session, if the CONNECT was captured.
pub(super) fn client_id(s: &ConnSummary) -> Option<&str> {
    s.mqtt
        .as_ref()
        .filter(|m| m.connect.is_some())
        .and_then(|m| m.summary.client_id.as_deref())
}
