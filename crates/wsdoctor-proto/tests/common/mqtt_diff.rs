//! The differential check of the MQTT decoder against mqtt-proto 0.4, written
//! once: used by the `mqtt3`, `mqtt4` and `mqtt5` fuzz targets (through
//! `#[path]`), by `tests/fuzz_replay.rs` on their corpora and by
//! `tests/mqtt_differential.rs` on packets from a seeded PRNG (all have
//! mqtt-proto and arbitrary as dev-dependencies; the crate does not).
//!
//! The input bytes are used twice: as a raw packet (first byte + body)
//! through `wsdoctor_proto::fuzzing::mqtt_packet`, and as `arbitrary` input for an
//! mqtt-proto packet, which is encoded by mqtt-proto and must decode here to
//! the same fields without structural anomalies, alone and as a stream split
//! at an input-chosen point. Field comparisons follow
//! `src/proto/mqtt/tests_diff.rs`.
#![allow(dead_code, clippy::panic)]

use arbitrary::{Arbitrary, Unstructured};
use mqtt_proto::{v3, v5, QosPid};
use wsdoctor_proto::mqtt::{
    decode_packet, msg_name, parse_fixed_header, prop, AnomalyCode, Body, Dir, Event, FixedHeader,
    MqttConn, MqttLimits, Packet, Properties,
};

/// The whole target: raw decoding at `level` and inferred, then the round trip.
pub fn target(data: &[u8], level: u8) {
    wsdoctor_proto::fuzzing::mqtt_packet(data, Some(level));
    wsdoctor_proto::fuzzing::mqtt_packet(data, None);
    if level == 5 {
        roundtrip_v5(data);
    } else {
        roundtrip_v3(data, level);
    }
}

fn stream_check(bytes: &[u8], level: u8, cut: usize, check: &dyn Fn(&Packet<'_>)) {
    let mut conn = MqttConn::new(MqttLimits::default(), true);
    conn.set_level_hint(level);
    let k = cut % (bytes.len() + 1);
    let mut n = 0;
    for piece in [&bytes[..k], &bytes[k..]] {
        conn.feed(Dir::C2S, 0.0, piece, &mut |e| {
            if let Event::Packet(_, p) = e {
                assert_eq!(p.offset, 0);
                check(p);
                n += 1;
            }
        });
    }
    assert_eq!(
        n, 1,
        "the packet was not decoded exactly once from the stream"
    );
}

/// An mqtt-proto 3.x packet from `arbitrary` bytes, when mqtt-proto encodes
/// it and decodes it back to itself and the spec allows it (mqtt-proto
/// accepts empty topic lists, the spec and this decoder do not; a 3.x
/// encoder cannot write a 5.0 CONNECT): the packet and its bytes.
pub fn encodable_v3(raw: &[u8]) -> Option<(v3::Packet, Vec<u8>)> {
    let pkt = v3::Packet::arbitrary(&mut Unstructured::new(raw)).ok()?;
    let unfit = match &pkt {
        v3::Packet::Connect(c) => c.protocol.to_pair().1 == 5,
        v3::Packet::Subscribe(x) => x.topics.is_empty(),
        v3::Packet::Suback(x) => x.topics.is_empty(),
        v3::Packet::Unsubscribe(x) => x.topics.is_empty(),
        _ => false,
    };
    if unfit {
        return None;
    }
    let bytes = pkt.encode().ok()?.as_ref().to_vec();
    (v3::Packet::decode(&bytes).ok().flatten().as_ref() == Some(&pkt)).then_some((pkt, bytes))
}

/// [`encodable_v3`] for MQTT 5.0.
pub fn encodable_v5(raw: &[u8]) -> Option<(v5::Packet, Vec<u8>)> {
    let pkt = v5::Packet::arbitrary(&mut Unstructured::new(raw)).ok()?;
    let unfit = match &pkt {
        v5::Packet::Connect(c) => c.protocol.to_pair().1 != 5,
        v5::Packet::Subscribe(x) => x.topics.is_empty(),
        v5::Packet::Suback(x) => x.topics.is_empty(),
        v5::Packet::Unsubscribe(x) => x.topics.is_empty(),
        v5::Packet::Unsuback(x) => x.topics.is_empty(),
        _ => false,
    };
    if unfit {
        return None;
    }
    let bytes = pkt.encode().ok()?.as_ref().to_vec();
    (v5::Packet::decode(&bytes).ok().flatten().as_ref() == Some(&pkt)).then_some((pkt, bytes))
}

pub fn roundtrip_v3(data: &[u8], level: u8) {
    let Some((pkt, bytes)) = encodable_v3(data) else {
        return;
    };
    let (b0, body) = split(&bytes);
    check_v3(&pkt, &decode_packet(b0, body, Some(level)));
    let cut = data.last().copied().unwrap_or(0) as usize;
    stream_check(&bytes, level, cut, &|p| check_v3(&pkt, p));
}

pub fn roundtrip_v5(data: &[u8]) {
    let Some((pkt, bytes)) = encodable_v5(data) else {
        return;
    };
    let (b0, body) = split(&bytes);
    check_v5(&pkt, &decode_packet(b0, body, Some(5)));
    let cut = data.last().copied().unwrap_or(0) as usize;
    // A PUBLISH with a topic alias changes meaning in a stream (alias map).
    if !matches!(pkt, v5::Packet::Publish(_)) {
        stream_check(&bytes, 5, cut, &|p| check_v5(&pkt, p));
    }
}

/// More properties or subscriptions than `MqttLimits` decodes: reported
/// (`mqtt_limit_exceeded`) and the rest skipped by design, so the fields
/// cannot all match.
fn over_limits(p: &Packet<'_>) -> bool {
    p.anomalies
        .iter()
        .any(|a| a.code == AnomalyCode::LimitExceeded)
}

fn assert_clean(p: &Packet<'_>, what: &dyn std::fmt::Debug) {
    assert!(
        !p.is_malformed(),
        "{:?} decoding {what:?} ({})",
        p.anomalies,
        msg_name(p.msg_type)
    );
}
pub fn split(bytes: &[u8]) -> (u8, &[u8]) {
    match parse_fixed_header(bytes) {
        FixedHeader::Complete { header_len, .. } => (bytes[0], &bytes[header_len as usize..]),
        h => panic!("mqtt-proto produced a bad header {h:?}"),
    }
}

fn qos_pid(q: QosPid) -> (u8, Option<u16>) {
    match q {
        QosPid::Level0 => (0, None),
        QosPid::Level1(p) => (1, Some(p.value())),
        QosPid::Level2(p) => (2, Some(p.value())),
    }
}

fn ups(p: &Properties<'_>) -> Vec<(String, String)> {
    p.user_properties()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn ups5(u: &[v5::UserProperty]) -> Vec<(String, String)> {
    u.iter()
        .map(|x| (x.name.to_string(), x.value.to_string()))
        .collect()
}

fn int(p: &Properties<'_>, id: u8) -> Option<u32> {
    p.get_int(id)
}

pub fn check_v3(pkt: &v3::Packet, ours: &Packet<'_>) {
    if over_limits(ours) {
        return;
    }
    assert_clean(ours, pkt);
    match (pkt, &ours.body) {
        (v3::Packet::Connect(c), Body::Connect(o)) => {
            let (name, level) = c.protocol.to_pair();
            assert_eq!(o.protocol_name.as_bytes(), name);
            assert_eq!(o.level, level);
            assert_eq!(o.clean_start, c.clean_session);
            assert_eq!(o.keep_alive, c.keep_alive);
            assert_eq!(o.client_id.as_deref(), Some(&*c.client_id));
            assert_eq!(o.username.as_deref(), c.username.as_deref());
            assert_eq!(o.password, c.password.as_deref());
            match (&c.last_will, &o.will) {
                (None, None) => {}
                (Some(w), Some(ow)) => {
                    assert_eq!(ow.qos, w.qos as u8);
                    assert_eq!(ow.retain, w.retain);
                    assert_eq!(&*ow.topic, &*w.topic_name);
                    assert_eq!(ow.payload, &w.message[..]);
                }
                x => panic!("will mismatch {x:?}"),
            }
        }
        (v3::Packet::Connack(c), Body::Connack(o)) => {
            assert_eq!(o.session_present, c.session_present);
            assert_eq!(o.code, c.code as u8);
        }
        (v3::Packet::Publish(p), Body::Publish(o)) => {
            let (q, pid) = qos_pid(p.qos_pid);
            assert_eq!(
                (o.qos, o.packet_id, o.dup, o.retain),
                (q, pid, p.dup, p.retain)
            );
            assert_eq!(&*o.topic, &*p.topic_name);
            assert_eq!(o.payload, &p.payload[..]);
        }
        (v3::Packet::Puback(id), Body::Puback(o))
        | (v3::Packet::Pubrec(id), Body::Pubrec(o))
        | (v3::Packet::Pubrel(id), Body::Pubrel(o))
        | (v3::Packet::Pubcomp(id), Body::Pubcomp(o)) => {
            assert_eq!(o.packet_id, id.value());
            assert_eq!(o.reason_code, 0);
        }
        (v3::Packet::Subscribe(s), Body::Subscribe(o)) => {
            assert_eq!(o.packet_id, s.pid.value());
            let want: Vec<(String, u8)> = s
                .topics
                .iter()
                .map(|(t, q)| (t.to_string(), *q as u8))
                .collect();
            let got: Vec<(String, u8)> = o
                .subscriptions
                .iter()
                .map(|x| (x.topic.to_string(), x.qos))
                .collect();
            assert_eq!(got, want);
        }
        (v3::Packet::Suback(s), Body::Suback(o)) => {
            assert_eq!(o.packet_id, s.pid.value());
            let want: Vec<u8> = s
                .topics
                .iter()
                .map(|c| match c {
                    v3::SubscribeReturnCode::MaxLevel0 => 0,
                    v3::SubscribeReturnCode::MaxLevel1 => 1,
                    v3::SubscribeReturnCode::MaxLevel2 => 2,
                    v3::SubscribeReturnCode::Failure => 0x80,
                })
                .collect();
            assert_eq!(o.reason_codes, &want[..]);
        }
        (v3::Packet::Unsubscribe(s), Body::Unsubscribe(o)) => {
            assert_eq!(o.packet_id, s.pid.value());
            let want: Vec<String> = s.topics.iter().map(|t| t.to_string()).collect();
            let got: Vec<String> = o.topics.iter().map(|t| t.to_string()).collect();
            assert_eq!(got, want);
        }
        (v3::Packet::Unsuback(id), Body::Unsuback(o)) => assert_eq!(o.packet_id, id.value()),
        (v3::Packet::Pingreq, Body::Pingreq)
        | (v3::Packet::Pingresp, Body::Pingresp)
        | (v3::Packet::Disconnect, Body::Disconnect(_)) => {}
        x => panic!("type mismatch {x:?}"),
    }
}

fn check_publish_props(p: &v5::PublishProperties, o: &Properties<'_>) {
    assert_eq!(
        int(o, prop::PAYLOAD_FORMAT_INDICATOR),
        p.payload_is_utf8.map(u32::from)
    );
    assert_eq!(
        int(o, prop::MESSAGE_EXPIRY_INTERVAL),
        p.message_expiry_interval
    );
    assert_eq!(int(o, prop::TOPIC_ALIAS), p.topic_alias.map(u32::from));
    assert_eq!(o.get_str(prop::RESPONSE_TOPIC), p.response_topic.as_deref());
    assert_eq!(
        o.get_bin(prop::CORRELATION_DATA),
        p.correlation_data.as_deref()
    );
    assert_eq!(
        int(o, prop::SUBSCRIPTION_IDENTIFIER),
        p.subscription_id.map(|v| v.value())
    );
    assert_eq!(o.get_str(prop::CONTENT_TYPE), p.content_type.as_deref());
    assert_eq!(ups(o), ups5(&p.user_properties));
}

pub fn check_v5(pkt: &v5::Packet, ours: &Packet<'_>) {
    if over_limits(ours) {
        return;
    }
    assert_clean(ours, pkt);
    let b = |v: Option<bool>| v.map(u32::from);
    match (pkt, &ours.body) {
        (v5::Packet::Connect(c), Body::Connect(o)) => {
            let (name, level) = c.protocol.to_pair();
            assert_eq!(o.protocol_name.as_bytes(), name);
            assert_eq!(o.level, level);
            assert_eq!(o.clean_start, c.clean_start);
            assert_eq!(o.keep_alive, c.keep_alive);
            assert_eq!(o.client_id.as_deref(), Some(&*c.client_id));
            assert_eq!(o.username.as_deref(), c.username.as_deref());
            assert_eq!(o.password, c.password.as_deref());
            if level == 5 {
                let p = &c.properties;
                let q = &o.properties;
                assert_eq!(
                    int(q, prop::SESSION_EXPIRY_INTERVAL),
                    p.session_expiry_interval
                );
                assert_eq!(int(q, prop::RECEIVE_MAXIMUM), p.receive_max.map(u32::from));
                assert_eq!(int(q, prop::MAXIMUM_PACKET_SIZE), p.max_packet_size);
                assert_eq!(
                    int(q, prop::TOPIC_ALIAS_MAXIMUM),
                    p.topic_alias_max.map(u32::from)
                );
                assert_eq!(
                    int(q, prop::REQUEST_RESPONSE_INFORMATION),
                    b(p.request_response_info)
                );
                assert_eq!(
                    int(q, prop::REQUEST_PROBLEM_INFORMATION),
                    b(p.request_problem_info)
                );
                assert_eq!(
                    q.get_str(prop::AUTHENTICATION_METHOD),
                    p.auth_method.as_deref()
                );
                assert_eq!(q.get_bin(prop::AUTHENTICATION_DATA), p.auth_data.as_deref());
                assert_eq!(ups(q), ups5(&p.user_properties));
            }
            match (&c.last_will, &o.will) {
                (None, None) => {}
                (Some(w), Some(ow)) => {
                    assert_eq!(ow.qos, w.qos as u8);
                    assert_eq!(ow.retain, w.retain);
                    assert_eq!(&*ow.topic, &*w.topic_name);
                    assert_eq!(ow.payload, &w.payload[..]);
                    if level == 5 {
                        let p = &w.properties;
                        let q = &ow.properties;
                        assert_eq!(int(q, prop::WILL_DELAY_INTERVAL), p.delay_interval);
                        assert_eq!(int(q, prop::PAYLOAD_FORMAT_INDICATOR), b(p.payload_is_utf8));
                        assert_eq!(
                            int(q, prop::MESSAGE_EXPIRY_INTERVAL),
                            p.message_expiry_interval
                        );
                        assert_eq!(q.get_str(prop::CONTENT_TYPE), p.content_type.as_deref());
                        assert_eq!(q.get_str(prop::RESPONSE_TOPIC), p.response_topic.as_deref());
                        assert_eq!(
                            q.get_bin(prop::CORRELATION_DATA),
                            p.correlation_data.as_deref()
                        );
                        assert_eq!(ups(q), ups5(&p.user_properties));
                    }
                }
                x => panic!("will mismatch {x:?}"),
            }
        }
        (v5::Packet::Connack(c), Body::Connack(o)) => {
            assert_eq!(o.session_present, c.session_present);
            assert_eq!(o.code, c.reason_code as u8);
            let p = &c.properties;
            let q = &o.properties;
            assert_eq!(
                int(q, prop::SESSION_EXPIRY_INTERVAL),
                p.session_expiry_interval
            );
            assert_eq!(int(q, prop::RECEIVE_MAXIMUM), p.receive_max.map(u32::from));
            assert_eq!(int(q, prop::MAXIMUM_QOS), p.max_qos.map(|q| q as u32));
            assert_eq!(int(q, prop::RETAIN_AVAILABLE), b(p.retain_available));
            assert_eq!(int(q, prop::MAXIMUM_PACKET_SIZE), p.max_packet_size);
            assert_eq!(
                q.get_str(prop::ASSIGNED_CLIENT_IDENTIFIER),
                p.assigned_client_id.as_deref()
            );
            assert_eq!(
                int(q, prop::TOPIC_ALIAS_MAXIMUM),
                p.topic_alias_max.map(u32::from)
            );
            assert_eq!(q.get_str(prop::REASON_STRING), p.reason_string.as_deref());
            assert_eq!(
                int(q, prop::WILDCARD_SUBSCRIPTION_AVAILABLE),
                b(p.wildcard_subscription_available)
            );
            assert_eq!(
                int(q, prop::SUBSCRIPTION_IDENTIFIER_AVAILABLE),
                b(p.subscription_id_available)
            );
            assert_eq!(
                int(q, prop::SHARED_SUBSCRIPTION_AVAILABLE),
                b(p.shared_subscription_available)
            );
            assert_eq!(
                int(q, prop::SERVER_KEEP_ALIVE),
                p.server_keep_alive.map(u32::from)
            );
            assert_eq!(
                q.get_str(prop::RESPONSE_INFORMATION),
                p.response_info.as_deref()
            );
            assert_eq!(
                q.get_str(prop::SERVER_REFERENCE),
                p.server_reference.as_deref()
            );
            assert_eq!(
                q.get_str(prop::AUTHENTICATION_METHOD),
                p.auth_method.as_deref()
            );
            assert_eq!(q.get_bin(prop::AUTHENTICATION_DATA), p.auth_data.as_deref());
            assert_eq!(ups(q), ups5(&p.user_properties));
        }
        (v5::Packet::Publish(p), Body::Publish(o)) => {
            let (q, pid) = qos_pid(p.qos_pid);
            assert_eq!(
                (o.qos, o.packet_id, o.dup, o.retain),
                (q, pid, p.dup, p.retain)
            );
            assert_eq!(&*o.topic, &*p.topic_name);
            assert_eq!(o.payload, &p.payload[..]);
            assert_eq!(o.topic_alias, p.properties.topic_alias);
            check_publish_props(&p.properties, &o.properties);
        }
        (v5::Packet::Puback(p), Body::Puback(o)) => {
            assert_eq!(
                (o.packet_id, o.reason_code),
                (p.pid.value(), p.reason_code as u8)
            );
            assert_eq!(
                o.properties.get_str(prop::REASON_STRING),
                p.properties.reason_string.as_deref()
            );
            assert_eq!(ups(&o.properties), ups5(&p.properties.user_properties));
        }
        (v5::Packet::Pubrec(p), Body::Pubrec(o)) => {
            assert_eq!(
                (o.packet_id, o.reason_code),
                (p.pid.value(), p.reason_code as u8)
            );
            assert_eq!(
                o.properties.get_str(prop::REASON_STRING),
                p.properties.reason_string.as_deref()
            );
            assert_eq!(ups(&o.properties), ups5(&p.properties.user_properties));
        }
        (v5::Packet::Pubrel(p), Body::Pubrel(o)) => {
            assert_eq!(
                (o.packet_id, o.reason_code),
                (p.pid.value(), p.reason_code as u8)
            );
            assert_eq!(
                o.properties.get_str(prop::REASON_STRING),
                p.properties.reason_string.as_deref()
            );
            assert_eq!(ups(&o.properties), ups5(&p.properties.user_properties));
        }
        (v5::Packet::Pubcomp(p), Body::Pubcomp(o)) => {
            assert_eq!(
                (o.packet_id, o.reason_code),
                (p.pid.value(), p.reason_code as u8)
            );
            assert_eq!(
                o.properties.get_str(prop::REASON_STRING),
                p.properties.reason_string.as_deref()
            );
            assert_eq!(ups(&o.properties), ups5(&p.properties.user_properties));
        }
        (v5::Packet::Subscribe(s), Body::Subscribe(o)) => {
            assert_eq!(o.packet_id, s.pid.value());
            assert_eq!(
                int(&o.properties, prop::SUBSCRIPTION_IDENTIFIER),
                s.properties.subscription_id.map(|v| v.value())
            );
            assert_eq!(ups(&o.properties), ups5(&s.properties.user_properties));
            let want: Vec<(String, u8, u8)> = s
                .topics
                .iter()
                .map(|(t, opt)| (t.to_string(), opt.to_u8(), opt.max_qos as u8))
                .collect();
            let got: Vec<(String, u8, u8)> = o
                .subscriptions
                .iter()
                .map(|x| (x.topic.to_string(), x.options, x.qos))
                .collect();
            assert_eq!(got, want);
            for (x, (_, opt)) in o.subscriptions.iter().zip(&s.topics) {
                assert_eq!(x.no_local, opt.no_local);
                assert_eq!(x.retain_as_published, opt.retain_as_published);
                assert_eq!(x.retain_handling, opt.retain_handling as u8);
            }
        }
        (v5::Packet::Suback(s), Body::Suback(o)) => {
            assert_eq!(o.packet_id, s.pid.value());
            let want: Vec<u8> = s.topics.iter().map(|c| *c as u8).collect();
            assert_eq!(o.reason_codes, &want[..]);
            assert_eq!(
                o.properties.get_str(prop::REASON_STRING),
                s.properties.reason_string.as_deref()
            );
            assert_eq!(ups(&o.properties), ups5(&s.properties.user_properties));
        }
        (v5::Packet::Unsubscribe(s), Body::Unsubscribe(o)) => {
            assert_eq!(o.packet_id, s.pid.value());
            let want: Vec<String> = s.topics.iter().map(|t| t.to_string()).collect();
            let got: Vec<String> = o.topics.iter().map(|t| t.to_string()).collect();
            assert_eq!(got, want);
            assert_eq!(ups(&o.properties), ups5(&s.properties.user_properties));
        }
        (v5::Packet::Unsuback(s), Body::Unsuback(o)) => {
            assert_eq!(o.packet_id, s.pid.value());
            let want: Vec<u8> = s.topics.iter().map(|c| *c as u8).collect();
            assert_eq!(o.reason_codes, &want[..]);
            assert_eq!(
                o.properties.get_str(prop::REASON_STRING),
                s.properties.reason_string.as_deref()
            );
        }
        (v5::Packet::Pingreq, Body::Pingreq) | (v5::Packet::Pingresp, Body::Pingresp) => {}
        (v5::Packet::Disconnect(d), Body::Disconnect(o)) => {
            assert_eq!(o.reason_code, d.reason_code as u8);
            let p = &d.properties;
            let q = &o.properties;
            assert_eq!(
                int(q, prop::SESSION_EXPIRY_INTERVAL),
                p.session_expiry_interval
            );
            assert_eq!(q.get_str(prop::REASON_STRING), p.reason_string.as_deref());
            assert_eq!(
                q.get_str(prop::SERVER_REFERENCE),
                p.server_reference.as_deref()
            );
            assert_eq!(ups(q), ups5(&p.user_properties));
        }
        (v5::Packet::Auth(a), Body::Auth(o)) => {
            assert_eq!(o.reason_code, a.reason_code as u8);
            let p = &a.properties;
            let q = &o.properties;
            assert_eq!(
                q.get_str(prop::AUTHENTICATION_METHOD),
                p.auth_method.as_deref()
            );
            assert_eq!(q.get_bin(prop::AUTHENTICATION_DATA), p.auth_data.as_deref());
            assert_eq!(q.get_str(prop::REASON_STRING), p.reason_string.as_deref());
            assert_eq!(ups(q), ups5(&p.user_properties));
        }
        x => panic!("type mismatch {x:?}"),
    }
}
