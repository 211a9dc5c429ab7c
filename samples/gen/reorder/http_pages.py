#!/usr/bin/python3
"""Write the static pages nginx serves for samples/reorder/http-keepalive.pcap (deterministic).

    http_pages.py DIR     -> DIR/page1.html (7000 bytes), page2.html (12000), page3.html (4500),
                             DIR/upload.txt (6000 bytes, the POST body curl sends)
Text from random.Random(seed) words, so every response spans several 1448-byte TCP segments.
"""
import os
import random
import sys

WORDS = ("mqtt websocket broker segment window reorder capture packet frame stream gateway sensor "
         "device upgrade handshake deflate payload topic qos retain").split()


def text(seed, n, head="", tail=""):
    r = random.Random(seed)
    body = []
    size = len(head) + len(tail)
    while size < n:
        line = "<p>" + " ".join(r.choice(WORDS) for _ in range(12)) + "</p>\n"
        body.append(line)
        size += len(line)
    s = head + "".join(body) + tail
    return s[:n - len(tail)] + tail if len(s) > n else s


d = sys.argv[1]
for name, seed, n in (("page1.html", 1, 7000), ("page2.html", 2, 12000), ("page3.html", 3, 4500)):
    head = "<!DOCTYPE html>\n<html><head><title>%s</title></head><body>\n" % name
    with open(os.path.join(d, name), "w") as f:
        f.write(text(seed, n, head, "</body></html>\n"))
with open(os.path.join(d, "upload.txt"), "w") as f:
    f.write(text(4, 6000).replace("<p>", "").replace("</p>", ""))
