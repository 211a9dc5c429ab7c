#!/usr/bin/python3
"""paho-mqtt 1.6 (Debian python3-paho-mqtt) over websockets publishing many messages, so its
internal wake-up socket pair (a TCP connection paho opens to itself on 127.0.0.1) carries many bytes.

    paho_many.py --host H --port P --count N --log X.client.json

Connects (client id wsdoctor-many, MQTT 3.1.1, path /mqtt), starts paho's network thread
(loop_start), publishes N QoS 0 messages "n=I" to wsdoctor/many from the main thread 20 ms apart,
then disconnects.  Every publish() from a thread other than the loop's writes one byte to the socket
pair to wake the loop (paho 1.6 client.py _packet_queue).  --log gets paho's own log lines
(samples/gen/scenarios/paholog.py) and the number of publish() calls.
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scenarios"))
import paho.mqtt.client as mqtt  # noqa: E402
import paholog  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--count", type=int, default=80)
    ap.add_argument("--log", required=True)
    a = ap.parse_args()
    log = []
    c = mqtt.Client(client_id="wsdoctor-many", protocol=mqtt.MQTTv311, transport="websockets")
    c.ws_set_options(path="/mqtt")
    c.on_log = lambda cl, u, lvl, buf: log.append(paholog.parse(buf))
    c.connect(a.host, a.port, keepalive=30)
    c.loop_start()
    t0 = time.time()
    while not c.is_connected() and time.time() - t0 < 5:
        time.sleep(0.01)
    for i in range(a.count):
        c.publish("wsdoctor/many", "n=%d" % i, qos=0)
        time.sleep(0.02)
    time.sleep(0.2)
    c.disconnect()
    c.loop_stop()
    with open(a.log, "w") as f:
        json.dump({"client": "wsdoctor-many", "publish_calls": a.count, "log": log}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
