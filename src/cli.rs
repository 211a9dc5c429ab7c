//! Command line: `wsdoctor analyze`, `wsdoctor completions`, `wsdoctor man`.
//!
//! Exit codes: 0 every attempt succeeded, 1 problems found or a capture cannot
//! decide, 2 a file could not be analysed (or bad usage).

use crate::analyze::{Options, Outcome};
use crate::batch::{self, Input, Produced};
use crate::redact::Secrets;
use crate::report::{jsonl::RenderOpts, model::ModelOpts, text};
use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const EXAMPLES: &str = "Examples:
  wsdoctor analyze customer.pcapng
  wsdoctor analyze --format jsonl captures/ > records.jsonl
  wsdoctor report --html report.html captures/
  wsdoctor report --from-jsonl --html report.html --markdown tickets.md records.jsonl
  tcpdump -i eth0 -w - -U 'port 80' | wsdoctor analyze -

Exit codes: 0 every attempt succeeded, 1 problems found or the capture cannot decide, 2 a file could not be analysed.";

#[derive(Parser, Debug)]
#[command(
    name = "wsdoctor",
    version,
    about = "Find out why a device's MQTT-over-WebSocket connection failed, from a packet capture",
    after_help = EXAMPLES
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Analyse captures (files, directories, or - for standard input).
    #[command(after_help = EXAMPLES)]
    Analyze(AnalyzeArgs),
    /// Write batch reports for support teams (HTML, Markdown, CSV).
    #[command(after_help = EXAMPLES)]
    Report(ReportArgs),
    /// Print a shell completion script.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    Man,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutFormat {
    /// A report for people: verdict, findings, connections.
    Text,
    /// JSON Lines (one record per line, see the README).
    Jsonl,
}

/// Inputs and analysis settings shared by the commands.
#[derive(clap::Args, Debug, Clone)]
pub struct Common {
    /// Capture files (pcap, pcapng, optionally gzip-compressed), directories
    /// (searched recursively), or - for standard input. With `report
    /// --from-jsonl`: JSON Lines files (directories: their .jsonl files).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Files analysed in parallel (default: the number of cores).
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
    /// Limits: TCP connections tracked at once (the least recently active are dropped beyond).
    #[arg(long, default_value_t = 100_000)]
    pub max_connections: usize,
    /// Limits: out-of-order bytes held per direction before a hole is skipped.
    #[arg(long, default_value_t = 1 << 20)]
    pub max_ooo_bytes: usize,
    /// Limits: seconds (capture time) after which an idle connection is dropped.
    #[arg(long, default_value_t = 3600)]
    pub idle_timeout: i64,
    /// Show secrets as captured: MQTT passwords, Authorization / Cookie /
    /// Set-Cookie values, bearer tokens and JWTs, access_token / token / sig /
    /// signature parameters, SAS signatures (all redacted by default).
    #[arg(long)]
    pub show_secrets: bool,
    /// Bytes of each MQTT payload shown in records and reports (text, or
    /// base64 / hex when binary). At most the first 64 KiB of a PUBLISH
    /// that spans several TCP segments or WebSocket frames are held.
    #[arg(long, default_value_t = 256)]
    pub payload_bytes: usize,
    /// Never show a progress bar.
    #[arg(long)]
    pub no_progress: bool,
    /// Print resource use (peak memory, time) to standard error at the end.
    #[arg(long, hide = true)]
    pub stats: bool,
    /// TLS key log (NSS format, as SSLKEYLOGFILE writes it) to decrypt wss
    /// and MQTT over TLS; may be given several times. Secrets embedded in a
    /// pcapng file are used without it. The key log is never printed.
    #[arg(long, value_name = "FILE")]
    pub tls_keylog: Vec<PathBuf>,
}

/// Largest key log file read (a key log line is about 200 bytes).
pub const MAX_KEYLOG_FILE_BYTES: u64 = 64 << 20;

#[derive(clap::Args, Debug)]
pub struct AnalyzeArgs {
    #[command(flatten)]
    pub common: Common,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutFormat::Text)]
    pub format: OutFormat,
}

#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    #[command(flatten)]
    pub common: Common,
    /// Write one self-contained HTML report here.
    #[arg(long, value_name = "OUT.html")]
    pub html: Option<PathBuf>,
    /// Write a Markdown report (for tickets) here.
    #[arg(long, value_name = "OUT.md")]
    pub markdown: Option<PathBuf>,
    /// Write one CSV row per finding here.
    #[arg(long, value_name = "OUT.csv")]
    pub csv: Option<PathBuf>,
    /// Title of the HTML report.
    #[arg(long, default_value = "wsdoctor report")]
    pub title: String,
    /// The PATHs are JSON Lines written earlier by `wsdoctor analyze
    /// --format jsonl` (by one or many machines): build the reports from
    /// them instead of analysing captures. Redacted records stay redacted.
    #[arg(long)]
    pub from_jsonl: bool,
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
pub fn expand_paths(paths: &[PathBuf]) -> Vec<Input> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut out, 0);
        } else {
            out.push(Input {
                path: p.clone(),
                walk_error: None,
            });
        }
    }
    out
}

fn walk(dir: &Path, out: &mut Vec<Input>, depth: usize) {
    if depth > 32 {
        return;
    }
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            out.push(Input {
                path: dir.to_path_buf(),
                walk_error: Some(format!("cannot read directory: {e}")),
            });
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
                out.push(Input {
                    path: p,
                    walk_error: None,
                });
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
    let started = std::time::Instant::now();
    let (code, stats) = match cli.command {
        Command::Analyze(a) => (analyze_cmd(&a), a.common.stats),
        Command::Report(r) => (report_cmd(&r), r.common.stats),
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "wsdoctor",
                &mut std::io::stdout(),
            );
            (0, false)
        }
        Command::Man => {
            let man = clap_mangen::Man::new(Cli::command());
            let mut out = Vec::new();
            let code = if man.render(&mut out).is_ok() && std::io::stdout().write_all(&out).is_ok()
            {
                0
            } else {
                2
            };
            (code, false)
        }
    };
    if stats {
        eprintln!(
            "wsdoctor stats: peak_rss_kib={} elapsed_s={:.3}",
            peak_rss_kib().unwrap_or(0),
            started.elapsed().as_secs_f64()
        );
    }
    ExitCode::from(code)
}

/// The capture reports of JSON Lines files, and the exit code they give
/// (2 also when a file could not be read or held lines that are not
/// records). None: nothing to read.
fn reports_from_jsonl(
    paths: &[PathBuf],
    model: ModelOpts,
) -> Option<(Vec<crate::report::model::CaptureReport>, u8)> {
    use crate::report::ingest::Ingest;
    let files = expand_jsonl(paths);
    if files.is_empty() {
        eprintln!("wsdoctor: no JSON Lines files found");
        return None;
    }
    let mut ing = Ingest::new(model);
    let mut failed = false;
    for f in &files {
        let name = f.to_string_lossy().into_owned();
        let res = if name == "-" {
            ing.read("-", std::io::stdin().lock())
        } else {
            std::fs::File::open(f)
                .and_then(|file| ing.read(&name, std::io::BufReader::with_capacity(1 << 16, file)))
        };
        if let Err(e) = res {
            eprintln!("wsdoctor: cannot read {name}: {e}");
            failed = true;
        }
    }
    if ing.bad_lines > 0 {
        for (src, line, why) in &ing.bad {
            eprintln!("wsdoctor: {src}:{line}: skipped: {why}");
        }
        if ing.bad_lines > ing.bad.len() as u64 {
            eprintln!(
                "wsdoctor: ... {} more line(s) skipped",
                ing.bad_lines - ing.bad.len() as u64
            );
        }
        failed = true;
    }
    let reports = ing.finish();
    let outcomes: Vec<Outcome> = reports.iter().map(|r| r.outcome()).collect();
    let code = if failed { 2 } else { exit_code(&outcomes) };
    Some((reports, code))
}

/// Peak resident memory of this process in KiB (Linux), for `--stats`.
pub fn peak_rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// How reports collect: detail for HTML and Markdown, secrets and payload
/// bytes from the command line.
pub fn model_opts(c: &Common, detail: bool) -> ModelOpts {
    ModelOpts {
        detail,
        secrets: Secrets {
            show: c.show_secrets,
        },
        payload_bytes: c.payload_bytes,
    }
}

/// Expand directories (recursively, sorted) into their `.jsonl` files.
pub fn expand_jsonl(paths: &[PathBuf]) -> Vec<PathBuf> {
    fn walk_jsonl(dir: &Path, out: &mut Vec<PathBuf>, depth: usize) {
        if depth > 32 {
            return;
        }
        let Ok(rd) = std::fs::read_dir(dir) else {
            out.push(dir.to_path_buf());
            return;
        };
        let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk_jsonl(&p, out, depth + 1);
            } else if p
                .file_name()
                .is_some_and(|n| n.to_string_lossy().to_lowercase().ends_with(".jsonl"))
            {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk_jsonl(p, &mut out, 0);
        } else {
            out.push(p.clone());
        }
    }
    out
}

pub fn options(c: &Common) -> Result<Options, String> {
    let mut o = Options::default();
    o.flow.max_connections = c.max_connections.max(1);
    o.flow.reasm.max_ooo_bytes = c.max_ooo_bytes;
    o.flow.idle_timeout_secs = c.idle_timeout.max(1);
    if !c.tls_keylog.is_empty() {
        let mut log = crate::proto::tls::keylog::KeyLog::new();
        for p in &c.tls_keylog {
            let text = read_keylog(p)?;
            log.add_text(&text);
        }
        o.keylog = Some(std::sync::Arc::new(log));
    }
    Ok(o)
}

fn read_keylog(p: &std::path::Path) -> Result<Vec<u8>, String> {
    use std::io::Read as _;
    let f = std::fs::File::open(p)
        .map_err(|e| format!("cannot read the TLS key log {}: {e}", p.display()))?;
    let mut text = Vec::new();
    f.take(MAX_KEYLOG_FILE_BYTES + 1)
        .read_to_end(&mut text)
        .map_err(|e| format!("cannot read the TLS key log {}: {e}", p.display()))?;
    if text.len() as u64 > MAX_KEYLOG_FILE_BYTES {
        return Err(format!(
            "the TLS key log {} is larger than {} MiB",
            p.display(),
            MAX_KEYLOG_FILE_BYTES >> 20
        ));
    }
    Ok(text)
}

fn jobs(c: &Common) -> usize {
    c.jobs
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
        .max(1)
}

/// A progress bar on a terminal for batches of several files.
fn progress_bar(c: &Common, n: usize) -> Option<indicatif::ProgressBar> {
    if c.no_progress || n < 4 || !std::io::stderr().is_terminal() {
        return None;
    }
    let pb = indicatif::ProgressBar::new(n as u64);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} captures {elapsed}")
    {
        pb.set_style(style);
    }
    Some(pb)
}

/// 2 when a file could not be analysed; 1 when problems were found or a
/// capture cannot decide (its headline is not a ✓); 0 when every attempt
/// the captures show succeeded.
fn exit_code(outcomes: &[Outcome]) -> u8 {
    if outcomes.iter().any(|o| o.error) {
        2
    } else if outcomes
        .iter()
        .any(|o| o.problems > 0 || o.status != crate::diagnose::Status::Ok)
    {
        1
    } else {
        0
    }
}

fn analyze_cmd(a: &AnalyzeArgs) -> u8 {
    let c = &a.common;
    let opts = match options(c) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("wsdoctor: {e}");
            return 2;
        }
    };
    let inputs = expand_paths(&c.paths);
    if inputs.is_empty() {
        eprintln!("wsdoctor: no capture files found");
        return 2;
    }
    let color = a.format == OutFormat::Text
        && std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let jsonl = if a.format == OutFormat::Jsonl {
        Some(RenderOpts {
            show_secrets: c.show_secrets,
            payload_bytes: c.payload_bytes,
        })
    } else {
        None
    };
    let pb = progress_bar(c, inputs.len());
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut outcomes = Vec::with_capacity(inputs.len());
    let mut write_failed = false;
    // A single file streams straight to standard output (no buffering).
    if inputs.len() == 1 {
        if let Some(ro) = &jsonl {
            let name = inputs[0].path.to_string_lossy().into_owned();
            let mut sink = crate::report::jsonl::Jsonl::with_opts(&mut out, &name, ro.clone());
            let o = if let Some(e) = &inputs[0].walk_error {
                crate::diagnose::Report::error(&mut sink, e, None);
                Outcome::failed()
            } else {
                crate::analyze::analyze_path(&inputs[0].path, &opts, &mut sink)
            };
            let failed = sink.io_error.is_some();
            drop(sink);
            if failed || out.flush().is_err() {
                return 2;
            }
            return exit_code(&[o]);
        }
    }
    batch::run(
        &inputs,
        &opts,
        jobs(c),
        jsonl,
        model_opts(c, false),
        |i, produced, o| {
            outcomes.push(o);
            if write_failed {
                return;
            }
            let r = match produced {
                Produced::Jsonl(spool) => spool.copy_to(&mut out),
                Produced::Report(rep) => {
                    let sep = if i > 0 { "\n" } else { "" };
                    let s = text::render(&rep, color);
                    out.write_all(sep.as_bytes())
                        .and_then(|_| out.write_all(s.as_bytes()))
                }
            };
            if r.and_then(|_| out.flush()).is_err() {
                write_failed = true;
            }
        },
        |_| {
            if let Some(pb) = &pb {
                pb.inc(1);
            }
        },
    );
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    if write_failed {
        return 2;
    }
    exit_code(&outcomes)
}

fn report_cmd(r: &ReportArgs) -> u8 {
    use crate::report::{csv, html, markdown};
    let c = &r.common;
    if r.html.is_none() && r.markdown.is_none() && r.csv.is_none() {
        eprintln!("wsdoctor report: give at least one of --html, --markdown, --csv");
        return 2;
    }
    let model = model_opts(c, r.html.is_some() || r.markdown.is_some());
    let (reports, mut code) = if r.from_jsonl {
        match reports_from_jsonl(&c.paths, model) {
            Some(x) => x,
            None => return 2,
        }
    } else {
        let inputs = expand_paths(&c.paths);
        if inputs.is_empty() {
            eprintln!("wsdoctor: no capture files found");
            return 2;
        }
        let opts = match options(c) {
            Ok(o) => o,
            Err(e) => {
                eprintln!("wsdoctor: {e}");
                return 2;
            }
        };
        let pb = progress_bar(c, inputs.len());
        let mut reports = Vec::with_capacity(inputs.len());
        let mut outcomes = Vec::with_capacity(inputs.len());
        batch::run(
            &inputs,
            &opts,
            jobs(c),
            None,
            model,
            |_, produced, o| {
                outcomes.push(o);
                if let Produced::Report(rep) = produced {
                    reports.push(*rep);
                }
            },
            |_| {
                if let Some(pb) = &pb {
                    pb.inc(1);
                }
            },
        );
        if let Some(pb) = pb {
            pb.finish_and_clear();
        }
        let code = exit_code(&outcomes);
        (reports, code)
    };
    type Render<'a> = Box<dyn Fn() -> String + 'a>;
    let outputs: [(&Option<PathBuf>, Render); 3] = [
        (&r.html, Box::new(|| html::render(&reports, &r.title))),
        (&r.markdown, Box::new(|| markdown::render(&reports))),
        (&r.csv, Box::new(|| csv::render(&reports))),
    ];
    for (path, render) in outputs {
        if let Some(p) = path {
            if let Err(e) = batch::write_atomic(p, render().as_bytes()) {
                eprintln!("wsdoctor: cannot write {}: {e}", p.display());
                code = 2;
            }
        }
    }
    // One verdict line per capture on standard output.
    let mut out = std::io::stdout().lock();
    for rep in &reports {
        let _ = writeln!(
            out,
            "{}  {}",
            text::clean(&rep.file),
            text::clean(&rep.verdict())
        );
    }
    code
}
