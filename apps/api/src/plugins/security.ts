// Security headers, CORS and the rate limit. The limit's counters live in Redis so that they
// hold across API replicas (services/rate-limit-store.ts: one command per round trip per client, not
// per request); while Redis is unreachable the limit is skipped rather than failing requests.
import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { AppError } from '../errors.js';
import { coalescingRedisStore } from '../services/rate-limit-store.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Marks routes that take the stricter /auth/* limit. */
    authLimit?: boolean;
  }
}

export default fp(
  async function security(app: FastifyInstance) {
    const { config } = app;
    // The headers OWASP's REST Security Cheat Sheet asks of a JSON API, and no more: the rest of
    // helmet's defaults (COOP, Origin-Agent-Cluster, X-DNS-Prefetch-Control, X-Download-Options,
    // X-XSS-Protection, …) govern documents a browser renders, which this API never serves, and
    // @fastify/helmet rebuilds its middleware and sets every header on every request: the full set
    // cost about a fifth of a cached GET /books. The strictest CSP fits JSON, which loads nothing;
    // Swagger UI's own routes set the policy the UI needs (staticCSP in plugins/docs.ts).
    await app.register(helmet, {
      global: true,
      contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
      strictTransportSecurity: { maxAge: 31_536_000, includeSubDomains: true },
      xFrameOptions: { action: 'deny' },
      crossOriginOpenerPolicy: false,
      crossOriginResourcePolicy: false,
      originAgentCluster: false,
      referrerPolicy: false,
      xDnsPrefetchControl: false,
      xDownloadOptions: false,
      xPermittedCrossDomainPolicies: false,
      xXssProtection: false,
    });
    if (config.corsOrigins.length) {
      await app.register(cors, { origin: config.corsOrigins.includes('*') ? '*' : config.corsOrigins });
    }
    await app.register(rateLimit, {
      global: true,
      max: config.rateLimit.max,
      timeWindow: config.rateLimit.windowMs,
      store: coalescingRedisStore(app.redis, app.keys.rateLimitNamespace()),
      skipOnError: true,
      // A route with a limit of its own (config.rateLimit) is one of the /auth/* ones.
      onExceeded: (request) => app.metrics.rateLimited.inc({ limit: request.routeOptions.config.rateLimit ? 'auth' : 'global' }),
      allowList: (request) => request.url.startsWith('/health'),
      errorResponseBuilder: (_request, context) =>
        new AppError(429, 'RATE_LIMITED', `Too many requests: at most ${context.max} per window; retry in ${context.after}`),
    });
  },
  { name: 'security', dependencies: ['datastores', 'metrics'] },
);
