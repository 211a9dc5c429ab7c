#!/usr/bin/env python3
"""Writes the hand-made seed inputs into fuzz/corpus/TARGET/ and, for the decoders'
targets, crates/wsdoctor-proto/fuzz/corpus/TARGET/ (run from fuzz/).

Each file is named after the edge case it exercises. The byte layouts follow
the structured decoders in crates/wsdoctor-analyzer/src/fuzzing.rs (selector bytes first)."""
import os, struct, zlib

# The decoders' targets live in the protocol crate's fuzz directory.
PROTO_TARGETS = {"http", "ws", "deflate", "mqtt3", "mqtt4", "mqtt5", "mqtt_stream", "tls_decrypt"}


def put(target, name, data):
    base = "../crates/wsdoctor-proto/fuzz/corpus" if target in PROTO_TARGETS else "corpus"
    d = os.path.join(base, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)

# ---- capture / pipeline -------------------------------------------------
def pcap_hdr(snap=65535, lt=1):
    return struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, snap, lt)

def rec(data, caplen=None, orig=None):
    return struct.pack("<IIII", 1, 0, len(data) if caplen is None else caplen,
                       len(data) if orig is None else orig) + data

def eth_tcp(sport, dport, seq, ack, flags, payload=b""):
    tcp = struct.pack(">HHIIBBHHH", sport, dport, seq, ack, 0x50, flags, 65535, 0, 0)
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + len(payload), 0, 0x4000, 64, 6, 0,
                     bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
    return b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00" + ip + tcp + payload

def shb():
    body = struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)
    return struct.pack("<II", 0x0A0D0D0A, 12 + len(body)) + body + struct.pack("<I", 12 + len(body))

def idb(lt=1, snap=65535):
    body = struct.pack("<HHI", lt, 0, snap)
    return struct.pack("<II", 1, 12 + len(body)) + body + struct.pack("<I", 12 + len(body))

def epb(ifid, data, caplen=None):
    pad = b"\0" * (-len(data) % 4)
    body = struct.pack("<IIIII", ifid, 0, 0, len(data) if caplen is None else caplen, len(data)) + data + pad
    return struct.pack("<II", 6, 12 + len(body)) + body + struct.pack("<I", 12 + len(body))

syn = eth_tcp(50000, 1883, 100, 0, 0x02)
for t in ("capture", "pipeline"):
    put(t, "empty", b"")
    put(t, "one-byte", b"\xd4")
    put(t, "pcapng-block-len-8", shb() + struct.pack("<III", 6, 8, 8))
    put(t, "pcapng-block-len-0", shb() + struct.pack("<III", 6, 0, 0))
    put(t, "pcapng-shb-len-4", struct.pack("<III", 0x0A0D0D0A, 4, 0x1A2B3C4D))
    put(t, "pcapng-iface-missing", shb() + idb() + epb(7, syn) + epb(0, syn))
    put(t, "pcapng-caplen-over-block", shb() + idb() + epb(0, syn, caplen=0xfffffff0))
    put(t, "pcap-caplen-over-snaplen", pcap_hdr(snap=64) + rec(syn + b"x" * 100))
    put(t, "pcap-caplen-256mib", pcap_hdr() + rec(syn, caplen=256 << 20))
    put(t, "pcap-truncated-record", pcap_hdr() + rec(syn)[:-5])
    put(t, "pcap-syns", pcap_hdr() + b"".join(
        rec(eth_tcp(1000 + i, 1883, i * 7, 0, 0x02)) for i in range(50)))
    put(t, "pcap-ooo-1byte", pcap_hdr() + rec(syn) + b"".join(
        rec(eth_tcp(50000, 1883, 101 + i, 0, 0x18, b"%c" % (65 + i % 26))) for i in range(40, 0, -1)))
    put(t, "pcap-overlap-conflict", pcap_hdr() + rec(syn) +
        rec(eth_tcp(50000, 1883, 101, 0, 0x18, b"\x10\x0c\0\x04MQTT")) +
        rec(eth_tcp(50000, 1883, 101, 0, 0x18, b"\x10\x0c\0\x04XXXX")))

# ---- capture / pipeline: Microsoft Network Monitor ----------------------
def netmon(major, minor, frames, media=1, table=True):
    """frames: (delta, data, per-frame network for 2.1+)"""
    f = bytearray(b"RTSS" if major == 1 else b"GMBU")
    f += bytes([minor, major]) + struct.pack("<H", media)
    f += struct.pack("<8H", 2025, 11, 2, 25, 16, 53, 1, 123)
    f += b"\0" * (128 - len(f))
    offs = []
    for delta, data, net in frames:
        offs.append(len(f))
        if major == 1:
            f += struct.pack("<IHH", delta, len(data), len(data))
        else:
            f += struct.pack("<QII", delta, len(data), len(data))
        f += data
        if major == 2 and minor >= 1:
            f += struct.pack("<H", net) + (b"\0" * 4 if minor >= 2 else b"")
            if minor >= 3:
                f += struct.pack("<Q", 133_000_000_000_000_000) + b"\0"
    toff = len(f)
    for o in offs:
        f += struct.pack("<I", o)
    if table:
        f[24:32] = struct.pack("<II", toff, 4 * len(offs))
    return bytes(f)

syn_ack = eth_tcp(1883, 50000, 900, 101, 0x12)
for t in ("capture", "pipeline"):
    put(t, "netmon1", netmon(1, 1, [(0, syn, 0), (3, syn_ack, 0)]))
    put(t, "netmon2", netmon(2, 0, [(0, syn, 0), (3000, syn_ack, 0)]))
    put(t, "netmon21-metadata-frames", netmon(2, 1, [(0, syn, 0xE001), (1, b"info", 0xFFFD), (2, b"evt", 0xFFE0), (3, syn_ack, 0xE001)]))
    put(t, "netmon23-filetime", netmon(2, 3, [(0, syn, 0xE001)]))
    put(t, "netmon-80211-radio", netmon(2, 0, [(0, bytes([2, 32, 0]) + b"\0" * 29 + b"\x08\x01" + b"\0" * 22 + b"\xaa\xaa\x03\0\0\0\x08\x00" + syn[14:], 0)], media=6))
    put(t, "netmon-no-table", netmon(2, 0, [(0, syn, 0), (1, syn_ack, 0)], table=False))
    f = netmon(2, 0, [(0, syn, 0), (1, syn_ack, 0)])
    put(t, "netmon-table-cut", f[:-3])
    put(t, "netmon-frame-cut", f[:128 + 16 + 20])
    put(t, "netmon-entry-past-eof", f[:-4] + struct.pack("<I", 0x00ff0000))
    put(t, "netmon-frame-256mib", f[:128 + 12] + struct.pack("<I", 256 << 20) + f[128 + 16:])
    put(t, "netmon-version-3", f[:5] + b"\x03" + f[6:])
    put(t, "netmon-table-backwards", f[:-8] + f[-4:] + f[-8:-4])
    put(t, "netmon-header-cut", f[:40])

# ---- wire ---------------------------------------------------------------
put("wire", "eth-tcp", b"\x01\0\0" + syn)
put("wire", "eth-tcp-cut", b"\x01\x00\x10" + syn[:40])
put("wire", "raw-ipv4", b"\x04\0\0" + syn[14:])
put("wire", "ipv4-fragment", b"\x01\0\0" + syn[:20] + b"\x20\x00" + syn[22:])
# tunnels (selector 4 = raw IP, 12 = PPI; see LINKTYPES in crates/wsdoctor-analyzer/src/fuzzing.rs)
def ip4(proto, payload):
    return struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0x4000, 64, proto, 0,
                       bytes([192, 0, 2, 1]), bytes([192, 0, 2, 2])) + payload
inner = syn[14:]
put("wire", "ipip", b"\x04\0\0" + ip4(4, inner))
put("wire", "gre-csum-key-seq", b"\x04\0\0" + ip4(47, struct.pack(">HHHHII", 0xb000, 0x0800, 0, 0, 42, 7) + inner))
put("wire", "gre-routing", b"\x04\0\0" + ip4(47, struct.pack(">HHHH", 0x4000, 0x0800, 0, 0) + struct.pack(">HBB", 0x0800, 0, 4) + b"abcd" + b"\0" * 4 + inner))
put("wire", "gretap", b"\x04\0\0" + ip4(47, struct.pack(">HH", 0, 0x6558) + syn))
put("wire", "erspan1", b"\x04\0\0" + ip4(47, struct.pack(">HH", 0, 0x88be) + syn))
put("wire", "erspan2", b"\x04\0\0" + ip4(47, struct.pack(">HHI", 0x1000, 0x88be, 5) + struct.pack(">HHI", 0x1000, 100, 3) + syn))
put("wire", "erspan3-subheader", b"\x04\0\0" + ip4(47, struct.pack(">HHI", 0x1000, 0x22eb, 5) + struct.pack(">HHIHH", 0x2000, 200, 0, 0, 0x51) + struct.pack(">II", 7 << 26 | 9, 0) + syn))
put("wire", "pptp-ppp", b"\x04\0\0" + ip4(47, struct.pack(">HHHHII", 0x3081, 0x880b, len(inner) + 4, 9, 1, 0) + b"\xff\x03\x00\x21" + inner))
put("wire", "ipip-nested-deep", b"\x04\0\0" + (lambda p: [p := ip4(4, p) for _ in range(12)][-1])(inner))
put("wire", "ppi-80211", b"\x0c\0\0" + struct.pack("<BBHI", 0, 0, 8, 105) + b"\x08\x01\0\0" + b"\x02" * 18 + b"\x10\0" + b"\xaa\xaa\x03\0\0\0\x08\x00" + inner)

# ---- ws (sel, cut:u16, [gap], stream) ---------------------------------
put("ws", "len-2^63", b"\x00\x05\x00" + b"\x82\x7f\x80" + b"\0" * 7 + b"abc")
put("ws", "len-2^63-minus-1", b"\x00\x05\x00" + b"\x82\x7f\x7f" + b"\xff" * 7 + b"abc")
put("ws", "masked-client", b"\x01\x03\x00" + b"\x81\x85\x01\x02\x03\x04" + bytes(
    c ^ k for c, k in zip(b"hello", b"\x01\x02\x03\x04\x01")) + b"\x88\x80\0\0\0\0")
put("ws", "fragmented-ping-close", b"\x00\x02\x00" + b"\x01\x02he\x89\x00\x80\x03llo\x88\x02\x03\xe8")
c = zlib.compressobj(6, zlib.DEFLATED, -15)
z = c.compress(b"MQTT" * 200) + c.flush(zlib.Z_SYNC_FLUSH)
put("ws", "deflate-message", b"\x02\x04\x00" + b"\xc2\x7e" + struct.pack(">H", len(z) - 4) + z[:-4])
c = zlib.compressobj(9, zlib.DEFLATED, -15)
bomb = c.compress(b"\0" * (4 << 20)) + c.flush(zlib.Z_SYNC_FLUSH)
put("ws", "deflate-bomb", b"\x12\x04\x00" + b"\xc2\x7e" + struct.pack(">H", len(bomb) - 4) + bomb[:-4])

# ---- deflate (sel, cut, messages as u16le-length blobs) -------------------
def blobs(*ms):
    return b"".join(struct.pack("<H", len(m)) + m for m in ms)
put("deflate", "bomb-4mib", b"\x40\x10" + blobs(bomb[:-4]))
put("deflate", "bomb-nct", b"\xc1\x10" + blobs(bomb[:-4], bomb[:-4]))
c = zlib.compressobj(6, zlib.DEFLATED, -15)
m1 = c.compress(b"hello hello hello") + c.flush(zlib.Z_SYNC_FLUSH)
m2 = c.compress(b"hello again hello") + c.flush(zlib.Z_SYNC_FLUSH)
put("deflate", "context-takeover", b"\xc0\x03" + blobs(m1[:-4], m2[:-4]))
put("deflate", "corrupt", b"\xc0\x01" + blobs(b"\xff\xff\xff\xff", m1[:-4]))

# ---- http (sel, cut:u16, bytes) ---------------------------------------
up = (b"GET /mqtt HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
put("http", "upgrade-request", b"\x00\x20\x00" + up)
put("http", "101", b"\x01\x30\x00" + b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
put("http", "chunked", b"\x01\x40\x00" + b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5;x=y\r\nhello\r\n0\r\nTrailer: 1\r\n\r\nHTTP/1.1 200 OK\r\n\r\n")
put("http", "content-length-conflict", b"\x00\x05\x00" + b"POST / HTTP/1.1\r\nContent-Length: 5\r\n"
    b"Content-Length: 6\r\n\r\nhello")
put("http", "chunk-size-overflow", b"\x01\x05\x00" + b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"ffffffffffffffffffff\r\n")

# ---- reasm (limits, overlap, isn x2, ops) -------------------------------
def op(dirn, payload, rel=None, syn=False, fin=False, ack=False):
    f = dirn | (0x02 if syn else 0) | (0x04 if fin else 0) | (0x20 if ack else 0)
    r = b"\x00" if rel is None else b"\xa0" + struct.pack("<b", rel)
    return bytes([f]) + r + bytes([len(payload)]) + payload
put("reasm", "in-order", b"\x11\x10" + b"\x00\x00\x00\xf0" + b"\x00\x00\x00\x10" +
    op(0, b"", syn=True) + op(1, b"", syn=True) + op(0, b"hello") + op(1, b"world", ack=True) +
    op(0, b"!", fin=True) + op(1, b"", fin=True))
put("reasm", "ooo-1byte", b"\x00\x10" + b"\0" * 8 + b"".join(op(0, b"x", rel=i) for i in range(60, 0, -1)) + op(0, b"y"))
put("reasm", "overlap-conflict", b"\xff\xff" + b"\0" * 8 + op(0, b"abcdef") + op(0, b"XYZ", rel=-4) + op(0, b"gh"))

# ---- mqtt (first byte + body) -------------------------------------------
connect4 = b"\x00\x04MQTT\x04\x02\x00\x3c\x00\x03dev"
connect5 = b"\x00\x04MQTT\x05\x02\x00\x3c\x05\x11\x00\x00\x00\x0a\x00\x03dev"
for lv, cn in ((3, b"\x00\x06MQIsdp\x03\x02\x00\x3c\x00\x03dev"), (4, connect4), (5, connect5)):
    t = "mqtt%d" % lv
    put(t, "connect", b"\x10" + cn)
    put(t, "publish-topic-len-beyond", b"\x32" + b"\xff\xff" + b"a/b")
    put(t, "connect-clientid-beyond", b"\x10" + cn[:-5] + b"\x7f\xffdev")
    put(t, "subscribe", b"\x82" + b"\x00\x01" + (b"\x00" if lv == 5 else b"") + b"\x00\x03a/#\x01")
    put(t, "props-len-beyond", b"\x20" + b"\x00\x00\xff\xff\xff\x7f")
    put(t, "publish-qos3", b"\x36\x00\x01a\x00\x01xyz")

# ---- mqtt_stream (sel, then chunks: h=(len/8)<<1|dir, len%8, bytes) --------
def chunk(dirn, b):
    assert len(b) <= 1023
    return bytes([((len(b) // 8) << 1) | dirn, len(b) % 8]) + b
pkt = lambda t, body: bytes([t]) + bytes([len(body)]) + body
put("mqtt_stream", "remaining-length-5-bytes", b"\x02" + chunk(0, pkt(0x10, connect4)) + chunk(0, b"\x30\xff\xff\xff\xff\x01abc"))
put("mqtt_stream", "session", b"\x02" + chunk(0, pkt(0x10, connect4)) + chunk(1, b"\x20\x02\x00\x00") +
    chunk(0, pkt(0x82, b"\x00\x01\x00\x03a/b\x01")) + chunk(1, b"\x90\x03\x00\x01\x01") +
    chunk(0, pkt(0x32, b"\x00\x03a/b\x00\x02hi")) + chunk(1, b"\x40\x02\x00\x02") + chunk(0, b"\xe0\x00"))
put("mqtt_stream", "v5-alias", b"\x03" + chunk(0, pkt(0x10, connect5)) + chunk(1, b"\x20\x03\x00\x00\x00") +
    chunk(0, pkt(0x30, b"\x00\x03a/b\x03\x23\x00\x01hi")) + chunk(0, pkt(0x30, b"\x00\x00\x03\x23\x00\x01yo")))
put("mqtt_stream", "length-beyond-packet", b"\x02" + chunk(0, pkt(0x10, connect4)) + chunk(0, b"\x30\x05\xff\xff\x00\x00\x00"))

# ---- pipeline_upgrade (sel, isn x2, chunks: h, len, bytes) ---------------
def wsf(payload, client):
    if client:
        return bytes([0x82, 0x80 | len(payload)]) + b"\0\0\0\0" + payload
    return bytes([0x82, len(payload)]) + payload
def uc(dirn, b, kind=2):
    return bytes([(kind << 5) | dirn]) + bytes([len(b)]) + b
put("pipeline_upgrade", "mqtt-session", b"\x02" + b"\x01\0\0\0\x02\0\0\0" +
    uc(0, wsf(pkt(0x10, connect4), True)) + uc(1, wsf(b"\x20\x02\x00\x00", False)) +
    uc(0, wsf(pkt(0x32, b"\x00\x03a/b\x00\x02hi"), True)) + uc(1, wsf(b"\x40\x02\x00\x02", False)) +
    uc(0, b"\x88\x82\0\0\0\0\x03\xe8") + uc(1, b"\x88\x02\x03\xe8"))
put("pipeline_upgrade", "gap-and-reorder", b"\x03" + b"\xff\xff\xff\xff\0\0\0\x80" +
    uc(0, wsf(pkt(0x10, connect4), True), 1) + uc(1, wsf(b"\x20\x02\x00\x00", False)) +
    uc(0, wsf(b"\xc0\x00", True), 0) + uc(0, wsf(b"\xe0\x00", True)) + uc(0, b"", 7))
put("pipeline_upgrade", "len-2^63", b"\x02" + b"\0" * 8 + uc(1, b"\x82\x7f\x80" + b"\0" * 7 + b"abc"))
put("pipeline_upgrade", "deflate-bomb", b"\x03" + b"\0" * 8 +
    bytes([(2 << 5) | 2 | 1]) + struct.pack("<H", len(bomb)) + b"\xc2\x7e" + struct.pack(">H", len(bomb) - 4) + bomb[:-4])

# ---- reasm_reorder: isns, window selector, messages, cut, permutation --
import random
rnd = random.Random(10)
for name, window in (("window-1", 0), ("window-4", 3)):
    msgs = b"".join(bytes([d | (rnd.randrange(8) << 4), rnd.randrange(256)]) for d in (0, 1, 0, 1, 1, 0))
    perm = bytes(rnd.randrange(256) for _ in range(200))
    put("reasm_reorder", name, struct.pack(">II", 0xfffffff0, 12345) + bytes([window]) + msgs + b"\x07" + perm)

# ---- tls_decrypt: sel, suite index, secret (48), client random, server random,
# then records (type, version u16 LE, flags, u16 LE length, fragment) ------
import re
_ct = open("../crates/wsdoctor-proto/src/tls/crypto_tests.rs").read()
def rfc8448(name):
    m = re.search(r"const %s: &str = \"([^\"]*)\"" % name, _ct)
    return bytes.fromhex("".join(m.group(1).split()))
_suites = [int(x, 16) for x in re.findall(r"s\(\s*0x([0-9a-f]{4})", open("../crates/wsdoctor-proto/src/tls/crypto.rs").read())]
def tls_hdr(sel, suite, secret=b"", cr=b"", sr=b""):
    return bytes([sel, _suites.index(suite)]) + secret.ljust(48, b"\0") + cr.ljust(32, b"\0") + sr.ljust(32, b"\0")
def tls_rec(record, flags=0):
    return bytes([record[0]]) + struct.pack("<H", int.from_bytes(record[1:3], "big")) + bytes([flags]) + \
        struct.pack("<H", len(record) - 5) + record[5:]
# RFC 8448 section 3: the server's application records decrypt (NewSessionTicket, data, alert)
put("tls_decrypt", "rfc8448-server-app", tls_hdr(2, 0x1301, rfc8448("S_AP_TRAFFIC")) +
    tls_rec(rfc8448("S_NST_RECORD")) + tls_rec(rfc8448("S_APP_RECORD")) + tls_rec(rfc8448("S_ALERT_RECORD")))
put("tls_decrypt", "rfc8448-server-handshake", tls_hdr(2, 0x1301, rfc8448("S_HS_TRAFFIC")) +
    tls_rec(rfc8448("S_HS_RECORD")))
put("tls_decrypt", "rfc8448-client-keyupdate", tls_hdr(0, 0x1301, rfc8448("C_AP_TRAFFIC")) +
    tls_rec(rfc8448("C_APP_RECORD")) + tls_rec(rfc8448("C_ALERT_RECORD"), flags=1))
rnd = random.Random(8448)
def junk(n):
    return bytes(rnd.randrange(256) for _ in range(n))
for suite, sel in ((0xc02f, 0), (0xc030, 2), (0xcca8, 0), (0x002f, 4), (0x002f, 0), (0x003d, 6), (0x1303, 0)):
    recs = b"".join(tls_rec(b"\x17\x03\x03" + struct.pack(">H", n) + junk(n)) for n in (0, 16, 24, 37, 48, 64, 100))
    put("tls_decrypt", "junk-%04x-%d" % (suite, sel), tls_hdr(sel, suite, junk(48), junk(32), junk(32)) + recs)
put("tls_decrypt", "record-over-limit", tls_hdr(0, 0xc02f) + tls_rec(b"\x17\x03\x03" + struct.pack(">H", 18433) + b"\0" * 18433))
cr = "e720993edc45963ef774db96176702f2832819d30d8a92afce3126568d52cc68"
put("tls_decrypt", "keylog-text", b"\x01" + (
    "# SSL/TLS secrets log file, generated by OpenSSL\r\n"
    "CLIENT_RANDOM %s %s\r\n\r\n"
    "CLIENT_HANDSHAKE_TRAFFIC_SECRET %s %s\n"
    "SERVER_TRAFFIC_SECRET_0 %s %s\n"
    "CLIENT_TRAFFIC_SECRET_N %s %s\n"
    "RSA af55a11081262469 0303%s\n"
    "EXPORTER_SECRET %s %s\n"
    "garbage line\nCLIENT_RANDOM zz %s\n" % (
        cr, "ab" * 48, cr, "01" * 32, cr, "02" * 48, cr, "03" * 32, "00" * 46, cr, "04" * 32, "05" * 48)
    ).encode() + b"".join(b"CLIENT_RANDOM %064x %s\n" % (i, b"66" * 48) for i in range(8)) + b"A" * 300)
