//! The wire layer's fast path (Ethernet / raw IP, IPv4 or IPv6, TCP, UDP or
//! ICMP) decodes every packet it takes exactly as the general,
//! etherparse-based path does: over every sample capture and, when present,
//! the public corpus.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use wsdoctor::capture::{self, CaptureLimits};

fn captures(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            captures(&p, out);
        } else if [".pcap", ".pcapng", ".cap", ".gz"]
            .iter()
            .any(|x| p.to_string_lossy().ends_with(x))
        {
            out.push(p);
        }
    }
}

#[test]
fn fast_path_decodes_as_the_general_one() {
    let mut files = Vec::new();
    captures(&samples(), &mut files);
    if let Some(p) = public() {
        captures(&p, &mut files);
    }
    let (mut taken, mut packets) = (0u64, 0u64);
    for f in files {
        let Ok(mut r) = capture::open(&f, CaptureLimits::default()) else {
            continue;
        };
        while let Ok(Some(rec)) = r.next_record() {
            packets += 1;
            let lt = rec.linktype.0 & 0xffff;
            let hit = match lt {
                1 => wsdoctor::wire::fast_path_agrees(true, rec.data),
                12 | 14 | 101 | 228 | 229 => wsdoctor::wire::fast_path_agrees(false, rec.data),
                _ => false,
            };
            taken += u64::from(hit);
        }
    }
    eprintln!("fast path took {taken} of {packets} packets");
    assert!(taken * 2 > packets, "{taken} of {packets}");
}
