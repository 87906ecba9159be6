// DELETE /books/bulk/:id as the bulk worker sees it: a queued request cancelled before a pass is
// never started, and one cancelled while being processed stops at the next chunk boundary with what
// went in. The cancel goes through core's cancelBulkRequest, as the API calls it.
import { cancelBulkRequest } from '@books/core/bulk';
import { countSharded } from '@books/core/redis';
import { insertUser, processQueuedImportPartly, queueImport, readImport } from '@books/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBulkPass } from '../src/jobs/bulk-pass.js';
import { type BulkHarness, makeBooks, startBulkHarness, titlesInDb } from './harness.js';

let h: BulkHarness;
beforeAll(async () => {
  // Chunks of 7 (the harness's BULK_CHUNK_SIZE).
  h = await startBulkHarness('bulk-cancel');
});
afterAll(() => h?.close());

const cancel = (userId: string, requestId: string) =>
  cancelBulkRequest(h.deps.redis, h.deps.keys, userId, requestId, { now: new Date(), cacheTtlMs: 60_000 });

describe('a cancelled bulk request', () => {
  it('queued: the pass inserts nothing of it, and goes on with the next request of the same user', async () => {
    const user = await insertUser(h.stores.db);
    const cancelled = await queueImport(h.stores, user.id, makeBooks(10, 'Never'));
    const next = await queueImport(h.stores, user.id, makeBooks(3, 'Next'));
    expect(await cancel(user.id, cancelled)).toEqual({ outcome: 'cancelled' });

    const summary = await runBulkPass(h.deps);
    expect(summary).toMatchObject({ requests: 1, inserted: 3, erroredUsers: 0 });
    expect(await titlesInDb(h.deps, user.id)).toEqual(['Next 0', 'Next 1', 'Next 2']);
    expect(await readImport(h.stores, user.id, cancelled)).toMatchObject({ stage: 'cancelled', inserted: 0, processingStartedAt: null });
    expect(await readImport(h.stores, user.id, next)).toMatchObject({ stage: 'processed_awaiting_report', inserted: 3 });
    // Both wait for the same report.
    expect((await h.deps.redis.hget(h.deps.keys.bulkStatus(user.id), 'requestIds'))?.split(',').sort()).toEqual([cancelled, next].sort());
  });

  it('processing: stops at the next chunk boundary, cancelled with what went in so far', async () => {
    const user = await insertUser(h.stores.db);
    const requestId = await queueImport(h.stores, user.id, makeBooks(30, 'Stop'));
    const next = await queueImport(h.stores, user.id, makeBooks(2, 'After'));
    const recordProgress = h.deps.scripts.recordProgress;
    let chunks = 0;
    // The owner cancels while the first chunk is being inserted (the 202 case): the request is processing.
    const cancelling = {
      ...h.deps,
      scripts: {
        ...h.deps.scripts,
        recordProgress: async (...args: Parameters<typeof recordProgress>) => {
          if (chunks++ === 0) expect(await cancel(user.id, requestId)).toEqual({ outcome: 'cancel_requested' });
          return recordProgress(...args);
        },
      },
    };
    await runBulkPass(cancelling);

    expect(await readImport(h.stores, user.id, requestId)).toMatchObject({
      stage: 'cancelled',
      inserted: 7,
      nextItem: 7,
      cancelRequestedAt: expect.any(String),
      cancelledAt: expect.any(String),
      processedAt: null,
    });
    const titles = await titlesInDb(h.deps, user.id);
    expect(titles.filter((t) => t.startsWith('Stop'))).toHaveLength(7);
    expect(titles.filter((t) => t.startsWith('After'))).toHaveLength(2);
    expect(await h.deps.redis.exists(h.deps.keys.bulkItems(user.id, requestId))).toBe(0);
    expect(await h.deps.redis.lrange(h.deps.keys.bulkQueue(user.id), 0, -1)).toEqual([]);
    expect(await countSharded(h.deps.redis, h.deps.keys.bulkPendingShards())).toBe(0);
    expect((await readImport(h.stores, user.id, next)).stage).toBe('processed_awaiting_report');

    // A later pass has nothing left of it.
    await runBulkPass(h.deps);
    expect(await titlesInDb(h.deps, user.id)).toHaveLength(9);
  });

  it('processing by a worker that stopped: the next worker inserts nothing more and ends it cancelled', async () => {
    const user = await insertUser(h.stores.db);
    const requestId = await queueImport(h.stores, user.id, makeBooks(20, 'Died'));
    await processQueuedImportPartly(h.stores, user.id, requestId, 5);
    expect(await cancel(user.id, requestId)).toEqual({ outcome: 'cancel_requested' });

    await runBulkPass(h.deps);
    expect(await readImport(h.stores, user.id, requestId)).toMatchObject({ stage: 'cancelled', inserted: 5 });
    expect(await titlesInDb(h.deps, user.id)).toHaveLength(5);
    expect(await cancel(user.id, requestId)).toEqual({ outcome: 'cancelled' });
  });

  it('processing by a worker that died after a commit Redis never heard of: those books are counted, no others go in', async () => {
    const user = await insertUser(h.stores.db);
    const books = makeBooks(20, 'Unheard');
    const requestId = await queueImport(h.stores, user.id, books);
    const { keys, redis, sql } = h.deps;
    // As a worker leaves it when killed after committing its first chunk (items 0-6) and before
    // recording it: rows in Postgres, record still at item 0, stage processing, lease gone.
    const first = books.slice(0, 7);
    await sql`
      insert into books (user_id, title, author, isbn, published_year, bulk_request_id, bulk_item_index)
      select ${user.id}::uuid, t.title, t.author, t.isbn, t.year, ${requestId}::uuid, t.idx
      from unnest(${first.map((b) => b.title)}::text[], ${first.map((b) => b.author)}::text[],
                  ${first.map((b) => b.isbn)}::text[], ${first.map((b) => b.publishedYear)}::int[],
                  ${[0, 1, 2, 3, 4, 5, 6]}::int[]) as t(title, author, isbn, year, idx)`;
    await redis.hset(keys.bulkRequest(user.id, requestId), 'stage', 'processing', 'processingStartedAt', new Date().toISOString());
    expect(await cancel(user.id, requestId)).toEqual({ outcome: 'cancel_requested' });

    await runBulkPass(h.deps);
    expect(await readImport(h.stores, user.id, requestId)).toMatchObject({ stage: 'cancelled', inserted: 7, failed: 0 });
    expect(await titlesInDb(h.deps, user.id)).toEqual(first.map((b) => b.title).sort());
  });
});
