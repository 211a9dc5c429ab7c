#!/usr/bin/env node
// A device made with MQTT.js 5 (over npm "ws" unless --native) for the field-failure captures.
// It connects, runs a tiny script on every successful connect, auto-reconnects like a device
// (reconnectPeriod), and writes its own log to --log as JSON: every MQTT packet it sent and
// received ('packetsend' / 'packetreceive'), the WebSocket events of npm ws (upgrade status and
// headers, unexpected-response, open with the selected subprotocol, error, close code), TLS errors,
// and each connection's open / close.  This is the client-side oracle (like
// ../scenarios/mqttjs_session.js, whose record format it follows).
// Modules come from NODE_PATH (npm install mqtt@5 ws aedes).
//
//   node field_mqttjs.js --url ws://127.0.0.1/mqtt --log X.client.json [options]
//   --pv 4|5            MQTT version (default 4 = 3.1.1)
//   --client-id ID      (default wsdoctor-field)
//   --keepalive S       CONNECT keep-alive (default 60)
//   --reconnect-ms MS   reconnectPeriod (default 1000; 0 = never reconnect)
//   --closes N          stop (no reconnect) once N connections have closed (default 3)
//   --run-ms MS         stop after MS ms whatever happened (default 40000)
//   --start-ms MS       wait MS ms before the first connect (default 0)
//   --connect-timeout MS  MQTT.js connectTimeout (default 30000)
//   --script S          on every CONNACK: none | pub (one QoS 1 PUBLISH) |
//                       subpub (SUBSCRIBE QoS 1 + one QoS 1 PUBLISH to it, echoed back)
//   --end-after MS      MS ms after the (first) CONNACK: clean end (DISCONNECT, then close)
//   --user U --pass P   CONNECT username / password
//   --deflate off       do not offer permessage-deflate (npm ws offers it by default)
//   --insecure          wss:// / mqtts:// without certificate check (self-signed server)
//   --native            Node's built-in WebSocket (forceNativeWebSocket)
'use strict'
const mqtt = require('mqtt')
const fs = require('fs')

const args = {
  url: 'ws://127.0.0.1/mqtt', pv: 4, clientId: 'wsdoctor-field', keepalive: 60, reconnectMs: 1000,
  closes: 3, runMs: 40000, startMs: 0, connectTimeout: 30000, script: 'none', deflate: 'default'
}
for (let i = 2; i < process.argv.length; i++) {
  const k = process.argv[i].replace(/^--/, '').replace(/-([a-z])/g, (m, c) => c.toUpperCase())
  if (k === 'native' || k === 'insecure') { args[k] = true; continue }
  args[k] = process.argv[++i]
}
for (const k of ['pv', 'keepalive', 'reconnectMs', 'closes', 'runMs', 'startMs', 'connectTimeout']) args[k] = Number(args[k])
if (args.endAfter !== undefined) args.endAfter = Number(args.endAfter)

const t0 = Date.now()
const wall0 = t0 / 1000
const log = []
const now = () => (Date.now() - t0) / 1000
function rec (dir, p) {
  const r = { t: now(), conn: conns, dir, type: (p.cmd || '').toUpperCase() }
  for (const k of ['messageId', 'qos', 'retain', 'dup', 'topic', 'returnCode', 'reasonCode', 'sessionPresent',
    'clientId', 'protocolVersion', 'protocolId', 'keepalive', 'clean', 'granted', 'username']) {
    if (p[k] !== undefined && p[k] !== null) r[k === 'messageId' ? 'packet_id' : k] = p[k]
  }
  if (p.payload !== undefined && p.payload !== null) r.payload_len = Buffer.byteLength(p.payload)
  if (p.cmd === 'publish' && r.payload_len <= 200) r.payload = p.payload.toString()
  if (p.subscriptions) r.subscriptions = p.subscriptions.map(s => ({ topic: s.topic, qos: s.qos }))
  if (p.properties && Object.keys(p.properties).length) r.properties = p.properties
  log.push(r)
}
function note (what, extra) { log.push(Object.assign({ t: now(), conn: conns, event: what }, extra || {})) }

let conns = 0      // transport connections attempted (1-based in the log)
let closes = 0
let connacks = 0
const wsOptions = {}
if (args.deflate === 'off') wsOptions.perMessageDeflate = false
if (args.insecure) wsOptions.rejectUnauthorized = false

const opts = {
  protocolVersion: args.pv,
  clientId: args.clientId,
  reconnectPeriod: args.reconnectMs,
  connectTimeout: args.connectTimeout,
  keepalive: args.keepalive,
  clean: true,
  wsOptions,
  manualConnect: true
}
if (args.insecure) opts.rejectUnauthorized = false
if (args.user) { opts.username = args.user; opts.password = args.pass || '' }
if (args.native) {
  opts.forceNativeWebSocket = true
} else if (/^wss?:/.test(args.url)) {
  // same as MQTT.js's own createWebSocket, plus a record of the WebSocket-level events
  const WebSocket = require('ws')
  opts.createWebsocket = (url, protocols, o) => {
    conns++
    const ws = new WebSocket(url, protocols, o.wsOptions)
    note('ws connect', { url, protocols })
    ws.on('upgrade', res => note('ws upgrade', { status: res.statusCode, headers: res.rawHeaders }))
    // a non-101 answer: record it from the request's own 'response' event, and leave the handling to
    // npm ws (no 'unexpected-response' listener, so ws aborts the handshake and MQTT.js reconnects as usual)
    if (ws._req) ws._req.on('response', res => note('http response (not 101)', { status: res.statusCode, message: res.statusMessage, headers: res.rawHeaders }))
    ws.on('open', () => note('ws open', { protocol: ws.protocol, extensions: ws.extensions }))
    ws.on('error', e => note('ws error', { message: e.message, code: e.code }))
    ws.on('close', (code, reason) => note('ws close', { code, reason: reason.toString() }))
    return ws
  }
}

const delay = ms => new Promise(resolve => setTimeout(resolve, ms))
let finished = false
async function finish (code, why) {
  if (finished) return
  finished = true
  note('end', { code, why, connected: client.connected })
  if (client.connected) {
    note('clean end: DISCONNECT')  // a device that is switched off politely
    await Promise.race([client.endAsync(), delay(2000)])
  } else {
    client.end(true)
  }
  fs.writeFileSync(args.log, JSON.stringify({
    client: 'MQTT.js ' + mqtt.MQTTJS_VERSION + ' (node ' + process.version + ', ' +
      (args.native ? 'built-in WebSocket' : 'npm ws ' + require('ws/package.json').version) + ')',
    url: args.url,
    t0_epoch: wall0,
    options: {
      protocolVersion: args.pv, clientId: args.clientId, keepalive: args.keepalive, reconnectPeriod: args.reconnectMs,
      connectTimeout: args.connectTimeout, script: args.script, endAfter: args.endAfter, deflate: args.deflate,
      stopAfterCloses: args.closes, runMs: args.runMs
    },
    log
  }, null, 1))
  setTimeout(() => process.exit(code), 300)
}

const client = mqtt.connect(args.url, opts)
client.on('packetsend', p => rec('send', p))
client.on('packetreceive', p => rec('recv', p))
client.on('error', e => note('error', { message: e.message, code: e.code }))
client.on('disconnect', p => note('server DISCONNECT', { reasonCode: p.reasonCode }))
client.on('offline', () => note('offline'))
client.on('reconnect', () => note('reconnect'))
client.on('close', () => {
  closes++
  note('close', { closes })
  if (closes >= args.closes) finish(0, 'closes=' + closes)
})
client.on('connect', async () => {
  connacks++
  const me = conns
  try {
    if (args.script === 'pub') {
      await client.publishAsync('wsdoctor/field/' + args.clientId + '/status', JSON.stringify({ conn: me, up: true }), { qos: 1 })
    } else if (args.script === 'subpub') {
      await client.subscribeAsync('wsdoctor/field/' + args.clientId + '/#', { qos: 1 })
      await client.publishAsync('wsdoctor/field/' + args.clientId + '/status', JSON.stringify({ conn: me, up: true }), { qos: 1 })
    }
  } catch (e) {
    note('script error', { message: String(e && e.message) })
  }
  if (args.endAfter !== undefined && connacks === 1) {
    await delay(args.endAfter)
    finish(0, 'end-after')
  }
})
if (!/^wss?:/.test(args.url) || args.native) {
  // count transport connections for mqtt:// / mqtts:// / native WebSocket too
  const orig = client.connect.bind(client)
  client.connect = function () { conns++; note('connect'); return orig() }
}
setTimeout(() => finish(0, 'run-ms'), args.runMs)
setTimeout(() => client.connect(), args.startMs)
