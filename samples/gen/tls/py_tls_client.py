#!/usr/bin/python3
"""A verifying TLS client made with Python's ssl module (the same OpenSSL as the system), for the
TLS failure samples.  Writes its own record of what happened to --log (JSON): the second oracle
beside tshark (exception class and text, OpenSSL verify code/message, negotiated version/suite).

  py_tls_client.py --host broker.example --port 443 --cafile ca.pem --keylog X.keys --log X.client.json
     [--sni NAME | --no-sni] [--no-check-hostname] [--no-verify] [--min 1.2] [--max 1.2]
     [--ciphers OPENSSL-LIST] [--timeout S] [--send TEXT]

--keylog sets ssl.SSLContext.keylog_filename (NSS key log format).  After a completed handshake the
client sends --send (default: a WebSocket Upgrade request for /mqtt), reads for up to 1 s, then
closes with close_notify (unwrap) and FIN.
"""
import argparse
import json
import socket
import ssl
import sys
import time

VERS = {"1.0": ssl.TLSVersion.TLSv1, "1.1": ssl.TLSVersion.TLSv1_1, "1.2": ssl.TLSVersion.TLSv1_2,
        "1.3": ssl.TLSVersion.TLSv1_3}
UPGRADE = ("GET /mqtt HTTP/1.1\r\nHost: broker.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
           "Sec-WebSocket-Protocol: mqtt\r\n\r\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="broker.example")
    ap.add_argument("--port", type=int, default=443)
    ap.add_argument("--sni")
    ap.add_argument("--no-sni", action="store_true")
    ap.add_argument("--cafile")
    ap.add_argument("--no-check-hostname", action="store_true")
    ap.add_argument("--no-verify", action="store_true")
    ap.add_argument("--min")
    ap.add_argument("--max")
    ap.add_argument("--ciphers")
    ap.add_argument("--timeout", type=float, default=5)
    ap.add_argument("--send", default=UPGRADE)
    ap.add_argument("--keylog")
    ap.add_argument("--log", required=True)
    a = ap.parse_args()
    t0 = time.time()
    rec = {"client": "Python %s ssl (%s)" % (sys.version.split()[0], ssl.OPENSSL_VERSION),
           "argv": sys.argv[1:], "events": []}

    def ev(what, **kw):
        rec["events"].append(dict({"t": round(time.time() - t0, 6), "event": what}, **kw))

    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=a.cafile)
    if a.no_check_hostname or a.no_verify:
        ctx.check_hostname = False
    if a.no_verify:
        ctx.verify_mode = ssl.CERT_NONE
    if a.min:
        ctx.minimum_version = VERS[a.min]
    if a.max:
        ctx.maximum_version = VERS[a.max]
    if a.ciphers:
        ctx.set_ciphers(a.ciphers)
    if a.keylog:
        ctx.keylog_filename = a.keylog
    sni = None if a.no_sni else (a.sni or a.host)
    rec["server_hostname"] = sni
    rec["check_hostname"] = ctx.check_hostname
    rec["verify_mode"] = str(ctx.verify_mode)
    rc = 0
    s = socket.create_connection((a.host, a.port), timeout=a.timeout)
    ev("tcp connected", peer=list(s.getpeername()))
    try:
        ts = ctx.wrap_socket(s, server_hostname=sni)
        ev("handshake done", version=ts.version(), cipher=list(ts.cipher()),
           alpn=ts.selected_alpn_protocol())
        if a.send:
            ts.sendall(a.send.encode())
            ev("sent", bytes=len(a.send))
            ts.settimeout(1)
            try:
                data = ts.recv(4096)
                ev("received", bytes=len(data), head=data[:200].decode("latin-1"))
            except (socket.timeout, ssl.SSLError, OSError) as e:
                ev("recv ended", error=type(e).__name__, message=str(e))
        try:
            ts.unwrap()
            ev("close_notify sent (unwrap)")
        except (ssl.SSLError, OSError) as e:
            ev("unwrap failed", error=type(e).__name__, message=str(e))
        ts.close()
    except ssl.SSLCertVerificationError as e:
        ev("handshake failed", error=type(e).__name__, message=str(e), verify_code=e.verify_code,
           verify_message=e.verify_message, reason=e.reason, library=e.library)
        rc = 3
        s.close()
    except ssl.SSLError as e:
        ev("handshake failed", error=type(e).__name__, message=str(e), reason=e.reason, library=e.library)
        rc = 3
        s.close()
    except (socket.timeout, TimeoutError) as e:
        ev("handshake timed out", error=type(e).__name__, message=str(e), timeout_s=a.timeout)
        rc = 4
        s.close()
    except OSError as e:
        ev("handshake failed", error=type(e).__name__, message=str(e))
        rc = 3
        s.close()
    ev("socket closed")
    with open(a.log, "w") as fh:
        json.dump(rec, fh, indent=1)
        fh.write("\n")
    sys.exit(rc)


if __name__ == "__main__":
    main()
