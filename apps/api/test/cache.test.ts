import { booksCacheField, createBooksCache } from '@books/core/cache';
import { SHARD_TAGS, shardOf } from '@books/core/redis';
import { BookListResponseSchema } from '@books/core/schemas';
import { createTestRedis } from '@books/testing';
import Compile from 'typebox/compile';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listBooks } from '../src/services/books-store.js';
import { type ApiHarness, addBook, signup, startApi, type TestUser } from './helpers.js';

let h: ApiHarness;
beforeAll(async () => {
  h = await startApi('cache');
});
afterAll(() => h?.close());

const list = (user: TestUser, query = '') => h.app.inject({ method: 'GET', url: `/books${query}`, headers: user.auth });

describe('GET /books cache', () => {
  it('misses, then hits, and says so in the body and the X-Cache header', async () => {
    const user = await signup(h.app);
    await addBook(h.app, user, { title: 'Cached', author: 'A' });
    const first = await list(user);
    expect(first.headers['x-cache']).toBe('MISS');
    expect(first.json().source).toBe('database');
    const second = await list(user);
    expect(second.headers['x-cache']).toBe('HIT');
    expect(second.json().source).toBe('cache');
    const { source: _a, ...fromDb } = first.json();
    const { source: _b, ...fromCache } = second.json();
    expect(fromCache).toEqual(fromDb);
    // Both bodies are written as raw bytes, past Fastify's serializer: they must still match the documented schema.
    const documented = Compile(BookListResponseSchema);
    for (const res of [first, second]) {
      expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
      expect([...documented.Errors(res.json())]).toEqual([]);
    }
  });

  it("keeps every page of a user under one books hash, named for the user in the shard's slot, with a TTL", async () => {
    const user = await signup(h.app);
    await list(user);
    await list(user, '?limit=5');
    await list(user, '?search=x');
    const key = h.app.keys.booksCache(user.id);
    expect(key).toBe(`${h.ctx.namespace.prefix}books:{${SHARD_TAGS[shardOf(user.id)]}}:user:${user.id}`);
    const fields = await h.app.redis.hkeys(key);
    expect(fields.filter((f) => f !== 'gen')).toHaveLength(3);
    const ttl = await h.app.redis.ttl(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(300);
  });

  it('is invalidated, every page at once, by each write of that user and only that user', async () => {
    const [user, other] = await Promise.all([signup(h.app), signup(h.app)]);
    const book = await addBook(h.app, user, { title: 'One', author: 'A' });
    await list(other);
    const writes = [
      () => h.app.inject({ method: 'POST', url: '/books', headers: user.auth, payload: { title: 'Two', author: 'A' } }),
      () => h.app.inject({ method: 'PUT', url: `/books/${book.id}`, headers: user.auth, payload: { title: 'One, edited' } }),
      () => h.app.inject({ method: 'DELETE', url: `/books/${book.id}`, headers: user.auth }),
    ];
    for (const write of writes) {
      await list(user);
      await list(user, '?limit=1');
      expect((await list(user)).headers['x-cache']).toBe('HIT');
      expect((await write()).statusCode).toBeLessThan(300);
      const after = await list(user);
      expect(after.headers['x-cache']).toBe('MISS');
      expect((await list(user, '?limit=1')).headers['x-cache']).toBe('MISS');
    }
    expect((await list(user)).json().data.map((b: { title: string }) => b.title)).toEqual(['Two']);
    expect((await list(other)).headers['x-cache']).toBe('HIT');
  });

  it('serves the same search case-insensitively from one cache entry', async () => {
    const user = await signup(h.app);
    await addBook(h.app, user, { title: 'Dune', author: 'Frank Herbert' });
    expect((await list(user, '?search=dune')).headers['x-cache']).toBe('MISS');
    expect((await list(user, '?search=DUNE')).headers['x-cache']).toBe('HIT');
  });
});

describe('no stale read after a write', () => {
  it('a read that fetched Postgres before a write cannot fill the cache after the invalidation', async () => {
    const user = await signup(h.app);
    await addBook(h.app, user, { title: 'Before', author: 'A' });
    const cache = createBooksCache(h.app.redis, h.app.keys, 300);
    const field = booksCacheField({ limit: 100, offset: 0 });

    // The slow reader sees a miss and reads Postgres before the write lands…
    const before = await cache.read(user.id, field);
    expect(before.value).toBeNull();
    const stalePage = JSON.stringify(await listBooks(h.app.db, user.id, { limit: 100, offset: 0 }));
    // …then the write commits and invalidates…
    await addBook(h.app, user, { title: 'After', author: 'A' });
    // …and only then does the reader try to store what it read: refused.
    expect(await cache.fill(user.id, field, stalePage, before.gen)).toBe(false);

    const res = await list(user);
    expect(res.json().data.map((b: { title: string }) => b.title)).toEqual(['After', 'Before']);
  });

  it('under concurrent reads and writes, the cache always ends up agreeing with Postgres', async () => {
    const user = await signup(h.app);
    for (let round = 0; round < 15; round++) {
      const reads = Array.from({ length: 6 }, () => list(user));
      const write = h.app.inject({ method: 'POST', url: '/books', headers: user.auth, payload: { title: `Race ${round}`, author: 'A' } });
      await Promise.all([...reads, write]);
      const cachedOrNot = (await list(user)).json();
      const { count } = (await h.app.sql<{ count: number }[]>`select count(*)::int as count from books where user_id = ${user.id}`)[0]!;
      expect(cachedOrNot.total, `round ${round} (${cachedOrNot.source})`).toBe(count);
    }
  });
});

describe('the cache-hit path', () => {
  it('answers without Postgres: with the pool closed, a cached list is still served', async () => {
    const local = await startApi('cache-nopg');
    try {
      const user = await signup(local.app);
      await addBook(local.app, user, { title: 'Survivor', author: 'A' });
      await local.app.inject({ method: 'GET', url: '/books', headers: user.auth });
      await local.app.sql.end();
      const hit = await local.app.inject({ method: 'GET', url: '/books', headers: user.auth });
      expect(hit.statusCode).toBe(200);
      expect(hit.headers['x-cache']).toBe('HIT');
      expect(hit.json().data[0].title).toBe('Survivor');
      const miss = await local.app.inject({ method: 'GET', url: '/books?limit=3', headers: user.auth });
      expect(miss.statusCode).toBe(503);
      expect(miss.json()).toMatchObject({ success: false, code: 'SERVICE_UNAVAILABLE' });
    } finally {
      await local.close();
    }
  });

  it('never takes an identity from Redis: a forged one where an older version kept it changes nothing', async () => {
    const user = await signup(h.app);
    const redis = createTestRedis();
    try {
      // The key older versions cached identities under (keys.userIdentity, now gone).
      await redis.set(`${h.app.keys.prefix}identity:user:{${user.id}}`, '{"id":"forged","role":"admin"}', 'EX', 60);
      const res = await h.app.inject({ method: 'GET', url: '/auth/me', headers: user.auth });
      expect(res.statusCode).toBe(200);
      expect(res.json().data).toMatchObject({ id: user.id, role: 'user' });
    } finally {
      redis.disconnect();
    }
  });
});
