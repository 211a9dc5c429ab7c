#!/usr/bin/env bash
# Record the "other traffic" tiles of bench/flows/ (issue 14): real software in
# network namespaces, captured with tcpdump on lo. Run as root:
#
#   bench/flows/make-flows.sh [NAME...]      # default: all; --list names them
#
# Every scenario runs in its own namespace (unshare -n): lo up, mtu 1500,
# `ethtool -K lo tso off gso off gro off` (tx checksumming is fixed "on" for
# lo: checksums stay unfinished, as in samples/), and an HTB qdisc on lo that
# shapes all packets (both directions, ACKs included) to $RATE (default
# 10mbit) with a 100-packet pfifo leaf, so a 1 MiB download lasts about a
# second (like a WAN link) instead of a few milliseconds; tcpdump on lo sees
# the packets after the qdisc. Every client and server runs under `timeout`;
# servers are stopped by PID. Work files go to $WORK (default /tmp/wsd-flows).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-$here}
WORK=${WORK:-/tmp/wsd-flows}
RATE=${RATE:-10mbit}
ALL=(http https-tls12 https-tls13 scp smb445 redis dns udp-ntp-syslog iperf-udp)

if [ "${1:-}" = --list ]; then
    printf '%s\n' "${ALL[@]}"
    exit 0
fi

if [ "${1:-}" != --inside ]; then
    mkdir -p "$WORK/www"
    # content: 1 MiB of random bytes (incompressible, like media or archives)
    # and a 12 KiB HTML page
    [ -f "$WORK/www/file-1m.bin" ] || head -c 1048576 /dev/urandom > "$WORK/www/file-1m.bin"
    if [ ! -f "$WORK/www/index.html" ]; then
        {
            echo '<!doctype html><html><head><title>wsdoctor bench</title></head><body>'
            for i in $(seq 1 200); do echo "<p>Line $i of a static page served by nginx for the benchmark.</p>"; done
            echo '</body></html>'
        } > "$WORK/www/index.html"
    fi
    if [ ! -f "$WORK/cert.pem" ]; then
        openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=bench.example \
            -addext subjectAltName=DNS:bench.example,IP:127.0.0.1 \
            -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2> /dev/null
    fi
    names=("$@")
    [ ${#names[@]} -gt 0 ] || names=("${ALL[@]}")
    for n in "${names[@]}"; do
        echo "== $n"
        timeout 180 unshare -n "$0" --inside "$n"
        ls -l "$OUT/$n.pcap"
    done
    exit 0
fi

name=$2
W="$WORK/$name"
rm -rf "$W"
mkdir -p "$W"
cd "$W"

ip link set lo mtu 1500 up
ethtool -K lo tso off gso off gro off > /dev/null
tc qdisc add dev lo root handle 1: htb default 10
tc class add dev lo parent 1: classid 1:10 htb rate "$RATE" ceil "$RATE"
tc qdisc add dev lo parent 1:10 handle 10: pfifo limit 100

PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2> /dev/null || true; done
    wait 2> /dev/null || true
}
trap cleanup EXIT

capture() { # FILTER
    timeout 150 tcpdump -i lo --immediate-mode -U -B 8192 -w "$W/$name.pcap" "$1" 2> "$W/tcpdump.log" &
    TCPDUMP=$!
    sleep 1
}
finish() {
    sleep 1
    kill -INT "$TCPDUMP"
    wait "$TCPDUMP" || true
    cat "$W/tcpdump.log" >&2
    cp "$W/$name.pcap" "$OUT/$name.pcap"
}

nginx_start() {
    cat > "$W/nginx.conf" << EOF
worker_processes 1;
pid $W/nginx.pid;
error_log $W/nginx-error.log info;
daemon off;
events { worker_connections 64; }
http {
    access_log $W/access.log;
    client_body_temp_path $W/tmp-body;
    proxy_temp_path $W/tmp-proxy;
    fastcgi_temp_path $W/tmp-fastcgi;
    uwsgi_temp_path $W/tmp-uwsgi;
    scgi_temp_path $W/tmp-scgi;
    types { text/html html; application/octet-stream bin; }
    sendfile on;
    keepalive_timeout 10s;
    server {
        listen 127.0.0.1:80;
        root $WORK/www;
    }
    server {
        listen 127.0.0.1:443 ssl;
        server_name bench.example;
        ssl_certificate $WORK/cert.pem;
        ssl_certificate_key $WORK/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        root $WORK/www;
    }
}
EOF
    timeout 120 nginx -e "$W/nginx-error.log" -p "$W" -c "$W/nginx.conf" &
    PIDS+=($!)
    sleep 1
}

C="timeout 30 curl -sS --max-time 25"
case $name in
http)
    nginx_start
    capture 'tcp port 80'
    # connection 1: three requests on one keep-alive connection (page, 1 MiB, 404)
    $C -w '%{http_code} %{size_download} %{num_connects}\n' -o /dev/null -o /dev/null -o /dev/null \
        http://127.0.0.1/index.html http://127.0.0.1/file-1m.bin http://127.0.0.1/missing.html
    sleep 0.3
    # connections 2 and 3: one small request each
    $C -w '%{http_code} %{size_download} %{num_connects}\n' -o /dev/null http://127.0.0.1/index.html
    $C -w '%{http_code} %{size_download} %{num_connects}\n' -o /dev/null http://127.0.0.1/index.html
    finish
    cat "$W/access.log"
    ;;
https-tls12 | https-tls13)
    if [ "$name" = https-tls12 ]; then v=(--tlsv1.2 --tls-max 1.2); else v=(--tlsv1.3); fi
    nginx_start
    capture 'tcp port 443'
    R="--resolve bench.example:443:127.0.0.1 --cacert $WORK/cert.pem --http1.1"
    # connection 1: page + 1 MiB on one keep-alive connection
    $C "${v[@]}" $R -w '%{http_code} %{size_download} %{num_connects} %{ssl_verify_result}\n' \
        -o /dev/null -o /dev/null https://bench.example/index.html https://bench.example/file-1m.bin
    sleep 0.3
    # connection 2: page twice (keep-alive); connection 3: one 404
    $C "${v[@]}" $R -w '%{http_code} %{size_download} %{num_connects}\n' -o /dev/null -o /dev/null \
        https://bench.example/index.html https://bench.example/index.html
    $C "${v[@]}" $R -w '%{http_code} %{size_download} %{num_connects}\n' -o /dev/null https://bench.example/missing.html
    finish
    cat "$W/access.log"
    ;;
scp)
    mkdir -p /run/sshd
    ssh-keygen -q -t ed25519 -N '' -f "$W/hostkey"
    ssh-keygen -q -t ed25519 -N '' -f "$W/userkey"
    cp "$W/userkey.pub" "$W/authorized_keys"
    cat > "$W/sshd_config" << EOF
Port 22
ListenAddress 127.0.0.1
HostKey $W/hostkey
PidFile $W/sshd.pid
AuthorizedKeysFile $W/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
Subsystem sftp internal-sftp
EOF
    timeout 120 /usr/sbin/sshd -D -e -f "$W/sshd_config" 2> "$W/sshd.log" &
    PIDS+=($!)
    sleep 1
    capture 'tcp port 22'
    O=(-i "$W/userkey" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes)
    # one scp upload of the 1 MiB random file (OpenSSH 9.2 scp uses the SFTP protocol)
    timeout 60 scp -q "${O[@]}" "$WORK/www/file-1m.bin" root@127.0.0.1:"$W/received.bin"
    cmp "$WORK/www/file-1m.bin" "$W/received.bin" && echo "scp: 1048576 bytes copied, identical"
    finish
    cat "$W/sshd.log"
    ;;
smb445)
    # an SMB-like bulk stream: 1 MiB of random bytes pushed to port 445 (no SMB framing)
    timeout 60 socat -u TCP-LISTEN:445,bind=127.0.0.1,reuseaddr OPEN:"$W/received.bin",creat,trunc &
    PIDS+=($!)
    sleep 0.5
    capture 'tcp port 445'
    timeout 60 socat -u OPEN:"$WORK/www/file-1m.bin" TCP:127.0.0.1:445
    sleep 0.5
    cmp "$WORK/www/file-1m.bin" "$W/received.bin" && echo "socat: 1048576 bytes pushed, identical"
    finish
    ;;
redis)
    timeout 120 redis-server --port 6379 --bind 127.0.0.1 --save '' --appendonly no \
        --daemonize no --dir "$W" --logfile "$W/redis.log" &
    PIDS+=($!)
    sleep 1
    capture 'tcp port 6379'
    timeout 60 redis-benchmark -h 127.0.0.1 -p 6379 -c 4 -n 500 -d 64 -t set,get,incr,lpush,mset --csv
    finish
    ;;
dns)
    timeout 120 dnsmasq -d -k -C /dev/null --no-resolv --no-hosts --port=53 --listen-address=127.0.0.1 \
        --bind-interfaces --user=root --pid-file="$W/dnsmasq.pid" --local=/bench.lan/ \
        --address=/cdn.bench.lan/10.20.30.40 --host-record=www.bench.lan,10.20.30.41,fd00::41 \
        --host-record=api.bench.lan,10.20.30.42,fd00::42 --mx-host=bench.lan,mail.bench.lan,10 \
        --txt-record=bench.lan,"v=spf1 -all" --txt-record=_dmarc.bench.lan,"v=DMARC1; p=none" \
        --log-queries --log-facility="$W/dnsmasq.log" 2> "$W/dnsmasq.stderr" &
    PIDS+=($!)
    sleep 1
    capture 'port 53'
    # 240 UDP queries (each from its own source port) and 4 over TCP
    : > "$W/queries"
    for i in $(seq 1 30); do
        printf '%s\n' "www.bench.lan A" "www.bench.lan AAAA" "api.bench.lan A" "img$i.cdn.bench.lan A" \
            "bench.lan MX" "bench.lan TXT" "nohost$i.bench.lan A" "_dmarc.bench.lan TXT" >> "$W/queries"
    done
    timeout 60 dig @127.0.0.1 +tries=1 +time=2 +noall +answer -f "$W/queries" > "$W/dig.out"
    for q in "www.bench.lan A" "bench.lan TXT" "bench.lan MX" "api.bench.lan AAAA"; do
        # shellcheck disable=SC2086
        timeout 10 dig @127.0.0.1 +tcp +tries=1 +time=2 +noall +answer $q >> "$W/dig.out"
    done
    finish
    wc -l "$W/dig.out"
    ;;
udp-ntp-syslog)
    timeout 60 python3 "$here/sntp.py" server 127.0.0.1 123 12 &
    PIDS+=($!)
    timeout 60 socat -u UDP-RECV:514,bind=127.0.0.1 OPEN:"$W/syslog.txt",creat,append &
    PIDS+=($!)
    sleep 0.5
    capture 'udp port 123 or udp port 514'
    timeout 30 python3 "$here/sntp.py" client 127.0.0.1 123 20 0.05 > "$W/sntp.out" &
    ntp=$!
    for i in $(seq 1 100); do
        timeout 5 logger -n 127.0.0.1 -P 514 -d --rfc5424 -p local0.info -t bench-app \
            "request $i served: GET /api/v1/items?page=$i status=200 bytes=$((i * 37)) duration_ms=$((i % 17))"
    done
    wait "$ntp"
    finish
    tail -1 "$W/sntp.out"
    echo "syslog receiver: $(grep -o '<134>1 ' "$W/syslog.txt" | wc -l) messages"
    ;;
iperf-udp)
    timeout 60 iperf3 -s -1 -B 127.0.0.1 -p 5201 > "$W/iperf-server.log" &
    PIDS+=($!)
    sleep 1
    capture 'port 5201'
    # UDP at 4 Mbit/s for 1 s, 1200-byte datagrams, plus iperf3's TCP control connection
    timeout 30 iperf3 -c 127.0.0.1 -p 5201 -u -b 4M -t 1 -l 1200 > "$W/iperf-client.log"
    finish
    tail -4 "$W/iperf-client.log"
    ;;
*)
    echo "unknown flow $name" >&2
    exit 2
    ;;
esac
