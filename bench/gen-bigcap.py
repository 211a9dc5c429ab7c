#!/usr/bin/env python3
"""Make a large benchmark capture from the real captures in samples/.

The TCP flows of a set of Ethernet/IPv4 pcap samples (plain MQTT, MQTT over
WebSocket incl. permessage-deflate and 64-bit frames, refused and accepted
HTTP upgrades) are tiled into one pcap of about --size bytes:

* every copy of a sample ("unit") gets its own client and server IPv4
  address (10.x.y.z / 172.16-31.y.z; ports kept), so its connections are
  distinct 4-tuples; the IPv4 header checksum is fixed incrementally and the
  TCP checksum adjusted by the same delta (loopback originals carry
  unfinished TCP checksums, so those stay as wrong as they were);
* sequence numbers and payloads are those of the original packets (each
  connection stays consistent);
* timestamps keep the original spacing inside a unit; units run in
  --concurrency parallel "slots", each slot playing units back to back
  (--unit-gap apart, slots staggered), and all slots are merged by time, so
  many connections are live at once and timestamps increase.

Only whole units are written: the result is --size rounded up to the next
unit. Python 3 standard library only.

  bench/gen-bigcap.py                      # 1 GiB -> /work/scratch/bench/big.pcap
  bench/gen-bigcap.py --size 64M -o /tmp/b64.pcap
"""
import argparse
import heapq
import os
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SAMPLES = os.path.join(HERE, "..", "samples")

# Ethernet-linktype, microsecond pcap samples with complete TCP sessions.
DEFAULT_SET = [
    # plain MQTT
    "mqtt-tcp-basic", "mqtt31-tcp", "mqtt5-tcp", "mqtt5-props-alias",
    "mqtt-connect-refused", "mqtt5-too-large",
    # MQTT over WebSocket (deflate, split, 64-bit lengths, close frames)
    "ws-mqtt-paho", "ws-mqtt31", "ws-mqtt311", "ws-mqtt5", "ws-mqttjs-split",
    "ws-deflate", "ws-deflate-nocontext", "ws-large-64bit", "ws-close",
    "ws-close-server", "ws-101-coalesced", "ws-connect-refused", "iis8-ok",
    "iis10-ok",
    # HTTP upgrades refused / odd answers
    "iis75-404", "iis75-200", "iis75-400", "iis75-405", "iis75-noserver-404",
    "iis85-nows", "iis75-404-wise", "nginx-426", "nginx-400",
    "ws-wrong-accept", "ws-reset", "ws-no-response",
]

BASE_EPOCH_US = 1_700_000_000 * 1_000_000


def parse_size(s):
    s = s.strip().upper().removesuffix("B").removesuffix("I")
    mult = 1
    for suf, m in (("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30)):
        if s.endswith(suf):
            mult, s = m, s[:-1]
            break
    return int(float(s) * mult)


def csum_words(b):
    """Ones' complement sum (unfolded) of the 16-bit words of b."""
    return sum(struct.unpack("!%dH" % (len(b) // 2), b))


def fold(x):
    while x >> 16:
        x = (x & 0xFFFF) + (x >> 16)
    return x


class Sample:
    """One sample capture, split for fast rewriting."""

    def __init__(self, path):
        self.name = os.path.basename(path)
        with open(path, "rb") as f:
            data = f.read()
        magic = data[:4]
        if magic == b"\xd4\xc3\xb2\xa1":
            endian = "<"
        elif magic == b"\xa1\xb2\xc3\xd4":
            endian = ">"
        else:
            raise ValueError(f"{self.name}: not a microsecond pcap")
        linktype = struct.unpack(endian + "I", data[20:24])[0]
        if linktype != 1:
            raise ValueError(f"{self.name}: link type {linktype}, not Ethernet")
        off = 24
        raw = []
        while off + 16 <= len(data):
            sec, usec, incl, orig = struct.unpack(endian + "IIII", data[off:off + 16])
            pkt = data[off + 16:off + 16 + incl]
            if len(pkt) < incl:
                raise ValueError(f"{self.name}: truncated record at {off}")
            off += 16 + incl
            raw.append((sec * 1_000_000 + usec, orig, pkt))
        if not raw:
            raise ValueError(f"{self.name}: no packets")
        # client side of each connection: the SYN (without ACK) sender, else
        # the higher port
        clients = {}
        for _, _, pkt in raw:
            tcp = self._tcp_off(pkt)
            if tcp is None:
                continue
            sp, dp = struct.unpack("!HH", pkt[tcp:tcp + 4])
            flags = pkt[tcp + 13]
            key = (min(sp, dp), max(sp, dp))
            if flags & 0x12 == 0x02:
                clients[key] = sp
            else:
                clients.setdefault(key, max(sp, dp))
        t0 = raw[0][0]
        self.old_addr_sum = None
        self.pkts = []  # (rel_us, lens8, p0, ip_csum, c2s, p1, tcp_csum, p2)
        self.bytes = 0
        for ts, orig, pkt in raw:
            tcp = self._tcp_off(pkt)
            if tcp is None:
                raise ValueError(f"{self.name}: non IPv4/TCP packet")
            addrs = pkt[26:34]
            s = csum_words(addrs)
            if self.old_addr_sum is None:
                self.old_addr_sum = s
            elif s != self.old_addr_sum:
                raise ValueError(f"{self.name}: more than one address pair")
            sp, dp = struct.unpack("!HH", pkt[tcp:tcp + 4])
            c2s = clients[(min(sp, dp), max(sp, dp))] == sp
            ip_csum = struct.unpack("!H", pkt[24:26])[0]
            tcp_csum = struct.unpack("!H", pkt[tcp + 16:tcp + 18])[0] if len(pkt) >= tcp + 18 else None
            if tcp_csum is None:
                p1, p2 = pkt[34:], b""
            else:
                p1, p2 = pkt[34:tcp + 16], pkt[tcp + 18:]
            lens = struct.pack("<II", len(pkt), orig)
            self.pkts.append((ts - t0, lens, pkt[:24], ip_csum, c2s, p1, tcp_csum, p2))
            self.bytes += 16 + len(pkt)
        self.duration = raw[-1][0] - t0
        self.conns = len(clients)

    @staticmethod
    def _tcp_off(pkt):
        if len(pkt) < 34 or pkt[12:14] != b"\x08\x00" or pkt[14] >> 4 != 4:
            return None
        if pkt[23] != 6:
            return None
        ihl = (pkt[14] & 0x0F) * 4
        off = 14 + ihl
        if len(pkt) < off + 14:
            return None
        return off


def unit_addrs(k):
    """Distinct client (10/8) and server (172.16/12) addresses for unit k."""
    k += 1
    client = bytes((10, (k >> 16) & 0xFF, (k >> 8) & 0xFF, k & 0xFF))
    server = bytes((172, 16 + ((k >> 16) & 0x0F), (k >> 8) & 0xFF, k & 0xFF))
    return client, server


def unit_packets(sample, k, start_us):
    """Yield (ts_us, record bytes) of one copy of `sample`."""
    client, server = unit_addrs(k)
    cs = client + server
    sc = server + client
    # RFC 1624: HC' = ~(~HC + ~m + m'); the address sum is the same both ways
    old = fold(sample.old_addr_sum)
    new = fold(csum_words(cs))
    delta = fold(new + (~old & 0xFFFF))
    pack_ts = struct.Struct("<II").pack
    pack_h = struct.Struct("!H").pack
    for rel, lens, p0, ipc, c2s, p1, tcpc, p2 in sample.pkts:
        ts = start_us + rel
        ipc = ~fold((~ipc & 0xFFFF) + delta) & 0xFFFF
        addrs = cs if c2s else sc
        if tcpc is None:
            body = p0 + pack_h(ipc) + addrs + p1
        else:
            tcpc = ~fold((~tcpc & 0xFFFF) + delta) & 0xFFFF
            body = p0 + pack_h(ipc) + addrs + p1 + pack_h(tcpc) + p2
        yield ts, pack_ts(ts // 1_000_000, ts % 1_000_000) + lens + body


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-o", "--output", default="/work/scratch/bench/big.pcap")
    ap.add_argument("--size", default="1G", help="target size (bytes, or with K/M/G suffix; default 1G)")
    ap.add_argument("--samples", default=DEFAULT_SAMPLES, help="samples directory")
    ap.add_argument("--only", nargs="*", help="sample names (without .pcap) instead of the default set")
    ap.add_argument("--concurrency", type=int, default=100,
                    help="units played at once (each 1-5 connections; default 100)")
    ap.add_argument("--unit-gap-ms", type=float, default=20.0, help="pause between units in a slot")
    ap.add_argument("--no-tcp", action="store_true",
                    help="baseline input: set the IPv4 protocol of every packet to 253 (experimental), so "
                         "that the same records carry no TCP and an analyzer only reads and decodes link/IP")
    ap.add_argument("--stagger-ms", type=float, default=7.0, help="start offset between slots")
    args = ap.parse_args()

    target = parse_size(args.size)
    out = os.path.abspath(args.output)
    repo = os.path.abspath(os.path.join(HERE, ".."))
    if out.startswith(repo + os.sep):
        sys.exit("refusing to write the benchmark capture inside the repository")
    names = args.only or DEFAULT_SET
    samples = [Sample(os.path.join(args.samples, n + ".pcap")) for n in names]
    if args.no_tcp:
        for s in samples:
            s.pkts = [(r, l, p0[:23] + b"\xfd", ipc, c2s, p1, tcpc, p2)
                      for r, l, p0, ipc, c2s, p1, tcpc, p2 in s.pkts]
    per_round = sum(s.bytes for s in samples)

    # schedule: give the next unit to the slot that is free earliest
    t_start = time.time()
    gap = int(args.unit_gap_ms * 1000)
    slots = [(i * int(args.stagger_ms * 1000), i) for i in range(args.concurrency)]
    heapq.heapify(slots)
    next_sample = [(i * 7) % len(samples) for i in range(args.concurrency)]
    plan = [[] for _ in range(args.concurrency)]  # per slot: (start_us, sample idx, unit k)
    total = 24
    k = 0
    conns = 0
    while total < target:
        t, i = heapq.heappop(slots)
        si = next_sample[i]
        next_sample[i] = (si + 1) % len(samples)
        s = samples[si]
        plan[i].append((BASE_EPOCH_US + t, si, k))
        k += 1
        total += s.bytes
        conns += s.conns
        heapq.heappush(slots, (t + s.duration + gap, i))
    if k >= 1 << 20:
        sys.exit("too many units for the address plan (max 1M); use a smaller --size")

    def slot_stream(units):
        for start, si, uk in units:
            yield from unit_packets(samples[si], uk, start)

    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    tmp = out + ".tmp"
    packets = 0
    last_ts = 0
    with open(tmp, "wb", buffering=0) as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        buf = []
        n = 0
        for ts, rec in heapq.merge(*(slot_stream(p) for p in plan if p), key=lambda x: x[0]):
            buf.append(rec)
            n += len(rec)
            last_ts = ts
            if n >= 1 << 22:
                f.write(b"".join(buf))
                packets += len(buf)
                buf.clear()
                n = 0
        f.write(b"".join(buf))
        packets += len(buf)
    os.replace(tmp, out)
    size = os.path.getsize(out)
    dt = time.time() - t_start
    span = (last_ts - BASE_EPOCH_US) / 1e6
    print(f"{out}: {size} bytes ({size / (1 << 20):.1f} MiB), {packets} packets, {k} units "
          f"of {len(samples)} samples ({per_round} bytes per round), {conns} TCP connections, "
          f"{args.concurrency} slots, {span:.1f} s of capture time; written in {dt:.1f} s",
          file=sys.stderr)


if __name__ == "__main__":
    main()
