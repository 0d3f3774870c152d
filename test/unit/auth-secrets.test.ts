// The access password and API tokens at rest: salted scrypt for the password, SHA-256 for tokens, constant-time
// comparisons, and nothing stored that could be used to sign in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { hashPassword, verifyPassword } from '../../server/src/auth/password.js';
import { findToken, hashToken, makeToken } from '../../server/src/auth/api-tokens.js';

test('a password verifies against its hash, a wrong one does not, and the hash does not contain it', async () => {
  const stored = await hashPassword('correct horse battery');
  assert.equal(stored.algorithm, 'scrypt');
  assert.equal(stored.N, 1 << 15);
  assert.equal(Buffer.from(stored.salt, 'base64').length, 16);
  assert.equal(Buffer.from(stored.hash, 'base64').length, 32);
  assert.doesNotMatch(JSON.stringify(stored), /horse/);
  assert.equal(await verifyPassword('correct horse battery', stored), true);
  assert.equal(await verifyPassword('correct horse batterY', stored), false);
  assert.equal(await verifyPassword('', stored), false);
});

test('the same password hashes differently each time (a fresh salt), and both verify', async () => {
  const params = { N: 1024, r: 8, p: 1 };
  const [a, b] = [await hashPassword('hunter22', params), await hashPassword('hunter22', params)];
  assert.notEqual(a.salt, b.salt);
  assert.notEqual(a.hash, b.hash);
  assert.equal(await verifyPassword('hunter22', a), true);
  assert.equal(await verifyPassword('hunter22', b), true);
});

test('stored parameters are honoured, so hashes made with other costs keep working', async () => {
  const light = await hashPassword('pässwörd', { N: 16, r: 1, p: 1 });
  assert.equal(await verifyPassword('pässwörd', light), true);
  // NFC and NFD spellings of the same text are the same password (phones and desktops differ here).
  assert.equal(await verifyPassword('pa\u0308sswo\u0308rd', light), true);
});

test('a damaged or oversized input is a plain "no", never a throw', async () => {
  const stored = await hashPassword('hunter22', { N: 16, r: 1, p: 1 });
  assert.equal(await verifyPassword('hunter22', { ...stored, hash: '' }), false);
  assert.equal(await verifyPassword('hunter22', { ...stored, N: 3 }), false, 'N must be a power of two: scrypt refuses');
  assert.equal(await verifyPassword('x'.repeat(5000), stored), false);
});

test('tokens: 32 random bytes behind a prefix; only the SHA-256 is kept', () => {
  const { token, record } = makeToken('script', new Date('2025-01-02T03:04:05Z'));
  assert.match(token, /^easel_[A-Za-z0-9_-]{43}$/);
  assert.equal(record.hash, createHash('sha256').update(token).digest('hex'));
  assert.equal(record.hash, hashToken(token));
  assert.equal(record.createdAt, '2025-01-02T03:04:05.000Z');
  assert.doesNotMatch(JSON.stringify(record), new RegExp(token.slice(6)));
  assert.notEqual(makeToken('script').token, token);
});

test('findToken picks the matching record and rejects near misses', () => {
  const a = makeToken('a');
  const b = makeToken('b');
  const records = [a.record, b.record];
  assert.equal(findToken(records, b.token)?.name, 'b');
  assert.equal(findToken(records, a.token)?.name, 'a');
  assert.equal(findToken(records, `${a.token}x`), undefined);
  assert.equal(findToken(records, a.token.slice(0, -1)), undefined);
  assert.equal(findToken(records, a.record.hash), undefined, 'the stored hash is not a token');
  assert.equal(findToken([], a.token), undefined);
});
