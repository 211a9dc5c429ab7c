#!/bin/bash
# TLS captures for wsdoctor (issue 13: wss TLS handshake diagnosis, MQTT over wss decoded from a key
# log).  Real software on loopback, each scenario in its own network namespace and mount namespace
# (unshare -n -m: lo only, mtu 1500, offloads off; /etc/hosts bind-mounted inside so that
# broker.example and other.example are 127.0.0.1), captured with tcpdump -i lo (pcap, Ethernet link
# type), the client's NSS key log beside the capture as NAME.keys, then tshark-truth.py writes
# NAME.truth.json (with the "tls" object; gen/tls/expect.json sets "_tls") and tls_facts.py --check
# compares samples/tls/expect.json with tshark.  See samples/tls/README.md.
#
# usage (as root):  samples/gen/tls/make.sh [NAME...]     default: every scenario
#                   samples/gen/tls/make.sh --list
#                   samples/gen/tls/make.sh --check [NAME...]   (only tls_facts.py --check)
# needs: Debian openssl tshark tcpdump wireshark-common (editcap) mosquitto mosquitto-clients
#        nginx-light python3-paho-mqtt faketime iproute2 ethtool util-linux; nodejs with npm mqtt@5 ws
#        in $NODE_DIR (cd $NODE_DIR && npm install mqtt@5 ws)
# env:   OUT (default samples/tls), NODE_DIR (default /work/scratch/node),
#        TRUTH (default /work/shared/tools/tshark-truth.py), TMPROOT (default /tmp/wsdtls)
# The certificates in certs/ were made by make-certs.sh and are committed (test keys).
set -u
GEN=$(cd "$(dirname "$0")" && pwd)
C=$GEN/certs
OUT=${OUT:-$(cd "$GEN/../.." && pwd)/tls}
NODE_DIR=${NODE_DIR:-/work/scratch/node}
export NODE_PATH=$NODE_DIR/node_modules
TRUTH=${TRUTH:-/work/shared/tools/tshark-truth.py}
TMPROOT=${TMPROOT:-/tmp/wsdtls}
PY=/usr/bin/python3
SELF=$GEN/$(basename "$0")

ALL="tls12-ecdhe-rsa-aes128-gcm tls12-ecdhe-rsa-aes256-gcm tls12-ecdhe-rsa-chacha20 tls12-ecdhe-ecdsa-aes128-gcm
tls12-rsa-aes128-gcm tls12-rsa-aes128-sha tls12-rsa-aes128-sha-no-etm tls12-ecdhe-rsa-aes128-sha tls12-rsa-aes256-sha256
tls12-no-ems tls12-resume tls13-aes128-gcm tls13-aes256-gcm tls13-chacha20 tls13-keyupdate tls13-hrr tls13-resume
wss-paho-tls12 wss-paho-tls13 wss-mqttjs-tls12 wss-mqttjs-tls13 wss-connect-refused wss-keys-injected mqtts-paho
tls-version-13-vs-12 tls-version-old-client tls-no-sni-openssl tls-no-sni-paho
tls12-cert-expired-openssl tls12-cert-expired-python tls13-cert-expired-openssl tls13-cert-expired-python
tls12-cert-future-openssl tls12-cert-future-python tls13-cert-future-openssl tls13-cert-future-python
tls12-clock-ahead-openssl tls12-clock-ahead-python tls12-clock-1970-openssl tls12-clock-1970-python wss-clock-ahead-mqttjs
tls12-self-signed-openssl tls12-self-signed-python tls12-unknown-ca-openssl tls12-no-shared-cipher tls13-no-shared-cipher
tls12-name-mismatch-openssl tls12-name-mismatch-python wss-alpn-h2 wss-alpn-h2-tls12 tls-server-close-after-hello tls-client-timeout
mqtts-no-keylog mqtts-wrong-keylog"

CLOCK_AHEAD='2037-06-01T12:00:00'   # after broker.pem's notAfter (2035-01-01), before the CA's (2045-01-01)
CLOCK_1970='1970-01-02T00:00:00'    # before every notBefore

# ------------------------------------------------------------------ helpers (inside the namespace)
lo_setup() {
    ip link set lo up
    ip link set lo mtu 1500
    ethtool -K lo tso off gso off gro off >/dev/null 2>&1 || echo "ethtool failed" >&2
    printf '127.0.0.1 localhost broker.example other.example\n' > "$T/hosts"
    mount --bind "$T/hosts" /etc/hosts     # private to this mount namespace
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
keys_tidy() {  # keep NAME.keys only if the client wrote at least one secret into it
    local k=${1:-$OUT/$NAME.keys}
    [ -f "$k" ] && ! grep -qv '^#' "$k" && { echo "no secrets in $k: removed" >&2; rm -f "$k"; }
    return 0
}

# openssl s_server on 127.0.0.1:443 (-rev: echoes every line reversed); output -> $T/server.log
ossl_srv() {
    timeout 40 openssl s_server -accept 127.0.0.1:443 "$@" </dev/null >"$T/server.log" 2>&1 &
    SRV=$!
    wait_port 443
}
srv_done() { wait "$SRV" 2>/dev/null; cp "$T/server.log" "$OUT/$NAME.server.log"; }
# openssl s_client to broker.example:443 (so SNI = broker.example unless -noservername), verifying
# against the test CA, key log to NAME.keys; stdin from the function named in $1; output appended
# to NAME.client.log.  $CLIENT_PREFIX (e.g. "faketime DATE") goes before openssl.
ossl_cli() {
    local feed=$1; shift
    echo "# ${CLIENT_PREFIX:+$CLIENT_PREFIX }openssl s_client -connect broker.example:443 $*" >> "$OUT/$NAME.client.log"
    $feed | timeout 20 ${CLIENT_PREFIX:-} openssl s_client -connect broker.example:443 "$@" >> "$OUT/$NAME.client.log" 2>&1
    echo "# exit $?" >> "$OUT/$NAME.client.log"
}
CLIENT_PREFIX=""
feed_lines() { echo "hello from the client"; sleep 0.3; echo "second line from the client"; sleep 0.3; echo "third line"; sleep 0.6; }
feed_keyupdate() {
    echo "before the key update"; sleep 0.3
    echo "K"; sleep 0.3                      # KeyUpdate, update_requested (server answers with its own)
    echo "after K"; sleep 0.3
    echo "k"; sleep 0.3                      # KeyUpdate, update_not_requested
    echo "after k"; sleep 0.6
}
feed_none() { sleep 1.5; }
feed_upgrade() {
    printf 'GET /mqtt HTTP/1.1\r\nHost: broker.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n'
    sleep 1.5
}
CV="-CAfile $C/ca.pem -verify_return_error"
pyc() { timeout 30 ${CLIENT_PREFIX:-} $PY "$GEN/py_tls_client.py" --log "$OUT/$NAME.client.json" "$@"; }

# one s_server -rev connection (or $NACC), one s_client; $1 = server args, $2 = client args, $3 = feed
rev_pair() {
    # shellcheck disable=SC2086
    ossl_srv -naccept "${NACC:-1}" -rev $1
    cap_start "tcp port 443"
    # shellcheck disable=SC2086
    ossl_cli "${3:-feed_lines}" $2 $CV -keylogfile "$OUT/$NAME.keys"
    srv_done
    cap_stop
    keys_tidy
}
RSA="-cert $C/broker.pem -key $C/broker.key"

LOC_MQTT='location /mqtt {
            proxy_pass http://127.0.0.1:8080;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "Upgrade";
            proxy_set_header Host $host;
            proxy_read_timeout 120s;
        }'
nginx_start() {  # $1 = server blocks
    cat > "$T/nginx.conf" <<EOF
daemon off; master_process off; worker_processes 1;
pid $T/nginx.pid; error_log $T/nginx-error.log info;
events { worker_connections 64; }
http {
    access_log $T/nginx-access.log;
    client_body_temp_path $T/cbt; proxy_temp_path $T/pt; fastcgi_temp_path $T/ft;
    uwsgi_temp_path $T/ut; scgi_temp_path $T/st;
    default_type text/plain;
$1
}
EOF
    cp "$T/nginx.conf" "$OUT/$NAME.nginx.conf"
    timeout 90 nginx -p "$T/" -e "$T/nginx-error.log" -c "$T/nginx.conf" &
    NGINX=$!
    wait_port 443
}
nginx_stop() { stop_pid "$NGINX"; cp "$T/nginx-error.log" "$OUT/$NAME.nginx-error.log"; }
wss_server() {  # $1 = extra server lines, $2 = listen suffix
    nginx_start "    server {
        listen 127.0.0.1:443 ssl${2:-};
        server_name broker.example;
        ssl_certificate $C/broker.pem;
        ssl_certificate_key $C/broker.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        ${1:-}
        $LOC_MQTT
    }"
}
MOSQ_AUTH="allow_anonymous true"
mosq_start() {  # $1 = extra listener lines
    cat > "$T/mosquitto.conf" <<EOF
user root
persistence false
log_dest stderr
log_type all
listener 1883 127.0.0.1
$MOSQ_AUTH
listener 8080 127.0.0.1
protocol websockets
${1:-}
EOF
    timeout 90 mosquitto -c "$T/mosquitto.conf" 2>"$T/mosquitto.log" &
    MOSQ=$!
    wait_port 1883 && wait_port 8080
}
mosq_stop() { stop_pid "$MOSQ"; cp "$T/mosquitto.log" "$OUT/$NAME.broker.log"; }
MOSQ_TLS="listener 8883 127.0.0.1
certfile $C/broker.pem
keyfile $C/broker.key"
paho() { timeout 40 $PY "$GEN/paho_tls.py" --cafile "$C/ca.pem" --log "$OUT/$NAME.client.json" "$@"; }
mqttjs() {  # $1 = key log, rest = mqttjs_tls.js args
    local kl=$1; shift
    timeout 40 ${CLIENT_PREFIX:-} node --tls-keylog="$kl" "$GEN/mqttjs_tls.js" --ca "$C/ca.pem" --log "$OUT/$NAME.client.json" "$@"
}

# ------------------------------------------------------------------ A. decryption coverage (openssl)
scn_tls12_ecdhe_rsa_aes128_gcm()   { rev_pair "$RSA" "-tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256"; }
scn_tls12_ecdhe_rsa_aes256_gcm()   { rev_pair "$RSA" "-tls1_2 -cipher ECDHE-RSA-AES256-GCM-SHA384"; }
scn_tls12_ecdhe_rsa_chacha20()     { rev_pair "$RSA" "-tls1_2 -cipher ECDHE-RSA-CHACHA20-POLY1305"; }
scn_tls12_ecdhe_ecdsa_aes128_gcm() { rev_pair "-cert $C/broker-ec.pem -key $C/broker-ec.key" "-tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256"; }
scn_tls12_rsa_aes128_gcm()         { rev_pair "$RSA" "-tls1_2 -cipher AES128-GCM-SHA256"; }
scn_tls12_rsa_aes128_sha()         { rev_pair "$RSA" "-tls1_2 -cipher AES128-SHA"; }
scn_tls12_rsa_aes128_sha_no_etm()  { rev_pair "$RSA" "-tls1_2 -cipher AES128-SHA -no_etm"; }
scn_tls12_ecdhe_rsa_aes128_sha()   { rev_pair "$RSA" "-tls1_2 -cipher ECDHE-RSA-AES128-SHA"; }
scn_tls12_rsa_aes256_sha256()      { rev_pair "$RSA" "-tls1_2 -cipher AES256-SHA256"; }
scn_tls12_no_ems() {
    # s_client has no -no_ems in OpenSSL 3.0; the SSL_CONF "Options = -ExtendedMasterSecret" command
    # (system_default section of an OPENSSL_CONF file) clears SSL_OP ... EXTENDED_MASTER_SECRET.
    cat > "$T/no-ems.cnf" <<'EOF'
openssl_conf = openssl_init
[openssl_init]
ssl_conf = ssl_sect
[ssl_sect]
system_default = system_default_sect
[system_default_sect]
Options = -ExtendedMasterSecret
EOF
    cp "$T/no-ems.cnf" "$OUT/$NAME.openssl.cnf"
    ossl_srv -naccept 1 -rev $RSA
    cap_start "tcp port 443"
    echo "# OPENSSL_CONF=$NAME.openssl.cnf (Options = -ExtendedMasterSecret)" >> "$OUT/$NAME.client.log"
    OPENSSL_CONF=$T/no-ems.cnf ossl_cli feed_lines -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256 $CV -keylogfile "$OUT/$NAME.keys"
    srv_done; cap_stop; keys_tidy
}
resume_pair() {  # $1 = server args, $2 = client args: two connections, the second resumes the first's session
    # shellcheck disable=SC2086
    ossl_srv -naccept 2 -rev $1
    cap_start "tcp port 443"
    # shellcheck disable=SC2086
    ossl_cli feed_lines $2 $CV -keylogfile "$OUT/$NAME.keys" -sess_out "$T/session.pem"
    sleep 0.5
    # shellcheck disable=SC2086
    ossl_cli feed_lines $2 $CV -keylogfile "$OUT/$NAME.keys" -sess_in "$T/session.pem"
    srv_done; cap_stop; keys_tidy
}
scn_tls12_resume() { resume_pair "$RSA -no_ticket" "-tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256"; }
scn_tls13_aes128_gcm() { rev_pair "$RSA" "-tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256"; }
scn_tls13_aes256_gcm() { rev_pair "$RSA" "-tls1_3 -ciphersuites TLS_AES_256_GCM_SHA384"; }
scn_tls13_chacha20()   { rev_pair "$RSA" "-tls1_3 -ciphersuites TLS_CHACHA20_POLY1305_SHA256"; }
scn_tls13_keyupdate()  { rev_pair "$RSA" "-tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256" feed_keyupdate; }
scn_tls13_hrr()        { rev_pair "$RSA -groups P-256" "-tls1_3 -groups X25519:P-256"; }
scn_tls13_resume()     { resume_pair "$RSA" "-tls1_3"; }

# ------------------------------------------------------------------ B. wss and MQTT over TLS
wss_session() {  # $1 = client function, rest = its args
    mosq_start
    wss_server
    cap_start "tcp port 443"
    "$@"
    cap_stop
    nginx_stop; mosq_stop
    keys_tidy
}
scn_wss_paho_tls12()   { wss_session paho --transport websockets --port 443 --max 1.2 --keylog "$OUT/$NAME.keys" --client-id wsdoctor-paho-tls12; }
scn_wss_paho_tls13()   { wss_session paho --transport websockets --port 443 --keylog "$OUT/$NAME.keys" --client-id wsdoctor-paho-tls13; }
scn_wss_mqttjs_tls12() { wss_session mqttjs "$OUT/$NAME.keys" --url wss://broker.example:443/mqtt --max-version TLSv1.2 --client-id wsdoctor-mqttjs-tls12; }
scn_wss_mqttjs_tls13() { wss_session mqttjs "$OUT/$NAME.keys" --url wss://broker.example:443/mqtt --client-id wsdoctor-mqttjs-tls13; }
scn_wss_connect_refused() {
    mosquitto_passwd -b -c "$T/passwd" device s3cret >/dev/null 2>&1
    MOSQ_AUTH="allow_anonymous false
password_file $T/passwd"
    wss_session paho --transport websockets --port 443 --keylog "$OUT/$NAME.keys" --script refused \
        --user device --pass wrong --client-id wsdoctor-wss-bad
}
scn_mqtts_paho() {
    mosq_start "$MOSQ_TLS"
    cap_start "tcp port 8883"
    paho --transport tcp --port 8883 --keylog "$OUT/$NAME.keys" --client-id wsdoctor-mqtts-paho
    cap_stop; mosq_stop; keys_tidy
    # does libmosquitto (mosquitto_pub) honour SSLKEYLOGFILE?  (recorded in NAME.client.log)
    mosq_start "$MOSQ_TLS"
    SSLKEYLOGFILE=$T/pub.keys timeout 10 mosquitto_pub -h broker.example -p 8883 --cafile "$C/ca.pem" \
        -i wsdoctor-keylog-probe -t wsdoctor/tls/probe -m probe -q 1 -d > "$OUT/$NAME.client.log" 2>&1
    echo "# mosquitto_pub with SSLKEYLOGFILE=$T/pub.keys: exit $?; key log written: $([ -s "$T/pub.keys" ] && echo yes || echo no)" >> "$OUT/$NAME.client.log"
    stop_pid "$MOSQ"
}

# ------------------------------------------------------------------ C. failures
scn_tls_version_13_vs_12() { rev_pair "$RSA -tls1_2" "-tls1_3"; }
scn_tls_version_old_client() {
    wss_server
    cap_start "tcp port 443"
    # a TLS 1.0/1.1-only client (old firmware): OpenSSL 3 refuses TLS < 1.2 below SECLEVEL 0
    ossl_cli feed_none -no_tls1_2 -no_tls1_3 -cipher 'DEFAULT:@SECLEVEL=0' $CV -keylogfile "$OUT/$NAME.keys"
    cap_stop; nginx_stop; keys_tidy
}
sni_server() {
    mosq_start
    nginx_start "    server {
        listen 127.0.0.1:443 ssl default_server;
        ssl_reject_handshake on;
        ssl_protocols TLSv1.2 TLSv1.3;
    }
    server {
        listen 127.0.0.1:443 ssl;
        server_name broker.example;
        ssl_certificate $C/broker.pem;
        ssl_certificate_key $C/broker.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        $LOC_MQTT
    }"
}
scn_tls_no_sni_openssl() {
    sni_server
    cap_start "tcp port 443"
    ossl_cli feed_upgrade -noservername $CV -keylogfile "$OUT/$NAME.keys"
    cap_stop; nginx_stop; mosq_stop; keys_tidy
}
scn_tls_no_sni_paho() {
    # paho connects to the IP address: Python sends no server_name for an IP
    sni_server
    cap_start "tcp port 443"
    paho --transport websockets --host 127.0.0.1 --port 443 --no-check-hostname --keylog "$OUT/$NAME.keys" --client-id wsdoctor-by-ip
    cap_stop; nginx_stop; mosq_stop; keys_tidy
}
cert_case() {  # $1 = cert name, $2 = tls12|tls13, $3 = openssl|python
    local v=${2#tls1}
    ossl_srv -naccept 1 -rev -cert "$C/$1.pem" -key "$C/$1.key" "-tls1_$v"
    cap_start "tcp port 443"
    if [ "$3" = openssl ]; then
        ossl_cli feed_lines $CV -keylogfile "$OUT/$NAME.keys"
    else
        pyc --host broker.example --port 443 --cafile "$C/ca.pem" --keylog "$OUT/$NAME.keys"
        echo "python client exit $?" >&2
    fi
    sleep 0.3; stop_pid "$SRV"; cp "$T/server.log" "$OUT/$NAME.server.log"
    cap_stop; keys_tidy
}
scn_tls12_cert_expired_openssl() { cert_case expired tls12 openssl; }
scn_tls12_cert_expired_python()  { cert_case expired tls12 python; }
scn_tls13_cert_expired_openssl() { cert_case expired tls13 openssl; }
scn_tls13_cert_expired_python()  { cert_case expired tls13 python; }
scn_tls12_cert_future_openssl()  { cert_case future tls12 openssl; }
scn_tls12_cert_future_python()   { cert_case future tls12 python; }
scn_tls13_cert_future_openssl()  { cert_case future tls13 openssl; }
scn_tls13_cert_future_python()   { cert_case future tls13 python; }
scn_tls12_clock_ahead_openssl()  { CLIENT_PREFIX="faketime $CLOCK_AHEAD"; cert_case broker tls12 openssl; }
scn_tls12_clock_ahead_python()   { CLIENT_PREFIX="faketime $CLOCK_AHEAD"; cert_case broker tls12 python; }
scn_tls12_clock_1970_openssl()   { CLIENT_PREFIX="faketime $CLOCK_1970"; cert_case broker tls12 openssl; }
scn_tls12_clock_1970_python()    { CLIENT_PREFIX="faketime $CLOCK_1970"; cert_case broker tls12 python; }
scn_wss_clock_ahead_mqttjs() {
    mosq_start
    wss_server
    cap_start "tcp port 443"
    CLIENT_PREFIX="faketime $CLOCK_AHEAD" mqttjs "$OUT/$NAME.keys" --url wss://broker.example:443/mqtt --max-version TLSv1.2 --client-id wsdoctor-mqttjs-clock
    cap_stop; nginx_stop; mosq_stop; keys_tidy
}
scn_tls12_self_signed_openssl() { cert_case selfsigned tls12 openssl; }
scn_tls12_self_signed_python()  { cert_case selfsigned tls12 python; }
scn_tls12_unknown_ca_openssl() {
    # the device trusts only the public CAs (Debian ca-certificates), not the test CA
    ossl_srv -naccept 1 -rev $RSA -tls1_2
    cap_start "tcp port 443"
    ossl_cli feed_lines -CAfile /etc/ssl/certs/ca-certificates.crt -verify_return_error -keylogfile "$OUT/$NAME.keys"
    sleep 0.3; stop_pid "$SRV"; cp "$T/server.log" "$OUT/$NAME.server.log"
    cap_stop; keys_tidy
}
scn_tls12_no_shared_cipher() {
    # a modern server (ECDHE + AES-GCM only) and an old client offering only RSA key exchange + CBC
    ossl_srv -naccept 1 -rev $RSA -tls1_2 -cipher 'ECDHE+AESGCM'
    cap_start "tcp port 443"
    ossl_cli feed_none -tls1_2 -cipher 'AES256-SHA:AES128-SHA' $CV -keylogfile "$OUT/$NAME.keys"
    sleep 0.3; stop_pid "$SRV"; cp "$T/server.log" "$OUT/$NAME.server.log"
    cap_stop; keys_tidy
}
scn_tls13_no_shared_cipher() {
    ossl_srv -naccept 1 -rev $RSA -tls1_3 -ciphersuites TLS_AES_256_GCM_SHA384
    cap_start "tcp port 443"
    ossl_cli feed_none -tls1_3 -ciphersuites TLS_CHACHA20_POLY1305_SHA256 $CV -keylogfile "$OUT/$NAME.keys"
    sleep 0.3; stop_pid "$SRV"; cp "$T/server.log" "$OUT/$NAME.server.log"
    cap_stop; keys_tidy
}
scn_tls12_name_mismatch_openssl() {
    ossl_srv -naccept 1 -rev -cert "$C/other.pem" -key "$C/other.key" -tls1_2
    cap_start "tcp port 443"
    ossl_cli feed_lines -verify_hostname broker.example $CV -keylogfile "$OUT/$NAME.keys"
    sleep 0.3; stop_pid "$SRV"; cp "$T/server.log" "$OUT/$NAME.server.log"
    cap_stop; keys_tidy
}
scn_tls12_name_mismatch_python() {
    ossl_srv -naccept 1 -rev -cert "$C/other.pem" -key "$C/other.key" -tls1_2
    cap_start "tcp port 443"
    pyc --host broker.example --port 443 --cafile "$C/ca.pem" --keylog "$OUT/$NAME.keys"
    sleep 0.3; stop_pid "$SRV"; cp "$T/server.log" "$OUT/$NAME.server.log"
    cap_stop; keys_tidy
}
scn_wss_alpn_h2() {
    # nginx 1.22 has no "http2 on;" (1.25.1+): "listen ... ssl http2"
    mosq_start
    wss_server "" " http2"
    cap_start "tcp port 443"
    ossl_cli feed_upgrade -alpn h2,http/1.1 ${ALPN_TLS:-} $CV -keylogfile "$OUT/$NAME.keys"
    cap_stop; nginx_stop; mosq_stop; keys_tidy
}
scn_wss_alpn_h2_tls12() { ALPN_TLS=-tls1_2 scn_wss_alpn_h2; }   # ALPN h2 in the clear ServerHello
scn_tls_server_close_after_hello() {
    $PY "$GEN/stub_server.py" --port 443 --mode close-after-hello --log "$OUT/$NAME.server.json" &
    SRV=$!
    wait_port 443
    cap_start "tcp port 443"
    pyc --host broker.example --port 443 --cafile "$C/ca.pem" --keylog "$T/client.keys"
    wait "$SRV"
    cap_stop; keys_tidy "$T/client.keys"; [ -f "$T/client.keys" ] && cp "$T/client.keys" "$OUT/$NAME.keys"
    return 0
}
scn_tls_client_timeout() {
    $PY "$GEN/stub_server.py" --port 443 --mode silent --hold 10 --log "$OUT/$NAME.server.json" &
    SRV=$!
    wait_port 443
    cap_start "tcp port 443"
    pyc --host broker.example --port 443 --cafile "$C/ca.pem" --timeout 3 --keylog "$T/client.keys"
    wait "$SRV"
    cap_stop; keys_tidy "$T/client.keys"; [ -f "$T/client.keys" ] && cp "$T/client.keys" "$OUT/$NAME.keys"
    return 0
}
scn_mqtts_no_keylog() {
    mosq_start "$MOSQ_TLS"
    cap_start "tcp port 8883"
    timeout 10 mosquitto_pub -h broker.example -p 8883 --cafile "$C/ca.pem" -i wsdoctor-mqtts-pub \
        -t wsdoctor/tls/pub -m 'hello over mqtts' -q 1 -d > "$OUT/$NAME.client.log" 2>&1
    echo "# exit $?" >> "$OUT/$NAME.client.log"
    cap_stop; mosq_stop
}
scn_mqtts_wrong_keylog() {
    # session 1 (not captured) writes the key log that goes beside the capture; session 2 is captured,
    # its own key log is thrown away: NAME.keys holds another session's secrets
    mosq_start "$MOSQ_TLS"
    paho --transport tcp --port 8883 --keylog "$OUT/$NAME.keys" --client-id wsdoctor-mqtts-other
    mv "$OUT/$NAME.client.json" "$T/other.client.json"
    sleep 0.3
    cap_start "tcp port 8883"
    paho --transport tcp --port 8883 --keylog "$T/captured-session.keys" --client-id wsdoctor-mqtts-captured
    cap_stop; mosq_stop
}

# ------------------------------------------------------------------ truth options per capture
truth_keylog() {  # the key log handed to tshark-truth.py for $1 (none for the injected pcapng)
    [ -f "$OUT/$1.keys" ] && echo "--tls-keylog $OUT/$1.keys"
}
derive_injected() {  # wss-keys-injected.pcapng: wss-mqttjs-tls13.pcap with its key log in a DSB
    rm -f "$OUT/wss-keys-injected".{pcapng,truth.json}
    editcap --inject-secrets "tls,$OUT/wss-mqttjs-tls13.keys" "$OUT/wss-mqttjs-tls13.pcap" "$OUT/wss-keys-injected.pcapng"
    $PY "$TRUTH" --expect "$GEN/expect.json" "$OUT/wss-keys-injected.pcapng"
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
if [ "${1:-}" = "--check" ]; then shift; exec $PY "$GEN/tls_facts.py" --check "$OUT/expect.json" "$@"; fi
[ $# -gt 0 ] && LIST="$*" || LIST=$ALL
mkdir -p "$OUT"
rc=0
for NAME in $LIST; do
    echo "=== $NAME" >&2
    if [ "$NAME" = wss-keys-injected ]; then derive_injected || rc=1; continue; fi
    T=$TMPROOT/$NAME
    rm -rf "$T"; mkdir -p "$T"
    rm -f "$OUT/$NAME".{pcap,pcapng,keys,truth.json,client.json,client.log,server.json,server.log,broker.log,nginx.conf,nginx-error.log,openssl.cnf}
    if ! timeout 300 unshare -n -m "$SELF" --inner "$NAME"; then echo "!!! $NAME: scenario failed" >&2; rc=1; fi
    if [ -s "$OUT/$NAME.pcap" ]; then
        # shellcheck disable=SC2046
        $PY "$TRUTH" --expect "$GEN/expect.json" $(truth_keylog "$NAME") "$OUT/$NAME.pcap" || rc=1
    fi
    rm -rf "$T"
done
# compare samples/tls/expect.json with what tshark shows (frame numbers can move on a re-run: update expect.json)
if [ -f "$OUT/expect.json" ]; then
    CAPS=""
    for NAME in $LIST; do
        for f in "$OUT/$NAME.pcap" "$OUT/$NAME.pcapng"; do [ -f "$f" ] && CAPS="$CAPS $(basename "$f")"; done
    done
    # shellcheck disable=SC2086
    $PY "$GEN/tls_facts.py" --check "$OUT/expect.json" $CAPS || rc=1
fi
exit $rc
