// Browser sessions, kept in memory: a restart signs everyone out, which is the safe direction. The cookie holds
// 32 random bytes; nothing in it means anything without this table.
import { randomBytes } from 'node:crypto';

export interface Session {
  id: string;
  user: string;
  createdAt: number;
  lastSeen: number;
}

export const SESSION_COOKIE = 'easel_session';
/** A session unused for this long ends; a used one is extended. */
export const SESSION_IDLE_MS = 30 * 24 * 3600_000;
const MAX_SESSIONS = 10_000;

export class SessionTable {
  private readonly sessions = new Map<string, Session>();

  constructor(private readonly now: () => number = Date.now) {}

  create(user: string): Session {
    const now = this.now();
    const session = { id: randomBytes(32).toString('base64url'), user, createdAt: now, lastSeen: now };
    this.sessions.set(session.id, session);
    // The oldest sessions give way first; a flood of logins cannot grow memory without bound.
    for (const id of this.sessions.keys()) {
      if (this.sessions.size <= MAX_SESSIONS) break;
      this.sessions.delete(id);
    }
    return session;
  }

  /** The live session with this id, touched; undefined when unknown or idle too long. */
  get(id: string | undefined): Session | undefined {
    if (!id) return undefined;
    const session = this.sessions.get(id);
    if (!session) return undefined;
    const now = this.now();
    if (now - session.lastSeen > SESSION_IDLE_MS) {
      this.sessions.delete(id);
      return undefined;
    }
    session.lastSeen = now;
    return session;
  }

  delete(id: string | undefined): void {
    if (id) this.sessions.delete(id);
  }

  /** After the password changes, nobody stays signed in with the old one. */
  clear(): void {
    this.sessions.clear();
  }
}

/** One cookie's value from a Cookie header, or undefined. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The Set-Cookie value for a session; `secure` only when the page itself came over https. */
export function sessionCookie(id: string, secure: boolean): string {
  const attributes = ['Path=/', 'HttpOnly', 'SameSite=Strict', `Max-Age=${Math.floor(SESSION_IDLE_MS / 1000)}`];
  if (secure) attributes.push('Secure');
  return `${SESSION_COOKIE}=${id}; ${attributes.join('; ')}`;
}

export function clearedCookie(secure: boolean): string {
  return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${secure ? '; Secure' : ''}`;
}
