import { createTestContext, type TestContext } from '@books/testing';
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
