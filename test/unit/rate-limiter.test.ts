import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clientKey, FailureLimiter } from '../../server/src/auth/rate-limiter.js';

function limiter(maxClients = 100) {
  let now = 1_000_000;
  const l = new FailureLimiter({ maxFailures: 3, windowMs: 60_000, maxClients }, () => now);
  return { l, advance: (ms: number) => (now += ms) };
}

test('the fourth try after three failures waits until the oldest failure leaves the window', () => {
  const { l, advance } = limiter();
  l.fail('a');
  advance(10_000);
  l.fail('a');
  l.fail('a');
  assert.equal(l.retryAfterMs('a'), 50_000);
  assert.equal(l.retryAfterMs('b'), 0, 'other clients are not affected');
  advance(49_999);
  assert.equal(l.retryAfterMs('a'), 1);
  advance(1);
  assert.equal(l.retryAfterMs('a'), 0);
  l.fail('a');
  assert.equal(l.retryAfterMs('a'), 10_000, 'the window slides: two recent failures plus this one');
});

test('a success clears the count', () => {
  const { l } = limiter();
  l.fail('a');
  l.fail('a');
  l.succeed('a');
  l.fail('a');
  l.fail('a');
  assert.equal(l.retryAfterMs('a'), 0);
});

test('memory stays bounded: stale clients go first, then the least recently failed', () => {
  const { l, advance } = limiter(3);
  l.fail('old');
  advance(120_000);
  for (const c of ['b', 'c', 'd']) l.fail(c);
  assert.equal(l.size, 3);
  assert.equal(l.retryAfterMs('old'), 0);
  for (let i = 0; i < 3; i++) l.fail('e');
  assert.equal(l.size, 3);
  assert.ok(l.retryAfterMs('e') > 0, 'the newest offender is still limited');
});

test('clients are keyed by IPv4 address, or by the /64 of an IPv6 address', () => {
  assert.equal(clientKey('10.0.0.7'), '10.0.0.7');
  assert.equal(clientKey('::ffff:10.0.0.7'), '10.0.0.7');
  assert.equal(clientKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd'), '2001:db8:1:2::/64');
  assert.equal(clientKey('2001:db8:1:2::5'), '2001:db8:1:2::/64');
  assert.equal(clientKey('2001:0db8::1'), '2001:db8:0:0::/64');
  assert.equal(clientKey(undefined), 'unknown');
});
