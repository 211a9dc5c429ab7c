#!/usr/bin/env node
// MQTT over npm ws, written by hand with npm mqtt-packet (one MQTT packet per WebSocket message),
// to control the WebSocket close: CONNECT, CONNACK, PUBLISH QoS 0, DISCONNECT, then
// ws.close(1000, 'bye') (--mode client), or wait for the server to close (--mode server).
//   node ws_close_client.js --url ws://127.0.0.1:8080/mqtt --mode client --log X.client.json
'use strict'
const WebSocket = require('ws')
const mqttPacket = require('mqtt-packet')
const fs = require('fs')

const args = { url: 'ws://127.0.0.1:8080/mqtt', mode: 'client' }
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1]
const t0 = Date.now()
const log = []
const note = (o) => log.push(Object.assign({ t: (Date.now() - t0) / 1000 }, o))
function finish (code) {
  fs.writeFileSync(args.log, JSON.stringify({
    client: 'ws_close_client.js: npm ws ' + require('ws/package.json').version + ' + mqtt-packet ' +
      require('mqtt-packet/package.json').version + ' (node ' + process.version + ')',
    url: args.url, mode: args.mode, log
  }, null, 1))
  process.exit(code)
}
setTimeout(() => { note({ event: 'timeout' }); finish(2) }, 15000)

const ws = new WebSocket(args.url, ['mqtt'], { perMessageDeflate: false })
const parser = mqttPacket.parser({ protocolVersion: 4 })
function send (p) {
  const buf = mqttPacket.generate(p)
  note({ dir: 'send', type: p.cmd.toUpperCase(), topic: p.topic, qos: p.qos, payload_len: p.payload ? Buffer.byteLength(p.payload) : undefined, ws_message_len: buf.length })
  ws.send(buf)
}
parser.on('packet', p => {
  note({ dir: 'recv', type: p.cmd.toUpperCase(), returnCode: p.returnCode })
  if (p.cmd === 'connack') {
    send({ cmd: 'publish', topic: 'wsdoctor/close/test', payload: 'about to close', qos: 0, retain: false, dup: false })
    if (args.mode === 'client') {
      setTimeout(() => {
        send({ cmd: 'disconnect' })
        note({ event: 'ws.close(1000, "bye")' })
        ws.close(1000, 'bye')
      }, 200)
    }
  }
})
ws.on('open', () => {
  note({ event: 'ws open', protocol: ws.protocol })
  send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'wsdoctor-close-' + args.mode, keepalive: 30 })
})
ws.on('message', d => parser.parse(d))
ws.on('close', (code, reason) => { note({ event: 'ws close', code, reason: reason.toString() }); setTimeout(() => finish(0), 100) })
ws.on('error', e => note({ event: 'ws error', message: e.message }))
