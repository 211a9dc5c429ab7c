#!/usr/bin/env node
// npm aedes (MQTT broker) behind an npm ws WebSocketServer whose handleProtocols returns false:
// the 101 carries NO Sec-WebSocket-Protocol even when the client offers "mqtt" (a server that
// selects no subprotocol).  The broker behind it works: a client that ignores the missing
// subprotocol gets a normal MQTT session.
//   --port 8080  --run-for MS (default 20000)  --log FILE (server-side WebSocket events)
// Modules from NODE_PATH (npm install mqtt@5 ws aedes).
'use strict'
const { Aedes } = require('aedes')
const { WebSocketServer, createWebSocketStream } = require('ws')
const fs = require('fs')

const args = { port: 8080, runFor: 20000 }
for (let i = 2; i < process.argv.length; i += 2) {
  args[process.argv[i].replace(/^--/, '').replace(/-([a-z])/g, (m, c) => c.toUpperCase())] = process.argv[i + 1]
}
const log = []
const t0 = Date.now()
const note = (event, extra) => log.push(Object.assign({ t: (Date.now() - t0) / 1000, event }, extra || {}))
let aedesVersion = '?'
function save () {
  fs.writeFileSync(args.log || '/dev/null', JSON.stringify({
    server: 'aedes ' + aedesVersion + ' + ws ' + require('ws/package.json').version + ' (node ' + process.version + '), handleProtocols: () => false',
    log
  }, null, 1))
}

async function main () {
  const aedes = await Aedes.createBroker()
  aedesVersion = aedes.version
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: Number(args.port),
    perMessageDeflate: false,
    handleProtocols: (protocols, req) => { note('handleProtocols', { offered: [...protocols], selected: false }); return false }
  })
  wss.on('connection', (ws, req) => {
    note('ws connection', { request_headers: req.rawHeaders, protocol: ws.protocol })
    ws.on('close', (code, reason) => note('ws close', { code, reason: reason.toString() }))
    ws.on('error', e => note('ws error', { message: e.message }))
    const stream = createWebSocketStream(ws)
    stream.on('error', e => note('stream error', { message: e.message }))
    aedes.handle(stream, req)
  })
  aedes.on('client', c => note('broker: client connected', { id: c.id }))
  aedes.on('clientDisconnect', c => note('broker: client disconnected', { id: c.id }))
  aedes.on('publish', (p, c) => { if (c) note('broker got PUBLISH', { topic: p.topic, qos: p.qos, payload_len: p.payload.length }) })
  wss.on('listening', () => note('listening', { port: Number(args.port) }))
  setTimeout(() => {
    save()
    wss.close()
    aedes.close(() => process.exit(0))
    setTimeout(() => process.exit(0), 500)
  }, Number(args.runFor))
  process.on('SIGTERM', () => { save(); process.exit(0) })
}
main()
