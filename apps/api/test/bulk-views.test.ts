// What the API shows of bulk requests once a worker has had them: GET /books/bulk/:id,
// GET /books/queue and GET /books. The worker's part is built through core's transitions
// (@books/testing's finishQueuedImport and friends), so these tests check the views, and the bulk
// worker's own tests check that the worker leaves exactly these states.
import {
  failQueuedImport,
  finishQueuedImport,
  makeBooks,
  processQueuedImportPartly,
  signUp,
  submitBulk,
  type TestUser,
} from '@books/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiHarness, openStores, type QueueStores, startApi } from './helpers.js';

let h: ApiHarness;
let stores: QueueStores;
beforeAll(async () => {
  h = await startApi('bulk-views');
  stores = openStores(h.ctx);
});
afterAll(async () => {
  await stores?.close();
  await h?.close();
});

const get = (user: TestUser, url: string) => h.app.inject({ method: 'GET', url, headers: user.auth });
const queueView = async (user: TestUser) => (await get(user, '/books/queue')).json().data;
const requestView = async (user: TestUser, requestId: string) => (await get(user, `/books/bulk/${requestId}`)).json().data;
const queue = async (user: TestUser, books: unknown[]): Promise<string> => {
  const res = await submitBulk(h.app, user, books);
  expect(res.statusCode).toBe(202);
  return res.json().data.requestId;
};

describe('GET /books/bulk/:requestId', () => {
  it('shows a processed request with its counts, times and each failed item; to anyone else it is a 404', async () => {
    const [user, other] = await Promise.all([signUp(h.app), signUp(h.app)]);
    const books = [...makeBooks(20, 'View'), { title: '', author: 'Empty title' }, { title: 'Year', author: 'A', publishedYear: '1999' }];
    const requestId = await queue(user, books);
    await finishQueuedImport(stores, user.id, requestId);

    const view = await requestView(user, requestId);
    expect(view).toMatchObject({
      requestId,
      stage: 'processed_awaiting_report',
      submitted: 22,
      inserted: 20,
      failed: 2,
      processedAt: expect.any(String),
      durationMs: expect.any(Number),
    });
    expect(view.failedItems.map((f: { index: number }) => f.index)).toEqual([20, 21]);
    const foreign = await get(other, `/books/bulk/${requestId}`);
    expect(foreign.statusCode).toBe(404);
    expect(foreign.body).not.toContain('View 0');
  });
});

describe('GET /books after a bulk import', () => {
  it('lists the imported books at once, not the page cached before the import was finished', async () => {
    const user = await signUp(h.app);
    await get(user, '/books');
    expect((await get(user, '/books')).headers['x-cache']).toBe('HIT');
    const requestId = await queue(user, makeBooks(20, 'Listed'));
    await finishQueuedImport(stores, user.id, requestId);

    const list = await get(user, '/books');
    expect(list.headers['x-cache']).toBe('MISS');
    expect(list.json().total).toBe(20);
  });
});

describe('GET /books/queue', () => {
  it('shows a request a worker stopped midway as processing, with what went in so far', async () => {
    const user = await signUp(h.app);
    const requestId = await queue(user, makeBooks(30, 'Midway'));
    await processQueuedImportPartly(stores, user.id, requestId, 7);

    const view = await queueView(user);
    expect(view).toMatchObject({ queued: false, processing: true, stage: 'processing', requestId, totalBooks: 30, successCount: 7 });
    expect(view.requests).toHaveLength(1);
  });

  it('shows a request whose attempts ran out as failed, neither queued nor processing, with its attempts and reason', async () => {
    const user = await signUp(h.app);
    const requestId = await queue(user, makeBooks(4, 'Doomed'));
    await failQueuedImport(stores, user.id, requestId, {
      attempts: 3,
      error: 'the database was unavailable',
      code: 'DATABASE_UNAVAILABLE',
    });

    const view = await queueView(user);
    expect(view.requests[0]).toMatchObject({
      requestId,
      stage: 'failed',
      attempts: 3,
      lastError: 'the database was unavailable',
      lastErrorCode: 'DATABASE_UNAVAILABLE',
      failedAt: expect.any(String),
    });
    expect(view).toMatchObject({ queued: false, processing: false, stage: 'failed' });
  });

  it("lists each user's own requests only, newest first", async () => {
    const [user, other] = await Promise.all([signUp(h.app), signUp(h.app)]);
    const older = await queue(user, makeBooks(40, 'Older'));
    const newer = await queue(user, makeBooks(15, 'Newer'));
    const theirs = await queue(other, makeBooks(5, 'Theirs'));
    for (const [owner, requestId] of [
      [user, older],
      [user, newer],
      [other, theirs],
    ] as const)
      await finishQueuedImport(stores, owner.id, requestId);

    const mine = await queueView(user);
    expect(mine.requests.map((r: { requestId: string; stage: string; inserted: number }) => [r.requestId, r.stage, r.inserted])).toEqual([
      [newer, 'processed_awaiting_report', 15],
      [older, 'processed_awaiting_report', 40],
    ]);
    expect((await queueView(other)).requests.map((r: { requestId: string }) => r.requestId)).toEqual([theirs]);
  });
});
