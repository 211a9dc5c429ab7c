// WebSocket clients that carry secrets the way devices and SDKs do.
//  A: MQTT.js 5 over npm ws to PATH?access_token=JWT1, with
//     Authorization: Bearer JWT2, a Cookie, and JWT3 offered as a second
//     subprotocol (after "mqtt"); MQTT CONNECT with a user name and password,
//     one PUBLISH, DISCONNECT. First to /mqtt (nginx -> mosquitto, which
//     closes the connection on the JWT subprotocol: nginx answers 502), then
//     to /aedes (nginx -> aedes behind npm ws, which selects mqtt).
//  B: npm ws to /denied?token=...&signature=... (nginx answers 401).
// Writes what was sent and received, and the list of secret values, to --log.
'use strict';
const crypto = require('crypto');
const WebSocket = require('ws');
const mqtt = require('mqtt');

const args = Object.fromEntries(process.argv.slice(2).reduce((a, x, i, all) => {
  if (x.startsWith('--')) a.push([x.slice(2), all[i + 1]]);
  return a;
}, []));
const host = args.host || '127.0.0.1';
const b64url = (b) => Buffer.from(b).toString('base64').replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
// Real HS256 JWTs signed with a throw-away key.
function jwt(sub, aud) {
  const h = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const p = b64url(JSON.stringify({ sub, aud, iat: 1795600000, exp: 1795603600 }));
  const s = b64url(crypto.createHmac('sha256', 'wsdoctor-test-key-not-a-secret').update(h + '.' + p).digest());
  return `${h}.${p}.${s}`;
}
const JWT1 = jwt('device-42', 'query');
const JWT2 = jwt('device-42', 'header');
const JWT3 = jwt('device-42', 'subprotocol');
const COOKIE_SESSION = 'sess-' + crypto.createHash('sha256').update('session').digest('hex').slice(0, 24);
const COOKIE_CSRF = 'csrf-' + crypto.createHash('sha256').update('csrf').digest('hex').slice(0, 16);
const PASSWORD = 'hunter2-device-42';
const TOKEN = 'tok-' + crypto.createHash('sha256').update('token').digest('hex').slice(0, 20);
const SIGNATURE = 'sig-' + crypto.createHash('sha256').update('signature').digest('hex').slice(0, 20);
const log = { client: `mqtt ${require('mqtt/package.json').version}, ws ${require('ws/package.json').version}, node ${process.version}`, sent: {}, received: {}, events: [] };
log.secrets = { JWT1, JWT2, JWT3, COOKIE_SESSION, COOKIE_CSRF, PASSWORD, TOKEN, SIGNATURE };

function clientA(path, name) {
  return new Promise((resolve) => {
    const url = `ws://${host}${path}?access_token=${JWT1}`;
    const headers = { Authorization: `Bearer ${JWT2}`, Cookie: `session=${COOKIE_SESSION}; csrftoken=${COOKIE_CSRF}` };
    log.sent[name] = { url, headers, subprotocols: ['mqtt', JWT3], username: 'device-42', password: PASSWORD };
    const c = mqtt.connect(url, {
      protocolVersion: 4, clientId: 'device-42', username: 'device-42', password: PASSWORD,
      keepalive: 30, reconnectPeriod: 0, connectTimeout: 5000,
      createWebsocket: (u, protocols, opts) => {
        const ws = new WebSocket(u, protocols.concat([JWT3]), { headers });
        ws.on('upgrade', (res) => { log.received[name] = { status: res.statusCode, headers: res.headers }; });
        ws.on('unexpected-response', (req, res) => { log.received[name] = { status: res.statusCode, headers: res.headers }; res.resume(); });
        return ws;
      },
    });
    c.on('packetsend', (p) => log.events.push([name, 'send', p.cmd]));
    c.on('packetreceive', (p) => log.events.push([name, 'receive', p.cmd]));
    c.on('connect', () => {
      c.publish('devices/device-42/telemetry', '{"temp":21.5}', { qos: 1 }, () => c.end(false, {}, () => resolve()));
    });
    c.on('error', (e) => { log.events.push([name, 'error', String(e)]); c.end(true); resolve(); });
    setTimeout(resolve, 8000);
  });
}

function clientB() {
  return new Promise((resolve) => {
    const url = `ws://${host}/denied?device=42&token=${TOKEN}&signature=${SIGNATURE}`;
    log.sent.B = { url, subprotocols: ['mqtt'] };
    const ws = new WebSocket(url, ['mqtt']);
    ws.on('unexpected-response', (req, res) => {
      log.received.B = { status: res.statusCode, headers: res.headers };
      res.resume();
      res.on('end', () => { req.destroy(); resolve(); });
    });
    ws.on('error', (e) => { log.events.push(['B', 'error', String(e)]); resolve(); });
    setTimeout(resolve, 5000);
  });
}

(async () => {
  await clientA('/mqtt', 'A1');
  await new Promise((r) => setTimeout(r, 300));
  await clientA('/aedes', 'A2');
  await new Promise((r) => setTimeout(r, 300));
  await clientB();
  await new Promise((r) => setTimeout(r, 300));
  log.secrets.SET_COOKIE = 'lb-7f3a9c2e5b1d4a86-sticky';
  require('fs').writeFileSync(args.log, JSON.stringify(log, null, 1) + '\n');
  process.exit(0);
})();
