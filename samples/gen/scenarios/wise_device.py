#!/usr/bin/python3
"""A device-like WebSocket client (raw sockets, standard library only).

Behaves like an embedded MQTT-over-WebSocket device (Advantech WISE-4050 style):
it opens a TCP connection, sends the HTTP Upgrade request for /mqtt with
Sec-WebSocket-Protocol: mqtt, reads the whole answer (head + Content-Length
body, or until the server closes / a timeout), closes its side with FIN and
retries after an interval.  If it does get a 101 it checks Sec-WebSocket-Accept
and, when that is right, sends an MQTT 3.1.1 CONNECT in one masked binary frame
and waits for the CONNACK, then sends DISCONNECT and a close frame.

Writes a JSON log (--log) of every attempt: request headers sent, status line,
response headers, body length / <title>, how the connection ended.
"""
import argparse
import base64
import hashlib
import json
import os
import re
import socket
import struct
import time

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def mqtt_connect(client_id, keepalive=60):
    vh = b"\x00\x04MQTT\x04\x02" + struct.pack(">H", keepalive)
    cid = client_id.encode()
    payload = struct.pack(">H", len(cid)) + cid
    rem = vh + payload
    return bytes([0x10, len(rem)]) + rem


def ws_frame(payload, opcode=2):
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        hdr = bytes([0x80 | opcode, 0x80 | n])
    elif n < 65536:
        hdr = bytes([0x80 | opcode, 0x80 | 126]) + struct.pack(">H", n)
    else:
        hdr = bytes([0x80 | opcode, 0x80 | 127]) + struct.pack(">Q", n)
    return hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def read_response(sock, timeout):
    sock.settimeout(timeout)
    buf = b""
    ended = None
    try:
        while b"\r\n\r\n" not in buf:
            d = sock.recv(4096)
            if not d:
                ended = "server closed before end of response head"
                break
            buf += d
    except socket.timeout:
        ended = "timeout waiting for response head"
    except ConnectionResetError:
        ended = "connection reset by server"
    if b"\r\n\r\n" not in buf:
        return None, buf, ended
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = lines[0]
    headers = []
    for l in lines[1:]:
        k, _, v = l.partition(":")
        headers.append([k.strip(), v.strip()])
    return (status, headers), rest, ended


def attempt(args, n, log):
    rec = {"attempt": n, "t": time.time()}
    key = base64.b64encode(os.urandom(16)).decode()
    host = args.host_header or ("[%s]" % args.host if ":" in args.host else args.host)
    if args.port != 80:
        host += ":%d" % args.port
    req = [("Host", host), ("Upgrade", "websocket"), ("Connection", "Upgrade")]
    if not args.no_key:
        req.append(("Sec-WebSocket-Key", key))
    req.append(("Sec-WebSocket-Version", str(args.ws_version)))
    req.append(("Sec-WebSocket-Protocol", "mqtt"))
    for h in args.header:
        k, _, v = h.partition(":")
        req.append((k.strip(), v.strip()))
    data = ("GET %s HTTP/1.1\r\n" % args.path + "".join("%s: %s\r\n" % kv for kv in req) + "\r\n").encode()
    rec["request_headers"] = [list(kv) for kv in req]
    fam = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(args.timeout)
    try:
        s.connect((args.host, args.port))
    except OSError as e:
        rec["result"] = "connect failed: %s" % e
        log.append(rec)
        s.close()
        return False
    rec["local_port"] = s.getsockname()[1]
    s.sendall(data)
    resp, rest, ended = read_response(s, args.timeout)
    ok = False
    if resp is None:
        rec["result"] = ended
        rec["bytes_received"] = len(rest)
    else:
        status, headers = resp
        rec["status_line"] = status
        rec["response_headers"] = headers
        hl = {k.lower(): v for k, v in headers}
        m = re.match(r"HTTP/\d\.\d (\d{3})", status)
        code = int(m.group(1)) if m else None
        rec["status"] = code
        if code == 101:
            want = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
            got = hl.get("sec-websocket-accept")
            rec["expected_accept"] = want
            if got != want:
                rec["result"] = "bad Sec-WebSocket-Accept (got %r), closing" % got
            else:
                s.sendall(ws_frame(mqtt_connect(args.client_id)))
                rec["sent"] = [{"mqtt": "CONNECT", "client_id": args.client_id}]
                s.settimeout(args.timeout)
                try:
                    more = rest + s.recv(4096)
                    rec["received_bytes_after_101"] = len(more)
                    rec["received_hex"] = more[:64].hex()
                except socket.timeout:
                    rec["received_bytes_after_101"] = len(rest)
                s.sendall(ws_frame(b"\xe0\x00"))
                s.sendall(ws_frame(struct.pack(">H", 1000), opcode=8))
                rec["sent"] += [{"mqtt": "DISCONNECT"}, {"ws": "close", "code": 1000}]
                ok = True
                rec["result"] = "upgraded"
        else:
            body = rest
            clen = hl.get("content-length")
            try:
                s.settimeout(args.timeout)
                if clen is not None:
                    while len(body) < int(clen):
                        d = s.recv(65536)
                        if not d:
                            break
                        body += d
                else:
                    while True:
                        d = s.recv(65536)
                        if not d:
                            break
                        body += d
            except (socket.timeout, ConnectionResetError) as e:
                rec["body_read_error"] = str(e) or type(e).__name__
            rec["body_length"] = len(body)
            t = re.search(rb"<title>(.*?)</title>", body, re.I | re.S)
            rec["body_title"] = t.group(1).decode("latin-1") if t else None
            rec["result"] = "upgrade refused with HTTP %s" % code
    try:
        s.shutdown(socket.SHUT_WR)
        s.settimeout(2)
        while s.recv(65536):
            pass
    except OSError:
        pass
    s.close()
    rec["closed"] = time.time()
    log.append(rec)
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=80)
    ap.add_argument("--host-header")
    ap.add_argument("--path", default="/mqtt")
    ap.add_argument("--attempts", type=int, default=3)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--timeout", type=float, default=5.0)
    ap.add_argument("--ws-version", type=int, default=13)
    ap.add_argument("--no-key", action="store_true")
    ap.add_argument("--header", action="append", default=[])
    ap.add_argument("--client-id", default="WISE-4050_00D0C9E27959")
    ap.add_argument("--log", required=True)
    a = ap.parse_args()
    log = []
    for n in range(1, a.attempts + 1):
        if attempt(a, n, log):
            break
        if n < a.attempts:
            time.sleep(a.interval)
    with open(a.log, "w") as f:
        json.dump({"client": "wise_device.py (raw-socket device emulation, Python %s)" % os.sys.version.split()[0],
                   "client_id": a.client_id, "attempts": log}, f, indent=1)


if __name__ == "__main__":
    main()
