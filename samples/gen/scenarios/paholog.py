"""Turn paho-mqtt 1.6 on_log lines into structured client-log records.

Used by the paho-based scenario clients to write CAPTURE.client.json: every
record keeps paho's own log line ("raw") plus the fields parsed from it
(dir send/recv, MQTT packet type, qos, retain, dup, packet id, topic, payload
length, reason codes).  Nothing here looks at the wire: it is paho's own
account of what it sent and received.
"""
import re
import time

_SEND = re.compile(r"^(Sending|Received) ([A-Z]+)\b(.*)$", re.S)


def parse(line):
    rec = {"t": round(time.time(), 6), "raw": line}
    m = _SEND.match(line)
    if not m:
        return rec
    rec["dir"] = "send" if m.group(1) == "Sending" else "recv"
    rec["type"] = m.group(2)
    rest = m.group(3)
    f = re.search(r"\(d(\d), q(\d), r(\d), m(\d+)\), '(.*)', (?:properties=.*?, )?\.\.\. \((\d+) bytes\)", rest, re.S)
    if rec["type"] == "PUBLISH" and f:
        rec.update(dup=int(f.group(1)), qos=int(f.group(2)), retain=int(f.group(3)),
                   mid=int(f.group(4)), payload_len=int(f.group(6)))
        if rec["qos"] > 0:  # paho counts a local mid for QoS 0 too; only QoS > 0 has a packet id on the wire
            rec["packet_id"] = rec["mid"]
        topic = f.group(5)
        if topic.startswith("b'") and topic.endswith("'"):
            topic = topic[2:-1]
        rec["topic"] = topic
        pm = re.search(r"properties=(.*?), \.\.\.", rest, re.S)
        if pm:
            rec["properties"] = pm.group(1)
    mid = re.search(r"\(Mid: (\d+)\)", rest) or re.search(r"\(d\d, m(\d+)\)", rest) or re.search(r"m(\d+)", rest)
    if rec["type"] in ("PUBACK", "PUBREC", "PUBREL", "PUBCOMP", "SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK") and mid:
        rec["packet_id"] = int(mid.group(1))
    if rec["type"] == "SUBSCRIBE":
        rec["topics"] = re.findall(r"\(b?'([^']*)', (?:\{[^}]*\}|\d+|[^)]*)\)", rest)
    if rec["type"] == "CONNECT":
        c = re.search(r"client_id=b?'([^']*)'", rest)
        if c:
            rec["client_id"] = c.group(1)
        k = re.search(r"k(\d+)", rest)
        if k:
            rec["keepalive"] = int(k.group(1))
    if rec["type"] == "CONNACK":
        c = re.search(r"\((\d+), (.*)\)", rest)
        if c:
            rec["session_present"] = int(c.group(1))
            rec["reason"] = c.group(2)
    return rec
