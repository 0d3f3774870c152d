// The door: every request passes here before any route. In order:
//   1. a path that climbs out of its folder ("..", in any encoding) is a 404, whatever route it aims at;
//   2. a state-changing request or websocket upgrade whose Origin is another website is a 403, so no page on the
//      internet can submit jobs to a server on localhost;
//   3. the request is given an identity: an API token (Bearer), HTTP Basic on /sdapi (A1111 `--api-auth` style),
//      a session cookie, or, from this machine, the owner without signing in (unless the owner asked otherwise);
//   4. without one, browsers get the sign-in page and programs a 401.
// Identity decides who owns a job and who is the owner (admin): requests from this machine.
import { hostname } from 'node:os';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { LOCAL_USER, TooManyAttempts, type AccessControl, type Identity } from '../../auth/access-control.js';
import { clientKey } from '../../auth/rate-limiter.js';
import { climbsOut, isLocalHostHeader, isLoopbackAddress, isSameOrigin, STATE_CHANGING } from '../../auth/request-origin.js';
import { readCookie, SESSION_COOKIE } from '../../auth/sessions.js';
import { AppError, notFound } from '../errors.js';
import { loginPageHeaders, loginPageHtml } from './login-page.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who sent this request; null only on the few routes open to everyone (signing in). */
    identity: Identity | null;
    /** From a loopback peer naming a host this machine answers to: the owner's own machine. */
    fromThisMachine: boolean;
  }
}

/** Reachable without signing in: the sign-in page and the calls it makes. */
const OPEN_ROUTES = new Set(['GET /login', 'HEAD /login', 'POST /api/auth/login', 'POST /api/auth/logout', 'GET /api/auth/session']);
const BASIC_CHALLENGE = 'Basic realm="Easel", charset="UTF-8"';

/** The names this machine answers to besides localhost and IP literals (for the DNS-rebinding check). */
export function machineNames(): string[] {
  const name = hostname().toLowerCase();
  return name ? [name, `${name}.local`] : [];
}

export function registerAccessGuard(app: FastifyInstance, deps: { access: AccessControl; machineNames?: readonly string[] }): void {
  const { access } = deps;
  const names = deps.machineNames ?? machineNames();
  app.decorateRequest('identity', null);
  app.decorateRequest('fromThisMachine', false);

  app.addHook('onRequest', async (request, reply) => {
    const url = request.raw.url ?? '/';
    if (climbsOut(url)) throw notFound('EASEL_ERR_NOT_FOUND', 'no such path');
    const path = url.split('?')[0] ?? '/';

    const upgrade = (request.headers.upgrade ?? '').toLowerCase() === 'websocket';
    if ((STATE_CHANGING.has(request.method) || upgrade) && !isSameOrigin(request.headers.origin, request.headers.host)) {
      throw new AppError(403, 'EASEL_ERR_FOREIGN_ORIGIN', 'another website sent this request, so Easel refused it; use Easel from its own page');
    }

    const address = request.raw.socket?.remoteAddress;
    // A loopback peer that names a host this machine does not answer to is a DNS-rebinding page: no free pass.
    const local = isLoopbackAddress(address) && isLocalHostHeader(request.headers.host, names);
    request.fromThisMachine = local;
    const openHere = local && !access.requireLoginOnLoopback;
    try {
      request.identity = await identify(request, reply, access, { local, client: clientKey(address), path });
    } catch (error) {
      if (error instanceof TooManyAttempts) reply.header('retry-after', String(error.retryAfterSeconds));
      throw error;
    }
    if (!request.identity && openHere) {
      request.identity = { user: LOCAL_USER, admin: true, via: 'loopback' };
    }
    if (request.identity || OPEN_ROUTES.has(`${request.method} ${path}`)) return;

    if (wantsPage(request, path)) return reply.code(401).headers(loginPageHeaders).send(loginPageHtml);
    reply.header('www-authenticate', path.startsWith('/sdapi/') ? BASIC_CHALLENGE : 'Bearer realm="Easel"');
    throw new AppError(401, 'EASEL_ERR_LOGIN_REQUIRED', 'sign in first: open Easel in a browser, or send an API token as "Authorization: Bearer <token>"');
  });

  app.get('/login', async (request, reply) => {
    if (request.identity) return reply.redirect('/');
    return reply.headers(loginPageHeaders).send(loginPageHtml);
  });
}

async function identify(
  request: FastifyRequest,
  reply: FastifyReply,
  access: AccessControl,
  where: { local: boolean; client: string; path: string },
): Promise<Identity | null> {
  const authorization = request.headers.authorization ?? '';
  const [scheme = '', value = ''] = authorization.split(/\s+/, 2);
  if (scheme.toLowerCase() === 'bearer') {
    const token = access.checkToken(value, where.client);
    if (!token) {
      reply.header('www-authenticate', 'Bearer realm="Easel", error="invalid_token"');
      throw new AppError(401, 'EASEL_ERR_BAD_TOKEN', 'that API token is not valid: it was revoked or mistyped');
    }
    return { user: token.name, admin: where.local, via: 'token' };
  }
  // Wrong credentials are a 401 even where none are needed (as for tokens): a client learns its pair is stale here,
  // not later from the LAN.
  if (scheme.toLowerCase() === 'basic' && where.path.startsWith('/sdapi/')) {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const user = colon > -1 ? await access.checkBasic(decoded.slice(0, colon), decoded.slice(colon + 1), where.client) : undefined;
    if (!user) {
      reply.header('www-authenticate', BASIC_CHALLENGE);
      throw new AppError(401, 'EASEL_ERR_LOGIN_FAILED', 'that user name and password are not right');
    }
    return { user, admin: where.local, via: 'basic' };
  }
  // A stale or unknown cookie is no error: the request is simply not signed in.
  const session = access.sessions.get(readCookie(request.headers.cookie, SESSION_COOKIE));
  return session ? { user: session.user, admin: where.local, via: 'session' } : null;
}

/** A browser navigating to a page (not the API): it should see the sign-in form, not JSON. */
function wantsPage(request: FastifyRequest, path: string): boolean {
  if (request.method !== 'GET' && request.method !== 'HEAD') return false;
  if (path.startsWith('/api/') || path.startsWith('/sdapi/')) return false;
  return (request.headers.accept ?? '').includes('text/html');
}

/** The identity of a request that passed the door (every route but the open ones). */
export function identityOf(request: FastifyRequest): Identity {
  if (!request.identity) throw new AppError(401, 'EASEL_ERR_LOGIN_REQUIRED', 'sign in first');
  return request.identity;
}

/** Refuses anyone but the owner: requests from the machine Easel runs on. */
export function requireOwner(request: FastifyRequest): Identity {
  const identity = identityOf(request);
  if (!identity.admin) {
    throw new AppError(403, 'EASEL_ERR_OWNER_ONLY', 'only the owner can do this, from the machine Easel runs on');
  }
  return identity;
}
