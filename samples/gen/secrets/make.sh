#!/bin/bash
# Captures whose traffic carries secrets (samples/secrets/): JWTs in a query
# parameter, an Authorization header and a subprotocol, cookies both ways,
# token / signature query parameters, Azure-IoT-style SAS tokens as MQTT
# password and user name, MQTT 5 enhanced-authentication data.  Real software
# on loopback, each scenario in its own network namespace (unshare -n), lo with
# mtu 1500 and offloads off, tcpdump -i lo; then tshark-truth.py.  All secrets
# are made up here (throw-away keys); NAME.client.json lists them ("secrets").
#
# usage (as root): samples/gen/secrets/make.sh [ws-jwt-bearer] [mqtt-azure-sas]
# needs: tcpdump mosquitto nginx-light python3-paho-mqtt tshark ethtool, node with
#        npm mqtt@5 ws in $NODE_DIR (default /work/scratch/node)
set -u
GEN=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-$(cd "$GEN/../.." && pwd)/secrets}
NODE_DIR=${NODE_DIR:-/work/scratch/node}
export NODE_PATH=$NODE_DIR/node_modules
TRUTH=${TRUTH:-/work/shared/tools/tshark-truth.py}
TMPROOT=${TMPROOT:-/tmp/wsd-secrets}
PY=/usr/bin/python3
SELF=$GEN/$(basename "$0")

lo_setup() {
    ip link set lo up
    ip link set lo mtu 1500
    ethtool -K lo tso off gso off gro off >/dev/null 2>&1 || echo "ethtool failed" >&2
}
wait_port() {
    for _ in $(seq 100); do ss -ltnH "sport = :$1" | grep -q . && return 0; sleep 0.1; done
    echo "port $1 not listening" >&2; return 1
}
stop_pid() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
cap_start() {
    tcpdump -i lo --immediate-mode -U -w "$OUT/$NAME.pcap" "$1" 2>"$T/tcpdump.log" &
    TCPD=$!
    for _ in $(seq 50); do grep -q "listening on" "$T/tcpdump.log" 2>/dev/null && break; sleep 0.1; done
}
cap_stop() { sleep 0.5; kill -INT "$TCPD"; wait "$TCPD"; cat "$T/tcpdump.log" >&2; }
mosq_start() {
    cat > "$T/mosquitto.conf" <<EOC
user root
persistence false
log_dest stderr
log_type all
listener 1883 127.0.0.1
allow_anonymous true
listener 8080 127.0.0.1
protocol websockets
# libwebsockets' default of 1024 bytes of headers is too small for requests
# with JWTs (mosquitto closes them: nginx answers 502)
websockets_headers_size 4096
EOC
    timeout 120 mosquitto -c "$T/mosquitto.conf" 2>"$T/mosquitto.log" &
    MOSQ=$!
    wait_port 1883 && wait_port 8080
}
nginx_start() {
    cat > "$T/nginx.conf" <<EOC
daemon off; master_process off; worker_processes 1;
pid $T/nginx.pid; error_log $T/nginx-error.log info;
events { worker_connections 64; }
http {
    access_log $T/nginx-access.log;
    client_body_temp_path $T/cbt; proxy_temp_path $T/pt; fastcgi_temp_path $T/ft;
    uwsgi_temp_path $T/ut; scgi_temp_path $T/st;
    default_type text/plain;
    include $GEN/site.conf;
}
EOC
    timeout 120 nginx -p "$T/" -e "$T/nginx-error.log" -c "$T/nginx.conf" &
    NGINX=$!
    wait_port 80
}

scn_ws_jwt_bearer() {
    mosq_start
    timeout 60 node "$GEN/../scenarios/aedes_ws_server.js" --port 8081 --run-for 20000 --log "$T/server.json" &
    AEDES=$!
    wait_port 8081
    nginx_start
    cap_start "tcp port 80"
    timeout 60 node "$GEN/ws_secrets.js" --log "$OUT/$NAME.client.json"
    cap_stop
    stop_pid "$NGINX"; stop_pid "$MOSQ"; stop_pid "$AEDES"
    cp "$T/mosquitto.log" "$OUT/$NAME.broker.log"
    cp "$T/server.json" "$OUT/$NAME.server.json"
}
scn_mqtt_azure_sas() {
    mosq_start
    cap_start "tcp port 1883 or tcp port 8080"
    timeout 60 $PY "$GEN/sas_paho.py" --log "$OUT/$NAME.client.json"
    cap_stop
    stop_pid "$MOSQ"
    cp "$T/mosquitto.log" "$OUT/$NAME.broker.log"
}
truth_args() {
    case "$1" in
        mqtt-azure-sas) echo "--http-port 8080" ;;
        *) echo "" ;;
    esac
}

if [ "${1:-}" = "--inner" ]; then
    NAME=$2
    T=$TMPROOT/$NAME
    lo_setup
    "scn_${NAME//-/_}"
    exit $?
fi
[ $# -gt 0 ] && LIST="$*" || LIST="ws-jwt-bearer mqtt-azure-sas"
mkdir -p "$OUT"
rc=0
for NAME in $LIST; do
    echo "=== $NAME" >&2
    T=$TMPROOT/$NAME
    rm -rf "$T"; mkdir -p "$T"
    rm -f "$OUT/$NAME".{pcap,truth.json,client.json,broker.log,server.json}
    if ! timeout 300 unshare -n "$SELF" --inner "$NAME"; then echo "!!! $NAME: scenario failed" >&2; rc=1; fi
    if [ -s "$OUT/$NAME.pcap" ]; then
        # shellcheck disable=SC2046
        $PY "$TRUTH" $(truth_args "$NAME") "$OUT/$NAME.pcap" || rc=1
    fi
done
exit $rc
