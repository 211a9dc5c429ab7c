#!/usr/bin/python3
"""Derive / check the transport samples (Python standard library + tshark/editcap).

    transport-derive.py STEP SAMPLES_DIR

STEP:
  tcp-retrans | tcp-ooo   check that tshark flags what the scenario was meant to make
                          (exit 1 if not, make-transport.sh then re-runs the scenario)
  mqtt-truncated          cut mqtt-tcp-basic.pcap inside a record (mqtt-truncated.pcap) and
                          ws-mqtt.pcapng inside a block (ws-mqtt-truncated.pcapng)
                          a block; prints the offsets (recorded in README.md)
  tcp-gap                 mqtt-tcp-basic.pcap minus the middle data segment of the 3000-byte
                          PUBLISH (editcap FILE OUT N)
  tcp-midstream           mqtt-tcp-basic.pcap from the subscriber's SUBSCRIBE on (editcap -r)
  tcp-midstream-unaligned mqtt-tcp-basic.pcap from the 2nd TCP segment of the 3000-byte
                          PUBLISH on (the capture starts inside an MQTT packet)
  tcp-seq-wrap            mqtt-tcp-basic.pcap with every TCP direction's sequence space
                          shifted so that it crosses 2^32 in the middle of its payload
                          (seq, ack and SACK edges shifted; TCP checksums recomputed)
Everything it did is printed on stdout and appended to gen/transport-derive.log.
"""
import json
import os
import struct
import subprocess
import sys

step, out = sys.argv[1], sys.argv[2]
GEN = os.path.dirname(os.path.abspath(__file__))
LOG = []


def say(msg):
    print(msg)
    LOG.append(msg)


def tshark_fields(cap, flt, fields, extra=()):
    cmd = ["tshark", "-r", cap, "-o", "tcp.desegment_tcp_streams:TRUE", *extra, "-Y", flt, "-T", "fields"]
    for f in fields:
        cmd += ["-e", f]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return [l.split("\t") for l in p.stdout.splitlines() if l.strip()]


def p(name):
    return os.path.join(out, name)


BASIC = p("mqtt-tcp-basic.pcap")


def big_publish_segments():
    """c2s data segments (frame numbers) of the publisher connection that carries wsd/tcp/big."""
    rows = tshark_fields(BASIC, 'mqtt.topic == "wsd/tcp/big" && tcp.dstport == 1883',
                         ["frame.number", "tcp.stream"])
    stream = rows[0][1]
    segs = tshark_fields(BASIC, "tcp.stream == %s && tcp.dstport == 1883 && tcp.len > 0" % stream,
                         ["frame.number", "tcp.len", "tcp.seq"])
    big = [s for s in segs if int(s[1]) >= 100 and int(s[0]) <= int(rows[0][0])]
    # the PUBLISH segments are the ones up to and including the frame that completed it,
    # after the CONNECT
    return stream, segs, big


def flags(cap):
    res = {}
    for fl in ("retransmission", "fast_retransmission", "spurious_retransmission", "out_of_order",
               "lost_segment", "ack_lost_segment", "duplicate_ack"):
        res[fl] = [int(r[0]) for r in tshark_fields(cap, "tcp.analysis." + fl, ["frame.number"])]
    return res


if step in ("tcp-retrans", "tcp-ooo"):
    cap = p(step + ".pcap")
    f = flags(cap)
    syn = tshark_fields(cap, "tcp.flags.syn == 1 && tcp.flags.ack == 0", ["frame.number"])
    fin = tshark_fields(cap, "tcp.flags.fin == 1", ["frame.number"])
    streams = {r[0] for r in tshark_fields(cap, "tcp", ["tcp.stream"])}
    say("%s: streams=%d syn=%s fin=%s flags=%s" % (step, len(streams), [r[0] for r in syn],
                                                 [r[0] for r in fin], json.dumps(f)))
    want = "retransmission" if step == "tcp-retrans" else "out_of_order"
    ok = bool(f[want]) and len(syn) == 1 and len(fin) == 2 and len(streams) == 1
    sys.exit(0 if ok else 1)

elif step == "mqtt-truncated":
    # pcap: cut 30 bytes into the packet data of the first record starting at or after byte 3000
    data = open(BASIC, "rb").read()
    off, n = 24, 0
    while off < len(data):
        n += 1
        incl = struct.unpack_from("<I", data, off + 8)[0]
        if off >= 3000:
            break
        off += 16 + incl
    cut = off + 16 + 30
    open(p("mqtt-truncated.pcap"), "wb").write(data[:cut])
    say("mqtt-truncated.pcap = first %d bytes of mqtt-tcp-basic.pcap (%d bytes): record %d starts at byte %d "
        "(caplen %d), cut 30 bytes into its packet data; %d complete records before it"
        % (cut, len(data), n, off, incl, n - 1))
    # pcapng: cut 40 bytes into the packet data of the first EPB starting at or after byte 4000
    src = p("ws-mqtt.pcapng")
    data = open(src, "rb").read()
    off, epb = 0, 0
    while off < len(data):
        btype, blen = struct.unpack_from("<II", data, off)
        if btype == 6:
            epb += 1
            if off >= 4000:
                break
        off += blen
    cut = off + 28 + 40
    open(p("ws-mqtt-truncated.pcapng"), "wb").write(data[:cut])
    say("ws-mqtt-truncated.pcapng = first %d bytes of ws-mqtt.pcapng (%d bytes): Enhanced Packet Block #%d "
        "(packet %d) starts at byte %d, block length %d; cut 40 bytes into its packet data "
        "(28-byte EPB header + 40); %d complete packets before it"
        % (cut, len(data), epb, epb, off, blen, epb - 1))

elif step == "tcp-gap":
    stream, segs, big = big_publish_segments()
    # big = CONNECT? no: CONNECT is < 100 bytes; the PUBLISH segments are 1448, 1448, rest
    assert len(big) >= 3, big
    drop = int(big[1][0])
    subprocess.run(["editcap", "-F", "pcap", BASIC, p("tcp-gap.pcap"), str(drop)], check=True)
    acks = tshark_fields(BASIC, "tcp.stream == %s && tcp.srcport == 1883 && frame.number > %d" % (stream, drop),
                         ["frame.number", "tcp.ack"])
    say("tcp-gap.pcap = mqtt-tcp-basic.pcap without frame %d (tcp.stream %s, client->broker, %s bytes at "
        "relative seq %s, the 2nd of the %d TCP segments of the 3000-byte PUBLISH wsd/tcp/big); the broker's "
        "next ACK (original frame %s, relative ack %s) covers the missing bytes"
        % (drop, stream, big[1][1], big[1][2], len(big), acks[0][0], acks[0][1]))

elif step == "tcp-midstream":
    rows = tshark_fields(BASIC, "tcp.stream == 0 && mqtt.msgtype == 8", ["frame.number"])
    first = int(rows[0][0])
    subprocess.run(["editcap", "-F", "pcap", "-r", BASIC, p("tcp-midstream.pcap"), "%d-1000000" % first], check=True)
    say("tcp-midstream.pcap = mqtt-tcp-basic.pcap frames %d..end (editcap -F pcap -r mqtt-tcp-basic.pcap "
        "tcp-midstream.pcap %d-1000000): frames 1-%d (subscriber's SYN, SYN-ACK, ACK, CONNECT, CONNACK "
        "and their ACKs) removed; the capture starts with the subscriber's SUBSCRIBE"
        % (first, first, first - 1))

elif step == "tcp-midstream-unaligned":
    stream, segs, big = big_publish_segments()
    first = int(big[1][0])
    subprocess.run(["editcap", "-F", "pcap", "-r", BASIC, p("tcp-midstream-unaligned.pcap"), "%d-1000000" % first],
                   check=True)
    say("tcp-midstream-unaligned.pcap = mqtt-tcp-basic.pcap frames %d..end (editcap -F pcap -r ... %d-1000000): "
        "starts with the 2nd TCP segment (%s bytes) of the 3000-byte PUBLISH wsd/tcp/big (tcp.stream %s), "
        "i.e. inside an MQTT packet; the subscriber connection (stream 0) is also seen mid-stream"
        % (first, first, big[1][1], stream))

elif step == "tcp-seq-wrap":
    data = bytearray(open(BASIC, "rb").read())
    assert struct.unpack_from("<I", data, 0)[0] == 0xa1b2c3d4 and struct.unpack_from("<I", data, 20)[0] == 1
    recs = []
    off = 24
    while off < len(data):
        incl = struct.unpack_from("<I", data, off + 8)[0]
        recs.append(off + 16)
        off += 16 + incl

    def parse(o):
        eth = o
        assert struct.unpack_from("!H", data, eth + 12)[0] == 0x0800
        ip = eth + 14
        ihl = (data[ip] & 15) * 4
        tot = struct.unpack_from("!H", data, ip + 2)[0]
        assert data[ip + 9] == 6
        tcp = ip + ihl
        doff = (data[tcp + 12] >> 4) * 4
        src, dst = bytes(data[ip + 12:ip + 16]), bytes(data[ip + 16:ip + 20])
        sport, dport = struct.unpack_from("!HH", data, tcp)
        return ip, tcp, doff, tot - ihl - doff, (src, sport, dst, dport)

    # pass 1: ISN and payload per direction
    info = {}
    for o in recs:
        ip, tcp, doff, plen, key = parse(o)
        seq = struct.unpack_from("!I", data, tcp + 4)[0]
        fl = data[tcp + 13]
        d = info.setdefault(key, {"isn": None, "payload": 0})
        if fl & 2 and d["isn"] is None:
            d["isn"] = seq
        d["payload"] += plen
    delta = {}
    for key, d in info.items():
        m = 1 + d["payload"] // 2          # relative seq at which the direction crosses 2^32
        new_isn = (1 << 32) - m
        delta[key] = (new_isn - d["isn"]) & 0xffffffff
        say("tcp-seq-wrap: %s:%d -> %s:%d  isn %d -> %d (0x%08x), %d payload bytes, crosses 2^32 at relative "
            "seq %d" % (".".join(map(str, key[0])), key[1], ".".join(map(str, key[2])), key[3], d["isn"],
                        new_isn, new_isn, d["payload"], m))

    def csum(b):
        if len(b) % 2:
            b += b"\0"
        s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
        while s >> 16:
            s = (s & 0xffff) + (s >> 16)
        return (~s) & 0xffff

    for o in recs:
        ip, tcp, doff, plen, key = parse(o)
        rev = (key[2], key[3], key[0], key[1])
        seq, ack = struct.unpack_from("!II", data, tcp + 4)
        struct.pack_into("!I", data, tcp + 4, (seq + delta[key]) & 0xffffffff)
        if data[tcp + 13] & 0x10:
            struct.pack_into("!I", data, tcp + 8, (ack + delta[rev]) & 0xffffffff)
        # SACK blocks (kind 5) carry the peer's sequence numbers
        i = tcp + 20
        while i < tcp + doff:
            kind = data[i]
            if kind == 0:
                break
            if kind == 1:
                i += 1
                continue
            ln = data[i + 1]
            if kind == 5:
                for j in range(i + 2, i + ln, 4):
                    v = struct.unpack_from("!I", data, j)[0]
                    struct.pack_into("!I", data, j, (v + delta[rev]) & 0xffffffff)
            i += ln
        seglen = doff + plen
        struct.pack_into("!H", data, tcp + 16, 0)
        pseudo = bytes(data[ip + 12:ip + 20]) + struct.pack("!BBH", 0, 6, seglen)
        struct.pack_into("!H", data, tcp + 16, csum(pseudo + bytes(data[tcp:tcp + seglen])))
    open(p("tcp-seq-wrap.pcap"), "wb").write(bytes(data))
    say("tcp-seq-wrap.pcap = mqtt-tcp-basic.pcap with the shifts above (seq of that direction, ack and SACK "
        "edges of the reverse direction); TCP checksums recomputed (correct, unlike the loopback originals); "
        "timestamps, lengths and payloads unchanged")
else:
    sys.exit("unknown step " + step)

with open(os.path.join(GEN, "transport-derive.log"), "a") as fh:
    for l in LOG:
        fh.write(l + "\n")
