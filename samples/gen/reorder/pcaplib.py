"""Small pcap toolkit for samples/gen/reorder (Python standard library only).

Reads and writes classic pcap files (struct on the 24-byte file header and the 16-byte record
headers), decodes Ethernet / IPv4 / TCP far enough to edit captures (reorder, duplicate, remove,
fragment, shift sequence numbers), and rebuilds the byte stream of each TCP direction of a clean
original capture.  On that byte stream it finds HTTP/1.1 messages, WebSocket frames (RFC 6455) and
MQTT packets (only the fixed header: type and Remaining Length), so that expected values for the
derived captures (which frame completes which message, which messages a hole destroys) can be
computed from how each derived capture was made.  The counts and completion frames this module
finds in the originals are checked against tshark's truth by check.py; tshark stays the oracle.
"""
import struct
import zlib
from dataclasses import dataclass, field

ETH_IPV4 = 0x0800


# ------------------------------------------------------------------ pcap files
@dataclass
class Rec:
    sec: int
    usec: int
    data: bytes
    orig_len: int = None

    @property
    def ts(self):
        return self.sec * 1000000 + self.usec


def read_pcap(path):
    raw = open(path, "rb").read()
    magic = struct.unpack_from("<I", raw, 0)[0]
    if magic != 0xA1B2C3D4:
        raise ValueError("%s: only little-endian microsecond pcap is handled (magic %08x)" % (path, magic))
    hdr = raw[:24]
    linktype = struct.unpack_from("<I", raw, 20)[0]
    if linktype != 1:
        raise ValueError("%s: link type %d, want 1 (Ethernet)" % (path, linktype))
    recs, off = [], 24
    while off + 16 <= len(raw):
        sec, usec, incl, orig = struct.unpack_from("<IIII", raw, off)
        recs.append(Rec(sec, usec, raw[off + 16:off + 16 + incl], orig))
        off += 16 + incl
    return hdr, recs


def write_pcap(path, hdr, recs):
    with open(path, "wb") as f:
        f.write(hdr)
        for r in recs:
            ol = r.orig_len if r.orig_len is not None and r.orig_len >= len(r.data) else len(r.data)
            f.write(struct.pack("<IIII", r.sec, r.usec, len(r.data), ol))
            f.write(r.data)


def with_ts(rec, ts):
    return Rec(ts // 1000000, ts % 1000000, rec.data, rec.orig_len)


# ------------------------------------------------------------------ packet decoding
@dataclass
class Pkt:
    no: int                 # 1-based frame number in its file
    rec: Rec
    ip: int = None          # offset of the IPv4 header in rec.data
    ihl: int = 0
    tcp: int = None         # offset of the TCP header
    doff: int = 0
    src: tuple = None       # (ip bytes, port)
    dst: tuple = None
    seq: int = 0
    ack: int = 0
    flags: int = 0
    plen: int = 0           # TCP payload length
    ipid: int = 0
    frag: tuple = None      # (offset in bytes, more_fragments) when this is an IPv4 fragment
    dir: str = None         # c2s / s2c (set by Conn)
    rel: int = 0            # sequence number relative to the direction's ISN (set by Conn)

    @property
    def payload(self):
        s = self.tcp + self.doff
        return self.rec.data[s:s + self.plen]

    @property
    def syn(self):
        return bool(self.flags & 2)

    @property
    def fin(self):
        return bool(self.flags & 1)

    @property
    def rst(self):
        return bool(self.flags & 4)

    @property
    def pure_ack(self):
        return self.plen == 0 and self.flags & 0x17 == 0x10

    def key(self):
        return (self.src, self.dst, self.seq, self.ack, self.flags, self.plen, self.payload)


def decode(no, rec):
    d = rec.data
    p = Pkt(no, rec)
    if len(d) < 34 or struct.unpack_from("!H", d, 12)[0] != ETH_IPV4:
        return p
    ip = 14
    p.ip = ip
    p.ihl = (d[ip] & 15) * 4
    tot = struct.unpack_from("!H", d, ip + 2)[0]
    p.ipid = struct.unpack_from("!H", d, ip + 4)[0]
    fo = struct.unpack_from("!H", d, ip + 6)[0]
    if fo & 0x3FFF:
        p.frag = ((fo & 0x1FFF) * 8, bool(fo & 0x2000))
        return p
    if d[ip + 9] != 6:
        return p
    t = ip + p.ihl
    p.tcp = t
    p.doff = (d[t + 12] >> 4) * 4
    sport, dport, p.seq, p.ack = struct.unpack_from("!HHII", d, t)
    p.flags = d[t + 13]
    p.src = (bytes(d[ip + 12:ip + 16]), sport)
    p.dst = (bytes(d[ip + 16:ip + 20]), dport)
    p.plen = tot - p.ihl - p.doff
    return p


def decode_all(recs):
    return [decode(i + 1, r) for i, r in enumerate(recs)]


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ip_checksum_fix(buf, ip, ihl):
    struct.pack_into("!H", buf, ip + 10, 0)
    struct.pack_into("!H", buf, ip + 10, csum(bytes(buf[ip:ip + ihl])))


def tcp_checksum_fix(buf, p):
    seglen = p.doff + p.plen
    struct.pack_into("!H", buf, p.tcp + 16, 0)
    pseudo = bytes(buf[p.ip + 12:p.ip + 20]) + struct.pack("!BBH", 0, 6, seglen)
    struct.pack_into("!H", buf, p.tcp + 16, csum(pseudo + bytes(buf[p.tcp:p.tcp + seglen])))


def fragment(rec, pieces):
    """Split the IPv4 datagram in rec into fragments; pieces = list of payload sizes (multiples of 8,
    except the last, which takes the rest).  Returns the fragment records in offset order: DF cleared,
    MF set on all but the last, fragment offset, total length and header checksum set; the IP ID is kept."""
    d = rec.data
    ip = 14
    ihl = (d[ip] & 15) * 4
    tot = struct.unpack_from("!H", d, ip + 2)[0]
    body = d[ip + ihl:ip + tot]
    out, off = [], 0
    for i, n in enumerate(pieces + [None]):
        if off >= len(body):
            break
        last = n is None or off + n >= len(body)
        chunk = body[off:] if last else body[off:off + n]
        assert last or n % 8 == 0
        hdr = bytearray(d[ip:ip + ihl])
        struct.pack_into("!H", hdr, 2, ihl + len(chunk))
        struct.pack_into("!H", hdr, 6, (0 if last else 0x2000) | (off // 8))
        buf = bytearray(d[:ip]) + hdr + chunk
        ip_checksum_fix(buf, ip, ihl)
        out.append(Rec(rec.sec, rec.usec, bytes(buf)))
        off += len(chunk)
        if last:
            break
    return out


# ------------------------------------------------------------------ one TCP connection
@dataclass
class Msg:
    kind: str               # http / ws / mqtt
    dir: str
    start: int              # relative seq of the first byte (for mqtt over ws: of the ws frame carrying it)
    end: int                # relative seq one past the last byte (for mqtt over ws: end of the completing ws frame)
    info: dict = field(default_factory=dict)
    first_frame: int = None  # original frame holding the first byte
    frame: int = None        # original frame that completes it (all bytes from the stream start present)


class Conn:
    """The single TCP connection of an original capture, its directions and the messages in them."""

    def __init__(self, pkts, server_port=None):
        tcp = [p for p in pkts if p.tcp is not None]
        syn = next((p for p in tcp if p.syn and not p.flags & 0x10), None)
        if syn is not None:
            self.cli, self.srv = syn.src, syn.dst
        else:
            f = tcp[0]
            self.cli, self.srv = (f.src, f.dst) if f.dst[1] == server_port else (f.dst, f.src)
        ends = {self.cli, self.srv}
        assert all({p.src, p.dst} == ends for p in tcp), "more than one TCP connection"
        self.pkts = tcp
        self.isn = {}
        for p in tcp:
            p.dir = "c2s" if p.src == self.cli else "s2c"
        for d in ("c2s", "s2c"):
            s = next((p for p in tcp if p.dir == d and p.syn), None)
            self.isn[d] = s.seq if s else (next(p for p in tcp if p.dir == d).seq - 1)
        for p in tcp:
            p.rel = (p.seq - self.isn[p.dir]) & 0xFFFFFFFF
        self.data = {d: self._stream(d) for d in ("c2s", "s2c")}
        self.msgs = []

    def _stream(self, d):
        buf = {}
        for p in self.pkts:
            if p.dir == d and p.plen:
                for i, b in enumerate(p.payload):
                    buf.setdefault(p.rel + i, b)
        if not buf:
            return b""
        n = max(buf) + 1
        assert all(i in buf for i in range(1, n)), "original has a hole in %s" % d
        return bytes(buf[i] for i in range(1, n))

    def segments(self, d):
        """data segments of a direction, first copy of each byte range, in sequence order"""
        seen, out = set(), []
        for p in sorted((p for p in self.pkts if p.dir == d and p.plen), key=lambda p: (p.rel, p.no)):
            if p.rel not in seen:
                seen.add(p.rel)
                out.append(p)
        return out

    def frame_of_byte(self, d, rel):
        for p in self.pkts:
            if p.dir == d and p.plen and p.rel <= rel < p.rel + p.plen:
                return p.no
        return None

    # ---- message finding (on the clean original)
    def find_messages(self, proto):
        """proto: 'ws' (HTTP Upgrade then WebSocket frames, MQTT inside), 'mqtt' (MQTT on TCP), 'http'"""
        s2c = self.data["s2c"]
        head = s2c[:s2c.find(b"\r\n\r\n")].lower()
        self.deflate = proto == "ws" and b"sec-websocket-extensions: permessage-deflate" in head
        for d in ("c2s", "s2c"):
            s = self.data[d]
            if proto == "mqtt":
                self._mqtt(d, [(1, 1 + len(s), s)])
            elif proto == "http":
                self._http(d, s, 0, keep_alive=True)
            else:
                pos = self._http(d, s, 0, keep_alive=False)
                self._ws(d, s, pos, zlib.decompressobj(-15) if self.deflate else None)
        for m in self.msgs:
            m.first_frame = self.frame_of_byte(m.dir, m.start)
            m.frame = self.frame_of_byte(m.dir, m.end - 1)
        self.msgs.sort(key=lambda m: (m.frame, m.dir == "s2c", m.start))
        return self.msgs

    def _http(self, d, s, pos, keep_alive):
        while pos < len(s):
            h = s.find(b"\r\n\r\n", pos)
            if h < 0:
                break
            head = s[pos:h].decode("latin-1").split("\r\n")
            clen = 0
            for line in head[1:]:
                k, _, v = line.partition(":")
                if k.strip().lower() == "content-length":
                    clen = int(v.strip())
            end = h + 4 + clen
            first = head[0]
            info = {"line": first, "body_len": clen}
            if first.startswith("HTTP/"):
                info["status"] = int(first.split()[1])
            else:
                info["method"] = first.split()[0]
            self.msgs.append(Msg("http", d, pos + 1, end + 1, info))
            pos = end
            if not keep_alive:
                break
        return pos

    def _ws(self, d, s, pos, deflate=None):
        """deflate: None, or a zlib decompressobj for this direction (permessage-deflate with context
        takeover: one raw-deflate stream per direction, each message ends with 00 00 ff ff)"""
        payload = []          # (rel start of frame, rel end of frame, unmasked (inflated) payload)
        msg, msg_start, compressed = [], None, False
        while pos + 2 <= len(s):
            b0, b1 = s[pos], s[pos + 1]
            n, h = b1 & 0x7F, 2
            if n == 126:
                n, h = struct.unpack_from("!H", s, pos + 2)[0], 4
            elif n == 127:
                n, h = struct.unpack_from("!Q", s, pos + 2)[0], 10
            mask = None
            if b1 & 0x80:
                mask, h = s[pos + h:pos + h + 4], h + 4
            end = pos + h + n
            if end > len(s):
                break
            body = s[pos + h:end]
            if mask:
                body = bytes(c ^ mask[i % 4] for i, c in enumerate(body))
            op = b0 & 15
            self.msgs.append(Msg("ws", d, pos + 1, end + 1, {"opcode": op, "fin": bool(b0 & 0x80),
                                                             "rsv1": bool(b0 & 0x40), "masked": bool(mask),
                                                             "payload_len": n, "hdr_len": h}))
            if op in (0, 2):
                if op == 2:
                    msg, msg_start, compressed = [], pos + 1, bool(b0 & 0x40)
                msg.append(body)
                if b0 & 0x80:       # FIN: the message is complete
                    data = b"".join(msg)
                    if compressed and deflate is not None:
                        data = deflate.decompress(data + b"\x00\x00\xff\xff")
                    payload.append((msg_start, end + 1, data, None if compressed else end + 1 - len(data)))
            pos = end
        self._mqtt(d, payload, over_ws=True)

    def _mqtt(self, d, pieces, over_ws=False):
        """pieces: (rel start, rel end, bytes) in order; MQTT fixed headers are parsed over their
        concatenation; each packet is placed at the piece (ws frame) that holds its last byte."""
        cat = b"".join(p[2] for p in pieces)
        bounds, o = [], 0
        for pc in pieces:
            st, en, b = pc[:3]
            pstart = pc[3] if len(pc) > 3 else st     # rel seq of the first payload byte (None: inflated)
            bounds.append((o, o + len(b), st, en, pstart))
            o += len(b)

        def piece_of(off):
            for a, b, st, en, ps in bounds:
                if a <= off < b:
                    return st, en, off - a, ps
            raise IndexError(off)
        pos = 0
        while pos + 2 <= len(cat):
            t = cat[pos] >> 4
            rl, mul, i = 0, 1, pos + 1
            while True:
                c = cat[i]
                rl += (c & 127) * mul
                mul *= 128
                i += 1
                if not c & 128:
                    break
            end = i + rl
            if end > len(cat):
                break
            info = {"type": t, "flags": cat[pos] & 15, "remaining_len": rl}
            if t == 3:
                tl = struct.unpack_from("!H", cat, i)[0]
                info["topic"] = cat[i + 2:i + 2 + tl].decode("utf-8", "replace")
                q = (cat[pos] >> 1) & 3
                info["qos"] = q
                hdr = 2 + tl + (2 if q else 0)
                if q:
                    info["packet_id"] = struct.unpack_from("!H", cat, i + 2 + tl)[0]
                info["payload_len"] = rl - hdr
            elif t in (4, 5, 6, 7, 8, 9, 10, 11):
                info["packet_id"] = struct.unpack_from("!H", cat, i)[0]
            if over_ws:
                s0 = piece_of(pos)
                s1 = piece_of(end - 1)
                start, stop = s0[0], s1[1]
                info["ws_start"] = s0[0]
                # rel seq of the fixed header's first two bytes (type, first length byte)
                info["hdr_rel"] = None if s0[3] is None else [s0[3] + s0[2]] + (
                    [] if piece_of(pos + 1)[3] is None else [piece_of(pos + 1)[3] + piece_of(pos + 1)[2]])
            else:
                start, stop = pieces[0][0] + pos, pieces[0][0] + end
                info["hdr_rel"] = [start, start + 1]
            self.msgs.append(Msg("mqtt", d, start, stop, info))
            pos = end


MQTT_NAMES = {1: "CONNECT", 2: "CONNACK", 3: "PUBLISH", 4: "PUBACK", 5: "PUBREC", 6: "PUBREL", 7: "PUBCOMP",
              8: "SUBSCRIBE", 9: "SUBACK", 10: "UNSUBSCRIBE", 11: "UNSUBACK", 12: "PINGREQ", 13: "PINGRESP",
              14: "DISCONNECT", 15: "AUTH"}
