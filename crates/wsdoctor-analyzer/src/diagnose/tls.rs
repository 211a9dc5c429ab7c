//! Rules for a TLS connection (wss://, mqtts://): what the handshake in
//! clear shows, the alert that ended it and what preceded it, the server's
//! certificate judged against the capture's own time.

use super::cross::{Cross, DeferKind};
use super::upgrade::IMMEDIATE_CLOSE_SECS as IMMEDIATE_SECS;
use super::Finding;
use crate::capture::Ts;
use crate::event::{ConnSummary, Opening};
use crate::flow::{ConnEnd, ConnMeta, Dir};
use crate::proto::tls::cert::CertInfo;
use crate::proto::tls::conn::{AlertFacts, TlsFacts};
use crate::proto::tls::names::{alert_name, suite_name, version_name};

fn date(secs: i64) -> String {
    let s = Ts::new(secs, 0, 0).to_string();
    s.get(..10).unwrap_or(&s).to_string()
}

fn versions(v: &[u16]) -> String {
    let mut v = v.to_vec();
    v.sort_unstable_by(|a, b| b.cmp(a));
    v.iter()
        .map(|&x| version_name(x))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn findings(meta: &ConnMeta, s: &ConnSummary, cx: &mut Cross, out: &mut Vec<Finding>) {
    if s.tls.is_none() && s.protocol != "tls" && s.opening[0] != Opening::TlsClientHello {
        return;
    }
    let st = meta.stream;
    let hello_to = format!(
        "TLS ClientHello from {} to {}{}",
        meta.client,
        meta.server,
        s.sni
            .as_deref()
            .map(|n| format!(" (SNI \"{n}\")"))
            .unwrap_or_else(|| " (no SNI)".to_string())
    );
    let t = s.tls.as_ref();
    let ch = t.and_then(|t| t.client_hello.as_ref());
    let hello_frame = ch.map(|c| c.frame).or(meta.first_data[0].map(|d| d.0));
    let hello_ts = ch.map_or(meta.first_data[0].map_or(0.0, |d| d.1.as_f64()), |c| c.ts);
    // A clear-text listener: answered in HTTP, or closed at once.
    if s.opening[1] == Opening::HttpResponse {
        let line = s.first_line[1].as_deref().unwrap_or("an HTTP response");
        out.push(
            Finding::of(
                "tls_to_plain_port",
                format!("{hello_to} answered in clear text: \"{line}\""),
            )
            .stream(st)
            .frames(
                hello_frame
                    .into_iter()
                    .chain(meta.first_data[1].map(|d| d.0)),
            ),
        );
        return;
    }
    let Some(t) = t else { return };
    let close = meta.first_close;
    let no_answer = s.opening[1] == Opening::Nothing;
    if no_answer
        && close.is_some_and(|c| c.by == Dir::S2C && c.ts.as_f64() - hello_ts <= IMMEDIATE_SECS)
    {
        let c = close.map(|c| (c.frame, c.rst));
        let f = Finding::of(
            "tls_to_plain_port",
            format!(
                "{hello_to} got no TLS answer: the server closed the connection ({}) at once",
                if c.is_some_and(|c| c.1) { "RST" } else { "FIN" }
            ),
        )
        .stream(st)
        .frames(hello_frame.into_iter().chain(c.map(|c| c.0)));
        if matches!(meta.server.port, 80 | 8080 | 1883 | 8000) || cx.carries_plain(meta.server) {
            out.push(f);
        } else {
            cx.defer(
                DeferKind::IfPlain {
                    server: meta.server,
                },
                f,
            );
        }
        return;
    }
    if let Some(a) = t.fatal_alert() {
        alert(meta, s, t, a, out);
        return;
    }
    let complete = t.handshake_complete();
    if !complete {
        incomplete(meta, t, &hello_to, cx, out);
        return;
    }
    let sh = t.server_hello.as_ref();
    let what = match sh {
        Some(sh) => format!("{} {}", version_name(sh.version), suite_name(sh.suite)),
        None => "TLS".into(),
    };
    // h2 chosen where a WebSocket client needs HTTP/1.1 for its Upgrade.
    if let Some(sh) = sh.filter(|sh| sh.alpn.as_deref() == Some("h2")) {
        let offered = t
            .client_hello
            .as_ref()
            .map(|c| c.alpn.join(","))
            .unwrap_or_default();
        let mut f = Finding::of(
            "tls_alpn_h2_on_websocket",
            format!(
                "the server chose HTTP/2 by ALPN (the device offered {offered}) on {}: a WebSocket client needs HTTP/1.1 for its Upgrade",
                meta.server
            ),
        )
        .stream(st)
        .frames([sh.frame]);
        // Decrypted: the device sent its HTTP/1.1 Upgrade anyway and the
        // server spoke HTTP/2 back.
        if let Some([Opening::HttpRequest, answer]) = s.decrypted_opening {
            if answer != Opening::HttpResponse {
                f.message.push_str("; decrypted: the device sent its HTTP/1.1 Upgrade anyway and the server answered in HTTP/2, so the WebSocket never opened");
                f = f.severity(super::Severity::Error);
            }
        }
        out.push(f);
    }
    if t.client_hello.as_ref().is_some_and(|c| c.sni.is_none()) {
        out.push(
            Finding::of(
                "tls_sni_missing",
                format!(
                    "{hello_to}: the device sends no server name; the handshake still completed ({what})"
                ),
            )
            .severity(super::Severity::Info)
            .stream(st)
            .frames(hello_frame),
        );
    }
    // The device closed right after the handshake without sending data:
    // clients that verify the certificate after the handshake (Node.js,
    // MQTT.js) refuse it this way, without an alert.
    if let Some(c) = close.filter(|c| c.by == Dir::C2S && !c.rst) {
        let after = t.first_encrypted[1].map_or(0.0, |(_, ts)| c.ts.as_f64() - ts);
        // Its Finished at most: no application data.
        let silent = t.encrypted_records[0] <= 1;
        if silent && after <= IMMEDIATE_SECS {
            out.push(
                Finding::of(
                    "tls_closed_after_handshake",
                    format!(
                        "the device closed the connection {:.0} ms after the TLS handshake ({what}) without sending any data and without an alert",
                        after * 1000.0
                    ),
                )
                .stream(st)
                .frames([c.frame]),
            );
            return;
        }
    }
    let cert = t
        .certificates
        .first()
        .map(|c| {
            format!(
                "; certificate {} (issuer {}, valid {} to {})",
                c.subject,
                c.issuer,
                date(c.not_before),
                date(c.not_after)
            )
        })
        .unwrap_or_default();
    let alpn = sh
        .and_then(|sh| sh.alpn.clone())
        .map(|a| format!(", ALPN {a}"))
        .unwrap_or_default();
    let to = match &s.tunnel {
        Some(tu) => format!("{} through the proxy {}", tu.target, meta.server),
        None => meta.server.to_string(),
    };
    let sni = s
        .sni
        .as_deref()
        .map(|n| format!(" (SNI \"{n}\")"))
        .unwrap_or_default();
    match &t.decrypt {
        // Decrypted: what it carried is diagnosed like clear text.
        Some(d) if d.decrypted() => {
            if let Some(f) = d.failure.as_ref().filter(|f| f.auth) {
                out.push(
                    Finding::of(
                        "tls_decrypt_failed",
                        format!(
                            "the {} records of the connection to {to}{sni} stop decrypting in frame {}: {} ({} record(s) decrypted before); what follows is not decoded",
                            if f.dir == 0 { "device's" } else { "server's" },
                            f.frame,
                            f.error,
                            d.records[f.dir]
                        ),
                    )
                    .stream(st)
                    .frames([f.frame]),
                );
            }
        }
        Some(d) if !d.secrets => {
            let random = t
                .client_hello
                .as_ref()
                .map(|c| hex_prefix(&c.random))
                .unwrap_or_default();
            out.push(
                Finding::of(
                    "tls_keylog_no_keys",
                    format!(
                        "encrypted connection to {to}{sni}: {what}{alpn}{cert}; the key log has no secrets for this session (client random {random}...), so its contents cannot be seen"
                    ),
                )
                .stream(st)
                .frames(hello_frame),
            );
        }
        Some(d) => {
            let why = d
                .failure
                .as_ref()
                .map(|f| format!("frame {}: {}", f.frame, f.error))
                .unwrap_or_else(|| "no record could be decrypted".into());
            let mut f = Finding::of(
                "tls_decrypt_failed",
                format!(
                    "encrypted connection to {to}{sni}: {what}{alpn}{cert}; the key log has secrets for this session ({}) but they do not decrypt it ({why})",
                    d.labels.join(", ")
                ),
            )
            .stream(st)
            .frames(hello_frame.into_iter().chain(d.failure.as_ref().map(|f| f.frame)));
            if let Some(fl) = d.failure.as_ref().filter(|f| !f.auth) {
                f = f.hint(if fl.error.contains("is not decrypted") {
                    "wsdoctor decrypts TLS 1.2 and 1.3 with AES-GCM, ChaCha20-Poly1305 and AES-CBC (SHA-1, SHA-256, SHA-384) suites; this session uses another version or suite. Wireshark may decrypt it with the same key log."
                } else {
                    "The key log lacks a secret this session needs (TLS 1.3 logs one line per secret: CLIENT_HANDSHAKE_TRAFFIC_SECRET, SERVER_HANDSHAKE_TRAFFIC_SECRET, CLIENT_TRAFFIC_SECRET_0, SERVER_TRAFFIC_SECRET_0): give the complete key log the client wrote."
                });
            }
            out.push(f);
        }
        None => out.push(
            Finding::of(
                "tls_encrypted",
                format!(
                    "encrypted connection to {to}{sni}: {what}{alpn}{cert}; its contents cannot be seen without the session keys"
                ),
            )
            .stream(st)
            .frames(hello_frame),
        ),
    }
}

/// The first bytes of a random, in hex (enough to find it in a key log).
fn hex_prefix(b: &[u8]) -> String {
    b.iter().take(8).map(|x| format!("{x:02x}")).collect()
}

/// A fatal alert in clear: named, with who sent it and what preceded it,
/// and the cause it points at.
fn alert(meta: &ConnMeta, s: &ConnSummary, t: &TlsFacts, a: &AlertFacts, out: &mut Vec<Finding>) {
    let st = meta.stream;
    let name = alert_name(a.description);
    let who = if a.dir == 0 {
        "the device"
    } else {
        "the server"
    };
    let ch = t.client_hello.as_ref();
    let before = if t.server_hello.is_none() && a.dir == 1 {
        "answered the ClientHello"
    } else if a.dir == 0 && !t.certificates.is_empty() {
        "refused the server's certificate"
    } else if a.dir == 0 && t.server_hello.is_some() {
        "ended the handshake after the server's answer"
    } else {
        "ended the handshake"
    };
    let mut frames: Vec<u64> = ch.map(|c| c.frame).into_iter().collect();
    if t.certificate_frame > 0 && a.dir == 0 {
        frames.push(t.certificate_frame);
    }
    frames.push(a.frame);
    let mut cause = String::new();
    let capture_time = meta.first_ts.secs;
    let leaf: Option<&CertInfo> = t.certificates.first();
    let mut specific: Option<Finding> = None;
    let base =
        |code: &'static str, msg: String| Finding::of(code, msg).stream(st).frames(frames.clone());
    match (a.dir, a.description) {
        (1, 70) => {
            let offered = ch.map(|c| versions(&c.versions)).unwrap_or_default();
            cause = format!(": it accepts no TLS version the device offers ({offered})");
            let old = ch.is_some_and(|c| c.max_version() < 0x0303);
            let hint = if old {
                "The device offers only TLS 1.0/1.1, which servers refuse today (Azure IoT Hub requires TLS 1.2 since 2025, AWS IoT since 2023). Update the device's firmware or TLS library to TLS 1.2."
            } else {
                "The device and the server have no TLS version in common (e.g. a TLS 1.3-only client and a TLS 1.2-only server). Enable TLS 1.3 on the server (nginx: ssl_protocols TLSv1.2 TLSv1.3;) or TLS 1.2 on the device."
            };
            specific = Some(
                base(
                    "tls_version_mismatch",
                    format!("{hello_to}: the server accepts none of the device's TLS versions ({offered}) and answered protocol_version", hello_to = hello(meta, s)),
                )
                .hint(hint),
            );
        }
        (1, 40) if t.server_hello.is_none() => {
            let suites: Vec<String> = ch
                .map(|c| c.suites.iter().take(6).map(|&x| suite_name(x)).collect())
                .unwrap_or_default();
            let n = ch.map_or(0, |c| c.suites.len());
            cause = ": no cipher suite (or key exchange group) in common".into();
            specific = Some(base(
                "tls_no_shared_cipher",
                format!(
                    "{}: the server found no cipher suite in common with the device's {n} ({}{}) and answered handshake_failure",
                    hello(meta, s),
                    suites.join(", "),
                    if n > 6 { ", ..." } else { "" }
                ),
            ));
        }
        (1, 112) | (1, 40) if ch.is_some_and(|c| c.sni.is_none()) => {
            cause = ": the device sent no server name (SNI) and the server requires one".into();
            specific = Some(base(
                "tls_sni_missing",
                format!(
                    "{}: the device sends no server name (SNI); the server answered {name}",
                    hello(meta, s)
                ),
            ));
        }
        (1, 112) => {
            cause = format!(
                ": the server does not know the name \"{}\"",
                ch.and_then(|c| c.sni.as_deref()).unwrap_or("")
            );
        }
        (0, 42..=46) | (0, 48) => {
            let sni = ch.and_then(|c| c.sni.as_deref());
            let (code, msg, hint): (&'static str, String, Option<&'static str>) = match leaf {
                Some(c) if capture_time > c.not_after => (
                    "tls_cert_expired",
                    format!("the server's certificate {} expired on {} (the capture is from {}); the device refused it with {name}", c.subject, date(c.not_after), date(capture_time)),
                    None,
                ),
                Some(c) if capture_time < c.not_before => (
                    "tls_cert_not_yet_valid",
                    format!("the server's certificate {} is valid only from {} (the capture is from {}); the device refused it with {name}", c.subject, date(c.not_before), date(capture_time)),
                    None,
                ),
                Some(c) if sni.is_some_and(|n| !c.valid_for(n)) => (
                    "tls_cert_name_mismatch",
                    format!(
                        "the server's certificate is for {} but the device asked for \"{}\" (SNI); the device refused it with {name}",
                        if c.san.is_empty() { c.common_name.clone().unwrap_or_default() } else { c.san.join(", ") },
                        sni.unwrap_or("")
                    ),
                    None,
                ),
                Some(c) if c.self_signed || a.description == 48 => (
                    "tls_cert_untrusted",
                    format!(
                        "the device does not trust the server's certificate {} (issuer {}{}) and refused it with {name}",
                        c.subject,
                        c.issuer,
                        if c.self_signed { ", self-signed" } else { "" }
                    ),
                    None,
                ),
                Some(c) if a.description == 45 => (
                    "tls_cert_expired",
                    format!("the device refused the server's certificate as expired (certificate_expired), but it is valid at the capture's time ({} to {}, the capture is from {}): the device's clock is ahead", date(c.not_before), date(c.not_after), date(capture_time)),
                    Some("The device's clock is wrong (set years ahead), so a valid certificate looks expired. Set the clock (NTP, or the device's RTC battery) before connecting."),
                ),
                Some(c) if a.description == 42 => (
                    "tls_cert_not_yet_valid",
                    format!("the device refused the server's certificate (bad_certificate), which is valid at the capture's time ({} to {}, the capture is from {}) and matches the name: the device's clock is behind (OpenSSL clients answer bad_certificate for a certificate not yet valid)", date(c.not_before), date(c.not_after), date(capture_time)),
                    Some("The device's clock is wrong (often 1970 after a reset without NTP), so a valid certificate looks not yet valid. Set the clock (NTP, or the device's RTC battery) before connecting."),
                ),
                Some(_) => (
                    "tls_cert_untrusted",
                    format!("the device refused the server's certificate with {name}"),
                    None,
                ),
                None => match a.description {
                    45 => (
                        "tls_cert_expired",
                        format!("the device refused the server's certificate as expired (certificate_expired); the certificate itself is encrypted ({}), so whether it expired or the device's clock is ahead needs a key log", t.version().map(version_name).unwrap_or_default()),
                        None,
                    ),
                    48 => (
                        "tls_cert_untrusted",
                        format!("the device does not trust the server's certificate (unknown_ca); the certificate is encrypted ({})", t.version().map(version_name).unwrap_or_default()),
                        None,
                    ),
                    _ => (
                        "tls_cert_untrusted",
                        format!("the device refused the server's certificate with {name}; the certificate is encrypted ({}): it may not be valid yet (or the device's clock is behind), not match the name, or come from an unknown CA; a key log would tell", t.version().map(version_name).unwrap_or_default()),
                        None,
                    ),
                },
            };
            cause = format!(": {msg}");
            let mut f = base(code, msg);
            if let Some(h) = hint {
                f = f.hint(h);
            }
            specific = Some(f);
        }
        _ => {}
    }
    out.push(base(
        "tls_alert",
        format!(
            "TLS handshake failed: {who} {before} with a fatal {name} alert ({}) in frame {}{cause}",
            a.description, a.frame
        ),
    )
    .group(name.to_string()));
    if let Some(f) = specific {
        out.push(f);
    }
}

fn hello(meta: &ConnMeta, s: &ConnSummary) -> String {
    format!(
        "TLS ClientHello from {} to {}{}",
        meta.client,
        meta.server,
        s.sni
            .as_deref()
            .map(|n| format!(" (SNI \"{n}\")"))
            .unwrap_or_else(|| " (no SNI)".to_string())
    )
}

/// The handshake never finished: who ended it, or the capture stopped first.
fn incomplete(meta: &ConnMeta, t: &TlsFacts, hello_to: &str, cx: &Cross, out: &mut Vec<Finding>) {
    let st = meta.stream;
    let hello_ts = t
        .client_hello
        .as_ref()
        .and(meta.first_data[0])
        .map_or(meta.first_ts.as_f64(), |d| d.1.as_f64());
    let stage = if t.server_hello.is_some() {
        "after the ServerHello"
    } else {
        "before any ServerHello"
    };
    match meta.first_close {
        Some(c) => {
            let who = if c.by == Dir::C2S {
                "the device"
            } else {
                "the server"
            };
            out.push(
                Finding::of(
                    "tls_handshake_incomplete",
                    format!(
                        "{hello_to}: {who} closed the connection ({}) {:.3} s after the ClientHello, {stage}, without an alert",
                        if c.rst { "RST" } else { "FIN" },
                        c.ts.as_f64() - hello_ts
                    ),
                )
                .stream(st)
                .frames(t.client_hello.as_ref().map(|c| c.frame).into_iter().chain([c.frame])),
            );
        }
        None if meta.end == ConnEnd::Open => {
            let waited = cx.capture_end.map_or(0.0, |e| e.as_f64() - hello_ts);
            out.push(
                Finding::of(
                    "capture_ended_before_answer",
                    format!("the capture ends {waited:.3} s after the {hello_to}, {stage}: whether the handshake completes cannot be seen"),
                )
                .stream(st)
                .frames(t.client_hello.as_ref().map(|c| c.frame)),
            );
        }
        None => {}
    }
}
