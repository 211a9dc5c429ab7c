#!/usr/bin/python3
"""Userspace tunnel endpoint on a TUN/TAP device (Python standard library only).

This kernel (6.18.44-fc) has no GRE, ERSPAN, IP-in-IP, sit or ip6tnl support
(`ip link add ... type gre` -> "Unknown device type"; CONFIG_NET_IPGRE_DEMUX,
CONFIG_NET_IPIP, CONFIG_IPV6_SIT, CONFIG_IPV6_TUNNEL are not set), but it has
TUN/TAP and raw IP sockets.  This program is the tunnel endpoint instead: it
reads the inner packets (TUN: IP packets; TAP: Ethernet frames) the kernel
routes into the device, puts the tunnel header in front of them as the RFCs
and the ERSPAN draft lay it out, and sends the result through a raw IP socket
of the tunnel's IP protocol (4, 41 or 47), so the kernel writes the outer
IPv4/IPv6 header.  What arrives on the raw socket from the peer is
decapsulated and written back into the device.

  tund.py --mode MODE --dev DEV --local ADDR --remote ADDR [options]

modes (what goes on the wire):
  gre       GRE (RFC 2784/2890) around IP, protocol 0x0800 / 0x86dd; TUN
  gretap    GRE, Transparent Ethernet Bridging (0x6558) around Ethernet; TAP
  erspan1   ERSPAN type I: GRE without any flag, protocol 0x88be, no ERSPAN header; TAP
  erspan2   ERSPAN type II: GRE with sequence number, 0x88be, 8-byte header (version 1); TAP
  erspan3   ERSPAN type III: GRE with sequence number, 0x22eb, 12-byte header (version 2),
            with --subheader the 8-byte platform-specific subheader (platform id 7); TAP
  ip        IP in IP: IP protocol 4 for IPv4 inside, 41 for IPv6 inside (ipip, sit,
            ip4ip6 / ip6ip6 depending on the outer family); TUN
  mirror    ERSPAN type II of frames mirrored into TAP devices (--mirror DEV:INDEX ...),
            sent one way to --remote only (a switch's ERSPAN source session)
options:
  --key N     GRE key (K bit);  --seq  GRE sequence numbers (S bit);  --csum  GRE checksum (C bit)
  --session N ERSPAN session id (10 bits);  --index N ERSPAN II port index;  --hwid N ERSPAN III hardware id
  --ready F   file written once the device is attached;  --log F  JSON counters at exit
The outer family is the family of --local / --remote.  Stop with SIGTERM.
"""
import argparse
import fcntl
import json
import os
import select
import signal
import socket
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN, IFF_TAP, IFF_NO_PI = 0x0001, 0x0002, 0x1000
GRE_C, GRE_K, GRE_S = 0x8000, 0x2000, 0x1000


def open_dev(name, tap):
    fd = os.open("/dev/net/tun", os.O_RDWR)
    ifr = struct.pack("16sH", name.encode(), (IFF_TAP if tap else IFF_TUN) | IFF_NO_PI)
    fcntl.ioctl(fd, TUNSETIFF, ifr)
    return fd


def csum16(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


class Tunnel:
    def __init__(self, a):
        self.a = a
        self.v6 = ":" in a.local
        self.fam = socket.AF_INET6 if self.v6 else socket.AF_INET
        self.seq = 0
        self.t0 = time.time()
        self.count = {"sent": 0, "received": 0, "dropped": 0}

    # ---------------------------------------------------------------- encapsulation
    def gre(self, proto, payload, flags=None):
        a = self.a
        if flags is None:
            flags = (GRE_C if a.csum else 0) | (GRE_K if a.key is not None else 0) | (GRE_S if a.seq else 0)
        opts = b""
        if flags & GRE_C:
            opts += b"\0\0\0\0"
        if flags & GRE_K:
            opts += struct.pack("!I", a.key)
        if flags & GRE_S:
            opts += struct.pack("!I", self.seq & 0xFFFFFFFF)
            self.seq += 1
        hdr = struct.pack("!HH", flags, proto) + opts
        if flags & GRE_C:
            c = csum16(hdr + payload)
            hdr = hdr[:4] + struct.pack("!H", c) + hdr[6:]
        return hdr + payload

    def erspan2_hdr(self, index):
        vlan, cos, en, t = 0, 0, 0, 0
        return struct.pack("!HHI", (1 << 12) | vlan, (cos << 13) | (en << 11) | (t << 10) | (self.a.session & 0x3FF),
                           index & 0xFFFFF)

    def erspan3_hdr(self, direction=0):
        a = self.a
        ts = int((time.time() - self.t0) * 10000) & 0xFFFFFFFF  # granularity 00: 100 microseconds
        o = 1 if a.subheader else 0
        last = (0 << 15) | (0 << 10) | ((a.hwid & 0x3F) << 4) | (direction << 3) | (0 << 1) | o
        h = struct.pack("!HHIHH", (2 << 12) | 0, (0 << 13) | (0 << 11) | (0 << 10) | (a.session & 0x3FF), ts, 0, last)
        if o:
            # platform id 7: reserved, source index (20 bits), upper 32 bits of the timestamp
            h += struct.pack("!II", (7 << 26) | (a.index & 0xFFFFF), 0)
        return h

    def encap(self, inner):
        """(IP protocol, payload) for one packet read from the device."""
        m = self.a.mode
        if m == "gre":
            return 47, self.gre(0x0800 if inner[0] >> 4 == 4 else 0x86DD, inner)
        if m == "gretap":
            return 47, self.gre(0x6558, inner)
        if m == "erspan1":
            return 47, self.gre(0x88BE, inner, flags=0)
        if m == "erspan2":
            return 47, self.gre(0x88BE, self.erspan2_hdr(self.a.index) + inner, flags=GRE_S)
        if m == "erspan3":
            return 47, self.gre(0x22EB, self.erspan3_hdr() + inner, flags=GRE_S)
        if m == "ip":
            return (4 if inner[0] >> 4 == 4 else 41), inner
        raise ValueError(m)

    def decap(self, proto, b):
        """The inner packet of a received tunnel packet (None: not ours)."""
        if proto in (4, 41):
            return b
        flags, ptype = struct.unpack("!HH", b[:4])
        off = 4 + (4 if flags & (GRE_C | 0x4000) else 0) + (4 if flags & GRE_K else 0) + (4 if flags & GRE_S else 0)
        body = b[off:]
        if ptype in (0x0800, 0x86DD, 0x6558):
            return body
        if ptype in (0x88BE, 0x22EB):
            if flags == 0:
                return body
            ver = body[0] >> 4
            if ver == 1:
                return body[8:]
            if ver == 2:
                return body[20:] if body[11] & 1 else body[12:]
        return None

    # ---------------------------------------------------------------- sockets
    def raw(self, proto):
        s = socket.socket(self.fam, socket.SOCK_RAW, proto)
        s.bind((self.a.local, 0) if not self.v6 else (self.a.local, 0, 0, 0))
        return s

    def send(self, socks, proto, payload):
        dst = (self.a.remote, 0) if not self.v6 else (self.a.remote, 0, 0, 0)
        socks[proto].sendto(payload, dst)
        self.count["sent"] += 1

    def recv(self, s, proto):
        data, src = s.recvfrom(65535)
        if src[0] != self.a.remote:
            return None
        if not self.v6:
            data = data[(data[0] & 0x0F) * 4:]  # IPv4 raw sockets hand over the IP header too
        return self.decap(proto, data)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", required=True, choices=["gre", "gretap", "erspan1", "erspan2", "erspan3", "ip", "mirror"])
    ap.add_argument("--dev")
    ap.add_argument("--local", required=True)
    ap.add_argument("--remote", required=True)
    ap.add_argument("--key", type=int)
    ap.add_argument("--seq", action="store_true")
    ap.add_argument("--csum", action="store_true")
    ap.add_argument("--session", type=int, default=100)
    ap.add_argument("--index", type=int, default=1)
    ap.add_argument("--hwid", type=int, default=7)
    ap.add_argument("--subheader", action="store_true")
    ap.add_argument("--mirror", action="append", default=[], help="TAPDEV:INDEX (mirror mode)")
    ap.add_argument("--ready")
    ap.add_argument("--log")
    a = ap.parse_args()
    t = Tunnel(a)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))

    if a.mode == "mirror":
        devs = {}
        for spec in a.mirror:
            name, idx = spec.split(":")
            devs[open_dev(name, True)] = int(idx)
        socks = {47: t.raw(47)}
        if a.ready:
            open(a.ready, "w").write("ready\n")
        while not stop:
            try:
                r, _, _ = select.select(list(devs), [], [], 0.2)
            except InterruptedError:
                continue
            for fd in r:
                frame = os.read(fd, 65535)
                t.send(socks, 47, t.gre(0x88BE, t.erspan2_hdr(devs[fd]) + frame, flags=GRE_S))
    else:
        tap = a.mode not in ("gre", "ip")
        fd = open_dev(a.dev, tap)
        protos = (4, 41) if a.mode == "ip" else (47,)
        socks = {p: t.raw(p) for p in protos}
        by_fd = {s.fileno(): (s, p) for p, s in socks.items()}
        if a.ready:
            open(a.ready, "w").write("ready\n")
        while not stop:
            try:
                r, _, _ = select.select([fd] + list(by_fd), [], [], 0.2)
            except InterruptedError:
                continue
            for x in r:
                if x == fd:
                    inner = os.read(fd, 65535)
                    if a.mode == "ip" and inner[0] >> 4 not in (4, 6):
                        t.count["dropped"] += 1
                        continue
                    proto, payload = t.encap(inner)
                    t.send(socks, proto, payload)
                else:
                    s, p = by_fd[x]
                    inner = t.recv(s, p)
                    if inner:
                        os.write(fd, inner)
                        t.count["received"] += 1
                    else:
                        t.count["dropped"] += 1
    if a.log:
        with open(a.log, "w") as f:
            json.dump({"mode": a.mode, "local": a.local, "remote": a.remote, **t.count}, f)
            f.write("\n")


if __name__ == "__main__":
    sys.exit(main())
