#!/usr/bin/env node
// npm aedes (MQTT 3.1/3.1.1 broker) behind an npm ws WebSocketServer (createWebSocketStream).
//   --port 8080 --deflate off|on|nocontext  (on = permessage-deflate, threshold 0, context takeover;
//   nocontext = server_no_context_takeover + client_no_context_takeover)
//   --close-after MS   close every WebSocket MS ms after it opened, code 1001 "server going down"
//   --run-for MS       exit after MS ms (default 20000)   --log FILE (server-side WebSocket events)
// Modules from NODE_PATH (npm install mqtt@5 ws aedes in /work/scratch/samplesB).
'use strict'
const { Aedes } = require('aedes')
const { WebSocketServer, createWebSocketStream } = require('ws')
const fs = require('fs')

const args = { port: 8080, deflate: 'off', runFor: 20000 }
for (let i = 2; i < process.argv.length; i += 2) {
  args[process.argv[i].replace(/^--/, '').replace(/-([a-z])/g, (m, c) => c.toUpperCase())] = process.argv[i + 1]
}
const log = []
const t0 = Date.now()
const note = (event, extra) => log.push(Object.assign({ t: (Date.now() - t0) / 1000, event }, extra || {}))

async function main () {
  const aedes = await Aedes.createBroker()
  let perMessageDeflate = false
  if (args.deflate === 'on') perMessageDeflate = { threshold: 0 }
  if (args.deflate === 'nocontext') perMessageDeflate = { threshold: 0, serverNoContextTakeover: true, clientNoContextTakeover: true }
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: Number(args.port),
    perMessageDeflate,
    handleProtocols: (protocols) => protocols.has('mqtt') ? 'mqtt' : (protocols.has('mqttv3.1') ? 'mqttv3.1' : false)
  })
  wss.on('connection', (ws, req) => {
    note('ws connection', { request_headers: req.rawHeaders, protocol: ws.protocol, extensions: ws.extensions })
    ws.on('close', (code, reason) => note('ws close', { code, reason: reason.toString() }))
    const stream = createWebSocketStream(ws)
    stream.on('error', e => note('stream error', { message: e.message }))
    aedes.handle(stream, req)
    if (args.closeAfter) setTimeout(() => { note('server closes 1001'); ws.close(1001, 'server going down') }, Number(args.closeAfter))
  })
  aedes.on('publish', (p, c) => { if (c) note('broker got PUBLISH', { topic: p.topic, qos: p.qos, payload_len: p.payload.length }) })
  wss.on('listening', () => note('listening', { port: Number(args.port) }))
  setTimeout(() => {
    fs.writeFileSync(args.log || '/dev/null', JSON.stringify({
      server: 'aedes ' + aedes.version + ' + ws ' + require('ws/package.json').version + ' (node ' + process.version + ')',
      deflate: args.deflate,
      log
    }, null, 1))
    wss.close()
    aedes.close(() => process.exit(0))
    setTimeout(() => process.exit(0), 500)
  }, Number(args.runFor))
  process.on('SIGTERM', () => { fs.writeFileSync(args.log || '/dev/null', JSON.stringify({ server: 'aedes ' + aedes.version, deflate: args.deflate, log }, null, 1)); process.exit(0) })
}
main()
