#!/usr/bin/env node
// One MQTT.js 5 session (over npm "ws" unless --native) that follows a small script and writes its
// own log of every MQTT packet it sent and received ('packetsend' / 'packetreceive' events) to
// --log as JSON: the client-side oracle for captures of MQTT inside WebSocket.
// Modules come from NODE_PATH (npm install mqtt@5 ws aedes in /work/scratch/samplesB).
//
//   node mqttjs_session.js --url ws://127.0.0.1:8080/mqtt --script basic --log X.client.json
//   options: --pv 3|4|5 (3 = MQTT 3.1 "MQIsdp")  --client-id ID  --attempts N (reconnects 1 s apart
//   when the connection fails)  --deflate on|nocontext|off  --native (Node's built-in WebSocket)
//   --big N (payload bytes for --script large)  --user U --pass P
//   scripts: none | pub | basic | large | props | toolarge | refused
'use strict'
const mqtt = require('mqtt')
const fs = require('fs')

const args = { url: 'ws://127.0.0.1:8080/mqtt', script: 'basic', pv: 4, attempts: 1, deflate: 'default', big: 150000 }
for (let i = 2; i < process.argv.length; i++) {
  const k = process.argv[i].replace(/^--/, '')
  if (k === 'native') { args.native = true; continue }
  args[k.replace(/-([a-z])/g, (m, c) => c.toUpperCase())] = process.argv[++i]
}
args.pv = Number(args.pv)
args.attempts = Number(args.attempts)

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
  if (p.unsubscriptions) r.unsubscriptions = p.unsubscriptions
  if (p.will) r.will = { topic: p.will.topic, payload_len: Buffer.byteLength(p.will.payload), qos: p.will.qos, retain: p.will.retain }
  if (p.properties && Object.keys(p.properties).length) r.properties = p.properties
  log.push(r)
}
function note (what, extra) { log.push(Object.assign({ t: (Date.now() - t0) / 1000, event: what }, extra || {})) }

const wsOptions = {}
if (args.deflate === 'on') wsOptions.perMessageDeflate = { threshold: 0 }
if (args.deflate === 'nocontext') wsOptions.perMessageDeflate = { threshold: 0, serverNoContextTakeover: true, clientNoContextTakeover: true }
if (args.deflate === 'off') wsOptions.perMessageDeflate = false

const opts = {
  protocolVersion: args.pv,
  clientId: args.clientId || 'wsdoctor-mqttjs',
  reconnectPeriod: args.attempts > 1 ? 1000 : 0,
  connectTimeout: 5000,
  keepalive: 30,
  clean: true,
  wsOptions
}
if (args.pv === 3) { opts.protocolId = 'MQIsdp' }
if (args.native) {
  opts.forceNativeWebSocket = true
} else {
  // same as MQTT.js's own createWebSocket, plus a record of the WebSocket-level events
  const WebSocket = require('ws')
  opts.createWebsocket = (url, protocols, o) => {
    const ws = new WebSocket(url, protocols, o.wsOptions)
    note('ws connect', { url, protocols })
    ws.on('upgrade', res => note('ws upgrade', { status: res.statusCode, headers: res.rawHeaders }))
    ws.on('unexpected-response', (req, res) => { note('ws unexpected-response', { status: res.statusCode }); req.destroy() })
    ws.on('open', () => note('ws open', { protocol: ws.protocol, extensions: ws.extensions }))
    ws.on('error', e => note('ws error', { message: e.message }))
    ws.on('ping', d => note('ws ping', { data: d.toString() }))
    ws.on('close', (code, reason) => note('ws close', { code, reason: reason.toString() }))
    return ws
  }
}
if (args.user) { opts.username = args.user; opts.password = args.pass || '' }
if (args.will) opts.will = { topic: 'wsdoctor/will/' + opts.clientId, payload: 'gone', qos: 1, retain: false }
if (args.script === 'props') {
  opts.properties = { topicAliasMaximum: 10, receiveMaximum: 20, userProperties: { site: 'wsdoctor', 'room': 'lab-1' } }
  opts.autoAssignTopicAlias = true
}

const delay = ms => new Promise(resolve => setTimeout(resolve, ms))
let fails = 0
let finished = false
function finish (code) {
  if (finished) return
  finished = true
  note('end', { code })
  fs.writeFileSync(args.log, JSON.stringify({
    client: 'MQTT.js ' + mqtt.MQTTJS_VERSION + ' (node ' + process.version + ', ' + (args.native ? 'built-in WebSocket' : 'npm ws ' + require('ws/package.json').version) + ')',
    url: args.url, options: { protocolVersion: args.pv, clientId: opts.clientId, deflate: args.deflate, script: args.script },
    log
  }, null, 1))
  setTimeout(() => process.exit(code), 200)
}

opts.manualConnect = true  // attach the loggers before the first CONNECT is written
const client = mqtt.connect(args.url, opts)
client.on('packetsend', p => rec('send', p))
client.on('packetreceive', p => rec('recv', p))
client.on('error', e => { note('error', { message: e.message }) })
client.on('close', () => {
  note('close')
  if (!client.connected && !started) {
    fails++
    if (fails >= args.attempts) { client.end(true); finish(args.script === 'none' || args.script === 'refused' ? 0 : 1) }
  }
})
const received = []
client.on('message', (topic, payload, packet) => received.push(topic))
let started = false
client.on('connect', async (connack) => {
  if (started) return
  started = true
  try {
    await run()
    await delay(300)
    await client.endAsync()
    finish(0)
  } catch (e) {
    note('script error', { message: String(e && e.message) })
    client.end(true)
    finish(1)
  }
})
setTimeout(() => { note('timeout'); client.end(true); finish(2) }, 40000)
client.connect()

async function waitFor (n, ms) {
  const until = Date.now() + (ms || 5000)
  while (received.length < n && Date.now() < until) await delay(20)
}

async function run () {
  const s = args.script
  if (s === 'none' || s === 'refused') return
  if (s === 'pub') {
    await client.publishAsync('wsdoctor/coalesced/q0', 'qos 0 after a coalesced 101', { qos: 0 })
    await client.publishAsync('wsdoctor/coalesced/q1', 'qos 1 after a coalesced 101', { qos: 1 })
  } else if (s === 'basic') {
    await client.subscribeAsync('wsdoctor/test/#', { qos: 2 })
    await client.publishAsync('wsdoctor/test/q0', 'hello qos 0', { qos: 0 })
    await client.publishAsync('wsdoctor/test/q1', JSON.stringify({ n: 1, text: 'hello qos 1' }), { qos: 1 })
    await client.publishAsync('wsdoctor/test/q2', Buffer.alloc(300, 0x41), { qos: 2 })
    await waitFor(3)
    await client.unsubscribeAsync('wsdoctor/test/#')
  } else if (s === 'large') {
    await client.subscribeAsync('wsdoctor/big', { qos: 1 })
    const buf = Buffer.alloc(Number(args.big))
    for (let i = 0; i < buf.length; i++) buf[i] = 0x20 + (i * 7 + (i >> 8)) % 95
    await client.publishAsync('wsdoctor/big', buf, { qos: 1 })
    await waitFor(1, 10000)
  } else if (s === 'toolarge') {
    await client.publishAsync('wsdoctor/small', 'fits', { qos: 1 })
    client.publish('wsdoctor/toolarge', Buffer.alloc(Number(args.big), 0x5a), { qos: 1 })
    await delay(1500)
  } else if (s === 'props') {
    await client.subscribeAsync('wsdoctor/props/#', { qos: 1, properties: { subscriptionIdentifier: 7 } })
    const p1 = { qos: 1, properties: { messageExpiryInterval: 3600, contentType: 'application/json', responseTopic: 'wsdoctor/props/reply', correlationData: Buffer.from('req-0001'), payloadFormatIndicator: true, userProperties: { unit: 'celsius', sensor: 't1' } } }
    // autoAssignTopicAlias: first publish sends topic + alias, the next ones alias only
    for (let i = 0; i < 3; i++) await client.publishAsync('wsdoctor/props/temperature', JSON.stringify({ t: 21.5 + i }), p1)
    // an explicit topic alias
    await client.publishAsync('wsdoctor/props/humidity', '{"h":40}', { qos: 0, properties: { topicAlias: 5 } })
    await client.publishAsync('', '{"h":41}', { qos: 0, properties: { topicAlias: 5 } })
    await waitFor(5)
  }
}
