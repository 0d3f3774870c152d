// Failed logins per client address: after `maxFailures` inside a sliding window, that address waits until the
// oldest failure leaves the window. Successful logins clear the count. Memory stays bounded however many
// addresses try.
import { isIP } from 'node:net';

export interface LimiterOptions {
  maxFailures: number;
  windowMs: number;
  /** Addresses remembered at most; the stalest are forgotten first. */
  maxClients: number;
}

export const LOGIN_LIMITS: LimiterOptions = { maxFailures: 10, windowMs: 15 * 60_000, maxClients: 10_000 };

export class FailureLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly options: LimiterOptions = LOGIN_LIMITS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Milliseconds this client must wait before its next try; 0 when it may try now. */
  retryAfterMs(client: string): number {
    const recent = this.recent(client);
    if (recent.length < this.options.maxFailures) return 0;
    return Math.max(1, recent[recent.length - this.options.maxFailures]! + this.options.windowMs - this.now());
  }

  fail(client: string): void {
    const recent = this.recent(client);
    recent.push(this.now());
    // Re-inserting moves the client to the end, so the Map's order is "least recently failed first".
    this.failures.delete(client);
    this.failures.set(client, recent.slice(-this.options.maxFailures));
    this.prune();
  }

  succeed(client: string): void {
    this.failures.delete(client);
  }

  get size(): number {
    return this.failures.size;
  }

  private recent(client: string): number[] {
    const since = this.now() - this.options.windowMs;
    return (this.failures.get(client) ?? []).filter((t) => t > since);
  }

  private prune(): void {
    if (this.failures.size <= this.options.maxClients) return;
    const since = this.now() - this.options.windowMs;
    for (const [client, times] of this.failures) {
      if (times.every((t) => t <= since)) this.failures.delete(client);
    }
    for (const client of this.failures.keys()) {
      if (this.failures.size <= this.options.maxClients) break;
      this.failures.delete(client);
    }
  }
}

/**
 * The key a client is limited under: its IPv4 address, or the /64 an IPv6 address belongs to (one device can
 * pick any address in its /64, so counting single addresses would not limit it).
 */
export function clientKey(address: string | undefined): string {
  if (!address) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (isIP(address) !== 6) return address;
  const [head = '', tail = ''] = address.toLowerCase().split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = address.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}
