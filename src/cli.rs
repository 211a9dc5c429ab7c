//! Command line: `wsdoctor analyze [--format text|jsonl] PATH...`.
//!
//! Exit codes: 0 nothing wrong found, 1 problems found, 2 a file could not
//! be analysed (or bad usage).

use crate::analyze::{analyze_path, Options, Outcome};
use crate::report::{jsonl::Jsonl, model::CaptureReport, text};
use clap::{Parser, Subcommand, ValueEnum};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "wsdoctor",
    version,
    about = "Find out why a device's MQTT-over-WebSocket connection failed, from a packet capture",
    after_help = "Examples:\n  wsdoctor analyze customer.pcapng\n  wsdoctor analyze --format jsonl captures/ > records.jsonl\n  tcpdump -w - -U port 80 | wsdoctor analyze -"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Analyse captures (files, directories, or - for standard input).
    Analyze(AnalyzeArgs),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutFormat {
    /// A report for people: verdict, findings, connections.
    Text,
    /// JSON Lines (one record per line, see the README).
    Jsonl,
}

#[derive(clap::Args, Debug)]
pub struct AnalyzeArgs {
    /// Capture files (pcap, pcapng, optionally gzip-compressed), directories
    /// (searched recursively), or - for standard input.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutFormat::Text)]
    pub format: OutFormat,
    /// Limits: TCP connections tracked at once.
    #[arg(long, default_value_t = 100_000)]
    pub max_connections: usize,
    /// Limits: out-of-order bytes held per direction before a hole is skipped.
    #[arg(long, default_value_t = 1 << 20)]
    pub max_ooo_bytes: usize,
    /// Limits: seconds (capture time) after which an idle connection is dropped.
    #[arg(long, default_value_t = 3600)]
    pub idle_timeout: i64,
    /// Print MQTT passwords and HTTP Authorization/Cookie values (redacted by default).
    #[arg(long)]
    pub show_secrets: bool,
    /// Bytes of each MQTT payload shown in records (text, or base64 when binary).
    #[arg(long, default_value_t = 256)]
    pub payload_bytes: usize,
    /// Print resource use (peak memory, time) to standard error at the end.
    #[arg(long, hide = true)]
    pub stats: bool,
}

/// Capture file extensions picked up when walking a directory.
const CAPTURE_EXTS: &[&str] = &[
    ".pcap",
    ".pcapng",
    ".cap",
    ".pcap.gz",
    ".pcapng.gz",
    ".cap.gz",
];

/// Expand directories (recursively, sorted) into capture files.
pub fn expand_paths(paths: &[PathBuf]) -> Vec<(PathBuf, Option<String>)> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut out, 0);
        } else {
            out.push((p.clone(), None));
        }
    }
    out
}

fn walk(dir: &Path, out: &mut Vec<(PathBuf, Option<String>)>, depth: usize) {
    if depth > 32 {
        return;
    }
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            out.push((
                dir.to_path_buf(),
                Some(format!("cannot read directory: {e}")),
            ));
            return;
        }
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out, depth + 1);
        } else {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().to_lowercase())
                .unwrap_or_default();
            if CAPTURE_EXTS.iter().any(|e| name.ends_with(e)) {
                out.push((p, None));
            }
        }
    }
}

/// Run the command line; returns the process exit code.
pub fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(2),
            };
        }
    };
    match cli.command {
        Command::Analyze(a) => ExitCode::from(analyze_cmd(&a)),
    }
}

fn options(a: &AnalyzeArgs) -> Options {
    let mut o = Options::default();
    o.flow.max_connections = a.max_connections.max(1);
    o.flow.reasm.max_ooo_bytes = a.max_ooo_bytes;
    o.flow.idle_timeout_secs = a.idle_timeout.max(1);
    o
}

/// Peak resident memory of this process in KiB (Linux), for `--stats`.
pub fn peak_rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn analyze_cmd(a: &AnalyzeArgs) -> u8 {
    let started = std::time::Instant::now();
    let code = analyze_files(a);
    if a.stats {
        eprintln!(
            "wsdoctor stats: peak_rss_kib={} elapsed_s={:.3}",
            peak_rss_kib().unwrap_or(0),
            started.elapsed().as_secs_f64()
        );
    }
    code
}

fn analyze_files(a: &AnalyzeArgs) -> u8 {
    let opts = options(a);
    let files = expand_paths(&a.paths);
    let color = a.format == OutFormat::Text
        && std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let stdout = std::io::stdout();
    let mut code = 0u8;
    if files.is_empty() {
        eprintln!("wsdoctor: no capture files found");
        return 2;
    }
    for (i, (path, walk_err)) in files.iter().enumerate() {
        let name = path.to_string_lossy().into_owned();
        let outcome = match a.format {
            OutFormat::Jsonl => {
                let mut lock = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
                let ropts = crate::report::jsonl::RenderOpts {
                    show_secrets: a.show_secrets,
                    payload_bytes: a.payload_bytes,
                };
                let mut sink = Jsonl::with_opts(&mut lock, &name, ropts);
                let o = run_one(path, walk_err.as_deref(), &opts, &mut sink);
                if sink.io_error.is_some() {
                    return 2;
                }
                drop(sink);
                if lock.flush().is_err() {
                    return 2;
                }
                o
            }
            OutFormat::Text => {
                let mut sink = CaptureReport::new(&name);
                let o = run_one(path, walk_err.as_deref(), &opts, &mut sink);
                let mut lock = stdout.lock();
                if i > 0 {
                    let _ = writeln!(lock);
                }
                if lock
                    .write_all(text::render(&sink, color).as_bytes())
                    .is_err()
                {
                    return 2;
                }
                o
            }
        };
        if outcome.error {
            code = 2;
        } else if outcome.problems > 0 && code == 0 {
            code = 1;
        }
    }
    code
}

fn run_one(
    path: &Path,
    walk_err: Option<&str>,
    opts: &Options,
    sink: &mut dyn crate::event::Sink,
) -> Outcome {
    if let Some(e) = walk_err {
        sink.error(e, None);
        return Outcome {
            error: true,
            problems: 0,
        };
    }
    if path.is_dir() {
        sink.error("is a directory without capture files", None);
        return Outcome {
            error: true,
            problems: 0,
        };
    }
    analyze_path(path, opts, sink)
}
