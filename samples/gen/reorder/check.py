#!/usr/bin/python3
"""Check every capture of samples/reorder/ against tshark and the client logs; write expect.json.

    check.py OUTDIR

For each original (real, clean) capture: the messages pcaplib finds in it (HTTP messages, WebSocket
frames, MQTT packets, with the frame that completes each) must equal tshark's truth of it
(tshark-truth.py, imported from /work/shared/tools), and its MQTT packets must equal the client's own
log (paho on_log lines / MQTT.js packetsend+packetreceive / curl --write-out) direction by direction.

For each derived capture (derive.json says how it was made) and each real merged capture (veth-*,
reference veth-out-noskew.pcap): every packet is matched to its packet in the original by its TCP
content (direction, relative seq and ack, flags, payload; IPv4 fragments are reassembled first), the
first arrival of every stream byte is found, and from that the expected messages: a message is there
when all its bytes are in the file; it is completed in the frame where the last of the bytes from the
start of the stream (from the message's own start where the file has a hole or starts mid-stream)
arrives.  The expected lists are compared with tshark's truth of the derived file
(tcp.reassemble_out_of_order on, off for captures with a hole, as tshark-truth.py's "_ooo") and with
tshark's truth with out-of-order reassembly off (to show which captures need it).

expect.json gets one object per capture (see README.md); check.log the comparison.
"""
import importlib.util
import json
import os
import re
import sys
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pcaplib as L  # noqa: E402

GEN = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.abspath(sys.argv[1])
TRUTH_PY = os.environ.get("TRUTH", "/work/shared/tools/tshark-truth.py")
spec = importlib.util.spec_from_file_location("truth", TRUTH_PY)
T = importlib.util.module_from_spec(spec)
spec.loader.exec_module(T)

ORIGINALS = {   # capture: (protocol, client log, http port for the truth)
    "paho-ws.pcap": ("ws", "paho-ws.client.json", 8080),
    "paho-big.pcap": ("ws", "paho-big.client.json", 8080),
    "mqttjs-ws.pcap": ("ws", "mqttjs-ws.client.json", 8080),
    "mqttjs-deflate.pcap": ("ws", "mqttjs-deflate.client.json", 8080),
    "mqtt-tcp.pcap": ("mqtt", "mqtt-tcp.client.json", None),
    "http-keepalive.pcap": ("http", "http-keepalive.client.json", None),
    "veth-out-noskew.pcap": ("ws", "veth.client.json", 8080),
}
MERGED = {"veth-out.pcap": "veth-out-noskew.pcap", "veth-both.pcap": "veth-out-noskew.pcap"}

MADE = {
    "paho-ws.pcap": "real: paho 1.6.1 over websockets -> mosquitto 2.0.11 websockets listener, lo (mtu 1500, offloads off)",
    "paho-big.pcap": "real: paho websockets -> mosquitto, one 204800-byte QoS 1 PUBLISH then 64 small PUBLISHes",
    "mqttjs-ws.pcap": "real: MQTT.js 5.16.0 over npm ws 8.23.0 (no extension offered) -> mosquitto websockets",
    "mqttjs-deflate.pcap": "real: MQTT.js over npm ws offering permessage-deflate -> aedes 1.2.0 behind ws "
                           "WebSocketServer (perMessageDeflate threshold 0, context takeover)",
    "mqtt-tcp.pcap": "real: paho over plain TCP -> mosquitto listener 1883",
    "http-keepalive.pcap": "real: curl 7.88.1, 5 requests (4 GET, 1 POST of 6000 bytes) on one keep-alive "
                           "connection to nginx 1.22.1",
    "veth-out-noskew.pcap": "real: two namespaces joined by a veth pair, tcpdump -Q out in each, merged with "
                            "mergecap without clock skew (the in-order reference of veth-out/veth-both)",
    "veth-out.pcap": "real reordering: the same two tcpdump -Q out captures as veth-out-noskew, the broker "
                     "side's shifted +3 ms with editcap -t 0.003, merged with mergecap",
    "veth-both.pcap": "real reordering + duplicates: tcpdump (in and out) in both namespaces of the same session, "
                      "the broker side's shifted +3 ms with editcap -t 0.003, merged with mergecap",
}
NOTES = {
    "paho-ws-101-first.pcap": "tshark does not manage: it meets the 101 before the GET, dissects the 101 as a "
                              "response without request, never switches the conversation to WebSocket and shows "
                              "no upgrade and no WebSocket frame (like the Zeek capture with no upgrade and 0 of "
                              "4 WebSocket frames). The expected lists here come from the original (paho-ws.pcap) "
                              "and how the file was made.",
    "paho-ws-mid-aligned.pcap": "No handshake in the file: tshark does not know the stream is WebSocket "
                                "(with --http-port 8080 it tries HTTP) and decodes nothing; the expected lists "
                                "come from the original's truth, renumbered.",
    "mqttjs-ws-mid-aligned.pcap": "No handshake in the file: tshark decodes nothing; the expected lists come "
                                  "from the original's truth, renumbered.",
    "paho-ws-mid-unaligned.pcap": "No handshake, and the client direction starts inside a WebSocket frame: that "
                                  "frame (and its MQTT packet) is lost; the frames after it are intact but can only "
                                  "be found by resynchronising (see resync).",
    "mqttjs-ws-mid-unaligned.pcap": "No handshake, and the client direction starts inside a WebSocket frame "
                                    "(the payload frame of a PUBLISH MQTT.js split over several frames).",
    "paho-big-hole.pcap": "One 1448-byte segment inside the payload of the 200 KiB WebSocket frame is missing; "
                          "its ACK is in the file. Only the big PUBLISH is lost: the frame's length is known "
                          "from its header, so the next frame starts at a known offset after the hole and every "
                          "later packet is decodable. tshark agrees with tcp.reassemble_out_of_order off "
                          "(with it on, tshark stalls the client direction at the hole).",
    "paho-big-hole-boundary.pcap": "The missing segment holds the end of the big frame and the first bytes "
                                   "after it (whole small frames and the start of one more): the big PUBLISH and "
                                   "every small frame that has a byte in the hole are lost. The big frame's "
                                   "length says where the next frame starts (inside the hole), but that frame's "
                                   "header is missing, so the frames after the hole can only be found by "
                                   "resynchronising (see resync); the server direction is untouched. Its truth is made with "
                                   "tcp.reassemble_out_of_order on: tshark then stops the client direction at the "
                                   "hole, which is exactly the conservative expectation (ws_frames / mqtt_packets); "
                                   "with it off, tshark parses the bytes after the hole as WebSocket frames and "
                                   "finds bogus ones (opcodes 1, 11, 12, 13) and part of the real ones.",
}


def load_truth(cap, http_port, ooo):
    name = os.path.basename(cap)
    return T.truth_for(cap, [], {name: {"_ooo": ooo}}, [http_port] if http_port else [])


def truth_lists(doc):
    ws, mq, http = [], [], []
    for st in doc["streams"]:
        for w in st["websocket_frames"]:
            ws.append((w["frame"], w["dir"], w["opcode"], w["payload_len"]))
        for m in st["mqtt_packets"]:
            mq.append((m["frame"], m["dir"], m["name"], m.get("topic"), m.get("payload_len")))
        for h in st["http"]:
            http.append((h["frame"], h["dir"], h["kind"]))
    ups = sum(1 for st in doc["streams"] if st.get("http_upgrade") and st["http_upgrade"].get("response")
              and st["http_upgrade"]["response"].get("status") == 101)
    flags = Counter()
    for st in doc["streams"]:
        for k, v in st["tcp_analysis"].items():
            flags[k] += len(v)
    return ws, mq, http, ups, dict(flags)


def model_lists(msgs):
    ws = [(m.frame, m.dir, m.info["opcode"], m.info["payload_len"]) for m in msgs if m.kind == "ws"]
    mq = [(m.frame, m.dir, L.MQTT_NAMES[m.info["type"]], m.info.get("topic"), m.info.get("payload_len"))
          for m in msgs if m.kind == "mqtt"]
    http = [(m.frame, m.dir, "request" if "method" in m.info else "response") for m in msgs if m.kind == "http"]
    return ws, mq, http


def diff(a, b, n=8):
    ca, cb = Counter(a), Counter(b)
    miss = sorted((ca - cb).elements(), key=str)
    extra = sorted((cb - ca).elements(), key=str)
    return {"expected_not_in_tshark": [list(x) for x in miss[:n]], "n_expected_not_in_tshark": len(miss),
            "tshark_not_expected": [list(x) for x in extra[:n]], "n_tshark_not_expected": len(extra)}


# ------------------------------------------------------------------ client logs
def client_mqtt(path):
    """per direction [(type, topic, payload_len)] from the client's own log"""
    doc = json.load(open(path))
    out = {"c2s": [], "s2c": []}
    for r in doc.get("log", []):
        if r.get("dir") in ("send", "recv") and r.get("type"):
            d = "c2s" if r["dir"] == "send" else "s2c"
            topic, plen = r.get("topic"), r.get("payload_len")
            if r["type"] == "PUBLISH" and topic is None and "raw" in r:
                # paho 1.6 logs "Received PUBLISH (d0, q1, r0, m1), 'wsd/ro/m2', ...  (3000 bytes)"
                # (two spaces: paholog.py's pattern takes only the Sending form)
                mm = re.search(r"\), '(.*)', \.\.\.\s+\((\d+) bytes\)", r["raw"])
                if mm:
                    topic, plen = mm.group(1), int(mm.group(2))
            out[d].append((r["type"], topic if r["type"] == "PUBLISH" else None,
                           plen if r["type"] == "PUBLISH" else None))
    return doc, out


def check_client(name, msgs, logname):
    path = os.path.join(OUT, logname)
    if name == "http-keepalive.pcap":
        doc = json.load(open(path))
        tr = doc["transfers"]
        req = [m for m in msgs if m.kind == "http" and "method" in m.info]
        resp = [m for m in msgs if m.kind == "http" and "status" in m.info]
        ok = (len(tr) == len(req) == len(resp)
              and [t["method"] for t in tr] == [m.info["method"] for m in req]
              and [t["size_download"] for t in tr] == [m.info["body_len"] for m in resp]
              and sum(t["num_connects"] for t in tr) == 1)
        return {"log": logname, "agrees": ok, "transfers": len(tr),
                "note": "curl --write-out %{json}: method, size_download and num_connects per transfer "
                        "(one connection for all)"}
    doc, log = client_mqtt(path)
    wire = {"c2s": [], "s2c": []}
    for m in msgs:
        if m.kind == "mqtt":
            t = L.MQTT_NAMES[m.info["type"]]
            wire[m.dir].append((t, m.info.get("topic") if t == "PUBLISH" else None, m.info.get("payload_len")))
    res = {"log": logname, "client": doc.get("client")}
    ok = True
    for d in ("c2s", "s2c"):
        res[d] = {"wire": len(wire[d]), "log": len(log[d])}
        if wire[d] != log[d]:
            ok = False
            res[d]["first_difference"] = next(
                ([i, list(a) if a else None, list(b) if b else None]
                 for i, (a, b) in enumerate(zip(wire[d] + [None] * 9, log[d] + [None] * 9)) if a != b), None)
    res["agrees"] = ok
    return res


# ------------------------------------------------------------------ derived captures
class Effective:
    """the TCP packets of a capture as a receiver sees them: IPv4 fragments reassembled (the datagram
    counts at the frame of its last fragment), each with its position (frame number)"""

    def __init__(self, path, ref):
        hdr, recs = L.read_pcap(path)
        self.nframes = len(recs)
        pk = L.decode_all(recs)
        frags, out = {}, []
        self.nfrag = 0
        for p in pk:
            if p.frag is not None:
                self.nfrag += 1
                d = p.rec.data
                key = (d[26:30], d[30:34], p.ipid)
                f = frags.setdefault(key, {})
                body = d[14 + p.ihl:14 + int.from_bytes(d[16:18], "big")]
                f[p.frag[0]] = (body, p.frag[1], d[:14 + p.ihl])
                total = next((o + len(b) for o, (b, mf, h) in f.items() if not mf), None)
                if total is not None:
                    got, o = b"", 0
                    while o in f:
                        got += f[o][0]
                        o += len(f[o][0])
                    if o == total:
                        h = bytearray(f[0][2])
                        h[16:18] = (len(h) - 14 + total).to_bytes(2, "big")
                        h[20:22] = b"\0\0"
                        q = L.decode(p.no, L.Rec(0, 0, bytes(h) + got))
                        out.append(q)
                        del frags[key]
            elif p.tcp is not None:
                out.append(p)
        c = ref.conn
        syn = {("c2s" if p.src == c.cli else "s2c"): p.seq for p in out if p.syn}
        self.isn = {d: syn.get(d, c.isn[d]) for d in ("c2s", "s2c")}
        for p in out:
            p.dir = "c2s" if p.src == c.cli else "s2c"
            p.rel = (p.seq - self.isn[p.dir]) & 0xFFFFFFFF
        self.pkts = out
        self.complete_frags = not frags

    def key(self, p):
        other = "s2c" if p.dir == "c2s" else "c2s"
        ra = (p.ack - self.isn[other]) & 0xFFFFFFFF if p.flags & 0x10 else None
        return (p.dir, p.rel, ra, p.flags, p.plen, p.payload)


class Ref:
    def __init__(self, name):
        proto = ORIGINALS[name][0]
        self.name = name
        self.hdr, self.recs = L.read_pcap(os.path.join(OUT, name))
        self.pkts = L.decode_all(self.recs)
        self.conn = L.Conn(self.pkts)
        self.msgs = self.conn.find_messages(proto)
        self.isn = self.conn.isn


def expected(ref, eff):
    """expected messages of a derived / merged capture from its reference original"""
    class E:
        pass
    e = E()
    keyof = {}
    refeff = Effective(os.path.join(OUT, ref.name), ref)
    for p in refeff.pkts:
        keyof.setdefault(refeff.key(p), p.no)
    e.orig_of = {}
    unmatched = []
    for p in eff.pkts:
        k = eff.key(p)
        if k in keyof:
            e.orig_of[p.no] = keyof[k]
        else:
            unmatched.append(p.no)
    e.unmatched = unmatched
    n = {d: len(ref.conn.data[d]) for d in ("c2s", "s2c")}
    arr = {d: [None] * (n[d] + 2) for d in n}
    for p in eff.pkts:
        if p.plen and p.no in e.orig_of:
            a = arr[p.dir]
            for i in range(p.rel, min(p.rel + p.plen, n[p.dir] + 1)):
                if a[i] is None:
                    a[i] = p.no
    e.missing = {d: [i for i in range(1, n[d] + 1) if arr[d][i] is None] for d in n}
    e.lossless = not e.missing["c2s"] and not e.missing["s2c"]
    e.present, e.lost = [], []
    for m in ref.msgs:
        a = arr[m.dir]
        span = a[m.start:m.end]
        if all(x is not None for x in span):
            lo = 1 if e.lossless else m.start
            frame = max(a[lo:m.end])
            e.present.append((m, frame))
        else:
            e.lost.append(m)
    e.present.sort(key=lambda x: (x[1], x[0].dir == "s2c", x[0].start))
    e.arr = arr
    e.resync = locate(ref, e)
    return e


def locate(ref, e):
    """Messages whose bytes are all in the file but whose start cannot be known without searching:
    after a WebSocket frame whose header is missing (the capture starts inside a frame, or a hole covers
    a frame header), the next frame's position is unknown; an MQTT packet after a lost packet whose fixed
    header is missing likewise.  Returns the set of such messages (ids)."""
    need = set()
    arr = e.arr
    if e.lossless:
        return need

    def have(d, lo, hi):
        return all(arr[d][i] is not None for i in range(lo, hi))
    for d in ("c2s", "s2c"):
        got = [i for i in range(1, len(arr[d])) if arr[d][i] is not None]
        if not got:
            continue
        first = got[0]
        ws = sorted((m for m in ref.msgs if m.kind == "ws" and m.dir == d), key=lambda m: m.start)
        loc = {}
        if ws:
            # the HTTP head before the frames: frames are locatable from the end of the 101 / GET
            heads = [m for m in ref.msgs if m.kind == "http" and m.dir == d]
            known = heads[-1].end if heads and have(d, heads[-1].start, heads[-1].end) else (
                first if any(m.start == first for m in ws) else None)
            for f in ws:
                if f.end <= first:
                    continue
                ok = known == f.start
                loc[id(f)] = ok
                known = f.end if ok and have(d, f.start, f.start + f.info["hdr_len"]) else None
                if not ok and have(d, f.start, f.end):
                    need.add(id(f))
        mq = sorted((m for m in ref.msgs if m.kind == "mqtt" and m.dir == d), key=lambda m: m.start)
        synced = None
        for p in mq:
            if p.end <= first:
                continue
            frames = [f for f in ws if p.start <= f.start < p.end]
            floc = all(loc.get(id(f), False) for f in frames) if ws else True
            hdr = p.info.get("hdr_rel") or []
            hdr_ok = bool(hdr) and all(arr[d][i] is not None for i in hdr) and (
                not ws or loc.get(id(frames[0]), False))
            if synced is None:
                synced = hdr_ok and floc
            if have(d, p.start, p.end) and not (synced and floc):
                need.add(id(p))
            synced = synced and hdr_ok
    return need


def msg_record(m, frame=None, orig_truth_frame=None):
    r = {"stream": 0, "dir": m.dir}
    if m.kind == "mqtt":
        r["type"] = L.MQTT_NAMES[m.info["type"]]
        for k in ("topic", "qos", "packet_id", "payload_len"):
            if k in m.info:
                r[k] = m.info[k]
    elif m.kind == "ws":
        r.update(opcode=m.info["opcode"], payload_len=m.info["payload_len"], rsv1=m.info["rsv1"])
    else:
        r.update(m.info)
    r["orig_frame"] = m.frame
    if frame is not None:
        r["frame"] = frame
    return r


def resync_info(ref, e, eff):
    """per direction with messages that can only be found by resynchronising: the first such WebSocket
    frame (or MQTT packet on plain TCP) and whether it starts a TCP segment of the file"""
    out = {}
    seg_starts = {d: {p.rel for p in eff.pkts if p.dir == d and p.plen} for d in ("c2s", "s2c")}
    for d in ("c2s", "s2c"):
        need = [(m, f) for m, f in e.present if id(m) in e.resync and m.dir == d]
        if not need:
            continue
        kind = "ws" if any(m.kind == "ws" for m, f in need) else "mqtt"
        m, f = min(((m, f) for m, f in need if m.kind == kind), key=lambda x: x[0].start)
        out[d] = {"first_intact_%s" % ("ws_frame" if kind == "ws" else "mqtt_packet"): {
                      "orig_frame": m.frame, "frame": f, "rel_seq": m.start,
                      "starts_a_tcp_segment": m.start in seg_starts[d]},
                  "ws_frames": sum(1 for m, f in need if m.kind == "ws"),
                  "mqtt_packets": sum(1 for m, f in need if m.kind == "mqtt")}
    return out


def dump(obj, f, ind=0):
    """JSON with one line per list item that is a flat object (compact, diff-friendly)"""
    sp = " " * ind
    if isinstance(obj, dict) and obj and not all(not isinstance(v, (dict, list)) for v in obj.values()) or (
            isinstance(obj, dict) and ind == 0):
        f.write("{\n")
        items = list(obj.items())
        for i, (k, v) in enumerate(items):
            f.write("%s %s: " % (sp, json.dumps(k)))
            dump(v, f, ind + 1)
            f.write(",\n" if i < len(items) - 1 else "\n")
        f.write(sp + "}")
    elif isinstance(obj, list) and obj and any(isinstance(v, (dict, list)) for v in obj):
        f.write("[\n")
        for i, v in enumerate(obj):
            f.write(sp + " ")
            dump(v, f, ind + 1)
            f.write(",\n" if i < len(obj) - 1 else "\n")
        f.write(sp + "]")
    else:
        f.write(json.dumps(obj))


def main():
    manifest = json.load(open(os.path.join(GEN, "derive.json")))
    ep = os.path.join(OUT, "expect.json")
    refs = {}
    expect, log = {}, []
    caps = sorted(f for f in os.listdir(OUT) if f.endswith(".pcap"))
    ok_all = True
    for cap in caps:
        path = os.path.join(OUT, cap)
        if cap in ORIGINALS:
            proto, logname, hport = ORIGINALS[cap]
            ref = refs.setdefault(cap, Ref(cap))
            tr = load_truth(path, hport, True)
            tws, tmq, thttp, tups, flags = truth_lists(tr)
            mws, mmq, mhttp = model_lists(ref.msgs)
            agree = Counter(tws) == Counter(mws) and Counter(tmq) == Counter(mmq) and Counter(thttp) == Counter(mhttp)
            cl = check_client(cap, ref.msgs, logname)
            ent = {"derived_from": None, "made_by": MADE[cap], "frames": len(ref.recs), "streams": len(tr["streams"]),
                   "lossless": True, "upgrades": tups, "http_messages": len(mhttp), "ws_frames": len(mws),
                   "mqtt_packets": len(mmq),
                   "tshark": {"ooo": True, "agrees": agree, "ws_frames": len(tws), "mqtt_packets": len(tmq),
                              "http_messages": len(thttp), "tcp_analysis": flags},
                   "client_log": cl}
            if not agree:
                ent["tshark"]["differences"] = {"ws": diff(mws, tws), "mqtt": diff(mmq, tmq), "http": diff(mhttp, thttp)}
            ok_all &= agree and cl["agrees"]
            log.append("%-30s original: model=tshark %s, client log %s  (ws %d, mqtt %d, http %d, frames %d)" % (
                cap, agree, cl["agrees"], len(mws), len(mmq), len(mhttp), len(ref.recs)))
            expect[cap] = ent
            continue
        if cap in MERGED:
            refname, mf = MERGED[cap], None
        elif cap in manifest:
            mf = manifest[cap]
            refname = mf["derived_from"]
        else:
            log.append("%s: unknown capture, skipped" % cap)
            continue
        ref = refs.setdefault(refname, Ref(refname))
        proto, logname, hport = ORIGINALS[refname]
        eff = Effective(path, ref)
        e = expected(ref, eff)
        kept = [int(str(o).split("/")[0]) for o in mf["order"]] if mf else []
        hole = mf is not None and any(x > min(kept) for x in mf["removed"])
        sure = [(m, f) for m, f in e.present if id(m) not in e.resync]
        resync = [(m, f) for m, f in e.present if id(m) in e.resync]
        mws = [(f, m.dir, m.info["opcode"], m.info["payload_len"]) for m, f in sure if m.kind == "ws"]
        mmq = [(f, m.dir, L.MQTT_NAMES[m.info["type"]], m.info.get("topic"), m.info.get("payload_len"))
               for m, f in sure if m.kind == "mqtt"]
        mhttp = [(f, m.dir, "request" if "method" in m.info else "response") for m, f in sure if m.kind == "http"]

        def agrees(lists):
            tws, tmq, thttp = lists[:3]
            return Counter(tws) == Counter(mws) and Counter(tmq) == Counter(mmq) and Counter(thttp) == Counter(mhttp)
        # tshark with out-of-order reassembly on (off for a capture with a hole, as tshark-truth.py says:
        # on, tshark stalls the direction at the hole), and the other way round for comparison.  For a
        # hole where the stall is exactly what is expected (nothing after the hole can be located) and
        # "off" makes tshark decode bogus frames, the truth is made with "on".
        ooo = not hole
        tr = load_truth(path, hport, ooo)
        tr2 = load_truth(path, hport, not ooo)
        if hole and not agrees(truth_lists(tr)) and agrees(truth_lists(tr2)):
            ooo, tr, tr2 = not ooo, tr2, tr
        tws, tmq, thttp, tups, flags = truth_lists(tr)
        t2ws, t2mq, t2http, t2ups, _ = truth_lists(tr2)
        agree = agrees((tws, tmq, thttp))
        ups = 1 if (any(m.kind == "http" and m.info.get("status") == 101 for m, f in e.present)
                    and any(m.kind == "http" and m.info.get("method") for m, f in e.present)) else 0
        ent = {"derived_from": mf["derived_from"] if mf else None}
        if mf is None:
            ent["reference"] = refname
            ent["made_by"] = MADE[cap]
        else:
            ent["edits"] = mf["edits"]
        ent.update({
            "frames": eff.nframes, "streams": len(tr["streams"]), "lossless": e.lossless,
            "upgrades": ups, "http_messages": len(mhttp), "ws_frames": len(mws), "mqtt_packets": len(mmq),
        })
        if resync:
            ent["ws_frames_after_resync"] = len(mws) + sum(1 for m, f in resync if m.kind == "ws")
            ent["mqtt_packets_after_resync"] = len(mmq) + sum(1 for m, f in resync if m.kind == "mqtt")
        if eff.nfrag:
            ent["ipv4_fragments"] = eff.nfrag
        if mf and mf.get("seq_shift"):
            ent["isn"] = {d: mf["seq_shift"][d] for d in ("c2s", "s2c")}
        ent["tshark"] = {"ooo": ooo, "agrees": agree, "upgrades": tups, "ws_frames": len(tws),
                         "mqtt_packets": len(tmq), "http_messages": len(thttp), "tcp_analysis": flags}
        ent["tshark_ooo_%s" % ("off" if ooo else "on")] = {
            "ws_frames": len(t2ws), "mqtt_packets": len(t2mq), "http_messages": len(t2http), "upgrades": t2ups,
            "agrees": Counter(t2ws) == Counter(mws) and Counter(t2mq) == Counter(mmq) and Counter(t2http) == Counter(mhttp)}
        if not agree:
            ent["tshark"]["differences"] = {"ws": diff(mws, tws), "mqtt": diff(mmq, tmq), "http": diff(mhttp, thttp)}
        # expected lists where tshark cannot be the reference, or where something is missing on purpose
        if not e.lossless or not agree:
            ent["expected_mqtt"] = [msg_record(m, f) for m, f in sure if m.kind == "mqtt"]
            if not agree:       # where tshark agrees, its truth lists the WebSocket frames
                ent["expected_ws"] = [msg_record(m, f) for m, f in sure if m.kind == "ws"]
            if proto == "http" or not agree:
                ent["expected_http"] = [msg_record(m, f) for m, f in sure if m.kind == "http"]
            if resync:
                ent["intact_after_resync_mqtt"] = [msg_record(m, f) for m, f in resync if m.kind == "mqtt"]
                ent["intact_after_resync_ws"] = [msg_record(m, f) for m, f in resync if m.kind == "ws"]
                ent["resync_note"] = ("intact, but after a WebSocket frame whose header is missing: found only by "
                                      "searching for the next frame header (frame = where its last byte arrives)")
        if not e.lossless:
            removed = sorted(set(mf["removed"])) if mf else []
            ent["missing_bytes"] = {d: [min(v), max(v), len(v)] if v else None for d, v in e.missing.items()}
            ent["lost_mqtt"] = [dict(msg_record(m), why=("bytes in the removed frame(s) %s" % removed if hole
                                                          else "starts before the cut"))
                                for m in e.lost if m.kind == "mqtt"]
            ent["lost_ws"] = [msg_record(m) for m in e.lost if m.kind == "ws"]
            ent["lost_http"] = [msg_record(m) for m in e.lost if m.kind == "http"]
            rs = resync_info(ref, e, eff)
            if rs:
                ent["resync"] = rs
            if hole and not ooo:
                ent["_ooo"] = False
        if e.unmatched:
            ent["unmatched_frames"] = e.unmatched
        if cap in NOTES:
            ent["note"] = NOTES[cap]
        ent["client_log"] = logname
        expect[cap] = ent
        lossy = "" if e.lossless else " LOST ws %d mqtt %d http %d" % (
            len(ent["lost_ws"]), len(ent["lost_mqtt"]), len(ent["lost_http"]))
        if resync:
            lossy += " RESYNC ws %d mqtt %d" % (sum(1 for m, f in resync if m.kind == "ws"),
                                                sum(1 for m, f in resync if m.kind == "mqtt"))
        log.append("%-30s from %-20s tshark(ooo=%s) agrees %-5s  expected ws %3d mqtt %3d http %2d up %d | tshark ws %3d "
                   "mqtt %3d http %2d up %d | ooo %s: ws %3d mqtt %3d agrees %s%s%s" % (
                       cap, refname, ooo, agree, len(mws), len(mmq), len(mhttp), ups, len(tws), len(tmq), len(thttp),
                       tups, "off" if ooo else "on", len(t2ws), len(t2mq),
                       ent["tshark_ooo_%s" % ("off" if ooo else "on")]["agrees"], lossy,
                       " UNMATCHED %s" % e.unmatched if e.unmatched else ""))
        if mf:   # sanity: the manifest's order agrees with the content match
            for i, o in enumerate(mf["order"], 1):
                if isinstance(o, int) and i in e.orig_of and ref.pkts[o - 1].plen and e.orig_of[i] != o:
                    log.append("   !! frame %d: manifest says original %s, content says %s" % (i, o, e.orig_of[i]))
                    ok_all = False
    with open(ep, "w") as f:
        dump(expect, f)
        f.write("\n")
    with open(os.path.join(GEN, "check.log"), "w") as f:
        f.write("\n".join(log) + "\n")
    print("\n".join(log))
    return 0 if ok_all else 1


if __name__ == "__main__":
    sys.exit(main())
