#!/usr/bin/python3
"""A TCP server that never speaks TLS, for the "handshake incomplete" samples.

  stub_server.py --port 443 --mode close-after-hello|silent --log X.server.json [--conns 1] [--hold 10]

close-after-hello: accept, read until one whole TLS record (the ClientHello) has arrived (5-byte
  header + its length), then close the socket at once (FIN, nothing written).
silent: accept, read and discard everything, never write; close after the peer closes (EOF) or
  after --hold seconds.
"""
import argparse
import json
import socket
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=443)
    ap.add_argument("--mode", required=True, choices=["close-after-hello", "silent"])
    ap.add_argument("--conns", type=int, default=1)
    ap.add_argument("--hold", type=float, default=10)
    ap.add_argument("--log", required=True)
    a = ap.parse_args()
    t0 = time.time()
    ev = []

    def note(what, **kw):
        ev.append(dict({"t": round(time.time() - t0, 6), "event": what}, **kw))

    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", a.port))
    ls.listen(4)
    for _ in range(a.conns):
        c, peer = ls.accept()
        note("accepted", peer=list(peer))
        buf = b""
        if a.mode == "close-after-hello":
            c.settimeout(5)
            while True:
                d = c.recv(65536)
                if not d:
                    break
                buf += d
                if len(buf) >= 5 and len(buf) >= 5 + int.from_bytes(buf[3:5], "big"):
                    break
            note("read", bytes=len(buf), record_type=buf[0] if buf else None,
                 handshake_type=buf[5] if len(buf) > 5 else None)
            c.close()
            note("closed (FIN) without writing")
        else:
            c.settimeout(a.hold)
            try:
                while True:
                    d = c.recv(65536)
                    if not d:
                        note("peer closed (EOF)", bytes_read=len(buf))
                        break
                    buf += d
            except socket.timeout:
                note("hold time over", bytes_read=len(buf))
            c.close()
            note("closed")
    ls.close()
    with open(a.log, "w") as fh:
        json.dump({"server": "stub_server.py mode=%s" % a.mode, "events": ev}, fh, indent=1)
        fh.write("\n")


if __name__ == "__main__":
    main()
