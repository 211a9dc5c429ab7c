#!/usr/bin/python3
"""Derive the edited captures of samples/reorder/ from the real ones (Python standard library only).

    derive.py OUTDIR [NAME...]          (default: all derived captures)
    derive.py OUTDIR --check-big        (exit 1 unless paho-big.pcap suits paho-big-hole-boundary)

Every edit works on whole packet records of a real capture (pcap, Ethernet): records are moved,
duplicated (byte-identical copies) or removed; packet bytes are changed only where a capture says so
(IPv4 fragmentation; sequence-number rewriting).  Packets are picked by their role (the k-th
multi-segment burst of a direction, the handshake ACK, the FIN...), not by fixed numbers, so a
re-run on a fresh session edits the same kind of packets.  Timestamps: the derived file keeps the
original's multiset of timestamps in increasing order (the packet now in position i gets the i-th
smallest timestamp of the packets written), so time runs forward as in a real capture and a moved
packet takes the time of the place it moved to; a duplicate adds one more copy of its original's
timestamp; fragments carry the timestamp of their datagram.

What was done, with original frame numbers (1-based, as tshark numbers them), is printed, written
to gen/reorder/derive.log, and stored in gen/reorder/derive.json as
  {capture: {"derived_from": ORIGINAL, "edits": [text...], "order": [original frame per new frame],
             "removed": [...], "seq_shift": {...}, "fragments": {...}}}
("order": a list of original frame numbers, one per frame of the derived file; fragments appear as
"N/k" = k-th fragment written of original frame N).  check.py reads it to compute expected values.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pcaplib as L  # noqa: E402

GEN = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.abspath(sys.argv[1])
ONLY = sys.argv[2:]
LOG = []
MANIFEST = {}
PROTO = {"paho-ws": "ws", "paho-big": "ws", "mqttjs-ws": "ws", "mqttjs-deflate": "ws",
         "http-keepalive": "http", "mqtt-tcp": "mqtt"}


def say(s):
    print(s)
    LOG.append(s)


class Orig:
    def __init__(self, name):
        self.name = name
        self.hdr, self.recs = L.read_pcap(os.path.join(OUT, name + ".pcap"))
        self.pkts = L.decode_all(self.recs)
        self.conn = L.Conn(self.pkts)
        self.runs = {d: self._runs(d) for d in ("c2s", "s2c")}

    def _runs(self, d):
        """bursts of data segments of one direction, in sequence order; a burst ends with a PSH segment"""
        runs, cur = [], []
        for p in self.conn.segments(d):
            cur.append(p)
            if p.flags & 0x08:
                runs.append(cur)
                cur = []
        if cur:
            runs.append(cur)
        return runs

    def multi(self, d, min_len=2):
        return [r for r in self.runs[d] if len(r) >= min_len]

    def pkt(self, no):
        return self.pkts[no - 1]


class Edit:
    """An output order of original frame numbers, and a log of what was done to it."""

    def __init__(self, orig, name):
        self.o, self.name = orig, name
        self.order = list(range(1, len(orig.recs) + 1))
        self.edits, self.removed = [], []
        self.frag = {}         # original frame -> fragment records (in the order they are written)
        self.seq_shift = None

    def desc(self, no):
        p = self.o.pkt(no)
        if p.tcp is None:
            return "frame %d" % no
        what = []
        if p.syn:
            what.append("SYN-ACK" if p.flags & 0x10 else "SYN")
        if p.fin:
            what.append("FIN")
        if p.plen:
            what.append("%d bytes at rel seq %d" % (p.plen, p.rel))
        elif not what:
            what.append("ACK %d" % ((p.ack - self.o.conn.isn["s2c" if p.dir == "c2s" else "c2s"]) & 0xFFFFFFFF))
        return "%d (%s %s)" % (no, p.dir, ", ".join(what))

    def note(self, s):
        self.edits.append(s)

    def swap(self, a, b, why=""):
        i, j = self.order.index(a), self.order.index(b)
        self.order[i], self.order[j] = b, a
        self.note("swapped frames %s and %s%s" % (self.desc(a), self.desc(b), why))

    def move_before(self, x, y, why=""):
        self.order.remove(x)
        self.order.insert(self.order.index(y), x)
        self.note("moved frame %s before frame %s%s" % (self.desc(x), self.desc(y), why))

    def move_after(self, x, y, why=""):
        self.order.remove(x)
        self.order.insert(self.order.index(y) + 1, x)
        self.note("moved frame %s after frame %s%s" % (self.desc(x), self.desc(y), why))

    def permute(self, frames, perm, why=""):
        """the slots of `frames` (in file order) receive frames[perm[0]], frames[perm[1]], ..."""
        slots = sorted(self.order.index(f) for f in frames)
        new = [frames[k] for k in perm]
        for s, f in zip(slots, new):
            self.order[s] = f
        self.note("shuffled the window of frames %s into the order %s%s" % (
            ", ".join(str(f) for f in frames), ", ".join(str(f) for f in new), why))

    def dup_after(self, x, y, why=""):
        self.order.insert(self.order.index(y) + 1, x)
        self.note("inserted a byte-identical copy of frame %s after frame %d%s" % (self.desc(x), y, why))

    def dup_before(self, x, y, why=""):
        self.order.insert(self.order.index(y), x)
        self.note("inserted a byte-identical copy of frame %s before frame %d%s" % (self.desc(x), y, why))

    def remove(self, x, why=""):
        self.order.remove(x)
        self.removed.append(x)
        self.note("removed frame %s%s" % (self.desc(x), why))

    def cut_before(self, x, why=""):
        i = self.order.index(x)
        gone = self.order[:i]
        self.order = self.order[i:]
        self.removed += gone
        self.note("removed frames %d-%d (everything before frame %s)%s" % (gone[0], gone[-1], self.desc(x), why))

    def fragment(self, no, sizes, reverse=True):
        frs = L.fragment(self.o.recs[no - 1], sizes)
        idx = list(range(len(frs)))
        if reverse:
            idx.reverse()
        self.frag[no] = [(k, frs[k]) for k in idx]
        p = self.o.pkt(no)
        self.note("split frame %s (IPv4 datagram of %d bytes, IP ID 0x%04x) into %d fragments of %s payload "
                  "bytes (offsets %s), written in %s order" % (
                      self.desc(no), p.ihl + p.doff + p.plen, p.ipid, len(frs),
                      "/".join(str(len(f.data) - 14 - p.ihl) for f in frs),
                      "/".join(str(sum(len(f.data) - 14 - p.ihl for f in frs[:k])) for k in range(len(frs))),
                      "reverse (last fragment first)" if reverse else "offset"))

    def write(self):
        items, order = [], []
        for no in self.order:
            if no in self.frag:
                for k, r in self.frag[no]:
                    items.append(r)
                    order.append("%d/%d" % (no, k + 1))
            else:
                items.append(self.o.recs[no - 1])
                order.append(no)
        ts = sorted(r.ts for r in items)
        out = [L.with_ts(r, t) for r, t in zip(items, ts)]
        if self.seq_shift:
            out = shift_seq(self.o, out, self.seq_shift)
        path = os.path.join(OUT, self.name + ".pcap")
        L.write_pcap(path, self.o.hdr, out)
        say("%s.pcap = %s.pcap (%d frames) -> %d frames:" % (self.name, self.o.name, len(self.o.recs), len(out)))
        for e in self.edits:
            say("    " + e)
        MANIFEST[self.name + ".pcap"] = {"derived_from": self.o.name + ".pcap", "edits": self.edits,
                                         "order": order, "removed": self.removed,
                                         "seq_shift": self.seq_shift,
                                         "fragments": {str(k): len(v) for k, v in self.frag.items()}}


def shift_seq(orig, recs, new_isn):
    """rewrite seq (and the reverse direction's ack and SACK edges) so that each direction starts at
    new_isn[dir]; TCP checksums recomputed."""
    c = orig.conn
    delta = {d: (new_isn[d] - c.isn[d]) & 0xFFFFFFFF for d in ("c2s", "s2c")}
    out = []
    for r in recs:
        buf = bytearray(r.data)
        p = L.decode(0, r)
        if p.tcp is None:
            out.append(r)
            continue
        d = "c2s" if p.src == c.cli else "s2c"
        rev = "s2c" if d == "c2s" else "c2s"
        t = p.tcp
        buf[t + 4:t + 8] = ((p.seq + delta[d]) & 0xFFFFFFFF).to_bytes(4, "big")
        if p.flags & 0x10:
            buf[t + 8:t + 12] = ((p.ack + delta[rev]) & 0xFFFFFFFF).to_bytes(4, "big")
        i = t + 20
        while i < t + p.doff:
            kind = buf[i]
            if kind == 0:
                break
            if kind == 1:
                i += 1
                continue
            ln = buf[i + 1]
            if kind == 5:
                for j in range(i + 2, i + ln, 4):
                    v = int.from_bytes(buf[j:j + 4], "big")
                    buf[j:j + 4] = ((v + delta[rev]) & 0xFFFFFFFF).to_bytes(4, "big")
            i += ln
        L.tcp_checksum_fix(buf, p)
        out.append(L.Rec(r.sec, r.usec, bytes(buf), r.orig_len))
    return out


# ------------------------------------------------------------------ the derived captures
def first_covering_ack(o, run):
    """the first pure ACK of the peer after run[0] that acknowledges the whole run (perhaps more),
    else the first that acknowledges some of it"""
    d = run[0].dir
    peer = "s2c" if d == "c2s" else "c2s"
    isn = o.conn.isn[d]
    end = run[-1].rel + run[-1].plen
    cand = [p for p in o.pkts[run[0].no:] if p.tcp is not None and p.dir == peer and p.pure_ack
            and run[0].rel < ((p.ack - isn) & 0xFFFFFFFF)]
    full = [p for p in cand if ((p.ack - isn) & 0xFFFFFFFF) >= end]
    return (full or cand)[0]


def swaps(e, runs_idx, label, avoid=()):
    for d in ("c2s", "s2c"):
        m = [r for r in e.o.multi(d) if r[0].no not in avoid]
        for k in runs_idx:
            r = m[k]
            e.swap(r[0].no, r[1].no, " (%s: the first two segments of %s burst of %d segments)" % (label, d, len(r)))


def shuffles(e, runs_idx, label, min_len=3):
    used = []
    for d in ("c2s", "s2c"):
        m = e.o.multi(d, min_len)
        for k in runs_idx:
            r = m[k][:4]
            used.append(r[0].no)
            perm = (3, 1, 0, 2) if len(r) == 4 else (2, 0, 1)
            e.permute([p.no for p in r], perm, " (%s: %s burst of %d segments)" % (label, d, len(m[k])))
    return used


def d_paho_ws_swap():
    e = Edit(Orig("paho-ws"), "paho-ws-swap")
    swaps(e, (1, 4), "2(a)")
    e.write()


def d_paho_ws_ack_first():
    o = Orig("paho-ws")
    e = Edit(o, "paho-ws-ack-first")
    for d in ("c2s", "s2c"):
        m = o.multi(d)
        for k in (0, 2, 5):
            r = m[k]
            a = first_covering_ack(o, r)
            covered = [p.no for p in r if p.rel + p.plen <= ((a.ack - o.conn.isn[d]) & 0xFFFFFFFF)]
            e.move_before(a.no, r[0].no, " (2(b): it acknowledges frames %s; multi-segment %s burst #%d)" % (
                ", ".join(map(str, covered)), d, k + 1))
    e.write()


def d_paho_ws_shuffle():
    e = Edit(Orig("paho-ws"), "paho-ws-shuffle")
    shuffles(e, (0, 1), "2(c)")
    e.write()


def d_paho_ws_dup_reorder():
    o = Orig("paho-ws")
    e = Edit(o, "paho-ws-dup-reorder")
    for d in ("c2s", "s2c"):
        m = o.multi(d, 3)
        r = m[0]
        e.swap(r[0].no, r[1].no, " (2(d): %s burst of %d segments)" % (d, len(r)))
        e.dup_after(r[0].no, r[-1].no, " (a late duplicate)")
        r = m[2]
        e.dup_before(r[-1].no, r[0].no, " (an early copy: the original stays in place)")
        r = o.multi(d)[0]
        e.dup_after(r[0].no, r[0].no, " (back-to-back duplicate)")
    e.write()


def d_paho_ws_get_ack_swap():
    o = Orig("paho-ws")
    e = Edit(o, "paho-ws-get-ack-swap")
    get = o.conn.segments("c2s")[0]
    ack = next(p for p in o.pkts[get.no:] if p.dir == "s2c" and p.pure_ack)
    e.swap(get.no, ack.no, " (2(e): the server's ACK of the GET now comes first)")
    e.write()


def d_paho_ws_101_first():
    o = Orig("paho-ws")
    e = Edit(o, "paho-ws-101-first")
    get = o.conn.segments("c2s")[0]
    r101 = o.conn.segments("s2c")[0]
    e.swap(get.no, r101.no, " (2(e): the 101 response is now before the GET request in the file)")
    e.write()


def d_paho_ws_synack_late():
    o = Orig("paho-ws")
    e = Edit(o, "paho-ws-synack-late")
    sa = next(p for p in o.pkts if p.syn and p.flags & 0x10)
    get = o.conn.segments("c2s")[0]
    e.move_after(sa.no, get.no, " (4: SYN-ACK after the client's first data segment)")
    e.write()


def d_paho_ws_ack3_late():
    o = Orig("paho-ws")
    e = Edit(o, "paho-ws-ack3-late")
    sa = next(p for p in o.pkts if p.syn and p.flags & 0x10)
    ack3 = o.pkts[sa.no]
    assert ack3.dir == "c2s" and ack3.pure_ack
    get = o.conn.segments("c2s")[0]
    e.move_after(ack3.no, get.no, " (4: the third handshake ACK after the first data segment)")
    e.write()


def d_paho_ws_fin_early():
    o = Orig("paho-ws")
    e = Edit(o, "paho-ws-fin-early")
    fin = next(p for p in o.pkts if p.dir == "c2s" and p.fin)
    last = o.conn.segments("c2s")[-1]
    e.move_before(fin.no, last.no, " (4: the client's FIN before its last data segment, the DISCONNECT)")
    e.write()


def mid_cut(base, aligned):
    o = Orig(base)
    name = "%s-mid-%s" % (base, "aligned" if aligned else "unaligned")
    e = Edit(o, name)
    msgs = o.conn.find_messages(PROTO[base])
    # the 2nd client PUBLISH of >= 2000 bytes: its first ws frame starts a TCP segment
    pubs = [m for m in msgs if m.kind == "mqtt" and m.dir == "c2s" and m.info["type"] == 3
            and m.info["payload_len"] >= 2000]
    pub = pubs[1]
    if aligned:
        first = o.pkt(pub.first_frame)
        assert first.rel == pub.start, "PUBLISH does not start a segment"
        e.cut_before(first.no, " (6: the capture starts with the first segment of the client's PUBLISH %s, "
                               "aligned on a WebSocket frame and an MQTT packet start)" % pub.info["topic"])
    else:
        # the big ws frame carrying the payload of that PUBLISH: cut at its 2nd TCP segment
        wsf = next(m for m in msgs if m.kind == "ws" and m.dir == "c2s" and m.end == pub.end)
        seg2 = [p for p in o.conn.segments("c2s") if wsf.start < p.rel < wsf.end][0]
        e.cut_before(seg2.no, " (6: the capture starts with the 2nd TCP segment of the WebSocket frame "
                              "that carries the client's PUBLISH %s: inside a WebSocket frame)" % pub.info["topic"])
    e.write()


def d_paho_ws_mid_aligned():
    mid_cut("paho-ws", True)


def d_paho_ws_mid_unaligned():
    mid_cut("paho-ws", False)


def d_mqttjs_ws_mid_aligned():
    mid_cut("mqttjs-ws", True)


def d_mqttjs_ws_mid_unaligned():
    mid_cut("mqttjs-ws", False)


def d_paho_ws_ipfrag():
    o = Orig("paho-ws")
    e = Edit(o, "paho-ws-ipfrag")
    connect = o.conn.segments("c2s")[1]              # the CONNECT (after the GET)
    e.fragment(connect.no, [24])
    for d in ("c2s", "s2c"):
        r = o.multi(d, 3)[1]
        for p in r:
            if p.plen >= 1000:
                e.fragment(p.no, [496, 496])
    e.write()


def d_mqttjs_deflate_reorder():
    o = Orig("mqttjs-deflate")
    e = Edit(o, "mqttjs-deflate-reorder")
    used = shuffles(e, (0, 1), "2(c)")
    swaps(e, (0, -1), "2(a)", avoid=used)
    e.write()


def big_frame(o):
    msgs = o.conn.find_messages("ws")
    return next(m for m in msgs if m.kind == "ws" and m.dir == "c2s" and m.info["payload_len"] > 100000)


def d_paho_big_hole():
    o = Orig("paho-big")
    e = Edit(o, "paho-big-hole")
    f = big_frame(o)
    mid = (f.start + f.end) // 2
    seg = next(p for p in o.conn.segments("c2s") if p.rel <= mid < p.rel + p.plen)
    assert seg.plen == 1448 and f.start + 14 <= seg.rel and seg.rel + seg.plen < f.end
    ack = next(p for p in o.pkts[seg.no:] if p.dir == "s2c"
               and ((p.ack - o.conn.isn["c2s"]) & 0xFFFFFFFF) >= seg.rel + seg.plen)
    e.remove(seg.no, " (5: a segment in the middle of the payload of the big WebSocket frame (%d payload bytes, frame bytes at "
                     "rel seq %d-%d); the broker's ACK in frame %d covers it and stays)" % (
                         f.info["payload_len"], f.start, f.end - 1, ack.no))
    e.write()


def d_paho_big_hole_boundary():
    o = Orig("paho-big")
    e = Edit(o, "paho-big-hole-boundary")
    f = big_frame(o)
    seg = next(p for p in o.conn.segments("c2s") if p.rel <= f.end - 1 < p.rel + p.plen)
    assert seg.rel + seg.plen > f.end, "the big frame ends at a segment boundary"
    ack = next(p for p in o.pkts[seg.no:] if p.dir == "s2c"
               and ((p.ack - o.conn.isn["c2s"]) & 0xFFFFFFFF) >= seg.rel + seg.plen)
    e.remove(seg.no, " (5: the segment holding the last %d bytes of the big WebSocket frame and the first "
                     "%d bytes after it; the broker's ACK in frame %d covers it and stays)" % (
                         f.end - seg.rel, seg.rel + seg.plen - f.end, ack.no))
    e.write()


def http_reorder(name, wrap):
    o = Orig("http-keepalive")
    e = Edit(o, name)
    msgs = o.conn.find_messages("http")

    def segs(m):
        return [p for p in o.conn.segments(m.dir) if m.start <= p.rel < m.end]
    post = segs(next(m for m in msgs if m.info.get("method") == "POST"))
    resp = [segs(m) for m in msgs if m.dir == "s2c" and len(segs(m)) >= 3]   # responses of >= 3 segments
    e.permute([p.no for p in post], (3, 1, 0, 2), " (7: the 4 segments of the POST request)")
    e.swap(resp[0][1].no, resp[0][2].no, " (7: 2nd and 3rd segments of the 1st response, page1.html)")
    e.permute([p.no for p in resp[1][2:6]], (3, 1, 0, 2), " (7: segments 3-6 of the 2nd response, page2.html)")
    e.swap(resp[2][0].no, resp[2][1].no, " (7: the response with page3.html: its first segment, with the status "
                                         "line and headers, now comes second)")
    e.permute([p.no for p in resp[3][1:4]], (2, 0, 1), " (7: segments 2-4 of the last response, page1.html)")
    if wrap:
        # wrap past 2^32 inside the reordered windows: c2s 700 bytes into the POST's 2nd segment,
        # s2c 700 bytes into the 4th segment of response 2
        wc = post[1].rel + 700
        ws = resp[1][3].rel + 700
        e.seq_shift = {"c2s": (1 << 32) - wc, "s2c": (1 << 32) - ws}
        e.note("then rewrote the sequence numbers: client ISN %d -> %d (0x%08x), server ISN %d -> %d (0x%08x): "
               "the client's sequence space crosses 2^32 at relative seq %d (inside frame %d, a POST segment), "
               "the server's at relative seq %d (inside frame %d, response 2); seq, ack and SACK edges shifted, "
               "TCP checksums recomputed (so they are correct, unlike the loopback original's)" % (
                   o.conn.isn["c2s"], e.seq_shift["c2s"], e.seq_shift["c2s"], o.conn.isn["s2c"],
                   e.seq_shift["s2c"], e.seq_shift["s2c"], wc, post[1].no, ws, resp[1][3].no))
    e.write()


def d_http_reorder():
    http_reorder("http-reorder", False)


def d_http_reorder_seqwrap():
    http_reorder("http-reorder-seqwrap", True)


def d_mqtt_tcp_reorder():
    o = Orig("mqtt-tcp")
    e = Edit(o, "mqtt-tcp-reorder")
    used = shuffles(e, (0, 1), "9")
    swaps(e, (0, -1), "9", avoid=used)
    e.write()


ALL = [k[2:].replace("_", "-") for k in list(globals()) if k.startswith("d_")]


def check_big():
    """exit 0 if paho-big.pcap's 200 KiB frame ends inside a TCP segment that also carries the next
    frame's first bytes (needed for paho-big-hole-boundary); make.sh re-runs the session if not"""
    o = Orig("paho-big")
    f = big_frame(o)
    seg = next(p for p in o.conn.segments("c2s") if p.rel <= f.end - 1 < p.rel + p.plen)
    ok = seg.rel + seg.plen > f.end
    print("paho-big.pcap: the big WebSocket frame ends %s (frame %d)" % (
        "inside a segment that carries the next frame's start" if ok else "at a segment boundary", seg.no))
    sys.exit(0 if ok else 1)


def main():
    if ONLY == ["--check-big"]:
        check_big()
    mf = os.path.join(GEN, "derive.json")
    global MANIFEST
    if ONLY and os.path.exists(mf):
        MANIFEST = json.load(open(mf))
    for n in (ONLY or ALL):
        globals()["d_" + n.replace("-", "_")]()
    with open(mf, "w") as f:
        json.dump(MANIFEST, f, indent=1, sort_keys=True)
        f.write("\n")
    with open(os.path.join(GEN, "derive.log"), "w" if not ONLY else "a") as f:
        f.write("\n".join(LOG) + "\n")


if __name__ == "__main__":
    main()
