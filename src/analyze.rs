//! One capture file through the whole pipeline:
//! capture -> wire -> flow -> stream -> sink.

use crate::capture::{self, CaptureError, CaptureErrorKind, CaptureLimits, Linktype, Ts};
use crate::event::{CaptureSummary, Finding, Severity, Sink};
use crate::flow::{Defrag, FlowLimits, FlowTable};
use crate::stream::Stack;
use crate::wire::{self, Decoded};
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
    let mut unsupported: BTreeMap<Linktype, (u64, u64)> = BTreeMap::new();
    let mut malformed: BTreeMap<&'static str, (u64, u64)> = BTreeMap::new();
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
        match wire::decode(rec.linktype, rec.data, rec.orig_len) {
            Decoded::Tcp(seg) => table.segment(rec.frame, rec.ts, &seg, &mut sink),
            Decoded::Fragment(f) => {
                if let Some(whole) = defrag.add(
                    &opts.flow.defrag,
                    f.src,
                    f.dst,
                    f.id,
                    f.offset,
                    f.more,
                    f.payload,
                    rec.ts,
                ) {
                    match wire::tcp_from_reassembled(f.src, f.dst, &whole) {
                        Decoded::Tcp(seg) => table.segment(rec.frame, rec.ts, &seg, &mut sink),
                        Decoded::Malformed(w) => {
                            let e = malformed.entry(w).or_insert((0, rec.frame));
                            e.0 += 1;
                        }
                        _ => {}
                    }
                }
            }
            Decoded::UnsupportedLink => {
                let e = unsupported.entry(rec.linktype).or_insert((0, rec.frame));
                e.0 += 1;
            }
            Decoded::Malformed(w) => {
                let e = malformed.entry(w).or_insert((0, rec.frame));
                e.0 += 1;
            }
            Decoded::Other => {}
        }
    }
    table.finish_all(&mut sink);
    sink.report_retries();

    for (lt, (n, first)) in &unsupported {
        sink.finding(
            &Finding::new(
                "capture_unsupported_linktype",
                Severity::Warning,
                format!("{n} packet(s) of link type {lt} were not decoded (first: frame {first})"),
            )
            .frames([*first])
            .hint("wsdoctor decodes Ethernet, Linux cooked (SLL, SLL2), BSD loopback and raw IP. Capture on an interface with one of those link types."),
        );
    }
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
    };
    sink.capture(&summary);
    Outcome {
        error: sink.error,
        problems: sink.problems,
    }
}
