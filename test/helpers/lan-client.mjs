// A one-shot HTTP client for tests, run inside a network namespace (`ip netns exec <ns> node lan-client.mjs
// '<json>'`) so the server sees a genuine non-loopback peer. Sends the path exactly as given (no URL clean-up,
// so traversal attempts arrive as written) and prints one JSON line: { status, headers, body } or { error }.
// With "upgrade": a websocket handshake; with "hold" as well, it keeps the socket open, prints
// {"status":101,"open":true} and then, when the server closes it, a second line { closed: true }.
import { request } from 'node:http';
import { randomBytes } from 'node:crypto';

const spec = JSON.parse(process.argv[2]);
const url = new URL(spec.url);
const headers = { ...(spec.headers ?? {}) };
if (spec.upgrade) {
  Object.assign(headers, {
    connection: 'Upgrade',
    upgrade: 'websocket',
    'sec-websocket-version': '13',
    'sec-websocket-key': randomBytes(16).toString('base64'),
  });
}
const body = spec.body === undefined ? undefined : typeof spec.body === 'string' ? spec.body : JSON.stringify(spec.body);
if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
const print = (value) => process.stdout.write(`${JSON.stringify(value)}\n`);
const timer = setTimeout(() => {
  print({ error: 'timeout' });
  process.exit(0);
}, spec.timeoutMs ?? 5000);

const req = request({ host: url.hostname, port: url.port, method: spec.method ?? 'GET', path: spec.path ?? url.pathname, headers, agent: false });
req.on('error', (error) => {
  print({ error: error.code ?? error.message });
  process.exit(0);
});
req.on('upgrade', (res, socket) => {
  print({ status: res.statusCode, headers: res.headers, open: true });
  if (!spec.hold) {
    socket.destroy();
    clearTimeout(timer);
    return;
  }
  socket.on('close', () => {
    print({ closed: true });
    clearTimeout(timer);
  });
  socket.on('error', () => undefined);
  socket.resume();
});
req.on('response', (res) => {
  let text = '';
  res.setEncoding('utf8');
  res.on('data', (chunk) => (text += chunk));
  res.on('end', () => {
    print({ status: res.statusCode, headers: res.headers, body: text.slice(0, 20000) });
    clearTimeout(timer);
  });
});
req.end(body);
