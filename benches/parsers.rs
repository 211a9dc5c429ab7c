//! Criterion benchmarks of the hot parsers (issue 7).
//!
//! `cargo bench --bench parsers` (all), `cargo bench --bench parsers -- ws`
//! (one group). Inputs are built in memory, or from `samples/` for the
//! capture reader and the whole pipeline. Throughput is in input bytes.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use std::path::PathBuf;
use wsdoctor::analyze::{analyze_bytes, Options};
use wsdoctor::capture::{CaptureLimits, CaptureReader, Ts};
use wsdoctor::diagnose::{Finding, Report};
use wsdoctor::flow::Endpoint;
use wsdoctor::flow::{Chunk, Clock, ReasmLimits, Reassembly, SegIn};
use wsdoctor::proto::mqtt::{Dir, Event, MqttConn, MqttLimits};
use wsdoctor::proto::ws::{FrameEnd, FrameHeader, Violation, WsDataSink, WsDirection, WsLimits};
use wsdoctor::report::json::Obj;
use wsdoctor::report::jsonl::Jsonl;

const MSS: usize = 1448;

fn samples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples")
}

/// Deterministic filler (xorshift), so compressible and random-looking
/// payloads are reproducible.
fn filler(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn mqtt_remaining_len(out: &mut Vec<u8>, mut n: usize) {
    loop {
        let mut b = (n % 128) as u8;
        n /= 128;
        if n > 0 {
            b |= 0x80;
        }
        out.push(b);
        if n == 0 {
            break;
        }
    }
}

fn mqtt_connect() -> Vec<u8> {
    let client_id = b"bench-client";
    let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 60];
    body.extend_from_slice(&(client_id.len() as u16).to_be_bytes());
    body.extend_from_slice(client_id);
    let mut p = vec![0x10];
    mqtt_remaining_len(&mut p, body.len());
    p.extend_from_slice(&body);
    p
}

fn mqtt_publish(topic: &str, payload: &[u8], qos: u8, id: u16) -> Vec<u8> {
    let mut body = Vec::with_capacity(topic.len() + payload.len() + 4);
    body.extend_from_slice(&(topic.len() as u16).to_be_bytes());
    body.extend_from_slice(topic.as_bytes());
    if qos > 0 {
        body.extend_from_slice(&id.to_be_bytes());
    }
    body.extend_from_slice(payload);
    let mut p = vec![0x30 | (qos << 1)];
    mqtt_remaining_len(&mut p, body.len());
    p.extend_from_slice(&body);
    p
}

/// A client -> server MQTT byte stream of about `total` bytes: CONNECT, then
/// QoS 0 PUBLISHes of `payload` bytes to a few topics.
fn mqtt_stream(total: usize, payload: usize) -> Vec<u8> {
    let mut s = mqtt_connect();
    let body = filler(payload, 7);
    let topics = [
        "plant/line1/temp",
        "plant/line2/pressure",
        "Advantech/00D0C9E27959/data",
    ];
    let mut i = 0;
    while s.len() < total {
        s.extend_from_slice(&mqtt_publish(topics[i % topics.len()], &body, 0, 0));
        i += 1;
    }
    s
}

/// One masked (client -> server) binary WebSocket frame.
fn ws_frame_masked(payload: &[u8], key: [u8; 4]) -> Vec<u8> {
    let mut f = vec![0x82];
    let n = payload.len();
    if n < 126 {
        f.push(0x80 | n as u8);
    } else if n < 65536 {
        f.push(0x80 | 126);
        f.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        f.push(0x80 | 127);
        f.extend_from_slice(&(n as u64).to_be_bytes());
    }
    f.extend_from_slice(&key);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    f
}

/// The MQTT byte stream `mqtt` cut into masked binary WebSocket frames of
/// `frame_payload` bytes each.
fn ws_stream(mqtt: &[u8], frame_payload: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(mqtt.len() + mqtt.len() / 8 + 64);
    for (i, chunk) in mqtt.chunks(frame_payload).enumerate() {
        let key = [0x37 ^ i as u8, 0xfa, 0x21, 0x3d ^ (i >> 8) as u8];
        out.extend_from_slice(&ws_frame_masked(chunk, key));
    }
    out
}

struct CountWs {
    bytes: usize,
    frames: usize,
}

impl WsDataSink for CountWs {
    fn data(&mut self, bytes: &[u8]) {
        self.bytes += bytes.len();
    }
    fn frame(&mut self, _h: &FrameHeader, _end: &FrameEnd) {
        self.frames += 1;
    }
    fn violation(&mut self, v: Violation) {
        black_box(v);
    }
}

fn bench_reassembly(c: &mut Criterion) {
    let stream = filler(4 << 20, 1);
    let lim = ReasmLimits::default();
    let mut g = c.benchmark_group("tcp_reassembly_in_order");
    g.throughput(Throughput::Bytes(stream.len() as u64));
    g.bench_function("4MiB_mss1448", |b| {
        b.iter(|| {
            let mut r = Reassembly::default();
            let mut got = 0usize;
            let mut emit = |_d: usize, c: Chunk<'_>| {
                if let Chunk::Data { bytes, .. } = c {
                    got += bytes.len();
                }
            };
            let isn = 0xfff0_0000u32; // wraps inside the stream
            let syn = SegIn {
                seq: isn,
                ack: None,
                syn: true,
                fin: false,
                rst: false,
                payload: &[],
                claimed: 0,
                frame: 1,
                ts: Ts::default(),
            };
            r.segment(0, &syn, Clock::default(), &lim, &mut emit);
            let mut seq = isn.wrapping_add(1);
            for (i, seg) in stream.chunks(MSS).enumerate() {
                let s = SegIn {
                    seq,
                    ack: Some(1),
                    syn: false,
                    payload: seg,
                    claimed: seg.len() as u32,
                    frame: i as u64 + 2,
                    ..syn
                };
                let clk = Clock {
                    packets: i as u64 + 2,
                    us: 0,
                };
                r.segment(0, &s, clk, &lim, &mut emit);
                seq = seq.wrapping_add(seg.len() as u32);
            }
            black_box(got)
        })
    });
    g.finish();
}

fn bench_ws(c: &mut Criterion) {
    let mqtt = mqtt_stream(4 << 20, 200);
    let mut g = c.benchmark_group("ws_masked_decode");
    // small frames (one ~230-byte MQTT PUBLISH each), large frames (16-bit
    // lengths) and one 64-bit-length frame per 1 MiB
    for (name, fp) in [
        ("frames_230B", 230usize),
        ("frames_16KiB", 16 << 10),
        ("frames_1MiB", 1 << 20),
    ] {
        let wire = ws_stream(&mqtt, fp);
        g.throughput(Throughput::Bytes(wire.len() as u64));
        g.bench_with_input(BenchmarkId::new("mss1448", name), &wire, |b, wire| {
            b.iter(|| {
                let mut d = WsDirection::new(true, None, WsLimits::default());
                let mut s = CountWs {
                    bytes: 0,
                    frames: 0,
                };
                for seg in wire.chunks(MSS) {
                    d.feed(seg, &mut s);
                }
                black_box((s.bytes, s.frames))
            })
        });
    }
    g.finish();
}

fn bench_mqtt(c: &mut Criterion) {
    let mut g = c.benchmark_group("mqtt_stream_decode");
    for (name, payload) in [("publish_200B", 200usize), ("publish_16KiB", 16 << 10)] {
        let stream = mqtt_stream(4 << 20, payload);
        g.throughput(Throughput::Bytes(stream.len() as u64));
        g.bench_with_input(BenchmarkId::new("mss1448", name), &stream, |b, stream| {
            b.iter(|| {
                let mut conn = MqttConn::new(MqttLimits::default(), true);
                let mut packets = 0usize;
                let mut sink = |e: Event<'_>| {
                    if let Event::Packet(..) = e {
                        packets += 1;
                    }
                };
                for seg in stream.chunks(MSS) {
                    conn.feed(Dir::C2S, 1.0, seg, &mut sink);
                }
                black_box(packets)
            })
        });
    }
    g.finish();
}

/// The benchmark samples (Ethernet, IPv4, microsecond pcap) tiled `copies`
/// times into one in-memory pcap, each copy with its own IPv4 addresses
/// (sequentially, not interleaved: see bench/gen-bigcap.py for that).
fn tiled_pcap(copies: u32) -> Vec<u8> {
    let names = [
        "mqtt-tcp-basic",
        "mqtt5-tcp",
        "ws-mqtt-paho",
        "ws-mqttjs-split",
        "ws-deflate",
        "ws-large-64bit",
        "iis75-404",
        "iis8-ok",
        "nginx-426",
    ];
    let files: Vec<Vec<u8>> = names
        .iter()
        .map(|n| std::fs::read(samples_dir().join(format!("{n}.pcap"))).expect("sample"))
        .collect();
    let mut out = files[0][..24].to_vec();
    let mut k = 0u32;
    for _ in 0..copies {
        for f in &files {
            assert_eq!(
                &f[..4],
                b"\xd4\xc3\xb2\xa1",
                "little-endian microsecond pcap"
            );
            k += 1;
            let addr = [10, (k >> 16) as u8, (k >> 8) as u8, k as u8];
            let mut off = 24;
            while off + 16 <= f.len() {
                let incl = u32::from_le_bytes(f[off + 8..off + 12].try_into().unwrap()) as usize;
                let rec = &f[off..off + 16 + incl];
                let start = out.len();
                out.extend_from_slice(rec);
                let pkt = &mut out[start + 16..];
                if pkt.len() >= 34 && pkt[12..14] == [8, 0] {
                    pkt[26..30].copy_from_slice(&addr);
                    pkt[30..34].copy_from_slice(&addr);
                }
                off += 16 + incl;
            }
        }
    }
    out
}

fn bench_capture(c: &mut Criterion) {
    let pcap = tiled_pcap(8);
    let mut g = c.benchmark_group("capture_read");
    g.throughput(Throughput::Bytes(pcap.len() as u64));
    g.bench_function("pcap_in_memory", |b| {
        b.iter(|| {
            let mut r = CaptureReader::new(&pcap[..], CaptureLimits::default()).unwrap();
            let mut n = 0usize;
            while let Ok(Some(rec)) = r.next_record() {
                n += rec.data.len();
            }
            black_box(n)
        })
    });
    g.finish();
}

fn bench_pipeline(c: &mut Criterion) {
    let pcap = tiled_pcap(8);
    let opts = Options::default();
    let mut g = c.benchmark_group("pipeline");
    g.sample_size(20);
    g.throughput(Throughput::Bytes(pcap.len() as u64));
    g.bench_function("analyze_bytes_jsonl_sink", |b| {
        b.iter(|| {
            let mut sink = Jsonl::new(std::io::sink(), "bench.pcap");
            black_box(analyze_bytes(&pcap, &opts, &mut sink))
        })
    });
    g.finish();
}

/// JSON Lines writing: the object writer with fields as records carry
/// them (two endpoints, a timestamp, plain and escaped strings), and whole
/// finding records through `Jsonl` (redaction and escaping included).
fn bench_json(c: &mut Criterion) {
    let client = Endpoint {
        ip: "192.168.1.20".parse().unwrap(),
        port: 50123,
    };
    let server = Endpoint {
        ip: "10.0.0.5".parse().unwrap(),
        port: 80,
    };
    let ts = Ts::new(1_764_671_234, 123_456_000, 6);
    let write = |buf: &mut Vec<u8>, i: u64| {
        let mut o = Obj::new(buf);
        o.str("type", "mqtt")
            .str("file", "captures/customer site/wise-4012.pcapng")
            .u64("stream", i)
            .endpoint("client", client)
            .endpoint("server", server)
            .u64("frame", 1000 + i)
            .ts("ts", ts)
            .str("msg", "PUBLISH")
            .str("topic", "Advantech/00D0C9FA1234/data")
            .str("client_id", "WISE-4012 \"lab\" unit\t7")
            .u64("payload_len", 312)
            .bool("retain", false);
        o.end();
    };
    let mut probe = Vec::new();
    for i in 0..1000 {
        write(&mut probe, i);
    }
    let mut g = c.benchmark_group("json_writing");
    g.throughput(Throughput::Bytes(probe.len() as u64));
    g.bench_function("obj_1000_records", |b| {
        let mut buf = Vec::with_capacity(probe.len());
        b.iter(|| {
            buf.clear();
            for i in 0..1000 {
                write(&mut buf, i);
            }
            black_box(buf.len())
        })
    });
    let findings: Vec<Finding> = (0..1000u64)
        .map(|i| {
            Finding::of(
                "ws_upgrade_rejected",
                format!("WebSocket upgrade refused: GET /mqtt from {client} to {server} answered 404 Not Found by IIS 7.5 (Windows 7 / Server 2008 R2), page \"IIS 7.5 Detailed Error - 404.0 - Not Found\""),
            )
            .stream(i)
            .frames([4 + i, 6 + i])
        })
        .collect();
    let mut out = Vec::new();
    {
        let mut j = Jsonl::new(&mut out, "captures/site.pcapng");
        for f in &findings {
            j.finding(f);
        }
    }
    g.throughput(Throughput::Bytes(out.len() as u64));
    g.bench_function("jsonl_1000_findings", |b| {
        let mut buf = Vec::with_capacity(out.len());
        b.iter(|| {
            buf.clear();
            let mut j = Jsonl::new(&mut buf, "captures/site.pcapng");
            for f in &findings {
                j.finding(f);
            }
            drop(j);
            black_box(buf.len())
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    bench_json,
    bench_reassembly,
    bench_ws,
    bench_mqtt,
    bench_capture,
    bench_pipeline
);
criterion_main!(benches);
