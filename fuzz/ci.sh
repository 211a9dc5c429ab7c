#!/usr/bin/env bash
# CI: build every fuzz target and run each for a short time (FUZZ_SECS,
# default 20 s) from its committed corpus. Fails on the first crash; the
# crashing input is left in artifacts/TARGET/ of the fuzz directory. Stable
# Rust, no sanitizer. Two fuzz packages: the decoders'
# (crates/wsdoctor-proto/fuzz) and the analyzer's (fuzz/, this directory).
set -euo pipefail
cd "$(dirname "$0")"
FUZZ_DIRS=("$PWD/../crates/wsdoctor-proto/fuzz" "$PWD")
export CARGO_TERM_COLOR=never
SECS="${FUZZ_SECS:-20}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

for dir in "${FUZZ_DIRS[@]}"; do
cd "$dir"
echo "== fuzz: build ($dir)"
cargo fuzz build --sanitizer none

for t in $(cargo fuzz list); do
    case "$t" in
        pipeline|pipeline_upgrade|capture|jsonl_report) max_len=65536 ;;
        reasm|reasm_reorder|ws|deflate|tls_decrypt) max_len=16384 ;;
        http|mqtt_stream) max_len=8192 ;;
        *) max_len=4096 ;;
    esac
    work="$(mktemp -d)"
    mkdir -p "corpus/$t"
    echo "== fuzz: $t (${SECS}s)"
    if ! cargo fuzz run --sanitizer none "$t" "$work" "corpus/$t" -- \
        -max_total_time="$SECS" -max_len="$max_len" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 </dev/null; then
        echo "fuzz target $t failed; input(s) in $dir/artifacts/$t/" >&2
        rm -rf "$work"
        exit 1
    fi
    rm -rf "$work"
done
done
echo "== fuzz: all targets ran without a crash"
