//! The finding policy: for every code its severity, its rank among equals
//! (the diagnosis before the symptoms it explains) and the cause-and-fix
//! hint used when a rule has no more specific one. One table, so that what a
//! code means is decided in one place.

use super::Severity;
use Severity::{Error, Info, Warning};

/// What a code means to the reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    pub severity: Severity,
    /// Order among findings of equal severity: lower comes first (0: the
    /// diagnosis of why the device's session failed; 9: decoder notes).
    pub rank: u8,
    pub hint: &'static str,
}

const fn p(severity: Severity, rank: u8, hint: &'static str) -> Policy {
    Policy {
        severity,
        rank,
        hint,
    }
}

const WS_PEER: &str = "The side that sent this frame breaks RFC 6455 here; wsdoctor decoded on. Update or reconfigure that side's WebSocket library, and check any proxy in between that rewrites frames.";
const MQTT_PEER: &str = "The side that sent this packet breaks the MQTT specification here; wsdoctor decoded on at the next packet. Check that side's firmware or MQTT library version.";
const HANDSHAKE_REQ: &str = "The device's Upgrade request is not a valid RFC 6455 handshake; strict servers and proxies refuse it (400 or 426). Update the device's WebSocket library or firmware.";
const HANDSHAKE_RESP: &str = "The 101 answer is not a valid RFC 6455 handshake, so a correct client refuses it and closes. A proxy in between may rewrite the handshake, or the server's WebSocket module is broken.";
const HTTP_LOST: &str = "The HTTP stream could not be followed from here on; the rest of that direction was not decoded. If the capture lost packets, capture closer to the server without a snaplen.";
const HTTP_FRAMING: &str = "An HTTP message's length framing is inconsistent; proxies may cut or merge messages here (request smuggling risk). Fix the sender's HTTP library.";
const GAP: &str = "Bytes were missing from the capture (not reordering: they never arrived); decoding resumed at the next plausible boundary. Capture with a larger buffer (dumpcap -B), no snaplen, as close to one end as possible.";
const CAPTURE: &str = "The capture file itself is incomplete or unusual here; what could be read was analysed. Ask for the original, complete capture (dumpcap or tcpdump -w, no snaplen).";

/// The policy of `code`. Every code wsdoctor emits is listed here (and in
/// docs/findings.md); an unknown code gets a neutral entry.
pub fn policy(code: &str) -> Policy {
    match code {
        // The diagnosis: why the device's session could not start or broke.
        "ws_upgrade_rejected_pre_iis8" => p(Error, 0, "WebSocket support arrived in IIS 8.0 (Windows 8 / Server 2012): this server treats the Upgrade as a plain request. Move the server to Windows 8 / Server 2012 or later (IIS 8+ with the WebSocket Protocol feature), or connect the device with plain MQTT on TCP 1883."),
        "ws_upgrade_rejected" => p(Error, 0, "The server (or a proxy in front of it) does not accept a WebSocket upgrade on this URL. Check the path, the port and any proxy between device and broker."),
        "ws_upgrade_path_not_found" => p(Error, 0, "Nothing is served on this path: the device asks for a URL the server does not know. Set the device's WebSocket path to the one the broker serves (often /mqtt; Azure IoT Hub: /$iothub/websocket)."),
        "ws_upgrade_dropped_by_proxy" => p(Error, 0, "A reverse proxy answered: it did not pass the Upgrade to the WebSocket backend. In nginx: proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection \"upgrade\"; (IIS ARR: enable WebSocket; other load balancers: enable WebSocket or HTTP/1.1 upgrade passthrough)."),
        "ws_upgrade_to_mqtt_port" => p(Error, 0, "The device speaks MQTT over WebSocket to a port that speaks plain MQTT: the broker reads \"GET\" as a malformed MQTT packet and drops the connection. Point the device at the broker's WebSocket listener (mosquitto: a listener with protocol websockets, often 8080/9001/8083), or switch the device to plain MQTT (tcp://) on this port."),
        "ws_plain_to_tls_port" => p(Error, 0, "The device sends clear-text ws:// to a port that expects TLS. Use wss:// (with the broker's CA certificate on the device), or point ws:// at the clear-text port."),
        "tls_to_plain_port" => p(Error, 0, "The device starts TLS (wss:// or mqtts://) on a port that speaks clear text. Use ws:// / tcp:// on this port, or point the device at the TLS port (usually 443/8883/8084)."),
        "ws_upgrade_no_response" => p(Error, 0, "The server accepted the TCP connection but never answered the Upgrade. A firewall or proxy may swallow the request, or the server application hangs. Capture on the server side to see whether the request arrives."),
        "ws_upgrade_reset" => p(Error, 0, "The server (or a firewall) reset the connection instead of answering. Check that the server listens for WebSocket on this port and that no security appliance drops Upgrade requests."),
        "http_connect_refused" => p(Error, 0, "The HTTP proxy did not open the tunnel the device asked for (CONNECT): its answer names the reason (authentication, a forbidden target, an unreachable broker)."),
        "mqtt_closed_before_connack" => p(Error, 0, "The broker closed the connection after the CONNECT without answering it: brokers do this when they refuse the client before the MQTT session starts. Check the broker side: the client's authorisation or policy (AWS IoT closes connections whose certificate has no policy allowing iot:Connect for this client id), client id rules, a client certificate the broker does not accept, connection limits. The broker's log names the reason."),
        "mqtt_connect_refused" => p(Error, 1, "The broker refused the session and said why (the return / reason code): check the client id, user name and password, and the broker's access rules for this client."),
        "mqtt_client_id_takeover" => p(Error, 0, "Two clients use the same MQTT client id: each new CONNECT makes the broker end the other session (MQTT requires it), and both reconnect in a loop. Give every device its own client id (e.g. with its MAC or serial number)."),
        "conn_idle_timeout" => p(Error, 0, "A proxy or load balancer between device and broker closes connections that stay silent longer than its idle timeout, and the device's MQTT keep-alive is longer than that. Raise the idle timeout (nginx proxy_read_timeout / proxy_send_timeout, AWS ELB idle timeout; both default to 60 s) above 1.5 times the keep-alive, or lower the device's keep-alive below 2/3 of the timeout."),
        "ws_accept_mismatch" => p(Error, 1, "A client refuses this handshake (RFC 6455 section 4.1): the server computes Sec-WebSocket-Accept wrongly, or a proxy rewrote the key or the answer."),
        "ws_accept_missing" => p(Error, 1, "A 101 without Sec-WebSocket-Accept is refused by every correct client: the server's WebSocket implementation is incomplete, or a proxy stripped the header."),
        "ws_subprotocol_not_selected" => p(Warning, 1, "The client offered subprotocols and the 101 selected none; MQTT clients then close the connection (MQTT over WebSocket requires Sec-WebSocket-Protocol: mqtt). Configure the server to answer with the mqtt subprotocol."),
        "ws_subprotocol_not_offered" | "ws_extension_not_offered" | "ws_deflate_params_invalid" | "ws_upgrade_header_missing" | "ws_connection_header_missing" => p(Error, 1, HANDSHAKE_RESP),
        "ws_header_duplicated" | "ws_key_missing" | "ws_key_invalid" | "ws_version_missing" | "ws_version_unsupported" | "ws_method_not_get" | "http_version_too_old" => p(Error, 2, HANDSHAKE_REQ),
        "tls_handshake_incomplete" => p(Error, 0, "The connection ended before the TLS handshake finished. The server may not speak TLS on this port, refuse the ClientHello (versions, ciphers, SNI), or a firewall cuts TLS: check the port and the server's TLS settings."),
        "capture_ended_before_answer" => p(Info, 7, "Capture longer (at least a few seconds after the device's request) to see the answer."),
        "session_not_established" => p(Warning, 1, "The device tried to start an MQTT session here and the capture shows no accepted session. The other findings of this connection, if any, say what went wrong; otherwise capture longer or closer to the broker."),
        "device_retry" => p(Info, 3, "The device keeps retrying the same failing request: the fix is where the other findings point."),
        // What the MQTT session showed.
        "mqtt_server_disconnect" => p(Warning, 2, "The broker closed the session and said why: the reason code names the cause (packet too large, not authorized, session taken over...)."),
        "mqtt_connack_missing" => p(Warning, 2, "The CONNECT was never answered. The broker may be overloaded, or something between device and broker holds the connection without forwarding it."),
        "mqtt_connect_missing" => p(Warning, 4, "The session's first packet was not a CONNECT: the capture missed it, or the client is broken."),
        "mqtt_packet_before_connack" => p(Warning, 4, MQTT_PEER),
        "mqtt_second_connect" => p(Warning, 4, "A second CONNECT on one connection is a protocol violation; the broker must close the connection. Fix the client's reconnect logic."),
        "mqtt_keepalive_exceeded" => p(Warning, 2, "No client packet came within 1.5 times the keep-alive; the broker would have dropped the client. Check the device's network and its PINGREQ timer."),
        "mqtt_qos_flow_incomplete" => p(Warning, 5, "A QoS 1/2 exchange did not finish (the connection dropped first): the message may be delivered again after reconnecting."),
        "mqtt_suback_failure" => p(Warning, 2, "The broker refused a subscription: check the topic filter and the broker's access rules for this client."),
        "mqtt_packet_too_large" => p(Warning, 4, "A packet exceeded wsdoctor's size limit; its header was reported and its body skipped (raise the limit to decode it)."),
        "mqtt_limit_exceeded" | "mqtt_too_many_anomalies" => p(Warning, 6, "A decoder limit was reached; the rest of that packet was not decoded in full."),
        "mqtt_truncated_packet" => p(Warning, 6, GAP),
        "mqtt_gap" | "mqtt_resync" => p(Info, 8, GAP),
        "mqtt_unknown_topic_alias" => p(Warning, 5, "A PUBLISH used a topic alias that was never set up on this connection (or its setup was not captured)."),
        c if c.starts_with("mqtt_") => p(Warning, 5, MQTT_PEER),
        // TLS (clear facts without keys).
        "tls_version_mismatch" => p(Error, 0, "The device and the server have no TLS version in common. Update the side that offers only old versions (TLS 1.0/1.1 firmware), or enable the version the other side needs."),
        "tls_no_shared_cipher" => p(Error, 0, "The device and the server have no cipher suite (or key exchange group) in common. Enable a modern suite on the device (ECDHE with AES-GCM or ChaCha20) or, if the device cannot be updated, a suite it offers on the server."),
        "tls_sni_missing" => p(Error, 0, "The device sends no server name (SNI) in its ClientHello. Servers and load balancers with several names (nginx with ssl_reject_handshake, AWS IoT, Azure IoT Hub, most clouds) refuse it or give a default certificate. Connect by host name, or enable SNI in the device's TLS settings."),
        "tls_cert_expired" => p(Error, 0, "The server's certificate has expired, or the device's clock is ahead so that it looks expired. Renew the certificate, or set the device's clock (NTP)."),
        "tls_cert_not_yet_valid" => p(Error, 0, "The server's certificate is not valid yet, or the device's clock is behind (often 1970 after a reset). Set the device's clock (NTP, RTC) or check the certificate's validity start."),
        "tls_cert_name_mismatch" => p(Error, 0, "The server's certificate does not name the host the device connects to. Connect with the name the certificate carries, or issue a certificate with that name (subjectAltName)."),
        "tls_cert_untrusted" => p(Error, 0, "The device does not trust the server's certificate: it is self-signed or from a CA the device does not know. Install the CA certificate on the device (the broker's CA file), or use a certificate from a CA it trusts."),
        "tls_alert" => p(Error, 1, "The TLS handshake was aborted with a fatal alert; the alert names the cause, the other findings of this connection say more."),
        "tls_alpn_h2_on_websocket" => p(Warning, 1, "A proxy or load balancer chose HTTP/2 by ALPN on a wss:// endpoint. WebSocket over HTTP/1.1 needs http/1.1: let the device offer only http/1.1, or turn HTTP/2 off for this endpoint (nginx: a server block without http2 for the WebSocket host)."),
        "tls_closed_after_handshake" => p(Warning, 1, "The device completed the TLS handshake and then closed without sending anything: clients that check the certificate after the handshake (Node.js, MQTT.js) refuse it this way, without an alert (expired, not yet valid, or the clock is wrong, unknown CA, wrong name). The device's own log names the reason."),
        "tls_keylog_no_keys" => p(Warning, 6, "The key log has no secrets for this TLS session (its client random is not in the file): it was written for another session or another client. Capture again with SSLKEYLOGFILE set on the device or client that makes this connection."),
        "tls_decrypt_failed" => p(Warning, 6, "The key log has secrets for this session but they do not decrypt it (the integrity check fails): the key log belongs to another session with the same client random, or it is corrupt."),
        "tls_encrypted" => p(Info, 7, "Only the server name (SNI), ALPN and port are visible. To see the WebSocket/MQTT inside, capture again with a TLS key log (SSLKEYLOGFILE on the client) and pass it with --tls-keylog, or test against the clear-text port."),
        // WebSocket framing.
        "ws_gap_in_payload" | "ws_gap_lost_sync" | "ws_resynced" => p(Info, 8, GAP),
        "ws_midstream_skipped" => p(Info, 8, "The capture starts inside a WebSocket frame: the handshake and the start of the stream were not captured. Capture from before the device connects to see the whole session."),
        "ws_inflate_limit" => p(Warning, 5, "A compressed message inflated past the configured cap (possible deflate bomb); the rest of the message was not decoded."),
        "ws_inflate_error" | "ws_inflate_context_lost" => p(Warning, 5, "permessage-deflate data could not be inflated: compressed data was lost in the capture, or the sender's deflate implementation is broken (ARR 3.0 and some proxies mishandle permessage-deflate). Later messages of that direction may not be decodable."),
        "ws_client_frame_unmasked" => p(Warning, 4, "RFC 6455 requires clients to mask every frame, and servers must close such connections. Update the client's WebSocket library."),
        "ws_server_frame_masked" => p(Warning, 4, "RFC 6455 forbids masking server frames, and clients must close such connections."),
        c if c.starts_with("ws_") => p(Warning, 4, WS_PEER),
        // HTTP.
        "http_gap" | "http_not_http" | "http_malformed" | "http_head_too_large" | "http_too_many_headers" => p(Info, 8, HTTP_LOST),
        c if c.starts_with("http_") => p(Warning, 6, HTTP_FRAMING),
        // TCP and the capture.
        "tcp_gap" => p(Warning, 3, GAP),
        "tcp_overlap_conflict" => p(Warning, 3, "Retransmitted or overlapping segments carry different bytes; the first copy was used. This points at a broken middlebox or deliberate evasion."),
        "tcp_reassembly_limit" => p(Warning, 3, "The out-of-order buffer limit forced holes to be skipped before their bytes could arrive. Raise --max-ooo-bytes if the capture is trustworthy."),
        "tcp_connection_limit" => p(Warning, 3, "Later packets of a dropped connection start a new stream, so stream numbers may differ from Wireshark's after this point. Raise --max-connections if memory allows."),
        "tcp_data_after_close" => p(Info, 8, "A sender does not send data after its own FIN, and a receiver discards data after a reset: these bytes never reached an application. Look at who closed the connection and when."),
        "capture_truncated" => p(Warning, 2, "The file was cut short (copy interrupted, or the capture was still being written). Ask for the complete file."),
        "capture_unsupported_linktype" | "capture_not_decoded" => p(Warning, 2, "Packets of this kind are not decoded, so what they carry was not analysed. Capture on an Ethernet, Linux cooked (any) or loopback interface, or convert the file (editcap)."),
        "capture_no_tcp" => p(Info, 7, "The capture holds no TCP traffic that could carry HTTP, WebSocket or MQTT. Capture on the interface and port the device uses."),
        "capture_malformed_packet" | "capture_warning" | "ip_fragments_dropped" => p(Info, 8, CAPTURE),
        _ => p(Warning, 9, "See docs/findings.md for what this finding means."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_code_has_its_own_entry() {
        let doc = include_str!("../../../../docs/findings.md");
        let fallback = policy("no_such_code_at_all");
        for line in doc.lines().filter(|l| l.starts_with("| `")) {
            let cell = line.split('|').nth(1).unwrap_or("");
            for code in cell.split('`').skip(1).step_by(2) {
                assert_ne!(policy(code), fallback, "{code} has no policy entry");
            }
        }
    }
}
