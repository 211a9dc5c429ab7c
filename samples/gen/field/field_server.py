#!/usr/bin/python3
"""Small misbehaving servers for the field-failure captures (standard library only).

  --mode connect-close-tcp  plain MQTT over TCP: read the client's CONNECT, wait
                            --delay s (default 0.05), close (FIN) without any
                            CONNACK, like AWS IoT Core when the certificate has
                            no policy that allows iot:Connect
  --mode connect-close-ws   the same over WebSocket: a correct 101 (right
                            Sec-WebSocket-Accept, Sec-WebSocket-Protocol: mqtt
                            when offered), read WebSocket frames until a whole
                            MQTT CONNECT has arrived, wait --delay, close (FIN),
                            no CONNACK and no WebSocket Close frame
  --mode iis-101-noaccept   answer the Upgrade with "101 Switching Protocols",
                            Server: Microsoft-IIS/8.5, X-Powered-By: ASP.NET,
                            Upgrade/Connection and Sec-WebSocket-Protocol: mqtt
                            but NO Sec-WebSocket-Accept (what IIS 8+ sends when
                            an application accepts the upgrade while the
                            "WebSocket Protocol" feature is not installed);
                            then wait for the client to close
It serves --conns connections one after the other and logs each to --log (JSON):
the request head, what was sent, when the client's CONNECT arrived, how it ended.
Frame and MQTT splitting come from ../scenarios/odd_ws_server.py.
"""
import argparse
import base64
import hashlib
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scenarios"))
from odd_ws_server import GUID, Frames, header, mqtt_packets, read_head  # noqa: E402


def read_connect_tcp(c, rec):
    data = b""
    while True:
        d = c.recv(4096)
        if not d:
            rec["end"] = "client closed before a whole CONNECT"
            return False
        data += d
        pkts, data = mqtt_packets(data)
        if pkts:
            rec["got"] = "MQTT packet type %d, %d bytes" % (pkts[0][0] >> 4, len(pkts[0]))
            rec["t_connect"] = time.time()
            return True


def read_connect_ws(c, head, rest, rec):
    key = header(head, "sec-websocket-key") or ""
    acc = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
    proto = header(head, "sec-websocket-protocol")
    resp = ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Accept: %s\r\n" % acc)
    if proto and "mqtt" in [p.strip() for p in proto.split(",")]:
        resp += "Sec-WebSocket-Protocol: mqtt\r\n"
    resp += "\r\n"
    c.sendall(resp.encode())
    rec["sent"] = ["101 (correct accept%s)" % (", subprotocol mqtt" if "Protocol" in resp else "")]
    fr = Frames(c, rest)
    mq = b""
    while True:
        try:
            op, p = fr.next()
        except EOFError:
            rec["end"] = "client closed before a whole CONNECT"
            return False
        if op in (0, 1, 2):
            mq += p
            pkts, mq = mqtt_packets(mq)
            if pkts:
                rec["got"] = "MQTT packet type %d, %d bytes (in WebSocket)" % (pkts[0][0] >> 4, len(pkts[0]))
                rec["t_connect"] = time.time()
                return True
        elif op == 8:
            rec["end"] = "client sent a close frame"
            return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", required=True, choices=["connect-close-tcp", "connect-close-ws", "iis-101-noaccept"])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--conns", type=int, default=3)
    ap.add_argument("--delay", type=float, default=0.05)
    ap.add_argument("--log", required=True)
    a = ap.parse_args()
    s = socket.socket(socket.AF_INET)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((a.host, a.port))
    s.listen(8)
    s.settimeout(30)
    log = []
    for _ in range(a.conns):
        try:
            c, peer = s.accept()
        except socket.timeout:
            break
        c.settimeout(15)
        rec = {"peer": list(peer[:2]), "t_accept": time.time(), "mode": a.mode}
        try:
            if a.mode == "connect-close-tcp":
                if read_connect_tcp(c, rec):
                    time.sleep(a.delay)
                    rec["end"] = "closed %.3f s after the CONNECT, no CONNACK" % a.delay
            else:
                head, rest = read_head(c)
                rec["request"] = head
                if head is None:
                    rec["end"] = "client closed before a whole request head"
                elif a.mode == "connect-close-ws":
                    if read_connect_ws(c, head, rest, rec):
                        time.sleep(a.delay)
                        rec["end"] = "closed %.3f s after the CONNECT, no CONNACK, no close frame" % a.delay
                else:
                    resp = ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                            "Server: Microsoft-IIS/8.5\r\nX-Powered-By: ASP.NET\r\n"
                            "Sec-WebSocket-Protocol: mqtt\r\nConnection: Upgrade\r\n"
                            "Date: %s\r\n\r\n" % time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime()))
                    c.sendall(resp.encode())
                    rec["sent"] = [resp]
                    while c.recv(4096):
                        pass
                    rec["end"] = "client closed"
        except (OSError, EOFError) as e:
            rec["error"] = str(e)
        c.close()
        rec["t_close"] = time.time()
        log.append(rec)
    s.close()
    with open(a.log, "w") as f:
        json.dump({"server": "field_server.py (Python %s)" % sys.version.split()[0], "connections": log}, f, indent=1)


if __name__ == "__main__":
    main()
