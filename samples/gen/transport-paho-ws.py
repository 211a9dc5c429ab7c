#!/usr/bin/python3
"""paho-mqtt (Debian python3-paho-mqtt 1.6.1) WebSocket client for the transport samples.

    transport-paho-ws.py HOST PORT LOGFILE

Connects to ws://HOST:PORT/mqtt (MQTT 3.1.1, client id "wsd-paho"), subscribes to
"wsd/ws/#" with QoS 2, publishes three messages (QoS 0, 1, 2) to wsd/ws/a|b|c, waits
until all three come back, then disconnects.  Writes its own record of what it sent
and received to LOGFILE (JSON), a second oracle next to tshark.  Whole run <= 10 s.
"""
import json
import sys
import threading
import time

import paho.mqtt.client as mqtt

host, port, logfile = sys.argv[1], int(sys.argv[2]), sys.argv[3]
log = {"client": "paho-mqtt " + mqtt.__version__ if hasattr(mqtt, "__version__") else "paho-mqtt",
       "url": "ws://%s:%d/mqtt" % (host if ":" not in host else "[%s]" % host, port),
       "events": []}
got = []
done = threading.Event()
subscribed = threading.Event()
connected = threading.Event()

MSGS = [("wsd/ws/a", b"hello qos0", 0),
        ("wsd/ws/b", b"hello qos1 " + b"x" * 40, 1),
        ("wsd/ws/c", b"hello qos2 " + b"y" * 1800, 2)]   # > MSS: spans TCP segments


def ev(kind, **kw):
    kw["event"] = kind
    log["events"].append(kw)


def on_connect(c, userdata, flags, rc):
    ev("connack", rc=rc, session_present=flags.get("session present", 0))
    connected.set()


def on_subscribe(c, userdata, mid, granted):
    ev("suback", mid=mid, granted=list(granted))
    subscribed.set()


def on_message(c, userdata, m):
    ev("publish_in", topic=m.topic, qos=m.qos, retain=m.retain, length=len(m.payload),
       payload_head=m.payload[:24].decode("latin-1"))
    got.append(m.topic)
    if len(got) >= len(MSGS):
        done.set()


try:
    import paho
    log["client"] = "paho-mqtt " + paho.mqtt.__version__
except Exception:
    pass

c = mqtt.Client(client_id="wsd-paho", clean_session=True, protocol=mqtt.MQTTv311,
                transport="websockets")
c.ws_set_options(path="/mqtt")
c.on_connect = on_connect
c.on_subscribe = on_subscribe
c.on_message = on_message
c.connect(host, port, keepalive=30)
ev("connect", client_id="wsd-paho", keepalive=30, protocol="MQTT 3.1.1")
c.loop_start()
ok = connected.wait(5)
if ok:
    c.subscribe("wsd/ws/#", qos=2)
    ev("subscribe", topic="wsd/ws/#", qos=2)
    subscribed.wait(5)
    for topic, payload, qos in MSGS:
        info = c.publish(topic, payload, qos=qos)
        ev("publish_out", topic=topic, qos=qos, length=len(payload), mid=info.mid)
        time.sleep(0.1)
    done.wait(5)
    time.sleep(0.2)
c.disconnect()
ev("disconnect")
time.sleep(0.3)
c.loop_stop()
log["received"] = len(got)
with open(logfile, "w") as f:
    json.dump(log, f, indent=1)
sys.exit(0 if len(got) == len(MSGS) else 1)
