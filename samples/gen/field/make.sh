#!/bin/bash
# Field-failure captures for wsdoctor (project issue 12): the ways MQTT-over-WebSocket connections
# fail in the field (see /work/shared/notes/field-failures.md), each made with real software on
# loopback, in its own network namespace (unshare -n), captured with tcpdump -i lo (Ethernet link
# type), then tshark-truth.py writes NAME.truth.json beside NAME.pcap.  See samples/field/README.md.
# Style and helpers follow ../make-scenarios.sh; its device / server scripts in ../scenarios/ are
# used by path (odd_ws_server.py, paholog.py).
#
# usage (as root):  samples/gen/field/make.sh [NAME...]      default: every scenario
#                   samples/gen/field/make.sh --list
# needs: Debian tshark tcpdump mosquitto nginx-light ejabberd python3-paho-mqtt openssl iproute2 ethtool,
#        nodejs with npm mqtt@5 ws aedes in $NODE_DIR (cd $NODE_DIR && npm install mqtt@5 ws aedes)
# after a run: gen/field/expect.py rewrites ../../field/expect.json (re-check its frame numbers)
# env:   OUT (default samples/field), NODE_DIR (default /work/scratch/node),
#        TRUTH (default /work/shared/tools/tshark-truth.py), TMPROOT (default /tmp/wsdF)
set -u
F=$(cd "$(dirname "$0")" && pwd)          # samples/gen/field
S=$(dirname "$F")/scenarios                # samples/gen/scenarios (reused helpers)
OUT=${OUT:-$(dirname "$(dirname "$F")")/field}
NODE_DIR=${NODE_DIR:-/work/scratch/node}
export NODE_PATH=$NODE_DIR/node_modules
TRUTH=${TRUTH:-/work/shared/tools/tshark-truth.py}
TMPROOT=${TMPROOT:-/tmp/wsdF}
PY=/usr/bin/python3
SELF=$F/$(basename "$0")

ALL="idle-timeout-nginx
clientid-takeover-mosquitto clientid-takeover-mosquitto-tcp clientid-takeover-mosquitto-mqtt5
clientid-takeover-mosquitto-mqtt5-tcp clientid-takeover-ejabberd-mqtt5 clientid-takeover-ejabberd-mqtt5-tcp
ws-plain-to-tls-port ws-plain-to-tls-port-mosquitto-wss ws-plain-to-tls-port-mosquitto-mqtts
tls-to-plain-port tls-to-plain-port-mosquitto
ws-upgrade-to-mqtt-port ws-upgrade-to-mqtt-port-1884
ws-path-not-found ws-path-not-found-mixed
ws-proxy-drops-upgrade
mqtt-closed-before-connack-tcp mqtt-closed-before-connack-ws
ws-upgrade-no-response-closed ws-upgrade-no-response-cut
ws-subprotocol-mismatch ws-subprotocol-mismatch-native ws-subprotocol-mismatch-paho
iis8-101-no-accept
ok-nginx-disconnect ok-nginx-keepalive"

# ------------------------------------------------------------------ helpers (inside the namespace)
lo_setup() {
    ip link set lo up
    ip link set lo mtu 1500
    ethtool -K lo tso off gso off gro off >/dev/null 2>&1 || echo "ethtool failed" >&2
}
CAPS=()
cap_start() {  # $1 = file name suffix ("" or "-both" ...), $2 = capture filter
    local f="$OUT/$NAME$1.pcap" log="$T/tcpdump$1.log"
    tcpdump -i lo -Z root --immediate-mode -U -w "$f" "$2" 2>"$log" &
    CAPS+=($!)
    echo "$NAME$1.pcap" >> "$T/captures"
    for _ in $(seq 50); do grep -q "listening on" "$log" 2>/dev/null && break; sleep 0.1; done
}
cap_stop() {
    sleep 0.5
    for p in "${CAPS[@]}"; do kill -INT "$p"; done
    for p in "${CAPS[@]}"; do wait "$p"; done
    cat "$T"/tcpdump*.log >&2
    CAPS=()
}
wait_port() {
    for _ in $(seq 100); do ss -ltnH "sport = :$1" | grep -q . && return 0; sleep 0.1; done
    echo "port $1 not listening" >&2; return 1
}
stop_pid() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
mkcert() {  # self-signed certificate for localhost / 127.0.0.1 in $T
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=localhost" \
        -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
        -keyout "$T/server.key" -out "$T/server.crt" 2>/dev/null
}
nginx_start() {  # $1 = site file in field/nginx/ (@T@ is replaced by the temp dir), $2 = port to wait for
    sed "s|@T@|$T|g" "$F/nginx/$1" > "$T/site.conf"
    cat > "$T/nginx.conf" <<EOF
daemon off; master_process off; worker_processes 1;
pid $T/nginx.pid; error_log $T/nginx-error.log info;
events { worker_connections 64; }
http {
    access_log $T/nginx-access.log;
    client_body_temp_path $T/cbt; proxy_temp_path $T/pt; fastcgi_temp_path $T/ft;
    uwsgi_temp_path $T/ut; scgi_temp_path $T/st;
    default_type text/html;
    include $T/site.conf;
}
EOF
    nginx -p "$F/" -e "$T/nginx-error.log" -c "$T/nginx.conf" &
    NGINX=$!
    wait_port "${2:-80}"
}
MOSQ_WS="listener 1883 127.0.0.1
allow_anonymous true
listener 8080 127.0.0.1
protocol websockets
allow_anonymous true"
mosq_start() {  # $1 = listener section
    cat > "$T/mosquitto.conf" <<EOF
user root
persistence false
log_dest stderr
log_type all
log_timestamp_format %Y-%m-%dT%H:%M:%S
per_listener_settings true
$1
EOF
    mosquitto -c "$T/mosquitto.conf" 2>"$T/mosquitto.log" &
    MOSQ=$!
    for p in $(awk '$1 == "listener" {print $2}' "$T/mosquitto.conf"); do wait_port "$p"; done
}
ejabberd_start() {  # ejabberd 23.01 in the foreground as user ejabberd, config field/ejabberd/ejabberd.yml
    mkdir -p "$T/ej/spool" "$T/ej/logs"; chown -R ejabberd:ejabberd "$T/ej"
    cp "$F/ejabberd/ejabberd.yml" "$T/ej/ejabberd.yml"
    printf 'ERL_OPTIONS="-env ERL_CRASH_DUMP_BYTES 0"\nEJABBERD_PID_PATH=%s\n' "$T/ej/spool/ejabberd.pid" > "$T/ej/ejabberdctl.cfg"
    EJ_ARGS=(--ctl-config "$T/ej/ejabberdctl.cfg" --config "$T/ej/ejabberd.yml" --spool "$T/ej/spool" --logs "$T/ej/logs")
    timeout 120 /usr/sbin/ejabberdctl "${EJ_ARGS[@]}" foreground > "$T/ej/foreground.log" 2>&1 &
    EJ=$!
    for _ in $(seq 300); do ss -ltnH "sport = :5280" | grep -q . && ss -ltnH "sport = :1883" | grep -q . && break; sleep 0.1; done
    sleep 0.5
}
ejabberd_stop() {
    timeout 30 /usr/sbin/ejabberdctl "${EJ_ARGS[@]}" stop >/dev/null 2>&1
    wait "$EJ" 2>/dev/null || stop_pid "$EJ"
    epmd -kill >/dev/null 2>&1  # the Erlang port mapper that erl started in this namespace
    cp "$T/ej/logs/ejabberd.log" "$OUT/$NAME.broker.log"
}
keep_logs() {  # copy the broker / proxy logs beside the capture
    [ -n "${MOSQ:-}" ] && cp "$T/mosquitto.log" "$OUT/$NAME.broker.log"
    [ -n "${NGINX:-}" ] && { cp "$T/nginx-error.log" "$OUT/$NAME.proxy.log"; echo "--- access.log" >> "$OUT/$NAME.proxy.log"; cat "$T/nginx-access.log" >> "$OUT/$NAME.proxy.log"; }
    return 0
}
mqttjs() { timeout 60 node "$F/field_mqttjs.js" --log "$OUT/$NAME.client.json" "$@"; }
paho() { timeout 60 $PY "$F/field_paho.py" "$@"; }

# ------------------------------------------------------------------ scenarios
# 1. proxy idle timeout shorter than the MQTT keep-alive: nginx proxy_read_timeout 5s, keep-alive 60 s.
#    MQTT.js subscribes + publishes once per session, then stays idle; nginx closes after 5 s idle;
#    MQTT.js reconnects 1 s later; it stops after the 3rd close.  Device side and both legs.
scn_idle_timeout_nginx() {
    mosq_start "$MOSQ_WS"
    nginx_start proxy-timeout5.conf
    cap_start "" "tcp port 80"
    cap_start "-both" "tcp port 80 or tcp port 8080"
    mqttjs --url ws://127.0.0.1/mqtt --client-id wsdoctor-idle-device --keepalive 60 --reconnect-ms 1000 \
        --closes 3 --script subpub --run-ms 40000
    cap_stop
    stop_pid "$NGINX"; stop_pid "$MOSQ"
    keep_logs
}

# 2. two devices with the same client id and auto-reconnect (1 s), the second starting 0.5 s after
#    the first: each connect takes the session over from the other one; both stop after 10 s.
takeover() {  # $1 = url, $2 = MQTT version, rest = extra device options; broker: $BROKER (mosquitto / ejabberd)
    local url=$1 pv=$2; shift 2
    if [ "${BROKER:-mosquitto}" = ejabberd ]; then ejabberd_start; else mosq_start "$MOSQ_WS"; fi
    local port=${url##*:}; port=${port%%/*}
    cap_start "" "tcp port $port"
    timeout 30 node "$F/field_mqttjs.js" --url "$url" --pv "$pv" --client-id wsdoctor-dup-id --keepalive 60 \
        --reconnect-ms 1000 --closes 1000 --run-ms 10000 --script pub --log "$T/devA.json" "$@" &
    local A=$!
    timeout 30 node "$F/field_mqttjs.js" --url "$url" --pv "$pv" --client-id wsdoctor-dup-id --keepalive 60 \
        --reconnect-ms 1000 --closes 1000 --run-ms 9500 --start-ms 500 --script pub --log "$T/devB.json" "$@"
    wait "$A"
    cap_stop
    if [ "${BROKER:-mosquitto}" = ejabberd ]; then ejabberd_stop; else stop_pid "$MOSQ"; fi
    $PY -c 'import json,sys; json.dump({"device_A": json.load(open(sys.argv[1])), "device_B_started_0.5s_later": json.load(open(sys.argv[2]))}, open(sys.argv[3], "w"), indent=1)' \
        "$T/devA.json" "$T/devB.json" "$OUT/$NAME.client.json"
    keep_logs
}
scn_clientid_takeover_mosquitto()       { takeover ws://127.0.0.1:8080/mqtt 4; }
scn_clientid_takeover_mosquitto_tcp()   { takeover mqtt://127.0.0.1:1883 4; }
scn_clientid_takeover_mosquitto_mqtt5() { takeover ws://127.0.0.1:8080/mqtt 5; }
scn_clientid_takeover_mosquitto_mqtt5_tcp() { takeover mqtt://127.0.0.1:1883 5; }
# the same with ejabberd's mod_mqtt (MQTT 5): it sends DISCONNECT 0x8E "Session taken over"
scn_clientid_takeover_ejabberd_mqtt5()     { BROKER=ejabberd takeover ws://127.0.0.1:5280/mqtt 5 --user device --pass x; }
scn_clientid_takeover_ejabberd_mqtt5_tcp() { BROKER=ejabberd takeover mqtt://127.0.0.1:1883 5 --user device --pass x; }

# 3. ws:// (plain HTTP Upgrade) to a TLS port.
scn_ws_plain_to_tls_port() {  # nginx "listen 443 ssl" (a working wss:// endpoint in front of mosquitto)
    mkcert
    mosq_start "$MOSQ_WS"
    nginx_start tls443.conf 443
    cap_start "" "tcp port 443"
    mqttjs --url ws://127.0.0.1:443/mqtt --client-id wsdoctor-plain-to-tls --reconnect-ms 1000 --closes 3
    cap_stop
    stop_pid "$NGINX"; stop_pid "$MOSQ"
    keep_logs
}
scn_ws_plain_to_tls_port_mosquitto_wss() {  # mosquitto websockets listener with TLS
    mkcert
    mosq_start "listener 1883 127.0.0.1
allow_anonymous true
listener 8081 127.0.0.1
protocol websockets
allow_anonymous true
certfile $T/server.crt
keyfile $T/server.key"
    cap_start "" "tcp port 8081"
    mqttjs --url ws://127.0.0.1:8081/mqtt --client-id wsdoctor-plain-to-tls --reconnect-ms 1000 --closes 3
    cap_stop
    stop_pid "$MOSQ"
    keep_logs
}
scn_ws_plain_to_tls_port_mosquitto_mqtts() {  # mosquitto MQTT-over-TLS listener 8883
    mkcert
    mosq_start "listener 1883 127.0.0.1
allow_anonymous true
listener 8883 127.0.0.1
allow_anonymous true
certfile $T/server.crt
keyfile $T/server.key"
    cap_start "" "tcp port 8883"
    mqttjs --url ws://127.0.0.1:8883/mqtt --client-id wsdoctor-plain-to-tls --reconnect-ms 1000 --closes 3
    cap_stop
    stop_pid "$MOSQ"
    keep_logs
}

# 4. wss:// (TLS ClientHello) to a plain port.
scn_tls_to_plain_port() {  # nginx plain port 80 (a working ws:// endpoint in front of mosquitto)
    mosq_start "$MOSQ_WS"
    nginx_start plain80.conf
    cap_start "" "tcp port 80"
    mqttjs --url wss://127.0.0.1:80/mqtt --insecure --client-id wsdoctor-tls-to-plain --reconnect-ms 1000 --closes 3
    cap_stop
    stop_pid "$NGINX"; stop_pid "$MOSQ"
    keep_logs
}
scn_tls_to_plain_port_mosquitto() {  # mosquitto's plain websockets listener 8080
    mosq_start "$MOSQ_WS"
    cap_start "" "tcp port 8080"
    mqttjs --url wss://127.0.0.1:8080/mqtt --insecure --client-id wsdoctor-tls-to-plain --reconnect-ms 1000 --closes 3
    cap_stop
    stop_pid "$MOSQ"
    keep_logs
}

# 5. a WebSocket MQTT client sent to a plain MQTT port.
scn_ws_upgrade_to_mqtt_port() {
    mosq_start "$MOSQ_WS"
    cap_start "" "tcp port 1883"
    mqttjs --url ws://127.0.0.1:1883/mqtt --client-id wsdoctor-ws-to-1883 --reconnect-ms 1000 --closes 3
    cap_stop
    stop_pid "$MOSQ"
    keep_logs
}
scn_ws_upgrade_to_mqtt_port_1884() {  # plain MQTT on a non-standard port, with a working session in the capture
    mosq_start "listener 1884 127.0.0.1
allow_anonymous true"
    cap_start "" "tcp port 1884"
    paho --transport tcp --port 1884 --client-id wsdoctor-tcp-ok --attempts 1 --publishes 2 --hold 4 \
        --log "$T/paho.json" &
    local P=$!
    sleep 0.5
    mqttjs --url ws://127.0.0.1:1884/mqtt --client-id wsdoctor-ws-to-1884 --reconnect-ms 1000 --closes 3
    wait "$P"
    cap_stop
    stop_pid "$MOSQ"
    $PY -c 'import json,sys; json.dump({"ws_device": json.load(open(sys.argv[1])), "tcp_device": json.load(open(sys.argv[2]))}, open(sys.argv[1], "w"), indent=1)' \
        "$OUT/$NAME.client.json" "$T/paho.json"
    keep_logs
}

# 6. wrong path: nginx serves WebSocket only on /mqtt, the device asks /ws.
scn_ws_path_not_found() {
    mosq_start "$MOSQ_WS"
    nginx_start mqtt-only.conf
    cap_start "" "tcp port 80"
    mqttjs --url ws://127.0.0.1/ws --client-id wsdoctor-wrong-path --reconnect-ms 1000 --closes 3
    cap_stop
    stop_pid "$NGINX"; stop_pid "$MOSQ"
    keep_logs
}
scn_ws_path_not_found_mixed() {  # the same, while another client has a working /mqtt session
    mosq_start "$MOSQ_WS"
    nginx_start mqtt-only.conf
    cap_start "" "tcp port 80"
    paho --transport websockets --port 80 --path /mqtt --client-id wsdoctor-right-path --attempts 1 \
        --publishes 2 --hold 3.5 --log "$T/paho.json" &
    local P=$!
    sleep 0.5
    mqttjs --url ws://127.0.0.1/ws --client-id wsdoctor-wrong-path --reconnect-ms 1000 --closes 3
    wait "$P"
    cap_stop
    stop_pid "$NGINX"; stop_pid "$MOSQ"
    $PY -c 'import json,sys; json.dump({"wrong_path_device": json.load(open(sys.argv[1])), "right_path_device": json.load(open(sys.argv[2]))}, open(sys.argv[1], "w"), indent=1)' \
        "$OUT/$NAME.client.json" "$T/paho.json"
    keep_logs
}

# 7. nginx without proxy_http_version 1.1 and the Upgrade/Connection lines: both legs, and device side.
scn_ws_proxy_drops_upgrade() {
    mosq_start "$MOSQ_WS"
    nginx_start drops-upgrade.conf
    cap_start "" "tcp port 80 or tcp port 8080"
    cap_start "-device" "tcp port 80"
    mqttjs --url ws://127.0.0.1/mqtt --client-id wsdoctor-behind-proxy --reconnect-ms 1000 --closes 3
    cap_stop
    stop_pid "$NGINX"; stop_pid "$MOSQ"
    keep_logs
}

# 8. the server reads the CONNECT and closes ~50 ms later without CONNACK (AWS IoT without a policy).
closed_before_connack() {  # $1 = server mode, $2 = port, $3 = url
    $PY "$F/field_server.py" --mode "$1" --port "$2" --conns 3 --delay 0.05 --log "$T/server.json" &
    SRV=$!
    wait_port "$2"
    cap_start "" "tcp port $2"
    mqttjs --url "$3" --client-id wsdoctor-no-policy --reconnect-ms 1000 --closes 3
    cap_stop
    wait "$SRV" 2>/dev/null || stop_pid "$SRV"
    cp "$T/server.json" "$OUT/$NAME.server.json"
}
scn_mqtt_closed_before_connack_tcp() { closed_before_connack connect-close-tcp 1883 mqtt://127.0.0.1:1883; }
scn_mqtt_closed_before_connack_ws()  { closed_before_connack connect-close-ws 80 ws://127.0.0.1/mqtt; }

# 9. the Upgrade gets no answer (../scenarios/odd_ws_server.py --mode noanswer: reads the request,
#    never answers, closes only after the client has closed).
scn_ws_upgrade_no_response_closed() {  # MQTT.js gives up after connectTimeout 3 s, retries once
    $PY "$S/odd_ws_server.py" --mode noanswer --conns 2 --log "$T/server.json" &
    SRV=$!
    wait_port 80
    cap_start "" "tcp port 80"
    mqttjs --url ws://127.0.0.1/mqtt --client-id wsdoctor-no-answer --connect-timeout 3000 --reconnect-ms 1000 --closes 2
    cap_stop
    wait "$SRV" 2>/dev/null || stop_pid "$SRV"
    cp "$T/server.json" "$OUT/$NAME.server.json"
}
scn_ws_upgrade_no_response_cut() {  # tcpdump is stopped 0.3 s after the connection is up, the GET unanswered
    $PY "$S/odd_ws_server.py" --mode noanswer --conns 1 --log "$T/server.json" &
    SRV=$!
    wait_port 80
    cap_start "" "tcp port 80"
    mqttjs --url ws://127.0.0.1/mqtt --client-id wsdoctor-no-answer --connect-timeout 20000 --reconnect-ms 0 \
        --closes 1 --run-ms 3000 &
    local C=$!
    for _ in $(seq 200); do ss -tnH state established '( dport = :80 )' | grep -q . && break; sleep 0.01; done
    date +%s.%N > "$T/established"
    sleep 0.3
    for p in "${CAPS[@]}"; do kill -INT "$p"; done
    for p in "${CAPS[@]}"; do wait "$p"; done
    date +%s.%N > "$T/capture-stopped"
    cat "$T"/tcpdump*.log >&2
    CAPS=()
    echo "established $(cat "$T/established"), tcpdump stopped $(cat "$T/capture-stopped")" > "$OUT/$NAME.capture.log"
    wait "$C"
    wait "$SRV" 2>/dev/null || stop_pid "$SRV"
    cp "$T/server.json" "$OUT/$NAME.server.json"
}

# 10. 101 without Sec-WebSocket-Protocol although the client offered mqtt (npm ws handleProtocols -> false,
#     aedes behind it).
noproto() {  # rest = client command
    timeout 60 node "$F/noproto_ws_server.js" --port 80 --run-for 12000 --log "$T/server.json" &
    SRV=$!
    wait_port 80
    cap_start "" "tcp port 80"
    "$@"
    cap_stop
    stop_pid "$SRV"
    cp "$T/server.json" "$OUT/$NAME.server.json"
}
scn_ws_subprotocol_mismatch()        { noproto mqttjs --url ws://127.0.0.1/mqtt --client-id wsdoctor-subproto --reconnect-ms 1000 --closes 3; }
scn_ws_subprotocol_mismatch_native() {  # Node 20's built-in WebSocket (undici) needs --experimental-websocket
    noproto timeout 60 node --experimental-websocket "$F/field_mqttjs.js" --log "$OUT/$NAME.client.json" \
        --url ws://127.0.0.1/mqtt --native --client-id wsdoctor-subproto --reconnect-ms 1000 --closes 3 --run-ms 8000
}
scn_ws_subprotocol_mismatch_paho()   { noproto paho --transport websockets --port 80 --path /mqtt --client-id wsdoctor-subproto-paho \
                                           --attempts 3 --publishes 1 --hold 0.3 --log "$OUT/$NAME.client.json"; }

# 11. "IIS 8.5" answering 101 without Sec-WebSocket-Accept.
scn_iis8_101_no_accept() {
    $PY "$F/field_server.py" --mode iis-101-noaccept --port 80 --conns 3 --log "$T/server.json" &
    SRV=$!
    wait_port 80
    cap_start "" "tcp port 80"
    mqttjs --url ws://127.0.0.1/mqtt --client-id wsdoctor-iis --reconnect-ms 1000 --closes 3
    cap_stop
    wait "$SRV" 2>/dev/null || stop_pid "$SRV"
    cp "$T/server.json" "$OUT/$NAME.server.json"
}

# 12. healthy controls through the same nginx (proxy_read_timeout 5s).
scn_ok_nginx_disconnect() {  # keep-alive 4 s < 5 s; subscribe, publish, DISCONNECT after 1 s
    mosq_start "$MOSQ_WS"
    nginx_start proxy-timeout5.conf
    cap_start "" "tcp port 80"
    mqttjs --url ws://127.0.0.1/mqtt --client-id wsdoctor-ok --keepalive 4 --reconnect-ms 0 --closes 1 \
        --script subpub --end-after 1000
    cap_stop
    stop_pid "$NGINX"; stop_pid "$MOSQ"
    keep_logs
}
scn_ok_nginx_keepalive() {  # keep-alive 3 s: PINGREQ/PINGRESP keep the idle session up for 12 s, then DISCONNECT
    mosq_start "$MOSQ_WS"
    nginx_start proxy-timeout5.conf
    cap_start "" "tcp port 80"
    mqttjs --url ws://127.0.0.1/mqtt --client-id wsdoctor-ok-ping --keepalive 3 --reconnect-ms 0 --closes 1 \
        --script subpub --end-after 12000
    cap_stop
    stop_pid "$NGINX"; stop_pid "$MOSQ"
    keep_logs
}

# ------------------------------------------------------------------ truth options per capture
truth_args() {
    case "$1" in
        idle-timeout-nginx-both.pcap|ws-proxy-drops-upgrade.pcap|tls-to-plain-port-mosquitto.pcap) echo "--http-port 8080" ;;
        clientid-takeover-mosquitto.pcap|clientid-takeover-mosquitto-mqtt5.pcap) echo "--http-port 8080" ;;
        clientid-takeover-ejabberd-mqtt5.pcap) echo "--http-port 5280" ;;
        ws-plain-to-tls-port.pcap) echo "--http-port 443" ;;
        ws-plain-to-tls-port-mosquitto-wss.pcap) echo "--http-port 8081" ;;
        ws-plain-to-tls-port-mosquitto-mqtts.pcap) echo "--http-port 8883" ;;
        ws-upgrade-to-mqtt-port.pcap) echo "--http-port 1883" ;;
        ws-upgrade-to-mqtt-port-1884.pcap) echo "--mqtt-port 1884" ;;
        *) echo "" ;;
    esac
}

# ------------------------------------------------------------------ driver
if [ "${1:-}" = "--inner" ]; then
    NAME=$2
    T=$TMPROOT/$NAME
    lo_setup
    "scn_${NAME//-/_}"
    exit $?
fi
if [ "${1:-}" = "--list" ]; then echo $ALL; exit 0; fi
[ $# -gt 0 ] && LIST="$*" || LIST=$ALL
mkdir -p "$OUT"
rc=0
for NAME in $LIST; do
    echo "=== $NAME" >&2
    T=$TMPROOT/$NAME
    rm -rf "$T"; mkdir -p "$T"
    if ! timeout 300 unshare -n "$SELF" --inner "$NAME"; then echo "!!! $NAME: scenario failed" >&2; rc=1; fi
    for cap in $(cat "$T/captures" 2>/dev/null); do
        [ -s "$OUT/$cap" ] || { echo "!!! $cap: empty" >&2; rc=1; continue; }
        # shellcheck disable=SC2046
        $PY "$TRUTH" $(truth_args "$cap") "$OUT/$cap" || rc=1
    done
done
exit $rc
