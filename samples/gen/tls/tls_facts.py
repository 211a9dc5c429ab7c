#!/usr/bin/python3
"""What tshark shows of the TLS in a capture: one summary per TCP stream.

    tls_facts.py [--keylog NAME.keys] [--json] CAPTURE
    tls_facts.py --check ../../tls/expect.json [--dir ../../tls] [NAME...]

Everything comes from tshark 4.0 (PDML output, `-o tls.keylog_file:...` when a key log is given,
and `-z follow,tls,raw,N` for the bytes tshark decrypted); this script only picks fields.  Per stream:
ClientHello (frame, legacy version, supported_versions, cipher suites, SNI, ALPN, groups, key share
groups, extensions), HelloRetryRequest, ServerHello (version, suite, ALPN, extensions), the first
certificate (subject, issuer, notBefore/notAfter) when tshark can read it (clear in TLS <= 1.2,
decrypted in TLS 1.3), every handshake message and alert (level, description, sender, frame, whether
tshark could read it), the decrypted application bytes per direction, and the protocols tshark found
inside (http, websocket, http2, ...).  For a key log it also says which of its client randoms appear
in the capture's ClientHellos (a key log of another session matches none).

--check compares the facts with samples/tls/expect.json (alert, version, suite, sni, alpn, decrypt,
...) and prints every difference; exit 1 if any.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

TSHARK = os.environ.get("TSHARK", "tshark")
HRR_RANDOM = "cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c"
BASE = ["-n", "-o", "tcp.desegment_tcp_streams:TRUE", "-o", "tcp.reassemble_out_of_order:TRUE"]
ALERTS = {0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac", 22: "record_overflow",
          40: "handshake_failure", 42: "bad_certificate", 43: "unsupported_certificate",
          44: "certificate_revoked", 45: "certificate_expired", 46: "certificate_unknown",
          47: "illegal_parameter", 48: "unknown_ca", 49: "access_denied", 50: "decode_error",
          51: "decrypt_error", 70: "protocol_version", 71: "insufficient_security", 80: "internal_error",
          86: "inappropriate_fallback", 90: "user_canceled", 100: "no_renegotiation",
          109: "missing_extension", 110: "unsupported_extension", 112: "unrecognized_name",
          113: "bad_certificate_status_response", 115: "unknown_psk_identity",
          116: "certificate_required", 120: "no_application_protocol"}
VERSIONS = {"0x0300": "SSL 3.0", "0x0301": "TLS 1.0", "0x0302": "TLS 1.1", "0x0303": "TLS 1.2",
            "0x0304": "TLS 1.3"}


def name_of(showname):
    """'Cipher Suite: TLS_X (0xc02f)' -> 'TLS_X'; 'Type: server_name (0)' -> 'server_name'."""
    s = showname.split(": ", 1)[-1]
    return re.sub(r" \((0x)?[0-9a-fA-F]+\)$", "", s)


def fields(node, name):
    return [f for f in node.iter("field") if f.get("name") == name]


def one(node, name, attr="show"):
    for f in node.iter("field"):
        if f.get("name") == name:
            return f.get(attr)
    return None


def run(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def keylog_randoms(path):
    out = {}
    if not path or not os.path.exists(path):
        return out
    with open(path) as fh:
        for line in fh:
            parts = line.split()
            # "RSA <encrypted premaster prefix> <premaster>" lines carry no client random
            if len(parts) == 3 and not line.startswith("#") and parts[0] != "RSA":
                out.setdefault(parts[1].lower(), []).append(parts[0])
    return out


def dn(s):
    """tshark's 'id-at-organizationName=wsdoctor,id-at-commonName=x' -> 'O=wsdoctor,CN=x'."""
    for a, b in (("id-at-commonName", "CN"), ("id-at-organizationName", "O"), ("id-at-countryName", "C"),
                 ("id-at-organizationalUnitName", "OU")):
        s = s.replace(a + "=", b + "=")
    return s


def cert_facts(hs):
    """First certificate of a Certificate handshake message."""
    certs = fields(hs, "tls.handshake.certificate")
    if not certs:
        return None
    c = certs[0]
    res = {}
    subj = [f for f in c.iter("field") if f.get("name") in ("x509af.rdnSequence", "x509if.rdnSequence")]
    # tshark: the issuer is x509if.rdnSequence (inside x509af.issuer), the subject x509af.rdnSequence
    for f in c.iter("field"):
        if f.get("name") == "x509af.issuer":
            r = [g for g in f.iter("field") if g.get("name").endswith("rdnSequence")]
            if r:
                res["issuer"] = dn(r[0].get("showname").split("(", 1)[-1].rstrip(")"))
        if f.get("name") == "x509af.subject":
            r = [g for g in f.iter("field") if g.get("name").endswith("rdnSequence")]
            if r:
                res["subject"] = dn(r[0].get("showname").split("(", 1)[-1].rstrip(")"))
    if "subject" not in res and len(subj) >= 2:
        res["issuer"] = subj[0].get("showname").split("(", 1)[-1].rstrip(")")
        res["subject"] = subj[1].get("showname").split("(", 1)[-1].rstrip(")")
    times = []
    for f in c.iter("field"):
        if f.get("name") in ("x509af.notBefore", "x509af.notAfter"):
            t = [g.get("show") for g in f.iter("field") if g.get("name") in ("x509af.utcTime", "x509af.generalizedTime")]
            times.append(t[0] if t else None)
    if len(times) >= 2:
        res["not_before"], res["not_after"] = times[0], times[1]
    res["dns_names"] = [f.get("show") for f in c.iter("field") if f.get("name") == "x509ce.dNSName"]
    res["chain_length"] = len(certs)
    return res


def facts(cap, keylog=None):
    extra = ["-o", "tls.keylog_file:%s" % os.path.abspath(keylog)] if keylog else []
    out, err = run([TSHARK, "-r", cap] + BASE + extra + ["-T", "pdml"])
    root = ET.fromstring(out)
    streams = {}
    randoms = []
    for pkt in root.iter("packet"):
        protos = {p.get("name"): p for p in pkt.findall("proto")}
        fr = protos.get("frame")
        no = int(one(fr, "frame.number"))
        t = float(one(fr, "frame.time_epoch"))
        tcp = protos.get("tcp")
        if tcp is None:
            continue
        ip = protos.get("ip") or protos.get("ipv6")
        src = one(ip, "ip.src") or one(ip, "ipv6.src")
        sport = int(one(tcp, "tcp.srcport"))
        sid = int(one(tcp, "tcp.stream"))
        flags = int(one(tcp, "tcp.flags"), 16)
        st = streams.setdefault(sid, {"stream": sid, "client": None, "server": None, "first_frame": no,
                                      "first_time": t, "client_hello": None, "hello_retry_request": None,
                                      "server_hello": None, "certificate": None, "handshake": [],
                                      "alerts": [], "fin_rst": [], "inner_protocols": [],
                                      "_cli": None, "records": {}})
        st["last_frame"] = no
        if flags & 0x02 and not flags & 0x10 and st["_cli"] is None:
            st["_cli"] = (src, sport)
        names = [p.get("name") for p in pkt.findall("proto")]
        tls_layers = [p for p in pkt.findall("proto") if p.get("name") == "tls"]
        # role from the SYN, else from the ClientHello sender
        if st["_cli"] is None and tls_layers and any(one(x, "tls.handshake.type") == "1" for x in tls_layers):
            st["_cli"] = (src, sport)
        d = None
        if st["_cli"] is not None:
            d = "c2s" if (src, sport) == st["_cli"] else "s2c"
        sender = {"c2s": "client", "s2c": "server"}.get(d)
        rel = round(t - st["first_time"], 6)
        if flags & 0x01:
            st["fin_rst"].append({"frame": no, "sender": sender, "flag": "FIN", "t": rel})
        if flags & 0x04:
            st["fin_rst"].append({"frame": no, "sender": sender, "flag": "RST", "t": rel})
        if tls_layers:
            i = names.index("tls")
            for inner in names[i + 1:]:
                if inner not in ("tls", "fake-field-wrapper") and inner not in st["inner_protocols"]:
                    st["inner_protocols"].append(inner)
        h2s = [p for p in pkt.findall("proto") if p.get("name") == "http2"]
        if h2s:
            types = [name_of(f.get("showname")) for h2 in h2s for f in fields(h2, "http2.type")]
            err = [name_of(f.get("showname")) for h2 in h2s for f in fields(h2, "http2.goaway.error")]
            st.setdefault("http2_frames", []).append({"frame": no, "sender": sender, "types": types,
                                                      "goaway_error": err[0] if err else None})
        for tl in tls_layers:
            for rec in [f for f in tl if f.get("name") == "tls.record"]:
                ct = one(rec, "tls.record.content_type")
                opaque = one(rec, "tls.record.opaque_type")
                key = "%s:%s" % (d, name_of(fields(rec, "tls.record.content_type")[0].get("showname"))
                                 if ct else "?")
                st["records"][key] = st["records"].get(key, 0) + 1
                for hs in [f for f in rec if f.get("name") == "tls.handshake"]:
                    ht = one(hs, "tls.handshake.type")
                    if ht is None:
                        if hs.get("showname", "").startswith("Handshake Protocol: Encrypted"):
                            st["handshake"].append([no, sender, "encrypted handshake message"])
                        continue
                    htn = name_of(fields(hs, "tls.handshake.type")[0].get("showname"))
                    ht = int(ht)
                    rnd = (one(hs, "tls.handshake.random", "value") or "").lower()
                    if ht == 2 and rnd == HRR_RANDOM:
                        htn = "HelloRetryRequest"
                    st["handshake"].append([no, sender, htn])
                    if ht == 24:
                        ru = one(rec, "tls.handshake.key_update.request_update")
                        st.setdefault("key_updates", []).append(
                            {"frame": no, "sender": sender, "request_update": ru == "1"})
                    exts = [name_of(f.get("showname")) for f in fields(hs, "tls.handshake.extension.type")]
                    if ht == 1:
                        randoms.append(rnd)
                        ch = {"frame": no, "sender": sender,
                              "legacy_version": VERSIONS.get(one(hs, "tls.handshake.version")),
                              "supported_versions": [VERSIONS.get(f.get("show"), f.get("show"))
                                                     for f in fields(hs, "tls.handshake.extensions.supported_version")],
                              "cipher_suites": [name_of(f.get("showname")) for f in fields(hs, "tls.handshake.ciphersuite")],
                              "sni": one(hs, "tls.handshake.extensions_server_name"),
                              "alpn": [f.get("show") for f in fields(hs, "tls.handshake.extensions_alpn_str")],
                              "groups": [name_of(f.get("showname")) for f in fields(hs, "tls.handshake.extensions_supported_group")],
                              "key_share_groups": [name_of(f.get("showname")) for f in fields(hs, "tls.handshake.extensions_key_share_group")],
                              "extensions": exts,
                              "session_id_len": int(one(hs, "tls.handshake.session_id_length") or 0),
                              "random": rnd, "t": rel}
                        if st["client_hello"] is None:
                            st["client_hello"] = ch
                        else:
                            st.setdefault("more_client_hellos", []).append(ch)
                    elif ht == 2:
                        sv = one(hs, "tls.handshake.extensions.supported_version")
                        sh = {"frame": no, "sender": sender,
                              "version": VERSIONS.get(sv or one(hs, "tls.handshake.version")),
                              "cipher_suite": name_of(fields(hs, "tls.handshake.ciphersuite")[0].get("showname")),
                              "alpn": one(hs, "tls.handshake.extensions_alpn_str"),
                              "key_share_group": (name_of(fields(hs, "tls.handshake.extensions_key_share_group")[0].get("showname"))
                                                  if fields(hs, "tls.handshake.extensions_key_share_group") else None),
                              "session_id_len": int(one(hs, "tls.handshake.session_id_length") or 0),
                              "extensions": exts}
                        if htn == "HelloRetryRequest":
                            sel = fields(hs, "tls.handshake.extensions_key_share_selected_group")
                            sh["key_share_group"] = name_of(sel[0].get("showname")) if sel else None
                            st["hello_retry_request"] = sh
                        elif st["server_hello"] is None:
                            st["server_hello"] = sh
                    elif ht == 8 and "encrypted_extensions" not in st:
                        # TLS 1.3: the server's ALPN choice is here, readable only when decrypted
                        st["encrypted_extensions"] = {"frame": no, "sender": sender, "extensions": exts,
                                                      "alpn": one(hs, "tls.handshake.extensions_alpn_str")}
                    elif ht == 11 and st["certificate"] is None:
                        c = cert_facts(hs)
                        if c:
                            c["frame"] = no
                            c["sender"] = sender
                            st["certificate"] = c
                for al in [f for f in rec if f.get("name") == "tls.alert_message"]:
                    lv, de = one(al, "tls.alert_message.level"), one(al, "tls.alert_message.desc")
                    a = {"frame": no, "sender": sender}
                    if de is None:
                        a.update(readable=False, note=al.get("showname"))
                    else:
                        a.update(readable=True, level="fatal" if lv == "2" else "warning" if lv == "1" else lv,
                                 code=int(de), description=ALERTS.get(int(de), "alert_%s" % de))
                    a["record_type"] = int(opaque) if opaque else int(ct)
                    st["alerts"].append(a)
    res = []
    for sid in sorted(streams):
        st = streams[sid]
        if st["_cli"]:
            st["client"] = "%s:%d" % st["_cli"]
        # decrypted bytes tshark hands on, per direction (node 0 = first sender in the follow output)
        fo, _ = run([TSHARK, "-r", cap] + BASE + extra + ["-q", "-z", "follow,tls,raw,%d" % sid])
        c2s = s2c = 0
        node0 = None
        for line in fo.splitlines():
            if line.startswith("Node 0:"):
                node0 = line.split(":", 1)[1].strip()
            elif re.fullmatch(r"\t?[0-9a-f]+", line):
                n = len(line.strip()) // 2
                if line.startswith("\t"):
                    s2c += n
                else:
                    c2s += n
        if node0 and st["client"] and node0 != st["client"]:
            c2s, s2c = s2c, c2s
        st["decrypted_bytes"] = {"c2s": c2s, "s2c": s2c}
        for k in [k for k in st if k.startswith("_")]:
            del st[k]
        res.append(st)
    kl = keylog_randoms(keylog)
    doc = {"capture": os.path.basename(cap), "keylog": os.path.basename(keylog) if keylog else None,
           "streams": res, "_path": cap}
    if keylog:
        doc["keylog_entries"] = sum(len(v) for v in kl.values())
        doc["keylog_client_randoms"] = len(kl)
        doc["keylog_matching_client_hellos"] = sum(1 for r in randoms if r in kl)
    if "pcapng" in cap:
        o, _ = run(["capinfos", cap])
        m = re.search(r"Number of DSBs:\s*(\d+)|Decryption secrets", o)
        doc["capinfos_dsb"] = [l.strip() for l in o.splitlines() if "DSB" in l or "ecryption" in l]
    return doc


def brief(doc):
    lines = [doc["capture"] + ("  keylog=" + doc["keylog"] if doc.get("keylog") else "")]
    if doc.get("keylog"):
        lines.append("  keylog: %d secrets, %d client randoms, %d of the capture's ClientHellos have keys" % (
            doc["keylog_entries"], doc["keylog_client_randoms"], doc["keylog_matching_client_hellos"]))
    for st in doc["streams"]:
        lines.append("  s%d %s frames %d-%d" % (st["stream"], st["client"], st["first_frame"], st["last_frame"]))
        ch = st["client_hello"]
        if ch:
            lines.append("    CH@%d legacy=%s sv=%s sni=%s alpn=%s ks=%s suites=%s" % (
                ch["frame"], ch["legacy_version"], ch["supported_versions"], ch["sni"], ch["alpn"],
                ch["key_share_groups"], ",".join(ch["cipher_suites"])))
            lines.append("       ext=%s" % ",".join(ch["extensions"]))
        for c in st.get("more_client_hellos", []):
            lines.append("    CH2@%d ks=%s ext=%s" % (c["frame"], c["key_share_groups"], ",".join(c["extensions"])))
        if st["hello_retry_request"]:
            h = st["hello_retry_request"]
            lines.append("    HRR@%d %s %s ks=%s" % (h["frame"], h["version"], h["cipher_suite"], h["key_share_group"]))
        sh = st["server_hello"]
        if sh:
            lines.append("    SH@%d %s %s alpn=%s ks=%s ext=%s" % (sh["frame"], sh["version"], sh["cipher_suite"],
                                                             sh["alpn"], sh["key_share_group"], ",".join(sh["extensions"])))
        ee = st.get("encrypted_extensions")
        if ee:
            lines.append("    EE@%d alpn=%s ext=%s" % (ee["frame"], ee["alpn"], ",".join(ee["extensions"])))
        c = st["certificate"]
        if c:
            lines.append("    CERT@%d subject=%s issuer=%s %s .. %s dns=%s" % (
                c["frame"], c.get("subject"), c.get("issuer"), c.get("not_before"), c.get("not_after"), c["dns_names"]))
        lines.append("    HS " + " ".join("%d:%s:%s" % (f, (s or "?")[0], n) for f, s, n in st["handshake"]))
        for a in st["alerts"]:
            if a["readable"]:
                lines.append("    ALERT@%d from %s: %s %s (%d)" % (a["frame"], a["sender"], a["level"], a["description"], a["code"]))
            else:
                lines.append("    ALERT@%d from %s: %s" % (a["frame"], a["sender"], a["note"]))
        lines.append("    decrypted c2s=%d s2c=%d inner=%s  fin/rst=%s" % (
            st["decrypted_bytes"]["c2s"], st["decrypted_bytes"]["s2c"], st["inner_protocols"],
            " ".join("%s@%d:%s(+%.3fs)" % (x["flag"], x["frame"], x["sender"], x["t"]) for x in st["fin_rst"])))
    return "\n".join(lines)


def check(doc, exp):
    """Differences between expect.json facts and tshark's."""
    diffs = []
    streams = {s["stream"]: s for s in doc["streams"]}

    def cmp(what, want, got):
        if want != got:
            diffs.append("%s: expected %r, tshark %r" % (what, want, got))

    conns = exp.get("connections") or [dict(exp, stream=exp.get("stream", 0))]
    if "streams" in exp:
        cmp("streams", exp["streams"], len(streams))
    for c in conns:
        st = streams.get(c.get("stream", 0))
        if st is None:
            diffs.append("stream %s missing" % c.get("stream", 0))
            continue
        p = "s%d " % st["stream"]
        sh, ch = st["server_hello"], st["client_hello"]
        if "version" in c:
            cmp(p + "version", c["version"], sh and sh["version"])
        if "cipher_suite" in c:
            cmp(p + "cipher_suite", c["cipher_suite"], sh and sh["cipher_suite"])
        if "sni" in c:
            cmp(p + "sni", c["sni"], ch and ch["sni"])
        if "alpn" in c:   # the server's choice: ServerHello (TLS <= 1.2) or EncryptedExtensions (TLS 1.3)
            cmp(p + "alpn", c["alpn"], (sh and sh["alpn"]) or (st.get("encrypted_extensions") or {}).get("alpn"))
        if "offered_versions" in c:
            got = None
            if ch:
                got = ch["supported_versions"] or [ch["legacy_version"]]
            cmp(p + "offered_versions", c["offered_versions"], got)
        if "hello_retry_request" in c:
            cmp(p + "hello_retry_request", c["hello_retry_request"], st["hello_retry_request"] is not None)
        if "server_hello" in c:
            cmp(p + "server_hello", c["server_hello"], sh is not None)
        if "alert" in c:
            want = c["alert"]
            fatal = [a for a in st["alerts"] if not (a.get("readable") and a.get("code") == 0)]
            if want is None:
                cmp(p + "alert", None, fatal[0] if fatal else None)
            else:
                got = fatal[0] if fatal else None
                for k in ("description", "code", "sender", "frame", "level"):
                    if k in want:
                        cmp(p + "alert." + k, want[k], got and got.get(k))
        if "decrypt" in c:   # application data decrypted by tshark
            cmp(p + "decrypt", c["decrypt"], st["decrypted_bytes"]["c2s"] + st["decrypted_bytes"]["s2c"] > 0)
        if "decrypt_handshake" in c:   # TLS 1.3 encrypted handshake messages readable
            cmp(p + "decrypt_handshake", c["decrypt_handshake"], "encrypted_extensions" in st)
        cert = st["certificate"] or {}
        if "certificate_issuer" in c:
            cmp(p + "certificate_issuer", c["certificate_issuer"], cert.get("issuer"))
        if "certificate_dns_names" in c:
            cmp(p + "certificate_dns_names", c["certificate_dns_names"], cert.get("dns_names"))
        if "certificate_validity" in c:
            cmp(p + "certificate_validity", c["certificate_validity"], [cert.get("not_before"), cert.get("not_after")])
        if "certificate_valid_at_capture_time" in c:
            import calendar, time as _t
            def ts(x):
                return calendar.timegm(_t.strptime(x.replace(" (UTC)", ""), "%Y-%m-%d %H:%M:%S")) if x else None
            nb, na = ts(cert.get("not_before")), ts(cert.get("not_after"))
            got = None if nb is None else nb <= st["first_time"] <= na
            cmp(p + "certificate_valid_at_capture_time", c["certificate_valid_at_capture_time"], got)
        exts = (sh or {}).get("extensions", [])
        if "encrypt_then_mac" in c:
            cmp(p + "encrypt_then_mac (ServerHello)", c["encrypt_then_mac"], "encrypt_then_mac" in exts)
        if "extended_master_secret" in c:
            cmp(p + "extended_master_secret (ServerHello)", c["extended_master_secret"], "extended_master_secret" in exts)
        if "resumed" in c:   # abbreviated handshake: no Certificate message
            cmp(p + "resumed", c["resumed"], sh is not None and not any(n == "Certificate" for _, _, n in st["handshake"]))
        if "key_updates" in c:
            cmp(p + "key_updates", c["key_updates"], st.get("key_updates", []))
        if "hrr_group" in c:
            cmp(p + "hrr_group", c["hrr_group"], (st["hello_retry_request"] or {}).get("key_share_group"))
        if "offered_suites" in c:
            cmp(p + "offered_suites", c["offered_suites"], ch and ch["cipher_suites"])
        if "offered_alpn" in c:
            cmp(p + "offered_alpn", c["offered_alpn"], ch and ch["alpn"])
        if "close" in c:
            got = st["fin_rst"][0] if st["fin_rst"] else {}
            for k in ("frame", "sender", "flag"):
                cmp(p + "close." + k, c["close"][k], got.get(k))
            if "after_client_hello_s" in c["close"] and ch:
                dt = got.get("t", 0) - (ch["t"] if "t" in ch else 0)
                if abs(dt - c["close"]["after_client_hello_s"]) > 0.5:
                    diffs.append("%sclose %.3f s after the ClientHello, expected ~%s" % (p, dt, c["close"]["after_client_hello_s"]))
        if "http2" in c:
            h = [x for x in st.get("http2_frames", []) if x["frame"] == c["http2"]["frame"]]
            cmp(p + "http2 frame %d sender" % c["http2"]["frame"], c["http2"]["sender"], h[0]["sender"] if h else None)
            cmp(p + "http2 frame types", c["http2"]["frames"], h[0]["types"] if h else None)
            cmp(p + "http2 GOAWAY error", c["http2"]["goaway_error"], h[0]["goaway_error"] if h else None)
        if "certificate_subject" in c:
            cmp(p + "certificate_subject", c["certificate_subject"], (st["certificate"] or {}).get("subject"))
        if "inner_protocols" in c:
            for proto in c["inner_protocols"]:
                if proto not in st["inner_protocols"]:
                    diffs.append("%sinner protocol %s not shown by tshark (has %s)" % (p, proto, st["inner_protocols"]))
    if "mqtt" in exp and exp["mqtt"] is not None:   # against tshark-truth.py's NAME.truth.json
        tp = os.path.splitext(doc["_path"])[0] + ".truth.json"
        with open(tp) as fh:
            truth = json.load(fh)
        pk = [m for st in truth["streams"] for m in st["mqtt_packets"]]
        want = exp["mqtt"]
        if "packets" in want:
            cmp("mqtt packets (truth)", want["packets"], len(pk))
        if "connack" in want:
            ca = [m for m in pk if m["name"] == "CONNACK"]
            cmp("mqtt CONNACK return code (truth)", want["connack"], ca[0].get("return_code") if ca else None)
        if "connack_frame" in want:
            ca = [m for m in pk if m["name"] == "CONNACK"]
            cmp("mqtt CONNACK frame (truth)", want["connack_frame"], ca[0]["frame"] if ca else None)
        if "upgrade_status" in want:
            ups = [st["http_upgrade"] for st in truth["streams"] if st.get("http_upgrade")]
            cmp("HTTP Upgrade status (truth)", want["upgrade_status"],
                ups[0]["response"]["status"] if ups and ups[0].get("response") else None)
    if "keylog_matching_client_hellos" in exp:
        cmp("keylog_matching_client_hellos", exp["keylog_matching_client_hellos"], doc.get("keylog_matching_client_hellos"))
    return diffs


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("captures", nargs="*")
    ap.add_argument("--keylog")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--check", help="samples/tls/expect.json")
    ap.add_argument("--dir", help="directory of the captures (default: that of --check)")
    a = ap.parse_args()
    if a.check:
        with open(a.check) as fh:
            allexp = json.load(fh)
        d = a.dir or os.path.dirname(os.path.abspath(a.check))
        names = a.captures or sorted(allexp)
        bad = 0
        for n in names:
            n = os.path.basename(n)
            exp = allexp[n]
            kl = os.path.join(d, exp["keylog"]) if exp.get("keylog") else None
            doc = facts(os.path.join(d, n), kl)
            diffs = check(doc, exp)
            print("%-40s %s" % (n, "ok" if not diffs else "DIFF"))
            for x in diffs:
                print("    " + x)
            bad += bool(diffs)
        sys.exit(1 if bad else 0)
    for cap in a.captures:
        doc = facts(cap, a.keylog)
        doc.pop("_path", None)
        print(json.dumps(doc, indent=1) if a.json else brief(doc))


if __name__ == "__main__":
    main()
