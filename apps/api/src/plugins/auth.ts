// JWT authentication: HS256 only, claims of the shape we sign (TokenClaimsSchema), the session must
// not have ended and the subject must still exist (services/identity.ts).
import { type Role, TokenClaimsSchema } from '@books/core/schemas';
import fastifyJwt from '@fastify/jwt';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import Compile from 'typebox/compile';
import { AppError, unauthorized } from '../errors.js';
import { createIdentityService, type Identity, type IdentityService } from '../services/identity.js';

// A signature proves we signed a token, not that its claims have the types we rely on: a `sub` that
// is an array holding a UUID would reach the identity lookup, an `exp` string would skip expiry.
const tokenClaims = Compile(TokenClaimsSchema);
const BEARER = /^Bearer +(\S+) *$/i;
const LISTEN_START_WAIT_MS = 2000;

/** The token of an `Authorization: Bearer <token>` header, or null. */
function bearerToken(header: string | undefined): string | null {
  return header ? (BEARER.exec(header)?.[1] ?? null) : null;
}

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: { sub: string; sid: string; role: Role };
    user: { sub: string; sid: string; role: Role; exp: number; iat: number };
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    identities: IdentityService;
    /**
     * Use as a `preParsing` hook: it then runs after the rate limit's onRequest hook (so
     * unauthenticated floods are still counted) and before any body is parsed.
     */
    authenticate<T>(request: FastifyRequest, reply: FastifyReply, payload: T): Promise<T>;
    requireAdmin<T>(request: FastifyRequest, reply: FastifyReply, payload: T): Promise<T>;
  }
  interface FastifyRequest {
    identity: Identity | null;
    /** The session of the access token (claim `sid`), set with `identity`. */
    sessionId: string | null;
  }
}

export default fp(
  async function auth(app: FastifyInstance) {
    const { jwt } = app.config;
    await app.register(fastifyJwt, {
      secret: jwt.secret,
      // A number here is seconds, as in jsonwebtoken.
      sign: { algorithm: 'HS256', expiresIn: Math.floor(jwt.expiresInMs / 1000) },
      verify: { algorithms: ['HS256'], requiredClaims: ['exp', 'sub'], cache: true },
    });
    const identities = createIdentityService({
      db: app.db,
      listenUrl: app.config.databaseListenUrl,
      adminEmails: app.config.adminEmails,
      tokenLifetimeMs: jwt.expiresInMs,
      log: app.log,
    });
    // Requests are served meanwhile, by the slow path (Postgres per request).
    await identities.start(LISTEN_START_WAIT_MS);
    app.addHook('onClose', async () => identities.close());
    app.decorate('identities', identities);
    app.decorateRequest('identity', null);
    app.decorateRequest('sessionId', null);

    app.decorate('authenticate', async <T>(request: FastifyRequest, _reply: FastifyReply, payload: T): Promise<T> => {
      const token = bearerToken(request.headers.authorization);
      if (!token) throw unauthorized('Authentication required: send Authorization: Bearer <token>');
      let claims: unknown;
      try {
        // The instance's verifier, not request.jwtVerify(): that one also decodes the token a second
        // time and runs a callback waterfall, a fifth of an authenticated cache hit's CPU.
        claims = app.jwt.verify<object>(token);
      } catch (err) {
        const code = (err as { code?: string }).code ?? '';
        if (code.includes('EXPIRED')) throw unauthorized('The token has expired; log in again');
        throw unauthorized('The token is invalid');
      }
      if (!tokenClaims.Check(claims)) {
        // Tokens signed before sessions existed name none: they cannot be ended, so they are not accepted.
        if (claims && typeof claims === 'object' && !('sid' in claims)) throw unauthorized('This token has no session; log in again');
        throw unauthorized('The token is invalid');
      }
      request.identity = await identities.resolve(claims);
      request.sessionId = claims.sid;
      return payload;
    });

    app.decorate('requireAdmin', async <T>(request: FastifyRequest, reply: FastifyReply, payload: T): Promise<T> => {
      await app.authenticate(request, reply, payload);
      if (request.identity?.role !== 'admin') throw new AppError(403, 'FORBIDDEN', 'This route is for administrators');
      return payload;
    });
  },
  { name: 'auth', dependencies: ['datastores'] },
);
