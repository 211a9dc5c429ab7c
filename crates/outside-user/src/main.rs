//! Uses only the documented API of `wsdoctor-proto`: validates an Upgrade
//! handshake, then decodes MQTT over WebSocket from the client's bytes,
//! delivered in small chunks; prints one line per result.

use wsdoctor_proto::handshake::validate;
use wsdoctor_proto::http::{parse_request, parse_response, Head, HttpLimits};
use wsdoctor_proto::mqtt::{Dir, Event, MqttConn, MqttLimits};
use wsdoctor_proto::ws::{FrameEnd, FrameHeader, Violation, WsDataSink, WsDirection, WsLimits};

struct ToMqtt(MqttConn);

impl WsDataSink for ToMqtt {
    fn data(&mut self, bytes: &[u8]) {
        self.0.feed(Dir::C2S, 0.0, bytes, &mut |e| match e {
            Event::Packet(_, p) => println!("mqtt {}", p.msg_name()),
            Event::Anomaly(_, a) => println!("anomaly {}", a.code),
            Event::Finding(f) => println!("finding {}", f.code),
        });
    }
    fn frame(&mut self, h: &FrameHeader, _: &FrameEnd) {
        println!("ws {}", h.opcode_name());
    }
    fn violation(&mut self, v: Violation) {
        println!("violation {}", v.code);
    }
}

fn main() {
    let lim = HttpLimits::default();
    let req = b"GET /mqtt HTTP/1.1\r\nHost: broker\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
                Sec-WebSocket-Protocol: mqtt\r\n\r\n";
    let resp = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n";
    let (Head::Complete(req, _), Head::Complete(resp, _)) =
        (parse_request(req, &lim), parse_response(resp, &lim))
    else {
        println!("heads incomplete");
        return;
    };
    let hs = validate(&req, Some(&resp), false);
    println!("handshake {} problems {}", hs.outcome.as_str(), hs.problems.len());

    // CONNECT (client id "abc") in one masked binary frame, then PINGREQ in two.
    let mut wire = vec![0x82, 0x91, 1, 2, 3, 4];
    let connect = b"\x10\x0f\x00\x04MQTT\x04\x02\x00\x3c\x00\x03abc";
    wire.extend(connect.iter().zip([1u8, 2, 3, 4].iter().cycle()).map(|(b, m)| b ^ m));
    wire.extend([0x02, 0x81, 0, 0, 0, 0, 0xc0, 0x80, 0x81, 0, 0, 0, 0, 0x00]);
    let mut ws = WsDirection::new(true, hs.deflate, WsLimits::default());
    let mut sink = ToMqtt(MqttConn::new(MqttLimits::default(), true));
    for chunk in wire.chunks(3) {
        ws.feed(chunk, &mut sink);
    }
}
