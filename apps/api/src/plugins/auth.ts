// JWT authentication: HS256 only, claims of the shape we sign (TokenClaimsSchema), and the subject must still exist.
import { createRedisClient } from '@books/core/redis';
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

/** The token of an `Authorization: Bearer <token>` header, or null. */
function bearerToken(header: string | undefined): string | null {
  return header ? (BEARER.exec(header)?.[1] ?? null) : null;
}

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: { sub: string; role: Role };
    user: { sub: string; role: Role; exp: number; iat: number };
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
      redis: app.redis,
      subscriber: createRedisClient(app.config.redisUrl, 'api', app.log, {
        name: 'api-identity-subscriber',
        timeouts: app.config.redisTimeouts,
      }),
      keys: app.keys,
      adminEmails: app.config.adminEmails,
      log: app.log,
    });
    app.addHook('onClose', async () => identities.close());
    app.decorate('identities', identities);
    app.decorateRequest('identity', null);

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
      if (!tokenClaims.Check(claims)) throw unauthorized('The token is invalid');
      const identity = await identities.resolve(claims.sub);
      if (!identity) throw unauthorized('The account behind this token no longer exists');
      request.identity = identity;
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
