#!/usr/bin/python3
"""MQTT clients that log in the way Azure IoT Hub devices do, with real SAS
tokens (HMAC-SHA256 over the URL-encoded resource and the expiry, with a
throw-away key), against mosquitto (which accepts anyone):
  tcp1: MQTT 3.1.1 over TCP 1883, user name "myhub.azure-devices.net/dev1/?api-version=2021-04-12",
        password "SharedAccessSignature sr=...&sig=...&se=...", client id dev1; one PUBLISH.
  ws2:  MQTT 3.1.1 over WebSocket (8080, path /$iothub/websocket), the SAS token given as the
        user name (a misconfigured SDK), no password.
  tcp3: MQTT 5 over TCP with enhanced authentication (method SCRAM-SHA-1, data = the client's
        first message); mosquitto without an auth plugin refuses it.
Writes what each client sent, paho's log lines and the secret values to --log.
"""
import argparse, base64, hashlib, hmac, json, time, urllib.parse
import paho.mqtt
import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.packettypes import PacketTypes

ap = argparse.ArgumentParser()
ap.add_argument("--log", required=True)
a = ap.parse_args()

HUB = "myhub.azure-devices.net"
KEY = base64.b64encode(b"wsdoctor throw-away device key!!").decode()


def sas(resource, expiry):
    sr = urllib.parse.quote(resource, safe="")
    sig = base64.b64encode(hmac.new(base64.b64decode(KEY), f"{sr}\n{expiry}".encode(), hashlib.sha256).digest()).decode()
    return f"SharedAccessSignature sr={sr}&sig={urllib.parse.quote(sig, safe='')}&se={expiry}", urllib.parse.quote(sig, safe="")


EXP = 1795603600
SAS1, SIG1 = sas(f"{HUB}/devices/dev1", EXP)
SAS2, SIG2 = sas(f"{HUB}/devices/dev2", EXP)
SCRAM = b"n,,n=dev3,r=fyko+d2lbbFgONRv9qkxdawL"
log = {"client": "paho-mqtt %s (python %s)" % (paho.mqtt.__version__, ".".join(map(str, __import__("sys").version_info[:3]))),
       "sent": {}, "paho_log": {}, "secrets": {"SIG1": SIG1, "SIG2": SIG2, "SCRAM_DATA": SCRAM.decode()}}


def run(name, client, host, port, username, password, props=None, pub=None):
    lines = []
    client.on_log = lambda c, u, level, buf: lines.append(buf)
    done = {"connack": None}

    def on_connect(c, u, flags, rc, properties=None):
        done["connack"] = str(rc)
        if pub and (rc == 0):
            c.publish(*pub, qos=1)
        else:
            c.disconnect()

    client.on_connect = on_connect
    client.on_publish = lambda c, u, mid: c.disconnect()
    if username is not None:
        client.username_pw_set(username, password)
    log["sent"][name] = {"username": username, "password": password}
    try:
        if props is not None:
            client.connect(host, port, keepalive=60, properties=props)
        else:
            client.connect(host, port, keepalive=60)
    except Exception as e:  # noqa: BLE001
        lines.append("connect failed: %r" % e)
    t = time.time()
    while time.time() - t < 5:
        client.loop(0.1)
        if not client.is_connected() and done["connack"] is not None:
            break
    try:
        client.disconnect()
    except Exception:  # noqa: BLE001
        pass
    for _ in range(5):
        client.loop(0.05)
    log["paho_log"][name] = lines + ["connack: %s" % done["connack"]]


c1 = mqtt.Client(client_id="dev1", protocol=mqtt.MQTTv311)
run("tcp1", c1, "127.0.0.1", 1883, f"{HUB}/dev1/?api-version=2021-04-12", SAS1,
    pub=("devices/dev1/messages/events/", '{"temp":21.5}'))
time.sleep(0.3)
c2 = mqtt.Client(client_id="dev2", protocol=mqtt.MQTTv311, transport="websockets")
c2.ws_set_options(path="/$iothub/websocket")
run("ws2", c2, "127.0.0.1", 8080, SAS2, None, pub=("devices/dev2/messages/events/", '{"temp":19.0}'))
time.sleep(0.3)
c3 = mqtt.Client(client_id="dev3", protocol=mqtt.MQTTv5)
p = Properties(PacketTypes.CONNECT)
p.AuthenticationMethod = "SCRAM-SHA-1"
p.AuthenticationData = SCRAM
run("tcp3", c3, "127.0.0.1", 1883, "dev3", None, props=p)
log["sent"]["tcp3"]["authentication_method"] = "SCRAM-SHA-1"
log["sent"]["tcp3"]["authentication_data"] = SCRAM.decode()
with open(a.log, "w") as f:
    json.dump(log, f, indent=1)
    f.write("\n")
