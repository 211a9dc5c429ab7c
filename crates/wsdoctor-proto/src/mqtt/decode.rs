//! Single-packet decoding.

use std::borrow::Cow;

use super::names::{self, prop_allowed, prop_repeatable, prop_type, PropType};
use super::{
    msg, msg_name, Anomaly, AnomalyCode, Auth, Body, Connack, Connect, Disconnect, MqttLimits,
    Packet, PropValue, Properties, Property, PubResp, Publish, Suback, Subscribe, Subscription,
    Unsuback, Unsubscribe, Will,
};

/// Result of parsing a fixed header from the start of a byte slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FixedHeader {
    /// More bytes are needed.
    Incomplete,
    /// The Remaining Length varint has a continuation bit on its 4th byte.
    Invalid,
    /// The fixed header is complete.
    Complete {
        /// Fixed header length in bytes: 2..=5 (first byte + 1..=4 varint
        /// bytes).
        header_len: u8,
        /// Remaining Length: bytes of the packet after the fixed header
        /// (at most 268 435 455).
        remaining_len: u32,
    },
}

/// Parse the fixed header (first byte + Remaining Length) at the start of `b`.
pub fn parse_fixed_header(b: &[u8]) -> FixedHeader {
    let mut value: u32 = 0;
    for i in 0..4usize {
        let Some(&byte) = b.get(i.saturating_add(1)) else {
            return FixedHeader::Incomplete;
        };
        value |= u32::from(byte & 0x7F) << (i as u32).saturating_mul(7);
        if byte & 0x80 == 0 {
            return FixedHeader::Complete {
                header_len: (i as u8).saturating_add(2),
                remaining_len: value,
            };
        }
    }
    FixedHeader::Invalid
}

/// Bytes needed to encode `v` as a varint (1..=4, 5 if too big).
pub(crate) fn varint_len(v: usize) -> u8 {
    match v {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        2_097_152..=268_435_455 => 4,
        _ => 5,
    }
}

/// Whether the flags nibble is valid for the packet type (PUBLISH: QoS != 3).
pub fn flags_valid(msg_type: u8, flags: u8) -> bool {
    match msg_type {
        msg::PUBLISH => (flags >> 1) & 3 != 3,
        msg::PUBREL | msg::SUBSCRIBE | msg::UNSUBSCRIBE => flags == 0b0010,
        1..=15 => flags == 0,
        _ => false,
    }
}

/// Decode one packet with default limits. `body` is exactly the Remaining
/// Length bytes. `level`: Some(3|4|5) when known (from the CONNECT), None to
/// let the decoder infer the dialect from the bytes. Anomaly offsets are
/// relative to the packet's first byte.
pub fn decode_packet<'a>(first_byte: u8, body: &'a [u8], level: Option<u8>) -> Packet<'a> {
    decode_packet_with(first_byte, body, level, &MqttLimits::default(), 0)
}

/// Like [`decode_packet`] with explicit limits and the stream offset of the
/// packet's first byte (anomaly offsets are absolute).
pub fn decode_packet_with<'a>(
    first_byte: u8,
    body: &'a [u8],
    level: Option<u8>,
    limits: &MqttLimits,
    offset: u64,
) -> Packet<'a> {
    let hl = varint_len(body.len()).saturating_add(1);
    decode_at(first_byte, body, level, limits, offset, hl).0
}

/// Normalise a level byte to a decoding dialect: 5 => 5, anything else => 4.
fn dialect(level: u8) -> u8 {
    if level & 0x7F >= 5 {
        5
    } else {
        4
    }
}

fn layout_depends_on_level(msg_type: u8) -> bool {
    !matches!(msg_type, msg::CONNECT | msg::PINGREQ | msg::PINGRESP | 0)
}

/// Decode, and when `level` is None also return level evidence: Some(4) or
/// Some(5) when exactly one dialect decodes the packet without structural
/// anomalies (CONNECT: its own level byte).
pub(crate) fn decode_at<'a>(
    first_byte: u8,
    body: &'a [u8],
    level: Option<u8>,
    limits: &MqttLimits,
    offset: u64,
    header_len: u8,
) -> (Packet<'a>, Option<u8>) {
    let msg_type = first_byte >> 4;
    if let Some(l) = level {
        return (
            decode_as(first_byte, body, Some(l), limits, offset, header_len),
            None,
        );
    }
    if !layout_depends_on_level(msg_type) {
        let p = decode_as(first_byte, body, None, limits, offset, header_len);
        let ev = match &p.body {
            Body::Connect(c) if !c.protocol_name.is_empty() => Some(c.level),
            _ => None,
        };
        return (p, ev);
    }
    let v3 = decode_as(first_byte, body, Some(4), limits, offset, header_len);
    let v5 = decode_as(first_byte, body, Some(5), limits, offset, header_len);
    let s3 = v3
        .anomalies
        .iter()
        .filter(|a| a.code.is_structural())
        .count();
    let s5 = v5
        .anomalies
        .iter()
        .filter(|a| a.code.is_structural())
        .count();
    let evidence = match (s3 == 0, s5 == 0) {
        (true, false) => Some(4),
        (false, true) => Some(5),
        _ => None,
    };
    let pick_v5 = if s3 != s5 {
        s5 < s3
    } else {
        match &v5.body {
            // Both decode: prefer v5 only when it has a real property
            // block; an empty one is as likely a 3.1.1 payload's 0x00 byte
            // (3.1.1 is the common case, and what tshark assumes).
            Body::Publish(p) => !p.properties.is_empty(),
            _ => false,
        }
    };
    (if pick_v5 { v5 } else { v3 }, evidence)
}

/// Decode with a fixed dialect (None only for level-independent types).
fn decode_as<'a>(
    first_byte: u8,
    body: &'a [u8],
    level: Option<u8>,
    limits: &MqttLimits,
    offset: u64,
    header_len: u8,
) -> Packet<'a> {
    let msg_type = first_byte >> 4;
    let flags = first_byte & 0x0F;
    let mut d = Dec {
        data: body,
        pos: 0,
        base: offset.saturating_add(u64::from(header_len)),
        anomalies: Vec::new(),
        max_anomalies: limits.max_anomalies_per_packet,
        limit_notes: 0,
        limits,
    };
    if varint_len(body.len()) > 4 {
        d.note_at(
            AnomalyCode::RemainingLengthInvalid,
            format!(
                "body of {} bytes cannot be encoded in 4 varint bytes",
                body.len()
            ),
            offset,
        );
    }
    if !flags_valid(msg_type, flags) {
        if msg_type == msg::PUBLISH {
            d.note_at(
                AnomalyCode::InvalidQos,
                "PUBLISH with QoS 3 (both QoS bits set)".to_string(),
                offset,
            );
        } else if msg_type != 0 {
            let expected = if matches!(msg_type, msg::PUBREL | msg::SUBSCRIBE | msg::UNSUBSCRIBE) {
                0b0010
            } else {
                0
            };
            d.note_at(
                AnomalyCode::InvalidFlags,
                format!(
                    "{} fixed header flags 0x{:x}, expected 0x{:x}",
                    msg_name(msg_type),
                    flags,
                    expected
                ),
                offset,
            );
        }
    }
    let v5 = level.map(dialect) == Some(5);
    let mut out_level = level.map(|l| if dialect(l) == 5 { 5 } else { l & 0x7F });
    let body_out = match msg_type {
        msg::CONNECT => {
            let mut c = Connect::default();
            let _ = d.connect(&mut c);
            out_level = if c.protocol_name.is_empty() {
                out_level
            } else {
                Some(c.level & 0x7F)
            };
            Body::Connect(c)
        }
        msg::CONNACK => {
            let mut c = Connack::default();
            let _ = d.connack(&mut c, v5);
            Body::Connack(c)
        }
        msg::PUBLISH => {
            let mut p = Publish {
                dup: flags & 0x08 != 0,
                qos: (flags >> 1) & 3,
                retain: flags & 1 != 0,
                ..Publish::default()
            };
            let _ = d.publish(&mut p, v5, level.map(dialect));
            Body::Publish(p)
        }
        msg::PUBACK | msg::PUBREC | msg::PUBREL | msg::PUBCOMP => {
            let mut r = PubResp::default();
            let _ = d.pubresp(&mut r, msg_type, v5);
            match msg_type {
                msg::PUBACK => Body::Puback(r),
                msg::PUBREC => Body::Pubrec(r),
                msg::PUBREL => Body::Pubrel(r),
                _ => Body::Pubcomp(r),
            }
        }
        msg::SUBSCRIBE => {
            let mut s = Subscribe::default();
            let _ = d.subscribe(&mut s, v5);
            Body::Subscribe(s)
        }
        msg::SUBACK => {
            let mut s = Suback::default();
            let _ = d.suback(&mut s, v5, level);
            Body::Suback(s)
        }
        msg::UNSUBSCRIBE => {
            let mut s = Unsubscribe::default();
            let _ = d.unsubscribe(&mut s, v5);
            Body::Unsubscribe(s)
        }
        msg::UNSUBACK => {
            let mut s = Unsuback::default();
            let _ = d.unsuback(&mut s, v5);
            Body::Unsuback(s)
        }
        msg::PINGREQ | msg::PINGRESP => {
            d.trailing(msg_type);
            if msg_type == msg::PINGREQ {
                Body::Pingreq
            } else {
                Body::Pingresp
            }
        }
        msg::DISCONNECT => {
            let mut x = Disconnect::default();
            let _ = d.disconnect(&mut x, v5);
            Body::Disconnect(x)
        }
        msg::AUTH => {
            if !v5 {
                d.note_at(
                    AnomalyCode::ReservedType,
                    "packet type 15 (AUTH) is reserved before MQTT 5".to_string(),
                    offset,
                );
            }
            let mut a = Auth::default();
            let _ = d.auth(&mut a);
            Body::Auth(a)
        }
        _ => {
            d.note_at(
                AnomalyCode::ReservedType,
                "packet type 0 is reserved".to_string(),
                offset,
            );
            Body::Reserved { raw: body }
        }
    };
    if !layout_depends_on_level(msg_type) && msg_type != msg::CONNECT {
        out_level = None;
    }
    Packet {
        msg_type,
        flags,
        remaining_len: u32::try_from(body.len()).unwrap_or(u32::MAX),
        offset,
        header_len,
        level: out_level,
        body: body_out,
        anomalies: d.anomalies,
    }
}

/// Cursor over a packet body that records anomalies.
struct Dec<'a, 'l> {
    data: &'a [u8],
    pos: usize,
    /// Stream offset of data[0].
    base: u64,
    anomalies: Vec<Anomaly>,
    max_anomalies: usize,
    /// `LimitExceeded` anomalies among `anomalies` (outside the cap).
    limit_notes: usize,
    limits: &'l MqttLimits,
}

/// `LimitExceeded` anomalies kept per packet beyond `max_anomalies_per_packet`:
/// a limit is hit at most once per property block or list, so a packet has
/// only a few, and each must be said (it tells what was not decoded).
const MAX_LIMIT_NOTES: usize = 8;

impl<'a> Dec<'a, '_> {
    fn off(&self) -> u64 {
        self.base.saturating_add(self.pos as u64)
    }
    fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }
    fn note_at(&mut self, code: AnomalyCode, message: String, offset: u64) {
        if code == AnomalyCode::LimitExceeded {
            // Always said, even past the cap (found by the mqtt5 fuzz target:
            // 30 anomalies hid that user properties were skipped).
            if self.limit_notes < MAX_LIMIT_NOTES {
                self.limit_notes = self.limit_notes.saturating_add(1);
                self.anomalies.push(Anomaly {
                    code,
                    message,
                    offset,
                });
            }
            return;
        }
        let n = self.anomalies.len().saturating_sub(self.limit_notes);
        if n < self.max_anomalies {
            self.anomalies.push(Anomaly {
                code,
                message,
                offset,
            });
        } else if n == self.max_anomalies {
            self.anomalies.push(Anomaly {
                code: AnomalyCode::TooManyAnomalies,
                message: "further anomalies in this packet not recorded".to_string(),
                offset,
            });
        }
    }
    fn note(&mut self, code: AnomalyCode, message: String) {
        let off = self.off();
        self.note_at(code, message, off);
    }
    fn malformed(&mut self, message: String) {
        self.note(AnomalyCode::Malformed, message);
    }
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.data.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }
    fn rest(&mut self) -> &'a [u8] {
        let s = self.data.get(self.pos..).unwrap_or(&[]);
        self.pos = self.data.len();
        s
    }
    fn u8(&mut self, what: &str) -> Option<u8> {
        match self.take(1) {
            Some(&[b]) => Some(b),
            _ => {
                self.malformed(format!("packet ends before {what}"));
                None
            }
        }
    }
    fn u16(&mut self, what: impl std::fmt::Display) -> Option<u16> {
        match self.take(2) {
            Some(&[a, b]) => Some(u16::from_be_bytes([a, b])),
            _ => {
                self.malformed(format!("packet ends before {what} (2 bytes)"));
                self.pos = self.data.len();
                None
            }
        }
    }
    fn varint(&mut self, what: impl std::fmt::Display) -> Option<u32> {
        let mut value: u32 = 0;
        for i in 0..4u32 {
            let Some(&b) = self.data.get(self.pos) else {
                self.malformed(format!("packet ends inside {what} (variable byte integer)"));
                return None;
            };
            self.pos = self.pos.saturating_add(1);
            value |= u32::from(b & 0x7F) << i.saturating_mul(7);
            if b & 0x80 == 0 {
                return Some(value);
            }
        }
        self.malformed(format!("{what}: variable byte integer longer than 4 bytes"));
        None
    }
    /// Length-prefixed binary data.
    fn binary(&mut self, what: &str) -> Option<&'a [u8]> {
        // format_args!: the name is formatted only for an error message.
        let len = self.u16(format_args!("{what} length"))?;
        let rem = self.remaining();
        match self.take(usize::from(len)) {
            Some(s) => Some(s),
            None => {
                self.malformed(format!(
                    "{what} length {len} exceeds the {rem} bytes left in the packet"
                ));
                self.pos = self.data.len();
                None
            }
        }
    }
    fn text(&mut self, bytes: &'a [u8], what: &str, off: u64) -> Cow<'a, str> {
        match std::str::from_utf8(bytes) {
            Ok(s) => {
                if s.contains('\0') {
                    self.note_at(
                        AnomalyCode::InvalidUtf8,
                        format!("{what} contains U+0000"),
                        off,
                    );
                }
                Cow::Borrowed(s)
            }
            Err(e) => {
                self.note_at(
                    AnomalyCode::InvalidUtf8,
                    format!("{what} is not valid UTF-8 (at byte {})", e.valid_up_to()),
                    off,
                );
                String::from_utf8_lossy(bytes)
            }
        }
    }
    /// Length-prefixed UTF-8 string.
    fn string(&mut self, what: &str) -> Option<Cow<'a, str>> {
        let off = self.off().saturating_add(2);
        let b = self.binary(what)?;
        Some(self.text(b, what, off))
    }
    fn trailing(&mut self, msg_type: u8) {
        let n = self.remaining();
        if n > 0 {
            self.note(
                AnomalyCode::TrailingBytes,
                format!("{n} unexpected bytes at the end of {}", msg_name(msg_type)),
            );
            self.pos = self.data.len();
        }
    }

    /// MQTT 5 property block. None: the packet cannot be decoded further.
    fn properties(&mut self, ctx: u8) -> Option<Properties<'a>> {
        let ctx_name = if ctx == names::CTX_WILL {
            "Will"
        } else {
            msg_name(ctx)
        };
        let len = self.varint(format_args!("{ctx_name} property length"))?;
        let rem = self.remaining();
        let block_off = self.off();
        let Some(block) = usize::try_from(len).ok().and_then(|n| self.take(n)) else {
            self.malformed(format!(
                "{ctx_name} property length {len} exceeds the {rem} bytes left"
            ));
            self.pos = self.data.len();
            return None;
        };
        let mut props = Properties {
            declared_len: Some(len),
            items: Vec::new(),
        };
        let mut p = Dec {
            data: block,
            pos: 0,
            base: block_off,
            anomalies: Vec::new(),
            max_anomalies: self
                .max_anomalies
                .saturating_sub(self.anomalies.len().saturating_sub(self.limit_notes)),
            limit_notes: 0,
            limits: self.limits,
        };
        let mut seen: u64 = 0;
        while p.remaining() > 0 {
            if props.items.len() >= self.limits.max_properties {
                let n = p.remaining();
                p.note(
                    AnomalyCode::LimitExceeded,
                    format!(
                        "more than {} properties in {ctx_name}; {n} property bytes not decoded",
                        self.limits.max_properties
                    ),
                );
                break;
            }
            let id_off = p.off();
            let Some(id) = p.u8("property id") else { break };
            let Some(ty) = (if id & 0x80 == 0 { prop_type(id) } else { None }) else {
                let n = p.remaining();
                p.note_at(
                    AnomalyCode::UnknownProperty,
                    format!(
                        "unknown property id 0x{id:02x} in {ctx_name}; remaining {n} property bytes not decoded"
                    ),
                    id_off,
                );
                break;
            };
            let pname = names::property_name(id);
            let value = match ty {
                PropType::Byte => p.u8(pname).map(PropValue::Byte),
                PropType::U16 => p.u16(pname).map(PropValue::U16),
                PropType::U32 => match p.take(4) {
                    Some(&[a, b, c, d]) => Some(PropValue::U32(u32::from_be_bytes([a, b, c, d]))),
                    _ => {
                        p.malformed(format!("property block ends inside {pname}"));
                        None
                    }
                },
                PropType::VarInt => p.varint(pname).map(PropValue::VarInt),
                PropType::Str => p.string(pname).map(PropValue::Str),
                PropType::Bin => p.binary(pname).map(PropValue::Bin),
                PropType::Pair => {
                    let k = p.string("User Property name");
                    let v = if k.is_some() {
                        p.string("User Property value")
                    } else {
                        None
                    };
                    k.zip(v).map(|(k, v)| PropValue::Pair(k, v))
                }
            };
            let Some(value) = value else { break };
            if !prop_allowed(id, ctx) {
                p.note_at(
                    AnomalyCode::PropertyNotAllowed,
                    format!("{pname} (0x{id:02x}) is not allowed in {ctx_name}"),
                    id_off,
                );
            }
            let mask = 1u64 << (id & 63);
            if seen & mask != 0 && !prop_repeatable(id) {
                p.note_at(
                    AnomalyCode::DuplicateProperty,
                    format!("{pname} appears more than once in {ctx_name}"),
                    id_off,
                );
            }
            seen |= mask;
            // Value checks.
            match (&value, id) {
                (PropValue::Byte(v), names::prop::PAYLOAD_FORMAT_INDICATOR)
                | (PropValue::Byte(v), names::prop::REQUEST_PROBLEM_INFORMATION)
                | (PropValue::Byte(v), names::prop::REQUEST_RESPONSE_INFORMATION)
                | (PropValue::Byte(v), names::prop::MAXIMUM_QOS)
                | (PropValue::Byte(v), names::prop::RETAIN_AVAILABLE)
                | (PropValue::Byte(v), names::prop::WILDCARD_SUBSCRIPTION_AVAILABLE)
                | (PropValue::Byte(v), names::prop::SUBSCRIPTION_IDENTIFIER_AVAILABLE)
                | (PropValue::Byte(v), names::prop::SHARED_SUBSCRIPTION_AVAILABLE)
                    if *v > 1 =>
                {
                    p.note_at(
                        AnomalyCode::InvalidPropertyValue,
                        format!("{pname} = {v} (must be 0 or 1)"),
                        id_off,
                    );
                }
                (PropValue::U16(0), names::prop::TOPIC_ALIAS | names::prop::RECEIVE_MAXIMUM)
                | (PropValue::U32(0), names::prop::MAXIMUM_PACKET_SIZE)
                | (PropValue::VarInt(0), names::prop::SUBSCRIPTION_IDENTIFIER) => {
                    p.note_at(
                        AnomalyCode::InvalidPropertyValue,
                        format!("{pname} = 0 is a protocol error"),
                        id_off,
                    );
                }
                _ => {}
            }
            props.items.push(Property { id, value });
        }
        // through note_at: the packet-wide cap (and its single "too many"
        // marker) holds across several property blocks
        for a in p.anomalies {
            self.note_at(a.code, a.message, a.offset);
        }
        Some(props)
    }

    fn connect(&mut self, c: &mut Connect<'a>) -> Option<()> {
        let name_off = self.off();
        c.protocol_name = self.string("protocol name")?;
        c.level = self.u8("protocol level")?;
        let lvl = c.level & 0x7F;
        let ok = matches!(
            (c.protocol_name.as_ref(), lvl),
            ("MQTT", 4 | 5) | ("MQIsdp", 3)
        );
        if !ok {
            self.note_at(
                AnomalyCode::UnknownProtocol,
                format!("protocol name {:?} with level {}", c.protocol_name, c.level),
                name_off,
            );
        }
        let v5 = dialect(c.level) == 5;
        let f = self.u8("connect flags")?;
        c.connect_flags = f;
        if f & 1 != 0 {
            self.note_at(
                AnomalyCode::InvalidFlags,
                "CONNECT reserved flag (bit 0) is set".to_string(),
                self.off().saturating_sub(1),
            );
        }
        c.clean_start = f & 0x02 != 0;
        let will = f & 0x04 != 0;
        let will_qos = (f >> 3) & 3;
        let will_retain = f & 0x20 != 0;
        let has_password = f & 0x40 != 0;
        let has_username = f & 0x80 != 0;
        if will_qos == 3 {
            self.note(AnomalyCode::InvalidQos, "CONNECT Will QoS 3".to_string());
        }
        if !will && (will_qos != 0 || will_retain) {
            self.note(
                AnomalyCode::InvalidFlags,
                "CONNECT Will QoS/Retain set without the Will flag".to_string(),
            );
        }
        if !v5 && has_password && !has_username {
            self.note(
                AnomalyCode::InvalidFlags,
                "CONNECT password flag without user name flag (not allowed before MQTT 5)"
                    .to_string(),
            );
        }
        c.keep_alive = self.u16("keep alive")?;
        if v5 {
            c.properties = self.properties(msg::CONNECT)?;
        }
        c.client_id = Some(self.string("client identifier")?);
        if will {
            let mut w = Will {
                qos: will_qos,
                retain: will_retain,
                ..Will::default()
            };
            let r = (|| {
                if v5 {
                    w.properties = self.properties(names::CTX_WILL)?;
                }
                w.topic = self.string("will topic")?;
                w.payload = self.binary("will payload")?;
                Some(())
            })();
            c.will = Some(w);
            r?;
        }
        if has_username {
            c.username = Some(self.string("user name")?);
        }
        if has_password {
            c.password = Some(self.binary("password")?);
        }
        self.trailing(msg::CONNECT);
        Some(())
    }

    fn connack(&mut self, c: &mut Connack<'a>, v5: bool) -> Option<()> {
        let f = self.u8("connack flags")?;
        c.ack_flags = f;
        c.session_present = f & 1 != 0;
        if f & 0xFE != 0 {
            self.note(
                AnomalyCode::InvalidFlags,
                format!("CONNACK acknowledge flags 0x{f:02x}: reserved bits set"),
            );
        }
        c.code = self.u8("connect return code")?;
        if v5 {
            if names::reason_code_name(msg::CONNACK, c.code).is_none() {
                self.note(
                    AnomalyCode::InvalidReasonCode,
                    format!("CONNACK reason code 0x{:02x} is not defined", c.code),
                );
            }
            c.properties = self.properties(msg::CONNACK)?;
        } else if c.code > 5 {
            self.note(
                AnomalyCode::InvalidReasonCode,
                format!("CONNACK return code {} is reserved", c.code),
            );
        }
        if c.session_present && c.code != 0 {
            self.note(
                AnomalyCode::InvalidFlags,
                "CONNACK session present with a non-zero return code".to_string(),
            );
        }
        self.trailing(msg::CONNACK);
        Some(())
    }

    fn topic_name_checks(&mut self, topic: &str, off: u64) {
        if topic.contains(['+', '#']) {
            self.note_at(
                AnomalyCode::InvalidTopic,
                format!("topic name {topic:?} contains a wildcard"),
                off,
            );
        }
    }

    fn publish(&mut self, p: &mut Publish<'a>, v5: bool, dialect: Option<u8>) -> Option<()> {
        if p.dup && p.qos == 0 {
            self.note(
                AnomalyCode::InvalidFlags,
                "PUBLISH DUP flag set with QoS 0".to_string(),
            );
        }
        let toff = self.off();
        p.topic = self.string("topic name")?;
        let topic = p.topic.clone();
        self.topic_name_checks(&topic, toff);
        if p.qos > 0 {
            let id = self.u16("packet identifier")?;
            if id == 0 {
                self.note(
                    AnomalyCode::InvalidPacketId,
                    "PUBLISH packet identifier 0".to_string(),
                );
            }
            p.packet_id = Some(id);
        }
        if v5 {
            p.properties = self.properties(msg::PUBLISH)?;
            p.topic_alias = p
                .properties
                .get_int(names::prop::TOPIC_ALIAS)
                .and_then(|v| u16::try_from(v).ok());
            if p.topic.is_empty() && p.topic_alias.is_none() {
                self.note_at(
                    AnomalyCode::InvalidTopic,
                    "PUBLISH with an empty topic and no Topic Alias".to_string(),
                    toff,
                );
            }
        } else if p.topic.is_empty() && dialect.is_some() {
            self.note_at(
                AnomalyCode::InvalidTopic,
                "PUBLISH with an empty topic name".to_string(),
                toff,
            );
        }
        p.payload = self.rest();
        p.payload_len = p.payload.len() as u64;
        Some(())
    }

    fn pubresp(&mut self, r: &mut PubResp<'a>, msg_type: u8, v5: bool) -> Option<()> {
        r.packet_id = self.u16("packet identifier")?;
        if r.packet_id == 0 {
            self.note(
                AnomalyCode::InvalidPacketId,
                format!("{} packet identifier 0", msg_name(msg_type)),
            );
        }
        if v5 && self.remaining() > 0 {
            r.reason_code = self.u8("reason code")?;
            if names::reason_code_name(msg_type, r.reason_code).is_none() {
                self.note(
                    AnomalyCode::InvalidReasonCode,
                    format!(
                        "{} reason code 0x{:02x} is not defined",
                        msg_name(msg_type),
                        r.reason_code
                    ),
                );
            }
            if self.remaining() > 0 {
                r.properties = self.properties(msg_type)?;
            }
        }
        self.trailing(msg_type);
        Some(())
    }

    fn packet_id_nonzero(&mut self, msg_type: u8) -> Option<u16> {
        let id = self.u16("packet identifier")?;
        if id == 0 {
            self.note(
                AnomalyCode::InvalidPacketId,
                format!("{} packet identifier 0", msg_name(msg_type)),
            );
        }
        Some(id)
    }

    fn subscribe(&mut self, s: &mut Subscribe<'a>, v5: bool) -> Option<()> {
        s.packet_id = self.packet_id_nonzero(msg::SUBSCRIBE)?;
        if v5 {
            s.properties = self.properties(msg::SUBSCRIBE)?;
        }
        while self.remaining() > 0 {
            if s.subscriptions.len() >= self.limits.max_subscriptions {
                let n = self.remaining();
                self.note(
                    AnomalyCode::LimitExceeded,
                    format!(
                        "more than {} subscriptions; {n} bytes not decoded",
                        self.limits.max_subscriptions
                    ),
                );
                self.pos = self.data.len();
                break;
            }
            let topic = self.string("topic filter")?;
            let o = self.u8("subscription options")?;
            let qos = o & 3;
            let bad = if v5 {
                o & 0xC0 != 0 || (o >> 4) & 3 == 3 || qos == 3
            } else {
                o & 0xFC != 0 || qos == 3
            };
            if bad {
                self.note(
                    AnomalyCode::InvalidSubscriptionOptions,
                    format!("subscription options 0x{o:02x} for {topic:?} are invalid"),
                );
            }
            let v5o = if v5 { o } else { 0 };
            s.subscriptions.push(Subscription {
                topic,
                options: o,
                qos,
                no_local: v5o & 0x04 != 0,
                retain_as_published: v5o & 0x08 != 0,
                retain_handling: (v5o >> 4) & 3,
            });
        }
        if s.subscriptions.is_empty() {
            self.malformed("SUBSCRIBE without any topic filter".to_string());
        }
        Some(())
    }

    fn suback(&mut self, s: &mut Suback<'a>, v5: bool, level: Option<u8>) -> Option<()> {
        s.packet_id = self.packet_id_nonzero(msg::SUBACK)?;
        if v5 {
            s.properties = self.properties(msg::SUBACK)?;
        }
        let off = self.off();
        s.reason_codes = self.rest();
        if s.reason_codes.is_empty() {
            self.malformed("SUBACK without any return code".to_string());
        }
        for (i, &c) in s.reason_codes.iter().enumerate() {
            let valid = if v5 {
                names::reason_code_name(msg::SUBACK, c).is_some()
            } else if level == Some(3) {
                c <= 2
            } else {
                c <= 2 || c == 0x80
            };
            if !valid {
                self.note_at(
                    AnomalyCode::InvalidReasonCode,
                    format!("SUBACK return code 0x{c:02x} is not defined"),
                    off.saturating_add(i as u64),
                );
            }
        }
        Some(())
    }

    fn unsubscribe(&mut self, s: &mut Unsubscribe<'a>, v5: bool) -> Option<()> {
        s.packet_id = self.packet_id_nonzero(msg::UNSUBSCRIBE)?;
        if v5 {
            s.properties = self.properties(msg::UNSUBSCRIBE)?;
        }
        while self.remaining() > 0 {
            if s.topics.len() >= self.limits.max_subscriptions {
                let n = self.remaining();
                self.note(
                    AnomalyCode::LimitExceeded,
                    format!(
                        "more than {} topic filters; {n} bytes not decoded",
                        self.limits.max_subscriptions
                    ),
                );
                self.pos = self.data.len();
                break;
            }
            s.topics.push(self.string("topic filter")?);
        }
        if s.topics.is_empty() {
            self.malformed("UNSUBSCRIBE without any topic filter".to_string());
        }
        Some(())
    }

    fn unsuback(&mut self, s: &mut Unsuback<'a>, v5: bool) -> Option<()> {
        s.packet_id = self.packet_id_nonzero(msg::UNSUBACK)?;
        if v5 {
            s.properties = self.properties(msg::UNSUBACK)?;
            let off = self.off();
            s.reason_codes = self.rest();
            if s.reason_codes.is_empty() {
                self.malformed("UNSUBACK without any reason code".to_string());
            }
            for (i, &c) in s.reason_codes.iter().enumerate() {
                if names::reason_code_name(msg::UNSUBACK, c).is_none() {
                    self.note_at(
                        AnomalyCode::InvalidReasonCode,
                        format!("UNSUBACK reason code 0x{c:02x} is not defined"),
                        off.saturating_add(i as u64),
                    );
                }
            }
        } else {
            self.trailing(msg::UNSUBACK);
        }
        Some(())
    }

    fn disconnect(&mut self, x: &mut Disconnect<'a>, v5: bool) -> Option<()> {
        if v5 && self.remaining() > 0 {
            x.reason_code = self.u8("reason code")?;
            if names::reason_code_name(msg::DISCONNECT, x.reason_code).is_none() {
                self.note(
                    AnomalyCode::InvalidReasonCode,
                    format!(
                        "DISCONNECT reason code 0x{:02x} is not defined",
                        x.reason_code
                    ),
                );
            }
            if self.remaining() > 0 {
                x.properties = self.properties(msg::DISCONNECT)?;
            }
        }
        self.trailing(msg::DISCONNECT);
        Some(())
    }

    fn auth(&mut self, a: &mut Auth<'a>) -> Option<()> {
        if self.remaining() > 0 {
            a.reason_code = self.u8("reason code")?;
            if names::reason_code_name(msg::AUTH, a.reason_code).is_none() {
                self.note(
                    AnomalyCode::InvalidReasonCode,
                    format!("AUTH reason code 0x{:02x} is not defined", a.reason_code),
                );
            }
            if self.remaining() > 0 {
                a.properties = self.properties(msg::AUTH)?;
            }
        }
        self.trailing(msg::AUTH);
        Some(())
    }
}

/// Resynchronisation probe: does a plausible packet start at `b[0]`?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Plausible {
    Yes,
    No,
    NeedMore,
}

/// Bytes a probe may need to look at beyond the fixed header.
pub(crate) const PROBE_BYTES: usize = 80;

pub(crate) fn plausible_at(b: &[u8], level: Option<u8>, limits: &MqttLimits) -> Plausible {
    use Plausible::*;
    let Some(&b0) = b.first() else {
        return NeedMore;
    };
    let t = b0 >> 4;
    let flags = b0 & 0x0F;
    let v3 = level.is_some_and(|l| dialect(l) == 4);
    let v5 = level.is_some_and(|l| dialect(l) == 5);
    if t == 0 || !flags_valid(t, flags) || (t == msg::AUTH && v3) {
        return No;
    }
    let (hl, rl) = match parse_fixed_header(b) {
        FixedHeader::Incomplete => return NeedMore,
        FixedHeader::Invalid => return No,
        FixedHeader::Complete {
            header_len,
            remaining_len,
        } => (usize::from(header_len), remaining_len as usize),
    };
    // Non-minimal varint encodings are legal-ish but implausible.
    if hl > 2 && b.get(hl.saturating_sub(1)) == Some(&0) {
        return No;
    }
    let total = hl.saturating_add(rl);
    if total > limits.max_packet_bytes as usize {
        return No;
    }
    let body = b.get(hl..).unwrap_or(&[]);
    let byte = |i: usize| body.get(i).copied();
    let pid_nonzero =
        |i: usize| -> Option<bool> { Some(byte(i)? != 0 || byte(i.saturating_add(1))? != 0) };
    macro_rules! need {
        ($e:expr) => {
            match $e {
                Some(v) => v,
                None => return NeedMore,
            }
        };
    }
    let ok = match t {
        msg::CONNECT => {
            if rl < 10 {
                false
            } else {
                let n = need!(byte(1));
                let name: &[u8] = match n {
                    4 => b"MQTT",
                    6 => b"MQIsdp",
                    _ => return No,
                };
                let need_len = usize::from(n).saturating_add(3);
                let Some(got) = body.get(2..need_len) else {
                    return NeedMore;
                };
                byte(0) == Some(0)
                    && got.get(..usize::from(n)) == Some(name)
                    && matches!(got.last().map(|l| l & 0x7F), Some(3..=5))
            }
        }
        msg::CONNACK => {
            (if v3 {
                rl == 2
            } else {
                (2..65536).contains(&rl)
            }) && need!(byte(0)) <= 1
        }
        msg::PUBLISH => {
            let qos = (flags >> 1) & 3;
            let min = if qos > 0 { 4 } else { 2 };
            if rl < min {
                false
            } else {
                let tl = usize::from(u16::from_be_bytes([need!(byte(0)), need!(byte(1))]));
                if tl.saturating_add(min) > rl || (tl == 0 && v3) {
                    false
                } else {
                    let check = tl.min(PROBE_BYTES.saturating_sub(8));
                    let Some(topic) = body.get(2..check.saturating_add(2)) else {
                        return NeedMore;
                    };
                    let text_ok = match std::str::from_utf8(topic) {
                        Ok(s) => !s.contains(['\0', '+', '#']),
                        Err(e) => e.error_len().is_none() && check < tl,
                    };
                    let pid_ok = if qos > 0 && check == tl {
                        need!(pid_nonzero(tl.saturating_add(2)))
                    } else {
                        true
                    };
                    text_ok && pid_ok && !topic.iter().any(|&c| c < 0x20 && c != b'\t')
                }
            }
        }
        msg::PUBACK..=msg::PUBCOMP => {
            (if v3 {
                rl == 2
            } else {
                (2..65536).contains(&rl)
            }) && need!(pid_nonzero(0))
        }
        msg::SUBSCRIBE | msg::UNSUBSCRIBE => rl >= 5 && need!(pid_nonzero(0)),
        msg::SUBACK => rl >= 3 && need!(pid_nonzero(0)),
        msg::UNSUBACK => (if v3 { rl == 2 } else { rl >= 2 }) && need!(pid_nonzero(0)),
        msg::PINGREQ | msg::PINGRESP => rl == 0,
        msg::DISCONNECT => rl == 0 || (!v3 && rl < 65536),
        msg::AUTH => (rl == 0 || rl >= 2) && (v5 || level.is_none()),
        _ => false,
    };
    if !ok {
        return No;
    }
    // Confirm with the next packet's first byte when it is visible.
    if let Some(&next) = b.get(total) {
        let nt = next >> 4;
        if nt == 0 || !flags_valid(nt, next & 0x0F) {
            return No;
        }
    }
    Yes
}
