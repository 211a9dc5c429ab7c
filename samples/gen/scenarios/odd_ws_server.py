#!/usr/bin/python3
"""Tiny misbehaving WebSocket servers (standard library only).

  --mode noanswer     accept, read the Upgrade request, never answer; close only
                      after the client has closed (read returns EOF)
  --mode reset        read the request, then close with SO_LINGER {1, 0}: RST
  --mode wrongaccept  answer 101 with a wrong Sec-WebSocket-Accept (the
                      accept of a different key), then wait for the client to go
  --mode coalesced    answer a correct 101 whose head and the server's first
                      WebSocket frame (a ping) go out in ONE send() (so one TCP
                      segment), then speak just enough MQTT 3.1.1 over WebSocket:
                      CONNACK for CONNECT, PUBACK for QoS 1 PUBLISH, SUBACK,
                      echo of close frames; it serves --conns connections.

Every connection is logged to --log (JSON).
"""
import argparse
import base64
import hashlib
import json
import socket
import struct
import time

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def read_head(c):
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = c.recv(4096)
        if not d:
            return None, buf
        buf += d
    head, rest = buf.split(b"\r\n\r\n", 1)
    return head.decode("latin-1"), rest


def header(head, name):
    for l in head.split("\r\n")[1:]:
        k, _, v = l.partition(":")
        if k.strip().lower() == name:
            return v.strip()
    return None


def frame(payload, opcode):
    n = len(payload)
    if n < 126:
        return bytes([0x80 | opcode, n]) + payload
    return bytes([0x80 | opcode, 126]) + struct.pack(">H", n) + payload


class Frames:
    def __init__(self, c, rest):
        self.c, self.buf = c, rest

    def _need(self, n):
        while len(self.buf) < n:
            d = self.c.recv(65536)
            if not d:
                raise EOFError
            self.buf += d

    def next(self):
        self._need(2)
        b0, b1 = self.buf[0], self.buf[1]
        n, off = b1 & 0x7F, 2
        if n == 126:
            self._need(4)
            n, off = struct.unpack(">H", self.buf[2:4])[0], 4
        elif n == 127:
            self._need(10)
            n, off = struct.unpack(">Q", self.buf[2:10])[0], 10
        mask = b""
        if b1 & 0x80:
            self._need(off + 4)
            mask, off = self.buf[off:off + 4], off + 4
        self._need(off + n)
        p = self.buf[off:off + n]
        self.buf = self.buf[off + n:]
        if mask:
            p = bytes(x ^ mask[i % 4] for i, x in enumerate(p))
        return b0 & 0x0F, p


def mqtt_packets(data):
    """Split complete MQTT packets off data; return (packets, rest)."""
    out = []
    while len(data) >= 2:
        mult, rl, i = 1, 0, 1
        while True:
            if i >= len(data):
                return out, data
            b = data[i]
            rl += (b & 0x7F) * mult
            mult *= 128
            i += 1
            if not b & 0x80:
                break
        if len(data) < i + rl:
            break
        out.append(data[:i + rl])
        data = data[i + rl:]
    return out, data


def serve_coalesced(c, head, rest, rec):
    key = header(head, "sec-websocket-key") or ""
    acc = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
    proto = header(head, "sec-websocket-protocol")
    resp = ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Accept: %s\r\n" % acc)
    if proto:
        resp += "Sec-WebSocket-Protocol: mqtt\r\n"
    resp += "\r\n"
    c.send(resp.encode() + frame(b"hello", 9))  # one send(): head + ping frame
    rec["sent"] = ["101 + ping('hello') in one send()"]
    fr = Frames(c, rest)
    mq = b""
    while True:
        try:
            op, p = fr.next()
        except EOFError:
            rec["sent"].append("EOF from client")
            return
        if op == 8:
            c.sendall(frame(p[:2] if len(p) >= 2 else b"", 8))
            rec["sent"].append("close echo")
            return
        if op in (0, 1, 2):
            mq += p
            pkts, mq = mqtt_packets(mq)
            for pk in pkts:
                t = pk[0] >> 4
                if t == 1:
                    c.sendall(frame(b"\x20\x02\x00\x00", 2))
                    rec["sent"].append("CONNACK")
                elif t == 3:
                    qos = (pk[0] >> 1) & 3
                    if qos:
                        i = 1
                        while pk[i] & 0x80:
                            i += 1
                        i += 1
                        tl = struct.unpack(">H", pk[i:i + 2])[0]
                        pid = pk[i + 2 + tl:i + 4 + tl]
                        c.sendall(frame((b"\x40\x02" if qos == 1 else b"\x50\x02") + pid, 2))
                        rec["sent"].append("PUBACK" if qos == 1 else "PUBREC")
                elif t == 6:
                    c.sendall(frame(b"\x70\x02" + pk[2:4], 2))
                    rec["sent"].append("PUBCOMP")
                elif t == 12:
                    c.sendall(frame(b"\xd0\x00", 2))
                    rec["sent"].append("PINGRESP")
                elif t == 14:
                    rec["sent"].append("got DISCONNECT")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", required=True, choices=["noanswer", "reset", "wrongaccept", "coalesced"])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=80)
    ap.add_argument("--conns", type=int, default=1)
    ap.add_argument("--log", required=True)
    a = ap.parse_args()
    s = socket.socket(socket.AF_INET6 if ":" in a.host else socket.AF_INET)
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
        rec = {"peer": list(peer[:2]), "t": time.time(), "mode": a.mode}
        try:
            head, rest = read_head(c)
            rec["request"] = head
            if a.mode == "noanswer":
                while c.recv(4096):
                    pass
                rec["end"] = "client closed; closing"
            elif a.mode == "reset":
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                rec["end"] = "SO_LINGER 0 close (RST)"
            elif a.mode == "wrongaccept":
                wrong = base64.b64encode(hashlib.sha1(b"dGhlIHNhbXBsZSBub25jZQ==" + GUID).digest()).decode()
                c.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n" % wrong).encode())
                rec["sent_accept"] = wrong
                while c.recv(4096):
                    pass
                rec["end"] = "client closed"
            else:
                serve_coalesced(c, head, rest, rec)
        except (OSError, EOFError) as e:
            rec["error"] = str(e)
        c.close()
        log.append(rec)
    s.close()
    with open(a.log, "w") as f:
        json.dump(log, f, indent=1)


if __name__ == "__main__":
    main()
