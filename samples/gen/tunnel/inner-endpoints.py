#!/usr/bin/python3
"""tshark's innermost IP addresses of every TCP stream of a tunnel capture.

    inner-endpoints.py CAPTURE...      writes CAPTURE's NAME.inner.json beside it

/work/shared/tools/tshark-truth.py takes a stream's client and server addresses from the first
IP layer of its frames, i.e. the OUTER header of a tunnel (192.0.2.x), with the inner ports.
tshark itself numbers tcp.stream by the innermost addresses.  This script asks tshark for every
IP address of every TCP frame (-E occurrence=a) and for frame.protocols, takes the IP layer right
before "tcp" (the innermost), and records per stream which address each port belongs to:

    {"capture": "gre.pcap", "command": [...], "streams": {"0": {"53530": "10.11.0.1", "80": "10.11.0.2"}}}

The oracle test (tests/oracle.rs) puts these addresses into the truth's endpoints before comparing.
Python standard library + tshark; no dissection of its own.
"""
import json
import os
import subprocess
import sys

FIELDS = ["tcp.stream", "frame.protocols", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst",
          "tcp.srcport", "tcp.dstport"]


def main():
    for cap in sys.argv[1:]:
        cmd = ["tshark", "-r", cap, "-n", "-Y", "tcp", "-T", "fields", "-E", "separator=\t",
               "-E", "occurrence=a", "-E", "aggregator=,"]
        for f in FIELDS:
            cmd += ["-e", f]
        out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True).stdout
        streams = {}
        for line in out.decode().splitlines():
            v = line.split("\t")
            if len(v) < len(FIELDS) or not v[0]:
                continue
            stream, protos = v[0].split(",")[0], v[1].split(":")
            addrs = {"ip": (v[2].split(","), v[3].split(",")), "ipv6": (v[4].split(","), v[5].split(","))}
            # the innermost IP layer: the last "ip"/"ipv6" before "tcp"
            upto = protos[:protos.index("tcp")] if "tcp" in protos else protos
            layers = [p for p in upto if p in ("ip", "ipv6")]
            if not layers:
                continue
            fam = layers[-1]
            k = layers.count(fam) - 1
            src, dst = addrs[fam][0][k], addrs[fam][1][k]
            sport, dport = v[6].split(",")[-1], v[7].split(",")[-1]
            s = streams.setdefault(stream, {})
            s.setdefault(sport, src)
            s.setdefault(dport, dst)
        base = os.path.basename(cap)
        name = base[:-len(".pcap")] if base.endswith(".pcap") else base
        path = os.path.join(os.path.dirname(cap), name + ".inner.json")
        with open(path, "w") as f:
            json.dump({"capture": base, "command": cmd[:1] + ["-r", base] + cmd[3:],
                       "streams": dict(sorted(streams.items(), key=lambda kv: int(kv[0])))}, f, indent=1)
            f.write("\n")
        print("wrote %s (%d streams)" % (path, len(streams)), file=sys.stderr)


if __name__ == "__main__":
    main()
