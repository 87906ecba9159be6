// The unauthenticated /health routes say up or down with a fixed reason; the driver's error (hosts,
// ports, users) goes to the log for operators, once per change rather than on every probe.
import { Writable } from 'node:stream';
import { createTestContext, freePort, type TestContext } from '@books/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, buildApp } from '../src/app.js';

describe('with Postgres and Redis both unreachable', () => {
  let ctx: TestContext;
  let app: App;
  let pgPort: number;
  let redisPort: number;
  const logLines: Record<string, unknown>[] = [];
  beforeAll(async () => {
    [pgPort, redisPort] = [await freePort(), await freePort()];
    ctx = await createTestContext('health-down', {
      DATABASE_URL: `postgres://books_user:s3cret@127.0.0.1:${pgPort}/books`,
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    });
    const stream = new Writable({
      write(chunk, _encoding, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) logLines.push(JSON.parse(line));
        done();
      },
    });
    app = await buildApp(ctx.config, { logger: { level: 'info', stream } });
    await app.ready();
  });
  afterAll(async () => {
    await app?.close();
    await ctx?.cleanup();
  });

  const leaks = (body: string) =>
    [String(pgPort), String(redisPort), '127.0.0.1', 'ECONNREFUSED', 'books_user', 'connect'].filter((s) => body.includes(s));

  it('answers /health with up/down, latency and a fixed reason, naming no host or port', async () => {
    const res = await app.inject({ method: 'GET', url: '/health' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({
      success: false,
      status: 'degraded',
      uptimeSeconds: expect.any(Number),
      checks: {
        postgres: { status: 'down', latencyMs: expect.any(Number), error: expect.stringMatching(/^(unreachable|timed out)$/) },
        redis: { status: 'down', latencyMs: expect.any(Number), error: expect.stringMatching(/^(unreachable|timed out)$/) },
      },
    });
    expect(leaks(res.body)).toEqual([]);
  });

  it('answers /health/ready with a 503 envelope naming no host or port', async () => {
    const res = await app.inject({ method: 'GET', url: '/health/ready' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({
      success: false,
      error: expect.stringMatching(/^postgres (unreachable|timed out)$/),
      code: 'SERVICE_UNAVAILABLE',
    });
    expect(leaks(res.body)).toEqual([]);
  });

  it('logs the real error for operators once per dependency, not on every probe', async () => {
    for (let i = 0; i < 5; i++) await app.inject({ method: 'GET', url: '/health' });
    const downs = logLines.filter((line) => typeof line.msg === 'string' && /^health: \w+ is down/.test(line.msg));
    expect(downs.map((line) => line.dependency).sort()).toEqual(['postgres', 'redis']);
    const postgres = downs.find((line) => line.dependency === 'postgres') as { err?: { message?: string; code?: string } };
    expect(JSON.stringify(postgres.err)).toMatch(/ECONNREFUSED|CONNECT_TIMEOUT/);
  });
});
