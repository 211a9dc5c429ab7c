#!/usr/bin/python3
"""WISE-4050-like MQTT-over-WebSocket device, made with paho-mqtt 1.6 (Debian python3-paho-mqtt).

Client id WISE-4050_00D0C9E27959, MQTT 3.1.1 over ws://HOST:PORT/mqtt, will
Advantech/00D0C9E27959/Device_Status {"status":"disconnect"} (retained).  On
connect it publishes Advantech/00D0C9E27959/Device_Status {"status":"connect"}
retained (QoS 1) and then --publishes data messages to Advantech/00D0C9E27959/data
(QoS 0) like {"s":1,"t":0,"q":192,"c":1,"di1":true,"ai1":4.02}, then disconnects.
If the connection or the WebSocket handshake fails it retries --attempts times.
Writes paho's own log (parsed, see paholog.py) and each attempt's outcome to --log.
"""
import argparse
import json
import sys
import threading
import time
import os

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import paho.mqtt  # noqa: E402
import paho.mqtt.client as mqtt  # noqa: E402
import paholog  # noqa: E402

MAC = "00D0C9E27959"
CID = "WISE-4050_" + MAC


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=80)
    ap.add_argument("--path", default="/mqtt")
    ap.add_argument("--attempts", type=int, default=3)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--publishes", type=int, default=3)
    ap.add_argument("--log", required=True)
    a = ap.parse_args()

    events = []
    attempts = []
    connected = threading.Event()
    done = threading.Event()

    def on_log(c, u, level, buf):
        events.append(paholog.parse(buf))

    def on_connect(c, u, flags, rc):
        events.append({"t": round(time.time(), 6), "event": "on_connect", "rc": rc})
        if rc == 0:
            connected.set()

    def on_disconnect(c, u, rc):
        events.append({"t": round(time.time(), 6), "event": "on_disconnect", "rc": rc})
        done.set()

    ok = False
    for n in range(1, a.attempts + 1):
        c = mqtt.Client(client_id=CID, clean_session=True, protocol=mqtt.MQTTv311, transport="websockets")
        c.ws_set_options(path=a.path)
        c.on_log = on_log
        c.on_connect = on_connect
        c.on_disconnect = on_disconnect
        c.will_set("Advantech/%s/Device_Status" % MAC, '{"status":"disconnect"}', qos=0, retain=True)
        rec = {"attempt": n, "t": round(time.time(), 6)}
        try:
            c.connect(a.host, a.port, keepalive=60)
        except Exception as e:  # WebsocketConnectionError, socket errors
            rec["result"] = "%s: %s" % (type(e).__name__, e)
            attempts.append(rec)
            # paho leaves the socket to the garbage collector; close it explicitly
            try:
                if c._sock:
                    c._sock.close()
            except Exception:
                pass
            if n < a.attempts:
                time.sleep(a.interval)
            continue
        c.loop_start()
        if not connected.wait(5):
            rec["result"] = "no CONNACK"
            attempts.append(rec)
            c.loop_stop()
            continue
        st = c.publish("Advantech/%s/Device_Status" % MAC, '{"status":"connect"}', qos=1, retain=True)
        st.wait_for_publish(5)
        for i in range(a.publishes):
            payload = json.dumps({"s": 1, "t": i, "q": 192, "c": 1, "di1": i % 2 == 0,
                                  "ai1": round(4.02 + 0.01 * i, 2)}, separators=(",", ":"))
            c.publish("Advantech/%s/data" % MAC, payload, qos=0)
            time.sleep(0.3)
        c.disconnect()
        done.wait(5)
        c.loop_stop()
        rec["result"] = "connected, published, disconnected"
        attempts.append(rec)
        ok = True
        break
    with open(a.log, "w") as f:
        json.dump({"client": "paho-mqtt %s (python %s) transport=websockets" % (paho.mqtt.__version__, sys.version.split()[0]),
                   "client_id": CID, "attempts": attempts, "log": events}, f, indent=1)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
