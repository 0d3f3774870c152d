// The access password, kept only as a salted scrypt hash. The parameters travel with the hash so a later release
// can make hashing slower without locking out an existing owner.
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import type { PasswordHash } from '../settings/settings-store.js';

/** 2^15 × 8 × 128 bytes = 32 MiB and about 50–100 ms per try: cheap for one login, slow for a guesser. */
const DEFAULTS = { N: 1 << 15, r: 8, p: 1 } as const;
const KEY_BYTES = 32;
/** Longer inputs are refused before hashing, so a huge body cannot buy a long scrypt run. */
export const MAX_PASSWORD_CHARS = 1024;
export const MIN_PASSWORD_CHARS = 8;

function derive(password: string, salt: Buffer, params: { N: number; r: number; p: number }, bytes = KEY_BYTES): Promise<Buffer> {
  const options: ScryptOptions = { N: params.N, r: params.r, p: params.p, maxmem: 128 * params.N * params.r * 2 };
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFC'), salt, bytes, options, (error, key) => (error ? reject(error) : resolve(key))),
  );
}

export async function hashPassword(password: string, params: { N: number; r: number; p: number } = DEFAULTS): Promise<PasswordHash> {
  const salt = randomBytes(16);
  const hash = await derive(password, salt, params);
  return { algorithm: 'scrypt', ...params, salt: salt.toString('base64'), hash: hash.toString('base64') };
}

/** Constant-time comparison of the derived key; false (never a throw) for a stored hash it cannot read. */
export async function verifyPassword(password: string, stored: PasswordHash): Promise<boolean> {
  if (password.length > MAX_PASSWORD_CHARS) return false;
  const expected = Buffer.from(stored.hash, 'base64');
  if (expected.length === 0) return false;
  let actual: Buffer;
  try {
    actual = await derive(password, Buffer.from(stored.salt, 'base64'), stored, expected.length);
  } catch {
    return false;
  }
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
