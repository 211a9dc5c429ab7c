#!/bin/bash
# HTTP CONNECT proxy captures for wsdoctor (project issue 11): MQTT over WebSocket (ws:// and wss://)
# and plain MQTT reaching the broker through an HTTP CONNECT proxy (Debian tinyproxy; squid for one
# comparison), and the proxy's refusals (407, 403, 5xx).  Real software on loopback, each scenario in
# its own network namespace and mount namespace (unshare -n -m: lo only, mtu 1500, offloads off;
# /etc/hosts bind-mounted inside so that broker.example is 127.0.0.1 for the proxy), captured with
# tcpdump -i lo (pcap, Ethernet link type), then tshark-truth.py writes NAME.truth.json.
# Style and helpers follow ../field/make.sh and ../tls/make.sh.  See samples/proxy/README.md.
#
# usage (as root):  samples/gen/proxy/make.sh [NAME...]      default: every scenario
#                   samples/gen/proxy/make.sh --list
# needs: Debian tinyproxy squid mosquitto nginx-light python3-paho-mqtt python3-socks tshark tcpdump
#        iproute2 ethtool util-linux; nodejs with npm mqtt@5 ws https-proxy-agent@7 in $NODE_DIR
#        (cd $NODE_DIR && npm install mqtt@5 ws https-proxy-agent@7)
# env:   OUT (default samples/proxy), NODE_DIR (default /work/scratch/node),
#        TRUTH (default /work/shared/tools/tshark-truth.py), TMPROOT (default /tmp/wsdP)
# The TLS certificates are the committed test ones of ../tls/certs/ (used by path).
set -u
G=$(cd "$(dirname "$0")" && pwd)          # samples/gen/proxy
C=$(dirname "$G")/tls/certs                # test CA + broker.example certificate
OUT=${OUT:-$(dirname "$(dirname "$G")")/proxy}
NODE_DIR=${NODE_DIR:-/work/scratch/node}
export NODE_PATH=$NODE_DIR/node_modules
TRUTH=${TRUTH:-/work/shared/tools/tshark-truth.py}
TMPROOT=${TMPROOT:-/tmp/wsdP}
PY=/usr/bin/python3
SELF=$G/$(basename "$0")
PROXY_PORT=8888                            # tinyproxy's default port (squid: 3128)

ALL="connect-wss connect-ws connect-ws-paho connect-mqtt connect-407 connect-403
connect-500-tinyproxy connect-503-squid connect-503-squid-timeout"

# ------------------------------------------------------------------ helpers (inside the namespace)
lo_setup() {
    ip link set lo up
    ip link set lo mtu 1500
    ethtool -K lo tso off gso off gro off >/dev/null 2>&1 || echo "ethtool failed" >&2
    printf '127.0.0.1 localhost broker.example\n' > "$T/hosts"
    mount --bind "$T/hosts" /etc/hosts     # private to this mount namespace
}
CAPS=()
cap_start() {  # $1 = capture name, $2 = capture filter
    local log="$T/tcpdump-$1.log"
    tcpdump -i lo -Z root --immediate-mode -U -w "$OUT/$1.pcap" "$2" 2>"$log" &
    CAPS+=($!)
    echo "$1.pcap" >> "$T/captures"
    for _ in $(seq 50); do grep -q "listening on" "$log" 2>/dev/null && break; sleep 0.1; done
}
cap_stop() {
    sleep 0.5
    for p in "${CAPS[@]}"; do kill -INT "$p"; done
    for p in "${CAPS[@]}"; do wait "$p"; done
    cat "$T"/tcpdump-*.log >&2
    CAPS=()
}
wait_port() {
    for _ in $(seq 100); do ss -ltnH "sport = :$1" | grep -q . && return 0; sleep 0.1; done
    echo "port $1 not listening" >&2; return 1
}
stop_pid() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }

# tinyproxy 1.11.1 in the foreground (-d), its log on stderr; $1 = extra config lines
tinyproxy_start() {
    cat > "$T/tinyproxy.conf" <<EOF
User nobody
Group nogroup
Port $PROXY_PORT
Listen 127.0.0.1
Timeout 60
LogLevel Info
MaxClients 20
Allow 127.0.0.1
${1:-}
EOF
    cp "$T/tinyproxy.conf" "$OUT/$NAME.tinyproxy.conf"
    timeout 60 tinyproxy -d -c "$T/tinyproxy.conf" 2>"$T/proxy.log" >&2 &
    PROXY=$!
    wait_port $PROXY_PORT
}
# squid 5.7 in the foreground (-N), no disk cache, logs in $T; $1 = extra config lines
squid_start() {
    mkdir -p "$T/squid"; chown proxy:proxy "$T/squid"
    cat > "$T/squid.conf" <<EOF
http_port 127.0.0.1:$PROXY_PORT
pid_filename $T/squid/squid.pid
cache deny all
cache_mem 8 MB
cache_log $T/squid/cache.log
access_log stdio:$T/squid/access.log
logfile_rotate 0
coredump_dir $T/squid
dns_nameservers 127.0.0.1
hosts_file /etc/hosts
shutdown_lifetime 1 seconds
visible_hostname proxy.example
acl SSL_ports port 443 1883 8080
acl CONNECT method CONNECT
http_access deny CONNECT !SSL_ports
http_access allow localhost
http_access deny all
${1:-}
EOF
    cp "$T/squid.conf" "$OUT/$NAME.squid.conf"
    timeout 60 squid -N -f "$T/squid.conf" >&2 &
    PROXY=$!
    wait_port $PROXY_PORT
}
proxy_log() {  # keep the proxy's own log beside the capture
    if [ -f "$T/proxy.log" ]; then cp "$T/proxy.log" "$OUT/$NAME.proxy.log"
    else { cat "$T/squid/cache.log"; echo "--- access.log"; cat "$T/squid/access.log"; } > "$OUT/$NAME.proxy.log"; fi
}
# mosquitto 2.0.11: plain MQTT on 1883, WebSocket on 8080 (libwebsockets), anonymous
mosq_start() {
    cat > "$T/mosquitto.conf" <<EOF
user root
persistence false
log_dest stderr
log_type all
log_timestamp_format %Y-%m-%dT%H:%M:%S
per_listener_settings true
listener 1883 127.0.0.1
allow_anonymous true
listener 8080 127.0.0.1
protocol websockets
allow_anonymous true
EOF
    timeout 60 mosquitto -c "$T/mosquitto.conf" 2>"$T/mosquitto.log" &
    MOSQ=$!
    wait_port 1883; wait_port 8080
}
mosq_stop() { stop_pid "$MOSQ"; cp "$T/mosquitto.log" "$OUT/$NAME.broker.log"; }
# nginx 1.22.1: TLS on 127.0.0.1:443 for broker.example (test CA's broker.pem), /mqtt -> mosquitto:8080
nginx_start() {
    cat > "$T/nginx.conf" <<EOF
daemon off; master_process off; worker_processes 1;
pid $T/nginx.pid; error_log $T/nginx-error.log info;
events { worker_connections 64; }
http {
    access_log $T/nginx-access.log;
    client_body_temp_path $T/cbt; proxy_temp_path $T/pt; fastcgi_temp_path $T/ft;
    uwsgi_temp_path $T/ut; scgi_temp_path $T/st;
    default_type text/plain;
    server {
        listen 127.0.0.1:443 ssl;
        server_name broker.example;
        ssl_certificate $C/broker-chain.pem;
        ssl_certificate_key $C/broker.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        location /mqtt {
            proxy_pass http://127.0.0.1:8080;
            proxy_http_version 1.1;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection "Upgrade";
            proxy_set_header Host \$host;
            proxy_read_timeout 60s;
        }
    }
}
EOF
    cp "$T/nginx.conf" "$OUT/$NAME.nginx.conf"
    timeout 60 nginx -p "$T/" -e "$T/nginx-error.log" -c "$T/nginx.conf" &
    NGINX=$!
    wait_port 443
}
nginx_stop() { stop_pid "$NGINX"; { cat "$T/nginx-error.log"; echo "--- access.log"; cat "$T/nginx-access.log"; } > "$OUT/$NAME.nginx.log"; }
mqttjs() {  # $1 = key log file or "", rest = proxy_mqttjs.js options
    local kl=$1; shift
    timeout 30 node ${kl:+--tls-keylog="$kl"} "$G/proxy_mqttjs.js" --proxy "http://127.0.0.1:$PROXY_PORT" \
        --log "$OUT/$NAME.client.json" "$@"
}
paho() { timeout 30 $PY "$G/proxy_paho.py" --proxy-port $PROXY_PORT --log "$OUT/$NAME.client.json" "$@"; }

# ------------------------------------------------------------------ scenarios
# 1. wss through the proxy: CONNECT broker.example:443, 200, TLS (SNI broker.example) to nginx, which
#    proxies the WebSocket to mosquitto.  Device leg, and a twin capture of both legs (proxy <-> nginx:443).
scn_connect_wss() {
    mosq_start; nginx_start
    tinyproxy_start "ConnectPort 443"
    cap_start "$NAME" "tcp port $PROXY_PORT"
    cap_start "connect-wss-both-legs" "tcp port $PROXY_PORT or tcp port 443"
    mqttjs "$OUT/$NAME.keys" --url wss://broker.example:443/mqtt --ca "$C/ca.pem" --client-id wsdoctor-proxy-wss \
        --reconnect-ms 0 --closes 1
    cap_stop
    stop_pid "$PROXY"; nginx_stop; mosq_stop; proxy_log
}
# 2. ws through the proxy: CONNECT broker.example:8080, 200, GET /mqtt Upgrade to mosquitto, MQTT in clear.
#    Device leg, and a twin capture of both legs (connect-both-legs: proxy <-> mosquitto:8080).
scn_connect_ws() {
    mosq_start
    tinyproxy_start "ConnectPort 8080"
    cap_start "$NAME" "tcp port $PROXY_PORT"
    cap_start "connect-both-legs" "tcp port $PROXY_PORT or tcp port 8080"
    mqttjs "" --url ws://broker.example:8080/mqtt --client-id wsdoctor-proxy-ws --reconnect-ms 0 --closes 1
    cap_stop
    stop_pid "$PROXY"; mosq_stop; proxy_log
}
# 2b. the same with paho 1.6.1 over websockets through PySocks (a second client implementation)
scn_connect_ws_paho() {
    mosq_start
    tinyproxy_start "ConnectPort 8080"
    cap_start "$NAME" "tcp port $PROXY_PORT"
    cap_start "connect-ws-paho-both-legs" "tcp port $PROXY_PORT or tcp port 8080"
    paho --transport websockets --host broker.example --port 8080 --client-id wsdoctor-proxy-ws-paho
    cap_stop
    stop_pid "$PROXY"; mosq_stop; proxy_log
}
# 3. plain MQTT through the proxy: CONNECT broker.example:1883, 200, MQTT (paho + PySocks)
scn_connect_mqtt() {
    mosq_start
    tinyproxy_start "ConnectPort 1883"
    cap_start "$NAME" "tcp port $PROXY_PORT"
    paho --transport tcp --host broker.example --port 1883 --client-id wsdoctor-proxy-mqtt
    cap_stop
    stop_pid "$PROXY"; mosq_stop; proxy_log
}
# 4. proxy with BasicAuth, the device sends no Proxy-Authorization: 407, reconnect 1 s, 3 attempts
scn_connect_407() {
    mosq_start
    tinyproxy_start "ConnectPort 8080
BasicAuth device s3cret"
    cap_start "$NAME" "tcp port $PROXY_PORT"
    mqttjs "" --url ws://broker.example:8080/mqtt --client-id wsdoctor-proxy-noauth --reconnect-ms 1000 --closes 3
    cap_stop
    stop_pid "$PROXY"; mosq_stop; proxy_log
}
# 5. the proxy does not allow CONNECT to the target port (ConnectPort 443 only, device wants 8080)
scn_connect_403() {
    mosq_start
    tinyproxy_start "ConnectPort 443"
    cap_start "$NAME" "tcp port $PROXY_PORT"
    mqttjs "" --url ws://broker.example:8080/mqtt --client-id wsdoctor-proxy-port --reconnect-ms 1000 --closes 3
    cap_stop
    stop_pid "$PROXY"; mosq_stop; proxy_log
}
# 6. CONNECT to a port where nothing listens (no broker running): tinyproxy's and squid's answers
scn_connect_500_tinyproxy() {
    tinyproxy_start "ConnectPort 8080"
    cap_start "$NAME" "tcp port $PROXY_PORT"
    mqttjs "" --url ws://broker.example:8080/mqtt --client-id wsdoctor-proxy-down --reconnect-ms 1000 --closes 3
    cap_stop
    stop_pid "$PROXY"; proxy_log
}
scn_connect_503_squid() {
    squid_start
    cap_start "$NAME" "tcp port $PROXY_PORT"
    mqttjs "" --url ws://broker.example:8080/mqtt --client-id wsdoctor-proxy-down --reconnect-ms 1000 --closes 3
    cap_stop
    stop_pid "$PROXY"; proxy_log
}
# 6b. the target drops SYNs (nftables in this namespace: SYNs to port 8080 dropped in the output hook,
#     a black-holed broker address): squid gives up after connect_timeout 2 s
scn_connect_503_squid_timeout() {
    printf '%s\n' 'table inet wsdP {' '  chain out {' '    type filter hook output priority 0; policy accept;' \
        '    tcp dport 8080 tcp flags & (syn | ack) == syn counter drop' '  }' '}' > "$T/drop.nft"
    nft -f "$T/drop.nft"
    squid_start "connect_timeout 2 seconds"
    cap_start "$NAME" "tcp port $PROXY_PORT"
    mqttjs "" --url ws://broker.example:8080/mqtt --client-id wsdoctor-proxy-blackhole --reconnect-ms 1000 --closes 3
    cap_stop
    stop_pid "$PROXY"; proxy_log
    nft list table inet wsdP >> "$OUT/$NAME.proxy.log"
}

# ------------------------------------------------------------------ truth options per capture
truth_args() {
    case "$1" in
        connect-wss.pcap|connect-wss-both-legs.pcap) echo "--http-port $PROXY_PORT --tls-keylog $OUT/connect-wss.keys" ;;
        *) echo "--http-port $PROXY_PORT" ;;
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
    rm -rf "$T"; mkdir -p "$T"; chmod 755 "$T"
    if ! timeout 120 unshare -n -m "$SELF" --inner "$NAME"; then echo "!!! $NAME: scenario failed" >&2; rc=1; fi
    for cap in $(cat "$T/captures" 2>/dev/null); do
        [ -s "$OUT/$cap" ] || { echo "!!! $cap: empty" >&2; rc=1; continue; }
        # shellcheck disable=SC2046
        $PY "$TRUTH" $(truth_args "$cap") "$OUT/$cap" || rc=1
    done
done
exit $rc
