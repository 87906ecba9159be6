// Security headers, CORS and the rate limit. The limit's counters live in Redis so that they
// hold across API replicas; while Redis is unreachable the limit is skipped rather than failing requests.
import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { AppError } from '../errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Marks routes that take the stricter /auth/* limit. */
    authLimit?: boolean;
  }
}

export default fp(
  async function security(app: FastifyInstance) {
    const { config } = app;
    // The API answers JSON, which loads nothing: the strictest policy fits, and it is cheap for
    // @fastify/helmet to rebuild on every request (the default policy's parsing cost ~5 µs a request).
    // Swagger UI's own routes set the policy the UI needs (staticCSP in plugins/docs.ts).
    await app.register(helmet, {
      global: true,
      contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
    });
    if (config.corsOrigins.length) {
      await app.register(cors, { origin: config.corsOrigins.includes('*') ? '*' : config.corsOrigins });
    }
    await app.register(rateLimit, {
      global: true,
      max: config.rateLimit.max,
      timeWindow: config.rateLimit.windowMs,
      redis: app.redis,
      nameSpace: app.keys.rateLimitNamespace(),
      skipOnError: true,
      allowList: (request) => request.url.startsWith('/health'),
      errorResponseBuilder: (_request, context) =>
        new AppError(429, 'RATE_LIMITED', `Too many requests: at most ${context.max} per window; retry in ${context.after}`),
    });
  },
  { name: 'security', dependencies: ['datastores'] },
);
