#!/usr/bin/python3
"""MQTT variety with paho-mqtt 1.6 (Debian python3-paho-mqtt), over TCP or WebSocket.

  paho_session.py --pv 31|311|5 --transport tcp|websockets --port N --log X.client.json [--script S]

script "variety" (default), two connections:
  1. watcher  (client id wsdoctor-watch-PV): subscribes to wsdoctor/will/# (QoS 1)
  2. main     (client id wsdoctor-paho-PV, will wsdoctor/will/PV "main died" QoS 1):
     publishes wsdoctor/v/retained (QoS 1, retained), subscribes wsdoctor/v/# (QoS 2)
     -> gets the retained message (retain flag set), publishes QoS 0/1/2 to
     wsdoctor/v/q0..q2 and receives them back (QoS 0/1/2 server->client too),
     unsubscribes, then closes its socket without DISCONNECT, so the broker
     publishes the will to the watcher; the watcher then disconnects cleanly.
  MQTT 5 adds properties (user properties, message expiry, content type,
  session expiry on CONNECT, will delay 0).
script "toolarge" (MQTT 5): publishes 100 bytes then --big bytes (QoS 1) and
  records what the server answers (DISCONNECT 0x95 from mosquitto max_packet_size).
script "hostile": connects with a hostile client id, publishes to a hostile topic.
Writes paho's own log lines (parsed by paholog.py) for both connections to --log.
"""
import argparse
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import paho.mqtt  # noqa: E402
import paho.mqtt.client as mqtt  # noqa: E402
from paho.mqtt.properties import Properties  # noqa: E402
from paho.mqtt.packettypes import PacketTypes  # noqa: E402
import paholog  # noqa: E402

PV = {"31": mqtt.MQTTv31, "311": mqtt.MQTTv311, "5": mqtt.MQTTv5}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pv", default="311", choices=PV)
    ap.add_argument("--transport", default="tcp", choices=["tcp", "websockets"])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=1883)
    ap.add_argument("--script", default="variety")
    ap.add_argument("--big", type=int, default=4000)
    ap.add_argument("--client-id")
    ap.add_argument("--topic")
    ap.add_argument("--log", required=True)
    a = ap.parse_args()
    v5 = a.pv == "5"
    logs = {}
    received = {}
    events = {}

    def make(name, cid):
        logs[name] = []
        received[name] = []
        ev = events[name] = {"connected": threading.Event(), "disconnected": threading.Event(),
                             "suback": threading.Event(), "unsuback": threading.Event()}
        kw = {"client_id": cid, "protocol": PV[a.pv], "transport": a.transport}
        if not v5:
            kw["clean_session"] = True
        c = mqtt.Client(**kw)
        if a.transport == "websockets":
            c.ws_set_options(path="/mqtt")
        c.on_log = lambda cl, u, lvl, buf: logs[name].append(paholog.parse(buf))
        if v5:
            def on_connect(cl, u, flags, rc, props=None):
                logs[name].append({"t": round(time.time(), 6), "event": "on_connect", "rc": str(rc),
                                   "properties": str(props) if props else None})
                ev["connected"].set()

            def on_disconnect(cl, u, rc, props=None):
                logs[name].append({"t": round(time.time(), 6), "event": "on_disconnect", "rc": str(rc),
                                   "properties": str(props) if props else None})
                ev["disconnected"].set()
        else:
            def on_connect(cl, u, flags, rc):
                logs[name].append({"t": round(time.time(), 6), "event": "on_connect", "rc": rc})
                ev["connected"].set()

            def on_disconnect(cl, u, rc):
                logs[name].append({"t": round(time.time(), 6), "event": "on_disconnect", "rc": rc})
                ev["disconnected"].set()
        c.on_connect = on_connect
        c.on_disconnect = on_disconnect
        c.on_subscribe = lambda *x: ev["suback"].set()
        c.on_unsubscribe = lambda *x: ev["unsuback"].set()

        def on_message(cl, u, m):
            received[name].append(m.topic)
            logs[name].append({"t": round(time.time(), 6), "event": "on_message", "topic": m.topic, "qos": m.qos,
                               "retain": int(m.retain), "payload_len": len(m.payload),
                               "properties": str(m.properties) if v5 and m.properties else None})
        c.on_message = on_message
        return c

    def connect(c, **kw):
        if v5:
            p = Properties(PacketTypes.CONNECT)
            p.SessionExpiryInterval = 0
            p.UserProperty = [("app", "wsdoctor-samples")]
            c.connect(a.host, a.port, keepalive=30, clean_start=True, properties=p)
        else:
            c.connect(a.host, a.port, keepalive=30)
        c.loop_start()

    def wait_msgs(name, n, t=5):
        end = time.time() + t
        while len(received[name]) < n and time.time() < end:
            time.sleep(0.02)

    def pub_props(extra=None):
        if not v5:
            return None
        p = Properties(PacketTypes.PUBLISH)
        p.MessageExpiryInterval = 600
        p.ContentType = "text/plain"
        p.UserProperty = [("seq", extra or "0")]
        return p

    if a.script == "variety":
        watch = make("watcher", "wsdoctor-watch-%s" % a.pv)
        connect(watch)
        events["watcher"]["connected"].wait(5)
        watch.subscribe("wsdoctor/will/#", qos=1)
        events["watcher"]["suback"].wait(5)

        main_c = make("main", "wsdoctor-paho-%s" % a.pv)
        wp = None
        if v5:
            wp = Properties(PacketTypes.WILLMESSAGE)
            wp.WillDelayInterval = 0
            wp.ContentType = "text/plain"
        main_c.will_set("wsdoctor/will/%s" % a.pv, "main died", qos=1, retain=False, properties=wp)
        connect(main_c)
        events["main"]["connected"].wait(5)
        main_c.publish("wsdoctor/v/retained", "retained state v%s" % a.pv, qos=1, retain=True,
                       properties=pub_props("r")).wait_for_publish(5)
        main_c.subscribe("wsdoctor/v/#", qos=2)
        events["main"]["suback"].wait(5)
        wait_msgs("main", 1)
        for q in (0, 1, 2):
            main_c.publish("wsdoctor/v/q%d" % q, "payload at qos %d" % q, qos=q,
                           properties=pub_props(str(q))).wait_for_publish(5)
        wait_msgs("main", 4)
        main_c.unsubscribe("wsdoctor/v/#")
        events["main"]["unsuback"].wait(5)
        # clear the retained message (empty retained payload), then die without DISCONNECT
        main_c.publish("wsdoctor/v/retained", b"", qos=1, retain=True).wait_for_publish(5)
        time.sleep(0.2)
        main_c.loop_stop()
        logs["main"].append({"t": round(time.time(), 6), "event": "socket closed without DISCONNECT"})
        main_c.socket().close()
        wait_msgs("watcher", 1)
        time.sleep(0.2)
        watch.disconnect()
        events["watcher"]["disconnected"].wait(5)
        watch.loop_stop()
    elif a.script == "toolarge":
        c = make("main", a.client_id or "wsdoctor-toolarge")
        connect(c)
        events["main"]["connected"].wait(5)
        c.publish("wsdoctor/small", "x" * 100, qos=1, properties=pub_props()).wait_for_publish(5)
        c.publish("wsdoctor/toolarge", "Z" * a.big, qos=1, properties=pub_props())
        events["main"]["disconnected"].wait(5)
        c.loop_stop()
    elif a.script == "hostile":
        c = make("main", a.client_id)
        connect(c)
        events["main"]["connected"].wait(5)
        c.subscribe(a.topic, qos=1)
        events["main"]["suback"].wait(5)
        c.publish(a.topic, "<script>alert(3)</script>", qos=1).wait_for_publish(5)
        wait_msgs("main", 1)
        c.disconnect()
        events["main"]["disconnected"].wait(5)
        c.loop_stop()
    with open(a.log, "w") as f:
        json.dump({"client": "paho-mqtt %s (python %s) transport=%s protocol=%s" % (
            paho.mqtt.__version__, sys.version.split()[0], a.transport, a.pv),
            "script": a.script, "connections": logs}, f, indent=1)


if __name__ == "__main__":
    main()
