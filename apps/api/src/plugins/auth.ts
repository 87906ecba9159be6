// JWT authentication: HS256 only, `exp` and `sub` required, and the subject must still exist.
import type { Role } from '@books/core';
import fastifyJwt from '@fastify/jwt';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { AppError, unauthorized } from '../errors.js';
import { createIdentityService, type Identity, type IdentityService } from '../services/identity.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: { sub: string; role: Role };
    user: { sub: string; role: Role; exp: number; iat: number };
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    identities: IdentityService;
    authenticate(request: FastifyRequest, reply: FastifyReply): Promise<void>;
    requireAdmin(request: FastifyRequest, reply: FastifyReply): Promise<void>;
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
      sign: { algorithm: 'HS256', expiresIn: jwt.expiresInMs },
      verify: { algorithms: ['HS256'], requiredClaims: ['exp', 'sub'], cache: true },
    });
    const identities = createIdentityService({
      db: app.db,
      redis: app.redis,
      keys: app.keys,
      adminEmails: app.config.adminEmails,
      log: app.log,
    });
    app.decorate('identities', identities);
    app.decorateRequest('identity', null);

    app.decorate('authenticate', async (request: FastifyRequest) => {
      let claims: { sub: string };
      try {
        claims = await request.jwtVerify();
      } catch (err) {
        const code = (err as { code?: string }).code ?? '';
        if (code.includes('NO_AUTHORIZATION')) throw unauthorized('Authentication required: send Authorization: Bearer <token>');
        if (code.includes('EXPIRED')) throw unauthorized('The token has expired; log in again');
        throw unauthorized('The token is invalid');
      }
      if (!UUID.test(claims.sub)) throw unauthorized('The token is invalid');
      const identity = await identities.resolve(claims.sub);
      if (!identity) throw unauthorized('The account behind this token no longer exists');
      request.identity = identity;
    });

    app.decorate('requireAdmin', async (request: FastifyRequest, reply: FastifyReply) => {
      await app.authenticate(request, reply);
      if (request.identity?.role !== 'admin') throw new AppError(403, 'FORBIDDEN', 'This route is for administrators');
    });
  },
  { name: 'auth', dependencies: ['datastores'] },
);
