// A reader notes the cache generation, reads Postgres, and may fill only if the generation is the
// same: these tests pause that reader between its read and its fill while the hash expires, Redis
// restarts or a write lands, and check that no page older than the write gets back in.
import { booksCacheField, createBooksCache, INVALIDATE_BOOKS_CACHE_LUA } from '@books/core/cache';
import { createRedisKeys, type RedisClient, registerAllScripts } from '@books/core/redis';
import { createPrivateRedis, type PrivateRedis } from '@books/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listBooks } from '../src/services/books-store.js';
import { type ApiHarness, addBook, signup, startApi, type TestUser } from './helpers.js';

const field = booksCacheField({ limit: 100, offset: 0 });
const titles = (body: { data: { title: string }[] }) => body.data.map((b) => b.title);

async function expireNow(redis: RedisClient, key: string) {
  await redis.pexpire(key, 1);
  await expect.poll(() => redis.exists(key), { timeout: 2000, interval: 5 }).toBe(0);
}

describe('a generation never repeats', () => {
  let h: ApiHarness;
  beforeAll(async () => {
    h = await startApi('cache-gen');
  });
  afterAll(() => h?.close());

  const list = (user: TestUser) => h.app.inject({ method: 'GET', url: '/books', headers: user.auth });
  const stalePageOf = async (user: TestUser) => JSON.stringify(await listBooks(h.app.db, user.id, { limit: 100, offset: 0 }));

  it('a reader paused while the cache expired cannot fill it after a later write', async () => {
    const user = await signup(h.app);
    await addBook(h.app, user, { title: 'Before', author: 'A' });
    const key = h.app.keys.booksCache(user.id);
    // Control: with nothing in between, this very sequence fills (another page of the same user).
    const otherField = booksCacheField({ limit: 5, offset: 0 });
    const control = await h.app.booksCache.read(user.id, otherField);
    expect(await h.app.booksCache.fill(user.id, otherField, await stalePageOf(user), control.gen)).toBe(true);

    // The reader notes the generation of the last write and reads Postgres…
    const before = await h.app.booksCache.read(user.id, field);
    expect(before.value).toBeNull();
    const stalePage = await stalePageOf(user);
    // …the hash expires (its generation with it), a write lands and invalidates…
    await expireNow(h.app.redis, key);
    await addBook(h.app, user, { title: 'After', author: 'A' });
    // …and only then does the reader try to store what it read: refused.
    expect(await h.app.booksCache.fill(user.id, field, stalePage, before.gen)).toBe(false);

    expect(await h.app.redis.hget(key, field)).toBeNull();
    expect(titles((await list(user)).json())).toEqual(['After', 'Before']);
  });

  it('each invalidation writes a larger generation than any before it, also after the hash expired', async () => {
    const user = await signup(h.app);
    const key = h.app.keys.booksCache(user.id);
    const seen: bigint[] = [];
    for (let i = 0; i < 6; i++) {
      await addBook(h.app, user, { title: `Book ${i}`, author: 'A' });
      seen.push(BigInt((await h.app.redis.hget(key, 'gen')) ?? '-1'));
      if (i % 2 === 1) await expireNow(h.app.redis, key);
    }
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThan(seen[i - 1] as bigint);
    // Even a generation written in the future (a clock that went back since) is passed, not repeated.
    await h.app.redis.hset(key, 'gen', '5000000000000000');
    await addBook(h.app, user, { title: 'Late clock', author: 'A' });
    expect(await h.app.redis.hget(key, 'gen')).toBe('5000000000000001');
  });

  it('keeps invalidate_books_cache(key, ttl_ms) for the scripts that embed it', async () => {
    const user = await signup(h.app);
    const key = h.app.keys.booksCache(user.id);
    await list(user);
    expect(await h.app.redis.hget(key, field)).not.toBeNull();
    const script = `${INVALIDATE_BOOKS_CACHE_LUA}\ninvalidate_books_cache(KEYS[1], ARGV[1])\nreturn 1`;
    expect(await h.app.redis.eval(script, 1, key, 60_000)).toBe(1);
    expect(await h.app.redis.hkeys(key)).toEqual(['gen']);
    expect((await list(user)).headers['x-cache']).toBe('MISS');
  });
});

describe('a reader whose generation outlived Redis', () => {
  let redis: PrivateRedis;
  let client: Redis;
  beforeAll(async () => {
    redis = await createPrivateRedis();
    await redis.start();
    client = new Redis(redis.url);
    registerAllScripts(client);
    client.on('error', () => {});
  });
  afterAll(async () => {
    client?.disconnect();
    await redis?.destroy();
  });

  it('cannot fill after Redis restarted empty and a write invalidated', async () => {
    const cache = createBooksCache(client, createRedisKeys('gen-restart:'), 300);
    const userId = '6f1c2f8e-4a57-4b7e-9a39-2f4f7f0a2b11';
    await cache.invalidate(userId);
    const before = await cache.read(userId, field);
    expect(before.gen).not.toBe('');
    await redis.stop();
    await redis.start();
    await cache.invalidate(userId);
    expect(await cache.fill(userId, field, '{"stale":true}', before.gen)).toBe(false);
  });
});

describe('a reader that saw no cache at all', () => {
  let h: ApiHarness;
  beforeAll(async () => {
    // A short TTL, so that a write's generation expires within the test.
    h = await startApi('cache-gen-ttl', { CACHE_TTL_SECONDS: '2' });
  });
  afterAll(() => h?.close());

  it('cannot fill after a write, even once that write’s generation has expired', async () => {
    const user = await signup(h.app);
    await addBook(h.app, user, { title: 'Before', author: 'A' });
    const key = h.app.keys.booksCache(user.id);
    await expireNow(h.app.redis, key);

    const before = await h.app.booksCache.read(user.id, field);
    const stalePage = JSON.stringify(await listBooks(h.app.db, user.id, { limit: 100, offset: 0 }));
    await addBook(h.app, user, { title: 'After', author: 'A' });
    expect(await h.app.booksCache.fill(user.id, field, stalePage, before.gen)).toBe(false);
    // The write's generation expires with its TTL: the hash is absent again, as when the reader looked.
    await expect.poll(() => h.app.redis.exists(key), { timeout: 5000, interval: 50 }).toBe(0);
    expect(await h.app.booksCache.fill(user.id, field, stalePage, before.gen)).toBe(false);

    const res = await h.app.inject({ method: 'GET', url: '/books', headers: user.auth });
    expect(titles(res.json())).toEqual(['After', 'Before']);
  });
});
