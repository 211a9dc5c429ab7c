//! Tolerant, zero-copy MQTT 3.1 / 3.1.1 / 5.0 decoder for offline analysis.
//!
//! * [`decode_packet`] decodes one packet (fixed header byte + body) and never
//!   panics: what can be decoded is decoded, everything odd becomes an
//!   [`Anomaly`] attached to the [`Packet`].
//! * [`MqttConn`] reassembles the two byte streams of one connection
//!   (client-to-server and server-to-client), tracks the protocol level,
//!   MQTT 5 topic aliases, QoS flows, keep-alive and other session state, and
//!   reports [`Event`]s through a sink callback.
//!
//! Memory is bounded by [`MqttLimits`]. The module uses no other module of the
//! crate it lives in and no external crate.
#![forbid(unsafe_code)]
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::arithmetic_side_effects
)]

use std::borrow::Cow;

mod conn;
mod decode;
mod names;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_diff;

pub use conn::{Event, FlowCounts, MqttConn, SessionFinding, Summary, TopicCount};
pub use decode::flags_valid;
pub use decode::{decode_packet, decode_packet_with, parse_fixed_header, FixedHeader};

/// Does a plausible MQTT control packet start at `b[0]` (valid type and
/// flags, a sane Remaining Length and a body that fits the type)? `None`
/// when more bytes are needed to say. Used to recognise MQTT in a stream
/// whose start was not captured.
pub fn plausible_start(b: &[u8]) -> Option<bool> {
    match decode::plausible_at(b, None, &MqttLimits::default()) {
        decode::Plausible::Yes => Some(true),
        decode::Plausible::No => Some(false),
        decode::Plausible::NeedMore => None,
    }
}
pub use names::{
    connack_return_code_meaning, msg_name, prop, property_key, property_name, reason_code_name,
};

/// Packet type numbers (high nibble of the first byte).
pub mod msg {
    pub const CONNECT: u8 = 1;
    pub const CONNACK: u8 = 2;
    pub const PUBLISH: u8 = 3;
    pub const PUBACK: u8 = 4;
    pub const PUBREC: u8 = 5;
    pub const PUBREL: u8 = 6;
    pub const PUBCOMP: u8 = 7;
    pub const SUBSCRIBE: u8 = 8;
    pub const SUBACK: u8 = 9;
    pub const UNSUBSCRIBE: u8 = 10;
    pub const UNSUBACK: u8 = 11;
    pub const PINGREQ: u8 = 12;
    pub const PINGRESP: u8 = 13;
    pub const DISCONNECT: u8 = 14;
    pub const AUTH: u8 = 15;
}

/// Direction of a byte stream within a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dir {
    /// Client to server.
    C2S,
    /// Server to client.
    S2C,
}

impl Dir {
    pub fn index(self) -> usize {
        match self {
            Dir::C2S => 0,
            Dir::S2C => 1,
        }
    }
    pub fn opposite(self) -> Dir {
        match self {
            Dir::C2S => Dir::S2C,
            Dir::S2C => Dir::C2S,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Dir::C2S => "c2s",
            Dir::S2C => "s2c",
        }
    }
}

/// Memory and work limits. Every buffer and table in this module is bounded
/// by one of these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MqttLimits {
    /// Largest packet (fixed header included) that is buffered and decoded.
    /// A larger packet is reported (`mqtt_packet_too_large`, `Body::Skipped`)
    /// and its bytes are discarded as they arrive, never buffered.
    pub max_packet_bytes: u32,
    /// Properties decoded per property block; the rest is reported and skipped.
    pub max_properties: usize,
    /// Subscriptions / topic filters decoded per SUBSCRIBE / UNSUBSCRIBE.
    pub max_subscriptions: usize,
    /// Anomalies attached to one packet (one more says "too many").
    pub max_anomalies_per_packet: usize,
    /// Topic alias entries remembered per direction (MQTT 5).
    pub max_topic_aliases: usize,
    /// Total topic bytes held by the alias map of one direction.
    pub max_alias_topic_bytes: usize,
    /// In-flight QoS 1/2 flows tracked per publishing direction.
    pub max_inflight: usize,
    /// Pending SUBSCRIBE packets remembered (to name refused filters in SUBACK).
    pub max_pending_subscribes: usize,
    /// Distinct topics counted in [`Summary::topics`].
    pub max_summary_topics: usize,
    /// Session findings emitted per finding code before they are aggregated
    /// into a single "... and N more" finding.
    pub max_findings_per_code: usize,
}

impl Default for MqttLimits {
    fn default() -> Self {
        MqttLimits {
            max_packet_bytes: 1024 * 1024,
            max_properties: 256,
            max_subscriptions: 1024,
            max_anomalies_per_packet: 32,
            max_topic_aliases: 1024,
            max_alias_topic_bytes: 256 * 1024,
            max_inflight: 65536,
            max_pending_subscribes: 1024,
            max_summary_topics: 100,
            max_findings_per_code: 100,
        }
    }
}

/// Something wrong or unusual in the bytes. `code` is a stable snake_case id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anomaly {
    pub code: &'static str,
    pub message: String,
    /// Byte offset in the direction's stream (for [`decode_packet`]: relative
    /// to the packet's first byte).
    pub offset: u64,
}

/// Value of one MQTT 5 property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropValue<'a> {
    Byte(u8),
    U16(u16),
    U32(u32),
    VarInt(u32),
    Str(Cow<'a, str>),
    Bin(&'a [u8]),
    Pair(Cow<'a, str>, Cow<'a, str>),
}

/// One MQTT 5 property (in wire order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property<'a> {
    pub id: u8,
    pub value: PropValue<'a>,
}

impl Property<'_> {
    /// Spec name, e.g. "Topic Alias".
    pub fn name(&self) -> &'static str {
        property_name(self.id)
    }
    /// snake_case key for JSON, e.g. "topic_alias".
    pub fn key(&self) -> &'static str {
        property_key(self.id)
    }
}

/// An MQTT 5 property block. Empty for MQTT 3.x packets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Properties<'a> {
    /// Declared property length (bytes), when a block was present.
    pub declared_len: Option<u32>,
    pub items: Vec<Property<'a>>,
}

impl<'a> Properties<'a> {
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
    /// First property with this id.
    pub fn get(&self, id: u8) -> Option<&PropValue<'a>> {
        self.items.iter().find(|p| p.id == id).map(|p| &p.value)
    }
    /// Integer value of a byte/u16/u32/varint property.
    pub fn get_int(&self, id: u8) -> Option<u32> {
        match self.get(id)? {
            PropValue::Byte(v) => Some(u32::from(*v)),
            PropValue::U16(v) => Some(u32::from(*v)),
            PropValue::U32(v) | PropValue::VarInt(v) => Some(*v),
            _ => None,
        }
    }
    pub fn get_str(&self, id: u8) -> Option<&str> {
        match self.get(id)? {
            PropValue::Str(s) => Some(s),
            _ => None,
        }
    }
    pub fn get_bin(&self, id: u8) -> Option<&'a [u8]> {
        match self.get(id)? {
            PropValue::Bin(b) => Some(b),
            _ => None,
        }
    }
    /// All User Property pairs, in order.
    pub fn user_properties(&self) -> impl Iterator<Item = (&str, &str)> {
        self.items.iter().filter_map(|p| match &p.value {
            PropValue::Pair(k, v) => Some((k.as_ref(), v.as_ref())),
            _ => None,
        })
    }
}

/// Will message of a CONNECT.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Will<'a> {
    pub topic: Cow<'a, str>,
    pub payload: &'a [u8],
    pub qos: u8,
    pub retain: bool,
    pub properties: Properties<'a>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Connect<'a> {
    /// "MQTT" or "MQIsdp" (anything else is reported).
    pub protocol_name: Cow<'a, str>,
    /// Raw protocol level byte (3, 4, 5; bridges may set bit 7).
    pub level: u8,
    pub connect_flags: u8,
    /// Clean Session (3.x) / Clean Start (5).
    pub clean_start: bool,
    pub keep_alive: u16,
    /// None only when the packet ended before it.
    pub client_id: Option<Cow<'a, str>>,
    pub will: Option<Will<'a>>,
    pub username: Option<Cow<'a, str>>,
    /// Kept as is: the caller is responsible for redacting it.
    pub password: Option<&'a [u8]>,
    pub properties: Properties<'a>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Connack<'a> {
    pub session_present: bool,
    pub ack_flags: u8,
    /// 3.x return code or MQTT 5 reason code.
    pub code: u8,
    pub properties: Properties<'a>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Publish<'a> {
    pub dup: bool,
    pub qos: u8,
    pub retain: bool,
    /// Effective topic. In a [`MqttConn`] event an empty topic with a known
    /// Topic Alias is replaced by the aliased topic (`topic_from_alias`).
    pub topic: Cow<'a, str>,
    pub topic_alias: Option<u16>,
    /// True when `topic` was filled in from the alias map.
    pub topic_from_alias: bool,
    /// Present for QoS > 0.
    pub packet_id: Option<u16>,
    pub payload: &'a [u8],
    pub properties: Properties<'a>,
}

/// PUBACK, PUBREC, PUBREL, PUBCOMP.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PubResp<'a> {
    pub packet_id: u16,
    /// 0 (Success) when absent.
    pub reason_code: u8,
    pub properties: Properties<'a>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subscription<'a> {
    pub topic: Cow<'a, str>,
    /// Raw options byte (3.x: requested QoS byte).
    pub options: u8,
    /// Requested (maximum) QoS.
    pub qos: u8,
    pub no_local: bool,
    pub retain_as_published: bool,
    pub retain_handling: u8,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subscribe<'a> {
    pub packet_id: u16,
    pub subscriptions: Vec<Subscription<'a>>,
    pub properties: Properties<'a>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Suback<'a> {
    pub packet_id: u16,
    /// 3.x return codes / MQTT 5 reason codes, one per subscription.
    pub reason_codes: &'a [u8],
    pub properties: Properties<'a>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Unsubscribe<'a> {
    pub packet_id: u16,
    pub topics: Vec<Cow<'a, str>>,
    pub properties: Properties<'a>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Unsuback<'a> {
    pub packet_id: u16,
    /// Empty for 3.x.
    pub reason_codes: &'a [u8],
    pub properties: Properties<'a>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Disconnect<'a> {
    /// 0 (Normal disconnection) when the body is empty.
    pub reason_code: u8,
    pub properties: Properties<'a>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Auth<'a> {
    /// 0 (Success) when the body is empty.
    pub reason_code: u8,
    pub properties: Properties<'a>,
}

/// Decoded variable header and payload, per packet type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body<'a> {
    Connect(Connect<'a>),
    Connack(Connack<'a>),
    Publish(Publish<'a>),
    Puback(PubResp<'a>),
    Pubrec(PubResp<'a>),
    Pubrel(PubResp<'a>),
    Pubcomp(PubResp<'a>),
    Subscribe(Subscribe<'a>),
    Suback(Suback<'a>),
    Unsubscribe(Unsubscribe<'a>),
    Unsuback(Unsuback<'a>),
    Pingreq,
    Pingresp,
    Disconnect(Disconnect<'a>),
    Auth(Auth<'a>),
    /// Packet type 0 (reserved): body kept raw.
    Reserved {
        raw: &'a [u8],
    },
    /// Packet larger than `max_packet_bytes`: only the fixed header is known.
    Skipped,
}

/// One MQTT control packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<'a> {
    /// 0..=15 (high nibble of the first byte).
    pub msg_type: u8,
    /// Low nibble of the first byte.
    pub flags: u8,
    pub remaining_len: u32,
    /// Stream offset of the first byte (0 for [`decode_packet`]).
    pub offset: u64,
    /// Fixed header length (1 + length of the Remaining Length varint).
    pub header_len: u8,
    /// Dialect the packet was decoded as: Some(3|4) = 3.x, Some(5) = 5.0,
    /// None = not known (only for packets whose layout does not depend on it).
    pub level: Option<u8>,
    pub body: Body<'a>,
    pub anomalies: Vec<Anomaly>,
}

impl Packet<'_> {
    /// "CONNECT" ... "AUTH" ("RESERVED" for type 0).
    pub fn msg_name(&self) -> &'static str {
        msg_name(self.msg_type)
    }
    /// Total size on the wire (fixed header + remaining length).
    pub fn total_len(&self) -> u64 {
        u64::from(self.header_len).saturating_add(u64::from(self.remaining_len))
    }
    /// True when a structural problem was found (the packet is malformed).
    pub fn is_malformed(&self) -> bool {
        self.anomalies.iter().any(|a| decode::is_structural(a.code))
    }
    /// Reason / return code, for the packet types that carry one.
    pub fn reason_code(&self) -> Option<u8> {
        match &self.body {
            Body::Connack(c) => Some(c.code),
            Body::Puback(r) | Body::Pubrec(r) | Body::Pubrel(r) | Body::Pubcomp(r) => {
                Some(r.reason_code)
            }
            Body::Disconnect(d) => Some(d.reason_code),
            Body::Auth(a) => Some(a.reason_code),
            _ => None,
        }
    }
    /// Packet identifier, for the packet types that carry one.
    pub fn packet_id(&self) -> Option<u16> {
        match &self.body {
            Body::Publish(p) => p.packet_id,
            Body::Puback(r) | Body::Pubrec(r) | Body::Pubrel(r) | Body::Pubcomp(r) => {
                Some(r.packet_id)
            }
            Body::Subscribe(s) => Some(s.packet_id),
            Body::Suback(s) => Some(s.packet_id),
            Body::Unsubscribe(s) => Some(s.packet_id),
            Body::Unsuback(s) => Some(s.packet_id),
            _ => None,
        }
    }
    /// Property block, for the packet types that carry one.
    pub fn properties(&self) -> Option<&Properties<'_>> {
        match &self.body {
            Body::Connect(c) => Some(&c.properties),
            Body::Connack(c) => Some(&c.properties),
            Body::Publish(p) => Some(&p.properties),
            Body::Puback(r) | Body::Pubrec(r) | Body::Pubrel(r) | Body::Pubcomp(r) => {
                Some(&r.properties)
            }
            Body::Subscribe(s) => Some(&s.properties),
            Body::Suback(s) => Some(&s.properties),
            Body::Unsubscribe(s) => Some(&s.properties),
            Body::Unsuback(s) => Some(&s.properties),
            Body::Disconnect(d) => Some(&d.properties),
            Body::Auth(a) => Some(&a.properties),
            _ => None,
        }
    }
    /// Human meaning of the packet's return/reason code, if any.
    pub fn reason_name(&self) -> Option<&'static str> {
        let code = self.reason_code()?;
        if self.msg_type == msg::CONNACK && self.level != Some(5) {
            return Some(connack_return_code_meaning(code));
        }
        Some(reason_code_name(self.msg_type, code).unwrap_or("unknown reason code"))
    }
}
