#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    wsdoctor::cli::run()
}
