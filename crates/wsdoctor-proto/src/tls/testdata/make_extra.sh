#!/usr/bin/env bash
# Real TLS 1.2 captures of the suites samples/tls/ does not have (see README.md here).
# Same method as samples/gen/tls/make.sh: each scenario in its own network and mount
# namespace (unshare -n -m), lo up with mtu 1500 and offloads off, a private /etc/hosts
# (broker.example = 127.0.0.1), tcpdump -i lo on port 443, openssl s_server -rev with the
# committed test certificates, openssl s_client sending three lines 0.3 s apart, key log by
# -keylogfile. Every process under timeout; servers stopped by PID.
# Usage (root): crates/wsdoctor-proto/src/tls/testdata/make_extra.sh [NAME...]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
C=$(cd "$HERE/../../../../../samples/gen/tls/certs" && pwd)
OUT=$HERE/extra
SELF=$HERE/$(basename "$0")

# name | server certificate (rsa or ec) | s_client cipher and options
SCENARIOS='
tls12-rsa-aes256-sha256-no-etm|rsa|-cipher AES256-SHA256 -no_etm
tls12-ecdhe-rsa-aes128-sha256-no-etm|rsa|-cipher ECDHE-RSA-AES128-SHA256 -no_etm
tls12-ecdhe-ecdsa-aes128-sha256|ec|-cipher ECDHE-ECDSA-AES128-SHA256
tls12-ecdhe-ecdsa-aes256-sha|ec|-cipher ECDHE-ECDSA-AES256-SHA
tls12-ecdhe-rsa-aes256-sha-no-etm|rsa|-cipher ECDHE-RSA-AES256-SHA -no_etm
tls12-ecdhe-ecdsa-aes256-gcm|ec|-cipher ECDHE-ECDSA-AES256-GCM-SHA384
tls12-rsa-aes256-gcm|rsa|-cipher AES256-GCM-SHA384
tls12-ecdhe-ecdsa-chacha20|ec|-cipher ECDHE-ECDSA-CHACHA20-POLY1305
tls12-dhe-rsa-chacha20|rsa|-cipher DHE-RSA-CHACHA20-POLY1305
'

feed_lines() { echo "hello from the client"; sleep 0.3; echo "second line from the client"; sleep 0.3; echo "third line"; sleep 0.6; }

inner() {  # $1 name, $2 cert kind, $3 client args
    local name=$1 T
    T=$(mktemp -d /tmp/wsd-extra.XXXXXX)
    ip link set lo up; ip link set lo mtu 1500
    ethtool -K lo tso off gso off gro off >/dev/null 2>&1 || echo "ethtool failed" >&2
    printf '127.0.0.1 localhost broker.example\n' > "$T/hosts"
    mount --bind "$T/hosts" /etc/hosts
    local cert="-cert $C/broker.pem -key $C/broker.key"
    [ "$2" = ec ] && cert="-cert $C/broker-ec.pem -key $C/broker-ec.key"
    # shellcheck disable=SC2086
    timeout 40 openssl s_server -accept 127.0.0.1:443 -naccept 1 -rev $cert </dev/null >"$OUT/$name.server.log" 2>&1 &
    local srv=$!
    for _ in $(seq 100); do ss -ltnH "sport = :443" | grep -q . && break; sleep 0.1; done
    tcpdump -i lo --immediate-mode -U -w "$OUT/$name.pcap" "tcp port 443" 2>"$T/tcpdump.log" &
    local tcpd=$!
    for _ in $(seq 50); do grep -q "listening on" "$T/tcpdump.log" 2>/dev/null && break; sleep 0.1; done
    echo "# openssl s_client -connect broker.example:443 -tls1_2 $3 -CAfile ca.pem -verify_return_error -keylogfile $name.keys" > "$OUT/$name.client.log"
    # shellcheck disable=SC2086
    feed_lines | timeout 20 openssl s_client -connect broker.example:443 -tls1_2 $3 \
        -CAfile "$C/ca.pem" -verify_return_error -keylogfile "$OUT/$name.keys" >> "$OUT/$name.client.log" 2>&1 || true
    wait "$srv" 2>/dev/null || true
    sleep 0.5; kill -INT "$tcpd"; wait "$tcpd" || true
    cat "$T/tcpdump.log" >&2
    umount /etc/hosts; rm -rf "$T"
}

if [ "${1:-}" = "--inner" ]; then shift; inner "$@"; exit 0; fi
mkdir -p "$OUT"
echo "$SCENARIOS" | while IFS='|' read -r name kind args; do
    [ -n "$name" ] || continue
    if [ $# -gt 0 ] && ! printf '%s\n' "$@" | grep -qx "$name"; then continue; fi
    echo "=== $name" >&2
    timeout 120 unshare -n -m "$SELF" --inner "$name" "$kind" "$args"
done
