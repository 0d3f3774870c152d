// Pure checks on where a request comes from and what it names: loopback peers, the Host header a local browser
// would send, same-origin requests, and paths that try to climb out of a folder.
import { isIP } from 'node:net';

/** 127.0.0.0/8, ::1, and IPv4-mapped loopback: a peer on this machine. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  const v4 = address.toLowerCase().replace(/^::ffff:/, '');
  if (isIP(v4) === 4) return v4.startsWith('127.');
  return address === '::1' || address === '0:0:0:0:0:0:0:1';
}

/** Whether a bind address (a --host value) keeps the server on this machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h.endsWith('.localhost') || isLoopbackAddress(h);
}

/** The host name part of a Host header or URL host ("[::1]:9000" → "::1", "Easel.local:80" → "easel.local"). */
export function hostName(host: string): string {
  const h = host.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']') > 0 ? h.indexOf(']') : undefined);
  const colon = h.lastIndexOf(':');
  return colon > -1 && h.indexOf(':') === colon ? h.slice(0, colon) : h;
}

/**
 * Whether a Host header is one a browser on this machine would send: localhost, an IP literal, or this machine's
 * own name. Any other name reaching a loopback socket is what a DNS-rebinding page looks like, so such requests
 * get no free pass.
 */
export function isLocalHostHeader(host: string | undefined, machineNames: readonly string[]): boolean {
  if (host === undefined || host === '') return true; // HTTP/1.0 tools; browsers always send Host
  const name = hostName(host).replace(/\.$/, '');
  if (name === 'localhost' || name.endsWith('.localhost') || isIP(name) !== 0) return true;
  return machineNames.some((m) => m.toLowerCase() === name);
}

/**
 * Whether a request's Origin header (when present) names this server, judged by the Host the request was sent
 * to. No Origin means not a cross-site browser request (curl, scripts, same-origin GETs): allowed. "null"
 * (sandboxed frames, file: pages) is foreign.
 */
export function isSameOrigin(origin: string | undefined, host: string | undefined): boolean {
  if (origin === undefined) return true;
  if (!host) return false;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  let own: URL;
  try {
    own = new URL(`${url.protocol}//${host}`);
  } catch {
    return false;
  }
  return url.host === own.host;
}

export const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Whether a raw request URL's path holds a ".." segment in any spelling: literal, percent-encoded, double-encoded,
 * or with backslashes. No route serves such a path, so it can be refused before any route sees it.
 */
export function climbsOut(rawUrl: string): boolean {
  let path = rawUrl.split('?')[0] ?? '';
  for (let i = 0; i < 3; i++) {
    const segments = path.replace(/\\/g, '/').split('/');
    if (segments.some((s) => s === '..' || s === '.')) return true;
    let decoded: string;
    try {
      decoded = decodeURIComponent(path);
    } catch {
      return true; // malformed escapes: nothing honest sends them
    }
    if (decoded === path) return false;
    path = decoded;
  }
  return /(^|[\\/])\.\.?([\\/]|$)/.test(path);
}
