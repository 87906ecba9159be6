// Bulk requests as resources: the caller's list, cancel, and the failed items as JSON pages and CSV.
// The worker's part (a request processed partly, then stopped) is built through core's transitions
// (@books/testing); the bulk worker's own tests check the worker stops at a chunk boundary.
import { randomUUID } from 'node:crypto';
import { submitBulkRequest } from '@books/core/bulk';
import type { FailedItem } from '@books/core/schemas';
import { finishQueuedImport, makeBooks, processQueuedImportPartly, signUp, submitBulk, type TestUser } from '@books/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiHarness, openStores, type QueueStores, startApi } from './helpers.js';

let h: ApiHarness;
let stores: QueueStores;
beforeAll(async () => {
  // A small BULK_MAX_BOOKS, so that a request with more failures than it (as a file import may have) is cheap to build.
  h = await startApi('bulk-requests', { BULK_MAX_BOOKS: '1000' });
  stores = openStores(h.ctx);
});
afterAll(async () => {
  await stores?.close();
  await h?.close();
});

const get = (user: TestUser, url: string) => h.app.inject({ method: 'GET', url, headers: user.auth });
const cancel = (user: TestUser, requestId: string) =>
  h.app.inject({ method: 'DELETE', url: `/books/bulk/${requestId}`, headers: user.auth });
const queue = async (user: TestUser, books: unknown[]): Promise<string> => {
  const res = await submitBulk(h.app, user, books);
  expect(res.statusCode).toBe(202);
  return res.json().data.requestId;
};
const bookCount = async (user: TestUser) =>
  (await h.app.sql`select count(*)::int as n from books where user_id = ${user.id}`)[0]!.n as number;

describe('DELETE /books/bulk/:requestId', () => {
  it('cancels a queued request at once: nothing of it is inserted, and the worker can no longer start it', async () => {
    const user = await signUp(h.app);
    const requestId = await queue(user, makeBooks(12, 'Queued'));
    const res = await cancel(user, requestId);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      success: true,
      data: { requestId, stage: 'cancelled', inserted: 0, cancelledAt: expect.any(String) },
    });
    // Out of the queue, the pending index and its items gone; owed its report.
    expect(await stores.redis.lrange(stores.keys.bulkQueue(user.id), 0, -1)).toEqual([]);
    expect(await stores.redis.exists(stores.keys.bulkItems(user.id, requestId))).toBe(0);
    expect(await stores.redis.zscore(stores.keys.bulkPending(user.id), `${user.id}:${requestId}`)).toBeNull();
    expect(await stores.redis.hget(stores.keys.bulkStatus(user.id), 'requestIds')).toBe(requestId);
    // A worker that had read the queue before the cancel refuses to start it.
    await expect(finishQueuedImport(stores, user.id, requestId)).rejects.toThrow();
    expect(await bookCount(user)).toBe(0);
    // Asking again answers the same.
    const again = await cancel(user, requestId);
    expect(again.statusCode).toBe(200);
    expect(again.json().data.stage).toBe('cancelled');
    expect((await get(user, '/books/queue')).json().data.queued).toBe(false);
  });

  it('asks a request being processed to stop (202); it ends cancelled with what went in so far', async () => {
    const user = await signUp(h.app);
    const requestId = await queue(user, makeBooks(30, 'Midway'));
    await processQueuedImportPartly(stores, user.id, requestId, 10);
    const res = await cancel(user, requestId);
    expect(res.statusCode).toBe(202);
    expect(res.json().data).toMatchObject({ stage: 'processing', inserted: 10, cancelRequestedAt: expect.any(String), cancelledAt: null });
    expect((await cancel(user, requestId)).statusCode).toBe(202);
    // The worker's next boundary: here the end of its items, which a pending cancel turns into cancelled.
    await finishQueuedImport(stores, user.id, requestId);
    const view = (await get(user, `/books/bulk/${requestId}`)).json().data;
    expect(view).toMatchObject({ stage: 'cancelled', cancelledAt: expect.any(String), processedAt: null });
    expect((await cancel(user, requestId)).statusCode).toBe(200);
    expect((await get(user, '/books')).json().total).toBe(view.inserted);
  });

  it('answers 409 for a request already processed, 404 for an unknown id or another user’s', async () => {
    const [user, other] = await Promise.all([signUp(h.app), signUp(h.app)]);
    const requestId = await queue(user, makeBooks(3, 'Done'));
    await finishQueuedImport(stores, user.id, requestId);
    const late = await cancel(user, requestId);
    expect(late.statusCode).toBe(409);
    expect(late.json()).toMatchObject({ success: false, code: 'BULK_REQUEST_FINISHED' });
    expect((await get(user, `/books/bulk/${requestId}`)).json().data.stage).toBe('processed_awaiting_report');

    const queued = await queue(user, makeBooks(3, 'Mine'));
    const foreign = await cancel(other, queued);
    expect(foreign.statusCode).toBe(404);
    expect(foreign.json()).toMatchObject({ success: false, code: 'NOT_FOUND' });
    expect((await get(user, `/books/bulk/${queued}`)).json().data.stage).toBe('queued');
    expect((await cancel(user, randomUUID())).statusCode).toBe(404);
    expect((await h.app.inject({ method: 'DELETE', url: '/books/bulk/not-a-uuid', headers: user.auth })).statusCode).toBe(400);
    expect((await h.app.inject({ method: 'DELETE', url: `/books/bulk/${queued}` })).statusCode).toBe(401);
  });
});

describe('GET /books/bulk', () => {
  it('lists the caller’s requests newest first, paged, and by stage', async () => {
    const [user, other] = await Promise.all([signUp(h.app), signUp(h.app)]);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await queue(user, makeBooks(2, `List${i}`)));
    await queue(other, makeBooks(1, 'Other'));
    await finishQueuedImport(stores, user.id, ids[0]!);
    await cancel(user, ids[1]!);

    const all = (await get(user, '/books/bulk')).json();
    expect(all).toMatchObject({ success: true, total: 5, limit: 20, offset: 0 });
    expect(all.data.map((r: { requestId: string }) => r.requestId)).toEqual([...ids].reverse());

    const page = (await get(user, '/books/bulk?limit=2&offset=1')).json();
    expect(page.total).toBe(5);
    expect(page.data.map((r: { requestId: string }) => r.requestId)).toEqual([ids[3], ids[2]]);

    const queuedOnly = (await get(user, '/books/bulk?stage=queued')).json();
    expect(queuedOnly.total).toBe(3);
    expect(queuedOnly.data.map((r: { requestId: string }) => r.requestId)).toEqual([ids[4], ids[3], ids[2]]);
    const cancelled = (await get(user, '/books/bulk?stage=cancelled&limit=1')).json();
    expect(cancelled).toMatchObject({ total: 1, data: [{ requestId: ids[1], stage: 'cancelled' }] });

    const bad = await get(user, '/books/bulk?stage=done');
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ success: false, code: 'VALIDATION_ERROR' });
    expect((await get(user, '/books/bulk?limit=0')).statusCode).toBe(400);
    expect((await get(user, '/books/bulk?limit=101')).statusCode).toBe(400);
    expect((await h.app.inject({ method: 'GET', url: '/books/bulk' })).statusCode).toBe(401);
  });
});

describe('failed items', () => {
  /** A request whose failures carry what a file import records: the row, the column and the submitted cells. */
  async function fileLikeRequest(user: TestUser): Promise<string> {
    const requestId = randomUUID();
    const invalid: FailedItem[] = [
      {
        index: 0,
        row: 2,
        column: 'author',
        title: '=HYPERLINK("http://evil")',
        author: null,
        reason: 'author is required',
        submitted: { title: '=HYPERLINK("http://evil")', author: '', shelf: '+A1' },
      },
      {
        index: 2,
        row: 4,
        column: 'publishedYear',
        title: 'Tab',
        author: '@SUM(A1)',
        reason: 'publishedYear must be a whole number',
        submitted: { title: '\tTab', author: '@SUM(A1)', publishedYear: '-12, "x"' },
      },
    ];
    await submitBulkRequest(stores.redis, stores.keys, {
      userId: user.id,
      requestId,
      submitted: 3,
      valid: [{ index: 1, book: { title: 'Fine', author: 'A' } }],
      invalid,
      now: new Date(),
    });
    return requestId;
  }

  it('pages the failed items in stored order; another user’s request is a 404', async () => {
    const [user, other] = await Promise.all([signUp(h.app), signUp(h.app)]);
    const books = Array.from({ length: 25 }, (_, i) => (i % 2 ? { title: `Bad ${i}` } : { title: `Good ${i}`, author: 'A' }));
    const requestId = await queue(user, books);
    const first = (await get(user, `/books/bulk/${requestId}/failures?limit=5`)).json();
    expect(first).toMatchObject({ success: true, total: 12, limit: 5, offset: 0 });
    expect(first.data.map((f: { index: number }) => f.index)).toEqual([1, 3, 5, 7, 9]);
    const last = (await get(user, `/books/bulk/${requestId}/failures?limit=5&offset=10`)).json();
    expect(last.data.map((f: { index: number }) => f.index)).toEqual([21, 23]);
    expect(last.data[0]).toMatchObject({ title: 'Bad 21', author: null, reason: expect.stringContaining('author') });
    expect((await get(user, `/books/bulk/${requestId}/failures?offset=12`)).json()).toMatchObject({ data: [], total: 12 });

    const detail = (await get(user, `/books/bulk/${requestId}`)).json().data;
    expect(detail).toMatchObject({ failedItemsTotal: 12, failuresUrl: `/books/bulk/${requestId}/failures` });
    expect(detail.failedItems).toHaveLength(12);

    expect((await get(other, `/books/bulk/${requestId}/failures`)).statusCode).toBe(404);
    expect((await get(other, `/books/bulk/${requestId}/failures.csv`)).statusCode).toBe(404);
    expect((await get(user, `/books/bulk/${randomUUID()}/failures`)).statusCode).toBe(404);
    expect((await get(user, `/books/bulk/${requestId}/failures?limit=1001`)).statusCode).toBe(400);
    expect((await h.app.inject({ method: 'GET', url: `/books/bulk/${requestId}/failures.csv` })).statusCode).toBe(401);
  });

  it('gives the CSV of a JSON import: row = index + 1, the submitted fields, the reason', async () => {
    const user = await signUp(h.app);
    const requestId = await queue(user, [
      { title: 'Ok', author: 'A' },
      { title: '-Minus', author: '', isbn: '=1+1', publishedYear: 1999 },
      { author: 'No title', genre: { nested: true } },
    ]);
    const res = await get(user, `/books/bulk/${requestId}/failures.csv`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(res.headers['content-disposition']).toBe(`attachment; filename="bulk-${requestId}-failures.csv"`);
    const lines = res.body.split('\r\n');
    expect(lines[0]).toBe('row,title,author,isbn,publishedYear,genre,reason');
    // The submitted fields are echoed as text, whatever made the item invalid.
    expect(lines[1]).toMatch(/^2,'-Minus,,'=1\+1,1999,,"?author /);
    expect(lines[2]).toMatch(/^3,,No title,,,"\{""nested"":true\}","?title /);
    expect(lines[3]).toBe('');
    expect(lines).toHaveLength(4);
  });

  it('echoes a file import’s submitted rows with their extra columns, formula cells neutralised', async () => {
    const user = await signUp(h.app);
    const requestId = await fileLikeRequest(user);
    const res = await get(user, `/books/bulk/${requestId}/failures.csv`);
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe(
      [
        'row,title,author,isbn,publishedYear,genre,shelf,reason',
        `2,"'=HYPERLINK(""http://evil"")",,,,,'+A1,author is required`,
        `4,'\tTab,'@SUM(A1),,"'-12, ""x""",,,publishedYear must be a whole number`,
        '',
      ].join('\r\n'),
    );
    const page = (await get(user, `/books/bulk/${requestId}/failures`)).json();
    expect(page.data[1]).toMatchObject({ index: 2, row: 4, column: 'publishedYear', submitted: { title: '\tTab' } });
  });

  it('streams a long list whole; GET /books/bulk/:id lists only the first BULK_MAX_BOOKS and says how many there are', async () => {
    const user = await signUp(h.app);
    const requestId = randomUUID();
    const invalid = Array.from({ length: 2500 }, (_, i) => ({ index: i, title: `T${i}`, author: null, reason: 'author is required' }));
    await submitBulkRequest(stores.redis, stores.keys, {
      userId: user.id,
      requestId,
      submitted: 2500,
      valid: [],
      invalid,
      now: new Date(),
    });
    const res = await get(user, `/books/bulk/${requestId}/failures.csv`);
    const lines = res.body.split('\r\n');
    expect(lines).toHaveLength(2502);
    expect(lines[2500]).toBe('2500,T2499,,,,,author is required');
    const detail = (await get(user, `/books/bulk/${requestId}`)).json().data;
    expect(detail.failedItems).toHaveLength(1000);
    expect(detail.failedItems[999].index).toBe(999);
    expect(detail).toMatchObject({ failed: 2500, failedItemsTotal: 2500, failuresUrl: `/books/bulk/${requestId}/failures` });
  });
});
