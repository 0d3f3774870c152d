// Where requests come from: loopback peers, Host headers a local browser sends, same-origin checks, and paths
// that try to leave their folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { climbsOut, hostName, isLocalHostHeader, isLoopbackAddress, isLoopbackHost, isSameOrigin } from '../../server/src/auth/request-origin.js';

test('loopback peers: 127/8, ::1 and IPv4-mapped loopback; nothing else', () => {
  for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1', '::FFFF:127.0.0.9']) assert.equal(isLoopbackAddress(a), true, a);
  for (const a of ['10.0.0.2', '192.168.1.5', '::ffff:10.0.0.2', 'fe80::1', '128.0.0.1', '', undefined, '::']) {
    assert.equal(isLoopbackAddress(a), false, String(a));
  }
});

test('bind addresses that keep the server on this machine', () => {
  for (const h of ['127.0.0.1', 'localhost', '::1', '[::1]', 'easel.localhost']) assert.equal(isLoopbackHost(h), true, h);
  for (const h of ['0.0.0.0', '::', '192.168.1.5', 'my-pc']) assert.equal(isLoopbackHost(h), false, h);
});

test('host names out of Host headers', () => {
  assert.equal(hostName('[::1]:9000'), '::1');
  assert.equal(hostName('Easel.Local:80'), 'easel.local');
  assert.equal(hostName('10.0.0.1'), '10.0.0.1');
});

test('Host headers a local browser sends pass; a rebinding domain does not', () => {
  const names = ['studio-pc', 'studio-pc.local'];
  for (const h of ['localhost:9000', '127.0.0.1:9000', '[::1]:9000', 'app.localhost', '192.168.1.5:9000', 'STUDIO-PC:9000', 'studio-pc.local.', undefined]) {
    assert.equal(isLocalHostHeader(h, names), true, String(h));
  }
  for (const h of ['evil.example:9000', 'localhost.evil.example', '127.0.0.1.nip.io:9000']) assert.equal(isLocalHostHeader(h, names), false, h);
});

test('same origin: scheme-agnostic host and port match; no Origin is not cross-site', () => {
  assert.equal(isSameOrigin(undefined, 'localhost:9000'), true);
  assert.equal(isSameOrigin('http://localhost:9000', 'localhost:9000'), true);
  assert.equal(isSameOrigin('http://LOCALHOST:9000', 'localhost:9000'), true);
  assert.equal(isSameOrigin('http://192.168.1.5', '192.168.1.5:80'), true, 'default ports are the same port');
  assert.equal(isSameOrigin('http://[::1]:9000', '[::1]:9000'), true);
  for (const [origin, host] of [
    ['http://localhost:9001', 'localhost:9000'],
    ['http://127.0.0.1:9000', 'localhost:9000'],
    ['https://evil.example', 'localhost:9000'],
    ['http://localhost:9000.evil.example', 'localhost:9000'],
    ['null', 'localhost:9000'],
    ['file://', 'localhost:9000'],
    ['http://localhost:9000', undefined],
    ['not a url', 'localhost:9000'],
  ] as const) {
    assert.equal(isSameOrigin(origin, host), false, `${origin} → ${host}`);
  }
});

test('paths that climb out, in any spelling', () => {
  for (const p of [
    '/../etc/passwd',
    '/api/images/..%2f..%2fetc%2fpasswd',
    '/%2e%2e/%2e%2e/etc/passwd',
    '/%2E%2E/x',
    '/a/%252e%252e/b',
    '/..%5c..%5cwindows',
    '/a/./b',
    '/bad%zzescape',
  ]) {
    assert.equal(climbsOut(p), true, p);
  }
  for (const p of ['/', '/api/jobs', '/api/images/3f2a-0.png', '/assets/index-abc.js', '/api/gallery?q=..%2f..', '/a..b/c...d']) {
    assert.equal(climbsOut(p), false, p);
  }
});
