#!/bin/bash
# Tunnel captures for wsdoctor (issue 11): a real MQTT-over-WebSocket session (mosquitto websockets
# listener + paho over websockets) and a refused upgrade at an "IIS 7.5 stand-in" (nginx-light with
# headers-more, 404 for /mqtt; wise_device.py, 3 attempts), between two network namespaces joined by
# a veth pair, through a tunnel, captured on the veth: the file holds the encapsulated packets.
#
# This kernel has no GRE / ERSPAN / IP-in-IP / sit / ip6tnl (`ip link add ... type gre` answers
# "Unknown device type"), so those tunnels are made by tund.py (beside this script): a userspace
# tunnel endpoint on a TUN/TAP device that writes the tunnel header and sends it through a raw IP
# socket (the kernel writes the outer IP header).  VXLAN is the kernel's own (CONFIG_VXLAN=y).
# The untunnelled twins (plain4, plain6) are the same scenario on the bare veth.
#
# usage (as root):  samples/gen/tunnel/make.sh [NAME...]     default: all;  --list names them
# needs: Debian tshark tcpdump mosquitto nginx-light libnginx-mod-http-headers-more-filter
#        python3-paho-mqtt iproute2 ethtool nftables
# env:   OUT (default samples/tunnel), TRUTH (default /work/shared/tools/tshark-truth.py)
set -u
GEN=$(cd "$(dirname "$0")" && pwd)
S=$(cd "$GEN/../scenarios" && pwd)          # the existing scenario helpers, reused by path
OUT=${OUT:-$(cd "$GEN/../.." && pwd)/tunnel}
TRUTH=${TRUTH:-/work/shared/tools/tshark-truth.py}
PY=/usr/bin/python3
TMPROOT=${TMPROOT:-/tmp/wsdT}
mkdir -p "$OUT" "$TMPROOT"

ALL="plain4 plain6 gre gre6 gretap erspan1 erspan2 erspan3 ip6erspan ipip sit ip4ip6 ip6ip6 vxlan erspan-mirror ppi-80211 paho-socketpair"

NS=()
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    PIDS=()
    for n in "${NS[@]}"; do ip netns del "$n" 2>/dev/null; done
    NS=()
}
trap cleanup EXIT

nx() { local n=$1; shift; ip netns exec "$n" "$@"; }
mkns() {
    ip netns add "$1"; NS+=("$1")
    nx "$1" ip link set lo up
}
noipv6() { nx "$1" sysctl -qw "net.ipv6.conf.$2.disable_ipv6=1"; }
nooffload() { nx "$1" ethtool -K "$2" tso off gso off gro off >/dev/null 2>&1 || true; }
wait_file() { for _ in $(seq 100); do [ -e "$1" ] && return 0; sleep 0.1; done; echo "timeout waiting for $1" >&2; return 1; }
wait_port() {  # ns port
    for _ in $(seq 100); do nx "$1" ss -ltnH "sport = :$2" | grep -q . && return 0; sleep 0.1; done
    echo "port $2 not listening nx $1" >&2; return 1
}

# ---------------------------------------------------------------- topology
# A (clients) --veth va/vb-- B (servers).  Outer addresses 192.0.2.1/2, 2001:db8::1/2.
pair() {  # $1 = outer family 4|6
    A=wsdT-A; B=wsdT-B
    mkns $A; mkns $B
    ip link add va netns $A type veth peer name vb netns $B
    for x in "$A va 1" "$B vb 2"; do
        set -- $x
        nx $1 ip link set $2 up mtu 1500
        nooffload $1 $2
        nx $1 ip addr add 192.0.2.$3/24 dev $2
        nx $1 ip addr add 2001:db8::$3/64 dev $2 nodad
    done
}
# The inner side: device DEV in A and B with the inner addresses (10.11.0.1/2 or fd11::1/2).
inner_addr() {  # ns dev n family tun|tap
    local ns=$1 dev=$2 n=$3 fam=$4 kind=$5
    if [ "$fam" = 6 ]; then
        nx $ns ip addr add fd11::$n/64 dev $dev nodad
    else
        noipv6 $ns $dev
        if [ "$kind" = tun ]; then
            nx $ns ip addr add 10.11.0.$n peer 10.11.0.$((3 - n)) dev $dev
        else
            nx $ns ip addr add 10.11.0.$n/24 dev $dev
        fi
    fi
}
# tund-made tunnel: $1 mode, $2 outer family, $3 inner family, $4 device MTU, rest: tund options
tund_tunnel() {
    local mode=$1 ofam=$2 ifam=$3 mtu=$4; shift 4
    local kind=tun
    case $mode in gretap|erspan*) kind=tap ;; esac
    local la=192.0.2.1 lb=192.0.2.2
    [ "$ofam" = 6 ] && { la=2001:db8::1; lb=2001:db8::2; }
    for x in "$A tA $la $lb 1" "$B tB $lb $la 2"; do
        set -- $x
        nx $1 ip tuntap add dev $2 mode $kind
        [ $kind = tap ] && nx $1 ip link set dev $2 address 02:00:00:00:11:0$5
        ip netns exec $1 timeout 120 $PY "$GEN/tund.py" --mode $mode --dev $2 --local $3 --remote $4 \
            --ready "$T/ready-$2" --log "$T/tund-$2.json" "${TUND_OPTS[@]}" &
        PIDS+=($!)
        wait_file "$T/ready-$2" || return 1
        nx $1 ip link set $2 up mtu $mtu
        nooffload $1 $2
        inner_addr $1 $2 $5 $ifam $kind
    done
    TUNNEL_DESC="tund.py --mode $mode ${TUND_OPTS[*]}; outer IPv$ofam, inner IPv$ifam, device MTU $mtu"
}

# ---------------------------------------------------------------- servers and clients
servers() {  # in B: mosquitto (1883 + websockets 8080) and the IIS 7.5 stand-in on 80
    cat > "$T/mosquitto.conf" <<EOF
user root
persistence false
log_dest stderr
log_type all
listener 1883
allow_anonymous true
listener 8080
protocol websockets
EOF
    ip netns exec $B mosquitto -c "$T/mosquitto.conf" 2>"$T/mosquitto.log" &
    PIDS+=($!)
    # The IIS 7.5 stand-in of samples/gen/scenarios/nginx/iis75-404.conf, listening on every address.
    sed -e 's/listen 127.0.0.1:80;/listen 80; listen [::]:80;/' "$S/nginx/iis75-404.conf" > "$T/site.conf"
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
    include $T/site.conf;
}
EOF
    ip netns exec $B nginx -p "$S/" -e "$T/nginx-error.log" -c "$T/nginx.conf" &
    PIDS+=($!)
    wait_port $B 1883 && wait_port $B 8080 && wait_port $B 80
}
clients() {  # $1 = the server's inner address
    nx $A timeout 60 $PY "$S/wise_device.py" --host "$1" --attempts 3 --log "$OUT/$NAME.device.json"
    nx $A timeout 60 $PY "$S/paho_session.py" --pv 311 --transport websockets --host "$1" --port 8080 \
        --log "$OUT/$NAME.client.json"
}
capture() {  # ns dev: the whole session, no filter
    CAPNS=$1
    ip netns exec $1 tcpdump -i "$2" --immediate-mode -U -w "$OUT/$NAME.pcap" 2>"$T/tcpdump.log" &
    TCPD=$!
    for _ in $(seq 50); do grep -q "listening on" "$T/tcpdump.log" 2>/dev/null && break; sleep 0.1; done
}
capture_stop() { sleep 0.5; kill -INT "$TCPD"; wait "$TCPD"; cat "$T/tcpdump.log" >&2; }

# A whole scenario: topology function, then servers, capture on va, clients.
session() {  # $1 = inner family
    local srv=10.11.0.2
    [ "$1" = 6 ] && srv=fd11::2
    servers || return 1
    sleep 0.3
    capture $A va
    clients $srv
    capture_stop
}

# ---------------------------------------------------------------- scenarios
TUND_OPTS=()
scn_plain4() {
    pair 4
    for x in "$A va 1" "$B vb 2"; do set -- $x; nx $1 ip addr add 10.11.0.$3/24 dev $2; done
    TUNNEL_DESC="no tunnel: 10.11.0.1/24 and 10.11.0.2/24 on the veth"
    session 4
}
scn_plain6() {
    pair 6
    for x in "$A va 1" "$B vb 2"; do set -- $x; nx $1 ip addr add fd11::$3/64 dev $2 nodad; done
    TUNNEL_DESC="no tunnel: fd11::1/64 and fd11::2/64 on the veth"
    session 6
}
scn_gre()       { pair 4; TUND_OPTS=(--key 42 --seq --csum); tund_tunnel gre 4 4 1476 && session 4; }
scn_gre6()      { pair 6; TUND_OPTS=();                       tund_tunnel gre 6 4 1456 && session 4; }
scn_gretap()    { pair 4; TUND_OPTS=(--key 7);                tund_tunnel gretap 4 4 1454 && session 4; }
scn_erspan1()   { pair 4; TUND_OPTS=();                       tund_tunnel erspan1 4 4 1462 && session 4; }
scn_erspan2()   { pair 4; TUND_OPTS=(--session 100 --index 3); tund_tunnel erspan2 4 4 1450 && session 4; }
scn_erspan3()   { pair 4; TUND_OPTS=(--session 200 --hwid 5 --subheader --index 9); tund_tunnel erspan3 4 4 1438 && session 4; }
scn_ip6erspan() { pair 6; TUND_OPTS=(--session 300);           tund_tunnel erspan3 6 4 1426 && session 4; }
scn_ipip()      { pair 4; TUND_OPTS=(); tund_tunnel ip 4 4 1480 && session 4; }
scn_sit()       { pair 4; TUND_OPTS=(); tund_tunnel ip 4 6 1480 && session 6; }
scn_ip4ip6()    { pair 6; TUND_OPTS=(); tund_tunnel ip 6 4 1460 && session 4; }
scn_ip6ip6()    { pair 6; TUND_OPTS=(); tund_tunnel ip 6 6 1460 && session 6; }
scn_vxlan() {
    pair 4
    for x in "$A 192.0.2.1 192.0.2.2 1" "$B 192.0.2.2 192.0.2.1 2"; do
        set -- $x
        nx $1 ip link add vx0 type vxlan id 42 local $2 remote $3 dstport 4789 dev $( [ $4 = 1 ] && echo va || echo vb )
        nx $1 ip link set vx0 address 02:00:00:00:22:0$4
        nx $1 ip link set vx0 up mtu 1450
        nooffload $1 vx0
        inner_addr $1 vx0 $4 4 tap
    done
    TUNNEL_DESC="kernel VXLAN: ip link add vx0 type vxlan id 42 local A remote B dstport 4789 dev va; MTU 1450"
    session 4
}
# A switch with a SPAN session: namespace W bridges A and B (br0 with ports pa, pb); tc mirrors
# every frame entering and leaving both ports (clsact + u32 match-all + mirred) into two TAP
# devices that tund.py --mode mirror reads and sends as ERSPAN type II (session 100, index 1 for
# ingress copies, 2 for egress copies) to the collector namespace M, which drops them (nft) after
# tcpdump has seen them.  Every frame of the session is in the file twice.
scn_erspan_mirror() {
    A=wsdT-A; B=wsdT-B; W=wsdT-W; M=wsdT-M
    for n in $A $B $W $M; do mkns $n; done
    ip link add ca netns $A type veth peer name pa netns $W
    ip link add cb netns $B type veth peer name pb netns $W
    ip link add wm netns $W type veth peer name mw netns $M
    nx $W ip link add br0 type bridge
    for d in pa pb br0; do noipv6 $W $d; done
    for d in pa pb; do nx $W ip link set $d master br0; nx $W ip link set $d up; nooffload $W $d; done
    nx $W ip link set br0 up
    for x in "$A ca 1" "$B cb 2"; do
        set -- $x
        noipv6 $1 $2
        nx $1 ip link set $2 up mtu 1500
        nooffload $1 $2
        nx $1 ip addr add 10.11.0.$3/24 dev $2
    done
    for x in "$W wm 1" "$M mw 2"; do
        set -- $x
        noipv6 $1 $2
        nx $1 ip link set $2 up mtu 1600
        nooffload $1 $2
        nx $1 ip addr add 192.0.2.$3/24 dev $2
    done
    nx $M nft add table inet collector
    nx $M nft add chain inet collector input_gre '{ type filter hook input priority 0; }'
    nx $M nft add rule inet collector input_gre meta l4proto gre drop
    for d in span_in span_out; do nx $W ip tuntap add dev $d mode tap; noipv6 $W $d; done
    ip netns exec $W timeout 120 $PY "$GEN/tund.py" --mode mirror --mirror span_in:1 --mirror span_out:2 \
        --local 192.0.2.1 --remote 192.0.2.2 --session 100 --ready "$T/ready-mirror" --log "$T/tund-mirror.json" &
    PIDS+=($!)
    wait_file "$T/ready-mirror" || return 1
    for d in span_in span_out; do nx $W ip link set $d up; done
    for p in pa pb; do
        nx $W tc qdisc add dev $p clsact
        nx $W tc filter add dev $p ingress protocol all u32 match u32 0 0 action mirred egress mirror dev span_in
        nx $W tc filter add dev $p egress protocol all u32 match u32 0 0 action mirred egress mirror dev span_out
    done
    TUNNEL_DESC="bridge W (br0: pa, pb), tc mirred of ingress+egress of both ports -> tund.py --mode mirror (ERSPAN II)"
    servers || return 1
    sleep 0.3
    capture $M mw
    clients 10.11.0.2
    capture_stop
}

# PPI (link type 192) around 802.11: derived (no Wi-Fi here): plain4's frames rewritten by
# ppi-wrap.py as the 802.11 data frames an access point carries, inside a PPI header.
scn_ppi_80211() {
    [ -s "$OUT/plain4.pcap" ] || { echo "ppi-80211 needs plain4.pcap first" >&2; return 1; }
    $PY "$GEN/ppi-wrap.py" "$OUT/plain4.pcap" "$OUT/$NAME.pcap"
    TUNNEL_DESC="derived from plain4.pcap by ppi-wrap.py (PPI + 802.11 data frames with LLC/SNAP)"
}

# paho's internal wake-up socket pair: everything on lo (no port filter), so the TCP connection
# paho 1.6 opens to itself (and writes a byte to whenever publish() or disconnect() must wake its
# loop) is in the capture beside the MQTT-over-WebSocket session: paho_many.py publishes 80
# messages from the main thread while paho's loop thread runs.
scn_paho_socketpair() {
    A=wsdT-A; B=$A
    mkns $A
    nx $A ip link set lo mtu 1500
    nooffload $A lo
    servers || return 1
    sleep 0.3
    capture $A lo
    nx $A timeout 60 $PY "$GEN/paho_many.py" --host 127.0.0.1 --port 8080 --count 80 \
        --log "$OUT/$NAME.client.json"
    capture_stop
    TUNNEL_DESC="no tunnel: lo of one namespace, tcpdump -i lo without a filter; paho_many.py (80 publishes) over websockets to mosquitto"
}

# ---------------------------------------------------------------- main
if [ "${1:-}" = "--list" ]; then echo $ALL; exit 0; fi
NAMES=${*:-$ALL}
for NAME in $NAMES; do
    fn=scn_${NAME//-/_}
    if ! declare -f "$fn" >/dev/null; then echo "unknown scenario $NAME" >&2; exit 2; fi
    T=$TMPROOT/$NAME
    rm -rf "$T"; mkdir -p "$T"
    echo "== $NAME" >&2
    TUNNEL_DESC=""
    if $fn; then :; else echo "$NAME FAILED" >&2; fi
    cleanup
    cp "$T/mosquitto.log" "$OUT/$NAME.broker.log" 2>/dev/null || true
    for f in "$T"/tund-*.json; do [ -e "$f" ] && cat "$f"; done > "$OUT/$NAME.tund.log" 2>/dev/null
    [ -s "$OUT/$NAME.tund.log" ] || rm -f "$OUT/$NAME.tund.log"
    echo "$NAME: $TUNNEL_DESC" >> "$OUT/make.log"
    if [ -s "$OUT/$NAME.pcap" ]; then
        $PY "$TRUTH" --http-port 8080 "$OUT/$NAME.pcap" >&2
        $PY "$GEN/inner-endpoints.py" "$OUT/$NAME.pcap"
    fi
done
