import { waitForRedis } from '@books/core/redis';
import { createTestContext, createTestRedis, type TestContext } from '@books/testing';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type App, buildApp } from '../src/app.js';

// Two replicas sharing one Redis: the limit must hold across them.
let ctx: TestContext;
let replicaA: App;
let replicaB: App;
beforeAll(async () => {
  ctx = await createTestContext('ratelimit', { RATE_LIMIT_MAX: '5', AUTH_RATE_LIMIT_MAX: '2', RATE_LIMIT_WINDOW: '1m' });
  replicaA = await buildApp(ctx.config, { logger: false });
  replicaB = await buildApp(ctx.config, { logger: false });
});
afterAll(async () => {
  await replicaA?.close();
  await replicaB?.close();
  await ctx?.cleanup();
});

it('limits each client IP across replicas and answers 429 in the envelope', async () => {
  const statuses: number[] = [];
  for (let i = 0; i < 6; i++) {
    const app = i % 2 === 0 ? replicaA : replicaB;
    statuses.push((await app.inject({ method: 'GET', url: '/books', remoteAddress: '10.0.0.1' })).statusCode);
  }
  expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
  const limited = await replicaA.inject({ method: 'GET', url: '/books', remoteAddress: '10.0.0.1' });
  expect(limited.json()).toMatchObject({ success: false, code: 'RATE_LIMITED' });
  expect(limited.headers['retry-after']).toBeDefined();
  expect((await replicaB.inject({ method: 'GET', url: '/books', remoteAddress: '10.0.0.2' })).statusCode).toBe(401);
});

it('is stricter on /auth/*', async () => {
  const attempt = () =>
    replicaA.inject({
      method: 'POST',
      url: '/auth/login',
      remoteAddress: '10.0.0.3',
      payload: { email: 'a@example.com', password: 'whatever123' },
    });
  expect((await attempt()).statusCode).toBe(401);
  expect((await attempt()).statusCode).toBe(401);
  expect((await attempt()).statusCode).toBe(429);
});

it('never limits /health', async () => {
  for (let i = 0; i < 8; i++) {
    expect((await replicaA.inject({ method: 'GET', url: '/health/live', remoteAddress: '10.0.0.4' })).statusCode).toBe(200);
  }
});

it('ignores X-Forwarded-For from clients that are not configured proxies', async () => {
  const statuses: number[] = [];
  for (let i = 0; i < 6; i++) {
    const res = await replicaA.inject({
      method: 'GET',
      url: '/books',
      remoteAddress: '10.0.0.5',
      headers: { 'x-forwarded-for': `192.0.2.${i}` },
    });
    statuses.push(res.statusCode);
  }
  expect(statuses.at(-1)).toBe(429);
});

it('counts a burst from one client exactly, across replicas, in fewer Redis commands than requests', async () => {
  // Redis MONITOR shows the scripts run on this test's limiter keys (not the commands they run inside).
  // On a cluster, every master's: the limiter key lives on one of them.
  const client = createTestRedis();
  await waitForRedis(client, 10_000);
  const monitors = await Promise.all((client instanceof Cluster ? client.nodes('master') : [client]).map((node) => node.monitor()));
  const limiterCommands: string[][] = [];
  for (const monitor of monitors) {
    monitor.on('monitor', (_time: string, args: string[]) => {
      const script = /^eval(sha)?$/i.test(args[0] ?? '');
      if (script && args.some((arg) => arg.startsWith(`${ctx.namespace.prefix}rate_limit:`))) limiterCommands.push(args);
    });
  }
  try {
    // 12 requests at once, half to each replica, against a limit of 5: exactly 5 get through.
    const burst = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        (i % 2 === 0 ? replicaA : replicaB).inject({ method: 'GET', url: '/books', remoteAddress: '10.0.0.6' }),
      ),
    );
    const passed = burst.filter((res) => res.statusCode !== 429);
    expect(passed).toHaveLength(5);
    expect(passed.every((res) => res.statusCode === 401)).toBe(true);
    // Each request got its own count: the remaining budgets are 4, 3, 2, 1, 0, once each.
    const remaining = passed.map((res) => Number(res.headers['x-ratelimit-remaining'])).sort();
    expect(remaining).toEqual([0, 1, 2, 3, 4]);
    await new Promise((resolve) => setTimeout(resolve, 100)); // MONITOR lines trail the replies
    expect(limiterCommands.length).toBeGreaterThan(0);
    expect(limiterCommands.length).toBeLessThan(12);
  } finally {
    for (const monitor of monitors) monitor.disconnect();
    client.disconnect();
  }
});

it('keeps a counter that lost its expiry from counting forever', async () => {
  const redis = createTestRedis();
  try {
    // A counter left without a TTL (its PEXPIRE lost to a crash, say) must not ban the client for good.
    const key = `${ctx.namespace.prefix}rate_limit:10.0.0.7`;
    await redis.set(key, '3');
    const res = await replicaA.inject({ method: 'GET', url: '/books', remoteAddress: '10.0.0.7' });
    expect(res.headers['x-ratelimit-remaining']).toBe('1');
    const ttl = await redis.pttl(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
  } finally {
    redis.disconnect();
  }
});
