import { listBulkRequests } from '@books/core/bulk';
import { requestMember } from '@books/core/redis';
import { freePort, insertUser, queueImport, readImport } from '@books/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBulkPass } from '../src/jobs/bulk-pass.js';
import { type BulkHarness, makeBooks, startBulkHarness, titlesInDb } from './harness.js';

let h: BulkHarness;
beforeAll(async () => {
  h = await startBulkHarness('bulk-recovery', { BULK_MAX_ATTEMPTS: '3', BULK_LEASE_SECONDS: '1' });
});
afterAll(() => h?.close());

describe('a worker that dies mid-request', () => {
  it('is resumed by another once its lease expires, with no duplicate and no loss', async () => {
    const user = await insertUser(h.stores.db);
    const books = makeBooks(30, 'Crash');
    const requestId = await queueImport(h.stores, user.id, books);
    const { keys, redis, sql } = h.deps;

    // The state a worker leaves when it is killed after committing its first chunk (items 0-6)
    // but before telling Redis: rows in Postgres, record still at item 0, lease still held.
    await sql`
      insert into books (user_id, title, author, isbn, published_year, bulk_request_id, bulk_item_index)
      select ${user.id}::uuid, t.title, t.author, t.isbn, t.year, ${requestId}::uuid, t.idx
      from unnest(${books.slice(0, 7).map((b) => b.title)}::text[], ${books.slice(0, 7).map((b) => b.author)}::text[],
                  ${books.slice(0, 7).map((b) => b.isbn)}::text[], ${books.slice(0, 7).map((b) => b.publishedYear)}::int[],
                  ${[0, 1, 2, 3, 4, 5, 6]}::int[]) as t(title, author, isbn, year, idx)`;
    await redis.hset(keys.bulkRequest(user.id, requestId), 'stage', 'processing', 'processingStartedAt', new Date().toISOString());
    await redis.set(keys.bulkLease(user.id), 'token-of-the-dead-worker', 'PX', 800);

    expect((await readImport(h.stores, user.id, requestId)).stage).toBe('processing');
    const whileHeld = await runBulkPass(h.deps);
    expect(whileHeld.skippedUsers).toBe(1);
    expect(await titlesInDb(h.deps, user.id)).toHaveLength(7);

    await expect.poll(() => redis.exists(keys.bulkLease(user.id)), { timeout: 5000 }).toBe(0);
    await runBulkPass(h.replica());
    expect(await titlesInDb(h.deps, user.id)).toEqual(books.map((b) => b.title).sort());
    expect(await readImport(h.stores, user.id, requestId)).toMatchObject({
      stage: 'processed_awaiting_report',
      inserted: 30,
      failed: 0,
      failedItems: [],
    });
  });

  it('hands the rest back when it is stopped, and the next pass finishes the request', async () => {
    const user = await insertUser(h.stores.db);
    const requestId = await queueImport(h.stores, user.id, makeBooks(30, 'Stop'));
    const stop = new AbortController();
    const recordProgress = h.deps.scripts.recordProgress;
    // Stop (as SIGTERM does) right after the first chunk is committed and recorded.
    const stopping = {
      ...h.deps,
      scripts: {
        ...h.deps.scripts,
        recordProgress: async (...args: Parameters<typeof recordProgress>) => {
          const result = await recordProgress(...args);
          stop.abort();
          return result;
        },
      },
    };
    await runBulkPass(stopping, stop.signal);

    const midway = await readImport(h.stores, user.id, requestId);
    expect(midway).toMatchObject({ stage: 'processing', inserted: 7, nextItem: 7 });
    expect(await h.deps.redis.exists(h.deps.keys.bulkLease(user.id))).toBe(0);
    expect(await titlesInDb(h.deps, user.id)).toHaveLength(7);

    await runBulkPass(h.deps);
    expect(await titlesInDb(h.deps, user.id)).toHaveLength(30);
    expect(await readImport(h.stores, user.id, requestId)).toMatchObject({ stage: 'processed_awaiting_report', inserted: 30 });
  });
});

describe('Postgres unreachable', () => {
  it('keeps the work queued, counts the attempt, and a later pass after the backoff succeeds', async () => {
    const user = await insertUser(h.stores.db);
    const requestId = await queueImport(h.stores, user.id, makeBooks(10, 'Down'));
    const broken = h.replica({ DATABASE_URL: `postgres://postgres@127.0.0.1:${await freePort()}/nowhere` });

    await runBulkPass(broken);
    const afterFailure = await readImport(h.stores, user.id, requestId);
    expect(afterFailure).toMatchObject({
      stage: 'queued',
      attempts: 1,
      inserted: 0,
      lastError: 'the database was unavailable',
      lastErrorCode: 'DATABASE_UNAVAILABLE',
    });
    // What the user sees names no host, port or driver message: those are in the worker's log.
    expect(JSON.stringify(afterFailure)).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|nowhere/);
    expect(Date.parse(afterFailure.nextAttemptAt ?? '')).toBeGreaterThan(Date.now());
    expect(await h.deps.redis.llen(h.deps.keys.bulkItems(user.id, requestId))).toBe(10);

    // Before the backoff has passed, a healthy worker leaves it alone…
    await runBulkPass(h.deps);
    expect(await titlesInDb(h.deps, user.id)).toHaveLength(0);
    // …and after it, inserts everything.
    await runBulkPass({ ...h.deps, now: () => new Date(Date.now() + 60 * 60_000) });
    expect(await titlesInDb(h.deps, user.id)).toHaveLength(10);
    expect(await readImport(h.stores, user.id, requestId)).toMatchObject({ stage: 'processed_awaiting_report', inserted: 10, attempts: 1 });
  });

  it('marks the request failed once BULK_MAX_ATTEMPTS are used, counted among failed requests, and owes its owner a report', async () => {
    const user = await insertUser(h.stores.db);
    const requestId = await queueImport(h.stores, user.id, makeBooks(4, 'Doomed'));
    const broken = h.replica({ DATABASE_URL: `postgres://postgres@127.0.0.1:${await freePort()}/nowhere` });
    for (let attempt = 1; attempt <= 3; attempt++) {
      await runBulkPass({ ...broken, now: () => new Date(Date.now() + attempt * 60 * 60_000) });
    }
    const requests = await listBulkRequests(h.deps.redis, h.deps.keys, user.id);
    // Its only request, failed: neither queued nor processing any more.
    expect(requests.map((r) => r.stage)).toEqual(['failed']);
    expect(requests[0]).toMatchObject({
      requestId,
      stage: 'failed',
      attempts: 3,
      lastError: 'the database was unavailable',
      lastErrorCode: 'DATABASE_UNAVAILABLE',
      failedAt: expect.any(String),
    });
    // Its books are kept, as long as its record, for an administrator's re-drive (see redrive.test.ts).
    expect(await h.deps.redis.llen(h.deps.keys.bulkItems(user.id, requestId))).toBe(4);
    expect(await h.deps.redis.ttl(h.deps.keys.bulkItems(user.id, requestId))).toBeGreaterThan(0);
    expect(await h.deps.redis.lrange(h.deps.keys.bulkQueue(user.id), 0, -1)).toEqual([]);
    // It waits for the report worker, like a processed request: the email tells the user.
    expect(await h.deps.redis.hget(h.deps.keys.bulkStatus(user.id), 'requestIds')).toBe(requestId);
    expect(await h.deps.redis.zscore(h.deps.keys.reportPending(user.id), user.id)).not.toBeNull();

    // The set GET /admin/stats counts as failedRequests.
    expect(await h.deps.redis.zscore(h.deps.keys.bulkFailed(user.id), requestMember(user.id, requestId))).not.toBeNull();
    await runBulkPass({ ...h.deps, now: () => new Date(Date.now() + 10 * 60 * 60_000) });
    expect(await titlesInDb(h.deps, user.id)).toHaveLength(0);
  });
});
