// Who may use this server from elsewhere: the access password, API tokens, browser sessions and the failed-login
// limit, behind a few intent-named methods. HTTP details (headers, cookies, status codes) stay in the plugin and
// routes; this module knows the rules.
import { createHash, randomBytes } from 'node:crypto';
import { AppError, badRequest } from '../http/errors.js';
import type { SettingsStore, TokenRecord } from '../settings/settings-store.js';
import { findToken, makeToken } from './api-tokens.js';
import { hashPassword, MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS, verifyPassword } from './password.js';
import { FailureLimiter } from './rate-limiter.js';
import { SessionTable, type Session } from './sessions.js';

/** Who a request is: owner of the jobs it submits, and whether it may run the server (loopback). */
export interface Identity {
  user: string;
  admin: boolean;
  via: 'loopback' | 'session' | 'token' | 'basic';
}

/** Jobs submitted from this machine without signing in belong to this name; nobody else may take it. */
export const LOCAL_USER = 'local';
const NAME = /^[\p{L}\p{N}][\p{L}\p{N} ._-]{0,39}$/u;
const BASIC_CACHE_SIZE = 64;

export class AccessControl {
  readonly sessions: SessionTable;
  private readonly limiter: FailureLimiter;
  /** Basic credentials already checked, by digest, so A1111 clients do not pay for scrypt on every call. */
  private readonly basicOk = new Map<string, string>();

  constructor(
    private readonly settings: SettingsStore,
    options: { limiter?: FailureLimiter; sessions?: SessionTable } = {},
  ) {
    this.limiter = options.limiter ?? new FailureLimiter();
    this.sessions = options.sessions ?? new SessionTable();
  }

  get passwordSet(): boolean {
    return this.settings.current.auth.password !== null;
  }

  get requireLoginOnLoopback(): boolean {
    return this.settings.current.sharing.requireLoginOnLoopback;
  }

  /** Refuses a client that failed too often lately, with how long to wait. */
  checkLimit(client: string): void {
    const wait = this.limiter.retryAfterMs(client);
    if (wait > 0) {
      throw new TooManyAttempts(Math.ceil(wait / 1000));
    }
  }

  /** Checks the password and opens a session under `name` (or a fresh guest name). */
  async login(password: string, name: string | undefined, client: string): Promise<Session> {
    this.checkLimit(client);
    const stored = this.settings.current.auth.password;
    if (!stored) throw new AppError(403, 'EASEL_ERR_NO_PASSWORD', 'no access password is set yet: the owner sets one in Settings → Sharing on the machine running Easel');
    const user = name === undefined || name.trim() === '' ? undefined : checkName(name, 'name');
    if (!(await verifyPassword(password, stored))) {
      this.limiter.fail(client);
      throw new AppError(401, 'EASEL_ERR_LOGIN_FAILED', 'that password is not right', 'password');
    }
    this.limiter.succeed(client);
    const guest = `guest-${randomBytes(2).toString('hex')}`;
    return this.sessions.create(user ?? guest);
  }

  /** The token record a Bearer value names; a wrong one counts as a failed login. */
  checkToken(presented: string, client: string): TokenRecord | undefined {
    this.checkLimit(client);
    const record = findToken(this.settings.current.auth.tokens, presented);
    if (!record) this.limiter.fail(client);
    return record;
  }

  /**
   * The user an HTTP Basic pair stands for (A1111's `--api-auth` style): any user name with the access password,
   * or any user name with an API token as the password (the token's name is then the user).
   */
  async checkBasic(user: string, password: string, client: string): Promise<string | undefined> {
    this.checkLimit(client);
    const stored = this.settings.current.auth.password;
    const digest = createHash('sha256').update(`${stored?.hash ?? ''}\0${user}\0${password}`).digest('hex');
    const cached = this.basicOk.get(digest);
    if (cached) return cached;
    let who: string | undefined;
    const token = findToken(this.settings.current.auth.tokens, password);
    if (token) who = token.name;
    else if (stored && (await verifyPassword(password, stored)) && NAME.test(user) && user.toLowerCase() !== LOCAL_USER) who = user;
    if (!who) {
      this.limiter.fail(client);
      return undefined;
    }
    this.limiter.succeed(client);
    if (!token) {
      // Tokens are cheap to check and can be revoked, so only password pairs are remembered.
      if (this.basicOk.size >= BASIC_CACHE_SIZE) this.basicOk.delete(this.basicOk.keys().next().value as string);
      this.basicOk.set(digest, who);
    }
    return who;
  }

  /** Sets or changes the access password; everyone signed in with the old one is signed out. */
  async setPassword(password: string): Promise<void> {
    if (password.length < MIN_PASSWORD_CHARS || password.length > MAX_PASSWORD_CHARS) {
      throw badRequest('EASEL_ERR_PASSWORD', `the password must be ${MIN_PASSWORD_CHARS} to ${MAX_PASSWORD_CHARS} characters long`, 'password');
    }
    const hash = await hashPassword(password);
    await this.settings.update((s) => {
      s.auth.password = hash;
    });
    this.sessions.clear();
    this.basicOk.clear();
  }

  tokens(): Omit<TokenRecord, 'hash'>[] {
    return this.settings.current.auth.tokens.map(({ id, name, createdAt }) => ({ id, name, createdAt }));
  }

  /** Makes a token for a program; the returned token is shown once and never again. */
  async createToken(name: string): Promise<{ token: string; record: TokenRecord }> {
    const checked = checkName(name, 'name');
    if (this.settings.current.auth.tokens.some((t) => t.name.toLowerCase() === checked.toLowerCase())) {
      throw badRequest('EASEL_ERR_TOKEN_NAME', `a token named "${checked}" already exists: revoke it or choose another name`, 'name');
    }
    const made = makeToken(checked);
    await this.settings.update((s) => {
      s.auth.tokens.push(made.record);
    });
    return made;
  }

  /** Revokes a token at once; false when there is no such token. */
  async revokeToken(id: string): Promise<boolean> {
    if (!this.settings.current.auth.tokens.some((t) => t.id === id)) return false;
    await this.settings.update((s) => {
      s.auth.tokens = s.auth.tokens.filter((t) => t.id !== id);
    });
    return true;
  }
}

export class TooManyAttempts extends AppError {
  constructor(readonly retryAfterSeconds: number) {
    super(429, 'EASEL_ERR_TOO_MANY_ATTEMPTS', `too many failed sign-ins from this address; try again in ${retryAfterSeconds} s`);
  }
}

/** A display name for a person or program: what their jobs show as owner. */
function checkName(name: string, field: string): string {
  const trimmed = name.trim();
  if (!NAME.test(trimmed)) {
    throw badRequest('EASEL_ERR_NAME', `${field} must be 1 to 40 letters, digits, spaces, dots, dashes or underscores, starting with a letter or digit`, field);
  }
  if (trimmed.toLowerCase() === LOCAL_USER) throw badRequest('EASEL_ERR_NAME', `"${LOCAL_USER}" is kept for this machine's own jobs; choose another name`, field);
  return trimmed;
}
