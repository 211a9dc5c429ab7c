#!/usr/bin/python3
"""A device made with paho-mqtt 1.6 (Debian python3-paho-mqtt) that reaches its broker through an
HTTP CONNECT proxy: client.proxy_set(proxy_type=socks.HTTP, ...) (Debian python3-socks, PySocks
1.7.1), so paho's socket is PySocks' create_connection(): "CONNECT host:port HTTP/1.1" to the
proxy, then, after a 2xx, MQTT (or paho's WebSocket handshake) inside the tunnel.  With
proxy_rdns=True (PySocks' default) the proxy resolves the broker's name.

  proxy_paho.py --host broker.example --port 1883 --proxy-port 8888 --log X.client.json [options]
    --transport tcp|websockets (tcp)  --path /mqtt  --proxy-host 127.0.0.1  --client-id ID
    --attempts N (1)   try to connect up to N times, --interval s apart (1.0)
    then: one QoS 1 PUBLISH to wsdoctor/proxy/ID/status, PUBACK, DISCONNECT

Writes paho's own on_log lines (parsed by ../scenarios/paholog.py) and every attempt's outcome
(exception text, on_connect / on_disconnect codes) to --log.
"""
import argparse
import json
import os
import sys
import threading
import time

import socks

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scenarios"))
import paho.mqtt  # noqa: E402
import paho.mqtt.client as mqtt  # noqa: E402
import paholog  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--transport", default="tcp", choices=["tcp", "websockets"])
    ap.add_argument("--host", default="broker.example")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", default="/mqtt")
    ap.add_argument("--proxy-host", default="127.0.0.1")
    ap.add_argument("--proxy-port", type=int, default=8888)
    ap.add_argument("--client-id", default="wsdoctor-proxy-paho")
    ap.add_argument("--attempts", type=int, default=1)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--log", required=True)
    a = ap.parse_args()
    lines, attempts = [], []
    for n in range(1, a.attempts + 1):
        rec = {"attempt": n, "t": round(time.time(), 6)}
        attempts.append(rec)
        done = threading.Event()
        c = mqtt.Client(client_id=a.client_id, protocol=mqtt.MQTTv311, transport=a.transport, clean_session=True)
        if a.transport == "websockets":
            c.ws_set_options(path=a.path)
        c.proxy_set(proxy_type=socks.HTTP, proxy_addr=a.proxy_host, proxy_port=a.proxy_port)
        c.on_log = lambda cl, u, lvl, buf: lines.append(dict(paholog.parse(buf), attempt=n))

        def on_connect(cl, u, flags, rc):
            rec["on_connect_rc"] = rc
            lines.append({"t": round(time.time(), 6), "attempt": n, "event": "on_connect", "rc": rc})
            if rc == 0:
                cl.publish("wsdoctor/proxy/%s/status" % a.client_id, json.dumps({"attempt": n, "via": "%s:%d" % (a.proxy_host, a.proxy_port)}), qos=1)

        def on_publish(cl, u, mid):
            lines.append({"t": round(time.time(), 6), "attempt": n, "event": "on_publish", "mid": mid})
            cl.disconnect()

        def on_disconnect(cl, u, rc):
            rec["on_disconnect_rc"] = rc
            lines.append({"t": round(time.time(), 6), "attempt": n, "event": "on_disconnect", "rc": rc})
            done.set()
        c.on_connect, c.on_publish, c.on_disconnect = on_connect, on_publish, on_disconnect
        try:
            c.connect(a.host, a.port, keepalive=60)
        except Exception as e:  # noqa: BLE001 - record what the proxy handshake raised
            rec["error"] = "%s: %s" % (type(e).__name__, e)
            lines.append({"t": round(time.time(), 6), "attempt": n, "event": "connect() raised", "error": rec["error"]})
            time.sleep(a.interval)
            continue
        end = time.time() + 10
        while not done.is_set() and time.time() < end:
            c.loop(timeout=0.1)
        break
    json.dump({"client": "paho-mqtt %s (Python %s, PySocks %s)" % (paho.mqtt.__version__, sys.version.split()[0], socks.__version__),
               "transport": a.transport, "target": "%s:%d" % (a.host, a.port),
               "proxy": "http://%s:%d" % (a.proxy_host, a.proxy_port),
               "attempts": attempts, "log": lines}, open(a.log, "w"), indent=1)


if __name__ == "__main__":
    main()
