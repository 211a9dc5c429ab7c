//! Names of packet types, properties and reason codes.

use super::msg;

/// "CONNECT" ... "AUTH"; "RESERVED" for type 0 (and anything > 15).
pub fn msg_name(msg_type: u8) -> &'static str {
    match msg_type {
        1 => "CONNECT",
        2 => "CONNACK",
        3 => "PUBLISH",
        4 => "PUBACK",
        5 => "PUBREC",
        6 => "PUBREL",
        7 => "PUBCOMP",
        8 => "SUBSCRIBE",
        9 => "SUBACK",
        10 => "UNSUBSCRIBE",
        11 => "UNSUBACK",
        12 => "PINGREQ",
        13 => "PINGRESP",
        14 => "DISCONNECT",
        15 => "AUTH",
        _ => "RESERVED",
    }
}

/// MQTT 5 property identifiers (5.0 §2.2.2.2), with their value type and the
/// packets they are allowed in; see [`Properties::get`](super::Properties::get).
pub mod prop {
    /// Payload Format Indicator (Byte): PUBLISH, Will properties.
    pub const PAYLOAD_FORMAT_INDICATOR: u8 = 0x01;
    /// Message Expiry Interval (Four Byte Integer): PUBLISH, Will properties.
    pub const MESSAGE_EXPIRY_INTERVAL: u8 = 0x02;
    /// Content Type (UTF-8 String): PUBLISH, Will properties.
    pub const CONTENT_TYPE: u8 = 0x03;
    /// Response Topic (UTF-8 String): PUBLISH, Will properties.
    pub const RESPONSE_TOPIC: u8 = 0x08;
    /// Correlation Data (Binary Data): PUBLISH, Will properties.
    pub const CORRELATION_DATA: u8 = 0x09;
    /// Subscription Identifier (Variable Byte Integer): PUBLISH, SUBSCRIBE; may repeat.
    pub const SUBSCRIPTION_IDENTIFIER: u8 = 0x0B;
    /// Session Expiry Interval (Four Byte Integer): CONNECT, CONNACK, DISCONNECT.
    pub const SESSION_EXPIRY_INTERVAL: u8 = 0x11;
    /// Assigned Client Identifier (UTF-8 String): CONNACK.
    pub const ASSIGNED_CLIENT_IDENTIFIER: u8 = 0x12;
    /// Server Keep Alive (Two Byte Integer): CONNACK.
    pub const SERVER_KEEP_ALIVE: u8 = 0x13;
    /// Authentication Method (UTF-8 String): CONNECT, CONNACK, AUTH.
    pub const AUTHENTICATION_METHOD: u8 = 0x15;
    /// Authentication Data (Binary Data): CONNECT, CONNACK, AUTH.
    pub const AUTHENTICATION_DATA: u8 = 0x16;
    /// Request Problem Information (Byte): CONNECT.
    pub const REQUEST_PROBLEM_INFORMATION: u8 = 0x17;
    /// Will Delay Interval (Four Byte Integer): Will properties.
    pub const WILL_DELAY_INTERVAL: u8 = 0x18;
    /// Request Response Information (Byte): CONNECT.
    pub const REQUEST_RESPONSE_INFORMATION: u8 = 0x19;
    /// Response Information (UTF-8 String): CONNACK.
    pub const RESPONSE_INFORMATION: u8 = 0x1A;
    /// Server Reference (UTF-8 String): CONNACK, DISCONNECT.
    pub const SERVER_REFERENCE: u8 = 0x1C;
    /// Reason String (UTF-8 String): CONNACK, PUBACK, PUBREC, PUBREL,
    /// PUBCOMP, SUBACK, UNSUBACK, DISCONNECT, AUTH.
    pub const REASON_STRING: u8 = 0x1F;
    /// Receive Maximum (Two Byte Integer): CONNECT, CONNACK.
    pub const RECEIVE_MAXIMUM: u8 = 0x21;
    /// Topic Alias Maximum (Two Byte Integer): CONNECT, CONNACK.
    pub const TOPIC_ALIAS_MAXIMUM: u8 = 0x22;
    /// Topic Alias (Two Byte Integer): PUBLISH.
    pub const TOPIC_ALIAS: u8 = 0x23;
    /// Maximum QoS (Byte): CONNACK.
    pub const MAXIMUM_QOS: u8 = 0x24;
    /// Retain Available (Byte): CONNACK.
    pub const RETAIN_AVAILABLE: u8 = 0x25;
    /// User Property (UTF-8 String Pair): any property block, Will
    /// properties included; may repeat.
    pub const USER_PROPERTY: u8 = 0x26;
    /// Maximum Packet Size (Four Byte Integer): CONNECT, CONNACK.
    pub const MAXIMUM_PACKET_SIZE: u8 = 0x27;
    /// Wildcard Subscription Available (Byte): CONNACK.
    pub const WILDCARD_SUBSCRIPTION_AVAILABLE: u8 = 0x28;
    /// Subscription Identifier Available (Byte): CONNACK.
    pub const SUBSCRIPTION_IDENTIFIER_AVAILABLE: u8 = 0x29;
    /// Shared Subscription Available (Byte): CONNACK.
    pub const SHARED_SUBSCRIPTION_AVAILABLE: u8 = 0x2A;
}

/// Wire type of a property value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PropType {
    Byte,
    U16,
    U32,
    VarInt,
    Str,
    Bin,
    Pair,
}

/// Pseudo packet type used for Will properties.
pub(crate) const CTX_WILL: u8 = 0;

const fn bit(t: u8) -> u16 {
    1u16 << t
}
const WILL: u16 = bit(CTX_WILL);
const CONNECT: u16 = bit(msg::CONNECT);
const CONNACK: u16 = bit(msg::CONNACK);
const PUBLISH: u16 = bit(msg::PUBLISH);
const PUBACK: u16 = bit(msg::PUBACK);
const PUBREC: u16 = bit(msg::PUBREC);
const PUBREL: u16 = bit(msg::PUBREL);
const PUBCOMP: u16 = bit(msg::PUBCOMP);
const SUBSCRIBE: u16 = bit(msg::SUBSCRIBE);
const SUBACK: u16 = bit(msg::SUBACK);
const UNSUBACK: u16 = bit(msg::UNSUBACK);
const DISCONNECT: u16 = bit(msg::DISCONNECT);
const AUTH: u16 = bit(msg::AUTH);
const ALL: u16 = 0xFFFF;

/// (id, name, key, type, allowed in (bit per packet type, bit 0 = Will), repeatable)
type PropInfo = (u8, &'static str, &'static str, PropType, u16, bool);

const PROPS: &[PropInfo] = &[
    (
        0x01,
        "Payload Format Indicator",
        "payload_format_indicator",
        PropType::Byte,
        PUBLISH | WILL,
        false,
    ),
    (
        0x02,
        "Message Expiry Interval",
        "message_expiry_interval",
        PropType::U32,
        PUBLISH | WILL,
        false,
    ),
    (
        0x03,
        "Content Type",
        "content_type",
        PropType::Str,
        PUBLISH | WILL,
        false,
    ),
    (
        0x08,
        "Response Topic",
        "response_topic",
        PropType::Str,
        PUBLISH | WILL,
        false,
    ),
    (
        0x09,
        "Correlation Data",
        "correlation_data",
        PropType::Bin,
        PUBLISH | WILL,
        false,
    ),
    (
        0x0B,
        "Subscription Identifier",
        "subscription_identifier",
        PropType::VarInt,
        PUBLISH | SUBSCRIBE,
        true,
    ),
    (
        0x11,
        "Session Expiry Interval",
        "session_expiry_interval",
        PropType::U32,
        CONNECT | CONNACK | DISCONNECT,
        false,
    ),
    (
        0x12,
        "Assigned Client Identifier",
        "assigned_client_identifier",
        PropType::Str,
        CONNACK,
        false,
    ),
    (
        0x13,
        "Server Keep Alive",
        "server_keep_alive",
        PropType::U16,
        CONNACK,
        false,
    ),
    (
        0x15,
        "Authentication Method",
        "authentication_method",
        PropType::Str,
        CONNECT | CONNACK | AUTH,
        false,
    ),
    (
        0x16,
        "Authentication Data",
        "authentication_data",
        PropType::Bin,
        CONNECT | CONNACK | AUTH,
        false,
    ),
    (
        0x17,
        "Request Problem Information",
        "request_problem_information",
        PropType::Byte,
        CONNECT,
        false,
    ),
    (
        0x18,
        "Will Delay Interval",
        "will_delay_interval",
        PropType::U32,
        WILL,
        false,
    ),
    (
        0x19,
        "Request Response Information",
        "request_response_information",
        PropType::Byte,
        CONNECT,
        false,
    ),
    (
        0x1A,
        "Response Information",
        "response_information",
        PropType::Str,
        CONNACK,
        false,
    ),
    (
        0x1C,
        "Server Reference",
        "server_reference",
        PropType::Str,
        CONNACK | DISCONNECT,
        false,
    ),
    (
        0x1F,
        "Reason String",
        "reason_string",
        PropType::Str,
        CONNACK | PUBACK | PUBREC | PUBREL | PUBCOMP | SUBACK | UNSUBACK | DISCONNECT | AUTH,
        false,
    ),
    (
        0x21,
        "Receive Maximum",
        "receive_maximum",
        PropType::U16,
        CONNECT | CONNACK,
        false,
    ),
    (
        0x22,
        "Topic Alias Maximum",
        "topic_alias_maximum",
        PropType::U16,
        CONNECT | CONNACK,
        false,
    ),
    (
        0x23,
        "Topic Alias",
        "topic_alias",
        PropType::U16,
        PUBLISH,
        false,
    ),
    (
        0x24,
        "Maximum QoS",
        "maximum_qos",
        PropType::Byte,
        CONNACK,
        false,
    ),
    (
        0x25,
        "Retain Available",
        "retain_available",
        PropType::Byte,
        CONNACK,
        false,
    ),
    (
        0x26,
        "User Property",
        "user_property",
        PropType::Pair,
        ALL,
        true,
    ),
    (
        0x27,
        "Maximum Packet Size",
        "maximum_packet_size",
        PropType::U32,
        CONNECT | CONNACK,
        false,
    ),
    (
        0x28,
        "Wildcard Subscription Available",
        "wildcard_subscription_available",
        PropType::Byte,
        CONNACK,
        false,
    ),
    (
        0x29,
        "Subscription Identifier Available",
        "subscription_identifier_available",
        PropType::Byte,
        CONNACK,
        false,
    ),
    (
        0x2A,
        "Shared Subscription Available",
        "shared_subscription_available",
        PropType::Byte,
        CONNACK,
        false,
    ),
];

fn prop_info(id: u8) -> Option<&'static PropInfo> {
    PROPS.iter().find(|p| p.0 == id)
}

pub(crate) fn prop_type(id: u8) -> Option<PropType> {
    prop_info(id).map(|p| p.3)
}

/// Whether property `id` may appear in packet type `ctx` (0 = Will properties).
pub(crate) fn prop_allowed(id: u8, ctx: u8) -> bool {
    prop_info(id).is_some_and(|p| ctx < 16 && p.4 & bit(ctx) != 0)
}

pub(crate) fn prop_repeatable(id: u8) -> bool {
    prop_info(id).is_some_and(|p| p.5)
}

/// Spec name of a property ("Topic Alias"); "Unknown Property" otherwise.
pub fn property_name(id: u8) -> &'static str {
    prop_info(id).map_or("Unknown Property", |p| p.1)
}

/// snake_case key of a property ("topic_alias"); "unknown_property" otherwise.
pub fn property_key(id: u8) -> &'static str {
    prop_info(id).map_or("unknown_property", |p| p.2)
}

/// MQTT 3.1 / 3.1.1 CONNACK return code meaning.
pub fn connack_return_code_meaning(code: u8) -> &'static str {
    match code {
        0 => "connection accepted",
        1 => "connection refused, unacceptable protocol version",
        2 => "connection refused, identifier rejected",
        3 => "connection refused, server unavailable",
        4 => "connection refused, bad user name or password",
        5 => "connection refused, not authorized",
        _ => "reserved (invalid) return code",
    }
}

/// (code, name, packet types the code is valid in)
const REASONS: &[(u8, &str, u16)] = &[
    (0x01, "Granted QoS 1", SUBACK),
    (0x02, "Granted QoS 2", SUBACK),
    (0x04, "Disconnect with Will Message", DISCONNECT),
    (0x10, "No matching subscribers", PUBACK | PUBREC),
    (0x11, "No subscription existed", UNSUBACK),
    (0x18, "Continue authentication", AUTH),
    (0x19, "Re-authenticate", AUTH),
    (
        0x80,
        "Unspecified error",
        CONNACK | PUBACK | PUBREC | SUBACK | UNSUBACK | DISCONNECT,
    ),
    (0x81, "Malformed Packet", CONNACK | DISCONNECT),
    (0x82, "Protocol Error", CONNACK | DISCONNECT),
    (
        0x83,
        "Implementation specific error",
        CONNACK | PUBACK | PUBREC | SUBACK | UNSUBACK | DISCONNECT,
    ),
    (0x84, "Unsupported Protocol Version", CONNACK),
    (0x85, "Client Identifier not valid", CONNACK),
    (0x86, "Bad User Name or Password", CONNACK),
    (
        0x87,
        "Not authorized",
        CONNACK | PUBACK | PUBREC | SUBACK | UNSUBACK | DISCONNECT,
    ),
    (0x88, "Server unavailable", CONNACK),
    (0x89, "Server busy", CONNACK | DISCONNECT),
    (0x8A, "Banned", CONNACK),
    (0x8B, "Server shutting down", DISCONNECT),
    (0x8C, "Bad authentication method", CONNACK | DISCONNECT),
    (0x8D, "Keep Alive timeout", DISCONNECT),
    (0x8E, "Session taken over", DISCONNECT),
    (0x8F, "Topic Filter invalid", SUBACK | UNSUBACK | DISCONNECT),
    (
        0x90,
        "Topic Name invalid",
        CONNACK | PUBACK | PUBREC | DISCONNECT,
    ),
    (
        0x91,
        "Packet Identifier in use",
        PUBACK | PUBREC | SUBACK | UNSUBACK,
    ),
    (0x92, "Packet Identifier not found", PUBREL | PUBCOMP),
    (0x93, "Receive Maximum exceeded", DISCONNECT),
    (0x94, "Topic Alias invalid", DISCONNECT),
    (0x95, "Packet too large", CONNACK | DISCONNECT),
    (0x96, "Message rate too high", DISCONNECT),
    (
        0x97,
        "Quota exceeded",
        CONNACK | PUBACK | PUBREC | SUBACK | DISCONNECT,
    ),
    (0x98, "Administrative action", DISCONNECT),
    (
        0x99,
        "Payload format invalid",
        CONNACK | PUBACK | PUBREC | DISCONNECT,
    ),
    (0x9A, "Retain not supported", CONNACK | DISCONNECT),
    (0x9B, "QoS not supported", CONNACK | DISCONNECT),
    (0x9C, "Use another server", CONNACK | DISCONNECT),
    (0x9D, "Server moved", CONNACK | DISCONNECT),
    (
        0x9E,
        "Shared Subscriptions not supported",
        SUBACK | DISCONNECT,
    ),
    (0x9F, "Connection rate exceeded", CONNACK | DISCONNECT),
    (0xA0, "Maximum connect time", DISCONNECT),
    (
        0xA1,
        "Subscription Identifiers not supported",
        SUBACK | DISCONNECT,
    ),
    (
        0xA2,
        "Wildcard Subscriptions not supported",
        SUBACK | DISCONNECT,
    ),
];

/// MQTT 5 reason code name (spec table 2.6) for a code in a packet type.
/// None when the code is not defined for that packet type.
pub fn reason_code_name(msg_type: u8, code: u8) -> Option<&'static str> {
    if msg_type > 15 {
        return None;
    }
    if code == 0 {
        return match msg_type {
            msg::DISCONNECT => Some("Normal disconnection"),
            msg::SUBACK => Some("Granted QoS 0"),
            msg::CONNACK
            | msg::PUBACK
            | msg::PUBREC
            | msg::PUBREL
            | msg::PUBCOMP
            | msg::UNSUBACK
            | msg::AUTH => Some("Success"),
            _ => None,
        };
    }
    REASONS
        .iter()
        .find(|r| r.0 == code && r.2 & bit(msg_type) != 0)
        .map(|r| r.1)
}

/// Name of a reason code regardless of packet type (for messages).
pub(crate) fn any_reason_name(code: u8) -> &'static str {
    if code == 0 {
        return "Success";
    }
    REASONS
        .iter()
        .find(|r| r.0 == code)
        .map_or("unknown reason code", |r| r.1)
}
