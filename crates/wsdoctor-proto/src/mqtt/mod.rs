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
//! crate it lives in (apart from [`crate::Severity`]) and no external crate.
//!
//! Problems have stable codes: [`AnomalyCode`] for the bytes (per packet and
//! per stream), [`FindingCode`] for the session flow. Their `as_str()` text
//! (e.g. `mqtt_malformed`) never changes for a given code.
//!
//! ```
//! use wsdoctor_proto::mqtt::{decode_packet, AnomalyCode, Body, Dir, Event, MqttConn, MqttLimits};
//!
//! // One PINGREQ with a stray body byte: decoded, and the oddity reported.
//! let p = decode_packet(0xC0, &[0x00], Some(4));
//! assert!(matches!(p.body, Body::Pingreq));
//! assert_eq!(p.anomalies[0].code, AnomalyCode::TrailingBytes);
//! assert!(p.is_malformed());
//!
//! // A connection: feed each direction's bytes as they were captured.
//! let mut conn = MqttConn::new(MqttLimits::default(), true);
//! let mut packets = Vec::new();
//! let mut sink = |ev: Event<'_>| {
//!     if let Event::Packet(dir, p) = ev {
//!         packets.push((dir, p.msg_name()));
//!     }
//! };
//! conn.feed(Dir::C2S, 0.0, &[0xC0], &mut sink); // first byte only: buffered
//! conn.feed(Dir::C2S, 0.1, &[0x00], &mut sink); // PINGREQ complete
//! conn.end(&mut sink);
//! assert_eq!(packets, [(Dir::C2S, "PINGREQ")]);
//! ```

use std::borrow::Cow;

mod conn;
mod decode;
mod names;

#[cfg(test)]
mod tests;

pub use conn::{
    Event, FindingCode, FlowCounts, MqttConn, SessionFinding, Summary, TopicCount,
    PUBLISH_PAYLOAD_HELD,
};
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

/// Packet type numbers (high nibble of the first byte; MQTT 3.1.1 §2.2.1,
/// MQTT 5.0 §2.1.2). Type 0 is reserved; [`Packet::msg_type`] holds these.
pub mod msg {
    /// CONNECT: client requests a connection (client to server).
    pub const CONNECT: u8 = 1;
    /// CONNACK: connect acknowledgment (server to client).
    pub const CONNACK: u8 = 2;
    /// PUBLISH: application message (either direction).
    pub const PUBLISH: u8 = 3;
    /// PUBACK: QoS 1 publish acknowledgment.
    pub const PUBACK: u8 = 4;
    /// PUBREC: QoS 2 publish received (first step of the QoS 2 exchange).
    pub const PUBREC: u8 = 5;
    /// PUBREL: QoS 2 publish release (second step).
    pub const PUBREL: u8 = 6;
    /// PUBCOMP: QoS 2 publish complete (third and last step).
    pub const PUBCOMP: u8 = 7;
    /// SUBSCRIBE: client subscribes to topic filters.
    pub const SUBSCRIBE: u8 = 8;
    /// SUBACK: subscribe acknowledgment, one return/reason code per filter.
    pub const SUBACK: u8 = 9;
    /// UNSUBSCRIBE: client unsubscribes from topic filters.
    pub const UNSUBSCRIBE: u8 = 10;
    /// UNSUBACK: unsubscribe acknowledgment.
    pub const UNSUBACK: u8 = 11;
    /// PINGREQ: keep-alive ping (client to server).
    pub const PINGREQ: u8 = 12;
    /// PINGRESP: keep-alive ping answer (server to client).
    pub const PINGRESP: u8 = 13;
    /// DISCONNECT: orderly close (client to server; either direction in MQTT 5).
    pub const DISCONNECT: u8 = 14;
    /// AUTH: enhanced authentication exchange (MQTT 5 only; reserved before).
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
    /// 0 for [`Dir::C2S`], 1 for [`Dir::S2C`]: an index into per-direction arrays.
    pub fn index(self) -> usize {
        match self {
            Dir::C2S => 0,
            Dir::S2C => 1,
        }
    }
    /// The other direction of the same connection.
    pub fn opposite(self) -> Dir {
        match self {
            Dir::C2S => Dir::S2C,
            Dir::S2C => Dir::C2S,
        }
    }
    /// `"c2s"` or `"s2c"`, as used in reports and finding messages.
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

/// Something wrong or unusual in the bytes: a per-packet anomaly (in
/// [`Packet::anomalies`]) or a stream-level one ([`Event::Anomaly`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anomaly {
    /// What was found; [`AnomalyCode::as_str`] is the stable snake_case id.
    pub code: AnomalyCode,
    /// Human-readable detail (field, value, limit); wording may change.
    pub message: String,
    /// Byte offset in the direction's stream (for [`decode_packet`]: relative
    /// to the packet's first byte).
    pub offset: u64,
}

/// Stable code of an [`Anomaly`]; [`AnomalyCode::as_str`] is the snake_case
/// text used in reports (never changes for a given code). Section numbers
/// are those of MQTT 3.1.1 and MQTT 5.0 (OASIS).
///
/// Codes for which [`AnomalyCode::is_structural`] is true mean the packet's
/// layout is broken (see [`Packet::is_malformed`]); the others are semantic
/// or policy problems in a packet whose fields were all decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum AnomalyCode {
    /// `mqtt_duplicate_property`: an MQTT 5 property that may appear at most
    /// once appears again in the same property block (5.0 §2.2.2.2).
    DuplicateProperty,
    /// `mqtt_gap`: stream-level; bytes of the direction's stream are missing
    /// from the capture ([`MqttConn::gap`], [`MqttConn::lost`]).
    Gap,
    /// `mqtt_invalid_flags`: a flag that must have a fixed value does not:
    /// the fixed header flags nibble for the packet type (3.1.1 §2.2.2,
    /// 5.0 §2.1.3), the CONNECT reserved flag, Will QoS/Retain without the
    /// Will flag, a password without a user name before MQTT 5, reserved
    /// CONNACK acknowledge flags, Session Present with a non-zero CONNACK
    /// code, or DUP set on a QoS 0 PUBLISH.
    InvalidFlags,
    /// `mqtt_invalid_packet_id`: a Packet Identifier is 0 (it must be
    /// non-zero: 3.1.1 §2.3.1, 5.0 §2.2.1).
    InvalidPacketId,
    /// `mqtt_invalid_property_value`: an MQTT 5 property has a value the
    /// spec forbids: a 0/1 property above 1, or a Topic Alias, Receive
    /// Maximum, Maximum Packet Size or Subscription Identifier of 0.
    InvalidPropertyValue,
    /// `mqtt_invalid_qos`: QoS 3 (both QoS bits set) in a PUBLISH fixed
    /// header or in the CONNECT Will QoS.
    InvalidQos,
    /// `mqtt_invalid_reason_code`: a return / reason code not defined for the
    /// packet type (CONNACK, PUBACK..PUBCOMP, SUBACK, UNSUBACK, DISCONNECT,
    /// AUTH). Structural.
    InvalidReasonCode,
    /// `mqtt_invalid_subscription_options`: a SUBSCRIBE options byte with
    /// reserved bits set, QoS 3 or Retain Handling 3 (3.1.1 §3.8.3,
    /// 5.0 §3.8.3.1). Structural.
    InvalidSubscriptionOptions,
    /// `mqtt_invalid_topic`: a PUBLISH topic name contains a wildcard (`+`,
    /// `#`), or is empty (in MQTT 5: empty without a Topic Alias).
    InvalidTopic,
    /// `mqtt_invalid_utf8`: a UTF-8 string field is not valid UTF-8 or
    /// contains U+0000 (3.1.1 §1.5.3, 5.0 §1.5.4); the text is kept with
    /// invalid sequences replaced by U+FFFD.
    InvalidUtf8,
    /// `mqtt_limit_exceeded`: a bound of [`MqttLimits`] was reached: more
    /// properties than `max_properties` or filters than `max_subscriptions`
    /// (the rest is not decoded), or the topic alias table is full (the
    /// alias is not remembered).
    LimitExceeded,
    /// `mqtt_malformed`: the packet ends before a field, a length field
    /// exceeds the bytes left, a variable byte integer is longer than 4
    /// bytes, or a SUBSCRIBE / UNSUBSCRIBE / SUBACK / MQTT 5 UNSUBACK has an
    /// empty payload. Decoding stops there. Structural.
    Malformed,
    /// `mqtt_packet_too_large`: the packet is larger than
    /// [`MqttLimits::max_packet_bytes`]; its body is skipped
    /// ([`Body::Skipped`]).
    PacketTooLarge,
    /// `mqtt_property_not_allowed`: an MQTT 5 property that is not allowed in
    /// this packet type (or in the Will properties).
    PropertyNotAllowed,
    /// `mqtt_remaining_length_invalid`: the Remaining Length varint has a
    /// continuation bit on its 4th byte (stream-level: the packet boundary is
    /// lost), or a body given to [`decode_packet`] is too long to encode in 4
    /// varint bytes. Structural.
    RemainingLengthInvalid,
    /// `mqtt_reserved_type`: packet type 0, or type 15 (AUTH) before MQTT 5
    /// (stream-level for a first byte of type 0: the packet boundary is
    /// lost). Structural.
    ReservedType,
    /// `mqtt_resync`: stream-level; the decoder skipped bytes to find a
    /// plausible packet start again (after a gap, a bad header, or when the
    /// capture starts mid-stream), or the stream ended while it was looking.
    Resync,
    /// `mqtt_too_many_anomalies`: the packet has more anomalies than
    /// [`MqttLimits::max_anomalies_per_packet`]; recorded once, the rest is
    /// dropped.
    TooManyAnomalies,
    /// `mqtt_trailing_bytes`: bytes left after the last field of the packet.
    /// Structural.
    TrailingBytes,
    /// `mqtt_truncated_packet`: stream-level; a partial packet was dropped
    /// because a gap or the end of the stream cut it.
    TruncatedPacket,
    /// `mqtt_unknown_property`: an MQTT 5 property id that the spec does not
    /// define; the rest of the property block is not decoded. Structural.
    UnknownProperty,
    /// `mqtt_unknown_protocol`: the CONNECT protocol name and level are not
    /// one of "MQIsdp" 3, "MQTT" 4, "MQTT" 5.
    UnknownProtocol,
    /// `mqtt_unknown_topic_alias`: a PUBLISH with an empty topic uses a Topic
    /// Alias whose topic was not seen in this capture ([`MqttConn`] only).
    UnknownTopicAlias,
}

impl AnomalyCode {
    /// Every code, in the order of their text (which is also the order of
    /// the enum's `Ord`).
    ///
    /// ```
    /// use wsdoctor_proto::mqtt::AnomalyCode;
    /// assert!(AnomalyCode::ALL.windows(2).all(|w| w[0].as_str() < w[1].as_str()));
    /// assert!(AnomalyCode::ALL.windows(2).all(|w| w[0] < w[1]));
    /// ```
    pub const ALL: &'static [AnomalyCode] = &[
        AnomalyCode::DuplicateProperty,
        AnomalyCode::Gap,
        AnomalyCode::InvalidFlags,
        AnomalyCode::InvalidPacketId,
        AnomalyCode::InvalidPropertyValue,
        AnomalyCode::InvalidQos,
        AnomalyCode::InvalidReasonCode,
        AnomalyCode::InvalidSubscriptionOptions,
        AnomalyCode::InvalidTopic,
        AnomalyCode::InvalidUtf8,
        AnomalyCode::LimitExceeded,
        AnomalyCode::Malformed,
        AnomalyCode::PacketTooLarge,
        AnomalyCode::PropertyNotAllowed,
        AnomalyCode::RemainingLengthInvalid,
        AnomalyCode::ReservedType,
        AnomalyCode::Resync,
        AnomalyCode::TooManyAnomalies,
        AnomalyCode::TrailingBytes,
        AnomalyCode::TruncatedPacket,
        AnomalyCode::UnknownProperty,
        AnomalyCode::UnknownProtocol,
        AnomalyCode::UnknownTopicAlias,
    ];

    /// The stable snake_case code, e.g. `"mqtt_malformed"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            AnomalyCode::DuplicateProperty => "mqtt_duplicate_property",
            AnomalyCode::Gap => "mqtt_gap",
            AnomalyCode::InvalidFlags => "mqtt_invalid_flags",
            AnomalyCode::InvalidPacketId => "mqtt_invalid_packet_id",
            AnomalyCode::InvalidPropertyValue => "mqtt_invalid_property_value",
            AnomalyCode::InvalidQos => "mqtt_invalid_qos",
            AnomalyCode::InvalidReasonCode => "mqtt_invalid_reason_code",
            AnomalyCode::InvalidSubscriptionOptions => "mqtt_invalid_subscription_options",
            AnomalyCode::InvalidTopic => "mqtt_invalid_topic",
            AnomalyCode::InvalidUtf8 => "mqtt_invalid_utf8",
            AnomalyCode::LimitExceeded => "mqtt_limit_exceeded",
            AnomalyCode::Malformed => "mqtt_malformed",
            AnomalyCode::PacketTooLarge => "mqtt_packet_too_large",
            AnomalyCode::PropertyNotAllowed => "mqtt_property_not_allowed",
            AnomalyCode::RemainingLengthInvalid => "mqtt_remaining_length_invalid",
            AnomalyCode::ReservedType => "mqtt_reserved_type",
            AnomalyCode::Resync => "mqtt_resync",
            AnomalyCode::TooManyAnomalies => "mqtt_too_many_anomalies",
            AnomalyCode::TrailingBytes => "mqtt_trailing_bytes",
            AnomalyCode::TruncatedPacket => "mqtt_truncated_packet",
            AnomalyCode::UnknownProperty => "mqtt_unknown_property",
            AnomalyCode::UnknownProtocol => "mqtt_unknown_protocol",
            AnomalyCode::UnknownTopicAlias => "mqtt_unknown_topic_alias",
        }
    }

    /// True when the code means the packet's structure is broken (as opposed
    /// to a semantic or policy problem): malformed, unknown property,
    /// trailing bytes, reserved type, invalid reason code, invalid
    /// subscription options, invalid Remaining Length. The decoder uses it to
    /// tell which MQTT dialect (3.x or 5) fits a packet.
    pub const fn is_structural(self) -> bool {
        matches!(
            self,
            AnomalyCode::Malformed
                | AnomalyCode::UnknownProperty
                | AnomalyCode::TrailingBytes
                | AnomalyCode::ReservedType
                | AnomalyCode::InvalidReasonCode
                | AnomalyCode::InvalidSubscriptionOptions
                | AnomalyCode::RemainingLengthInvalid
        )
    }
}

impl std::fmt::Display for AnomalyCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for AnomalyCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<str> for AnomalyCode {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

/// Value of one MQTT 5 property; the variant is fixed by the property id
/// (5.0 §2.2.2.2). Strings borrow from the packet bytes unless they were not
/// valid UTF-8 (then they are owned, with U+FFFD replacements).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropValue<'a> {
    /// Byte property (e.g. Payload Format Indicator, Maximum QoS).
    Byte(u8),
    /// Two Byte Integer property (e.g. Topic Alias, Receive Maximum).
    U16(u16),
    /// Four Byte Integer property (e.g. Message Expiry Interval).
    U32(u32),
    /// Variable Byte Integer property (Subscription Identifier), decoded.
    VarInt(u32),
    /// UTF-8 Encoded String property (e.g. Content Type, Reason String).
    Str(Cow<'a, str>),
    /// Binary Data property (Correlation Data, Authentication Data).
    Bin(&'a [u8]),
    /// UTF-8 String Pair: a User Property (name, value).
    Pair(Cow<'a, str>, Cow<'a, str>),
}

/// One MQTT 5 property (in wire order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property<'a> {
    /// Property identifier (see [`prop`] for the defined ones).
    pub id: u8,
    /// Decoded value.
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
    /// The properties decoded, in wire order (at most
    /// [`MqttLimits::max_properties`]; decoding stops at the first unknown
    /// or truncated one).
    pub items: Vec<Property<'a>>,
}

impl<'a> Properties<'a> {
    /// True when no property was decoded (absent or empty block).
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
    /// Text of the first string property with this id; `None` when absent or
    /// not a string property.
    pub fn get_str(&self, id: u8) -> Option<&str> {
        match self.get(id)? {
            PropValue::Str(s) => Some(s),
            _ => None,
        }
    }
    /// Bytes of the first binary property with this id; `None` when absent
    /// or not a binary property.
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

/// Will message of a CONNECT (3.1.1 §3.1.3, 5.0 §3.1.3). Fields after a
/// truncation keep their default (empty) values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Will<'a> {
    /// Will Topic.
    pub topic: Cow<'a, str>,
    /// Will Payload (raw bytes).
    pub payload: &'a [u8],
    /// Will QoS from the connect flags (0..=3; 3 is reported).
    pub qos: u8,
    /// Will Retain flag.
    pub retain: bool,
    /// Will Properties (MQTT 5).
    pub properties: Properties<'a>,
}

/// CONNECT (3.1.1 §3.1, 5.0 §3.1). Fields after a truncation keep their
/// default values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Connect<'a> {
    /// "MQTT" or "MQIsdp" (anything else is reported).
    pub protocol_name: Cow<'a, str>,
    /// Raw protocol level byte (3, 4, 5; bridges may set bit 7).
    pub level: u8,
    /// Raw connect flags byte.
    pub connect_flags: u8,
    /// Clean Session (3.x) / Clean Start (5).
    pub clean_start: bool,
    /// Keep Alive, in seconds (0: no keep-alive).
    pub keep_alive: u16,
    /// None only when the packet ended before it.
    pub client_id: Option<Cow<'a, str>>,
    /// Present when the Will flag is set.
    pub will: Option<Will<'a>>,
    /// Present when the User Name flag is set (and the packet holds it).
    pub username: Option<Cow<'a, str>>,
    /// Present when the Password flag is set. Kept as is: the caller is
    /// responsible for redacting it.
    pub password: Option<&'a [u8]>,
    /// CONNECT properties (MQTT 5).
    pub properties: Properties<'a>,
}

/// CONNACK (3.1.1 §3.2, 5.0 §3.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Connack<'a> {
    /// Session Present (bit 0 of the acknowledge flags).
    pub session_present: bool,
    /// Raw acknowledge flags byte.
    pub ack_flags: u8,
    /// 3.x return code or MQTT 5 reason code.
    pub code: u8,
    /// CONNACK properties (MQTT 5).
    pub properties: Properties<'a>,
}

/// PUBLISH (3.1.1 §3.3, 5.0 §3.3).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Publish<'a> {
    /// DUP flag (fixed header bit 3): a re-delivery.
    pub dup: bool,
    /// QoS from the fixed header (0..=3; 3 is reported).
    pub qos: u8,
    /// RETAIN flag (fixed header bit 0).
    pub retain: bool,
    /// Effective topic. In a [`MqttConn`] event an empty topic with a known
    /// Topic Alias is replaced by the aliased topic (`topic_from_alias`).
    pub topic: Cow<'a, str>,
    /// Topic Alias property (MQTT 5), when present.
    pub topic_alias: Option<u16>,
    /// True when `topic` was filled in from the alias map.
    pub topic_from_alias: bool,
    /// Present for QoS > 0.
    pub packet_id: Option<u16>,
    /// Application message (everything after the variable header), or
    /// its first [`PUBLISH_PAYLOAD_HELD`] bytes when a [`MqttConn`] did not
    /// hold a large one whole (`payload_len` says how long it was).
    pub payload: &'a [u8],
    /// Length of the application message on the wire.
    pub payload_len: u64,
    /// PUBLISH properties (MQTT 5).
    pub properties: Properties<'a>,
}

/// PUBACK, PUBREC, PUBREL, PUBCOMP.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PubResp<'a> {
    /// Packet Identifier of the PUBLISH being acknowledged.
    pub packet_id: u16,
    /// 0 (Success) when absent.
    pub reason_code: u8,
    /// Properties (MQTT 5; empty when the packet has none).
    pub properties: Properties<'a>,
}

/// One topic filter of a SUBSCRIBE with its options (5.0 §3.8.3.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subscription<'a> {
    /// Topic filter (may contain wildcards).
    pub topic: Cow<'a, str>,
    /// Raw options byte (3.x: requested QoS byte).
    pub options: u8,
    /// Requested (maximum) QoS.
    pub qos: u8,
    /// No Local option (MQTT 5; false for 3.x).
    pub no_local: bool,
    /// Retain As Published option (MQTT 5; false for 3.x).
    pub retain_as_published: bool,
    /// Retain Handling option, 0..=3 (MQTT 5; 0 for 3.x; 3 is reported).
    pub retain_handling: u8,
}

/// SUBSCRIBE (3.1.1 §3.8, 5.0 §3.8).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subscribe<'a> {
    /// Packet Identifier.
    pub packet_id: u16,
    /// Topic filters, in order (at most [`MqttLimits::max_subscriptions`]).
    pub subscriptions: Vec<Subscription<'a>>,
    /// SUBSCRIBE properties (MQTT 5).
    pub properties: Properties<'a>,
}

/// SUBACK (3.1.1 §3.9, 5.0 §3.9).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Suback<'a> {
    /// Packet Identifier of the SUBSCRIBE being acknowledged.
    pub packet_id: u16,
    /// 3.x return codes / MQTT 5 reason codes, one per subscription.
    pub reason_codes: &'a [u8],
    /// SUBACK properties (MQTT 5).
    pub properties: Properties<'a>,
}

/// UNSUBSCRIBE (3.1.1 §3.10, 5.0 §3.10).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Unsubscribe<'a> {
    /// Packet Identifier.
    pub packet_id: u16,
    /// Topic filters, in order (at most [`MqttLimits::max_subscriptions`]).
    pub topics: Vec<Cow<'a, str>>,
    /// UNSUBSCRIBE properties (MQTT 5).
    pub properties: Properties<'a>,
}

/// UNSUBACK (3.1.1 §3.11, 5.0 §3.11).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Unsuback<'a> {
    /// Packet Identifier of the UNSUBSCRIBE being acknowledged.
    pub packet_id: u16,
    /// MQTT 5 reason codes, one per topic filter. Empty for 3.x.
    pub reason_codes: &'a [u8],
    /// UNSUBACK properties (MQTT 5).
    pub properties: Properties<'a>,
}

/// DISCONNECT (3.1.1 §3.14, 5.0 §3.14).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Disconnect<'a> {
    /// 0 (Normal disconnection) when the body is empty.
    pub reason_code: u8,
    /// DISCONNECT properties (MQTT 5).
    pub properties: Properties<'a>,
}

/// AUTH (MQTT 5 only, 5.0 §3.15).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Auth<'a> {
    /// 0 (Success) when the body is empty.
    pub reason_code: u8,
    /// AUTH properties (Authentication Method / Data, Reason String...).
    pub properties: Properties<'a>,
}

/// Decoded variable header and payload, per packet type. A packet cut short
/// still has its variant, with the fields after the cut left at their
/// defaults (and a [`AnomalyCode::Malformed`] anomaly).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body<'a> {
    /// Type 1.
    Connect(Connect<'a>),
    /// Type 2.
    Connack(Connack<'a>),
    /// Type 3.
    Publish(Publish<'a>),
    /// Type 4.
    Puback(PubResp<'a>),
    /// Type 5.
    Pubrec(PubResp<'a>),
    /// Type 6.
    Pubrel(PubResp<'a>),
    /// Type 7.
    Pubcomp(PubResp<'a>),
    /// Type 8.
    Subscribe(Subscribe<'a>),
    /// Type 9.
    Suback(Suback<'a>),
    /// Type 10.
    Unsubscribe(Unsubscribe<'a>),
    /// Type 11.
    Unsuback(Unsuback<'a>),
    /// Type 12 (no body).
    Pingreq,
    /// Type 13 (no body).
    Pingresp,
    /// Type 14.
    Disconnect(Disconnect<'a>),
    /// Type 15 (decoded as AUTH even before MQTT 5, where it is reported as
    /// reserved).
    Auth(Auth<'a>),
    /// Packet type 0 (reserved): body kept raw.
    Reserved {
        /// The whole body (Remaining Length bytes).
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
    /// Remaining Length: body size in bytes (saturates at `u32::MAX`).
    pub remaining_len: u32,
    /// Stream offset of the first byte (0 for [`decode_packet`]).
    pub offset: u64,
    /// Fixed header length (1 + length of the Remaining Length varint).
    pub header_len: u8,
    /// Dialect the packet was decoded as: Some(3|4) = 3.x, Some(5) = 5.0,
    /// None = not known (only for packets whose layout does not depend on it).
    pub level: Option<u8>,
    /// Decoded variable header and payload.
    pub body: Body<'a>,
    /// Problems found in this packet, in the order found. The decoder
    /// records at most [`MqttLimits::max_anomalies_per_packet`] plus one
    /// [`AnomalyCode::TooManyAnomalies`]; [`MqttConn`] may add one about a
    /// Topic Alias.
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
        self.anomalies.iter().any(|a| a.code.is_structural())
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
