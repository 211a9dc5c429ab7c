#!/usr/bin/env node
// MQTT.js 5 client over npm ws for samples/reorder (modules from NODE_PATH; npm install mqtt@5 ws aedes).
//
//   node mqttjs_client.js --url ws://127.0.0.1:8080/mqtt --deflate on|off --client-id ID --log X.client.json
//
// Script (MQTT 3.1.1): SUBSCRIBE wsd/ro/# QoS 2, six PUBLISHes of 2000..5000 bytes (QoS 0, 1, 2, 0, 1, 2) to
// wsd/ro/m1..m6 that come back from the broker, 150 ms apart, UNSUBSCRIBE, DISCONNECT (client.endAsync).
// Payloads: pseudo-random printable text (same bytes every run; about 75 % of its size after deflate, so
// compressed messages still span several TCP segments).  --deflate on offers permessage-deflate
// (threshold 0); off offers no extension.  The log keeps every MQTT packet MQTT.js sent / received
// ('packetsend' / 'packetreceive') and the WebSocket events: the client-side oracle.
'use strict'
const mqtt = require('mqtt')
const WebSocket = require('ws')
const fs = require('fs')

const args = { url: 'ws://127.0.0.1:8080/mqtt', deflate: 'off', clientId: 'wsd-reorder-js' }
for (let i = 2; i < process.argv.length; i += 2) {
  args[process.argv[i].replace(/^--/, '').replace(/-([a-z])/g, (m, c) => c.toUpperCase())] = process.argv[i + 1]
}
const ALPHA = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
function payload (seed, n) {           // xorshift32, deterministic
  let x = (seed * 2654435761) >>> 0 || 1
  const b = Buffer.alloc(n)
  for (let i = 0; i < n; i++) { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; b[i] = ALPHA.charCodeAt(x & 63) }
  return b
}
const MSGS = [['wsd/ro/m1', 2000, 0], ['wsd/ro/m2', 3000, 1], ['wsd/ro/m3', 4500, 2],
  ['wsd/ro/m4', 5000, 0], ['wsd/ro/m5', 2500, 1], ['wsd/ro/m6', 3800, 2]]

const t0 = Date.now()
const log = []
function rec (dir, p) {
  const r = { t: (Date.now() - t0) / 1000, dir, type: (p.cmd || '').toUpperCase() }
  for (const k of ['messageId', 'qos', 'retain', 'dup', 'topic', 'returnCode', 'sessionPresent', 'clientId',
    'protocolVersion', 'protocolId', 'keepalive', 'clean', 'granted']) {
    if (p[k] !== undefined && p[k] !== null) r[k === 'messageId' ? 'packet_id' : k] = p[k]
  }
  if (p.payload !== undefined && p.payload !== null) r.payload_len = Buffer.byteLength(p.payload)
  if (p.subscriptions) r.subscriptions = p.subscriptions.map(s => ({ topic: s.topic, qos: s.qos }))
  if (p.unsubscriptions) r.unsubscriptions = p.unsubscriptions
  log.push(r)
}
const note = (what, extra) => log.push(Object.assign({ t: (Date.now() - t0) / 1000, event: what }, extra || {}))

const wsOptions = { perMessageDeflate: args.deflate === 'on' ? { threshold: 0 } : false }
const opts = {
  protocolVersion: 4, clientId: args.clientId, reconnectPeriod: 0, connectTimeout: 5000, keepalive: 30,
  clean: true, wsOptions, manualConnect: true,
  createWebsocket: (url, protocols, o) => {
    const ws = new WebSocket(url, protocols, o.wsOptions)
    note('ws connect', { url, protocols })
    ws.on('upgrade', res => note('ws upgrade', { status: res.statusCode, headers: res.rawHeaders }))
    ws.on('open', () => note('ws open', { protocol: ws.protocol, extensions: ws.extensions }))
    ws.on('error', e => note('ws error', { message: e.message }))
    ws.on('close', (code, reason) => note('ws close', { code, reason: reason.toString() }))
    return ws
  }
}
const delay = ms => new Promise(resolve => setTimeout(resolve, ms))
const received = []
let done = false
function finish (code) {
  if (done) return
  done = true
  note('end', { code, received: received.length })
  fs.writeFileSync(args.log, JSON.stringify({
    client: 'MQTT.js ' + mqtt.MQTTJS_VERSION + ' (node ' + process.version + ', npm ws ' + require('ws/package.json').version + ')',
    url: args.url, options: { protocolVersion: 4, clientId: args.clientId, deflate: args.deflate }, log
  }, null, 1))
  setTimeout(() => process.exit(code), 200)
}
const client = mqtt.connect(args.url, opts)
client.on('packetsend', p => rec('send', p))
client.on('packetreceive', p => rec('recv', p))
client.on('error', e => note('error', { message: e.message }))
client.on('message', (topic, payload) => received.push(topic))
client.on('connect', async () => {
  try {
    await client.subscribeAsync('wsd/ro/#', { qos: 2 })
    for (let i = 0; i < MSGS.length; i++) {
      const [topic, n, qos] = MSGS[i]
      await client.publishAsync(topic, payload(i + 1, n), { qos })
      await delay(150)
    }
    const until = Date.now() + 5000
    while (received.length < MSGS.length && Date.now() < until) await delay(20)
    await client.unsubscribeAsync('wsd/ro/#')
    await delay(200)
    await client.endAsync()
    finish(received.length === MSGS.length ? 0 : 1)
  } catch (e) { note('script error', { message: String(e && e.message) }); client.end(true); finish(1) }
})
setTimeout(() => { note('timeout'); client.end(true); finish(2) }, 30000)
client.connect()
