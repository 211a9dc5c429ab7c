#!/bin/bash
# Regenerate the "transport and format" samples of samples/README.md.
#
#   samples/gen/make-transport.sh [NAME...]      (as root; default: all)
#
# Every scenario runs in its own network namespace (unshare -n), with only lo up,
# lo MTU 1500 and TSO/GSO/GRO off (so TCP segments are wire-sized).  Real software
# only: mosquitto 2.0.11 broker, mosquitto_pub/_sub, python3-paho-mqtt 1.6.1,
# captured with tcpdump 4.99.3 / dumpcap (Wireshark 4.0.17).  Loss and reordering
# come from the kernel (nftables "numgen random" drop, HTB + priority classes):
# this kernel has no sch_netem.  Derived samples (truncated, gap, midstream,
# seq-wrap, gz) are cut from the captures made here; see README.md.
#
# Needs: tshark tcpdump mosquitto mosquitto-clients python3-paho-mqtt iproute2
#        ethtool nftables (Debian 12).
set -u
GEN="$(cd "$(dirname "$0")" && pwd)"
OUT="$(cd "$GEN/.." && pwd)"
TRUTH=${TRUTH:-/work/shared/tools/tshark-truth.py}
SELF="$GEN/$(basename "$0")"

# ------------------------------------------------------------------ inside a namespace
ns_setup() {
    ip link set lo up
    ip link set lo mtu 1500
    ethtool -K lo tso off gso off gro off >/dev/null
}

WORK=""
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    sleep 0.3
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    [ -n "$WORK" ] && rm -rf "$WORK"
}

broker() {   # broker CONFIG-LINES...
    printf '%s\n' "allow_anonymous true" "persistence false" "log_dest stderr" "$@" > "$WORK/mosquitto.conf"
    timeout 60 mosquitto -c "$WORK/mosquitto.conf" 2>"$WORK/mosquitto.log" &
    PIDS+=($!)
    sleep 0.7
}

capture_start() {   # capture_start FILE tcpdump|dumpcap ARGS...
    local file=$1 tool=$2; shift 2
    rm -f "$file"
    if [ "$tool" = dumpcap ]; then
        timeout 60 dumpcap -q -i lo -w "$file" "$@" 2>"$WORK/cap.log" &
    else
        timeout 60 tcpdump -i lo --immediate-mode -U -B 8192 -w "$file" "$@" 2>"$WORK/cap.log" &
    fi
    CAP=$!
    sleep 1.2
}

capture_stop() {
    sleep 0.7
    kill -INT "$CAP" 2>/dev/null
    wait "$CAP" 2>/dev/null
    cat "$WORK/cap.log" >&2
}

# MQTT 3.1.1 over TCP with mosquitto_sub + mosquitto_pub: QoS 0/1/2, clean disconnects.
mqtt_session() {   # mqtt_session HOST [PORT]
    local h=$1 port=${2:-1883}
    timeout 15 mosquitto_sub -h "$h" -p "$port" -V mqttv311 -i wsd-sub -t 'wsd/tcp/#' -q 2 -C 4 -W 12 -v \
        > "$WORK/sub.out" &
    local sub=$!
    sleep 0.6
    timeout 5 mosquitto_pub -h "$h" -p "$port" -V mqttv311 -i wsd-pub0 -t wsd/tcp/q0 -q 0 -m 'hello qos0'
    sleep 0.2
    timeout 5 mosquitto_pub -h "$h" -p "$port" -V mqttv311 -i wsd-pub1 -t wsd/tcp/q1 -q 1 -m 'hello qos1'
    sleep 0.2
    timeout 5 mosquitto_pub -h "$h" -p "$port" -V mqttv311 -i wsd-pub2 -t wsd/tcp/q2 -q 2 -m 'hello qos2'
    sleep 0.2
    # one message larger than the MSS (spans TCP segments)
    head -c 3000 /dev/zero | tr '\0' 'z' > "$WORK/big"
    timeout 5 mosquitto_pub -h "$h" -p "$port" -V mqttv311 -i wsd-pub3 -t wsd/tcp/big -q 1 -f "$WORK/big"
    wait "$sub"
    echo "subscriber got $(wc -l < "$WORK/sub.out") lines" >&2
}

# One client that pushes SIZE bytes as one QoS 1 PUBLISH (mosquitto_pub -f) to the broker;
# no subscriber, so the capture holds that single connection, SYN to FIN.
mqtt_bulk() {   # mqtt_bulk SIZE
    head -c "$1" /dev/zero | tr '\0' 'b' > "$WORK/bulk"
    timeout 20 mosquitto_pub -h 127.0.0.1 -V mqttv311 -i wsd-bulk-pub -t wsd/bulk -q 1 -f "$WORK/bulk" \
        || echo "mosquitto_pub failed" >&2
}

inner() {
    local name=$1
    WORK=$(mktemp -d /tmp/wsdA-XXXXXX)
    trap cleanup EXIT
    ns_setup
    case "$name" in
    mqtt-tcp-basic)
        broker "listener 1883 127.0.0.1"
        capture_start "$OUT/mqtt-tcp-basic.pcap" tcpdump 'tcp port 1883'
        mqtt_session 127.0.0.1
        capture_stop ;;
    mqtt-nsec)
        broker "listener 1883 127.0.0.1"
        capture_start "$OUT/mqtt-nsec.pcap" tcpdump --time-stamp-precision=nano 'tcp port 1883'
        mqtt_session 127.0.0.1
        capture_stop ;;
    mqtt-ipv6)
        broker "listener 1883 ::1"
        capture_start "$OUT/mqtt-ipv6.pcap" tcpdump 'tcp port 1883'
        mqtt_session ::1
        capture_stop ;;
    mqtt-sll2|mqtt-sll)
        local lt=LINUX_SLL2; [ "$name" = mqtt-sll ] && lt=LINUX_SLL
        broker "listener 1883 127.0.0.1"
        rm -f "$OUT/$name.pcap"
        timeout 60 tcpdump -i any -y $lt --immediate-mode -U -B 8192 -w "$OUT/$name.pcap" 'tcp port 1883' 2>"$WORK/cap.log" &
        CAP=$!; sleep 1.2
        mqtt_session 127.0.0.1
        capture_stop ;;
    ws-mqtt-paho|ws-mqtt)
        broker "listener 1883 127.0.0.1" "listener 8080 127.0.0.1" "protocol websockets"
        if [ "$name" = ws-mqtt ]; then
            capture_start "$OUT/ws-mqtt.pcapng" dumpcap -f 'tcp port 8080'
        else
            capture_start "$OUT/ws-mqtt-paho.pcap" tcpdump 'tcp port 8080'
        fi
        timeout 20 /usr/bin/python3 "$GEN/transport-paho-ws.py" 127.0.0.1 8080 "$OUT/$name.client.json" \
            || echo "paho client failed" >&2
        capture_stop ;;
    tcp-retrans)
        # drop ~10% of the segments towards the broker AFTER the capture point (input hook):
        # the capture holds every original and its retransmission.
        nft -f - <<'EOF'
table inet wsdA {
  chain in { type filter hook input priority 0; policy accept;
    tcp dport 1883 tcp flags & (syn|fin|rst) == 0 meta length > 200 numgen random mod 100 < 10 counter drop
  }
}
EOF
        broker "listener 1883 127.0.0.1"
        capture_start "$OUT/tcp-retrans.pcap" tcpdump 'tcp port 1883'
        mqtt_bulk 60000
        capture_stop
        nft list ruleset >&2 ;;
    tcp-ooo)
        # Real reordering by the kernel (no netem here): HTB on lo with
        #   1:10  40mbit   client->broker segments (a queue forms behind the sender's burst)
        #   1:20  40mbit   ~30% of the client's data skbs (GSO-sized, segmented later), picked at random by nftables:
        #                  this class is idle, so the segment overtakes the ones queued in 1:10
        #   1:30  8kbit    SYN and SYN-ACK (burst 10 bytes): the SYN-ACK waits ~50 ms, which
        #                  makes the handshake RTT large, so tshark (whose out-of-order window
        #                  is the handshake RTT) calls the overtaken segments out-of-order
        #   1:40  1gbit    broker->client (ACKs, CONNACK, PUBACK)
        # tcpdump on lo sees the packets after the qdisc, i.e. in their new order.
        tc qdisc add dev lo root handle 1: htb default 10 r2q 1000
        tc class add dev lo parent 1: classid 1:10 htb rate 40mbit ceil 40mbit
        tc class add dev lo parent 1: classid 1:20 htb rate 40mbit ceil 40mbit
        tc class add dev lo parent 1: classid 1:30 htb rate 8kbit ceil 8kbit burst 10b cburst 10b
        tc class add dev lo parent 1: classid 1:40 htb rate 1gbit ceil 1gbit
        nft -f - <<'EOF'
table inet wsdA {
  chain out { type filter hook output priority 0; policy accept;
    tcp flags & syn == syn meta priority set 1:30 accept
    tcp sport 1883 meta priority set 1:40 accept
    tcp dport 1883 meta length > 1000 numgen random mod 100 < 30 counter meta priority set 1:20
  }
}
EOF
        broker "listener 1883 127.0.0.1"
        capture_start "$OUT/tcp-ooo.pcap" tcpdump 'tcp port 1883'
        mqtt_bulk 60000
        capture_stop
        tc -s class show dev lo >&2; nft list ruleset >&2 ;;
    *) echo "unknown scenario $name" >&2; exit 2 ;;
    esac
}

if [ "${1:-}" = inner ]; then
    inner "$2"
    exit 0
fi

# ------------------------------------------------------------------ outside
ALL="mqtt-tcp-basic ws-mqtt-paho ws-mqtt mqtt-nsec mqtt-truncated mqtt-ipv6 mqtt-sll2 mqtt-sll
     tcp-retrans tcp-ooo tcp-gap tcp-midstream tcp-midstream-unaligned mqtt-gz tcp-seq-wrap"
[ $# -gt 0 ] && ALL="$*"
rm -f "$GEN/transport-derive.log"

# gen/transport-expect.json: "_ooo": false for the capture with a hole (see tshark-truth.py)
truth() { python3 "$TRUTH" --expect "$GEN/transport-expect.json" "$@" >/dev/null \
          || echo "truth failed: $*" >&2; }
derive() { python3 "$GEN/transport-derive.py" "$@" "$OUT"; }

for s in $ALL; do
    echo "=== $s" >&2
    case "$s" in
    mqtt-truncated)
        derive "$s"
        truth "$OUT/mqtt-truncated.pcap"; truth --http-port 8080 "$OUT/ws-mqtt-truncated.pcapng" ;;
    mqtt-gz)
        gzip -n -9 -c "$OUT/mqtt-tcp-basic.pcap" > "$OUT/mqtt-gz.pcap.gz"
        truth "$OUT/mqtt-gz.pcap.gz" ;;
    tcp-gap|tcp-midstream|tcp-midstream-unaligned|tcp-seq-wrap)
        derive "$s"; truth "$OUT/$s.pcap" ;;
    tcp-retrans|tcp-ooo)
        # random loss / reordering: re-run (at most 5 times) until tshark flags it
        for try in 1 2 3 4 5; do
            unshare -n "$SELF" inner "$s"
            derive "$s" && break
        done
        truth "$OUT/$s.pcap" ;;
    ws-mqtt-paho)
        unshare -n "$SELF" inner "$s"; truth --http-port 8080 "$OUT/$s.pcap" ;;
    ws-mqtt)
        unshare -n "$SELF" inner "$s"; truth --http-port 8080 "$OUT/$s.pcapng" ;;
    *)
        unshare -n "$SELF" inner "$s"; truth "$OUT/$s.pcap" ;;
    esac
done
# tcpdump writes its files as user tcpdump, dumpcap with mode 0600: normalise (only our own files)
MINE="mqtt-tcp-basic.pcap ws-mqtt-paho.pcap ws-mqtt.pcapng mqtt-nsec.pcap mqtt-truncated.pcap
      ws-mqtt-truncated.pcapng mqtt-ipv6.pcap mqtt-sll2.pcap mqtt-sll.pcap tcp-retrans.pcap tcp-ooo.pcap
      tcp-gap.pcap tcp-midstream.pcap tcp-midstream-unaligned.pcap mqtt-gz.pcap.gz tcp-seq-wrap.pcap"
for f in $MINE; do
    [ -f "$OUT/$f" ] && chown root:root "$OUT/$f" && chmod 644 "$OUT/$f"
done
