import { ErrorResponseSchema } from '@books/core/schemas';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyBaseLogger } from 'fastify';
import Type, { type Static } from 'typebox';

// The route is unauthenticated: a reason from this fixed list, never the driver's message (it names
// hosts, ports and users). Operators get the real error in the log, once per change of state.
const ReasonSchema = Type.Union([Type.Literal('unreachable'), Type.Literal('timed out')]);
type Reason = Static<typeof ReasonSchema>;

const DependencySchema = Type.Object({
  status: Type.Union([Type.Literal('up'), Type.Literal('down')]),
  latencyMs: Type.Number(),
  error: Type.Optional(ReasonSchema),
});
type Dependency = Static<typeof DependencySchema>;
const HealthSchema = Type.Object({
  success: Type.Boolean(),
  status: Type.Union([Type.Literal('ok'), Type.Literal('degraded')]),
  uptimeSeconds: Type.Number(),
  checks: Type.Object({ postgres: DependencySchema, redis: DependencySchema }),
});
const ProbeSchema = Type.Object({ success: Type.Boolean(), status: Type.String() });

class CheckTimeout extends Error {}

/** Runs one check with a deadline; logs the real error when the dependency goes down or its reason changes, and when it is back. */
function healthCheck(name: string, check: () => Promise<unknown>, log: FastifyBaseLogger, timeoutMs: number) {
  let last: Dependency['status'] | Reason = 'up';
  const settle = (state: Dependency['status'] | Reason, err?: unknown) => {
    if (state === last) return;
    if (state === 'up') log.info({ dependency: name }, `health: ${name} is up again`);
    else log.warn({ dependency: name, err }, `health: ${name} is down (${state})`);
    last = state;
  };
  return async (): Promise<Dependency> => {
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        check(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new CheckTimeout(`no answer within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
      settle('up');
      return { status: 'up', latencyMs: round(performance.now() - started) };
    } catch (err) {
      const reason: Reason = err instanceof CheckTimeout ? 'timed out' : 'unreachable';
      settle(reason, err);
      return { status: 'down', latencyMs: round(performance.now() - started), error: reason };
    } finally {
      clearTimeout(timer);
    }
  };
}
const round = (ms: number) => Math.round(ms * 100) / 100;

const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  let closing = false;
  app.addHook('onClose', async () => {
    closing = true;
  });
  const checkPostgres = healthCheck('postgres', () => app.sql`select 1`, app.log, app.config.healthCheckTimeoutMs);
  const checkRedis = healthCheck('redis', () => app.redis.ping(), app.log, app.config.healthCheckTimeoutMs);

  app.get(
    '',
    {
      schema: {
        tags: ['health'],
        summary: 'Postgres and Redis, with their latency: 200 when both answer, 503 otherwise',
        response: { 200: HealthSchema, 503: HealthSchema },
      },
    },
    async (_request, reply) => {
      const [postgres, redis] = await Promise.all([checkPostgres(), checkRedis()]);
      const ok = postgres.status === 'up' && redis.status === 'up';
      return reply
        .code(ok ? 200 : 503)
        .send({ success: ok, status: ok ? 'ok' : 'degraded', uptimeSeconds: Math.round(process.uptime()), checks: { postgres, redis } });
    },
  );

  app.get(
    '/live',
    { schema: { tags: ['health'], summary: 'Liveness probe: the process answers', response: { 200: ProbeSchema } } },
    async () => ({ success: true, status: 'alive' }),
  );

  app.get(
    '/ready',
    {
      schema: {
        tags: ['health'],
        summary: 'Readiness probe: Postgres answers and the server is not shutting down (Redis is optional: the API degrades without it)',
        response: { 200: ProbeSchema, 503: ErrorResponseSchema },
      },
    },
    async (_request, reply) => {
      if (closing) return reply.code(503).send({ success: false, error: 'shutting down', code: 'SERVICE_UNAVAILABLE' });
      const postgres = await checkPostgres();
      if (postgres.status === 'down')
        return reply.code(503).send({ success: false, error: `postgres ${postgres.error}`, code: 'SERVICE_UNAVAILABLE' });
      return { success: true, status: 'ready' };
    },
  );
};

export default healthRoutes;
