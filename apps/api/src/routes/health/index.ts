import { ErrorResponseSchema } from '@books/core';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';

const CHECK_TIMEOUT_MS = 1000;

const DependencySchema = Type.Object({
  status: Type.Union([Type.Literal('up'), Type.Literal('down')]),
  latencyMs: Type.Number(),
  error: Type.Optional(Type.String()),
});
const HealthSchema = Type.Object({
  success: Type.Boolean(),
  status: Type.Union([Type.Literal('ok'), Type.Literal('degraded')]),
  uptimeSeconds: Type.Number(),
  checks: Type.Object({ postgres: DependencySchema, redis: DependencySchema }),
});
const ProbeSchema = Type.Object({ success: Type.Boolean(), status: Type.String() });

async function timed(check: () => Promise<unknown>) {
  const started = performance.now();
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS).unref()),
    ]);
    return { status: 'up' as const, latencyMs: round(performance.now() - started) };
  } catch (err) {
    return { status: 'down' as const, latencyMs: round(performance.now() - started), error: (err as Error).message };
  }
}
const round = (ms: number) => Math.round(ms * 100) / 100;

const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  let closing = false;
  app.addHook('onClose', async () => {
    closing = true;
  });
  const checkPostgres = () => timed(() => app.sql`select 1`);
  const checkRedis = () => timed(() => app.redis.ping());

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
        return reply.code(503).send({ success: false, error: `postgres: ${postgres.error}`, code: 'SERVICE_UNAVAILABLE' });
      return { success: true, status: 'ready' };
    },
  );
};

export default healthRoutes;
