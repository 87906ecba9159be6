import { createPrivateRedis, freePort, type PrivateRedis, verifyEmail } from '@books/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiHarness, addBook, signup, startApi } from './helpers.js';

describe('Redis unreachable from the start', () => {
  let h: ApiHarness;
  beforeAll(async () => {
    h = await startApi('redis-never', { REDIS_URL: `redis://127.0.0.1:${await freePort()}`, ADMIN_EMAILS: 'ops@example.com' });
  });
  afterAll(() => h?.close());

  it('still signs up, writes and lists from Postgres', async () => {
    const user = await signup(h.app);
    await addBook(h.app, user, { title: 'No cache today', author: 'A' });
    const res = await h.app.inject({ method: 'GET', url: '/books', headers: user.auth });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ source: 'database', total: 1 });
    expect(res.headers['x-cache']).toBe('MISS');
  });

  it('refuses bulk imports with 503 rather than accepting work it cannot queue', async () => {
    const user = await signup(h.app);
    const res = await h.app.inject({
      method: 'POST',
      url: '/books/bulk',
      headers: user.auth,
      payload: { books: [{ title: 'T', author: 'A' }] },
    });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ success: false, code: 'QUEUE_UNAVAILABLE' });
    expect(res.headers['retry-after']).toBe('5');
    for (const [contentType, payload] of [
      ['text/csv', 'title,author\nT,A\n'],
      ['application/x-ndjson', '{"title":"T","author":"A"}\n'],
    ]) {
      const file = await h.app.inject({
        method: 'POST',
        url: '/books/bulk',
        headers: { ...user.auth, 'content-type': contentType },
        payload,
      });
      expect(file.statusCode, contentType).toBe(503);
      expect(file.json(), contentType).toMatchObject({ success: false, code: 'QUEUE_UNAVAILABLE' });
    }
    expect((await h.app.inject({ method: 'GET', url: '/books/queue', headers: user.auth })).statusCode).toBe(503);
    const id = '0b8e7c52-5d0e-4c8a-9a55-3f1b2f1c9d10';
    for (const [method, url] of [
      ['GET', '/books/bulk'],
      ['DELETE', `/books/bulk/${id}`],
      ['GET', `/books/bulk/${id}/failures`],
      ['GET', `/books/bulk/${id}/failures.csv`],
    ] as const) {
      const answer = await h.app.inject({ method, url, headers: user.auth });
      expect(answer.statusCode, `${method} ${url}`).toBe(503);
      expect(answer.json(), `${method} ${url}`).toMatchObject({ success: false, code: 'QUEUE_UNAVAILABLE' });
    }
  });

  it('answers the admin bulk routes with 503 QUEUE_UNAVAILABLE', async () => {
    const admin = await signup(h.app, { email: 'ops@example.com' });
    await verifyEmail(h.ctx.database.url, admin.id);
    for (const [method, url] of [
      ['GET', '/admin/bulk?stage=failed'],
      ['POST', '/admin/bulk/0b8e7c52-5d0e-4c8a-9a55-3f1b2f1c9d10/retry'],
    ] as const) {
      const answer = await h.app.inject({ method, url, headers: admin.auth });
      expect(answer.statusCode, `${method} ${url}`).toBe(503);
      expect(answer.json(), `${method} ${url}`).toMatchObject({ success: false, code: 'QUEUE_UNAVAILABLE' });
    }
  });

  it('reports Redis down in /health (503) but stays ready to serve', async () => {
    const health = await h.app.inject({ method: 'GET', url: '/health' });
    expect(health.statusCode).toBe(503);
    expect(health.json()).toMatchObject({
      success: false,
      status: 'degraded',
      checks: { postgres: { status: 'up' }, redis: { status: 'down' } },
    });
    expect((await h.app.inject({ method: 'GET', url: '/health/ready' })).statusCode).toBe(200);
    expect((await h.app.inject({ method: 'GET', url: '/health/live' })).statusCode).toBe(200);
  });
});

describe('Redis going away while the app runs', () => {
  let redis: PrivateRedis;
  let h: ApiHarness;
  beforeAll(async () => {
    redis = await createPrivateRedis();
    await redis.start();
    h = await startApi('redis-flaky', { REDIS_URL: redis.url });
  });
  afterAll(async () => {
    await h?.close();
    await redis?.stop();
  });

  it('keeps serving reads and writes, reports it, and caches again once Redis is back', async () => {
    const user = await signup(h.app);
    await addBook(h.app, user, { title: 'First', author: 'A' });
    await h.app.inject({ method: 'GET', url: '/books', headers: user.auth });
    expect((await h.app.inject({ method: 'GET', url: '/books', headers: user.auth })).headers['x-cache']).toBe('HIT');

    await redis.stop();
    const read = await h.app.inject({ method: 'GET', url: '/books', headers: user.auth });
    expect(read.statusCode).toBe(200);
    expect(read.json().source).toBe('database');
    const write = await h.app.inject({
      method: 'POST',
      url: '/books',
      headers: user.auth,
      payload: { title: 'Written while Redis was down', author: 'A' },
    });
    expect(write.statusCode).toBe(201);
    expect((await h.app.inject({ method: 'GET', url: '/health' })).json().checks.redis.status).toBe('down');

    await redis.start();
    await expect
      .poll(async () => (await h.app.inject({ method: 'GET', url: '/health' })).statusCode, { timeout: 10_000, interval: 200 })
      .toBe(200);
    const after = await h.app.inject({ method: 'GET', url: '/books', headers: user.auth });
    expect(after.json().total).toBe(2);
    // The invalidation owed since the outage is paid once Redis answers; then the user is cached again.
    const list = () => h.app.inject({ method: 'GET', url: '/books', headers: user.auth });
    const listTwice = async () => {
      await list();
      return (await list()).headers['x-cache'];
    };
    await expect.poll(listTwice, { timeout: 5000, interval: 100 }).toBe('HIT');
    expect((await list()).json().total).toBe(2);
  });
});

describe('Redis frozen during a write (a partition: the connection stays up, nothing answers)', () => {
  let redis: PrivateRedis;
  let h: ApiHarness;
  beforeAll(async () => {
    redis = await createPrivateRedis();
    await redis.start();
    h = await startApi('redis-frozen', { REDIS_URL: redis.url });
  });
  afterAll(async () => {
    await h?.close();
    await redis?.stop();
  });

  it('never serves the pre-write page once Redis answers again', async () => {
    const user = await signup(h.app);
    await addBook(h.app, user, { title: 'Old', author: 'A' });
    await h.app.inject({ method: 'GET', url: '/books', headers: user.auth });
    expect((await h.app.inject({ method: 'GET', url: '/books', headers: user.auth })).headers['x-cache']).toBe('HIT');

    redis.pause();
    const write = await h.app.inject({ method: 'POST', url: '/books', headers: user.auth, payload: { title: 'New', author: 'A' } });
    expect(write.statusCode).toBe(201);
    redis.resume();

    const after = await h.app.inject({ method: 'GET', url: '/books', headers: user.auth });
    expect(after.json().data.map((b: { title: string }) => b.title)).toEqual(['New', 'Old']);
  });
});
