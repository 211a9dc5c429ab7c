#!/usr/bin/python3
"""Write samples/proxy/expect.json: what every HTTP CONNECT proxy capture holds.

Verdicts, targets, proxies, client ids and the kind of traffic inside the tunnel come from how
each scenario was made (make.sh, written below by hand).  Frame numbers, counts and timings are
tshark's (4.0.17): the truth files (tshark-truth.py) and a few extra tshark runs made here:
  - the proxy's answer frame: tshark -d tcp.port==8888,http -o http.desegment_body:FALSE, i.e. the
    frame that completes the response head (the truth file has the frame that completes the whole
    response; tinyproxy's error bodies end only at the close, and when the device's FIN comes
    before the body, tshark never completes the response and the truth has no entry for it);
  - the frames of the Upgrade request / 101 inside a clear tunnel: tshark -Y 'tcp.payload contains
    "GET /mqtt "' (tshark 4.0 shows a tunnel to port 8080 as Data, so the truth has no HTTP there);
  - the bytes of each stream: tshark -q -z follow,tcp,raw,N.  For the *-both-legs files the device
    leg minus the CONNECT request / proxy answer must equal the proxy->broker leg byte for byte, and
    a device-leg capture must equal stream 0 of its both-legs twin (the same run); WebSocket frame
    and MQTT packet counts of a tunnel tshark does not decode are then taken from that other leg.
The clients' own logs (NAME.client.json) are checked against tshark's MQTT packets.
usage: expect.py [--check]   (--check: compare, do not write)
"""
import json
import os
import subprocess
import sys

G = os.path.dirname(os.path.abspath(__file__))
D = os.path.normpath(os.path.join(G, "..", "..", "proxy"))
PORT = 8888
TS = ["tshark", "-n", "-o", "tcp.desegment_tcp_streams:TRUE", "-o", "tcp.reassemble_out_of_order:TRUE",
      "-d", "tcp.port==%d,http" % PORT]
PROBLEMS = []


def problem(msg):
    PROBLEMS.append(msg)
    print("!!! " + msg, file=sys.stderr)


def tshark(cap, *args):
    out = subprocess.run(TS + ["-r", os.path.join(D, cap)] + list(args), capture_output=True, text=True, check=True)
    return out.stdout


def fields(cap, filt, *names, extra=()):
    out = tshark(cap, *extra, "-Y", filt, "-T", "fields", "-E", "separator=|", *sum([["-e", n] for n in names], []))
    return [ln.split("|") for ln in out.splitlines() if ln]


def truth(cap):
    return json.load(open(os.path.join(D, cap.replace(".pcap", ".truth.json"))))


def follow(cap, stream):
    """(c2s bytes, s2c bytes) of a TCP stream, from tshark's follow,tcp,raw."""
    out = tshark(cap, "-q", "-z", "follow,tcp,raw,%d" % stream)
    c2s, s2c, body = [], [], False
    for ln in out.splitlines():
        if ln.startswith("Node 1:"):
            body = True
            continue
        if not body or ln.startswith("===") or not ln.strip():
            continue
        (s2c if ln.startswith("\t") else c2s).append(ln.strip())
    return bytes.fromhex("".join(c2s)), bytes.fromhex("".join(s2c))


def answers(cap):
    """CONNECT requests and proxy answers per stream (answer frame = response head complete)."""
    rows = fields(cap, "http.request or http.response", "frame.number", "frame.time_relative", "tcp.stream",
                  "http.request.method", "http.request.uri", "http.response.version", "http.response.code",
                  "http.response.phrase", "http.response.line", "tcp.len",
                  extra=("-o", "http.desegment_body:FALSE"))
    per = {}
    for fr, t, st, meth, uri, ver, code, phrase, lines, tlen in rows:
        s = per.setdefault(int(st), {})
        if meth == "CONNECT" and "connect_frame" not in s:
            s.update(connect_frame=int(fr), connect_t=float(t), target=uri)
        elif code and "answer_frame" not in s:
            hdrs = {}
            for h in lines.split("\\r\\n,"):
                h = h.replace("\\r\\n", "")
                if ": " in h:
                    k, v = h.split(": ", 1)
                    hdrs[k.lower()] = v
            s.update(answer_frame=int(fr), answer_t=float(t), status=int(code), phrase=phrase, version=ver,
                     headers=hdrs)
    return per


def payload_frames(cap, needle, stream=0):
    return [int(r[0]) for r in fields(cap, 'tcp.stream == %d && tcp.payload contains "%s"' % (stream, needle), "frame.number")]


def first_inside_protocols(cap, stream, after):
    rows = fields(cap, "tcp.stream == %d && tcp.len > 0 && frame.number > %d" % (stream, after),
                  "frame.number", "frame.protocols")
    return (int(rows[0][0]), rows[0][1]) if rows else (None, None)


def mqtt_types(stream):
    return [(m["dir"], m["name"]) for m in stream.get("mqtt_packets", [])]


def client_mqtt(cap):
    """(dir, type) of every MQTT packet in the client's own log, c2s = sent."""
    log = json.load(open(os.path.join(D, cap.replace(".pcap", ".client.json") if cap.endswith(".pcap") else cap)))
    return [("c2s" if r["dir"] == "send" else "s2c", r["type"]) for r in log["log"] if r.get("dir") in ("send", "recv")]


E = {}


def ok(cap, target, inside, client, client_id, backend=None, twin=None, sni=None, log=None, note=""):
    """A working tunnel: one stream (0) to the proxy; `backend` = its proxy->broker leg in the same
    file (stream 1); `twin` = the both-legs file of the same run (for a device-leg-only capture)."""
    t = truth(cap)
    a = answers(cap)[0]
    s0 = t["streams"][0]
    ev = {"connect_frame": a["connect_frame"], "answer_frame": a["answer_frame"],
          "answer_after_s": round(a["answer_t"] - a["connect_t"], 4)}
    fi, protos = first_inside_protocols(cap, 0, a["answer_frame"])
    ev["first_inside_frame"] = fi
    ev["tshark_inside_protocols"] = protos
    if target != a["target"] or a["status"] != 200:
        problem("%s: CONNECT %s -> %s" % (cap, a["target"], a["status"]))
    dev = follow(cap, 0)
    req_len = int(fields(cap, "frame.number == %d" % a["connect_frame"], "tcp.len")[0][0])
    ans_len = int(fields(cap, "frame.number == %d" % a["answer_frame"], "tcp.len")[0][0])
    ws_frames = mqtt_n = None
    inner = s0
    if backend is not None or twin is not None:
        other_cap, other_stream = (cap, backend) if backend is not None else (twin, 1)
        be = follow(other_cap, other_stream)
        # the proxy relays the tunnel unchanged; bytes the device sends after the proxy has closed (the
        # TLS close_notify of connect-wss) reach the proxy but are never relayed: compare the relayed prefix
        tc, ts = dev[0][req_len:], dev[1][ans_len:]
        same = tc[:len(be[0])] == be[0] and ts[:len(be[1])] == be[1]
        ev["tunnel_bytes_equal_backend_leg"] = same
        left = {"c2s": len(tc) - len(be[0]), "s2c": len(ts) - len(be[1])}
        if any(left.values()):
            ev["device_bytes_not_relayed"] = left
        if not same or min(left.values()) < 0:
            problem("%s: tunnel bytes differ from %s stream %d" % (cap, other_cap, other_stream))
        if twin is not None:
            tw = follow(twin, 0)
            if tw != dev:
                problem("%s: device leg differs from %s stream 0" % (cap, twin))
            ev["same_bytes_as"] = "%s stream 0" % twin
        inner_b = truth(other_cap)["streams"][other_stream]
        if backend is not None:
            ev["backend_stream"] = backend
            ev["backend_upgrade_frames"] = [h["frame"] for h in inner_b.get("http", [])]
        if inside != "mqtt" and not s0.get("websocket_frames"):
            inner = inner_b  # tshark does not decode the device leg's tunnel: counts from the other leg
            ev["counts_from"] = "%s stream %d (same bytes)" % (other_cap, other_stream)
    ev["tunnel_bytes"] = {"c2s": len(dev[0]) - req_len, "s2c": len(dev[1]) - ans_len}
    if inside in ("websocket", "tls"):
        ws_frames = len(inner.get("websocket_frames", []))
    mqtt_n = len(inner.get("mqtt_packets", []))
    if inside == "websocket":
        g = payload_frames(cap, "GET /mqtt ")
        r = payload_frames(cap, "HTTP/1.1 101 ")
        ev["upgrade_request_frames"], ev["upgrade_response_frames"] = g, r
    if inside == "tls":
        tls = s0.get("tls", {})
        ev["client_hello_frame"] = tls.get("client_hello", {}).get("frame")
        ev["server_hello_frame"] = tls.get("server_hello", {}).get("frame")
        ev["tls_version"] = tls.get("server_hello", {}).get("selected_version")
        ev["decrypted_upgrade_frames"] = [h["frame"] for h in s0.get("http", [])
                                          if h.get("method") != "CONNECT" and h.get("status") != 200]
        if tls.get("client_hello", {}).get("sni") != sni:
            problem("%s: SNI %s" % (cap, tls.get("client_hello", {}).get("sni")))
    mq = mqtt_types(inner)
    ev["mqtt"] = ["%s %s@%d" % (m["dir"], m["name"], m["frame"]) for m in inner.get("mqtt_packets", [])]
    if inner is not s0:
        ev["mqtt_frames_are_of"] = "the backend leg"
    cl = client_mqtt(log or cap)
    if sorted(cl) != sorted(mq):
        problem("%s: client log %s != tshark %s" % (cap, cl, mq))
    ev["fin_rst"] = ["%s %s@%d" % (x["dir"], x["flag"], x["frame"]) for x in s0["fin_rst"]]
    e = {"verdict": "ok", "severity": None, "streams": [0],
         "tunnel": {"target": target, "status": 200, "phrase": a["phrase"], "version": a["version"],
                    "proxy": a["headers"].get("proxy-agent") or a["headers"].get("server"),
                    "proxy_addr": "127.0.0.1:%d" % PORT, "request_headers": s0["http"][0]["headers"]},
         "inside": inside}
    if sni:
        e["sni"] = sni
        e["tls_inside"] = "websocket"
        e["keylog"] = cap.split("-both-legs")[0].replace(".pcap", "") + ".keys"
    if ws_frames is not None:
        e["ws_frames"] = ws_frames
    e["mqtt_packets"] = mqtt_n
    e["mqtt"] = [t for _, t in mq]
    e["client"] = client
    e["client_id"] = client_id
    if backend is not None:
        e["backend_streams"] = [backend]
    e["tshark"] = ev
    e["note"] = note
    E[cap] = e


def refused(cap, target, proxy, status, reason, client, client_id, note, extra_headers=()):
    t = truth(cap)
    per = answers(cap)
    streams = sorted(per)
    ev = {"connect_frames": [], "answer_frames": [], "answer_after_s": [], "truth_response_frames": [],
          "fin_rst": []}
    hdr = {}
    for st in streams:
        a = per[st]
        if a.get("target") != target or a.get("status") != status:
            problem("%s s%d: %s -> %s" % (cap, st, a.get("target"), a.get("status")))
        ev["connect_frames"].append(a["connect_frame"])
        ev["answer_frames"].append(a["answer_frame"])
        ev["answer_after_s"].append(round(a["answer_t"] - a["connect_t"], 4))
        s = t["streams"][st]
        resp = [h["frame"] for h in s.get("http", []) if h["kind"] == "response"]
        ev["truth_response_frames"].append(resp[0] if resp else None)
        ev["fin_rst"].append(["%s %s@%d" % (x["dir"], x["flag"], x["frame"]) for x in s["fin_rst"]])
        if s.get("websocket_frames") or s.get("mqtt_packets"):
            problem("%s s%d: traffic after a refusal" % (cap, st))
        hdr = a["headers"]
        phrase, version = a["phrase"], a["version"]
    if hdr.get("server") != proxy:
        problem("%s: Server %s" % (cap, hdr.get("server")))
    cl = client_mqtt(cap)
    if any(d == "s2c" for d, _ in cl):
        problem("%s: the client received MQTT" % cap)
    tunnel = {"target": target, "status": status, "phrase": phrase, "version": version, "proxy": proxy,
              "proxy_addr": "127.0.0.1:%d" % PORT, "request_headers": t["streams"][0]["http"][0]["headers"]}
    for h in extra_headers:
        tunnel[h.lower().replace("-", "_")] = hdr.get(h.lower())
    E[cap] = {"verdict": "http_connect_refused", "severity": "error", "streams": streams, "tunnel": tunnel,
              "reason": reason, "attempts": len(streams), "inside": None, "mqtt_packets": 0, "ws_frames": 0,
              "client": client, "client_id": client_id, "tshark": ev, "note": note}


MQTTJS = "MQTT.js 5.16.0 over npm ws 8.23.0 with https-proxy-agent 7.0.6 (Node 20.20.2)"
PAHO = "paho-mqtt 1.6.1 with PySocks 1.7.1 (proxy_set(proxy_type=socks.HTTP))"
SESSION = "CONNECT, CONNACK 0, PUBLISH QoS 1 wsdoctor/proxy/<client id>/status, PUBACK, DISCONNECT"

ok("connect-wss.pcap", "broker.example:443", "tls", MQTTJS, "wsdoctor-proxy-wss", sni="broker.example",
   note="tinyproxy 1.11.1 (ConnectPort 443) -> nginx 1.22.1 TLS on 443 (test CA's broker.example certificate) -> "
        "mosquitto websockets 8080; wss://broker.example:443/mqtt through the proxy; " + SESSION + "; device leg "
        "(port 8888) only. tshark decodes TLS inside the tunnel by itself (target port 443) and, with "
        "connect-wss.keys, HTTP, WebSocket and MQTT inside it. At the end the proxy sends FIN, the device's TLS "
        "close_notify arrives after that and the proxy answers RST")
ok("connect-wss-both-legs.pcap", "broker.example:443", "tls", MQTTJS, "wsdoctor-proxy-wss", sni="broker.example",
   backend=1, log="connect-wss.client.json",
   note="the connect-wss run captured on ports 8888 and 443 in one tcpdump: stream 1 is tinyproxy -> nginx:443, "
        "the same TLS bytes as the tunnel (end-to-end TLS between the device and nginx; decrypted with "
        "connect-wss.keys on both legs)")
ok("connect-ws.pcap", "broker.example:8080", "websocket", MQTTJS, "wsdoctor-proxy-ws", twin="connect-both-legs.pcap",
   note="tinyproxy 1.11.1 (ConnectPort 8080) -> mosquitto websockets 8080; ws://broker.example:8080/mqtt through the "
        "proxy; " + SESSION + "; device leg only. tshark 4.0 does not decode the tunnel (frames after the 200 are "
        "'http:data' with Proxy-Connect-Hostname/Port), so the truth file has no GET / 101 / WebSocket / MQTT here: "
        "the counts are those of the same bytes on the proxy->broker leg of connect-both-legs.pcap")
ok("connect-both-legs.pcap", "broker.example:8080", "websocket", MQTTJS, "wsdoctor-proxy-ws", backend=1,
   log="connect-ws.client.json",
   note="the connect-ws run captured on ports 8888 and 8080 in one tcpdump: stream 0 = device -> tinyproxy "
        "(tunnel not decoded by tshark), stream 1 = tinyproxy -> mosquitto:8080 (GET /mqtt, 101, WebSocket, MQTT, "
        "all decoded by tshark)")
ok("connect-ws-paho.pcap", "broker.example:8080", "websocket", PAHO, "wsdoctor-proxy-ws-paho",
   twin="connect-ws-paho-both-legs.pcap",
   note="the same as connect-ws with paho over websockets through PySocks: its CONNECT has 'Host: broker.example' "
        "(no port) and no Proxy-Connection; paho writes each MQTT packet as one WebSocket frame and sends no "
        "WebSocket Close; device leg only, counts from connect-ws-paho-both-legs.pcap")
ok("connect-ws-paho-both-legs.pcap", "broker.example:8080", "websocket", PAHO, "wsdoctor-proxy-ws-paho", backend=1,
   log="connect-ws-paho.client.json",
   note="the connect-ws-paho run captured on ports 8888 and 8080")
ok("connect-mqtt.pcap", "broker.example:1883", "mqtt", PAHO, "wsdoctor-proxy-mqtt",
   note="tinyproxy 1.11.1 (ConnectPort 1883) -> mosquitto 1883; paho MQTT 3.1.1 over TCP through PySocks; " + SESSION +
        ". tshark decodes the MQTT inside the tunnel by itself (target port 1883)")

refused("connect-407.pcap", "broker.example:8080", "tinyproxy/1.11.1", 407, "proxy_auth_required", MQTTJS,
        "wsdoctor-proxy-noauth", extra_headers=("Proxy-Authenticate",),
        note="tinyproxy 'BasicAuth device s3cret'; the device sends no Proxy-Authorization, reconnects 1 s apart, "
             "3 attempts. tinyproxy answers HTTP/1.0 407 with Proxy-Authenticate: Basic realm=\"Tinyproxy\", "
             "Connection: close and a 374-byte HTML body without Content-Length (ends with the close); head and "
             "body are two TCP segments. The device closes as soon as it has the head: when its FIN comes before "
             "the body, the body gets a RST and tshark never completes the response (truth_response_frames null)")
refused("connect-403.pcap", "broker.example:8080", "tinyproxy/1.11.1", 403, "port_not_allowed", MQTTJS,
        "wsdoctor-proxy-port",
        note="tinyproxy 'ConnectPort 443' only; the device asks CONNECT broker.example:8080: 'HTTP/1.1 403 Access "
             "violation' ('The CONNECT method not allowed with the port you tried to use.'), 375-byte body, "
             "Connection: close; 3 attempts 1 s apart; the broker is up (never reached)")
refused("connect-500-tinyproxy.pcap", "broker.example:8080", "tinyproxy/1.11.1", 500, "target_unreachable", MQTTJS,
        "wsdoctor-proxy-down",
        note="nothing listens on broker.example:8080 (no broker started): tinyproxy answers 'HTTP/1.1 500 Unable to "
             "connect' (not 502), 372-byte body, Connection: close; 3 attempts")
refused("connect-503-squid.pcap", "broker.example:8080", "squid/5.7", 503, "target_unreachable", MQTTJS,
        "wsdoctor-proxy-down", extra_headers=("X-Squid-Error",),
        note="squid 5.7 instead of tinyproxy, nothing listens on 8080: 'HTTP/1.1 503 Service Unavailable' with "
             "X-Squid-Error: ERR_CONNECT_FAIL 111 (ECONNREFUSED), Content-Length 3075, HTML error page in 3 "
             "segments; 3 attempts")
refused("connect-503-squid-timeout.pcap", "broker.example:8080", "squid/5.7", 503, "target_unreachable", MQTTJS,
        "wsdoctor-proxy-blackhole", extra_headers=("X-Squid-Error",),
        note="squid 5.7 with connect_timeout 2 seconds; SYNs to port 8080 dropped by nftables in the namespace (a "
             "black-holed broker): still 503 (not 504), X-Squid-Error: ERR_CONNECT_FAIL 110 (ETIMEDOUT), the "
             "answer 2-3 s after the CONNECT (squid's timeouts have 1 s granularity); 3 attempts")

if __name__ == "__main__":
    path = os.path.join(D, "expect.json")
    if "--check" in sys.argv:
        old = json.load(open(path))
        for k in sorted(set(old) | set(E)):
            if old.get(k) != E.get(k):
                problem("%s differs from the committed expect.json" % k)
    else:
        with open(path, "w") as f:
            json.dump(E, f, indent=1)
            f.write("\n")
        print("wrote %s (%d captures)" % (path, len(E)))
    sys.exit(1 if PROBLEMS else 0)
