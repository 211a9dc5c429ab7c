#!/bin/bash
# Scenario captures for wsdoctor: failed / odd WebSocket upgrades (IIS stand-ins), WebSocket
# decoding cases and MQTT variety.  Real software on loopback, each scenario in its own network
# namespace (unshare -n), captured with tcpdump -i lo (Ethernet link type), then
# tshark-truth.py writes NAME.truth.json beside NAME.pcap.  See samples/README.md, "Scenario samples".
#
# usage (as root):  samples/gen/make-scenarios.sh [NAME...]      default: every scenario
#                   samples/gen/make-scenarios.sh --list
# needs: Debian tshark tcpdump mosquitto mosquitto-clients nginx-light
#        libnginx-mod-http-headers-more-filter python3-paho-mqtt iproute2 ethtool, nodejs/npm;
#        npm mqtt@5 ws aedes installed in $NODE_DIR:  (cd $NODE_DIR && npm install mqtt@5 ws aedes)
# env:   OUT (default samples/), NODE_DIR (default /work/scratch/samplesB),
#        TRUTH (default /work/shared/tools/tshark-truth.py), TMPROOT (default /tmp/wsdB)
set -u
GEN=$(cd "$(dirname "$0")" && pwd)
S=$GEN/scenarios
OUT=${OUT:-$(dirname "$GEN")}
NODE_DIR=${NODE_DIR:-/work/scratch/samplesB}
export NODE_PATH=$NODE_DIR/node_modules
TRUTH=${TRUTH:-/work/shared/tools/tshark-truth.py}
TMPROOT=${TMPROOT:-/tmp/wsdB}
PY=/usr/bin/python3
SELF=$GEN/$(basename "$0")

ALL="iis75-404 iis75-200 iis75-400 iis75-405 iis75-noserver-404 iis85-nows nginx-426 nginx-400
ws-no-response ws-reset ws-wrong-accept iis8-ok iis10-ok iis75-404-wise
ws-mqttjs-split ws-deflate ws-deflate-nocontext ws-large-64bit ws-close ws-close-server ws-101-coalesced
mqtt31-tcp mqtt5-tcp ws-mqtt31 ws-mqtt311 ws-mqtt5 mqtt5-props-alias mqtt-connect-refused ws-connect-refused
mqtt5-too-large hostile-strings"

# ------------------------------------------------------------------ helpers (inside the namespace)
lo_setup() {
    ip link set lo up
    ip link set lo mtu 1500
    ethtool -K lo tso off gso off gro off >/dev/null 2>&1 || echo "ethtool failed" >&2
}
cap_start() {  # $1 = capture filter
    tcpdump -i lo --immediate-mode -U -w "$OUT/$NAME.pcap" "$1" 2>"$T/tcpdump.log" &
    TCPD=$!
    for _ in $(seq 50); do grep -q "listening on" "$T/tcpdump.log" 2>/dev/null && break; sleep 0.1; done
}
cap_stop() { sleep 0.5; kill -INT "$TCPD"; wait "$TCPD"; cat "$T/tcpdump.log" >&2; }
wait_port() {
    for _ in $(seq 100); do ss -ltnH "sport = :$1" | grep -q . && return 0; sleep 0.1; done
    echo "port $1 not listening" >&2; return 1
}
stop_pid() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
nginx_start() {  # $1 = site file in scenarios/nginx/
    cat > "$T/nginx.conf" <<EOF
load_module /usr/lib/nginx/modules/ngx_http_headers_more_filter_module.so;
daemon off; master_process off; worker_processes 1;
pid $T/nginx.pid; error_log $T/nginx-error.log info;
events { worker_connections 64; }
http {
    access_log $T/nginx-access.log;
    client_body_temp_path $T/cbt; proxy_temp_path $T/pt; fastcgi_temp_path $T/ft;
    uwsgi_temp_path $T/ut; scgi_temp_path $T/st;
    default_type text/html;
    include $S/nginx/$1;
}
EOF
    nginx -p "$S/" -e "$T/nginx-error.log" -c "$T/nginx.conf" &
    NGINX=$!
    wait_port 80
}
MOSQ_AUTH="allow_anonymous true"
mosq_start() {  # $1 = extra config lines; plain listener 1883 + websockets 8080 on 127.0.0.1
    cat > "$T/mosquitto.conf" <<EOF
user root
persistence false
log_dest stderr
log_type all
${1:-}
listener 1883 127.0.0.1
$MOSQ_AUTH
listener 8080 127.0.0.1
protocol websockets
EOF
    mosquitto -c "$T/mosquitto.conf" 2>"$T/mosquitto.log" &
    MOSQ=$!
    wait_port 1883 && wait_port 8080
}
device() { timeout 60 $PY "$S/wise_device.py" --log "$OUT/$NAME.client.json" "$@"; }

# ------------------------------------------------------------------ scenarios
# Group 1: failed upgrades.  The "device" is wise_device.py (raw sockets, 3 attempts 1 s apart).
nginx_refusal() {  # $1 = site conf, rest = device args
    local site=$1; shift
    nginx_start "$site"
    cap_start "tcp port 80"
    device "$@"
    cap_stop
    stop_pid "$NGINX"
}
scn_iis75_404()          { nginx_refusal iis75-404.conf; }
scn_iis75_200()          { nginx_refusal iis75-200.conf; }
scn_iis75_400()          { nginx_refusal iis75-400.conf; }
scn_iis75_405()          { nginx_refusal iis75-405.conf; }
scn_iis75_noserver_404() { nginx_refusal iis75-noserver-404.conf; }
scn_iis85_nows()         { nginx_refusal iis85-nows.conf; }
scn_nginx_426()          { nginx_refusal nginx-426.conf --ws-version 8 --attempts 2; }
scn_nginx_400()          { nginx_refusal nginx-400.conf --no-key --attempts 2; }

odd_server() {  # $1 = mode, $2 = conns, rest = client command
    local mode=$1 conns=$2; shift 2
    $PY "$S/odd_ws_server.py" --mode "$mode" --conns "$conns" --log "$T/server.json" &
    SRV=$!
    wait_port 80
    cap_start "tcp port 80"
    "$@"
    sleep 0.5
    cap_stop
    wait "$SRV" 2>/dev/null || stop_pid "$SRV"
    cp "$T/server.json" "$OUT/$NAME.server.json"
}
scn_ws_no_response() { odd_server noanswer 1 device --attempts 1 --timeout 3; }
scn_ws_reset()       { odd_server reset 2 device --attempts 2; }
scn_ws_wrong_accept() {
    odd_server wrongaccept 3 timeout 60 node "$S/mqttjs_session.js" --url ws://127.0.0.1:80/mqtt \
        --attempts 3 --script none --log "$OUT/$NAME.client.json"
}

# Group 1 g: the WISE-like paho device against IIS 8 / IIS 10 stand-ins (nginx -> mosquitto ws)
# and against the IIS 7.5 stand-in.  Only the device-facing port 80 is captured.
wise_ok() {  # $1 = site conf
    mosq_start
    nginx_start "$1"
    cap_start "tcp port 80"
    timeout 60 $PY "$S/wise_paho.py" --attempts 3 --log "$OUT/$NAME.client.json" || true
    cap_stop
    stop_pid "$NGINX"; stop_pid "$MOSQ"
}
scn_iis8_ok()  { wise_ok iis8-ok.conf; }
scn_iis10_ok() { wise_ok iis10-ok.conf; }
scn_iis75_404_wise() {
    nginx_start iis75-404.conf
    cap_start "tcp port 80"
    timeout 60 $PY "$S/wise_paho.py" --attempts 3 --log "$OUT/$NAME.client.json" || true
    cap_stop
    stop_pid "$NGINX"
}

# Group 2: WebSocket decoding.  Port 8080 = mosquitto websockets listener or aedes+ws.
mqttjs() { timeout 60 node "$S/mqttjs_session.js" --log "$OUT/$NAME.client.json" "$@"; }
scn_ws_mqttjs_split() {
    mosq_start
    cap_start "tcp port 8080"
    mqttjs --url ws://127.0.0.1:8080/mqtt --script basic --client-id wsdoctor-split
    cap_stop
    stop_pid "$MOSQ"
}
aedes_ws() {  # $1 = deflate mode, rest = client args
    local mode=$1; shift
    timeout 60 node "$S/aedes_ws_server.js" --port 8080 --deflate "$mode" --run-for 15000 --log "$OUT/$NAME.server.json" "${AEDES_EXTRA[@]}" &
    SRV=$!
    wait_port 8080
    cap_start "tcp port 8080"
    "$@"
    cap_stop
    stop_pid "$SRV"
}
AEDES_EXTRA=()
scn_ws_deflate()           { aedes_ws on        mqttjs --url ws://127.0.0.1:8080/mqtt --script basic --deflate on --client-id wsdoctor-deflate; }
scn_ws_deflate_nocontext() { aedes_ws nocontext mqttjs --url ws://127.0.0.1:8080/mqtt --script basic --deflate nocontext --client-id wsdoctor-deflate-nocontext; }
scn_ws_large_64bit() {
    mosq_start
    cap_start "tcp port 8080"
    mqttjs --url ws://127.0.0.1:8080/mqtt --script large --big 150000 --client-id wsdoctor-large
    cap_stop
    stop_pid "$MOSQ"
}
scn_ws_close() {
    mosq_start
    cap_start "tcp port 8080"
    timeout 30 node "$S/ws_close_client.js" --url ws://127.0.0.1:8080/mqtt --mode client --log "$OUT/$NAME.client.json"
    cap_stop
    stop_pid "$MOSQ"
}
scn_ws_close_server() {
    AEDES_EXTRA=(--close-after 700)
    aedes_ws off timeout 30 node "$S/ws_close_client.js" --url ws://127.0.0.1:8080/mqtt --mode server --log "$OUT/$NAME.client.json"
}
scn_ws_101_coalesced() {
    odd_server coalesced 1 mqttjs --url ws://127.0.0.1:80/mqtt --script pub --deflate off --client-id wsdoctor-coalesced
}

# Group 3: MQTT variety (mosquitto: 1883 plain, 8080 websockets)
paho() { timeout 60 $PY "$S/paho_session.py" --log "$OUT/$NAME.client.json" "$@"; }
mosq_session() {  # $1 = filter, rest = client command
    local filter=$1; shift
    mosq_start "${MOSQ_EXTRA:-}"
    cap_start "$filter"
    "$@"
    cap_stop
    stop_pid "$MOSQ"
    cp "$T/mosquitto.log" "$OUT/$NAME.broker.log"
}
scn_mqtt31_tcp()  { mosq_session "tcp port 1883" paho --pv 31 --transport tcp --port 1883; }
scn_mqtt5_tcp()   { mosq_session "tcp port 1883" paho --pv 5 --transport tcp --port 1883; }
scn_ws_mqtt31()   { mosq_session "tcp port 8080" paho --pv 31 --transport websockets --port 8080; }
scn_ws_mqtt311()  { mosq_session "tcp port 8080" paho --pv 311 --transport websockets --port 8080; }
scn_ws_mqtt5()    { mosq_session "tcp port 8080" paho --pv 5 --transport websockets --port 8080; }
scn_mqtt5_props_alias() {
    MOSQ_EXTRA="max_topic_alias 10"
    mosq_session "tcp port 1883" mqttjs --url mqtt://127.0.0.1:1883 --pv 5 --script props --client-id wsdoctor-props
}
refused_setup() {
    mosquitto_passwd -b -c "$T/passwd" device s3cret >/dev/null 2>&1
    MOSQ_AUTH="allow_anonymous false
password_file $T/passwd"
}
scn_mqtt_connect_refused() {
    refused_setup
    mosq_start
    cap_start "tcp port 1883"
    {
        echo '# mosquitto_pub -V mqttv311 -u device -P wrong'
        timeout 10 mosquitto_pub -h 127.0.0.1 -p 1883 -V mqttv311 -i wsdoctor-bad311 -u device -P wrong -t wsdoctor/x -m hi -d 2>&1; echo "exit $?"
        sleep 0.5
        echo '# mosquitto_pub -V 5 -u device -P wrong'
        timeout 10 mosquitto_pub -h 127.0.0.1 -p 1883 -V 5 -i wsdoctor-bad5 -u device -P wrong -t wsdoctor/x -m hi -d 2>&1; echo "exit $?"
        sleep 0.5
        echo '# mosquitto_pub -V mqttv311 (no credentials)'
        timeout 10 mosquitto_pub -h 127.0.0.1 -p 1883 -V mqttv311 -i wsdoctor-anon -t wsdoctor/x -m hi -d 2>&1; echo "exit $?"
        sleep 0.5
        echo '# mosquitto_pub -V mqttv311 -u device -P s3cret (accepted)'
        timeout 10 mosquitto_pub -h 127.0.0.1 -p 1883 -V mqttv311 -i wsdoctor-good -u device -P s3cret -t wsdoctor/x -m hi -d 2>&1; echo "exit $?"
    } > "$OUT/$NAME.client.log"
    cap_stop
    stop_pid "$MOSQ"
    cp "$T/mosquitto.log" "$OUT/$NAME.broker.log"
}
scn_ws_connect_refused() {
    refused_setup
    mosq_session "tcp port 8080" mqttjs --url ws://127.0.0.1:8080/mqtt --pv 4 --script refused --user device --pass wrong --client-id wsdoctor-ws-bad
}
scn_mqtt5_too_large() {
    MOSQ_EXTRA="max_packet_size 2048"
    mosq_session "tcp port 1883" paho --pv 5 --transport tcp --port 1883 --script toolarge --big 4000
}
scn_hostile_strings() {
    mosq_start
    nginx_start hostile.conf
    cap_start "tcp port 80 or tcp port 1883"
    device --path '/mqtt/<script>alert(1)</script>' --attempts 1 \
        --header 'User-Agent: <img src=x onerror=alert(2)>' --log "$OUT/$NAME.device.json"
    paho --pv 311 --transport tcp --port 1883 --script hostile \
        --client-id '<script>alert(1)</script>' --topic 'wsdoctor/<img src=x onerror=alert(2)>'
    cap_stop
    stop_pid "$NGINX"; stop_pid "$MOSQ"
}

# ------------------------------------------------------------------ truth options per capture
truth_args() {
    case "$1" in
        ws-mqttjs-split|ws-deflate*|ws-large-64bit|ws-close*|ws-mqtt31*|ws-mqtt5|ws-connect-refused) echo "--http-port 8080" ;;
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
rc=0
for NAME in $LIST; do
    echo "=== $NAME" >&2
    T=$TMPROOT/$NAME
    rm -rf "$T"; mkdir -p "$T"
    rm -f "$OUT/$NAME".{pcap,truth.json,client.json,server.json,broker.log,client.log,device.json}
    if ! timeout 300 unshare -n "$SELF" --inner "$NAME"; then echo "!!! $NAME: scenario failed" >&2; rc=1; fi
    if [ -s "$OUT/$NAME.pcap" ]; then
        # shellcheck disable=SC2046
        $PY "$TRUTH" $(truth_args "$NAME") "$OUT/$NAME.pcap" || rc=1
    fi
done
exit $rc
