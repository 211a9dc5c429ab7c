// Test module: declared under #[cfg(test)] in mod.rs.
#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::arithmetic_side_effects
)]

use super::*;

// ---------------------------------------------------------------- helpers

pub(super) fn enc(b0: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![b0];
    let mut n = body.len();
    loop {
        let mut b = (n % 128) as u8;
        n /= 128;
        if n > 0 {
            b |= 0x80;
        }
        v.push(b);
        if n == 0 {
            break;
        }
    }
    v.extend_from_slice(body);
    v
}

fn s(x: &str) -> Vec<u8> {
    let mut v = (x.len() as u16).to_be_bytes().to_vec();
    v.extend_from_slice(x.as_bytes());
    v
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn dec(bytes: &[u8], level: Option<u8>) -> Packet<'_> {
    match parse_fixed_header(bytes) {
        FixedHeader::Complete { header_len, .. } => {
            decode_packet(bytes[0], &bytes[header_len as usize..], level)
        }
        h => panic!("bad header {h:?}"),
    }
}

fn codes(p: &Packet<'_>) -> Vec<&'static str> {
    p.anomalies.iter().map(|a| a.code.as_str()).collect()
}

/// Owned record of an event, for comparisons.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Rec {
    pub kind: &'static str,
    pub dir: Option<Dir>,
    pub name: String,
    pub offset: Option<u64>,
    pub topic: Option<String>,
    pub payload: Option<Vec<u8>>,
    pub anomalies: Vec<&'static str>,
    pub severity: &'static str,
    pub message: String,
}

pub(super) fn rec(e: &Event<'_>) -> Rec {
    match e {
        Event::Packet(d, p) => Rec {
            kind: "packet",
            dir: Some(*d),
            name: p.msg_name().to_string(),
            offset: Some(p.offset),
            topic: match &p.body {
                Body::Publish(x) => Some(x.topic.to_string()),
                _ => None,
            },
            payload: match &p.body {
                Body::Publish(x) => Some(x.payload.to_vec()),
                _ => None,
            },
            anomalies: codes(p),
            severity: "",
            message: String::new(),
        },
        Event::Anomaly(d, a) => Rec {
            kind: "anomaly",
            dir: Some(*d),
            name: a.code.to_string(),
            offset: Some(a.offset),
            topic: None,
            payload: None,
            anomalies: vec![],
            severity: "",
            message: a.message.clone(),
        },
        Event::Finding(f) => Rec {
            kind: "finding",
            dir: f.dir,
            name: f.code.to_string(),
            offset: f.offset,
            topic: None,
            payload: None,
            anomalies: vec![],
            severity: f.severity.as_str(),
            message: f.message.clone(),
        },
    }
}

/// Feed `chunks` (dir, ts, bytes) and return (chunk index, record) pairs,
/// including the events of `end()` (chunk index = chunks.len()).
pub(super) fn run(conn: &mut MqttConn, chunks: &[(Dir, f64, Vec<u8>)]) -> Vec<(usize, Rec)> {
    let mut out = Vec::new();
    for (i, (d, ts, b)) in chunks.iter().enumerate() {
        conn.feed(*d, *ts, b, &mut |e| out.push((i, rec(&e))));
    }
    let n = chunks.len();
    conn.end(&mut |e| out.push((n, rec(&e))));
    out
}

fn one_dir(conn: &mut MqttConn, dir: Dir, bytes: &[u8]) -> Vec<Rec> {
    run(conn, &[(dir, 0.0, bytes.to_vec())])
        .into_iter()
        .map(|(_, r)| r)
        .filter(|r| r.kind != "finding")
        .collect()
}

fn v311_connect(client: &str, keep_alive: u16) -> Vec<u8> {
    enc(
        0x10,
        &cat(&[
            &s("MQTT"),
            &[4, 0x02],
            &keep_alive.to_be_bytes(),
            &s(client),
        ]),
    )
}

fn v5_connect(client: &str) -> Vec<u8> {
    enc(0x10, &cat(&[&s("MQTT"), &[5, 0x02, 0, 60, 0], &s(client)]))
}

// ---------------------------------------------------------------- vectors

#[test]
fn connect_mqtt31_mqisdp() {
    let b = enc(
        0x10,
        &cat(&[&s("MQIsdp"), &[3, 0x02, 0x00, 0x3c], &s("wise-4012")]),
    );
    let p = dec(&b, None);
    assert_eq!(p.msg_name(), "CONNECT");
    assert_eq!(p.level, Some(3));
    let Body::Connect(c) = &p.body else { panic!() };
    assert_eq!(c.protocol_name, "MQIsdp");
    assert_eq!(c.level, 3);
    assert!(c.clean_start);
    assert_eq!(c.keep_alive, 60);
    assert_eq!(c.client_id.as_deref(), Some("wise-4012"));
    assert!(c.will.is_none() && c.username.is_none() && c.password.is_none());
    assert!(p.anomalies.is_empty(), "{:?}", p.anomalies);
}

#[test]
fn connect_v311_will_user_password() {
    // user | pass | will retain | will qos 1 | will | clean
    let body = cat(&[
        &s("MQTT"),
        &[4, 0xEE, 0x00, 0x0a],
        &s("dev1"),
        &s("status/dev1"),
        &s("offline"),
        &s("admin"),
        &s("s3cret"),
    ]);
    let b = enc(0x10, &body);
    let p = dec(&b, Some(4));
    let Body::Connect(c) = &p.body else { panic!() };
    assert_eq!(c.level, 4);
    assert_eq!(c.keep_alive, 10);
    let w = c.will.as_ref().unwrap();
    assert_eq!(w.topic, "status/dev1");
    assert_eq!(w.payload, b"offline");
    assert_eq!(w.qos, 1);
    assert!(w.retain);
    assert_eq!(c.username.as_deref(), Some("admin"));
    assert_eq!(c.password, Some(&b"s3cret"[..]));
    assert!(p.anomalies.is_empty(), "{:?}", p.anomalies);
}

#[test]
fn connect_v5_with_properties_and_will_properties() {
    let props = cat(&[
        &[0x11, 0, 0, 0x0e, 0x10], // session expiry 3600
        &[0x21, 0, 20],            // receive maximum 20
        &[0x22, 0, 10],            // topic alias maximum 10
        &[0x26],
        &s("k"),
        &s("v"),
        &[0x26],
        &s("k"),
        &s("w"),
    ]);
    let will_props = cat(&[&[0x18, 0, 0, 0, 5], &[0x01, 1], &[0x03], &s("text/plain")]);
    let body = cat(&[
        &s("MQTT"),
        &[5, 0xC6, 0, 30],
        &[props.len() as u8],
        &props,
        &s("c5"),
        &[will_props.len() as u8],
        &will_props,
        &s("lwt"),
        &s("bye"),
        &s("u"),
        &s("p"),
    ]);
    let b = enc(0x10, &body);
    let p = dec(&b, None);
    assert_eq!(p.level, Some(5));
    assert!(p.anomalies.is_empty(), "{:?}", p.anomalies);
    let Body::Connect(c) = &p.body else { panic!() };
    assert_eq!(
        c.properties.get_int(prop::SESSION_EXPIRY_INTERVAL),
        Some(3600)
    );
    assert_eq!(c.properties.get_int(prop::RECEIVE_MAXIMUM), Some(20));
    assert_eq!(c.properties.get_int(prop::TOPIC_ALIAS_MAXIMUM), Some(10));
    let ups: Vec<_> = c.properties.user_properties().collect();
    assert_eq!(ups, vec![("k", "v"), ("k", "w")]);
    assert_eq!(c.properties.items[0].name(), "Session Expiry Interval");
    assert_eq!(c.properties.items[3].key(), "user_property");
    let w = c.will.as_ref().unwrap();
    assert_eq!(w.properties.get_int(prop::WILL_DELAY_INTERVAL), Some(5));
    assert_eq!(w.properties.get_str(prop::CONTENT_TYPE), Some("text/plain"));
    assert_eq!(w.topic, "lwt");
    assert_eq!(c.username.as_deref(), Some("u"));
    assert_eq!(c.password, Some(&b"p"[..]));
}

#[test]
fn connect_anomalies() {
    // reserved flag bit set, password without user name in 3.1.1
    let b = enc(
        0x10,
        &cat(&[&s("MQTT"), &[4, 0x41, 0, 0], &s("x"), &s("pw")]),
    );
    let p = dec(&b, None);
    assert_eq!(codes(&p), vec!["mqtt_invalid_flags", "mqtt_invalid_flags"]);
    // unknown protocol name
    let b = enc(0x10, &cat(&[&s("MQTX"), &[4, 0x02, 0, 0], &s("x")]));
    assert_eq!(codes(&dec(&b, None)), vec!["mqtt_unknown_protocol"]);
    // truncated: client id missing
    let b = enc(0x10, &cat(&[&s("MQTT"), &[4, 0x02, 0, 0]]));
    let p = dec(&b, None);
    assert_eq!(codes(&p), vec!["mqtt_malformed"]);
    let Body::Connect(c) = &p.body else { panic!() };
    assert_eq!(c.client_id, None);
    assert_eq!(c.protocol_name, "MQTT");
}

#[test]
fn connack_v3_and_v5() {
    let p = dec(&[0x20, 0x02, 0x01, 0x00], None);
    assert_eq!(p.level, Some(4));
    let Body::Connack(c) = &p.body else { panic!() };
    assert!(c.session_present);
    assert_eq!(c.code, 0);
    assert!(p.anomalies.is_empty());

    let p = dec(&[0x20, 0x02, 0x00, 0x04], Some(4));
    assert_eq!(
        p.reason_name(),
        Some("connection refused, bad user name or password")
    );
    let p = dec(&[0x20, 0x02, 0x00, 0x05], Some(3));
    assert_eq!(p.reason_name(), Some("connection refused, not authorized"));

    for (code, name) in [
        (0x86, "Bad User Name or Password"),
        (0x87, "Not authorized"),
    ] {
        let b = [0x20, 0x03, 0x00, code, 0x00];
        for lvl in [None, Some(5)] {
            let p = dec(&b, lvl);
            assert_eq!(p.level, Some(5));
            assert_eq!(p.reason_code(), Some(code));
            assert_eq!(p.reason_name(), Some(name));
            assert!(p.anomalies.is_empty(), "{:?}", p.anomalies);
        }
    }
    // v5 CONNACK with properties
    let props = cat(&[
        &[0x12],
        &s("auto-1"),
        &[0x13, 0, 120],
        &[0x24, 1],
        &[0x25, 0],
        &[0x27, 0, 1, 0, 0],
        &[0x28, 1, 0x29, 0, 0x2A, 1],
        &[0x1A],
        &s("resp"),
        &[0x1C],
        &s("other:1883"),
        &[0x1F],
        &s("ok"),
    ]);
    let b = enc(0x20, &cat(&[&[0, 0, props.len() as u8], &props]));
    let p = dec(&b, Some(5));
    assert!(p.anomalies.is_empty(), "{:?}", p.anomalies);
    let pr = p.properties().unwrap();
    assert_eq!(pr.get_str(prop::ASSIGNED_CLIENT_IDENTIFIER), Some("auto-1"));
    assert_eq!(pr.get_int(prop::SERVER_KEEP_ALIVE), Some(120));
    assert_eq!(pr.get_int(prop::MAXIMUM_QOS), Some(1));
    assert_eq!(pr.get_int(prop::RETAIN_AVAILABLE), Some(0));
    assert_eq!(pr.get_int(prop::MAXIMUM_PACKET_SIZE), Some(65536));
    assert_eq!(pr.get_int(prop::SHARED_SUBSCRIPTION_AVAILABLE), Some(1));
    assert_eq!(pr.get_str(prop::SERVER_REFERENCE), Some("other:1883"));
    assert_eq!(pr.items.len(), 11);
    // reserved ack flags, bad v3 return code
    assert_eq!(
        codes(&dec(&[0x20, 0x02, 0x02, 0x09], Some(4))),
        vec!["mqtt_invalid_flags", "mqtt_invalid_reason_code"]
    );
}

#[test]
fn publish_v3_qos012() {
    let b = enc(0x30, &cat(&[&s("a/b"), b"hello"]));
    let p = dec(&b, Some(4));
    let Body::Publish(x) = &p.body else { panic!() };
    assert_eq!(
        (x.qos, x.dup, x.retain, x.packet_id),
        (0, false, false, None)
    );
    assert_eq!(x.topic, "a/b");
    assert_eq!(x.payload, b"hello");
    assert!(p.anomalies.is_empty());

    let b = enc(0x3B, &cat(&[&s("t"), &[0x12, 0x34], b"{}"]));
    let p = dec(&b, Some(4));
    let Body::Publish(x) = &p.body else { panic!() };
    assert_eq!(
        (x.qos, x.dup, x.retain, x.packet_id),
        (1, true, true, Some(0x1234))
    );
    assert_eq!(x.payload, b"{}");

    let b = enc(0x34, &cat(&[&s("t"), &[0, 7]]));
    let p = dec(&b, Some(4));
    let Body::Publish(x) = &p.body else { panic!() };
    assert_eq!((x.qos, x.packet_id, x.payload), (2, Some(7), &b""[..]));
    // unknown level: JSON payload cannot be v5 properties
    let b = enc(0x30, &cat(&[&s("a"), br#"{"v":1}"#]));
    let p = dec(&b, None);
    assert_eq!(p.level, Some(4));
    let Body::Publish(x) = &p.body else { panic!() };
    assert_eq!(x.payload, br#"{"v":1}"#);
}

#[test]
fn publish_v5_properties() {
    let props = cat(&[
        &[0x01, 1],
        &[0x02, 0, 0, 0, 60],
        &[0x03],
        &s("application/json"),
        &[0x08],
        &s("reply/1"),
        &[0x09, 0, 3, 1, 2, 3],
        &[0x0B, 0x80, 0x01], // subscription identifier 128 (varint)
        &[0x23, 0, 4],
        &[0x26],
        &s("a"),
        &s("b"),
    ]);
    let b = enc(
        0x32,
        &cat(&[
            &s("x/y"),
            &[0, 9],
            &[props.len() as u8],
            &props,
            b"{\"t\":1}",
        ]),
    );
    for lvl in [Some(5), None] {
        let p = dec(&b, lvl);
        assert!(p.anomalies.is_empty(), "{:?}", p.anomalies);
        assert_eq!(p.level, Some(5));
        let Body::Publish(x) = &p.body else { panic!() };
        assert_eq!(x.topic, "x/y");
        assert_eq!(x.packet_id, Some(9));
        assert_eq!(x.topic_alias, Some(4));
        assert_eq!(x.payload, b"{\"t\":1}");
        let pr = &x.properties;
        assert_eq!(pr.get_int(prop::PAYLOAD_FORMAT_INDICATOR), Some(1));
        assert_eq!(pr.get_int(prop::MESSAGE_EXPIRY_INTERVAL), Some(60));
        assert_eq!(pr.get_str(prop::CONTENT_TYPE), Some("application/json"));
        assert_eq!(pr.get_str(prop::RESPONSE_TOPIC), Some("reply/1"));
        assert_eq!(pr.get_bin(prop::CORRELATION_DATA), Some(&[1u8, 2, 3][..]));
        assert_eq!(
            pr.get(prop::SUBSCRIPTION_IDENTIFIER),
            Some(&PropValue::VarInt(128))
        );
    }
    // empty properties, unknown level: ambiguous, read as 3.1.1 (as tshark)
    let b = enc(0x30, &cat(&[&s("t"), &[0], b"22.5"]));
    let p = dec(&b, None);
    assert_eq!(p.level, Some(4));
    let Body::Publish(x) = &p.body else { panic!() };
    assert_eq!(x.payload, b"\x0022.5");
}

#[test]
fn unknown_property_keeps_packet() {
    let props = [0x23, 0, 1, 0x7F, 1, 2, 3];
    let b = enc(
        0x30,
        &cat(&[&s("t"), &[props.len() as u8], &props, b"data"]),
    );
    let p = dec(&b, Some(5));
    assert_eq!(codes(&p), vec!["mqtt_unknown_property"]);
    let Body::Publish(x) = &p.body else { panic!() };
    assert_eq!(x.topic_alias, Some(1));
    assert_eq!(x.properties.items.len(), 1);
    assert_eq!(x.payload, b"data");
    // property not allowed + duplicate
    let props = [0x13, 0, 1, 0x23, 0, 1, 0x23, 0, 2];
    let b = enc(0x30, &cat(&[&s("t"), &[props.len() as u8], &props]));
    assert_eq!(
        codes(&dec(&b, Some(5))),
        vec!["mqtt_property_not_allowed", "mqtt_duplicate_property"]
    );
}

#[test]
fn publish_anomalies() {
    // QoS 3
    let b = enc(0x36, &cat(&[&s("t"), &[0, 1]]));
    assert!(codes(&dec(&b, Some(4))).contains(&"mqtt_invalid_qos"));
    // invalid UTF-8 topic: kept lossy
    let b = enc(0x30, &cat(&[&[0, 2, 0xC3, 0x28], b"x"]));
    let p = dec(&b, Some(4));
    assert_eq!(codes(&p), vec!["mqtt_invalid_utf8"]);
    let Body::Publish(x) = &p.body else { panic!() };
    assert_eq!(x.topic, "\u{FFFD}(");
    // wildcard in topic name
    let b = enc(0x30, &cat(&[&s("a/+"), b"x"]));
    assert_eq!(codes(&dec(&b, Some(4))), vec!["mqtt_invalid_topic"]);
    // topic length beyond the packet
    let b = enc(0x30, &[0, 50, b'a']);
    let p = dec(&b, Some(4));
    assert_eq!(codes(&p), vec!["mqtt_malformed"]);
    assert!(p.is_malformed());
    // packet id 0
    let b = enc(0x32, &cat(&[&s("t"), &[0, 0]]));
    assert_eq!(codes(&dec(&b, Some(4))), vec!["mqtt_invalid_packet_id"]);
}

#[test]
fn pub_responses() {
    for (b0, name) in [
        (0x40, "PUBACK"),
        (0x50, "PUBREC"),
        (0x62, "PUBREL"),
        (0x70, "PUBCOMP"),
    ] {
        let raw = [b0, 2, 0, 1];
        let p = dec(&raw, None);
        assert_eq!(p.msg_name(), name);
        assert_eq!(p.packet_id(), Some(1));
        assert_eq!(p.reason_code(), Some(0));
        assert!(p.anomalies.is_empty(), "{name} {:?}", p.anomalies);
    }
    let p = dec(&[0x40, 3, 0, 1, 0x10], Some(5));
    assert_eq!(p.reason_name(), Some("No matching subscribers"));
    let raw = cat(&[&[0x50, 9, 0, 2, 0x87, 5, 0x1F], &s("no")]);
    let p = dec(&raw, None);
    assert_eq!(p.level, Some(5));
    assert_eq!(p.reason_name(), Some("Not authorized"));
    assert_eq!(
        p.properties().unwrap().get_str(prop::REASON_STRING),
        Some("no")
    );
    let p = dec(&[0x62, 3, 0, 1, 0x92], Some(5));
    assert_eq!(p.reason_name(), Some("Packet Identifier not found"));
    // wrong flags on PUBREL, trailing bytes in 3.1.1
    assert_eq!(
        codes(&dec(&[0x60, 2, 0, 1], Some(4))),
        vec!["mqtt_invalid_flags"]
    );
    assert_eq!(
        codes(&dec(&[0x40, 3, 0, 1, 0], Some(4))),
        vec!["mqtt_trailing_bytes"]
    );
    // reason code not valid for PUBACK
    assert_eq!(
        codes(&dec(&[0x40, 3, 0, 1, 0x86], Some(5))),
        vec!["mqtt_invalid_reason_code"]
    );
}

#[test]
fn subscribe_suback_v3_v5() {
    let b = enc(0x82, &cat(&[&[0, 10], &s("a/#"), &[1], &s("b/+"), &[2]]));
    let p = dec(&b, Some(4));
    let Body::Subscribe(x) = &p.body else {
        panic!()
    };
    assert_eq!(x.packet_id, 10);
    let subs: Vec<_> = x
        .subscriptions
        .iter()
        .map(|s| (s.topic.as_ref(), s.qos))
        .collect();
    assert_eq!(subs, vec![("a/#", 1), ("b/+", 2)]);
    assert!(p.anomalies.is_empty());
    assert_eq!(dec(&b, None).level, Some(4));

    // v5: subscription identifier, options no-local + RAP + retain handling 2
    let b = enc(0x82, &cat(&[&[0, 11, 2, 0x0B, 7], &s("c"), &[0x2D]]));
    let p = dec(&b, None);
    assert_eq!(p.level, Some(5));
    assert!(p.anomalies.is_empty(), "{:?}", p.anomalies);
    let Body::Subscribe(x) = &p.body else {
        panic!()
    };
    assert_eq!(x.properties.get_int(prop::SUBSCRIPTION_IDENTIFIER), Some(7));
    let s0 = &x.subscriptions[0];
    assert_eq!(
        (
            s0.qos,
            s0.no_local,
            s0.retain_as_published,
            s0.retain_handling
        ),
        (1, true, true, 2)
    );
    // bad flags
    let b = enc(0x80, &cat(&[&[0, 10], &s("a"), &[0]]));
    assert_eq!(codes(&dec(&b, Some(4))), vec!["mqtt_invalid_flags"]);
    // bad options
    let b = enc(0x82, &cat(&[&[0, 10], &s("a"), &[3]]));
    assert_eq!(
        codes(&dec(&b, Some(4))),
        vec!["mqtt_invalid_subscription_options"]
    );

    let p = dec(&[0x90, 4, 0, 10, 0x00, 0x80], Some(4));
    let Body::Suback(x) = &p.body else { panic!() };
    assert_eq!(x.reason_codes, &[0, 0x80]);
    assert!(p.anomalies.is_empty());
    let p = dec(&[0x90, 5, 0, 10, 0, 0x01, 0x87], Some(5));
    let Body::Suback(x) = &p.body else { panic!() };
    assert_eq!(x.reason_codes, &[1, 0x87]);
    assert_eq!(reason_code_name(msg::SUBACK, 0x87), Some("Not authorized"));
    assert_eq!(reason_code_name(msg::SUBACK, 0), Some("Granted QoS 0"));
    assert!(p.anomalies.is_empty());
}

#[test]
fn unsubscribe_unsuback() {
    let b = enc(0xA2, &cat(&[&[0, 3], &s("a"), &s("b/c")]));
    let p = dec(&b, Some(4));
    let Body::Unsubscribe(x) = &p.body else {
        panic!()
    };
    assert_eq!(x.topics, vec!["a", "b/c"]);
    assert!(p.anomalies.is_empty());
    let b = enc(0xA2, &cat(&[&[0, 3, 0], &s("a")]));
    let p = dec(&b, Some(5));
    assert!(p.anomalies.is_empty());
    let p = dec(&[0xB0, 2, 0, 3], None);
    assert_eq!(p.level, Some(4));
    assert!(p.anomalies.is_empty());
    let p = dec(&[0xB0, 5, 0, 3, 0, 0x00, 0x11], None);
    assert_eq!(p.level, Some(5));
    let Body::Unsuback(x) = &p.body else { panic!() };
    assert_eq!(x.reason_codes, &[0, 0x11]);
    assert_eq!(
        reason_code_name(msg::UNSUBACK, 0x11),
        Some("No subscription existed")
    );
}

#[test]
fn ping_disconnect_auth() {
    assert_eq!(dec(&[0xC0, 0], None).body, Body::Pingreq);
    assert_eq!(dec(&[0xD0, 0], None).body, Body::Pingresp);
    assert_eq!(
        codes(&dec(&[0xC0, 1, 0], None)),
        vec!["mqtt_trailing_bytes"]
    );
    assert_eq!(codes(&dec(&[0xC1, 0], None)), vec!["mqtt_invalid_flags"]);
    // mosquitto v5 normal disconnect e0 00, v3 disconnect e0 00
    for lvl in [Some(4), Some(5), None] {
        let p = dec(&[0xE0, 0], lvl);
        assert_eq!(p.reason_code(), Some(0));
        assert!(p.anomalies.is_empty());
    }
    let p = dec(&[0xE0, 0], Some(5));
    assert_eq!(p.reason_name(), Some("Normal disconnection"));
    // e0 01 04: disconnect with will message
    let p = dec(&[0xE0, 1, 4], None);
    assert_eq!(p.level, Some(5));
    assert_eq!(p.reason_name(), Some("Disconnect with Will Message"));
    assert!(p.anomalies.is_empty());
    assert_eq!(
        codes(&dec(&[0xE0, 1, 4], Some(4))),
        vec!["mqtt_trailing_bytes"]
    );
    // server-side v5 disconnect with properties
    let b = enc(
        0xE0,
        &cat(&[&[0x8E, 9, 0x1F], &s("taken"), &[0x11, 0, 0, 0, 0]]),
    );
    let b = {
        // fix property length: reason string (1+2+5) + session expiry (5) = 13
        let mut v = b;
        v[3] = 13;
        v
    };
    let p = dec(&b, Some(5));
    assert!(p.anomalies.is_empty(), "{:?}", p.anomalies);
    assert_eq!(p.reason_name(), Some("Session taken over"));
    // AUTH
    let p = dec(&[0xF0, 0], Some(5));
    assert_eq!(p.msg_name(), "AUTH");
    assert!(p.anomalies.is_empty());
    let props = cat(&[&[0x15], &s("SCRAM-SHA-1"), &[0x16, 0, 2, 0xAA, 0xBB]]);
    let b = enc(0xF0, &cat(&[&[0x18, props.len() as u8], &props]));
    let p = dec(&b, None);
    assert!(p.anomalies.is_empty(), "{:?}", p.anomalies);
    assert_eq!(p.reason_name(), Some("Continue authentication"));
    let pr = p.properties().unwrap();
    assert_eq!(pr.get_str(prop::AUTHENTICATION_METHOD), Some("SCRAM-SHA-1"));
    assert_eq!(
        pr.get_bin(prop::AUTHENTICATION_DATA),
        Some(&[0xAA, 0xBB][..])
    );
    // AUTH in 3.1.1 is a reserved type
    assert_eq!(codes(&dec(&[0xF0, 0], Some(4))), vec!["mqtt_reserved_type"]);
    // type 0
    assert_eq!(codes(&dec(&[0x00, 1, 9], None)), vec!["mqtt_reserved_type"]);
}

#[test]
fn names() {
    let all: Vec<_> = (1..=15).map(msg_name).collect();
    assert_eq!(all[0], "CONNECT");
    assert_eq!(all[14], "AUTH");
    assert_eq!(msg_name(0), "RESERVED");
    let ids = [
        0x01, 0x02, 0x03, 0x08, 0x09, 0x0B, 0x11, 0x12, 0x13, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1A,
        0x1C, 0x1F, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2A,
    ];
    for id in ids {
        assert_ne!(property_name(id), "Unknown Property", "{id}");
    }
    assert_eq!(property_name(0x04), "Unknown Property");
    assert_eq!(
        reason_code_name(msg::CONNACK, 0x86),
        Some("Bad User Name or Password")
    );
    assert_eq!(reason_code_name(msg::CONNACK, 0x8E), None);
    assert_eq!(
        reason_code_name(msg::DISCONNECT, 0x8E),
        Some("Session taken over")
    );
}

#[test]
fn remaining_length_parsing() {
    assert_eq!(parse_fixed_header(&[0x30]), FixedHeader::Incomplete);
    assert_eq!(parse_fixed_header(&[0x30, 0x80]), FixedHeader::Incomplete);
    assert_eq!(
        parse_fixed_header(&[0x30, 0xFF, 0xFF, 0xFF, 0x7F]),
        FixedHeader::Complete {
            header_len: 5,
            remaining_len: 268_435_455
        }
    );
    assert_eq!(
        parse_fixed_header(&[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]),
        FixedHeader::Invalid
    );
}

// ---------------------------------------------------------------- streaming

fn sample_stream() -> Vec<u8> {
    cat(&[
        &v311_connect("dev", 60),
        &enc(0x30, &cat(&[&s("a/b"), b"hello"])),
        &enc(0x32, &cat(&[&s("big"), &[0, 1], &vec![0x55; 300]])),
        &[0xC0, 0],
        &enc(0x82, &cat(&[&[0, 2], &s("x/#"), &[1]])),
        &enc(0x34, &cat(&[&s("q2"), &[0, 3], b"z"])),
        &[0x62, 2, 0, 3],
        &[0xE0, 0],
    ])
}

/// Packets with the chunk index at which each completed.
fn packets_by_chunks(stream: &[u8], cuts: &[usize]) -> Vec<(usize, Rec)> {
    let mut chunks = Vec::new();
    let mut prev = 0;
    for &c in cuts.iter().chain(std::iter::once(&stream.len())) {
        chunks.push((Dir::C2S, 0.0, stream[prev..c].to_vec()));
        prev = c;
    }
    let mut conn = MqttConn::new(MqttLimits::default(), true);
    let out = run(&mut conn, &chunks);
    assert!(conn.peak_buffered_bytes(Dir::C2S) <= 400);
    out.into_iter()
        .filter(|(_, r)| r.kind == "packet")
        .collect()
}

#[test]
fn every_split_point_and_byte_by_byte() {
    let stream = sample_stream();
    let whole = packets_by_chunks(&stream, &[]);
    assert_eq!(whole.len(), 8);
    let ends: Vec<u64> = {
        // end offsets of packets
        let mut v = Vec::new();
        let mut off = 0usize;
        while off < stream.len() {
            let FixedHeader::Complete {
                header_len,
                remaining_len,
            } = parse_fixed_header(&stream[off..])
            else {
                panic!()
            };
            off += header_len as usize + remaining_len as usize;
            v.push(off as u64);
        }
        v
    };
    for cut in 1..stream.len() {
        let got = packets_by_chunks(&stream, &[cut]);
        assert_eq!(got.len(), whole.len(), "cut {cut}");
        for ((ci, r), ((_, w), end)) in got.iter().zip(whole.iter().zip(&ends)) {
            assert_eq!(r, w, "cut {cut}");
            let expect_chunk = usize::from(*end as usize > cut);
            assert_eq!(*ci, expect_chunk, "cut {cut} packet {}", r.name);
        }
    }
    // two cuts
    for a in (1..stream.len()).step_by(7) {
        for b in (a + 1..stream.len()).step_by(5) {
            let got = packets_by_chunks(&stream, &[a, b]);
            let recs: Vec<_> = got.iter().map(|x| x.1.clone()).collect();
            let want: Vec<_> = whole.iter().map(|x| x.1.clone()).collect();
            assert_eq!(recs, want, "cuts {a} {b}");
            for ((ci, _), end) in got.iter().zip(&ends) {
                let e = *end as usize;
                let expect = if e <= a {
                    0
                } else if e <= b {
                    1
                } else {
                    2
                };
                assert_eq!(*ci, expect);
            }
        }
    }
    // byte by byte: packet i completes at chunk end_i - 1
    let cuts: Vec<usize> = (1..stream.len()).collect();
    let got = packets_by_chunks(&stream, &cuts);
    for ((ci, r), ((_, w), end)) in got.iter().zip(whole.iter().zip(&ends)) {
        assert_eq!(r, w);
        assert_eq!(*ci as u64, end - 1);
    }
}

#[test]
fn remaining_length_five_bytes_in_stream() {
    let mut conn = MqttConn::new(MqttLimits::default(), true);
    let stream = cat(&[
        &v311_connect("d", 0),
        &[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01],
        &[0xC0, 0],
    ]);
    let recs = one_dir(&mut conn, Dir::C2S, &stream);
    let names: Vec<_> = recs.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "CONNECT",
            "mqtt_remaining_length_invalid",
            "mqtt_resync",
            "PINGREQ"
        ]
    );
    assert_eq!(recs[1].offset, Some(v311_connect("d", 0).len() as u64));
    // PINGREQ offset is right after the 6 bad bytes
    assert_eq!(recs[3].offset, Some(v311_connect("d", 0).len() as u64 + 6));
}

#[test]
fn declared_length_beyond_data_is_truncated_at_end() {
    let mut conn = MqttConn::new(MqttLimits::default(), true);
    let stream = cat(&[&v311_connect("d", 0), &[0x30, 100, 0, 1, b'a', 1, 2, 3]]);
    let recs = one_dir(&mut conn, Dir::C2S, &stream);
    let names: Vec<_> = recs.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, vec!["CONNECT", "mqtt_truncated_packet"]);
    assert!(recs[1].message.contains("8 of 102"), "{}", recs[1].message);
}

#[test]
fn oversize_packet_is_skipped_not_buffered() {
    let limits = MqttLimits {
        max_packet_bytes: 1000,
        ..MqttLimits::default()
    };
    let mut conn = MqttConn::new(limits, true);
    let big = enc(0x30, &cat(&[&s("big"), &vec![7u8; 5000]]));
    let stream = cat(&[&v311_connect("d", 0), &big, &[0xC0, 0]]);
    let chunks: Vec<_> = stream
        .chunks(333)
        .map(|c| (Dir::C2S, 0.0, c.to_vec()))
        .collect();
    let recs = run(&mut conn, &chunks);
    let recs: Vec<_> = recs.into_iter().filter(|r| r.1.kind != "finding").collect();
    let names: Vec<_> = recs.iter().map(|r| r.1.name.as_str()).collect();
    assert_eq!(names, vec!["CONNECT", "PUBLISH", "PINGREQ"]);
    assert_eq!(recs[1].1.anomalies, vec!["mqtt_packet_too_large"]);
    assert!(conn.peak_buffered_bytes(Dir::C2S) <= 1000);
    assert!(conn.peak_buffered_bytes(Dir::C2S) < 20);
    // byte by byte too
    let mut conn = MqttConn::new(
        MqttLimits {
            max_packet_bytes: 1000,
            ..MqttLimits::default()
        },
        true,
    );
    let chunks: Vec<_> = stream
        .chunks(1)
        .map(|c| (Dir::C2S, 0.0, c.to_vec()))
        .collect();
    let mut recs2 = run(&mut conn, &chunks);
    recs2.retain(|r| r.1.kind != "finding");
    let r1: Vec<_> = recs.iter().map(|x| &x.1).collect();
    let r2: Vec<_> = recs2.iter().map(|x| &x.1).collect();
    assert_eq!(r1, r2);
    assert!(conn.peak_buffered_bytes(Dir::C2S) < 20);
}

#[test]
fn topic_alias_resolution() {
    let mut conn = MqttConn::new(MqttLimits::default(), true);
    let set = enc(0x30, &cat(&[&s("sensors/t1"), &[3, 0x23, 0, 5], b"20"]));
    let use_ = enc(0x30, &cat(&[&s(""), &[3, 0x23, 0, 5], b"21"]));
    let unknown = enc(0x30, &cat(&[&s(""), &[3, 0x23, 0, 6], b"22"]));
    let stream = cat(&[&v5_connect("c"), &set, &use_, &unknown]);
    let recs = one_dir(&mut conn, Dir::C2S, &stream);
    assert_eq!(recs[1].topic.as_deref(), Some("sensors/t1"));
    assert_eq!(recs[2].topic.as_deref(), Some("sensors/t1"));
    assert!(recs[2].anomalies.is_empty());
    assert_eq!(recs[3].topic.as_deref(), Some(""));
    assert_eq!(recs[3].anomalies, vec!["mqtt_unknown_topic_alias"]);
    // alias maps are per direction
    let recs = one_dir(&mut conn, Dir::S2C, &use_);
    assert_eq!(recs[0].anomalies, vec!["mqtt_unknown_topic_alias"]);
    let sum = conn.summary();
    assert_eq!(sum.topics[0].topic, "sensors/t1");
    assert_eq!(sum.topics[0].count, 2);
}

#[test]
fn alias_event_has_flag() {
    let mut conn = MqttConn::new(MqttLimits::default(), true);
    let mut seen = Vec::new();
    let set = enc(0x30, &cat(&[&s("t"), &[3, 0x23, 0, 1]]));
    let use_ = enc(0x30, &cat(&[&s(""), &[3, 0x23, 0, 1]]));
    conn.feed(
        Dir::C2S,
        0.0,
        &cat(&[&v5_connect("c"), &set, &use_]),
        &mut |e| {
            if let Event::Packet(_, p) = e {
                if let Body::Publish(x) = &p.body {
                    seen.push((x.topic.to_string(), x.topic_alias, x.topic_from_alias));
                }
            }
        },
    );
    assert_eq!(
        seen,
        vec![
            ("t".to_string(), Some(1), false),
            ("t".to_string(), Some(1), true)
        ]
    );
}

#[test]
fn level_inference_without_connect() {
    // v5 traffic mid-stream: CONNACK-less, a PUBACK with reason code gives v5.
    let mut conn = MqttConn::new(MqttLimits::default(), false);
    let s2c = cat(&[&[0x40, 3, 0, 1, 0x10]]);
    one_dir(&mut conn, Dir::S2C, &s2c);
    assert_eq!(conn.level(), Some(5));
    assert!(conn.level_inferred());
    // ambiguous PUBLISH with empty props + binary payload decodes as v5 now
    let mut out = Vec::new();
    conn.feed(
        Dir::C2S,
        0.0,
        &enc(0x30, &cat(&[&s("t"), &[0, 0x01, 0x02]])),
        &mut |e| out.push(rec(&e)),
    );
    assert_eq!(out[0].payload.as_deref(), Some(&[1u8, 2][..]));

    // v3 traffic: JSON PUBLISH payloads
    let mut conn = MqttConn::new(MqttLimits::default(), false);
    let recs = one_dir(
        &mut conn,
        Dir::C2S,
        &cat(&[
            &enc(
                0x30,
                &cat(&[&s("Advantech/00D0C9FAC7F2/data"), br#"{"s":1,"t":0}"#]),
            ),
            &enc(0x30, &cat(&[&s("x"), &[0]])),
        ]),
    );
    assert_eq!(conn.level(), Some(4));
    assert!(conn.level_inferred());
    // the second one (payload 0x00) is decoded as 3.x because the level is known
    assert_eq!(recs[1].payload.as_deref(), Some(&[0u8][..]));
    let sum = conn.summary();
    assert_eq!(sum.level, Some(4));
    assert!(sum.level_inferred);
    // a CONNECT makes it definitive
    let mut conn = MqttConn::new(MqttLimits::default(), true);
    one_dir(&mut conn, Dir::C2S, &v5_connect("c"));
    assert_eq!((conn.level(), conn.level_inferred()), (Some(5), false));
}

#[test]
fn gap_inside_known_packet_skips_exactly() {
    let mut conn = MqttConn::new(MqttLimits::default(), true);
    let p1 = enc(0x30, &cat(&[&s("t"), &[9u8; 100]]));
    let mut out = Vec::new();
    conn.feed(Dir::C2S, 0.0, &v311_connect("d", 0), &mut |e| {
        out.push(rec(&e))
    });
    conn.feed(Dir::C2S, 0.0, &p1[..40], &mut |e| out.push(rec(&e)));
    conn.gap(Dir::C2S, 30, &mut |e| out.push(rec(&e)));
    conn.feed(Dir::C2S, 0.0, &p1[70..], &mut |e| out.push(rec(&e)));
    conn.feed(Dir::C2S, 0.0, &[0xC0, 0], &mut |e| out.push(rec(&e)));
    conn.end(&mut |e| out.push(rec(&e)));
    out.retain(|r| r.kind != "finding");
    let names: Vec<_> = out.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        vec!["CONNECT", "mqtt_gap", "mqtt_truncated_packet", "PINGREQ"]
    );
    let c = v311_connect("d", 0).len() as u64;
    assert_eq!(out[3].offset, Some(c + p1.len() as u64));
}

#[test]
fn gap_then_resync() {
    let mut conn = MqttConn::new(MqttLimits::default(), true);
    let p1 = enc(0x30, &cat(&[&s("t"), &[0xFFu8; 100]]));
    let p2 = enc(0x30, &cat(&[&s("sensor/1"), b"1"]));
    let mut out = Vec::new();
    conn.feed(Dir::C2S, 0.0, &v311_connect("d", 0), &mut |e| {
        out.push(rec(&e))
    });
    // gap at a packet boundary spanning into the middle of p1
    conn.gap(Dir::C2S, 50, &mut |e| out.push(rec(&e)));
    let rest = cat(&[&p1[50..], &p2, &[0xC0, 0]]);
    for b in rest.chunks(3) {
        conn.feed(Dir::C2S, 0.0, b, &mut |e| out.push(rec(&e)));
    }
    conn.end(&mut |e| out.push(rec(&e)));
    out.retain(|r| r.kind != "finding");
    let names: Vec<_> = out.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        vec!["CONNECT", "mqtt_gap", "mqtt_resync", "PUBLISH", "PINGREQ"],
        "{out:#?}"
    );
    assert!(out[2]
        .message
        .contains(&format!("skipping {} bytes", p1.len() - 50)));
    assert_eq!(out[3].topic.as_deref(), Some("sensor/1"));
    let c = v311_connect("d", 0).len() as u64;
    assert_eq!(out[3].offset, Some(c + p1.len() as u64));
}

#[test]
fn midstream_start_skips_partial_packet() {
    let mut conn = MqttConn::new(MqttLimits::default(), false);
    let p1 = enc(0x30, &cat(&[&s("t"), &[0xEEu8; 40]]));
    let p2 = enc(0x32, &cat(&[&s("a/b"), &[0, 5], b"x"]));
    let stream = cat(&[&p1[10..], &p2, &[0x40, 2, 0, 5]]);
    let recs = one_dir(&mut conn, Dir::C2S, &stream);
    let names: Vec<_> = recs.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, vec!["mqtt_resync", "PUBLISH", "PUBACK"]);
    // clean start: no resync report
    let mut conn = MqttConn::new(MqttLimits::default(), false);
    let recs = one_dir(&mut conn, Dir::C2S, &p2);
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].name, "PUBLISH");
}

// ---------------------------------------------------------------- session

fn findings(out: &[(usize, Rec)]) -> Vec<(String, &'static str)> {
    out.iter()
        .filter(|(_, r)| r.kind == "finding")
        .map(|(_, r)| (r.name.clone(), r.severity))
        .collect()
}

#[test]
fn connect_refused_v3_and_v5() {
    let mut conn = MqttConn::new(MqttLimits::default(), true);
    let out = run(
        &mut conn,
        &[
            (Dir::C2S, 0.0, v311_connect("d", 0)),
            (Dir::S2C, 0.1, vec![0x20, 2, 0, 4]),
        ],
    );
    let f: Vec<_> = out.iter().filter(|(_, r)| r.kind == "finding").collect();
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].1.name, "mqtt_connect_refused");
    assert!(f[0].1.message.contains("bad user name or password"));

    let mut conn = MqttConn::new(MqttLimits::default(), true);
    let out = run(
        &mut conn,
        &[
            (Dir::C2S, 0.0, v5_connect("d")),
            (Dir::S2C, 0.1, vec![0x20, 3, 0, 0x87, 0]),
        ],
    );
    let f: Vec<_> = out.iter().filter(|(_, r)| r.kind == "finding").collect();
    assert_eq!(f[0].1.name, "mqtt_connect_refused");
    assert!(f[0].1.message.contains("Not authorized"));
    assert_eq!(conn.summary().connack_code, Some(0x87));
}

#[test]
fn connect_missing_second_connect_before_connack() {
    let mut conn = MqttConn::new(MqttLimits::default(), true);
    let out = run(&mut conn, &[(Dir::C2S, 0.0, vec![0xC0, 0])]);
    assert_eq!(
        findings(&out),
        vec![("mqtt_connect_missing".into(), "error")]
    );
    // mid-stream: no finding
    let mut conn = MqttConn::new(MqttLimits::default(), false);
    let out = run(&mut conn, &[(Dir::C2S, 0.0, vec![0xC0, 0])]);
    assert!(findings(&out).is_empty());

    let mut conn = MqttConn::new(MqttLimits::default(), true);
    let out = run(
        &mut conn,
        &[
            (Dir::C2S, 0.0, cat(&[&v311_connect("d", 0), &[0xC0, 0]])),
            (Dir::S2C, 0.1, vec![0x20, 2, 0, 0]),
            (Dir::C2S, 0.2, v311_connect("d", 0)),
        ],
    );
    assert_eq!(
        findings(&out),
        vec![
            ("mqtt_packet_before_connack".into(), "info"),
            ("mqtt_second_connect".into(), "error")
        ]
    );
}

#[test]
fn qos_flows() {
    let mut conn = MqttConn::new(MqttLimits::default(), true);
    let q1 = |id: u8| enc(0x32, &cat(&[&s("t"), &[0, id], b"x"]));
    let q2 = |id: u8| enc(0x34, &cat(&[&s("t"), &[0, id], b"x"]));
    let out = run(
        &mut conn,
        &[
            (
                Dir::C2S,
                0.0,
                cat(&[&v311_connect("d", 0), &q1(1), &q1(2), &q2(3), &q2(4)]),
            ),
            (
                Dir::S2C,
                0.1,
                cat(&[
                    &[0x20, 2, 0, 0],
                    &[0x40, 2, 0, 1],
                    &[0x50, 2, 0, 3],
                    &[0x50, 2, 0, 4],
                ]),
            ),
            (Dir::C2S, 0.2, vec![0x62, 2, 0, 3]),
            (Dir::S2C, 0.3, vec![0x70, 2, 0, 3]),
            // server publishes QoS 1 to the client, never acked
            (Dir::S2C, 0.4, q1(9)),
        ],
    );
    let s = conn.summary();
    assert_eq!(s.flows.qos1_completed, 1);
    assert_eq!(s.flows.qos2_completed, 1);
    assert_eq!(s.flows.qos1_incomplete, 2);
    assert_eq!(s.flows.qos2_incomplete, 1);
    let f: Vec<_> = out
        .iter()
        .filter(|(_, r)| r.name == "mqtt_qos_flow_incomplete")
        .map(|(_, r)| r.message.clone())
        .collect();
    assert_eq!(f.len(), 3, "{f:?}");
    assert!(f
        .iter()
        .any(|m| m.contains("packet id 2") && m.contains("PUBACK")));
    assert!(f
        .iter()
        .any(|m| m.contains("packet id 4") && m.contains("PUBREL")));
    assert!(f.iter().any(|m| m.contains("s2c packet id 9")));
    assert_eq!(s.counts_c2s[msg::PUBLISH as usize], 4);
    assert_eq!(s.counts_s2c[msg::PUBREC as usize], 2);
}

#[test]
fn keepalive_exceeded() {
    let mut conn = MqttConn::new(MqttLimits::default(), true);
    let out = run(
        &mut conn,
        &[
            (Dir::C2S, 0.0, v311_connect("d", 10)),
            (Dir::S2C, 0.1, vec![0x20, 2, 0, 0]),
            (Dir::C2S, 14.0, vec![0xC0, 0]), // 14s < 15s: ok
            (Dir::C2S, 30.0, vec![0xC0, 0]), // 16s: exceeded
            (Dir::S2C, 60.0, vec![0xD0, 0]), // end: 30s of client silence
        ],
    );
    let f: Vec<_> = out
        .iter()
        .filter(|(_, r)| r.name == "mqtt_keepalive_exceeded")
        .collect();
    assert_eq!(f.len(), 2, "{out:#?}");
    assert_eq!(f[0].0, 3);
}

#[test]
fn server_disconnect_and_suback_failure() {
    let mut conn = MqttConn::new(MqttLimits::default(), true);
    let out = run(
        &mut conn,
        &[
            (
                Dir::C2S,
                0.0,
                cat(&[
                    &v5_connect("d"),
                    &enc(0x82, &cat(&[&[0, 1, 0], &s("a"), &[0], &s("$SYS/#"), &[0]])),
                ]),
            ),
            (
                Dir::S2C,
                0.1,
                cat(&[
                    &[0x20, 3, 0, 0, 0],
                    &[0x90, 5, 0, 1, 0, 0, 0x87],
                    &[0xE0, 2, 0x8B, 0],
                ]),
            ),
        ],
    );
    let f: Vec<_> = out
        .iter()
        .filter(|(_, r)| r.kind == "finding" && r.name != "mqtt_packet_before_connack")
        .map(|(_, r)| r.clone())
        .collect();
    assert_eq!(f.len(), 2, "{f:#?}");
    assert_eq!(f[0].name, "mqtt_suback_failure");
    assert!(f[0].message.contains("$SYS/#") && f[0].message.contains("Not authorized"));
    assert_eq!(f[1].name, "mqtt_server_disconnect");
    assert!(f[1].message.contains("Server shutting down"));
    // v3 SUBACK failure 0x80
    let mut conn = MqttConn::new(MqttLimits::default(), true);
    let out = run(
        &mut conn,
        &[
            (
                Dir::C2S,
                0.0,
                cat(&[
                    &v311_connect("d", 0),
                    &enc(0x82, &cat(&[&[0, 1], &s("a"), &[1]])),
                ]),
            ),
            (
                Dir::S2C,
                0.1,
                cat(&[&[0x20, 2, 0, 0], &[0x90, 3, 0, 1, 0x80]]),
            ),
        ],
    );
    assert_eq!(
        findings(&out),
        vec![
            ("mqtt_packet_before_connack".into(), "info"),
            ("mqtt_suback_failure".into(), "warning")
        ]
    );
}

#[test]
fn summary_fields() {
    let mut conn = MqttConn::new(MqttLimits::default(), true);
    let mut stream = v311_connect("wise", 60);
    for i in 0..150 {
        stream.extend(enc(0x30, &cat(&[&s(&format!("t/{i}")), b"1"])));
    }
    stream.extend(enc(0x30, &cat(&[&s("t/0"), b"1"])));
    run(&mut conn, &[(Dir::C2S, 0.0, stream)]);
    let s = conn.summary();
    assert_eq!(s.client_id.as_deref(), Some("wise"));
    assert_eq!(s.protocol_name.as_deref(), Some("MQTT"));
    assert_eq!(s.level, Some(4));
    assert!(!s.level_inferred);
    assert_eq!(s.keep_alive, Some(60));
    assert_eq!(s.topics.len(), 100);
    assert!(s.topics_truncated);
    assert_eq!(s.topics[0].count, 2);
    assert_eq!(s.counts_c2s[3], 151);
}

#[test]
fn findings_are_capped() {
    let limits = MqttLimits {
        max_findings_per_code: 2,
        ..MqttLimits::default()
    };
    let mut conn = MqttConn::new(limits, true);
    let mut stream = v311_connect("d", 0);
    for i in 1..=5u8 {
        stream.extend(enc(0x32, &cat(&[&s("t"), &[0, i]])));
    }
    let out = run(&mut conn, &[(Dir::C2S, 0.0, stream)]);
    let f: Vec<_> = out
        .iter()
        .filter(|(_, r)| r.kind == "finding" && r.name == "mqtt_qos_flow_incomplete")
        .collect();
    assert_eq!(f.len(), 3);
    assert!(f[2].1.message.contains("3 more"));
}

// ---------------------------------------------------------------- robustness

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let limits = MqttLimits {
        max_packet_bytes: 512,
        ..MqttLimits::default()
    };
    for round in 0..3000 {
        let len = rng.below(300);
        let mut data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        // bias towards valid-looking headers
        if round % 2 == 0 && !data.is_empty() {
            data[0] = [0x10, 0x20, 0x30, 0x32, 0x82, 0x90, 0xE0, 0xF0][rng.below(8)];
            if data.len() > 1 {
                data[1] = (data.len() - 2).min(127) as u8;
            }
        }
        for lvl in [None, Some(3), Some(4), Some(5)] {
            let b0 = data.first().copied().unwrap_or(0);
            let _ = decode_packet(b0, data.get(1..).unwrap_or(&[]), lvl);
        }
        let mut conn = MqttConn::new(limits.clone(), round % 3 == 0);
        let mut i = 0;
        let mut n = 0usize;
        while i < data.len() {
            let k = 1 + rng.below(40);
            let end = (i + k).min(data.len());
            let dir = if rng.below(2) == 0 {
                Dir::C2S
            } else {
                Dir::S2C
            };
            conn.feed(dir, i as f64, &data[i..end], &mut |_| n += 1);
            if rng.below(10) == 0 {
                conn.gap(dir, rng.below(50) as u64, &mut |_| n += 1);
            }
            i = end;
        }
        conn.end(&mut |_| n += 1);
        assert!(conn.peak_buffered_bytes(Dir::C2S) <= 512 + 256);
        assert!(conn.peak_buffered_bytes(Dir::S2C) <= 512 + 256);
        let _ = conn.summary();
    }
}

#[test]
fn mutated_valid_stream_never_panics_and_reports() {
    let base = sample_stream();
    let mut rng = Rng(12345);
    for _ in 0..2000 {
        let mut data = base.clone();
        for _ in 0..1 + rng.below(4) {
            let i = rng.below(data.len());
            data[i] = rng.next() as u8;
        }
        let mut conn = MqttConn::new(MqttLimits::default(), true);
        let mut events = 0;
        for c in data.chunks(1 + rng.below(20)) {
            conn.feed(Dir::C2S, 0.0, c, &mut |_| events += 1);
        }
        conn.end(&mut |_| events += 1);
        assert!(events > 0);
    }
}

#[test]
fn publish_of_200_kib_straddling_many_segments() {
    // A 200 KiB QoS 1 PUBLISH fed as TCP would deliver it (1448-byte
    // segments), with its Remaining Length varint split between chunks.
    let payload: Vec<u8> = (0..200 * 1024).map(|i| (i % 251) as u8).collect();
    let body = cat(&[&s("big/topic"), &[0, 7], &payload]);
    let pkt = enc(0x32, &body);
    let mut conn = MqttConn::new(MqttLimits::default(), false);
    let mut stream = v311_connect("c", 60);
    stream.extend_from_slice(&pkt);
    let mut got = Vec::new();
    // first chunk ends inside the varint of the PUBLISH
    let split = v311_connect("c", 60).len() + 2;
    let mut chunks = vec![&stream[..split]];
    chunks.extend(stream[split..].chunks(1448));
    let n = chunks.len();
    for (i, c) in chunks.into_iter().enumerate() {
        conn.feed(Dir::C2S, 0.0, c, &mut |e| {
            if let Event::Packet(_, p) = e {
                if let Body::Publish(pb) = &p.body {
                    got.push((
                        i,
                        pb.topic.to_string(),
                        pb.packet_id,
                        pb.payload.to_vec(),
                        pb.payload_len,
                        p.remaining_len,
                    ));
                }
            }
        });
    }
    assert_eq!(got.len(), 1);
    let (at, topic, id, data, len, rl) = &got[0];
    assert_eq!(*at, n - 1, "reported when its last byte arrived");
    assert_eq!((topic.as_str(), *id), ("big/topic", Some(7)));
    // Its start is held, the rest counted: memory does not grow with it.
    assert_eq!(data, &payload[..PUBLISH_PAYLOAD_HELD]);
    assert_eq!(*len, payload.len() as u64);
    assert_eq!(*rl as usize, body.len());
    assert!(conn.peak_buffered_bytes(Dir::C2S) <= PUBLISH_PAYLOAD_HELD + 64);
    // The next packet is decoded where it starts.
    let mut next = Vec::new();
    conn.feed(Dir::C2S, 0.0, &[0xC0, 0], &mut |e| {
        if let Event::Packet(_, p) = e {
            next.push((p.msg_type, p.offset));
        }
    });
    assert_eq!(next, vec![(12, (stream.len()) as u64)]);
}

#[test]
fn a_large_publish_held_in_part_is_the_whole_one_otherwise() {
    // Fed whole, in 1448-byte chunks, and with a gap inside its payload:
    // the same packet (payload start, lengths, offset) or, with the gap,
    // dropped as truncated as before; MQTT 5 with properties too.
    for v5 in [false, true] {
        let payload: Vec<u8> = (0..150_000).map(|i| (i % 251) as u8).collect();
        let mut body = cat(&[&s("t/big"), &[0, 9]]);
        if v5 {
            body.extend_from_slice(&[3, 0x23, 0, 5]); // Topic Alias 5
        }
        body.extend_from_slice(&payload);
        let pkt = enc(0x32, &body);
        let connect = if v5 {
            v5_connect("c")
        } else {
            v311_connect("c", 60)
        };
        let run = |chunk: usize, gap_at: Option<usize>| {
            let mut conn = MqttConn::new(MqttLimits::default(), false);
            let mut out = Vec::new();
            let mut rec = |e: Event<'_>| match e {
                Event::Packet(_, p) => {
                    if let Body::Publish(pb) = &p.body {
                        out.push(format!(
                            "{} {} {} {} {}",
                            pb.topic,
                            pb.payload_len,
                            p.remaining_len,
                            p.offset,
                            pb.payload[..1000] == payload[..1000]
                        ));
                    }
                }
                Event::Anomaly(_, a) => out.push(a.code.as_str().to_string()),
                _ => {}
            };
            conn.feed(Dir::C2S, 0.0, &connect, &mut rec);
            let (a, b) = pkt.split_at(gap_at.unwrap_or(pkt.len()));
            for c in a.chunks(chunk) {
                conn.feed(Dir::C2S, 0.0, c, &mut rec);
            }
            if gap_at.is_some() {
                conn.gap(Dir::C2S, 100, &mut rec);
                for c in b[100..].chunks(chunk) {
                    conn.feed(Dir::C2S, 0.0, c, &mut rec);
                }
            }
            conn.end(&mut rec);
            out
        };
        let whole = run(pkt.len(), None);
        assert_eq!(whole.len(), 1, "{whole:?}");
        assert_eq!(run(1448, None), whole, "v5 {v5}");
        let gapped = run(1448, Some(100_000));
        assert!(
            gapped.iter().any(|l| l == "mqtt_truncated_packet"),
            "{gapped:?}"
        );
        assert_eq!(gapped.iter().filter(|l| l.starts_with("t/big")).count(), 0);
        // Bytes of unknown length lost inside it: dropped, and nothing of it
        // is left counted (the stream offset is what was fed).
        let mut conn = MqttConn::new(MqttLimits::default(), false);
        let mut codes = Vec::new();
        let mut rec = |e: Event<'_>| {
            if let Event::Anomaly(_, a) = e {
                codes.push(a.code.as_str());
            }
        };
        conn.feed(Dir::C2S, 0.0, &connect, &mut rec);
        for c in pkt[..100_000].chunks(1448) {
            conn.feed(Dir::C2S, 0.0, c, &mut rec);
        }
        conn.lost(Dir::C2S, &mut rec);
        assert_eq!(
            conn.stream_offset(Dir::C2S),
            (connect.len() + 100_000) as u64
        );
        assert!(codes.contains(&"mqtt_truncated_packet"), "{codes:?}");
    }
}
