#!/usr/bin/env node
// A device made with MQTT.js 5 over npm "ws" that reaches its broker through an HTTP CONNECT proxy:
// npm https-proxy-agent (HttpsProxyAgent) is handed to ws as wsOptions.agent, so every connection
// starts with "CONNECT host:port HTTP/1.1" to the proxy; after a 2xx the agent hands the tunnel to
// ws (ws://) or wraps it in TLS first (wss://, SNI = the URL's host).  Writes its own log to --log
// (JSON): every MQTT packet sent and received ('packetsend' / 'packetreceive'), the proxy's answer
// when it is not 2xx (the request's 'response' event: status, message, headers), the WebSocket
// events of npm ws and each connection's open / close: the client-side oracle.  Record format as in
// ../field/field_mqttjs.js.  Run with `node --tls-keylog=X.keys` for the TLS key log.
// Modules come from NODE_PATH (npm install mqtt@5 ws https-proxy-agent@7).
//
//   node proxy_mqttjs.js --url ws://broker.example:8080/mqtt --proxy http://127.0.0.1:8888 --log X.client.json
//   --ca FILE           CA certificate for wss:// (certificate and host name are checked)
//   --client-id ID      (default wsdoctor-proxy)
//   --reconnect-ms MS   reconnectPeriod (default 1000; 0 = never reconnect)
//   --closes N          stop once N connections have closed (default 3)
//   --run-ms MS         stop after MS ms whatever happened (default 20000)
//   --script S          on CONNACK: pub = one QoS 1 PUBLISH to wsdoctor/proxy/ID/status, then DISCONNECT
//                       (client.endAsync) and stop; none = stay connected
'use strict'
const mqtt = require('mqtt')
const fs = require('fs')
const WebSocket = require('ws')
const { HttpsProxyAgent } = require('https-proxy-agent')

const args = { url: 'ws://broker.example:8080/mqtt', proxy: 'http://127.0.0.1:8888', clientId: 'wsdoctor-proxy',
  reconnectMs: 1000, closes: 3, runMs: 20000, script: 'pub' }
for (let i = 2; i < process.argv.length; i++) {
  const k = process.argv[i].replace(/^--/, '').replace(/-([a-z])/g, (m, c) => c.toUpperCase())
  args[k] = process.argv[++i]
}
for (const k of ['reconnectMs', 'closes', 'runMs']) args[k] = Number(args[k])

const t0 = Date.now()
const log = []
const now = () => (Date.now() - t0) / 1000
let conns = 0
let closes = 0
function rec (dir, p) {
  const r = { t: now(), conn: conns, dir, type: (p.cmd || '').toUpperCase() }
  for (const k of ['messageId', 'qos', 'retain', 'dup', 'topic', 'returnCode', 'reasonCode', 'sessionPresent',
    'clientId', 'protocolVersion', 'protocolId', 'keepalive', 'clean']) {
    if (p[k] !== undefined && p[k] !== null) r[k === 'messageId' ? 'packet_id' : k] = p[k]
  }
  if (p.payload !== undefined && p.payload !== null) r.payload_len = Buffer.byteLength(p.payload)
  if (p.cmd === 'publish' && r.payload_len <= 200) r.payload = p.payload.toString()
  log.push(r)
}
function note (what, extra) { log.push(Object.assign({ t: now(), conn: conns, event: what }, extra || {})) }

const agent = new HttpsProxyAgent(args.proxy)
const wsOptions = { agent, perMessageDeflate: false }
if (args.ca) wsOptions.ca = fs.readFileSync(args.ca)
const opts = {
  protocolVersion: 4,
  clientId: args.clientId,
  reconnectPeriod: args.reconnectMs,
  connectTimeout: 5000,
  keepalive: 60,
  clean: true,
  wsOptions,
  manualConnect: true,
  createWebsocket: (url, protocols, o) => {
    conns++
    const ws = new WebSocket(url, protocols, o.wsOptions)
    note('ws connect', { url, protocols, proxy: args.proxy })
    if (ws._req) {
      ws._req.on('response', res => note('http response (not 101)', { status: res.statusCode, message: res.statusMessage, headers: res.rawHeaders }))
    }
    ws.on('upgrade', res => {
      const s = res.socket
      note('ws upgrade', { status: res.statusCode, headers: res.rawHeaders, tls: (s.getProtocol && s.getProtocol()) || null })
    })
    ws.on('open', () => note('ws open', { protocol: ws.protocol }))
    ws.on('error', e => note('ws error', { message: e.message, code: e.code }))
    ws.on('close', (code, reason) => note('ws close', { code, reason: reason.toString() }))
    return ws
  }
}
if (args.ca) opts.ca = wsOptions.ca

const delay = ms => new Promise(resolve => setTimeout(resolve, ms))
let finished = false
async function finish (code, why) {
  if (finished) return
  finished = true
  note('end', { code, why, connected: client.connected })
  if (client.connected) await Promise.race([client.endAsync(), delay(2000)])
  else client.end(true)
  fs.writeFileSync(args.log, JSON.stringify({
    client: 'MQTT.js ' + mqtt.MQTTJS_VERSION + ' (node ' + process.version + ', OpenSSL ' + process.versions.openssl +
      ', npm ws ' + require('ws/package.json').version + ', https-proxy-agent ' +
      require('https-proxy-agent/package.json').version + ')',
    url: args.url,
    proxy: args.proxy,
    t0_epoch: t0 / 1000,
    options: { clientId: args.clientId, reconnectPeriod: args.reconnectMs, stopAfterCloses: args.closes, script: args.script },
    log
  }, null, 1) + '\n')
  setTimeout(() => process.exit(code), 200)
}

const client = mqtt.connect(args.url, opts)
client.on('packetsend', p => rec('send', p))
client.on('packetreceive', p => rec('recv', p))
client.on('error', e => note('error', { message: e.message, code: e.code }))
client.on('offline', () => note('offline'))
client.on('reconnect', () => note('reconnect'))
client.on('close', () => {
  closes++
  note('close', { closes })
  if (closes >= args.closes) finish(0, 'closes=' + closes)
})
client.on('connect', async () => {
  if (args.script !== 'pub') return
  try {
    await client.publishAsync('wsdoctor/proxy/' + args.clientId + '/status', JSON.stringify({ conn: conns, via: args.proxy }), { qos: 1 })
    await delay(200)
    finish(0, 'published')
  } catch (e) {
    note('script error', { message: String(e && e.message) })
  }
})
setTimeout(() => finish(0, 'run-ms'), args.runMs)
client.connect()
