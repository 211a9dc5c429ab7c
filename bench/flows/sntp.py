#!/usr/bin/env python3
"""A tiny SNTP (RFC 4330) server and client, for bench/flows/udp-ntp-syslog.pcap.

  sntp.py server ADDR PORT SECONDS     answer mode-3 requests with mode-4 replies for SECONDS
  sntp.py client ADDR PORT COUNT GAP   send COUNT requests GAP seconds apart, print offset/delay

Python 3 standard library only. The client sends each request from a new
socket (a new source port), as ntpdate/sntp do; the server answers with
stratum 2, reference id 127.127.1.0 (local clock), and the receive/transmit
timestamps from time.time().
"""
import socket
import struct
import sys
import time

NTP_DELTA = 2208988800  # 1900-01-01 -> 1970-01-01


def ntp_ts(t):
    sec = int(t) + NTP_DELTA
    frac = int((t - int(t)) * (1 << 32)) & 0xFFFFFFFF
    return struct.pack("!II", sec, frac)


def from_ntp(b):
    sec, frac = struct.unpack("!II", b)
    return sec - NTP_DELTA + frac / (1 << 32)


def server(addr, port, seconds):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, port))
    s.settimeout(0.5)
    end = time.time() + seconds
    n = 0
    while time.time() < end:
        try:
            req, peer = s.recvfrom(512)
        except socket.timeout:
            continue
        rx = time.time()
        if len(req) < 48 or req[0] & 7 != 3:
            continue
        vn = (req[0] >> 3) & 7
        reply = (bytes([(0 << 6) | (vn << 3) | 4, 2, req[2], 0xEC])  # LI 0, mode 4, stratum 2, poll, precision
                 + struct.pack("!II", 0x00000100, 0x00000200)           # root delay, root dispersion
                 + bytes((127, 127, 1, 0))                              # reference id
                 + ntp_ts(rx - 16) + req[40:48] + ntp_ts(rx) + ntp_ts(time.time()))
        s.sendto(reply, peer)
        n += 1
    print(f"sntp server: {n} replies", file=sys.stderr)


def client(addr, port, count, gap):
    ok = 0
    for i in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(2)
        t1 = time.time()
        req = bytes([(0 << 6) | (4 << 3) | 3, 0, 6, 0x20]) + bytes(36) + ntp_ts(t1)
        s.sendto(req, (addr, port))
        try:
            rep, _ = s.recvfrom(512)
            t4 = time.time()
            t2, t3 = from_ntp(rep[32:40]), from_ntp(rep[40:48])
            print(f"request {i}: offset {((t2 - t1) + (t3 - t4)) / 2 * 1e6:.0f} us, "
                  f"delay {((t4 - t1) - (t3 - t2)) * 1e6:.0f} us")
            ok += 1
        except socket.timeout:
            print(f"request {i}: timeout")
        s.close()
        time.sleep(gap)
    print(f"sntp client: {ok}/{count} answered", file=sys.stderr)


if __name__ == "__main__":
    mode, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if mode == "server":
        server(addr, port, float(sys.argv[4]))
    else:
        client(addr, port, int(sys.argv[4]), float(sys.argv[5]))
