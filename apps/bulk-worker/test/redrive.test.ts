// A request that failed because Postgres was down, re-driven by an administrator (core's
// redriveBulkRequest, what POST /admin/bulk/:id/retry calls), then drained by a worker whose
// database works: every book goes in exactly once, from where the failed attempts stopped.
import { createReportScripts, redriveBulkRequest } from '@books/core/bulk';
import { acquireLease } from '@books/core/redis';
import { freePort, insertUser, queueImport, readImport } from '@books/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBulkPass } from '../src/jobs/bulk-pass.js';
import { type BulkHarness, makeBooks, startBulkHarness } from './harness.js';

let h: BulkHarness;
beforeAll(async () => {
  h = await startBulkHarness('bulk-redrive', { BULK_MAX_ATTEMPTS: '2' });
});
afterAll(() => h?.close());

const hoursLater = (hours: number) => () => new Date(Date.now() + hours * 60 * 60_000);

describe('a request re-driven after it failed for good', () => {
  it('is drained by a worker with a working database: every book once, the earlier failure in its history', async () => {
    const user = await insertUser(h.stores.db);
    const books = makeBooks(20, 'Redrive');
    const requestId = await queueImport(h.stores, user.id, books);
    const { redis, keys, sql } = h.deps;

    // A healthy worker commits the first chunk (7 books) and is stopped, as by SIGTERM…
    const stop = new AbortController();
    const recordProgress = h.deps.scripts.recordProgress;
    await runBulkPass(
      {
        ...h.deps,
        scripts: {
          ...h.deps.scripts,
          recordProgress: async (...args: Parameters<typeof recordProgress>) => {
            const result = await recordProgress(...args);
            stop.abort();
            return result;
          },
        },
      },
      stop.signal,
    );
    // …then Postgres is unreachable for every attempt until BULK_MAX_ATTEMPTS (2) are used.
    const broken = h.replica({ DATABASE_URL: `postgres://postgres@127.0.0.1:${await freePort()}/nowhere` });
    await runBulkPass({ ...broken, now: hoursLater(1) });
    await runBulkPass({ ...broken, now: hoursLater(2) });
    const failed = await readImport(h.stores, user.id, requestId);
    expect(failed).toMatchObject({ stage: 'failed', attempts: 2, inserted: 7, nextItem: 7, lastErrorCode: 'DATABASE_UNAVAILABLE' });

    // A pass now finds nothing to do: a failed request stays failed until it is re-driven.
    await runBulkPass({ ...h.deps, now: hoursLater(3) });
    expect((await readImport(h.stores, user.id, requestId)).stage).toBe('failed');

    expect(await redriveBulkRequest(redis, keys, user.id, requestId, { now: new Date() })).toEqual({ outcome: 'redriven' });
    await runBulkPass(h.deps);

    const rows = await sql<{ bulk_item_index: number; n: number }[]>`
      select bulk_item_index, count(*)::int as n from books where bulk_request_id = ${requestId} group by 1 order by 1`;
    expect(rows).toEqual(books.map((_, i) => ({ bulk_item_index: i, n: 1 })));
    const drained = await readImport(h.stores, user.id, requestId);
    expect(drained).toMatchObject({
      stage: 'processed_awaiting_report',
      inserted: 20,
      failed: 0,
      attempts: 0,
      nextItem: 20,
      lastError: null,
      previousFailures: [
        {
          attempts: 2,
          lastError: 'the database was unavailable',
          lastErrorCode: 'DATABASE_UNAVAILABLE',
          failedAt: failed.failedAt,
          reportedAt: null,
        },
      ],
    });
    // Its queued books are gone now that they are in, and its report covers the whole import.
    expect(await redis.exists(keys.bulkItems(user.id, requestId))).toBe(0);
    expect(await redis.hgetall(keys.bulkStatus(user.id))).toMatchObject({ requestIds: requestId, totalBooks: '20', successCount: '20' });

    // The report goes out as for any import: completed, the history still on record.
    const lease = await acquireLease(redis, keys.reportLease(user.id), 30_000);
    await createReportScripts(redis, keys, { recordTtlSeconds: 3600 }).complete(user.id, lease!.token, {
      requestIds: [requestId],
      completedAt: new Date(),
      messageId: '<redrive@test>',
    });
    expect(await readImport(h.stores, user.id, requestId)).toMatchObject({ stage: 'completed', previousFailures: [expect.anything()] });
  });
});
