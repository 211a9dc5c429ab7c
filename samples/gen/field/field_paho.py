#!/usr/bin/python3
"""A device made with paho-mqtt 1.6 (Debian python3-paho-mqtt) for the field-failure captures.

  field_paho.py --transport tcp|websockets --port N --log X.client.json [options]
    --host H (127.0.0.1)  --path /mqtt  --pv 311|5  --client-id ID  --keepalive S (60)
    --attempts N (3)      try to connect up to N times, --interval s apart (1.0)
    --publishes N (1)     after CONNACK: N QoS 1 PUBLISHes to wsdoctor/field/ID/data
    --hold S (0.3)        then stay connected S seconds, then DISCONNECT and stop
    --tls-insecure        TLS without certificate check (self-signed server)

Writes paho's own on_log lines (parsed by ../scenarios/paholog.py) and every
attempt's outcome (exception text, on_connect / on_disconnect codes) to --log.
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--transport", default="websockets", choices=["tcp", "websockets"])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", default="/mqtt")
    ap.add_argument("--pv", default="311", choices=["311", "5"])
    ap.add_argument("--client-id", default="wsdoctor-paho-field")
    ap.add_argument("--keepalive", type=int, default=60)
    ap.add_argument("--attempts", type=int, default=3)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--publishes", type=int, default=1)
    ap.add_argument("--hold", type=float, default=0.3)
    ap.add_argument("--tls-insecure", action="store_true")
    ap.add_argument("--log", required=True)
    a = ap.parse_args()
    v5 = a.pv == "5"
    lines, attempts = [], []
    for n in range(1, a.attempts + 1):
        rec = {"attempt": n, "t": round(time.time(), 6)}
        attempts.append(rec)
        connected, gone = threading.Event(), threading.Event()
        kw = {"client_id": a.client_id, "protocol": mqtt.MQTTv5 if v5 else mqtt.MQTTv311, "transport": a.transport}
        if not v5:
            kw["clean_session"] = True
        c = mqtt.Client(**kw)
        if a.transport == "websockets":
            c.ws_set_options(path=a.path)
        if a.tls_insecure:
            c.tls_set(cert_reqs=ssl.CERT_NONE)
            c.tls_insecure_set(True)
        c.on_log = lambda cl, u, lvl, buf: lines.append(dict(paholog.parse(buf), attempt=n))

        def on_connect(cl, u, flags, rc, props=None):
            rec["on_connect_rc"] = str(rc)
            lines.append({"t": round(time.time(), 6), "attempt": n, "event": "on_connect", "rc": str(rc)})
            connected.set()

        def on_disconnect(cl, u, rc, props=None):
            rec["on_disconnect_rc"] = str(rc)
            lines.append({"t": round(time.time(), 6), "attempt": n, "event": "on_disconnect", "rc": str(rc)})
            gone.set()
        c.on_connect, c.on_disconnect = on_connect, on_disconnect
        try:
            c.connect(a.host, a.port, keepalive=a.keepalive)
        except Exception as e:  # noqa: BLE001 - record whatever the handshake raised
            rec["error"] = "%s: %s" % (type(e).__name__, e)
            lines.append({"t": round(time.time(), 6), "attempt": n, "event": "connect() raised", "error": rec["error"]})
            try:
                c.socket() and c.socket().close()
            except Exception:  # noqa: BLE001
                pass
            time.sleep(a.interval)
            continue
        c.loop_start()
        if connected.wait(5) and not gone.is_set():
            for i in range(a.publishes):
                c.publish("wsdoctor/field/%s/data" % a.client_id, '{"n":%d}' % i, qos=1).wait_for_publish(5)
            time.sleep(a.hold)
            c.disconnect()
            gone.wait(5)
            c.loop_stop()
            rec["result"] = "session, DISCONNECT sent"
            break
        gone.wait(5)
        c.loop_stop()
        rec["result"] = "no CONNACK"
        time.sleep(a.interval)
    with open(a.log, "w") as f:
        json.dump({"client": "paho-mqtt %s (python %s) transport=%s protocol=%s" % (
            paho.mqtt.__version__, sys.version.split()[0], a.transport, a.pv),
            "client_id": a.client_id, "attempts": attempts, "log": lines}, f, indent=1)


if __name__ == "__main__":
    main()
