#!/usr/bin/env python3
"""Write the tshark view of the decrypted TLS records of samples/tls/ captures.

For each capture below, `NAME.tshark.json` beside this script holds what
tshark (4.0.17 here) shows when given the capture's key log:

- "frames": for every frame (tshark's frame number) with TLS records, `types`: the content type of
  each record completed in that frame, in order (`tls.record.content_type`:
  the outer type of records in clear, the decrypted inner type of TLS 1.3
  records), and `decrypted`: the bytes of every "Decrypted TLS" data source
  of the frame (`tshark -x`), in order, as hex;
- "follow": per tcp.stream, the application data tshark decrypted in each
  direction (`-z follow,tls,raw,N`; the client is the sender of the SYN).

The unit tests in ../crypto.rs (capture_tests.rs) decrypt the same records
with wsdoctor's decryptor and compare. Run from this directory:
`python3 make_fixtures.py` (needs tshark; takes a few seconds per capture).
"""
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLES = os.path.normpath(os.path.join(HERE, "../../../../../samples/tls"))
TSHARK = "tshark"

# capture -> key log (None: the keys are in the pcapng's Decryption Secrets Block)
CAPTURES = [
    ("tls12-ecdhe-rsa-aes128-gcm.pcap", "tls12-ecdhe-rsa-aes128-gcm.keys"),
    ("tls12-ecdhe-rsa-aes256-gcm.pcap", "tls12-ecdhe-rsa-aes256-gcm.keys"),
    ("tls12-ecdhe-rsa-chacha20.pcap", "tls12-ecdhe-rsa-chacha20.keys"),
    ("tls12-ecdhe-ecdsa-aes128-gcm.pcap", "tls12-ecdhe-ecdsa-aes128-gcm.keys"),
    ("tls12-rsa-aes128-gcm.pcap", "tls12-rsa-aes128-gcm.keys"),
    ("tls12-rsa-aes128-sha.pcap", "tls12-rsa-aes128-sha.keys"),
    ("tls12-rsa-aes128-sha-no-etm.pcap", "tls12-rsa-aes128-sha-no-etm.keys"),
    ("tls12-ecdhe-rsa-aes128-sha.pcap", "tls12-ecdhe-rsa-aes128-sha.keys"),
    ("tls12-rsa-aes256-sha256.pcap", "tls12-rsa-aes256-sha256.keys"),
    ("tls12-no-ems.pcap", "tls12-no-ems.keys"),
    ("tls12-resume.pcap", "tls12-resume.keys"),
    ("tls13-aes128-gcm.pcap", "tls13-aes128-gcm.keys"),
    ("tls13-aes256-gcm.pcap", "tls13-aes256-gcm.keys"),
    ("tls13-chacha20.pcap", "tls13-chacha20.keys"),
    ("tls13-keyupdate.pcap", "tls13-keyupdate.keys"),
    ("tls13-hrr.pcap", "tls13-hrr.keys"),
    ("tls13-resume.pcap", "tls13-resume.keys"),
    ("tls13-cert-expired-openssl.pcap", "tls13-cert-expired-openssl.keys"),
    ("wss-paho-tls12.pcap", "wss-paho-tls12.keys"),
    ("wss-paho-tls13.pcap", "wss-paho-tls13.keys"),
    ("wss-mqttjs-tls12.pcap", "wss-mqttjs-tls12.keys"),
    ("wss-mqttjs-tls13.pcap", "wss-mqttjs-tls13.keys"),
    ("wss-connect-refused.pcap", "wss-connect-refused.keys"),
    ("wss-keys-injected.pcapng", None),
    ("wss-alpn-h2.pcap", "wss-alpn-h2.keys"),
    ("wss-alpn-h2-tls12.pcap", "wss-alpn-h2-tls12.keys"),
    ("wss-clock-ahead-mqttjs.pcap", "wss-clock-ahead-mqttjs.keys"),
    ("mqtts-paho.pcap", "mqtts-paho.keys"),
]
# suites samples/tls/ lacks: made by make_extra.sh into extra/ (see README.md)
EXTRA = [
    "tls12-rsa-aes256-sha256-no-etm", "tls12-ecdhe-rsa-aes128-sha256-no-etm",
    "tls12-ecdhe-ecdsa-aes128-sha256", "tls12-ecdhe-ecdsa-aes256-sha",
    "tls12-ecdhe-rsa-aes256-sha-no-etm", "tls12-ecdhe-ecdsa-aes256-gcm", "tls12-rsa-aes256-gcm",
    "tls12-ecdhe-ecdsa-chacha20", "tls12-dhe-rsa-chacha20",
]
CAPTURES += [("extra/%s.pcap" % n, "extra/%s.keys" % n) for n in EXTRA]

HEXLINE = re.compile(r"^[0-9a-f]{4,8}  ((?:[0-9a-f]{2} ){0,15}[0-9a-f]{2})")


def run(args):
    r = subprocess.run(args, capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        sys.exit("tshark failed: %s\n%s" % (" ".join(args), r.stderr))
    return r.stdout


def where(name):
    return os.path.join(HERE, name) if name.startswith("extra/") else os.path.join(SAMPLES, name)


def make(cap, keys):
    base = [TSHARK, "-r", where(cap), "-o", "tcp.desegment_tcp_streams:TRUE"]
    if keys:
        base += ["-o", "tls.keylog_file:" + where(keys)]
    frames = {}
    out = run(base + ["-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,",
                      "-e", "frame.number", "-e", "tls.record.content_type"])
    for line in out.splitlines():
        f, _, types = line.partition("\t")
        if types.strip():
            frames[f] = {"types": [int(t) for t in types.split(",")], "decrypted": []}
    # hex dumps: one paragraph per frame (blank line after each); a frame with
    # more than one data source names each ("Frame (N bytes):", "Decrypted TLS
    # (N bytes):", "Reassembled TCP ...")
    frame, block, fresh = 0, None, True
    for line in run(base + ["-x"]).splitlines():
        if not line.strip():
            fresh, block = True, None
            continue
        if fresh:
            frame += 1
            fresh = False
        if line.startswith("Decrypted TLS ("):
            block = []
            frames.setdefault(str(frame), {"types": [], "decrypted": []})["decrypted"].append(block)
        elif re.match(r"^[A-Za-z]", line):
            block = None
        else:
            m = HEXLINE.match(line)
            if m and block is not None:
                block.extend(m.group(1).split())
    for f in frames.values():
        f["decrypted"] = ["".join(b) for b in f["decrypted"]]
    # the client of each stream: the sender of the SYN
    clients = {}
    for line in run(base + ["-Y", "tcp.flags.syn == 1 && tcp.flags.ack == 0", "-T", "fields",
                            "-e", "tcp.stream", "-e", "ip.src", "-e", "tcp.srcport"]).splitlines():
        sid, ip, port = line.split("\t")
        clients[int(sid)] = "%s:%s" % (ip, port)
    follow = []
    for sid in sorted(clients):
        # lines of "Node 0" are not indented, the other node's are (tshark 4.0
        # names the first node that sent decrypted data, the other may show as ":0")
        fo = run(base + ["-q", "-z", "follow,tls,raw,%d" % sid])
        node0, plain, indented = None, [], []
        started = False
        for line in fo.splitlines():
            if line.startswith("Node 0:"):
                node0 = line.split(":", 1)[1].strip()
                continue
            if line.startswith("Node 1:"):
                started = True
                continue
            if not started or line.startswith("="):
                continue
            if line.startswith("\t"):
                indented.append(line.strip())
            elif line.strip():
                plain.append(line.strip())
        if node0 == clients[sid]:
            c, s = plain, indented
        else:
            c, s = indented, plain
        follow.append({"stream": sid, "client": "".join(c), "server": "".join(s)})
    doc = {
        "capture": cap,
        "keylog": keys,
        "made_by": "crates/wsdoctor-proto/src/tls/testdata/make_fixtures.py with " + run([TSHARK, "--version"]).splitlines()[0],
        "frames": {k: v for k, v in sorted(frames.items(), key=lambda kv: int(kv[0]))},
        "follow": follow,
    }
    name = os.path.basename(cap).rsplit(".", 1)[0] + ".tshark.json"
    with open(os.path.join(HERE, name), "w") as fh:
        json.dump(doc, fh, indent=0, sort_keys=False)
        fh.write("\n")
    dec = sum(len(v["decrypted"]) for v in frames.values())
    app = sum(len(x["client"]) // 2 + len(x["server"]) // 2 for x in follow)
    print("%-40s %3d decrypted records, %5d application bytes" % (name, dec, app))


if __name__ == "__main__":
    for cap, keys in CAPTURES:
        make(cap, keys)
