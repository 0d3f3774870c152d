// API tokens for programs (`Authorization: Bearer …`). A token is 32 random bytes, shown once when made; only its
// SHA-256 is kept. A fast hash is enough here because, unlike a password, a token has all the entropy it needs.
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { TokenRecord } from '../settings/settings-store.js';

const PREFIX = 'easel_';

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** A new token and the record to keep for it; the token itself is never stored. */
export function makeToken(name: string, now = new Date()): { token: string; record: TokenRecord } {
  const token = PREFIX + randomBytes(32).toString('base64url');
  return { token, record: { id: randomUUID(), name, hash: hashToken(token), createdAt: now.toISOString() } };
}

/** The record a presented token belongs to, compared in constant time against every stored hash. */
export function findToken(records: readonly TokenRecord[], presented: string): TokenRecord | undefined {
  if (!presented.startsWith(PREFIX) || presented.length > 200) return undefined;
  const digest = Buffer.from(hashToken(presented), 'hex');
  let found: TokenRecord | undefined;
  for (const record of records) {
    const stored = Buffer.from(record.hash, 'hex');
    // No early exit: every record costs the same, so timing says nothing about which one matched.
    if (stored.length === digest.length && timingSafeEqual(stored, digest)) found = record;
  }
  return found;
}
