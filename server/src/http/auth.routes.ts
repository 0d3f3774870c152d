// Signing in and out, and API tokens for programs (made, listed and revoked by the owner).
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { TooManyAttempts, type AccessControl } from '../auth/access-control.js';
import { clientKey } from '../auth/rate-limiter.js';
import { clearedCookie, readCookie, SESSION_COOKIE, sessionCookie } from '../auth/sessions.js';
import { notFound } from './errors.js';
import { requireOwner } from './plugins/access.plugin.js';
import { ErrorBody } from './schemas.js';
import { LoginRequest, SessionInfo, TokenCreate, TokenCreated, TokenIdParams, TokenInfo } from './sharing.schemas.js';

export function registerAuthRoutes(app: FastifyInstance, deps: { access: AccessControl }): void {
  const { access } = deps;

  app.post<{ Body: LoginRequest }>(
    '/api/auth/login',
    { schema: { body: LoginRequest, response: { 200: SessionInfo, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 429: ErrorBody } } },
    async (request, reply) => {
      let session;
      try {
        session = await access.login(request.body.password, request.body.name, clientKey(request.raw.socket?.remoteAddress));
      } catch (error) {
        if (error instanceof TooManyAttempts) reply.header('retry-after', String(error.retryAfterSeconds));
        throw error;
      }
      // A fresh id on every sign-in: a cookie planted before it is worth nothing after.
      access.sessions.delete(readCookie(request.headers.cookie, SESSION_COOKIE));
      reply.header('set-cookie', sessionCookie(session.id, request.protocol === 'https'));
      return { signedIn: true, user: session.user, owner: request.fromThisMachine, via: 'session' as const, passwordSet: true };
    },
  );

  app.post('/api/auth/logout', async (request, reply) => {
    access.sessions.delete(readCookie(request.headers.cookie, SESSION_COOKIE));
    return reply.header('set-cookie', clearedCookie(request.protocol === 'https')).status(204).send();
  });

  app.get('/api/auth/session', { schema: { response: { 200: SessionInfo } } }, async (request) => {
    const identity = request.identity;
    return {
      signedIn: identity !== null,
      user: identity?.user ?? null,
      owner: identity?.admin ?? false,
      via: identity?.via ?? null,
      passwordSet: access.passwordSet,
    };
  });

  app.get('/api/auth/tokens', { schema: { response: { 200: Type.Array(TokenInfo), 403: ErrorBody } } }, async (request) => {
    requireOwner(request);
    return access.tokens();
  });

  app.post<{ Body: TokenCreate }>(
    '/api/auth/tokens',
    { schema: { body: TokenCreate, response: { 201: TokenCreated, 400: ErrorBody, 403: ErrorBody } } },
    async (request, reply) => {
      requireOwner(request);
      const { token, record } = await access.createToken(request.body.name);
      return reply.status(201).send({ id: record.id, name: record.name, createdAt: record.createdAt, token });
    },
  );

  app.delete<{ Params: TokenIdParams }>(
    '/api/auth/tokens/:id',
    { schema: { params: TokenIdParams, response: { 403: ErrorBody, 404: ErrorBody } } },
    async (request, reply) => {
      requireOwner(request);
      if (!(await access.revokeToken(request.params.id))) throw notFound('EASEL_ERR_TOKEN_NOT_FOUND', `no API token with id ${request.params.id}`);
      return reply.status(204).send();
    },
  );
}
