// Builds the app without listening: server.ts listens, tests inject or listen on port 0.
import type { ApiConfig } from '@books/core/config';
import { loggerOptions } from '@books/core/runtime';
import type { HostResolver } from '@books/core/webhooks';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyReply, type FastifyRequest, type FastifyServerOptions, LogController } from 'fastify';
import authPlugin from './plugins/auth.js';
import datastores from './plugins/datastores.js';
import docs from './plugins/docs.js';
import errorHandler, { answerClientError, answerFrameworkError } from './plugins/error-handler.js';
import metrics from './plugins/metrics.js';
import security from './plugins/security.js';
import validation from './plugins/validation.js';
import adminRoutes from './routes/admin/index.js';
import authRoutes from './routes/auth/index.js';
import booksRoutes from './routes/books/index.js';
import healthRoutes from './routes/health/index.js';
import meRoutes from './routes/me/index.js';
import reportRoutes from './routes/reports/index.js';

export interface BuildOptions {
  /** Overrides the pino options derived from config (tests pass `false`). */
  logger?: FastifyServerOptions['logger'];
  /** Tests shorten the refresh race grace (routes/auth/sessions.ts) to check reuse detection quickly. */
  refreshRaceGraceMs?: number;
  /** Tests resolve webhook hosts their own way (routes/me/webhook.ts). */
  resolveHost?: HostResolver;
}

/** One log line per request, written when it is answered, instead of Fastify's two. */
class OneLinePerRequest extends LogController {
  override incomingRequest() {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply) {
    const line = {
      method: request.method,
      url: request.url,
      statusCode: reply.statusCode,
      ms: Math.round(reply.elapsedTime * 10) / 10,
      userId: request.identity?.id,
    };
    if (error) reply.log.error({ ...line, err: error }, 'request failed while answering');
    else reply.log.info(line, 'request');
  }
}

export async function buildApp(config: ApiConfig, options: BuildOptions = {}) {
  const app = Fastify({
    logger: options.logger ?? loggerOptions(config, 'api'),
    logController: new OneLinePerRequest(),
    bodyLimit: config.bodyLimit,
    trustProxy: config.trustProxy.length ? config.trustProxy : false,
    requestIdHeader: 'x-request-id',
    genReqId: () => crypto.randomUUID(),
    return503OnClosing: true,
    // Kept explicit: a body with `__proto__` or `constructor.prototype` is refused, never merged.
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    // Errors raised before a route runs answer in the same envelope as the rest.
    frameworkErrors: answerFrameworkError,
    clientErrorHandler: answerClientError,
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    done();
  });

  await app.register(errorHandler);
  await app.register(validation);
  await app.register(datastores, { config });
  await app.register(metrics);
  await app.register(security);
  await app.register(docs);
  await app.register(authPlugin);

  await app.register(healthRoutes, { prefix: '/health' });
  await app.register(authRoutes, { prefix: '/auth', refreshRaceGraceMs: options.refreshRaceGraceMs });
  await app.register(booksRoutes, { prefix: '/books' });
  await app.register(reportRoutes, { prefix: '/reports' });
  await app.register(adminRoutes, { prefix: '/admin' });
  await app.register(meRoutes, { prefix: '/me', resolveHost: options.resolveHost });

  return app;
}

export type App = Awaited<ReturnType<typeof buildApp>>;
