//! Differential tests against mqtt-proto 0.4 (dev-dependency): arbitrary
//! packets (via its `arbitrary` feature, fed from a seeded PRNG) are encoded
//! by mqtt-proto and must decode here to the same fields, without structural
//! anomalies, as single packets and as a stream split at random points. The
//! field comparisons are those of the fuzz targets (`common/mqtt_diff.rs`).

mod common;

use common::mqtt_diff::{check_v3, check_v5, encodable_v3, encodable_v5, split};
use mqtt_proto::{v3, v5};
use wsdoctor_proto::mqtt::{decode_packet, msg_name, Dir, Event, MqttConn, MqttLimits};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn gen_v3(rng: &mut Rng, n: usize) -> Vec<(v3::Packet, Vec<u8>)> {
    let mut out = Vec::new();
    let mut tries = 0;
    while out.len() < n && tries < n * 50 {
        tries += 1;
        let n = 64 + (rng.next() % 400) as usize;
        if let Some(p) = encodable_v3(&rng.bytes(n)) {
            out.push(p);
        }
    }
    out
}

fn gen_v5(rng: &mut Rng, n: usize) -> Vec<(v5::Packet, Vec<u8>)> {
    let mut out = Vec::new();
    let mut tries = 0;
    while out.len() < n && tries < n * 50 {
        tries += 1;
        let n = 64 + (rng.next() % 600) as usize;
        if let Some(p) = encodable_v5(&rng.bytes(n)) {
            out.push(p);
        }
    }
    out
}

#[test]
fn differential_v3_packets() {
    let mut rng = Rng(0xDEAD_BEEF_1234_5678);
    let pkts = gen_v3(&mut rng, 3000);
    assert!(pkts.len() > 2500, "only {} packets generated", pkts.len());
    let mut types = [0usize; 16];
    for (pkt, bytes) in &pkts {
        let (b0, body) = split(bytes);
        types[usize::from(b0 >> 4)] += 1;
        check_v3(pkt, &decode_packet(b0, body, Some(4)));
    }
    for (t, n) in types.iter().enumerate().take(15).skip(1) {
        assert!(*n > 0, "no {} generated", msg_name(t as u8));
    }
}

#[test]
fn differential_v5_packets() {
    let mut rng = Rng(0x0123_4567_89AB_CDEF);
    let pkts = gen_v5(&mut rng, 3000);
    assert!(pkts.len() > 2500, "only {} packets generated", pkts.len());
    let mut types = [0usize; 16];
    for (pkt, bytes) in &pkts {
        let (b0, body) = split(bytes);
        types[usize::from(b0 >> 4)] += 1;
        check_v5(pkt, &decode_packet(b0, body, Some(5)));
    }
    for (t, n) in types.iter().enumerate().skip(1) {
        assert!(*n > 0, "no {} generated", msg_name(t as u8));
    }
}

/// Whole streams (CONNECT first so the level is known), split at random
/// points: every packet comes out once, in order, at the right offset, with
/// the same fields.
#[test]
fn differential_streams_random_splits() {
    let mut rng = Rng(42);
    for round in 0..40 {
        let v5 = round % 2 == 1;
        let connect = if v5 {
            v5::Packet::Connect(v5::Connect::new("c".into(), 30))
                .encode()
                .unwrap()
        } else {
            v3::Packet::Connect(v3::Connect::new("c".into(), 30))
                .encode()
                .unwrap()
        };
        let mut stream = connect.as_ref().to_vec();
        let mut expected_offsets = vec![0u64];
        let (p3, p5) = if v5 {
            (Vec::new(), gen_v5(&mut rng, 60))
        } else {
            (gen_v3(&mut rng, 60), Vec::new())
        };
        let p3: Vec<_> = p3
            .into_iter()
            .filter(|(p, _)| !matches!(p, v3::Packet::Connect(_)))
            .collect();
        let p5: Vec<_> = p5
            .into_iter()
            .filter(|(p, _)| !matches!(p, v5::Packet::Connect(_) | v5::Packet::Publish(_)))
            .collect();
        for b in p3.iter().map(|x| &x.1).chain(p5.iter().map(|x| &x.1)) {
            expected_offsets.push(stream.len() as u64);
            stream.extend_from_slice(b);
        }
        let mut conn = MqttConn::new(MqttLimits::default(), true);
        let mut got: Vec<(u64, usize)> = Vec::new();
        let mut i = 0;
        let mut idx = 0usize;
        while i < stream.len() {
            let k = 1 + (rng.next() % 300) as usize;
            let end = (i + k).min(stream.len());
            conn.feed(Dir::C2S, 0.0, &stream[i..end], &mut |e| {
                if let Event::Packet(_, p) = e {
                    if idx > 0 {
                        if v5 {
                            check_v5(&p5[idx - 1].0, p);
                        } else {
                            check_v3(&p3[idx - 1].0, p);
                        }
                    }
                    got.push((p.offset, idx));
                    idx += 1;
                }
            });
            i = end;
        }
        let mut stray = Vec::new();
        conn.end(&mut |e| {
            if let Event::Anomaly(_, a) = e {
                stray.push(a);
            }
        });
        assert!(stray.is_empty(), "{stray:?}");
        let offs: Vec<u64> = got.iter().map(|g| g.0).collect();
        assert_eq!(offs, expected_offsets, "round {round}");
    }
}
