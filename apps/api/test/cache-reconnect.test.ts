// A replica that lost Redis and gets it back must read the debts recorded meanwhile before it trusts
// a cached page again: its next poll may be far off, and Redis (persisted, or only partitioned away)
// may still hold the page from before a write made during the outage.
import { once } from 'node:events';
import { booksCacheField } from '@books/core/cache';
import { createRedisClient, type RedisClient } from '@books/core/redis';
import { createPrivateRedis, type PrivateRedis } from '@books/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listBooksCacheDebts } from '../src/services/books-cache-debts.js';
import { createGuardedBooksCache, type GuardedBooksCache } from '../src/services/guarded-books-cache.js';
import { createRedisProxy, type TcpProxy } from './cache-tcp-proxy.js';
import { type ApiHarness, addBook, signup, startApi } from './helpers.js';

const field = booksCacheField({ limit: 100, offset: 0 });
// So long that only the reconnect, not a poll, can tell replica B about the debt within the test.
const FAR_OFF_POLL_MS = 10 * 60_000;

let redis: PrivateRedis;
let toA: TcpProxy;
let toB: TcpProxy;
let h: ApiHarness;
let clientB: RedisClient;
let replicaB: GuardedBooksCache;

beforeAll(async () => {
  redis = await createPrivateRedis();
  await redis.start();
  [toA, toB] = await Promise.all([createRedisProxy(redis.port), createRedisProxy(redis.port)]);
  // Replica A is the app under test; replica B is a second guarded cache with its own Redis client.
  h = await startApi('cache-reconnect', { REDIS_URL: toA.url });
  clientB = createRedisClient({ redisUrl: toB.url, redisClusterNodes: [] }, 'api', h.app.log, {
    autoPipelining: true,
    timeouts: h.ctx.config.redisTimeouts,
  });
  replicaB = createGuardedBooksCache({ redis: clientB, keys: h.app.keys, ttlSeconds: 300, db: h.app.db, log: h.app.log }, FAR_OFF_POLL_MS);
  await replicaB.start();
});

afterAll(async () => {
  await replicaB?.stop();
  clientB?.disconnect();
  await h?.close();
  await Promise.all([toA?.close(), toB?.close()]);
  await redis?.destroy();
});

describe('a replica getting Redis back', () => {
  it('reads the debts recorded while it was away before it serves a cached page again', async () => {
    const user = await signup(h.app);
    await addBook(h.app, user, { title: 'Old', author: 'A' });
    await h.app.inject({ method: 'GET', url: '/books', headers: user.auth });
    expect((await replicaB.read(user.id, field)).value?.toString()).toContain('"Old"');

    // Redis unreachable from both; A writes, and its invalidation becomes a debt in Postgres.
    await Promise.all([toA.cut(), toB.cut()]);
    await expect.poll(() => clientB.status, { timeout: 5000, interval: 20 }).not.toBe('ready');
    const write = await h.app.inject({ method: 'POST', url: '/books', headers: user.auth, payload: { title: 'New', author: 'A' } });
    expect(write.statusCode).toBe(201);
    expect((await listBooksCacheDebts(h.app.db)).map((d) => d.userId)).toEqual([user.id]);

    // Only B gets Redis back, where the page from before the write still is.
    await toB.restore();
    await once(clientB, 'ready');
    expect((await replicaB.read(user.id, field)).value).toBeNull();

    // B pays the debt (A still cannot), then caches again.
    await expect.poll(async () => (await listBooksCacheDebts(h.app.db)).length, { timeout: 5000, interval: 20 }).toBe(0);
    const miss = await replicaB.read(user.id, field);
    expect(miss.value).toBeNull();
    expect(await replicaB.fill(user.id, field, '{"fresh":true}', miss.gen)).toBe(true);
    expect((await replicaB.read(user.id, field)).value?.toString()).toBe('{"fresh":true}');
  });
});
