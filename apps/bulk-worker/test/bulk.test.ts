import { signUp, submitBulk } from '@books/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBulkPass } from '../src/jobs/bulk-pass.js';
import { type BulkHarness, makeBooks, queueView, requestView, startBulkHarness, titlesInDb } from './harness.js';

let h: BulkHarness;
beforeAll(async () => {
  h = await startBulkHarness('bulk', { BULK_MAX_BOOKS: '60', BULK_BODY_LIMIT: '20000', ADMIN_EMAILS: 'admin@example.com' });
});
afterAll(() => h?.close());

describe('a bulk pass', () => {
  it('inserts exactly the valid books, reports the rest, invalidates the cache and awaits a report', async () => {
    const user = await signUp(h.app);
    const books = [...makeBooks(20, 'Pass'), { title: '', author: 'Empty title' }, { title: 'Year', author: 'A', publishedYear: '1999' }];
    const { requestId } = (await submitBulk(h.app, user, books)).json().data;
    await h.app.inject({ method: 'GET', url: '/books', headers: user.auth });
    expect((await h.app.inject({ method: 'GET', url: '/books', headers: user.auth })).headers['x-cache']).toBe('HIT');

    // Earlier tests left queued requests too: this pass drains them all.
    const summary = await runBulkPass(h.deps);
    expect(summary.inserted).toBeGreaterThanOrEqual(20);
    expect(summary.erroredUsers).toBe(0);

    expect(await titlesInDb(h.deps, user.id)).toEqual(
      makeBooks(20, 'Pass')
        .map((b) => b.title)
        .sort(),
    );
    const list = await h.app.inject({ method: 'GET', url: '/books', headers: user.auth });
    expect(list.headers['x-cache']).toBe('MISS');
    expect(list.json().total).toBe(20);

    const view = await requestView(h.app, user, requestId);
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
    const user = await signUp(h.app);
    const [existing, a, b] = makeBooks(3, 'Dup');
    await h.app.inject({ method: 'POST', url: '/books', headers: user.auth, payload: existing });
    const { requestId } = (await submitBulk(h.app, user, [a, { ...existing, title: 'Again' }, b, { ...a, title: 'Twin of a' }])).json()
      .data;
    await runBulkPass(h.deps);
    const view = await requestView(h.app, user, requestId);
    expect(view).toMatchObject({ inserted: 2, failed: 2 });
    expect(view.failedItems).toEqual([
      { index: 1, title: 'Again', author: existing!.author, reason: `duplicate ISBN ${existing!.isbn}: already in your collection` },
      { index: 3, title: 'Twin of a', author: a!.author, reason: `duplicate ISBN ${a!.isbn}: same as item 0 of this import` },
    ]);
    expect(await titlesInDb(h.deps, user.id)).toEqual([a!.title, b!.title, existing!.title].sort());
  });

  it('keeps three users who submit at once apart: own books, own requests', async () => {
    const users = await Promise.all([signUp(h.app), signUp(h.app), signUp(h.app)]);
    const sizes = [5, 9, 13];
    const ids = await Promise.all(
      users.map(async (user, n) => (await submitBulk(h.app, user, makeBooks(sizes[n]!, `Iso${n}`))).json().data.requestId),
    );
    await runBulkPass(h.deps);
    for (const [n, user] of users.entries()) {
      expect(await titlesInDb(h.deps, user.id)).toEqual(
        makeBooks(sizes[n]!, `Iso${n}`)
          .map((b) => b.title)
          .sort(),
      );
      const view = await queueView(h.app, user);
      expect(view.requests.map((r: { requestId: string }) => r.requestId)).toEqual([ids[n]]);
      const foreign = await h.app.inject({ method: 'GET', url: `/books/bulk/${ids[(n + 1) % 3]}`, headers: user.auth });
      expect(foreign.statusCode).toBe(404);
    }
  });

  it('inserts each book once when two replicas run their passes at the same moment', async () => {
    const users = await Promise.all([signUp(h.app), signUp(h.app), signUp(h.app)]);
    for (const [n, user] of users.entries()) {
      await submitBulk(h.app, user, makeBooks(40, `Race${n}`));
      await submitBulk(h.app, user, makeBooks(15, `RaceB${n}`));
    }
    const other = h.replica();
    const [one, two] = await Promise.all([runBulkPass(h.deps), runBulkPass(other)]);
    expect(one.inserted + two.inserted).toBe(3 * 55);
    for (const user of users) {
      const [{ n, distinct }] = await h.deps.sql<{ n: number; distinct: number }[]>`
        select count(*)::int as n, count(distinct (bulk_request_id, bulk_item_index))::int as distinct from books where user_id = ${user.id}`;
      expect({ n, distinct }).toEqual({ n: 55, distinct: 55 });
      const view = await queueView(h.app, user);
      expect(view.requests.map((r: { stage: string; inserted: number }) => [r.stage, r.inserted])).toEqual([
        ['processed_awaiting_report', 15],
        ['processed_awaiting_report', 40],
      ]);
    }
  });
});
