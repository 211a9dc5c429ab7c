#![forbid(unsafe_code)]

/// The binary's allocator is mimalloc (v3), not glibc's malloc. Measured on
/// the 1 GiB device-traffic file (bench/run.sh, text report): glibc's
/// malloc and free were about a fifth of the run (perf), and its
/// fragmentation made the max RSS grow with the file (heap peak 33 MB, RSS
/// 67 MiB); with mimalloc the run is about a quarter faster and the RSS
/// 52 MiB. The libraries do not choose an allocator.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    wsdoctor::cli::run()
}
