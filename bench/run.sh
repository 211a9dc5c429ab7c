#!/usr/bin/env bash
# Whole-command benchmark of wsdoctor beside tshark (issue 7).
#
#   bench/run.sh [FILE]            # default /work/scratch/bench/big.pcap (1 GiB)
#
# Environment:
#   TSHARK_FILE   capture for tshark (default: a 256 MiB capture made next to
#                 FILE; tshark on 1 GiB takes very long and several GB of RAM).
#                 Ratios are computed from throughput (MB/s), so the two files
#                 may differ in size. TSHARK_FILE=FILE runs tshark on FILE.
#   CUSTOMER_FILE customer-like capture (default: customer1g.pcap next to FILE,
#                 made with gen-bigcap.py --customer at FILE's size); about
#                 10 % device traffic, the rest HTTPS/HTTP downloads, SSH,
#                 SMB-like bulk TCP, redis, DNS and other UDP. CUSTOMER_FILE=
#                 (empty) skips it.
#   SKIP_TSHARK=1 do not run tshark.
#   REPEAT        runs per command, the best (shortest) is kept (default 3).
#   BATCH_FILES   files in the --jobs batch (default 4 x 128 MiB).
#   CARGO_TARGET_DIR  where cargo builds (default: the repository's target/).
#
# Missing inputs are made with bench/gen-bigcap.py (1 GiB takes ~15 s).
# Figures: seconds (wall, best run), MB/s (10^6 bytes of capture file per
# second), CPU seconds (user+sys, best run) and MB per CPU second (steadier
# than wall time when other work shares the machine), max RSS (from
# /usr/bin/time -v, highest run), load average at the start of the runs.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
gen="$here/gen-bigcap.py"
FILE=${1:-/work/scratch/bench/big.pcap}
dir=$(dirname "$FILE")
REPEAT=${REPEAT:-3}
target=${CARGO_TARGET_DIR:-$repo/target}
bin="$target/release/wsdoctor"

if [ ! -x /usr/bin/time ]; then
    echo "/usr/bin/time missing: apt-get install -y time" >&2
    exit 2
fi

echo "== build: cargo build --release"
(cd "$repo" && cargo build --release --quiet)

mkdir -p "$dir"
if [ ! -f "$FILE" ]; then
    python3 "$gen" --size 1G -o "$FILE"
fi
TSHARK_FILE=${TSHARK_FILE:-$dir/big256.pcap}
if [ "${SKIP_TSHARK:-0}" != 1 ] && [ ! -f "$TSHARK_FILE" ]; then
    python3 "$gen" --size 256M -o "$TSHARK_FILE"
fi
size=$(stat -c %s "$FILE")
NOTCP="$dir/$(basename "$FILE" .pcap)-notcp.pcap"
if [ ! -f "$NOTCP" ]; then
    python3 "$gen" --size "$size" --no-tcp -o "$NOTCP"
fi

CUSTOMER_FILE=${CUSTOMER_FILE-$dir/customer$( [ "$(basename "$FILE")" = big.pcap ] && echo 1g || basename "$FILE" .pcap).pcap}
if [ -n "$CUSTOMER_FILE" ] && [ ! -f "$CUSTOMER_FILE" ]; then
    python3 "$gen" --customer --size "$size" -o "$CUSTOMER_FILE"
fi

echo "== machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), $(date -u +%FT%TZ)"
if rev=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null); then
    git -C "$repo" diff --quiet HEAD -- src Cargo.toml Cargo.lock || rev="$rev+uncommitted changes"
else
    rev="$(cat "$repo/HEAD-REV" 2>/dev/null || echo '?') (not a git checkout)"
fi
echo "== wsdoctor $rev"
echo "== $(tshark -v 2>/dev/null | head -1)"

# run NAME INPUT_BYTES CMD...: best of REPEAT; sets LAST_MBPS
LAST_MBPS=0
declare -A MBPS CPU_MBPS RSS
run() {
    local name=$1 bytes=$2
    shift 2
    local best="" best_cpu="" best_rss=0 load i tf
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    tf=$(mktemp)
    for ((i = 0; i < REPEAT; i++)); do
        cat -- "${INPUTS[@]}" > /dev/null # page cache: time the analysis, not the disk
        /usr/bin/time -v -o "$tf" "$@" > /dev/null 2> /dev/null || true
        local wall rss
        wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {
                 n = split($2, p, ":"); s = 0; for (j = 1; j <= n; j++) s = s * 60 + p[j]; print s }' "$tf")
        rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tf")
        local st
        st=$(awk -F': ' '/Exit status/ {print $2}' "$tf")
        if [ "${st:-9}" -gt 1 ]; then
            echo "   warning: '$*' exited with status ${st:-?}" >&2
        fi
        local cpu
        cpu=$(awk -F': ' '/User time|System time/ { s += $2 } END { print s }' "$tf")
        if [ -z "$best" ] || awk -v a="$wall" -v b="$best" 'BEGIN { exit !(a < b) }'; then
            best=$wall
        fi
        if [ -z "$best_cpu" ] || awk -v a="$cpu" -v b="$best_cpu" 'BEGIN { exit !(a < b) }'; then
            best_cpu=$cpu
        fi
        [ "$rss" -gt "$best_rss" ] && best_rss=$rss
    done
    rm -f "$tf"
    LAST_MBPS=$(awk -v b="$bytes" -v s="$best" 'BEGIN { printf "%.1f", (s > 0 ? b / s / 1e6 : 0) }')
    MBPS[$name]=$LAST_MBPS
    RSS[$name]=$best_rss
    CPU_MBPS[$name]=$(awk -v b="$bytes" -v s="$best_cpu" 'BEGIN { printf "%.1f", (s > 0 ? b / s / 1e6 : 0) }')
    printf '%-22s %7.2f s %8s MB/s | cpu %7.2f s %8s MB/s | max RSS %6.1f MiB | input %6.1f MiB | load %s\n' \
        "$name" "$best" "$LAST_MBPS" "$best_cpu" "${CPU_MBPS[$name]}" "$(awk -v r="$best_rss" 'BEGIN{print r/1024}')" \
        "$(awk -v b="$bytes" 'BEGIN{print b/1048576}')" "$load"
}

echo "== best of $REPEAT runs"
INPUTS=("$NOTCP")
run "baseline (no TCP)" "$(stat -c %s "$NOTCP")" "$bin" analyze --format jsonl "$NOTCP"
INPUTS=("$FILE")
run "wsdoctor text" "$size" "$bin" analyze "$FILE"
run "wsdoctor jsonl" "$size" "$bin" analyze --format jsonl "$FILE"
if [ -n "$CUSTOMER_FILE" ]; then
    INPUTS=("$CUSTOMER_FILE")
    csize=$(stat -c %s "$CUSTOMER_FILE")
    run "customer text" "$csize" "$bin" analyze "$CUSTOMER_FILE"
    run "customer jsonl" "$csize" "$bin" analyze --format jsonl "$CUSTOMER_FILE"
fi

help=$("$bin" analyze --help 2>&1 || true)
if [[ $help == *--jobs* ]]; then
    bdir="$dir/batch"
    mkdir -p "$bdir"
    n=0
    for c in ${BATCH_FILES:-80 100 120 140}; do
        f="$bdir/batch-c$c.pcap"
        [ -f "$f" ] || python3 "$gen" --size 128M --concurrency "$c" -o "$f"
        n=$((n + 1))
    done
    mapfile -t INPUTS < <(ls "$bdir"/*.pcap)
    bbytes=$(cat "${INPUTS[@]}" | wc -c)
    run "batch jsonl --jobs 1" "$bbytes" "$bin" analyze --format jsonl --jobs 1 "${INPUTS[@]}"
    j1=$LAST_MBPS
    run "batch jsonl --jobs 2" "$bbytes" "$bin" analyze --format jsonl --jobs 2 "${INPUTS[@]}"
    j2=$LAST_MBPS
    echo "batch of ${#INPUTS[@]} files: 2 jobs / 1 job = $(awk -v a="$j2" -v b="$j1" 'BEGIN{printf "%.2f", a/b}') (target >= 1.8)"
else
    echo "batch 1 vs 2 cores: skipped (this wsdoctor has no --jobs flag)"
fi

if [ "${SKIP_TSHARK:-0}" != 1 ]; then
    INPUTS=("$TSHARK_FILE")
    tsize=$(stat -c %s "$TSHARK_FILE")
    [ "$TSHARK_FILE" != "$FILE" ] &&
        echo "(tshark runs on $TSHARK_FILE, $(awk -v b="$tsize" 'BEGIN{printf "%.0f", b/1048576}') MiB; ratios compare throughput)"
    REPEAT=${TSHARK_REPEAT:-1} run "tshark fields" "$tsize" \
        tshark -r "$TSHARK_FILE" -o tcp.desegment_tcp_streams:TRUE -Y 'mqtt or websocket or http' \
        -T fields -e frame.number -e mqtt.msgtype
    t=${MBPS[tshark fields]}
    for k in "wsdoctor text" "wsdoctor jsonl"; do
        echo "$k / tshark: $(awk -v a="${MBPS[$k]}" -v b="$t" 'BEGIN{printf "%.1f", a/b}') x throughput" \
            "($(awk -v a="${CPU_MBPS[$k]}" -v b="${CPU_MBPS[tshark fields]}" 'BEGIN{printf "%.1f", a/b}') x per CPU second);" \
            "max RSS $(awk -v a="${RSS[$k]}" -v b="${RSS[tshark fields]}" 'BEGIN{printf "%.2f", a/b}') x" \
            "(wsdoctor on $(basename "$FILE"), tshark on $(basename "$TSHARK_FILE"))"
    done
fi
echo "targets: text >= 1000 MB/s on one core; jsonl >= 30 x tshark; customer text >= 3000 MB/s; max RSS <= 64 MiB on 1 GiB"
