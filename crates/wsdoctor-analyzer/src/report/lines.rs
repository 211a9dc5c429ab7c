//! The human summary of a connection (one line per layer) that the text
//! and HTML reports show. Made only for the connections a report keeps.

use crate::event::ConnSummary;
use crate::proto::handshake::UpgradeInfo;
use crate::proto::mqtt;
use crate::proto::tls::conn::TlsFacts;
use crate::proto::tls::names;
use std::fmt::Write as _;

/// One line per layer: the CONNECT tunnel, the TLS handshake, the Upgrades,
/// WebSocket, MQTT.
pub fn conn_lines(c: &ConnSummary, upgrades: &[UpgradeInfo]) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(t) = &c.tunnel {
        lines.push(format!(
            "CONNECT {} (frame {}) → {} {} (frame {}){}",
            t.target,
            t.request_frame,
            t.status,
            t.reason,
            t.response_frame,
            t.proxy
                .as_deref()
                .map(|p| format!("  proxy {p}"))
                .unwrap_or_default()
        ));
    }
    if let Some(t) = &c.tls {
        lines.extend(tls_lines(t));
    }
    // Nothing was recognised: nothing to say.
    if c.protocol == "unknown" && c.tls.is_none() && c.tunnel.is_none() {
        return Vec::new();
    }
    for u in upgrades {
        let mut s = format!(
            "{} {}  Upgrade: {}",
            u.request.method,
            u.request.uri,
            u.header("upgrade").unwrap_or("")
        );
        if let Some(p) = u.header("sec-websocket-protocol") {
            let _ = write!(s, "  Sec-WebSocket-Protocol: {p}");
        }
        s.push_str(" → ");
        match &u.response {
            Some(r) => {
                let _ = write!(
                    s,
                    "{} {} (frame {})",
                    r.status,
                    r.reason,
                    u.response_frame.unwrap_or(0)
                );
            }
            None => s.push_str("no response"),
        }
        if let Some(sv) = u.resp_header("server") {
            let _ = write!(s, "  Server: {sv}");
        }
        let _ = write!(s, "  [{}]", u.handshake.outcome.as_str());
        lines.push(s);
    }
    if c.ws_frames != [0, 0] || c.websocket_midstream {
        lines.push(format!(
            "WebSocket: {} frame(s) c2s, {} s2c{}",
            c.ws_frames[0],
            c.ws_frames[1],
            if c.websocket_midstream {
                " (handshake not captured: the capture starts after it)"
            } else {
                ""
            }
        ));
    }
    let seen = |s: &mqtt::Summary| s.counts_c2s.iter().chain(&s.counts_s2c).any(|&n| n > 0);
    let mqtt = c.mqtt.as_ref().filter(|m| seen(&m.summary));
    if let Some((s, transport)) = mqtt.map(|m| {
        let transport = match (m.transport, c.tls.is_some()) {
            ("websocket", true) => "WebSocket over TLS",
            ("websocket", false) => "WebSocket",
            (_, true) => "TLS",
            _ => "TCP",
        };
        (&m.summary, transport)
    }) {
        let level = match s.level {
            Some(3) => "MQTT 3.1",
            Some(4) => "MQTT 3.1.1",
            Some(5) => "MQTT 5.0",
            _ => "MQTT (version unknown)",
        };
        let mut l = format!(
            "{level}{} over {transport}",
            if s.level_inferred { " (inferred)" } else { "" }
        );
        if let Some(c) = &s.client_id {
            let _ = write!(l, "  client \"{c}\"");
            if let Some(mac) = advantech_mac(c) {
                let _ = write!(l, "  device {mac}");
            }
        }
        if let Some(code) = s.connack_code {
            l.push_str(if code == 0 {
                "  CONNACK accepted"
            } else {
                "  CONNACK refused"
            });
            if code != 0 {
                let _ = write!(l, " (code {code})");
            }
        }
        lines.push(l);
        let mut counts = Vec::new();
        for t in 1..16u8 {
            let n = s.counts_c2s[t as usize] + s.counts_s2c[t as usize];
            if n > 0 {
                counts.push(format!("{} {}", n, mqtt::msg_name(t)));
            }
        }
        if !counts.is_empty() {
            lines.push(format!("packets: {}", counts.join(", ")));
        }
        for t in s.topics.iter().take(8) {
            let adv = advantech_topic(&t.topic)
                .map(|m| format!("  (Advantech device {m})"))
                .unwrap_or_default();
            lines.push(format!(
                "{} PUBLISH {} {}{}",
                t.count,
                if t.dir == mqtt::Dir::C2S {
                    "to"
                } else {
                    "from broker on"
                },
                t.topic,
                adv
            ));
        }
        if s.topics.len() > 8 {
            lines.push(format!("... {} more topic(s)", s.topics.len() - 8));
        }
        let f = &s.flows;
        if f.qos1_completed + f.qos2_completed + f.qos1_incomplete + f.qos2_incomplete > 0 {
            lines.push(format!(
                "QoS flows: {} QoS 1 and {} QoS 2 completed, {} QoS 1 and {} QoS 2 incomplete",
                f.qos1_completed, f.qos2_completed, f.qos1_incomplete, f.qos2_incomplete
            ));
        }
    }
    lines
}

/// Summary lines of a TLS connection.
fn tls_lines(t: &TlsFacts) -> Vec<String> {
    let mut v = Vec::new();
    if let Some(ch) = &t.client_hello {
        let offered: Vec<String> = ch
            .versions
            .iter()
            .map(|&x| names::version_name(x))
            .collect();
        v.push(format!(
            "TLS ClientHello (frame {}): {}  SNI {}  ALPN {}  {} cipher suite(s)",
            ch.frame,
            offered.join("/"),
            ch.sni.as_deref().unwrap_or("-"),
            if ch.alpn.is_empty() {
                "-".to_string()
            } else {
                ch.alpn.join(",")
            },
            ch.suites.len()
        ));
    }
    if let Some(g) = t.hello_retry {
        v.push(format!(
            "HelloRetryRequest (frame {}): key share {}",
            t.hello_retry_frame,
            names::group_name(g)
        ));
    }
    if let Some(sh) = &t.server_hello {
        let mut l = format!(
            "ServerHello (frame {}): {} {}",
            sh.frame,
            names::version_name(sh.version),
            names::suite_name(sh.suite)
        );
        if let Some(a) = &sh.alpn {
            let _ = write!(l, "  ALPN {a}");
        }
        if sh.session_resumed || sh.psk {
            l.push_str("  (resumed session)");
        }
        v.push(l);
    }
    if let Some(c) = t.certificates.first() {
        v.push(format!(
            "certificate (frame {}): {}  issuer {}  valid {} to {}{}",
            t.certificate_frame,
            c.subject,
            c.issuer,
            crate::capture::Ts::new(c.not_before, 0, 0),
            crate::capture::Ts::new(c.not_after, 0, 0),
            if c.self_signed { "  self-signed" } else { "" }
        ));
    }
    if let Some(d) = &t.decrypt {
        if d.decrypted() {
            let mut l = format!(
                "decrypted with the key log: {} record(s) c2s, {} s2c from frame {}; {}/{} bytes of application data",
                d.records[0],
                d.records[1],
                d.first_frame.unwrap_or(0),
                d.app_bytes[0],
                d.app_bytes[1]
            );
            if d.key_updates != [0, 0] {
                let _ = write!(
                    l,
                    "; key updates {} c2s, {} s2c",
                    d.key_updates[0], d.key_updates[1]
                );
            }
            v.push(l);
        } else if !d.secrets {
            v.push("not decrypted: the key log has no secrets for this session".into());
        } else {
            v.push("not decrypted: the key log's secrets do not decrypt it".into());
        }
    }
    for a in &t.alerts {
        let who = if a.dir == 0 { "client" } else { "server" };
        if a.encrypted {
            v.push(format!("{who} sent an encrypted alert (frame {})", a.frame));
        } else {
            v.push(format!(
                "{who} sent {} alert {} ({}) in frame {}",
                if a.level == 2 { "fatal" } else { "warning" },
                names::alert_name(a.description),
                a.description,
                a.frame
            ));
        }
    }
    v
}

/// `00:D0:C9:E2:79:59` from a 12-hex-digit MAC inside a WISE-style client id.
pub fn advantech_mac(s: &str) -> Option<String> {
    let b = s.as_bytes();
    (0..b.len().saturating_sub(11)).find_map(|i| {
        let w = &b[i..i + 12];
        let hex = w.iter().all(|c| c.is_ascii_hexdigit());
        let bounded = (i == 0 || !b[i - 1].is_ascii_hexdigit())
            && b.get(i + 12).is_none_or(|c| !c.is_ascii_hexdigit());
        (hex && bounded && w[..6].eq_ignore_ascii_case(b"00D0C9")).then(|| {
            w.chunks(2)
                .map(|p| String::from_utf8_lossy(p).to_ascii_uppercase())
                .collect::<Vec<_>>()
                .join(":")
        })
    })
}

/// The device MAC of an Advantech topic (`Advantech/<MAC>/...`).
pub fn advantech_topic(topic: &str) -> Option<String> {
    let rest = topic.strip_prefix("Advantech/")?;
    let mac = rest.split('/').next()?;
    if mac.len() == 12 && mac.bytes().all(|c| c.is_ascii_hexdigit()) {
        Some(
            mac.as_bytes()
                .chunks(2)
                .map(|p| String::from_utf8_lossy(p).to_ascii_uppercase())
                .collect::<Vec<_>>()
                .join(":"),
        )
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advantech_names() {
        assert_eq!(
            advantech_mac("WISE-4050_00D0C9E27959").as_deref(),
            Some("00:D0:C9:E2:79:59")
        );
        assert_eq!(advantech_mac("client-1"), None);
        assert_eq!(
            advantech_topic("Advantech/00D0C9E27959/data").as_deref(),
            Some("00:D0:C9:E2:79:59")
        );
        assert_eq!(advantech_topic("Advantech/xyz/data"), None);
    }
}
