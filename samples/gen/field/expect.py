#!/usr/bin/python3
"""Write samples/field/expect.json: the expected verdict of every field capture.

Verdicts and "facts" come from how each scenario was made (make.sh); the "tshark"
sub-objects quote frames and timings of the committed captures as tshark shows them
(facts.py / the truth files).  The takeover frame lists are read from the truth
files; every other frame number is written here and must be re-checked after the
captures are regenerated.   usage: expect.py [OUT]  (default ../../field/expect.json)
"""
import json
import os
import sys
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "field", "expect.json")
E = {}
def add(name, **kw):
    E[name] = kw

# 1 idle timeout
idle_note = ("nginx proxy_read_timeout 5s in front of mosquitto websockets; MQTT.js keep-alive 60 s, one SUBSCRIBE + "
             "QoS 1 PUBLISH per session, then idle; nginx closes both legs with FIN (no WebSocket Close, no MQTT "
             "DISCONNECT), the device reconnects 1 s later; 3 sessions. nginx's timer fires 5.004-5.006 s after the "
             "request was proxied, so T from the last payload byte is 4.80-4.88 s (nginx does not move a timer by "
             "less than 300 ms, NGX_TIMER_LAZY_DELAY)")
add("idle-timeout-nginx.pcap", verdict="conn_idle_timeout", severity="error", streams=[0, 1, 2],
    facts={"idle_seconds": 5, "keep_alive": 60, "closed_by": "server", "how": "FIN", "sessions": 3,
           "client_id": "wsdoctor-idle-device", "ws_close": False, "mqtt_disconnect": False},
    tshark={"idle_from_last_payload_s": [4.809, 4.877, 4.798], "fin_frames": [51, 103, 157],
            "last_payload_frames": [49, 101, 155], "connack_frames": [26, 79, 131]},
    note=idle_note + "; device-side port 80 only")
add("idle-timeout-nginx-both.pcap", verdict="conn_idle_timeout", severity="error", streams=[0, 2, 4],
    facts={"idle_seconds": 5, "keep_alive": 60, "closed_by": "server", "how": "FIN", "sessions": 3,
           "client_id": "wsdoctor-idle-device", "ws_close": False, "mqtt_disconnect": False,
           "backend_streams": [1, 3, 5], "backend_closed_by": "proxy (the TCP client of the nginx->mosquitto leg)"},
    tshark={"idle_from_last_payload_s": [4.809, 4.877, 4.798], "fin_frames": [103, 187, 289],
            "backend_fin_frames": [100, 184, 288]},
    note=idle_note + "; the same run captured on ports 80 and 8080 (both legs in one file); on each backend leg "
         "nginx's FIN to mosquitto precedes its FIN to the device by 0.09-0.18 ms")

# 2 client id takeover
def takeover(name, streams, taken, proto, transport, broker, how, note, extra=None):
    f = {"client_id": "wsdoctor-dup-id", "connections": len(streams), "takeovers": len(taken),
         "taken_over_streams": taken, "closed_by": "server", "how": how, "protocol": proto,
         "transport": transport, "broker": broker}
    if extra:
        f.update(extra)
    add(name, verdict="mqtt_client_id_takeover", severity="error", streams=streams, facts=f, note=note)

mos_note = ("two MQTT.js devices (separate processes), same client id, clean session, reconnectPeriod 1 s, the second "
            "starting 0.5 s later, both stopped after ~10 s (the connected one sends DISCONNECT). mosquitto 2.0.11 "
            "closes the older connection (FIN) between the newer CONNECT and its CONNACK; broker log: 'Client "
            "wsdoctor-dup-id already connected, closing old connection.'")
takeover("clientid-takeover-mosquitto.pcap", list(range(9)), list(range(8)), "3.1.1", "websocket",
         "mosquitto 2.0.11", "FIN", mos_note + "; the last stream (8) ends with the client's DISCONNECT")
takeover("clientid-takeover-mosquitto-tcp.pcap", list(range(11)), list(range(9)), "3.1.1", "tcp",
         "mosquitto 2.0.11", "FIN", mos_note + "; streams 9 and 10 end with the clients' DISCONNECTs (device B at 9.37 s, "
         "then device A reconnected once more and stopped at 9.92 s)")
takeover("clientid-takeover-mosquitto-mqtt5.pcap", list(range(9)), list(range(8)), "5.0", "websocket",
         "mosquitto 2.0.11", "FIN", mos_note + "; MQTT 5: mosquitto 2.0.11 sends NO DISCONNECT 0x8E to the taken-over "
         "MQTT 5 client, it just closes", extra={"server_disconnect": None})
takeover("clientid-takeover-mosquitto-mqtt5-tcp.pcap", list(range(11)), list(range(9)), "5.0", "tcp",
         "mosquitto 2.0.11", "FIN", mos_note + "; MQTT 5 over TCP: no DISCONNECT 0x8E either",
         extra={"server_disconnect": None})
ej_note = ("the same two MQTT.js devices (MQTT 5, username 'device', password 'x', anonymous login) against ejabberd "
           "23.01 mod_mqtt: the broker sends the CONNACK to the newer connection, then DISCONNECT reason 0x8E (142, "
           "Session taken over) with reason string 'Replaced by another connection' to the older one and closes it")
takeover("clientid-takeover-ejabberd-mqtt5.pcap", list(range(11)), list(range(9)), "5.0", "websocket",
         "ejabberd 23.01 mod_mqtt_ws", "DISCONNECT 0x8E", ej_note + "; over WebSocket (ws://127.0.0.1:5280/mqtt) the "
         "DISCONNECT is followed by a server WebSocket Close 1000, the server's FIN, the client's Close 1000 and a "
         "server RST (stream 2: client FIN before the server's); streams 9 and 10 end with the clients' DISCONNECTs",
         extra={"server_disconnect": {"reason_code": 142, "reason_string": "Replaced by another connection"}})
takeover("clientid-takeover-ejabberd-mqtt5-tcp.pcap", list(range(11)), list(range(9)), "5.0", "tcp",
         "ejabberd 23.01 mod_mqtt", "DISCONNECT 0x8E", ej_note + "; over TCP 1883 the DISCONNECT is followed by the "
         "server's FIN; streams 9 and 10 end with the clients' DISCONNECTs",
         extra={"server_disconnect": {"reason_code": 142, "reason_string": "Replaced by another connection"}})

# 3 ws:// to a TLS port
add("ws-plain-to-tls-port.pcap", verdict="ws_plain_to_tls_port", severity="error", streams=[0, 1, 2],
    facts={"port": 443, "server_software": "nginx 1.22.1 (listen 443 ssl)", "status": 400, "server": "nginx/1.22.1",
           "title": "400 The plain HTTP request was sent to HTTPS port", "tls_bytes": False,
           "closed_by": "server", "how": "FIN", "attempts": 3},
    tshark={"get_frames": [4, 14, 24], "response_frames": [6, 16, 26], "server_fin_frames": [8, 18, 28]},
    note="MQTT.js ws://127.0.0.1:443/mqtt, 3 attempts 1 s apart; no TLS record on the wire in either direction")
add("ws-plain-to-tls-port-mosquitto-wss.pcap", verdict="ws_plain_to_tls_port", severity="error", streams=[0, 1, 2],
    facts={"port": 8081, "server_software": "mosquitto 2.0.11 websockets listener with certfile/keyfile (libwebsockets)",
           "response_bytes": 0, "tls_alert": False, "closed_by": "server", "how": "RST", "attempts": 3},
    tshark={"get_frames": [4, 10, 16], "rst_frames": [6, 12, 18], "rst_after_get_ms": [24.6, 0.76, 1.35]},
    note="MQTT.js ws://127.0.0.1:8081/mqtt; mosquitto answers nothing (no TLS alert, no HTTP) and resets. On the "
         "wire this is the same as ws_upgrade_to_mqtt_port (GET, no bytes back, RST within ms); only the port "
         "and how the capture was made tell them apart")
add("ws-plain-to-tls-port-mosquitto-mqtts.pcap", verdict="ws_plain_to_tls_port", severity="error", streams=[0, 1, 2],
    facts={"port": 8883, "server_software": "mosquitto 2.0.11 MQTT listener with certfile/keyfile (OpenSSL 3.0)",
           "response_bytes": 0, "tls_alert": False, "closed_by": "server", "how": "RST", "attempts": 3,
           "broker_log": "OpenSSL Error[0]: error:0A00009C:SSL routines::http request"},
    tshark={"get_frames": [4, 10, 16], "rst_frames": [6, 12, 18], "rst_after_get_ms": [0.26, 0.08, 0.11]},
    note="MQTT.js ws://127.0.0.1:8883/mqtt; OpenSSL recognises the HTTP request and fails without an alert; "
         "mosquitto closes with the request unread -> RST. Same wire picture as ws_upgrade_to_mqtt_port; 8883 is "
         "the MQTT-over-TLS port by convention")

# 4 wss:// to a plain port
add("tls-to-plain-port.pcap", verdict="tls_to_plain_port", severity="error", streams=[0, 1, 2],
    facts={"port": 80, "server_software": "nginx 1.22.1 (plain listen 80, /mqtt proxied to mosquitto)",
           "client_hello": True, "tls_versions_offered": ["1.3", "1.2"], "sni": None, "status": 400,
           "server": "nginx/1.22.1", "title": "400 Bad Request", "client_alert": False,
           "closed_by": "server", "how": "FIN", "attempts": 3},
    tshark={"client_hello_frames": [4, 14, 24], "response_frames": [6, 16, 26], "server_fin_frames": [8, 18, 28]},
    note="MQTT.js wss://127.0.0.1:80/mqtt (rejectUnauthorized false); nginx answers the ClientHello with a clear-text "
         "HTTP/1.1 400 (generic page, not the 'plain HTTP to HTTPS port' one) and closes; Node's TLS fails with "
         "'wrong version number' and closes with FIN, no alert. tshark shows the ClientHello only with "
         "-d tcp.port==80,tls (the truth file's port-80 HTTP decoding sees it as undecoded bytes)")
add("tls-to-plain-port-mosquitto.pcap", verdict="tls_to_plain_port", severity="error", streams=[0, 1, 2],
    facts={"port": 8080, "server_software": "mosquitto 2.0.11 plain websockets listener (libwebsockets)",
           "client_hello": True, "tls_versions_offered": ["1.3", "1.2"], "sni": None, "status": 403,
           "http_version": "HTTP/1.0", "server": None, "client_alert": False, "closed_by": "server", "how": "FIN",
           "attempts": 3},
    tshark={"client_hello_frames": [4, 14, 24], "response_frames": [6, 16, 26], "fin_rst": "s0/s2 server FIN first, s1 client FIN first"},
    note="MQTT.js wss://127.0.0.1:8080/mqtt; libwebsockets answers the ClientHello with a clear-text 'HTTP/1.0 403 "
         "Forbidden' (173-byte HTML, no Server header) 0.1-0.2 s later, not with a bare close as the field notes "
         "expected")

# 5 ws to MQTT port
add("ws-upgrade-to-mqtt-port.pcap", verdict="ws_upgrade_to_mqtt_port", severity="error", streams=[0, 1, 2],
    facts={"port": 1883, "server_software": "mosquitto 2.0.11 plain MQTT listener", "response_bytes": 0,
           "closed_by": "server", "how": "RST", "attempts": 3,
           "broker_log": "Client <unknown> disconnected due to protocol error."},
    tshark={"get_frames": [4, 10, 16], "rst_frames": [6, 12, 18], "rst_after_get_ms": [0.084, 0.033, 0.232]},
    note="MQTT.js ws://127.0.0.1:1883/mqtt, 3 attempts 1 s apart; mosquitto reads 'G' (0x47) as a non-CONNECT "
         "first packet and closes with the rest unread, so the kernel sends RST (not FIN). Truth made with "
         "--http-port 1883 so that the GET is decoded as HTTP")
add("ws-upgrade-to-mqtt-port-1884.pcap", verdict="ws_upgrade_to_mqtt_port", severity="error", streams=[1, 2, 3],
    facts={"port": 1884, "server_software": "mosquitto 2.0.11, only 'listener 1884' (plain MQTT)", "response_bytes": 0,
           "closed_by": "server", "how": "RST", "attempts": 3},
    others=[{"verdict": "ok", "severity": None, "streams": [0],
             "facts": {"client": "paho 1.6.1 over TCP", "client_id": "wsdoctor-tcp-ok", "connack": 0,
                       "ended_by": "client DISCONNECT"}}],
    tshark={"get_frames": [16, 22, 28], "rst_frames": [18, 24, 30], "ok_connect_frame": 4, "ok_connack_frame": 6,
            "ok_disconnect_frame": 31},
    note="a working plain-MQTT session (stream 0, 0-4 s) to the same broker on the non-standard port 1884, while "
         "MQTT.js ws://127.0.0.1:1884/mqtt fails 3 times. Truth made with --mqtt-port 1884: tshark then also parses "
         "each GET as bogus MQTT (PUBACK/PUBREL/...)")

# 6 wrong path
add("ws-path-not-found.pcap", verdict="ws_upgrade_path_not_found", severity="error", streams=[0, 1, 2],
    facts={"path": "/ws", "served_path": "/mqtt", "status": 404, "server": "nginx/1.22.1",
           "title": "404 Not Found", "closed_by": "client", "how": "FIN", "attempts": 3},
    tshark={"get_frames": [4, 14, 24], "response_frames": [6, 16, 26]},
    note="nginx serves WebSocket only on location = /mqtt (proxied to mosquitto), everything else 'return 404'; "
         "MQTT.js ws://127.0.0.1/ws, 3 attempts; the 404 comes from nginx itself (Connection: keep-alive, the "
         "client closes first)")
add("ws-path-not-found-mixed.pcap", verdict="ws_upgrade_path_not_found", severity="error", streams=[1, 2, 3],
    facts={"path": "/ws", "served_path": "/mqtt", "status": 404, "server": "nginx/1.22.1",
           "closed_by": "client", "how": "FIN", "attempts": 3},
    others=[{"verdict": "ok", "severity": None, "streams": [0],
             "facts": {"client": "paho 1.6.1 websockets", "path": "/mqtt", "client_id": "wsdoctor-right-path",
                       "status": 101, "connack": 0, "ended_by": "client DISCONNECT"}}],
    tshark={"get_frames": [19, 29, 39], "response_frames": [21, 31, 41], "ok_get_frame": 4, "ok_101_frame": 6},
    note="the same nginx; paho asks /mqtt and holds a session for 3.5 s (stream 0) while MQTT.js asks /ws 3 times")

# 7 proxy drops upgrade
add("ws-proxy-drops-upgrade.pcap", verdict="ws_upgrade_dropped_by_proxy", severity="error", streams=[0, 2, 4],
    facts={"status": 502, "server": "nginx/1.22.1", "backend_streams": [1, 3, 5],
           "backend_request": "GET /mqtt HTTP/1.0", "backend_connection": "close", "backend_upgrade": None,
           "backend_answer": None, "backend_closed_by": "server (mosquitto), FIN without any byte",
           "proxy_log": "upstream prematurely closed connection while reading response header from upstream",
           "attempts": 3},
    tshark={"device_get_frames": [4, 22, 40], "backend_get_frames": [9, 27, 45], "backend_fin_frames": [11, 29, 47],
            "backend_silence_s": [0.132, 0.195, 0.198], "response_frames": [14, 32, 50]},
    note="nginx 'location /mqtt { proxy_pass http://127.0.0.1:8080; }' only (no proxy_http_version 1.1, no "
         "Upgrade/Connection lines) in front of mosquitto websockets; both legs in one file (ports 80 and 8080). "
         "nginx forwards HTTP/1.0 with Connection: close and without Upgrade (the Sec-WebSocket-* headers pass); "
         "libwebsockets sends nothing and closes; nginx answers the device 502 Bad Gateway")
add("ws-proxy-drops-upgrade-device.pcap", verdict="ws_upgrade_dropped_by_proxy", severity="error", streams=[0, 1, 2],
    facts={"status": 502, "server": "nginx/1.22.1", "closed_by": "client", "how": "FIN", "attempts": 3},
    tshark={"get_frames": [4, 14, 24], "response_frames": [6, 16, 26]},
    note="the same run, device-side port 80 only: a 502 from nginx to an Upgrade, ~0.13-0.2 s after the GET; the "
         "backend leg is not in this file")

# 8 closed before CONNACK
add("mqtt-closed-before-connack-tcp.pcap", verdict="mqtt_closed_before_connack", severity="error", streams=[0, 1, 2],
    facts={"transport": "tcp", "server_delay_ms": 50, "closed_by": "server", "how": "FIN", "connack": False,
           "attempts": 3, "client_id": "wsdoctor-no-policy"},
    tshark={"connect_frames": [4, 13, 21], "server_fin_frames": [6, 15, 23], "close_after_connect_ms": [62.5, 54.0, 50.3]},
    note="field_server.py connect-close-tcp on 1883 (reads the CONNECT, sleeps 50 ms, closes: AWS IoT without a "
         "policy); MQTT.js mqtt://127.0.0.1:1883, reconnect 1 s, 3 attempts")
add("mqtt-closed-before-connack-ws.pcap", verdict="mqtt_closed_before_connack", severity="error", streams=[0, 1, 2],
    facts={"transport": "websocket", "server_delay_ms": 50, "closed_by": "server", "how": "FIN", "connack": False,
           "ws_close": False, "attempts": 3, "client_id": "wsdoctor-no-policy"},
    tshark={"get_frames": [4, 28, 52], "response_frames": [6, 30, 54], "connect_frames": [20, 44, 68],
            "server_fin_frames": [22, 46, 70], "close_after_connect_ms": [50.2, 50.2, 54.3]},
    note="field_server.py connect-close-ws on 80: correct 101 with Sec-WebSocket-Protocol mqtt, reads WebSocket frames "
         "until the whole CONNECT (MQTT.js splits it over 9 frames), sleeps 50 ms, closes without CONNACK and "
         "without a Close frame")

# 9 no response
add("ws-upgrade-no-response-closed.pcap", verdict="ws_upgrade_no_response", severity="error", streams=[0, 1],
    facts={"ended": "connection_closed", "closed_by": "client", "how": "FIN", "client_timeout_s": 3,
           "attempts": 2, "response_bytes": 0},
    tshark={"get_frames": [4, 12], "client_fin_frames": [6, 14], "waited_s": [2.980, 3.003]},
    note="../scenarios/odd_ws_server.py --mode noanswer (reads the request, never answers, closes after the "
         "client's FIN); MQTT.js connectTimeout 3000 ms, 2 attempts 1 s apart")
add("ws-upgrade-no-response-cut.pcap", verdict="ws_upgrade_no_response", severity="error", streams=[0],
    facts={"ended": "capture_stopped", "connection_open_at_end": True, "capture_stopped_after_get_s": 0.356,
           "response_bytes": 0},
    tshark={"get_frame": 4, "last_frame": 5, "frames": 5},
    note="the same server; tcpdump was stopped (SIGINT) 0.3 s after ss saw the connection established (0.356 s "
         "after the GET's timestamp, see .capture.log); the client was still waiting (connectTimeout 20 s): the "
         "file ends with the server's ACK of the GET, no FIN/RST")

# 10 subprotocol
sp_facts = {"offered": ["mqtt"], "selected": None, "server_software": "npm ws 8.23.0 WebSocketServer (handleProtocols -> false) + aedes 1.2.0",
            "attempts": 3}
add("ws-subprotocol-mismatch.pcap", verdict="ws_subprotocol_not_selected", severity="error", streams=[0, 1, 2],
    facts=dict(sp_facts, client="MQTT.js 5.16.0 over npm ws 8.23.0", client_reaction="FIN, no WebSocket Close",
               client_error="Server sent no subprotocol", closed_by="client", how="FIN"),
    tshark={"response_frames": [6, 16, 26], "client_fin_frames": [8, 18, 28], "client_fin_after_101_ms": [13.5, 0.36, 0.71]},
    note="101 with a correct accept but no Sec-WebSocket-Protocol; npm ws aborts the handshake (socket.destroy): no "
         "Close 1002 on the wire, contrary to the field notes")
add("ws-subprotocol-mismatch-native.pcap", verdict="ws_subprotocol_not_selected", severity="error", streams=[0, 1, 2],
    facts=dict(sp_facts, client="MQTT.js 5.16.0 over Node 20.20.2's built-in WebSocket (undici, --experimental-websocket)",
               client_reaction="FIN, no WebSocket Close", closed_by="client", how="FIN"),
    tshark={"response_frames": [6, 16, 26], "client_fin_frames": [8, 18, 28], "client_fin_after_101_ms": [22.2, 1.0, 1.0]},
    note="the same server; undici fails the connection as WHATWG says, again without a Close frame")
add("ws-subprotocol-mismatch-paho.pcap", verdict="ws_subprotocol_not_selected", severity="warning", streams=[0],
    facts=dict(sp_facts, attempts=1, client="paho-mqtt 1.6.1 websockets", client_reaction="none: paho does not check "
               "the subprotocol and goes on", session_ok=True, ended_by="client DISCONNECT"),
    tshark={"response_frame": 6, "connect_frame": 8, "connack_frame": 14, "disconnect_frame": 23},
    note="the same server; paho ignores the missing Sec-WebSocket-Protocol and has a working session with aedes "
         "(CONNACK 0, PUBLISH QoS 1, PUBACK, DISCONNECT): a warning, not the cause of a failure")

# 11 IIS 101 without accept
add("iis8-101-no-accept.pcap", verdict="ws_accept_mismatch", severity="error", streams=[0, 1, 2],
    facts={"accept": None, "accept_missing": True, "server": "Microsoft-IIS/8.5", "x_powered_by": "ASP.NET",
           "subprotocol": "mqtt", "client": "MQTT.js 5.16.0 over npm ws 8.23.0",
           "client_error": "Invalid Sec-WebSocket-Accept header", "client_reaction": "FIN, no WebSocket Close",
           "closed_by": "client", "how": "FIN", "attempts": 3},
    tshark={"response_frames": [6, 16, 26], "client_fin_frames": [8, 18, 28]},
    note="field_server.py iis-101-noaccept: '101 Switching Protocols' with Upgrade, Connection, Server: "
         "Microsoft-IIS/8.5, X-Powered-By: ASP.NET, Sec-WebSocket-Protocol: mqtt, Date, and no Sec-WebSocket-Accept "
         "(a stand-in: real IIS cannot run here)")

# 12 controls
add("ok-nginx-disconnect.pcap", verdict="ok", severity=None, streams=[0],
    facts={"keep_alive": 4, "proxy_read_timeout": 5, "ended_by": "client DISCONNECT", "duration_s": 1.2,
           "client_id": "wsdoctor-ok"},
    tshark={"get_frame": 4, "response_frame": 6, "connect_frame": 24, "connack_frame": 26, "disconnect_frame": 54,
            "server_fin_frame": 56},
    note="MQTT.js through the idle-timeout nginx: SUBSCRIBE, QoS 1 PUBLISH echoed back, DISCONNECT 1 s after the "
         "CONNACK; mosquitto then closes, nginx's FIN follows the DISCONNECT by 0.3 ms")
add("ok-nginx-keepalive.pcap", verdict="ok", severity=None, streams=[0],
    facts={"keep_alive": 3, "proxy_read_timeout": 5, "ended_by": "client DISCONNECT", "duration_s": 12.2,
           "client_id": "wsdoctor-ok-ping"},
    tshark={"pingreq_frames": [52, 56, 59], "pingresp_frames": [54, 57, 60], "disconnect_frame": 63,
            "server_fin_frame": 65},
    note="the same nginx (proxy_read_timeout 5s); keep-alive 3 s: PINGREQ/PINGRESP every 3 s keep the idle session "
         "up for 12 s, longer than the proxy timeout; DISCONNECT 12 s after the CONNACK")

with open(OUT, "w") as f:
    json.dump(E, f, indent=1)
    f.write("\n")
print(len(E))

# takeover frame lists, read from the truth files (tshark)
for cap, e in E.items():
    if e["verdict"] != "mqtt_client_id_takeover":
        continue
    t = json.load(open(os.path.join(os.path.dirname(OUT), cap.replace(".pcap", ".truth.json"))))
    ss = {s["tcp_stream"]: s for s in t["streams"]}
    conn = [next(m["frame"] for m in ss[i]["mqtt_packets"] if m["name"] == "CONNECT") for i in e["streams"]]
    ack = [next(m["frame"] for m in ss[i]["mqtt_packets"] if m["name"] == "CONNACK") for i in e["streams"]]
    fin = [next(x["frame"] for x in ss[i]["fin_rst"] if x["dir"] == "s2c") for i in e["facts"]["taken_over_streams"]]
    ts = {"connect_frames": conn, "connack_frames": ack, "server_fin_frames_of_taken_over": fin}
    disc = [next((m["frame"] for m in ss[i]["mqtt_packets"] if m["name"] == "DISCONNECT" and m["dir"] == "s2c"), None)
            for i in e["facts"]["taken_over_streams"]]
    if any(disc):
        ts["server_disconnect_frames"] = disc
    e["tshark"] = ts
with open(OUT, "w") as f:
    json.dump(E, f, indent=1)
    f.write("\n")
