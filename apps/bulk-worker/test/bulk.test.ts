import { listBulkRequests, readBulkRequest } from '@books/core/bulk';
import { booksCacheField, createBooksCache } from '@books/core/cache';
import { books as booksTable } from '@books/core/db';
import { insertUser, queueImport, readImport } from '@books/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBulkPass } from '../src/jobs/bulk-pass.js';
import { type BulkHarness, makeBooks, startBulkHarness, titlesInDb } from './harness.js';

let h: BulkHarness;
beforeAll(async () => {
  h = await startBulkHarness('bulk');
});
afterAll(() => h?.close());

describe('a bulk pass', () => {
  it('inserts exactly the valid books, reports the rest, invalidates the cache and awaits a report', async () => {
    const user = await insertUser(h.stores.db);
    const books = [...makeBooks(20, 'Pass'), { title: '', author: 'Empty title' }, { title: 'Year', author: 'A', publishedYear: '1999' }];
    const requestId = await queueImport(h.stores, user.id, books);
    // A page of the user's books cached before the pass, through core's cache as the API fills it.
    const cache = createBooksCache(h.deps.redis, h.deps.keys, h.ctx.bulkWorkerConfig.cacheTtlSeconds);
    const field = booksCacheField({ limit: 20, offset: 0 });
    const beforePass = await cache.read(user.id, field);
    expect(await cache.fill(user.id, field, '{"data":[],"total":0}', beforePass.gen)).toBe(true);
    expect((await cache.read(user.id, field)).value).not.toBeNull();

    // Earlier tests left queued requests too: this pass drains them all.
    const summary = await runBulkPass(h.deps);
    expect(summary.inserted).toBeGreaterThanOrEqual(20);
    expect(summary.erroredUsers).toBe(0);

    expect(await titlesInDb(h.deps, user.id)).toEqual(
      makeBooks(20, 'Pass')
        .map((b) => b.title)
        .sort(),
    );
    // The page is gone, and a reader that looked before the pass cannot put its stale page back.
    const afterPass = await cache.read(user.id, field);
    expect(afterPass.value).toBeNull();
    expect(afterPass.gen).not.toBe(beforePass.gen);
    expect(await cache.fill(user.id, field, '{"data":[],"total":0}', beforePass.gen)).toBe(false);

    const view = await readImport(h.stores, user.id, requestId);
    expect(view).toMatchObject({
      stage: 'processed_awaiting_report',
      submitted: 22,
      inserted: 20,
      failed: 2,
      processedAt: expect.any(String),
      durationMs: expect.any(Number),
    });
    expect(view.failedItems.map((f: { index: number }) => f.index)).toEqual([20, 21]);
    const status = await h.deps.redis.hgetall(h.deps.keys.bulkStatus(user.id));
    expect(status).toMatchObject({
      stage: 'processed_awaiting_report',
      requestIds: requestId,
      totalBooks: '22',
      successCount: '20',
      failCount: '2',
    });
    expect(await h.deps.redis.exists(h.deps.keys.bulkItems(user.id, requestId))).toBe(0);
    expect(await h.deps.redis.llen(h.deps.keys.bulkQueue(user.id))).toBe(0);
    expect(await runBulkPass(h.deps)).toMatchObject({ requests: 0, inserted: 0 });
  });

  it('reports duplicate ISBNs, within the request and against the collection, and inserts the rest', async () => {
    const user = await insertUser(h.stores.db);
    const [existing, a, b] = makeBooks(3, 'Dup');
    await h.stores.db.insert(booksTable).values({ ...existing!, userId: user.id });
    const requestId = await queueImport(h.stores, user.id, [a, { ...existing, title: 'Again' }, b, { ...a, title: 'Twin of a' }]);
    await runBulkPass(h.deps);
    const view = await readImport(h.stores, user.id, requestId);
    expect(view).toMatchObject({ inserted: 2, failed: 2 });
    expect(view.failedItems).toEqual([
      { index: 1, title: 'Again', author: existing!.author, reason: `duplicate ISBN ${existing!.isbn}: already in your collection` },
      { index: 3, title: 'Twin of a', author: a!.author, reason: `duplicate ISBN ${a!.isbn}: same as item 0 of this import` },
    ]);
    expect(await titlesInDb(h.deps, user.id)).toEqual([a!.title, b!.title, existing!.title].sort());
  });

  it('keeps three users who submit at once apart: own books, own requests', async () => {
    const users = await Promise.all([insertUser(h.stores.db), insertUser(h.stores.db), insertUser(h.stores.db)]);
    const sizes = [5, 9, 13];
    const ids = await Promise.all(users.map((user, n) => queueImport(h.stores, user.id, makeBooks(sizes[n]!, `Iso${n}`))));
    await runBulkPass(h.deps);
    for (const [n, user] of users.entries()) {
      expect(await titlesInDb(h.deps, user.id)).toEqual(
        makeBooks(sizes[n]!, `Iso${n}`)
          .map((b) => b.title)
          .sort(),
      );
      const requests = await listBulkRequests(h.deps.redis, h.deps.keys, user.id);
      expect(requests.map((r) => [r.requestId, r.stage, r.inserted])).toEqual([[ids[n], 'processed_awaiting_report', sizes[n]]]);
      expect(await readBulkRequest(h.deps.redis, h.deps.keys, user.id, ids[(n + 1) % 3]!)).toBeNull();
    }
  });

  it('inserts each book once when two replicas run their passes at the same moment', async () => {
    const users = await Promise.all([insertUser(h.stores.db), insertUser(h.stores.db), insertUser(h.stores.db)]);
    for (const [n, user] of users.entries()) {
      await queueImport(h.stores, user.id, makeBooks(40, `Race${n}`));
      await queueImport(h.stores, user.id, makeBooks(15, `RaceB${n}`));
    }
    const other = h.replica();
    const [one, two] = await Promise.all([runBulkPass(h.deps), runBulkPass(other)]);
    expect(one.inserted + two.inserted).toBe(3 * 55);
    for (const user of users) {
      const { n, distinct } = (
        await h.deps.sql<{ n: number; distinct: number }[]>`
        select count(*)::int as n, count(distinct (bulk_request_id, bulk_item_index))::int as distinct from books where user_id = ${user.id}`
      )[0]!;
      expect({ n, distinct }).toEqual({ n: 55, distinct: 55 });
      const requests = await listBulkRequests(h.deps.redis, h.deps.keys, user.id);
      // Both queued within the same millisecond at times, so their newest-first order is not asserted.
      expect(requests.map((r) => [r.stage, r.inserted]).sort((a, b) => Number(a[1]) - Number(b[1]))).toEqual([
        ['processed_awaiting_report', 15],
        ['processed_awaiting_report', 40],
      ]);
    }
  });
});
