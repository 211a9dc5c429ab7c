#!/usr/bin/python3
"""Derive a PPI (link type 192) 802.11 capture from a real Ethernet pcap.

    ppi-wrap.py IN.pcap OUT.pcap

There is no Wi-Fi hardware here, and PPI is what old AirPcap/Kismet setups wrote, so the PPI
sample is derived: every Ethernet II frame of IN (a real capture) becomes the 802.11 data frame
an access point would carry, inside a PPI header, and nothing else changes (timestamps, lengths
of the IP packets, payloads).  Layout (PPI spec 1.0.10, IEEE 802.11-2016 9.2-9.3):

  PPI header:  pph_version 0, pph_flags 0, pph_len 32 (LE), pph_dlt 105 (LE)
  field:       type 2 (802.11-Common), length 20: TSF timer (the record's time in us), flags 0
               (no FCS), rate 108 (54 Mbit/s, in 500 kbit/s), channel 2437 MHz (channel 6),
               channel flags 0x00c0 (2 GHz, OFDM), FHSS 0/0, signal -42 dBm, noise -95 dBm
  802.11:      frame control 0x08 (data), flags ToDS (frames from the lower MAC) or FromDS
               (from the other side), duration 0, three addresses (BSSID 02:00:00:00:aa:01),
               sequence control (number counting up), then LLC/SNAP aa aa 03 00 00 00 and the
               Ethernet frame's EtherType and payload.
Python standard library only.
"""
import struct
import sys

BSSID = bytes.fromhex("0200000000aa01")[:6]


def main():
    src, dst = sys.argv[1], sys.argv[2]
    data = open(src, "rb").read()
    magic, vmaj, vmin, tz, sig, snap, lt = struct.unpack("<IHHiIII", data[:24])
    if magic != 0xA1B2C3D4 or lt != 1:
        sys.exit("need a little-endian microsecond pcap with Ethernet frames")
    out = bytearray(struct.pack("<IHHiIII", magic, vmaj, vmin, tz, sig, 65535, 192))
    i, seq, first_mac = 24, 0, None
    while i + 16 <= len(data):
        ts, us, caplen, origlen = struct.unpack("<IIII", data[i:i + 16])
        frame = data[i + 16:i + 16 + caplen]
        i += 16 + caplen
        da, sa, et, payload = frame[0:6], frame[6:12], frame[12:14], frame[14:]
        if first_mac is None:
            first_mac = sa
        to_ds = sa == first_mac
        if to_ds:
            fc, a1, a2, a3 = b"\x08\x01", BSSID, sa, da
        else:
            fc, a1, a2, a3 = b"\x08\x02", da, BSSID, sa
        wlan = fc + b"\x00\x00" + a1 + a2 + a3 + struct.pack("<H", (seq & 0xFFF) << 4)
        wlan += b"\xaa\xaa\x03\x00\x00\x00" + et + payload
        seq += 1
        tsf = ts * 1_000_000 + us
        common = struct.pack("<QHHHHBBbb", tsf, 0, 108, 2437, 0x00C0, 0, 0, -42, -95)
        ppi = struct.pack("<BBHI", 0, 0, 8 + 4 + len(common), 105) + struct.pack("<HH", 2, len(common)) + common
        rec = ppi + wlan
        extra = origlen - caplen  # keep a snaplen cut a cut
        out += struct.pack("<IIII", ts, us, len(rec), len(rec) + extra) + rec
    open(dst, "wb").write(out)


if __name__ == "__main__":
    main()
