#!/usr/bin/python3
"""Print tshark's timeline of a capture: the facts the field README quotes.

    facts.py [--http-port N] [--mqtt-port N] [--tls-port N] [--json] CAPTURE

Runs tshark 4.0 (-T fields, TCP desegmentation on) and prints every packet that
carries payload or a SYN/FIN/RST: frame number, time since the first frame,
tcp.stream, direction (c2s = from the SYN sender), flags, payload length and
tshark's Info column.  Then, per stream: the client and server, the last
frame with payload before the first FIN/RST, and each FIN/RST with who sent
it and how long after the stream's last payload byte (the "idle" time T).
Nothing is parsed here beyond splitting tshark's fields.
"""
import argparse
import json
import subprocess
import sys

FIELDS = ["frame.number", "frame.time_relative", "tcp.stream", "ip.src", "tcp.srcport", "ip.dst", "tcp.dstport",
          "tcp.flags.syn", "tcp.flags.ack", "tcp.flags.fin", "tcp.flags.reset", "tcp.len", "_ws.col.Info"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("capture")
    ap.add_argument("--http-port", type=int, action="append", default=[])
    ap.add_argument("--mqtt-port", type=int, action="append", default=[])
    ap.add_argument("--tls-port", type=int, action="append", default=[])
    ap.add_argument("--json", action="store_true", help="print the per-stream summary as JSON")
    ap.add_argument("--mqtt", action="store_true",
                    help="also list, per stream, the MQTT packets of CAPTURE's .truth.json (tshark-truth.py) with their frame times")
    a = ap.parse_args()
    cmd = ["tshark", "-r", a.capture, "-n", "-o", "tcp.desegment_tcp_streams:TRUE",
           "-o", "tcp.reassemble_out_of_order:TRUE", "-o", "tcp.relative_sequence_numbers:TRUE",
           "-T", "fields", "-E", "separator=\t", "-E", "occurrence=f"]
    for p in a.http_port:
        cmd += ["-d", "tcp.port==%d,http" % p]
    for p in a.mqtt_port:
        cmd += ["-d", "tcp.port==%d,mqtt" % p]
    for p in a.tls_port:
        cmd += ["-d", "tcp.port==%d,tls" % p]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    streams = {}
    rows = []
    times = {}
    for line in out.splitlines():
        v = line.split("\t")
        if len(v) < len(FIELDS) or not v[2]:
            continue
        r = dict(zip(FIELDS, v))
        no, t, st = int(r["frame.number"]), float(r["frame.time_relative"]), int(r["tcp.stream"])
        times[no] = t
        src = "%s:%s" % (r["ip.src"], r["tcp.srcport"])
        dst = "%s:%s" % (r["ip.dst"], r["tcp.dstport"])
        syn, ack, fin, rst = (r[k] in ("1", "True") for k in ("tcp.flags.syn", "tcp.flags.ack", "tcp.flags.fin", "tcp.flags.reset"))
        s = streams.setdefault(st, {"stream": st, "client": None, "server": None, "first_frame": no, "t_first": t,
                                    "last_payload": None, "fin_rst": [], "frames": 0})
        s["frames"] += 1
        if s["client"] is None:
            if syn and not ack:
                s["client"], s["server"] = src, dst
            else:  # no SYN seen: the side on the lower port is taken as the server
                hi = (src, dst) if int(r["tcp.srcport"]) > int(r["tcp.dstport"]) else (dst, src)
                s["client"], s["server"] = hi
        d = "c2s" if src == s["client"] else "s2c"
        ln = int(r["tcp.len"] or 0)
        flags = "".join(f for f, on in (("S", syn), ("F", fin), ("R", rst)) if on)
        if ln > 0:
            s["last_payload"] = {"frame": no, "t": t, "dir": d}
        if fin or rst:
            lp = s["last_payload"]
            s["fin_rst"].append({"frame": no, "t": round(t, 6), "dir": d, "flag": "RST" if rst else "FIN",
                                 "after_last_payload_s": round(t - lp["t"], 6) if lp else None,
                                 "last_payload_frame": lp["frame"] if lp else None})
        if ln > 0 or syn or fin or rst:
            rows.append("%5d %10.6f s%-3d %s %-3s %5d  %s" % (no, t, st, d, flags, ln, r["_ws.col.Info"][:150]))
    if a.json:
        json.dump(list(streams.values()), sys.stdout, indent=1)
        print()
        return
    print("frame   time(s)   strm dir flg   len  info")
    print("\n".join(rows))
    print()
    for s in streams.values():
        lp = s["last_payload"]
        print("s%d %s -> %s: frames %d from #%d (t=%.3f); last payload #%s (%s, t=%s)" % (
            s["stream"], s["client"], s["server"], s["frames"], s["first_frame"], s["t_first"],
            lp and lp["frame"], lp and lp["dir"], lp and "%.6f" % lp["t"]))
        for e in s["fin_rst"]:
            print("    %s #%d %s t=%.6f  %.6f s after last payload #%s" % (
                e["flag"], e["frame"], e["dir"], e["t"], e["after_last_payload_s"] if e["after_last_payload_s"] is not None else float("nan"),
                e["last_payload_frame"]))
    if a.mqtt:
        import os
        tf = os.path.splitext(a.capture)[0] + ".truth.json"
        with open(tf) as fh:
            truth = json.load(fh)
        print()
        for st in truth["streams"]:
            items = []
            for m in st["mqtt_packets"]:
                x = "#%d %.3f %s %s" % (m["frame"], times.get(m["frame"], float("nan")), m["dir"], m["name"])
                for k in ("client_id", "keepalive", "return_code", "reason_code", "topic"):
                    if m.get(k) is not None:
                        x += " %s=%s" % (k, m[k])
                items.append(x)
            print("s%d mqtt: %s" % (st["tcp_stream"], "; ".join(items) or "-"))


if __name__ == "__main__":
    main()
