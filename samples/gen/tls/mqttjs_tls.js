#!/usr/bin/env node
// One MQTT.js 5 session over wss (npm "ws", TLS options handed to tls.connect through wsOptions).
// Run with `node --tls-keylog=X.keys mqttjs_tls.js ...` for the NSS key log.  Writes its own log of
// every MQTT packet sent and received ('packetsend' / 'packetreceive') and of the WebSocket / TLS
// events to --log (JSON): the client-side oracle.
//
//   node --tls-keylog=X.keys mqttjs_tls.js --url wss://broker.example:443/mqtt --ca ca.pem
//        --log X.client.json [--max-version TLSv1.2] [--client-id ID] [--script session|none]
//        [--user U --pass P]
// script "session": SUBSCRIBE wsdoctor/tls/# QoS 2, PUBLISH wsdoctor/tls/q0|q1|q2 at QoS 0/1/2,
// wait for the three to come back, DISCONNECT (client.endAsync).
'use strict'
const mqtt = require('mqtt')
const fs = require('fs')

const args = { url: 'wss://broker.example:443/mqtt', script: 'session', clientId: 'wsdoctor-mqttjs-tls' }
for (let i = 2; i < process.argv.length; i++) {
  const k = process.argv[i].replace(/^--/, '')
  args[k.replace(/-([a-z])/g, (m, c) => c.toUpperCase())] = process.argv[++i]
}
const t0 = Date.now()
const log = []
function rec (dir, p) {
  const r = { t: (Date.now() - t0) / 1000, dir, type: (p.cmd || '').toUpperCase() }
  for (const k of ['messageId', 'qos', 'retain', 'dup', 'topic', 'returnCode', 'reasonCode', 'sessionPresent',
    'clientId', 'protocolVersion', 'protocolId', 'keepalive', 'clean', 'granted', 'username']) {
    if (p[k] !== undefined && p[k] !== null) r[k === 'messageId' ? 'packet_id' : k] = p[k]
  }
  if (p.payload !== undefined && p.payload !== null) r.payload_len = Buffer.byteLength(p.payload)
  if (p.cmd === 'publish' && r.payload_len <= 200) r.payload = p.payload.toString()
  if (p.subscriptions) r.subscriptions = p.subscriptions.map(s => ({ topic: s.topic, qos: s.qos }))
  log.push(r)
}
function note (what, extra) { log.push(Object.assign({ t: (Date.now() - t0) / 1000, event: what }, extra || {})) }

const wsOptions = { perMessageDeflate: false }
if (args.ca) wsOptions.ca = fs.readFileSync(args.ca)
if (args.maxVersion) wsOptions.maxVersion = args.maxVersion
if (args.minVersion) wsOptions.minVersion = args.minVersion
const WebSocket = require('ws')
const opts = {
  protocolVersion: 4,
  clientId: args.clientId,
  reconnectPeriod: 0,
  connectTimeout: 5000,
  keepalive: 30,
  clean: true,
  wsOptions,
  createWebsocket: (url, protocols, o) => {
    const ws = new WebSocket(url, protocols, o.wsOptions)
    note('ws connect', { url, protocols })
    ws.on('upgrade', res => {
      const s = res.socket
      note('ws upgrade', { status: res.statusCode, tls: s.getProtocol && s.getProtocol(), cipher: s.getCipher && s.getCipher() })
    })
    ws.on('unexpected-response', (req, res) => { note('ws unexpected-response', { status: res.statusCode }); req.destroy() })
    ws.on('open', () => note('ws open', { protocol: ws.protocol }))
    ws.on('error', e => note('ws error', { message: e.message, code: e.code }))
    ws.on('close', (code, reason) => note('ws close', { code, reason: reason.toString() }))
    return ws
  }
}
if (args.user) { opts.username = args.user; opts.password = args.pass || '' }

const delay = ms => new Promise(resolve => setTimeout(resolve, ms))
let finished = false
function finish (code) {
  if (finished) return
  finished = true
  note('end', { code })
  fs.writeFileSync(args.log, JSON.stringify({
    client: 'MQTT.js ' + mqtt.MQTTJS_VERSION + ' (node ' + process.version + ', OpenSSL ' + process.versions.openssl +
      ', npm ws ' + require('ws/package.json').version + ')',
    url: args.url, options: { clientId: opts.clientId, maxVersion: args.maxVersion || null, script: args.script },
    log
  }, null, 1) + '\n')
  setTimeout(() => process.exit(code), 200)
}
opts.manualConnect = true
const client = mqtt.connect(args.url, opts)
client.on('packetsend', p => rec('send', p))
client.on('packetreceive', p => rec('recv', p))
client.on('error', e => { note('error', { message: e.message, code: e.code }) })
const received = []
client.on('message', (topic) => received.push(topic))
let started = false
client.on('close', () => {
  note('close')
  if (!started) { client.end(true); finish(args.script === 'session' ? 1 : 0) }
})
client.on('connect', async () => {
  if (started) return
  started = true
  try {
    if (args.script === 'session') {
      await client.subscribeAsync('wsdoctor/tls/#', { qos: 2 })
      for (const q of [0, 1, 2]) await client.publishAsync('wsdoctor/tls/q' + q, 'hello over wss at qos ' + q, { qos: q })
      const until = Date.now() + 5000
      while (received.length < 3 && Date.now() < until) await delay(20)
    }
    await delay(200)
    await client.endAsync()
    finish(0)
  } catch (e) {
    note('script error', { message: String(e && e.message) })
    client.end(true)
    finish(1)
  }
})
setTimeout(() => { note('timeout'); client.end(true); finish(2) }, 30000)
client.connect()
