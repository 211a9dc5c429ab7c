//! `batch`: many captures in parallel, output in input order.
//!
//! Each file is analysed on a worker (rayon); its output is buffered per
//! file (JSON Lines spill to a temporary file past a threshold, so memory
//! stays bounded) and printed as soon as every file before it is done. One
//! bad file is an error row for that file; the batch goes on.

use crate::analyze::{analyze_path, Options, Outcome};
use crate::diagnose::Report;
use crate::report::jsonl::{Jsonl, RenderOpts};
use crate::report::model::{CaptureReport, ModelOpts};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

/// In-memory buffer that moves to a temporary file past `limit` bytes.
pub struct Spool {
    mem: Vec<u8>,
    file: Option<std::fs::File>,
    limit: usize,
}

impl Spool {
    pub fn new(limit: usize) -> Spool {
        Spool {
            mem: Vec::new(),
            file: None,
            limit,
        }
    }

    /// Copy everything written to `out`.
    pub fn copy_to(mut self, out: &mut dyn Write) -> io::Result<()> {
        match self.file.as_mut() {
            None => out.write_all(&self.mem),
            Some(f) => {
                f.write_all(&self.mem)?;
                f.flush()?;
                f.rewind()?;
                let mut buf = vec![0u8; 1 << 16];
                loop {
                    let n = f.read(&mut buf)?;
                    if n == 0 {
                        return Ok(());
                    }
                    out.write_all(&buf[..n])?;
                }
            }
        }
    }
}

impl Write for Spool {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        if let Some(f) = self.file.as_mut() {
            return f.write(b);
        }
        self.mem.extend_from_slice(b);
        if self.mem.len() > self.limit {
            let mut f = tempfile_anon()?;
            f.write_all(&self.mem)?;
            self.mem = Vec::new();
            self.file = Some(f);
        }
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

/// An anonymous temporary file (removed as soon as it is created).
fn tempfile_anon() -> io::Result<std::fs::File> {
    let dir = std::env::temp_dir();
    for i in 0..100u32 {
        let p = dir.join(format!(
            "wsdoctor-{}-{}-{i}.spool",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&p)
        {
            Ok(f) => {
                let _ = std::fs::remove_file(&p);
                return Ok(f);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other("cannot create a temporary file"))
}

/// Write `contents` to `path` atomically: a temporary file beside it, then
/// a rename. A failure leaves no half-written report behind.
pub fn write_atomic(path: &Path, contents: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(contents)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// One input of a batch: a path, or an error found while listing it.
#[derive(Clone, Debug)]
pub struct Input {
    pub path: PathBuf,
    pub walk_error: Option<String>,
}

fn run_one(input: &Input, opts: &Options, sink: &mut dyn Report) -> Outcome {
    if let Some(e) = &input.walk_error {
        sink.error(e, None);
        return Outcome::failed();
    }
    if input.path.is_dir() {
        sink.error("is a directory without capture files", None);
        return Outcome::failed();
    }
    // A panic is a bug; it must not take the rest of the batch with it.
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        analyze_path(&input.path, opts, sink)
    }));
    match r {
        Ok(o) => o,
        Err(_) => {
            sink.error(
                "internal error while analysing this file (please report it with the capture)",
                None,
            );
            Outcome::failed()
        }
    }
}

/// What a worker produced for one file.
pub enum Produced {
    Jsonl(Spool),
    Report(Box<CaptureReport>),
}

/// Analyse `inputs` on `jobs` threads; `emit(i, produced, outcome)` is
/// called on the calling thread in input order.
pub fn run(
    inputs: &[Input],
    opts: &Options,
    jobs: usize,
    jsonl: Option<RenderOpts>,
    model: ModelOpts,
    mut emit: impl FnMut(usize, Produced, Outcome),
    mut progress: impl FnMut(usize),
) {
    let work = |i: usize| -> (usize, Produced, Outcome) {
        let input = &inputs[i];
        let name = input.path.to_string_lossy().into_owned();
        match &jsonl {
            Some(ro) => {
                let mut spool = Spool::new(8 << 20);
                let o = {
                    let mut sink = Jsonl::with_opts(&mut spool, &name, ro.clone());
                    let o = run_one(input, opts, &mut sink);
                    if let Some(e) = sink.io_error.take() {
                        drop(sink);
                        let mut err = Jsonl::new(Vec::new(), &name);
                        err.error(&format!("cannot buffer output: {e}"), None);
                        return (
                            i,
                            Produced::Jsonl(spool_from(err.into_inner())),
                            Outcome { error: true, ..o },
                        );
                    }
                    o
                };
                (i, Produced::Jsonl(spool), o)
            }
            None => {
                let mut rep = CaptureReport::with_opts(&name, model);
                let o = run_one(input, opts, &mut rep);
                (i, Produced::Report(Box::new(rep)), o)
            }
        }
    };
    if jobs <= 1 || inputs.len() <= 1 {
        for i in 0..inputs.len() {
            let (i, p, o) = work(i);
            progress(i);
            emit(i, p, o);
        }
        return;
    }
    let pool = match rayon::ThreadPoolBuilder::new().num_threads(jobs).build() {
        Ok(p) => p,
        Err(_) => {
            for i in 0..inputs.len() {
                let (i, p, o) = work(i);
                progress(i);
                emit(i, p, o);
            }
            return;
        }
    };
    let (tx, rx) = mpsc::channel::<(usize, Produced, Outcome)>();
    std::thread::scope(|s| {
        let work = &work;
        s.spawn(move || {
            pool.install(|| {
                use rayon::prelude::*;
                (0..inputs.len())
                    .into_par_iter()
                    .for_each_with(tx, |tx, i| {
                        let _ = tx.send(work(i));
                    });
            });
        });
        let mut ready: std::collections::BTreeMap<usize, (Produced, Outcome)> = Default::default();
        let mut next = 0;
        for (i, p, o) in rx {
            progress(i);
            ready.insert(i, (p, o));
            while let Some((p, o)) = ready.remove(&next) {
                emit(next, p, o);
                next += 1;
            }
        }
    });
}

fn spool_from(v: Vec<u8>) -> Spool {
    let mut s = Spool::new(usize::MAX);
    s.mem = v;
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spool_spills_and_copies_back() {
        let mut s = Spool::new(10);
        for i in 0..100u8 {
            s.write_all(&[i; 7]).unwrap();
        }
        assert!(s.file.is_some());
        let mut out = Vec::new();
        s.copy_to(&mut out).unwrap();
        assert_eq!(out.len(), 700);
        assert_eq!(out[699], 99);
    }

    #[test]
    fn atomic_write_replaces() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("r.html");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
        assert!(write_atomic(&d.path().join("no/such/dir/x"), b"x").is_err());
    }
}
