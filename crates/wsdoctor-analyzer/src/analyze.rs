//! One capture file through the whole pipeline:
//! capture -> wire -> flow -> stream -> diagnose -> report.

use crate::capture::{self, CaptureError, CaptureErrorKind, CaptureLimits, Ts};
use crate::diagnose::{DecodeIssues, Diagnoser, Report, Status};
use crate::event::{CaptureSummary, PacketCounts, RecordSink};
use crate::flow::{Defrag, FlowLimits, FlowTable};
use crate::proto::tls::keylog::KeyLog;
use crate::stream::{Keys, Stack};
use crate::wire::{self, Decoded, Skip};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

/// Settings of an analysis (all limits have defaults).
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub capture: CaptureLimits,
    pub flow: FlowLimits,
    /// TLS secrets (`--tls-keylog`), for every file; a pcapng file's own
    /// Decryption Secrets Blocks are used as well.
    pub keylog: Option<Arc<KeyLog>>,
}

/// How a file went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The file could not be read (fully): an `error` record was emitted.
    pub error: bool,
    /// Findings of severity warning or error.
    pub problems: u64,
    /// The verdict's status.
    pub status: Status,
}

impl Outcome {
    /// A file that could not be analysed at all.
    pub fn failed() -> Outcome {
        Outcome {
            error: true,
            problems: 0,
            status: Status::Unreadable,
        }
    }
}

/// Analyse the capture at `path` (`-` is standard input).
pub fn analyze_path(path: &Path, opts: &Options, sink: &mut dyn Report) -> Outcome {
    match capture::open(path, opts.capture.clone()) {
        Ok(reader) => analyze_reader(reader, opts, sink),
        Err(e) => {
            report_open_error(&e, sink);
            Outcome::failed()
        }
    }
}

/// Analyse capture bytes already in memory (tests, fuzzing).
pub fn analyze_bytes(bytes: &[u8], opts: &Options, sink: &mut dyn Report) -> Outcome {
    match capture::CaptureReader::new(bytes, opts.capture.clone()) {
        Ok(reader) => analyze_reader(reader, opts, sink),
        Err(e) => {
            report_open_error(&e, sink);
            Outcome::failed()
        }
    }
}

fn report_open_error(e: &CaptureError, sink: &mut dyn Report) {
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
    sink: &mut dyn Report,
) -> Outcome {
    let mut diag = Diagnoser::new(sink);
    let keys = Keys::new(opts.keylog.clone());
    let handler_keys = keys.clone();
    let mut table: FlowTable<Stack> = FlowTable::new(
        opts.flow.clone(),
        Box::new(move || Stack::with_keys(handler_keys.clone())),
    );
    let mut secret_warnings: Vec<(u64, String)> = Vec::new();
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
        if reader.has_secrets() {
            for (body, big) in reader.take_secrets() {
                if let Err(e) = keys.add_dsb(&body, big) {
                    if secret_warnings.len() < 16 {
                        secret_warnings
                            .push((0, format!("decryption secrets block not read: {e}")));
                    }
                }
            }
        }
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
                table.segment(frame, rec.ts, &seg, &mut diag as &mut dyn RecordSink)
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
                        table.segment(frame, rec.ts, &seg, &mut diag as &mut dyn RecordSink)
                    }
                    d => tally.other(d, frame),
                }
            }
            d => tally.other(d, frame),
        }
    }
    diag.capture_ends(last_ts);
    table.finish_all(&mut diag as &mut dyn RecordSink);
    let mut by_count: Vec<(Skip, u64, u64)> =
        skipped.iter().map(|(k, (n, f))| (*k, *n, *f)).collect();
    by_count.sort_by_key(|(k, n, _)| (std::cmp::Reverse(*n), *k));
    let issues = DecodeIssues {
        skipped: by_count,
        malformed: malformed
            .iter()
            .map(|(w, (n, first))| (*w, *n, *first))
            .collect(),
        fragments_dropped: defrag.dropped,
        warnings: reader
            .warnings
            .iter()
            .map(|w| (w.offset, w.message.clone()))
            .chain(secret_warnings)
            .collect(),
        truncated_at: reader.truncated_at,
        incomplete: reader.truncated_at.is_some() || fatal.is_some(),
    };
    if let Some(e) = &fatal {
        diag.error(&e.to_string(), Some(e.offset));
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
    let done = diag.finish(&summary, &issues);
    Outcome {
        error: done.error,
        problems: done.problems,
        status: done.verdict.status,
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
