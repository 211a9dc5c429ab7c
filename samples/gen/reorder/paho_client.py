#!/usr/bin/python3
"""paho-mqtt 1.6 (Debian python3-paho-mqtt, run with /usr/bin/python3) client for samples/reorder.

    paho_client.py --host H --port P --transport websockets|tcp --script multi|big --log X.client.json
                   [--client-id ID]

script "multi" (MQTT 3.1.1, one connection): SUBSCRIBE wsd/ro/# QoS 2, then six PUBLISHes of
  2000..5000 bytes (QoS 0, 1, 2, 0, 1, 2) to wsd/ro/m1..m6, 0.15 s apart, each one coming back from
  the broker (so both directions carry several multi-segment messages), then DISCONNECT.
script "big": SUBSCRIBE wsd/small/# QoS 1, one 204800-byte (200 KiB) QoS 1 PUBLISH to wsd/big and,
  queued right behind it without waiting, 64 small PUBLISHes (QoS 0/1 alternating, 24-31 bytes) to
  wsd/small/N, which come back; then DISCONNECT.  The big one is not echoed (not subscribed).
Payloads are pseudo-random printable text from random.Random(seed) (same bytes on every run).
The log (second oracle next to tshark) keeps paho's own on_log lines parsed by
samples/gen/scenarios/paholog.py, plus on_message records.  Whole run <= 20 s.
"""
import argparse
import json
import os
import random
import string
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "scenarios"))
import paho.mqtt  # noqa: E402
import paho.mqtt.client as mqtt  # noqa: E402
import paholog  # noqa: E402

ALPHA = (string.ascii_letters + string.digits + "+/").encode()


def payload(seed, n):
    r = random.Random(seed)
    return bytes(r.choice(ALPHA) for _ in range(n))


MULTI = [("wsd/ro/m1", 2000, 0), ("wsd/ro/m2", 3000, 1), ("wsd/ro/m3", 4500, 2),
         ("wsd/ro/m4", 5000, 0), ("wsd/ro/m5", 2500, 1), ("wsd/ro/m6", 3800, 2)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--transport", default="websockets", choices=["websockets", "tcp"])
    ap.add_argument("--script", default="multi", choices=["multi", "big"])
    ap.add_argument("--client-id", default="wsd-reorder")
    ap.add_argument("--log", required=True)
    a = ap.parse_args()
    log = []
    received = []
    connected, subscribed, disconnected = threading.Event(), threading.Event(), threading.Event()

    def note(event, **kw):
        kw.update(t=round(time.time(), 6), event=event)
        log.append(kw)

    c = mqtt.Client(client_id=a.client_id, clean_session=True, protocol=mqtt.MQTTv311, transport=a.transport)
    if a.transport == "websockets":
        c.ws_set_options(path="/mqtt")
    c.on_log = lambda cl, u, lvl, buf: log.append(paholog.parse(buf))
    c.on_connect = lambda cl, u, flags, rc: (note("on_connect", rc=rc), connected.set())
    c.on_subscribe = lambda cl, u, mid, granted: (note("on_subscribe", mid=mid, granted=list(granted)),
                                                  subscribed.set())
    c.on_disconnect = lambda cl, u, rc: (note("on_disconnect", rc=rc), disconnected.set())

    def on_message(cl, u, m):
        received.append(m.topic)
        note("on_message", topic=m.topic, qos=m.qos, retain=int(m.retain), payload_len=len(m.payload))
    c.on_message = on_message

    def wait_msgs(n, t):
        end = time.time() + t
        while len(received) < n and time.time() < end:
            time.sleep(0.02)

    c.connect(a.host, a.port, keepalive=30)
    c.loop_start()
    ok = connected.wait(5)
    want = 0
    if ok and a.script == "multi":
        c.subscribe("wsd/ro/#", qos=2)
        subscribed.wait(5)
        for i, (topic, n, q) in enumerate(MULTI):
            c.publish(topic, payload(i + 1, n), qos=q).wait_for_publish(5)
            time.sleep(0.15)
        want = len(MULTI)
        wait_msgs(want, 5)
    elif ok and a.script == "big":
        c.subscribe("wsd/small/#", qos=1)
        subscribed.wait(5)
        infos = [c.publish("wsd/big", payload(100, 204800), qos=1)]
        for i in range(64):
            infos.append(c.publish("wsd/small/%d" % i, b"small message %02d " % i + payload(200 + i, 8 + i % 8),
                                   qos=i % 2))
        want = 64
        for info in infos:
            info.wait_for_publish(10)
        wait_msgs(want, 10)
    time.sleep(0.3)
    c.disconnect()
    disconnected.wait(5)
    c.loop_stop()
    with open(a.log, "w") as f:
        json.dump({"client": "paho-mqtt %s (python %s) transport=%s MQTT 3.1.1" % (
            paho.mqtt.__version__, sys.version.split()[0], a.transport),
            "script": a.script, "client_id": a.client_id, "received": len(received), "log": log}, f, indent=1)
    sys.exit(0 if ok and len(received) >= want else 1)


if __name__ == "__main__":
    main()
