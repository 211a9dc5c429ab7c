//! One capture file through the whole pipeline:
//! capture -> wire -> flow -> stream -> sink.

use crate::capture::{self, CaptureError, CaptureErrorKind, CaptureLimits, Ts};
use crate::event::{CaptureSummary, Finding, PacketCounts, Severity, Sink};
use crate::flow::{Defrag, FlowLimits, FlowTable};
use crate::stream::Stack;
use crate::wire::{self, Decoded, Skip};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

/// Settings of an analysis (all limits have defaults).
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub capture: CaptureLimits,
    pub flow: FlowLimits,
}

/// How a file went.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// The file could not be read (fully): an `error` record was emitted.
    pub error: bool,
    /// Findings of severity warning or error.
    pub problems: u64,
}

/// Failed upgrade attempts of one client at one server (bounded).
#[derive(Default)]
struct Attempts {
    count: u64,
    /// (stream, request frame) of the first attempts.
    first: Vec<(u64, u64)>,
    first_ts: Option<Ts>,
    last_ts: Option<Ts>,
}

/// Client/server pairs followed for `device_retry` (beyond: not followed).
const MAX_RETRY_PAIRS: usize = 4096;

/// Forwards to another sink, remembers problems, and notices a device
/// retrying a failing WebSocket upgrade.
struct Counting<'a> {
    inner: &'a mut dyn Sink,
    problems: u64,
    error: bool,
    /// Failed WebSocket upgrades per (client ip, server).
    failed_upgrades: BTreeMap<(String, String), Attempts>,
}

impl Counting<'_> {
    fn new(inner: &mut dyn Sink) -> Counting<'_> {
        Counting {
            inner,
            problems: 0,
            error: false,
            failed_upgrades: BTreeMap::new(),
        }
    }

    /// One `device_retry` finding per client and server with 3+ failed attempts.
    fn report_retries(&mut self) {
        let retries = std::mem::take(&mut self.failed_upgrades);
        for ((client, server), a) in retries {
            if a.count < 3 {
                continue;
            }
            let first = a.first_ts.map(|t| t.as_f64()).unwrap_or(0.0);
            let last = a.last_ts.map(|t| t.as_f64()).unwrap_or(0.0);
            let every = (last - first) / (a.count - 1) as f64;
            let frames: Vec<u64> = a.first.iter().map(|x| x.1).collect();
            let streams: Vec<String> = a.first.iter().map(|x| x.0.to_string()).collect();
            let f = Finding {
                code: "device_retry",
                severity: Severity::Info,
                stream: None,
                frames,
                message: format!(
                    "{client} retried the WebSocket upgrade to {server} {} times, every ~{every:.1} s (tcp.stream {}{})",
                    a.count,
                    streams.join(", "),
                    if a.count as usize > a.first.len() { ", ..." } else { "" }
                ),
                hint: Some("The device keeps retrying the same refused request: the fix is on the server side (see the other findings).".into()),
            };
            self.inner.finding(&f);
        }
    }
}

impl Sink for Counting<'_> {
    fn connection(&mut self, meta: &crate::flow::ConnMeta, proto: &crate::event::ConnProto) {
        self.inner.connection(meta, proto)
    }
    fn finding(&mut self, f: &Finding) {
        if f.severity >= Severity::Warning {
            self.problems += 1;
        }
        self.inner.finding(f)
    }
    fn capture(&mut self, c: &CaptureSummary) {
        self.inner.capture(c)
    }
    fn error(&mut self, message: &str, offset: Option<u64>) {
        self.error = true;
        self.inner.error(message, offset)
    }
    fn record(&mut self, r: &crate::stream::Record<'_>) {
        if let crate::stream::Record::Upgrade { meta, info } = r {
            let failed = info.websocket
                && info.handshake.outcome != crate::proto::handshake::Outcome::Accepted;
            let key = (meta.client.ip.to_string(), meta.server.to_string());
            if failed
                && (self.failed_upgrades.len() < MAX_RETRY_PAIRS
                    || self.failed_upgrades.contains_key(&key))
            {
                let a = self.failed_upgrades.entry(key).or_default();
                a.count += 1;
                if a.first.len() < 20 {
                    a.first.push((meta.stream, info.request_frame));
                }
                a.first_ts.get_or_insert(meta.first_ts);
                a.last_ts = Some(meta.first_ts);
            }
        }
        self.inner.record(r)
    }
}

/// Analyse the capture at `path` (`-` is standard input).
pub fn analyze_path(path: &Path, opts: &Options, sink: &mut dyn Sink) -> Outcome {
    match capture::open(path, opts.capture.clone()) {
        Ok(reader) => analyze_reader(reader, opts, sink),
        Err(e) => {
            let mut c = Counting::new(sink);
            report_open_error(&e, &mut c);
            Outcome {
                error: true,
                problems: c.problems,
            }
        }
    }
}

/// Analyse capture bytes already in memory (tests, fuzzing).
pub fn analyze_bytes(bytes: &[u8], opts: &Options, sink: &mut dyn Sink) -> Outcome {
    match capture::CaptureReader::new(bytes, opts.capture.clone()) {
        Ok(reader) => analyze_reader(reader, opts, sink),
        Err(e) => {
            let mut c = Counting::new(sink);
            report_open_error(&e, &mut c);
            Outcome {
                error: true,
                problems: c.problems,
            }
        }
    }
}

fn report_open_error(e: &CaptureError, sink: &mut dyn Sink) {
    let offset = match e.kind {
        CaptureErrorKind::Io(_) if e.offset == 0 => None,
        _ => Some(e.offset),
    };
    sink.error(&e.to_string(), offset);
}

/// Run the pipeline over an opened reader.
pub fn analyze_reader<R: Read>(
    mut reader: capture::CaptureReader<R>,
    opts: &Options,
    sink: &mut dyn Sink,
) -> Outcome {
    let mut sink = Counting::new(sink);
    let mut table: FlowTable<Stack> = FlowTable::new(opts.flow.clone(), Box::new(Stack::default));
    let mut defrag = Defrag::default();
    let mut packets = 0u64;
    let mut bytes = 0u64;
    let mut first_ts: Option<Ts> = None;
    let mut last_ts: Option<Ts> = None;
    let mut skipped: BTreeMap<Skip, (u64, u64)> = BTreeMap::new();
    let mut malformed: BTreeMap<&'static str, (u64, u64)> = BTreeMap::new();
    let mut counts = PacketCounts::default();
    let mut fatal: Option<CaptureError> = None;
    loop {
        let rec = match reader.next_record() {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(e) => {
                fatal = Some(e);
                break;
            }
        };
        packets += 1;
        bytes += rec.data.len() as u64;
        if first_ts.is_none() {
            first_ts = Some(rec.ts);
        }
        last_ts = Some(rec.ts);
        let frame = rec.frame;
        let mut tally = Tally {
            skipped: &mut skipped,
            malformed: &mut malformed,
            counts: &mut counts,
        };
        // The common case (a TCP segment) first, without moving the result.
        match wire::decode(rec.linktype, rec.data, rec.orig_len) {
            Decoded::Tcp(seg) => {
                tally.counts.tcp += 1;
                table.segment(frame, rec.ts, &seg, &mut sink)
            }
            Decoded::Fragment(f) => {
                let whole = defrag.add(
                    &opts.flow.defrag,
                    f.src,
                    f.dst,
                    f.id,
                    f.offset,
                    f.more,
                    f.payload,
                    rec.ts,
                );
                let Some(w) = whole else {
                    tally.counts.fragments += 1;
                    continue;
                };
                match wire::from_reassembled(f.src, f.dst, f.proto, f.depth, &w) {
                    Decoded::Tcp(seg) => {
                        tally.counts.tcp += 1;
                        table.segment(frame, rec.ts, &seg, &mut sink)
                    }
                    d => tally.other(d, frame),
                }
            }
            d => tally.other(d, frame),
        }
    }
    table.finish_all(&mut sink);
    sink.report_retries();

    let incomplete = reader.truncated_at.is_some() || fatal.is_some();
    report_undecoded(&skipped, &malformed, packets, counts, incomplete, &mut sink);
    for (what, (n, first)) in &malformed {
        sink.finding(
            &Finding::new(
                "capture_malformed_packet",
                Severity::Info,
                format!("{n} packet(s) skipped: {what} (first: frame {first})"),
            )
            .frames([*first]),
        );
    }
    if defrag.dropped > 0 {
        sink.finding(&Finding::new(
            "ip_fragments_dropped",
            Severity::Info,
            format!(
                "{} fragmented IPv4 datagram(s) could not be reassembled (incomplete, expired or over the limit)",
                defrag.dropped
            ),
        ));
    }
    for w in &reader.warnings {
        sink.finding(&Finding::new(
            "capture_warning",
            Severity::Info,
            format!("at byte {}: {}", w.offset, w.message),
        ));
    }
    if let Some(off) = reader.truncated_at {
        sink.finding(
            &Finding::new(
                "capture_truncated",
                Severity::Warning,
                format!(
                    "the file ends inside a record at byte {off}; the {packets} complete packet(s) before it were analysed"
                ),
            )
            .hint("The file was cut short (copy interrupted, or the capture was still being written). Ask for the complete file."),
        );
    }
    if let Some(e) = &fatal {
        sink.error(&e.to_string(), Some(e.offset));
    }
    let summary = CaptureSummary {
        format: reader.format(),
        linktypes: reader.linktypes.clone(),
        packets,
        bytes,
        first_ts,
        last_ts,
        streams: table.streams(),
        complete: reader.truncated_at.is_none() && fatal.is_none(),
        counts,
    };
    sink.capture(&summary);
    Outcome {
        error: sink.error,
        problems: sink.problems,
    }
}

/// Counters of what the packets that are not TCP segments were.
struct Tally<'a> {
    skipped: &'a mut BTreeMap<Skip, (u64, u64)>,
    malformed: &'a mut BTreeMap<&'static str, (u64, u64)>,
    counts: &'a mut PacketCounts,
}

impl Tally<'_> {
    #[inline(never)]
    fn other(&mut self, d: Decoded<'_>, frame: u64) {
        match d {
            Decoded::Skipped(s) => {
                if s.could_carry_tcp() {
                    self.counts.not_decoded += 1;
                } else {
                    self.counts.not_tcp += 1;
                }
                self.skipped.entry(s).or_insert((0, frame)).0 += 1;
            }
            Decoded::Malformed(w) => {
                self.counts.malformed += 1;
                self.malformed.entry(w).or_insert((0, frame)).0 += 1;
            }
            // a reassembled datagram holding a fragment again: counted as one
            Decoded::Fragment(_) => self.counts.fragments += 1,
            Decoded::Tcp(_) => self.counts.tcp += 1,
        }
    }
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let d = n.to_string();
    let mut out = String::with_capacity(d.len() + d.len() / 3);
    for (i, c) in d.chars().enumerate() {
        if i > 0 && (d.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Kinds listed by name in a finding message (the rest are counted).
const KINDS_LISTED: usize = 6;

/// "N of M packets are X" for one kind, "N of M packets were not decoded:
/// a X, b Y" for several; kinds by count, most first.
fn kinds_message(kinds: &[(String, u64)], total: u64, verb: &str) -> String {
    let sum: u64 = kinds.iter().map(|k| k.1).sum();
    let mut list: Vec<String> = kinds
        .iter()
        .take(KINDS_LISTED)
        .map(|(w, n)| format!("{} {w}", thousands(*n)))
        .collect();
    if kinds.len() > KINDS_LISTED {
        let rest: u64 = kinds.iter().skip(KINDS_LISTED).map(|k| k.1).sum();
        list.push(format!(
            "{} in {} more kinds",
            thousands(rest),
            kinds.len() - KINDS_LISTED
        ));
    }
    match kinds {
        [(what, n)] => format!(
            "{} of {} packets are {what}: {verb}",
            thousands(*n),
            thousands(total)
        ),
        _ => format!(
            "{} of {} packets were {verb}: {}",
            thousands(sum),
            thousands(total),
            list.join(", ")
        ),
    }
}

/// Findings about what was not decoded: unsupported link types (one per
/// type), other encapsulations that may carry TCP (one finding with counts
/// by kind), and a capture without any TCP at all.
fn report_undecoded(
    skipped: &BTreeMap<Skip, (u64, u64)>,
    malformed: &BTreeMap<&'static str, (u64, u64)>,
    packets: u64,
    counts: PacketCounts,
    incomplete: bool,
    sink: &mut dyn Sink,
) {
    let mut by_count: Vec<(&Skip, u64, u64)> =
        skipped.iter().map(|(k, (n, f))| (k, *n, *f)).collect();
    by_count.sort_by_key(|(k, n, _)| (std::cmp::Reverse(*n), **k));
    let decoded_linktypes = || {
        let names: Vec<String> = wire::DECODED_LINKTYPES
            .iter()
            .map(|l| capture::Linktype(*l).to_string())
            .collect();
        names.join(", ")
    };
    for (k, n, first) in &by_count {
        if let Skip::LinkType { .. } = k {
            sink.finding(
                &Finding::new(
                    "capture_unsupported_linktype",
                    Severity::Warning,
                    format!(
                        "{} (first: frame {first})",
                        kinds_message(&[(k.to_string(), *n)], packets, "not decoded")
                    ),
                )
                .frames([*first])
                .hint(format!("wsdoctor decodes these link types: {}. Convert the capture (Wireshark can export the packets as Ethernet or raw IP with 'editcap -T'), or capture on an interface with one of them.", decoded_linktypes())),
            );
        }
    }
    let undecoded: Vec<&(&Skip, u64, u64)> = by_count
        .iter()
        .filter(|(k, _, _)| k.could_carry_tcp() && !matches!(k, Skip::LinkType { .. }))
        .collect();
    if !undecoded.is_empty() {
        let kinds: Vec<(String, u64)> = undecoded
            .iter()
            .map(|(k, n, _)| (k.to_string(), *n))
            .collect();
        let mut hint = String::from("These packets may carry the connection you are looking for, but wsdoctor does not decode what they are. Decoded: Ethernet, VLAN, Linux cooked, loopback, raw IP, PPP, 802.11 (radiotap, PPI), NFLOG; IP-in-IP, 6in4, 4in6, 6in6, GRE, ERSPAN I/II/III, GRE-bridged Ethernet, EtherIP, MPLS, PPPoE, VXLAN, GTP-U. Open the frames named here in Wireshark, or capture before the encapsulation (on the server or the device itself).");
        if undecoded.iter().any(|(k, _, _)| k.encrypted()) {
            hint.push_str(" Encrypted layers (IPsec ESP, MACsec, WPA, MPPE, VPNs) can only be read with their keys: capture inside the tunnel or on an endpoint instead.");
        }
        if undecoded
            .iter()
            .any(|(k, _, _)| matches!(k, Skip::DepthLimit))
        {
            hint.push_str(&format!(" Tunnels nested more than {} levels deep (wire::MAX_TUNNEL_DEPTH) are not followed.", wire::MAX_TUNNEL_DEPTH));
        }
        sink.finding(
            &Finding::new(
                "capture_not_decoded",
                Severity::Warning,
                kinds_message(&kinds, packets, "not decoded"),
            )
            .frames(undecoded.iter().map(|(_, _, f)| *f).take(10))
            .hint(hint),
        );
    }
    let any_undecoded = by_count.iter().any(|(k, _, _)| k.could_carry_tcp());
    if counts.tcp == 0 && !any_undecoded {
        let mut kinds: Vec<(String, u64)> = by_count
            .iter()
            .map(|(k, n, _)| (k.to_string(), *n))
            .collect();
        let bad: u64 = malformed.values().map(|v| v.0).sum();
        if bad > 0 {
            kinds.push(("malformed".into(), bad));
        }
        if counts.fragments > 0 {
            kinds.push((
                "IP fragments never reassembled into TCP".into(),
                counts.fragments,
            ));
        }
        if packets == 0 && incomplete {
            return; // the truncation or the error says it all
        }
        let list = |k: &[(String, u64)]| {
            k.iter()
                .map(|(w, n)| format!("{} {w}", thousands(*n)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let message = match kinds.as_slice() {
            [] => "the capture holds no packets: nothing to analyse".to_string(),
            [(what, _)] if packets == 1 => {
                format!("no TCP in this capture, nothing to analyse: its one packet is {what}")
            }
            [(what, _)] => format!(
                "no TCP in this capture, nothing to analyse: all {} packets are {what}",
                thousands(packets)
            ),
            _ => format!(
                "no TCP in this capture, nothing to analyse: {} packets, none of them TCP: {}",
                thousands(packets),
                list(&kinds)
            ),
        };
        sink.finding(
            &Finding::new("capture_no_tcp", Severity::Info, message)
                .hint("wsdoctor analyses TCP connections (HTTP, WebSocket, MQTT, TLS). Capture on the interface and ports the device uses, e.g. tcpdump -i any -w device.pcap 'tcp port 80 or tcp port 443 or tcp port 1883 or tcp port 8883'."),
        );
    }
}
