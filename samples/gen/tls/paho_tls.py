#!/usr/bin/python3
"""One MQTT 3.1.1 session with paho-mqtt 1.6 (Debian python3-paho-mqtt) over TLS: WebSocket over TLS
(wss, path /mqtt) or plain MQTT over TLS (TCP, port 8883).  The TLS context is an ssl.SSLContext
handed to paho with tls_set_context(); its keylog_filename writes the NSS key log.

  paho_tls.py --transport websockets|tcp --host broker.example --port 443 --cafile ca.pem
              --keylog X.keys --log X.client.json [--max 1.2] [--script session|refused]
              [--client-id ID] [--user U --pass P] [--no-check-hostname]

script "session": CONNECT (keep-alive 30, clean session), SUBSCRIBE wsdoctor/tls/# QoS 2, PUBLISH
wsdoctor/tls/q0|q1|q2 at QoS 0/1/2 and receive the three back, DISCONNECT.
script "refused": CONNECT with --user/--pass and wait for the CONNACK (mosquitto answers 5 and closes).
--log gets paho's own log lines (parsed by ../scenarios/paholog.py) and the TLS version/cipher.
"""
import argparse
import json
import os
import ssl
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scenarios"))
import paho.mqtt  # noqa: E402
import paho.mqtt.client as mqtt  # noqa: E402
import paholog  # noqa: E402

VERS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--transport", default="websockets", choices=["tcp", "websockets"])
    ap.add_argument("--host", default="broker.example")
    ap.add_argument("--port", type=int, default=443)
    ap.add_argument("--cafile")
    ap.add_argument("--keylog")
    ap.add_argument("--max")
    ap.add_argument("--min")
    ap.add_argument("--script", default="session")
    ap.add_argument("--client-id", default="wsdoctor-paho-tls")
    ap.add_argument("--user")
    ap.add_argument("--pass", dest="password")
    ap.add_argument("--no-check-hostname", action="store_true")
    ap.add_argument("--log", required=True)
    a = ap.parse_args()
    log = []
    received = []
    ev = {k: threading.Event() for k in ("connected", "connack", "disconnected", "suback")}
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=a.cafile)
    if a.no_check_hostname:
        ctx.check_hostname = False
    if a.max:
        ctx.maximum_version = VERS[a.max]
    if a.min:
        ctx.minimum_version = VERS[a.min]
    if a.keylog:
        ctx.keylog_filename = a.keylog
    c = mqtt.Client(client_id=a.client_id, clean_session=True, protocol=mqtt.MQTTv311, transport=a.transport)
    if a.transport == "websockets":
        c.ws_set_options(path="/mqtt")
    c.tls_set_context(ctx)
    if a.no_check_hostname:
        c.tls_insecure_set(True)   # else paho checks the host name itself after the handshake
    if a.user:
        c.username_pw_set(a.user, a.password)
    c.on_log = lambda cl, u, lvl, buf: log.append(paholog.parse(buf))

    def on_connect(cl, u, flags, rc):
        log.append({"t": round(time.time(), 6), "event": "on_connect", "rc": rc})
        ev["connack"].set()
        if rc == 0:
            ev["connected"].set()

    def on_disconnect(cl, u, rc):
        log.append({"t": round(time.time(), 6), "event": "on_disconnect", "rc": rc})
        ev["disconnected"].set()

    def on_message(cl, u, m):
        received.append(m.topic)
        log.append({"t": round(time.time(), 6), "event": "on_message", "topic": m.topic, "qos": m.qos,
                    "payload_len": len(m.payload)})
    c.on_connect = on_connect
    c.on_disconnect = on_disconnect
    c.on_message = on_message
    c.on_subscribe = lambda *x: ev["suback"].set()
    tls = {}
    rc = 0
    try:
        c.connect(a.host, a.port, keepalive=30)
        sock = c.socket()
        s = getattr(sock, "_socket", sock)   # paho's WebsocketWrapper keeps the SSL socket in ._socket
        if hasattr(s, "version"):
            tls = {"version": s.version(), "cipher": list(s.cipher())}
        c.loop_start()
        if a.script == "refused":
            ev["connack"].wait(5)
            ev["disconnected"].wait(5)
        else:
            ev["connected"].wait(5)
            c.subscribe("wsdoctor/tls/#", qos=2)
            ev["suback"].wait(5)
            for q in (0, 1, 2):
                c.publish("wsdoctor/tls/q%d" % q, "hello over TLS at qos %d" % q, qos=q).wait_for_publish(5)
            end = time.time() + 5
            while len(received) < 3 and time.time() < end:
                time.sleep(0.02)
            c.disconnect()
            ev["disconnected"].wait(5)
        c.loop_stop()
    except (ssl.SSLError, OSError) as e:
        log.append({"t": round(time.time(), 6), "event": "error", "error": type(e).__name__, "message": str(e)})
        rc = 3
    with open(a.log, "w") as f:
        json.dump({"client": "paho-mqtt %s (python %s, %s) transport=%s protocol=311" % (
            paho.mqtt.__version__, sys.version.split()[0], ssl.OPENSSL_VERSION, a.transport),
            "script": a.script, "tls": tls, "received": received, "log": log}, f, indent=1)
        f.write("\n")
    sys.exit(rc)


if __name__ == "__main__":
    main()
