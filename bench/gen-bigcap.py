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

--customer makes a "customer-like" capture instead: the same device units
make only --device-share (default 0.10) of the bytes, and the rest is tiled
from the real non-device flows of bench/flows/*.pcap (nginx + curl over plain
HTTP and HTTPS with TLS 1.2 and 1.3, an scp/SFTP upload, an SMB-like bulk
stream on port 445, redis-benchmark, DNS over UDP and TCP from dnsmasq + dig,
SNTP and syslog datagrams, iperf3 UDP; bench/flows/README.md says how each
was recorded). Flow units are renumbered like device units (own client and
server address per copy, IPv4 checksum fixed, TCP and UDP checksums adjusted
by the same delta; a UDP checksum of 0 stays 0 = none, an adjusted one never
becomes 0). The device units are scheduled exactly as without --customer;
the flow units play in their own slots (--other-concurrency, default: as
many as it takes), spaced so that they cover the same time span as the
device traffic. --flow-weights sets how many copies of each flow a round
holds (default FLOW_WEIGHTS below: HTTPS-heavy, like an office uplink).
Without --customer the output is byte for byte what it was before the option
existed.

  bench/gen-bigcap.py                      # 1 GiB -> /work/scratch/bench/big.pcap
  bench/gen-bigcap.py --size 64M -o /tmp/b64.pcap
  bench/gen-bigcap.py --customer --size 1G -o /work/scratch/bench/customer1g.pcap
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

DEFAULT_FLOWS = os.path.join(HERE, "flows")
# --customer: copies of each bench/flows/ capture per round (flows not named
# here: 1). With the committed flows one round is about 12.4 MB: HTTPS 48 %,
# plain HTTP 19 %, SSH/SMB-like/redis TCP 27 %, iperf3 UDP 4 %, DNS/NTP/syslog 2 %.
FLOW_WEIGHTS = {
    "https-tls13": 3, "https-tls12": 2, "http": 2, "scp": 1, "smb445": 1,
    "redis": 1, "iperf-udp": 1, "dns": 4, "udp-ntp-syslog": 2,
}


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


def read_pcap(path, name):
    """The records of a microsecond Ethernet pcap: [(ts_us, orig_len, bytes)]."""
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    if magic == b"\xd4\xc3\xb2\xa1":
        endian = "<"
    elif magic == b"\xa1\xb2\xc3\xd4":
        endian = ">"
    else:
        raise ValueError(f"{name}: not a microsecond pcap")
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    if linktype != 1:
        raise ValueError(f"{name}: link type {linktype}, not Ethernet")
    off = 24
    raw = []
    while off + 16 <= len(data):
        sec, usec, incl, orig = struct.unpack(endian + "IIII", data[off:off + 16])
        pkt = data[off + 16:off + 16 + incl]
        if len(pkt) < incl:
            raise ValueError(f"{name}: truncated record at {off}")
        off += 16 + incl
        raw.append((sec * 1_000_000 + usec, orig, pkt))
    if not raw:
        raise ValueError(f"{name}: no packets")
    return raw


class Sample:
    """One sample capture, split for fast rewriting."""

    def __init__(self, path):
        self.name = os.path.basename(path)
        raw = read_pcap(path, self.name)
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


class Flow:
    """One bench/flows/ capture: Ethernet/IPv4 TCP and UDP, one address pair."""

    def __init__(self, path):
        self.name = os.path.basename(path)[:-len(".pcap")]
        raw = read_pcap(path, self.name)
        # client of each (proto, port pair): TCP: the SYN sender, else the
        # higher port; UDP: the sender of the pair's first datagram
        clients = {}
        for _, _, pkt in raw:
            l4, proto = self._l4(pkt)
            sp, dp = struct.unpack("!HH", pkt[l4:l4 + 4])
            key = (proto, min(sp, dp), max(sp, dp))
            if proto == 6:
                if pkt[l4 + 13] & 0x12 == 0x02:
                    clients[key] = sp
                else:
                    clients.setdefault(key, max(sp, dp))
            else:
                clients.setdefault(key, sp)
        t0 = raw[0][0]
        self.old_addr_sum = None
        # (rel_us, lens8, p0, ip_csum, c2s, p1, l4_csum or None, p2, is_udp)
        self.pkts = []
        self.bytes = 0
        self.fixed = 0
        for ts, orig, pkt in raw:
            l4, proto = self._l4(pkt)
            s = csum_words(pkt[26:34])
            if self.old_addr_sum is None:
                self.old_addr_sum = s
            elif s != self.old_addr_sum:
                raise ValueError(f"{self.name}: more than one address pair")
            sp, dp = struct.unpack("!HH", pkt[l4:l4 + 4])
            c2s = clients[(proto, min(sp, dp), max(sp, dp))] == sp
            ip_csum = struct.unpack("!H", pkt[24:26])[0]
            co = l4 + (16 if proto == 6 else 6)  # checksum offset
            csum = struct.unpack("!H", pkt[co:co + 2])[0] if len(pkt) >= co + 2 else None
            if csum == 0 and proto == 17:
                csum = None  # no UDP checksum: stays 0
            end = 14 + struct.unpack("!H", pkt[16:18])[0]
            if csum is not None and len(pkt) >= end:
                # the loopback originals carry unfinished (partial) checksums:
                # compute the real one here, once; copies adjust it
                seg = pkt[l4:co] + b"\0\0" + pkt[co + 2:end]
                if len(seg) % 2:
                    seg += b"\0"
                c = ~fold(csum_words(pkt[26:34]) + proto + (end - l4) + csum_words(seg)) & 0xFFFF
                csum = 0xFFFF if (c == 0 and proto == 17) else c
                self.fixed += 1
            if csum is None:
                p1, p2 = pkt[34:], b""
            else:
                p1, p2 = pkt[34:co], pkt[co + 2:]
            lens = struct.pack("<II", len(pkt), orig)
            self.pkts.append((ts - t0, lens, pkt[:24], ip_csum, c2s, p1, csum, p2, proto == 17))
            self.bytes += 16 + len(pkt)
        self.duration = raw[-1][0] - t0
        self.tcp_conns = sum(1 for k in clients if k[0] == 6)
        self.udp_flows = sum(1 for k in clients if k[0] == 17)

    def _l4(self, pkt):
        if len(pkt) < 34 or pkt[12:14] != b"\x08\x00" or pkt[14] >> 4 != 4:
            raise ValueError(f"{self.name}: non-IPv4 packet")
        proto = pkt[23]
        off = 14 + (pkt[14] & 0x0F) * 4
        if proto not in (6, 17) or len(pkt) < off + (14 if proto == 6 else 8):
            raise ValueError(f"{self.name}: not TCP/UDP, or too short")
        if struct.unpack("!H", pkt[20:22])[0] & 0x3FFF:
            raise ValueError(f"{self.name}: IPv4 fragment")
        return off, proto


def flow_unit_packets(flow, k, start_us):
    """Yield (ts_us, record bytes) of one copy of a Flow (TCP and UDP)."""
    client, server = unit_addrs(k)
    cs = client + server
    sc = server + client
    old = fold(flow.old_addr_sum)
    new = fold(csum_words(cs))
    delta = fold(new + (~old & 0xFFFF))
    pack_ts = struct.Struct("<II").pack
    pack_h = struct.Struct("!H").pack
    for rel, lens, p0, ipc, c2s, p1, l4c, p2, udp in flow.pkts:
        ts = start_us + rel
        ipc = ~fold((~ipc & 0xFFFF) + delta) & 0xFFFF
        addrs = cs if c2s else sc
        if l4c is None:
            body = p0 + pack_h(ipc) + addrs + p1
        else:
            l4c = ~fold((~l4c & 0xFFFF) + delta) & 0xFFFF
            if udp and l4c == 0:
                l4c = 0xFFFF  # RFC 768: a computed 0 is sent as all ones
            body = p0 + pack_h(ipc) + addrs + p1 + pack_h(l4c) + p2
        yield ts, pack_ts(ts // 1_000_000, ts % 1_000_000) + lens + body


def parse_weights(spec):
    """'name=3,other=1' -> dict."""
    w = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, _, n = part.partition("=")
        w[name.strip()] = int(n)
    return w


def customer_main(args, samples, target, out):
    """--customer: device units make --device-share of the bytes, bench/flows/ the rest."""
    share = args.device_share
    if not 0.0 < share < 1.0:
        sys.exit("--device-share must be between 0 and 1 (exclusive)")
    t_start = time.time()
    paths = sorted(f for f in os.listdir(args.flows) if f.endswith(".pcap"))
    if args.only_flows:
        paths = [n + ".pcap" for n in args.only_flows]
    flows = [Flow(os.path.join(args.flows, f)) for f in paths]
    if not flows:
        sys.exit(f"no flows in {args.flows}")
    if args.no_tcp:
        for fl in flows:
            fl.pkts = [(r, l, p0[:23] + b"\xfd", ipc, c2s, p1, c, p2, u)
                       for r, l, p0, ipc, c2s, p1, c, p2, u in fl.pkts]
    weights = dict(FLOW_WEIGHTS)
    if args.flow_weights:
        weights.update(parse_weights(args.flow_weights))
    # one round: each flow `weight` times, interleaved (largest weight first)
    order = []
    left = {i: max(0, weights.get(fl.name, 1)) for i, fl in enumerate(flows)}
    while any(left.values()):
        for i in sorted(left, key=lambda i: -left[i]):
            if left[i]:
                order.append(i)
                left[i] -= 1
    if not order:
        sys.exit("all flow weights are 0")

    dev_target = int(target * share)
    other_target = target - dev_target
    gap = int(args.unit_gap_ms * 1000)

    # device units: the same schedule as without --customer, on dev_target
    slots = [(i * int(args.stagger_ms * 1000), i) for i in range(args.concurrency)]
    heapq.heapify(slots)
    next_sample = [(i * 7) % len(samples) for i in range(args.concurrency)]
    dev_plan = [[] for _ in range(args.concurrency)]
    dev_bytes = 0
    k = 0
    dev_conns = 0
    span = 0
    while 24 + dev_bytes < dev_target:
        t, i = heapq.heappop(slots)
        si = next_sample[i]
        next_sample[i] = (si + 1) % len(samples)
        s = samples[si]
        dev_plan[i].append((BASE_EPOCH_US + t, si, k))
        k += 1
        dev_bytes += s.bytes
        dev_conns += s.conns
        span = max(span, t + s.duration)
        heapq.heappush(slots, (t + s.duration + gap, i))
    dev_units = k

    # flow units: round-robin over `order` until other_target
    units = []
    other_bytes = 0
    j = 0
    while other_bytes < other_target:
        fi = order[j % len(order)]
        j += 1
        units.append(fi)
        other_bytes += flows[fi].bytes
    busy = sum(flows[fi].duration for fi in units)
    n_other = args.other_concurrency or max(1, (busy + gap * len(units)) // max(span, 1))
    n_other = max(1, min(n_other, len(units)))
    # pause between flow units in a slot: so that the slots cover `span`
    ogap = max(gap, (n_other * span - busy) // len(units))
    ostagger = min(int(args.stagger_ms * 1000), span // n_other) if span else 0
    slots = [(i * ostagger, i) for i in range(n_other)]
    heapq.heapify(slots)
    other_plan = [[] for _ in range(n_other)]
    per_flow = [0] * len(flows)
    tcp_conns = udp_flows = 0
    for fi in units:
        t, i = heapq.heappop(slots)
        fl = flows[fi]
        other_plan[i].append((BASE_EPOCH_US + t, fi, k))
        k += 1
        per_flow[fi] += 1
        tcp_conns += fl.tcp_conns
        udp_flows += fl.udp_flows
        heapq.heappush(slots, (t + fl.duration + ogap, i))
    if k >= 1 << 20:
        sys.exit("too many units for the address plan (max 1M); use a smaller --size")

    def dev_stream(plan):
        for start, si, uk in plan:
            yield from unit_packets(samples[si], uk, start)

    def flow_stream(plan):
        for start, fi, uk in plan:
            yield from flow_unit_packets(flows[fi], uk, start)

    streams = [dev_stream(p) for p in dev_plan if p] + [flow_stream(p) for p in other_plan if p]
    packets, last_ts = write_pcap(out, streams)
    size = os.path.getsize(out)
    dt = time.time() - t_start
    cap_span = (last_ts - BASE_EPOCH_US) / 1e6
    print(f"{out}: {size} bytes ({size / (1 << 20):.1f} MiB), {packets} packets, "
          f"{cap_span:.1f} s of capture time; written in {dt:.1f} s", file=sys.stderr)
    print(f"  device: {dev_bytes} bytes of records ({dev_bytes / (size - 24) * 100:.1f} %), {dev_units} units "
          f"of {len(samples)} samples, {dev_conns} TCP connections, {args.concurrency} slots", file=sys.stderr)
    print(f"  other:  {other_bytes} bytes of records ({other_bytes / (size - 24) * 100:.1f} %), {len(units)} units "
          f"of {len(flows)} flows, {tcp_conns} TCP connections, {udp_flows} UDP flows, {n_other} slots "
          f"{ogap / 1000:.0f} ms apart", file=sys.stderr)
    for fi, fl in enumerate(flows):
        b = per_flow[fi] * fl.bytes
        print(f"    {fl.name:16s} {per_flow[fi]:6d} units {b:12d} bytes ({b / (size - 24) * 100:5.1f} %)",
              file=sys.stderr)


def write_pcap(out, streams):
    """Merge (ts, record) streams by time into a microsecond Ethernet pcap at out."""
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    tmp = out + ".tmp"
    packets = 0
    last_ts = 0
    with open(tmp, "wb", buffering=0) as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        buf = []
        n = 0
        for ts, rec in heapq.merge(*streams, key=lambda x: x[0]):
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
    return packets, last_ts


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
    ap.add_argument("--customer", action="store_true",
                    help="customer-like capture: device units are only --device-share of the bytes, the rest "
                         "is tiled from the real non-device flows in --flows (bench/flows/*.pcap)")
    ap.add_argument("--device-share", type=float, default=0.10,
                    help="with --customer: share of the bytes that is device traffic (default 0.10)")
    ap.add_argument("--flows", default=DEFAULT_FLOWS, help="with --customer: directory of the flow captures")
    ap.add_argument("--only-flows", nargs="*", help="with --customer: flow names (without .pcap) instead of all")
    ap.add_argument("--flow-weights", default="",
                    help="with --customer: copies per round, e.g. 'dns=10,scp=0' (default: FLOW_WEIGHTS)")
    ap.add_argument("--other-concurrency", type=int, default=0,
                    help="with --customer: slots for the flow units (default 0: as many as it takes to cover "
                         "the device traffic's time span back to back)")
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
    if args.customer:
        return customer_main(args, samples, target, out)
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
