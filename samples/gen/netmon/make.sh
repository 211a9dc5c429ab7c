#!/bin/bash
# Microsoft Network Monitor files (issue 11), written by Wireshark's editcap from real samples:
#   editcap -F netmon2 samples/NAME.pcap samples/netmon/NAME.netmon2.cap   (NetMon 2.0: GMBU)
#   editcap -F netmon1 samples/NAME.pcap samples/netmon/NAME.netmon1.cap   (NetMon 1.1: RTSS)
# plus one gzip-compressed copy; then tshark-truth.py beside each (with --http-port 8080 where the
# original's truth used it).  tests/netmon.rs checks that each analyses exactly like its original.
#
# usage: samples/gen/netmon/make.sh        needs: Debian wireshark-common (editcap), tshark, gzip
set -eu
GEN=$(cd "$(dirname "$0")" && pwd)
SAMPLES=$(cd "$GEN/../.." && pwd)
OUT=${OUT:-$SAMPLES/netmon}
TRUTH=${TRUTH:-/work/shared/tools/tshark-truth.py}
mkdir -p "$OUT"
SOURCES="iis75-404.pcap ws-mqtt-paho.pcap mqtt-tcp-basic.pcap ws-deflate.pcap mqtt5-tcp.pcap mqtt-ipv6.pcap tcp-ooo.pcap ws-mqtt.pcapng"
for src in $SOURCES; do
    name=${src%.pcap*}
    http=()
    grep -q 'tcp.port==8080,http' "$SAMPLES/$name.truth.json" && http=(--http-port 8080)
    for v in netmon2 netmon1; do
        [ "$src" = ws-mqtt.pcapng ] && [ $v = netmon1 ] && continue
        editcap -F $v "$SAMPLES/$src" "$OUT/$name.$v.cap"
        /usr/bin/python3 "$TRUTH" "${http[@]}" "$OUT/$name.$v.cap" >&2
    done
done
# gzip: tshark reads it directly; own truth name so it does not replace the uncompressed one's
gzip -n -9 -c "$OUT/ws-mqtt-paho.netmon2.cap" > "$OUT/ws-mqtt-paho.netmon2-gz.cap.gz"
/usr/bin/python3 "$TRUTH" --http-port 8080 -o "$OUT/ws-mqtt-paho.netmon2-gz.truth.json" "$OUT/ws-mqtt-paho.netmon2-gz.cap.gz" >&2
(cd "$OUT" && capinfos -t -E -u -c -M *.cap *.cap.gz > capinfos.txt)
