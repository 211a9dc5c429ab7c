#!/bin/bash
# Regenerate samples/reorder/ (test material for reordered and holed TCP; see samples/reorder/README.md).
#
#   samples/gen/reorder/make.sh [STEP...]        (as root; default: every step, in order)
#
# steps (real captures, each in its own network namespace):
#   paho-ws        mosquitto 2.0 (listener 1883 + listener 8080 websockets) <- paho over websockets, script multi
#   paho-big       the same broker <- paho websockets, script big (one 200 KiB PUBLISH + 64 small)
#   mqttjs-ws      mosquitto websockets <- MQTT.js 5 over npm ws (deflate off), script multi
#   mqttjs-deflate aedes behind npm ws WebSocketServer (permessage-deflate, threshold 0, context takeover)
#                  <- MQTT.js 5 over npm ws offering permessage-deflate, script multi
#   mqtt-tcp       mosquitto listener 1883 <- paho over plain TCP, script multi
#   http-keepalive nginx <- curl, 5 requests on one keep-alive connection (4 GET, 1 POST)
#   veth           two namespaces (client / broker) joined by a veth pair, paho websockets -> mosquitto,
#                  tcpdump in each namespace (-Q out and -Q inout), merged with a clock skew (editcap -t, mergecap)
# steps (derived and checked):
#   derive         derive.py: every derived capture (edits logged to gen/reorder/derive.log and derive.json)
#   check          check.py: runs tshark-truth.py's code on every capture (out-of-order reassembly on and
#                  off), compares it with what is expected from the original and how the file was made,
#                  compares each original with its client's own log; writes samples/reorder/expect.json
#                  and gen/reorder/check.log
#   truth          tshark-truth.py --expect samples/reorder/expect.json [--http-port 8080] beside every
#                  capture (the truth files carry the "expect" object; "_ooo": false for paho-big-hole)
# Each lo scenario: unshare -n, lo up, mtu 1500, ethtool -K lo tso off gso off gro off; every process
# under timeout; servers stopped by PID.  Needs Debian tshark tcpdump wireshark-common mosquitto
# python3-paho-mqtt nginx-light curl iproute2 ethtool, node + npm mqtt@5 ws aedes in $NODE_DIR.
# env: NODE_DIR (default /work/scratch/node), TRUTH (default /work/shared/tools/tshark-truth.py)
set -u
GEN=$(cd "$(dirname "$0")" && pwd)
SC=$(cd "$GEN/../scenarios" && pwd)
OUT=$(cd "$GEN/../.." && pwd)/reorder
mkdir -p "$OUT"
NODE_DIR=${NODE_DIR:-/work/scratch/node}
export NODE_PATH=$NODE_DIR/node_modules
TRUTH=${TRUTH:-/work/shared/tools/tshark-truth.py}
PY=/usr/bin/python3
SELF=$GEN/$(basename "$0")
SKEW=${SKEW:-0.003}        # seconds added to the broker-side captures of the veth session

# ------------------------------------------------------------------ helpers (inside a namespace)
lo_setup() {
    ip link set lo up
    ip link set lo mtu 1500
    ethtool -K lo tso off gso off gro off >/dev/null 2>&1 || echo "ethtool failed" >&2
}
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    sleep 0.3
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
}
wait_port() {  # wait_port PORT [NETNS]
    local i
    for i in $(seq 100); do
        if [ -n "${2:-}" ]; then ip netns exec "$2" ss -ltnH "sport = :$1" | grep -q . && return 0
        else ss -ltnH "sport = :$1" | grep -q . && return 0; fi
        sleep 0.1
    done
    echo "port $1 not listening" >&2; return 1
}
cap_start() {  # cap_start FILE FILTER [tcpdump args...]; sets CAP
    local file=$1 filter=$2; shift 2
    rm -f "$file"
    timeout 120 tcpdump -i lo --immediate-mode -U -B 8192 "$@" -w "$file" "$filter" 2>"$T/tcpdump.log" &
    CAP=$!
    PIDS+=("$CAP")
    local i; for i in $(seq 50); do grep -q "listening on" "$T/tcpdump.log" 2>/dev/null && break; sleep 0.1; done
}
cap_stop() { sleep 0.5; kill -INT "$CAP" 2>/dev/null; wait "$CAP" 2>/dev/null; cat "$T/tcpdump.log" >&2; }
stop_pid() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
mosq_conf() {  # mosq_conf FILE BIND-ADDRESS
    cat > "$1" <<EOC
user root
allow_anonymous true
persistence false
log_dest stderr
log_type all
listener 1883 $2
listener 8080 $2
protocol websockets
EOC
}
mosq_start() {
    mosq_conf "$T/mosquitto.conf" 127.0.0.1
    timeout 120 mosquitto -c "$T/mosquitto.conf" 2>"$T/mosquitto.log" &
    MOSQ=$!; PIDS+=("$MOSQ")
    wait_port 1883 && wait_port 8080
}
paho() { timeout 60 $PY "$GEN/paho_client.py" "$@"; }
mqttjs() { timeout 60 node "$GEN/mqttjs_client.js" "$@"; }

# ------------------------------------------------------------------ scenarios (run inside unshare -n)
scn_paho_ws() {
    mosq_start
    cap_start "$OUT/paho-ws.pcap" "tcp port 8080"
    paho --port 8080 --transport websockets --script multi --client-id wsd-reorder --log "$OUT/paho-ws.client.json" \
        || echo "paho client failed" >&2
    cap_stop; stop_pid "$MOSQ"
}
scn_paho_big() {
    # a roomy send buffer (paho hands the whole 200 KiB frame to the kernel in one send(): paho 1.6.1 drops
    # the next queued packet after a partial WebSocket write) and a small receive buffer (the sender is
    # window-limited, so the kernel packs the end of the big frame and the next frames into full segments)
    sysctl -q -w net.ipv4.tcp_wmem="4096 1048576 4194304" net.ipv4.tcp_rmem="4096 32768 65536"
    mosq_start
    cap_start "$OUT/paho-big.pcap" "tcp port 8080"
    paho --port 8080 --transport websockets --script big --client-id wsd-big --log "$OUT/paho-big.client.json" \
        || echo "paho client failed" >&2
    cap_stop; stop_pid "$MOSQ"
}
scn_mqtt_tcp() {
    mosq_start
    cap_start "$OUT/mqtt-tcp.pcap" "tcp port 1883"
    paho --port 1883 --transport tcp --script multi --client-id wsd-reorder-tcp --log "$OUT/mqtt-tcp.client.json" \
        || echo "paho client failed" >&2
    cap_stop; stop_pid "$MOSQ"
}
scn_mqttjs_ws() {
    mosq_start
    cap_start "$OUT/mqttjs-ws.pcap" "tcp port 8080"
    mqttjs --url ws://127.0.0.1:8080/mqtt --deflate off --client-id wsd-reorder-js --log "$OUT/mqttjs-ws.client.json" \
        || echo "mqttjs client failed" >&2
    cap_stop; stop_pid "$MOSQ"
}
scn_mqttjs_deflate() {
    timeout 60 node "$SC/aedes_ws_server.js" --port 8080 --deflate on --run-for 15000 \
        --log "$OUT/mqttjs-deflate.server.json" &
    SRV=$!; PIDS+=("$SRV")
    wait_port 8080
    cap_start "$OUT/mqttjs-deflate.pcap" "tcp port 8080"
    mqttjs --url ws://127.0.0.1:8080/mqtt --deflate on --client-id wsd-reorder-deflate \
        --log "$OUT/mqttjs-deflate.client.json" || echo "mqttjs client failed" >&2
    cap_stop
    wait "$SRV" 2>/dev/null       # aedes_ws_server.js writes its log when --run-for ends
}
scn_http_keepalive() {
    mkdir -p "$T/www"
    $PY "$GEN/http_pages.py" "$T/www"
    cat > "$T/nginx.conf" <<EOC
daemon off; master_process off; worker_processes 1;
pid $T/nginx.pid; error_log $T/nginx-error.log info;
events { worker_connections 64; }
http {
    access_log $T/nginx-access.log;
    client_body_temp_path $T/cbt; proxy_temp_path $T/pt; fastcgi_temp_path $T/ft;
    uwsgi_temp_path $T/ut; scgi_temp_path $T/st;
    include /etc/nginx/mime.types;
    keepalive_requests 100; keepalive_timeout 30s; sendfile off; etag off;
    server {
        listen 127.0.0.1:80;
        root $T/www;
        location = /upload { client_max_body_size 1m; default_type text/plain; return 200 "stored\n"; }
    }
}
EOC
    timeout 120 nginx -e "$T/nginx-error.log" -c "$T/nginx.conf" &
    NGINX=$!; PIDS+=("$NGINX")
    wait_port 80
    cap_start "$OUT/http-keepalive.pcap" "tcp port 80"
    # one curl process, one connection: GET, GET, POST (6000-byte body, no Expect: 100-continue), GET, GET
    ( cd "$T/www" && timeout 30 curl -s -w '%{json}\n' \
        -o /dev/null http://127.0.0.1/page1.html -o /dev/null http://127.0.0.1/page2.html \
        --next -s -w '%{json}\n' -H 'Expect:' -H 'Content-Type: text/plain' --data-binary @upload.txt \
            -o /dev/null http://127.0.0.1/upload \
        --next -s -w '%{json}\n' -o /dev/null http://127.0.0.1/page3.html -o /dev/null http://127.0.0.1/page1.html \
      ) > "$T/curl.jsonl" || echo "curl failed" >&2
    cap_stop; stop_pid "$NGINX"
    $PY - "$T/curl.jsonl" "$OUT/http-keepalive.client.json" "$(curl --version | head -1)" <<'EOP'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
keep = ("url_effective", "method", "http_code", "http_version", "num_connects", "size_download", "size_upload",
        "size_header", "size_request", "local_port", "remote_port", "content_type")
json.dump({"client": sys.argv[3], "transfers": [{k: r.get(k) for k in keep} for r in rows]},
          open(sys.argv[2], "w"), indent=1)
EOP
    cp "$T/nginx-access.log" "$OUT/http-keepalive.server.log"
}

# veth: namespace wsdro-c (client, 10.77.0.1/vc) and wsdro-b (broker, 10.77.0.2/vb), one veth pair
veth_session() {
    local C=wsdro-c B=wsdro-b
    ip netns del $C 2>/dev/null; ip netns del $B 2>/dev/null
    ip netns add $C; ip netns add $B
    ip link add vc netns $C type veth peer name vb netns $B
    ip -n $C addr add 10.77.0.1/24 dev vc; ip -n $B addr add 10.77.0.2/24 dev vb
    local ns dev
    for ns in $C $B; do
        dev=vc; [ $ns = $B ] && dev=vb
        ip -n $ns link set lo up
        ip -n $ns link set $dev mtu 1500 up
        ip netns exec $ns ethtool -K $dev tso off gso off gro off tx off rx off >/dev/null 2>&1 \
            || echo "ethtool $dev failed" >&2
    done
    mosq_conf "$T/mosquitto.conf" 10.77.0.2
    ip netns exec $B timeout 120 mosquitto -c "$T/mosquitto.conf" 2>"$T/mosquitto.log" &
    MOSQ=$!; PIDS+=("$MOSQ")
    wait_port 8080 $B
    local caps=() side q
    for side in c b; do
        ns=$C; dev=vc; [ $side = b ] && { ns=$B; dev=vb; }
        for q in out inout; do
            rm -f "$T/veth-$side-$q.pcap"
            ip netns exec $ns timeout 120 tcpdump -i $dev -Q $q --immediate-mode -U -B 8192 \
                -w "$T/veth-$side-$q.pcap" 'tcp port 8080' 2>"$T/tcpdump-$side-$q.log" &
            caps+=($!); PIDS+=($!)
        done
    done
    sleep 1.5
    ip netns exec $C timeout 60 $PY "$GEN/paho_client.py" --host 10.77.0.2 --port 8080 --transport websockets \
        --script multi --client-id wsd-veth --log "$OUT/veth.client.json" || echo "paho client failed" >&2
    sleep 0.7
    local p; for p in "${caps[@]}"; do kill -INT "$p"; wait "$p" 2>/dev/null; done
    cat "$T"/tcpdump-*.log >&2
    stop_pid "$MOSQ"
    ip netns del $C; ip netns del $B
    # merge: the broker side's clock is moved SKEW seconds later (editcap -t), as if its capture host's
    # clock ran ahead; mergecap then interleaves by timestamp.  The skew must make tshark see ACKs of
    # data it has not seen yet in veth-out (tcp.analysis.ack_lost_segment): 3 ms does; larger ones are
    # tried if not.
    mergecap -F pcap -w "$OUT/veth-out-noskew.pcap" "$T/veth-c-out.pcap" "$T/veth-b-out.pcap"
    local skew n
    for skew in $SKEW 0.005 0.010; do
        editcap -F pcap -t "$skew" "$T/veth-b-out.pcap" "$T/veth-b-out-skew.pcap"
        editcap -F pcap -t "$skew" "$T/veth-b-inout.pcap" "$T/veth-b-inout-skew.pcap"
        mergecap -F pcap -w "$OUT/veth-out.pcap" "$T/veth-c-out.pcap" "$T/veth-b-out-skew.pcap"
        mergecap -F pcap -w "$OUT/veth-both.pcap" "$T/veth-c-inout.pcap" "$T/veth-b-inout-skew.pcap"
        n=$(tshark -r "$OUT/veth-out.pcap" -Y tcp.analysis.ack_lost_segment 2>/dev/null | wc -l)
        echo "veth: skew $skew s: $n frames with tcp.analysis.ack_lost_segment in veth-out.pcap" >&2
        [ "$n" -gt 0 ] && break
    done
    local f; for f in "$T"/veth-*.pcap; do echo "$(basename "$f"): $(capinfos -c -M "$f" | tail -1)" >&2; done
}

# ------------------------------------------------------------------ driver
ALL="paho-ws paho-big mqttjs-ws mqttjs-deflate mqtt-tcp http-keepalive veth derive check truth"
if [ "${1:-}" = "--inner" ]; then
    NAME=$2; T=/tmp/wsdro/$NAME
    trap cleanup EXIT
    lo_setup
    "scn_${NAME//-/_}"
    exit $?
fi
[ $# -gt 0 ] && LIST="$*" || LIST=$ALL
rc=0
truth_all() {
    local f args
    for f in "$OUT"/*.pcap; do
        args=""
        case "$(basename "$f")" in http-*) ;; *) args="--http-port 8080" ;; esac
        # shellcheck disable=SC2086
        python3 "$TRUTH" --expect "$OUT/expect.json" $args "$f" || { echo "truth failed: $f" >&2; rc=1; }
    done
}
for NAME in $LIST; do
    echo "=== $NAME" >&2
    T=/tmp/wsdro/$NAME; rm -rf "$T"; mkdir -p "$T"
    case $NAME in
    veth)   trap 'cleanup; ip netns del wsdro-c 2>/dev/null; ip netns del wsdro-b 2>/dev/null' EXIT
            veth_session; cleanup; PIDS=(); trap - EXIT ;;
    derive) $PY "$GEN/derive.py" "$OUT" || rc=1 ;;
    truth)  [ -f "$OUT/expect.json" ] || echo '{}' > "$OUT/expect.json"; truth_all ;;
    check)  $PY "$GEN/check.py" "$OUT" >&2 || { echo "!!! check.py found a disagreement" >&2; rc=1; } ;;
    paho-big)   # the end of the 200 KiB frame must share a TCP segment with the next frame: at most 5 runs
        for try in 1 2 3 4 5; do
            timeout 300 unshare -n "$SELF" --inner "$NAME" || { echo "!!! $NAME failed" >&2; rc=1; }
            $PY "$GEN/derive.py" "$OUT" --check-big && break
        done ;;
    *)      timeout 300 unshare -n "$SELF" --inner "$NAME" || { echo "!!! $NAME failed" >&2; rc=1; } ;;
    esac
done
# tcpdump writes as user tcpdump: normalise our own files
chown root:root "$OUT"/* 2>/dev/null; chmod 644 "$OUT"/* 2>/dev/null
rm -rf "$GEN/__pycache__" /tmp/wsdro
exit $rc
