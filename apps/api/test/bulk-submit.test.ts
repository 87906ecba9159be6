// POST /books/bulk as the API answers it: the 202, validation, the Idempotency-Key and what it
// queues. What a worker then does with the queue is the bulk worker's tests' business.
import { makeBooks, signUp, submitBulk, type TestUser } from '@books/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiHarness, openStores, type QueueStores, startApi } from './helpers.js';

let h: ApiHarness;
let stores: QueueStores;
beforeAll(async () => {
  h = await startApi('bulk-submit', { BULK_MAX_BOOKS: '60', BULK_BODY_LIMIT: '20000' });
  stores = openStores(h.ctx);
});
afterAll(async () => {
  await stores?.close();
  await h?.close();
});

const queueView = async (user: TestUser) => (await h.app.inject({ method: 'GET', url: '/books/queue', headers: user.auth })).json().data;
const requestView = async (user: TestUser, requestId: string) =>
  (await h.app.inject({ method: 'GET', url: `/books/bulk/${requestId}`, headers: user.auth })).json().data;
async function titlesInDb(userId: string): Promise<string[]> {
  const rows = await stores.handle.sql<{ title: string }[]>`select title from books where user_id = ${userId} order by title`;
  return rows.map((row) => row.title);
}

describe('POST /books/bulk', () => {
  it('answers 202 at once with the request, queues only valid items, and touches no book', async () => {
    const user = await signUp(h.app);
    const books = [...makeBooks(3, 'Queued'), { title: 'No author' }, { title: 'Bad ISBN', author: 'A', isbn: '123' }];
    const res = await submitBulk(h.app, user, books);
    expect(res.statusCode).toBe(202);
    const body = res.json();
    expect(body).toMatchObject({
      success: true,
      message: expect.stringMatching(/^Books will be added later\./),
      data: { queuedBooks: 3, invalidBooks: 2, duplicate: false },
    });
    expect(res.headers.location).toBe(`/books/bulk/${body.data.requestId}`);
    expect(body.data.estimatedProcessingTime).toMatch(/^\d+ (second|minute)s?$/);
    expect(Date.parse(body.data.estimatedReportAt)).toBeGreaterThan(Date.parse(body.data.estimatedProcessingAt));
    expect(await titlesInDb(user.id)).toEqual([]);

    const view = await requestView(user, body.data.requestId);
    expect(view).toMatchObject({ stage: 'queued', submitted: 5, queued: 3, inserted: 0, failed: 2, attempts: 0 });
    expect(view.failedItems).toEqual([
      { index: 3, title: 'No author', author: null, reason: 'author is required', submitted: { title: 'No author' } },
      {
        index: 4,
        title: 'Bad ISBN',
        author: 'A',
        reason: expect.stringMatching(/isbn is not a valid ISBN/),
        // Echoed as submitted, for GET /books/bulk/{id}/failures.csv.
        submitted: { title: 'Bad ISBN', author: 'A', isbn: '123' },
      },
    ]);
    // Queued work carries no TTL: workers may be down for a week.
    expect(await stores.redis.ttl(stores.keys.bulkItems(user.id, body.data.requestId))).toBe(-1);
    expect(await stores.redis.ttl(stores.keys.bulkRequest(user.id, body.data.requestId))).toBe(-1);
    expect(await stores.redis.lrange(stores.keys.bulkQueue(user.id), 0, -1)).toEqual([body.data.requestId]);
  });

  it.each([
    ['books missing', {}],
    ['books not an array', { books: { title: 'x' } }],
    ['books empty', { books: [] }],
    ['more than BULK_MAX_BOOKS', { books: makeBooks(61) }],
  ])('refuses %s with a 400 and queues nothing', async (_name, payload) => {
    const user = await signUp(h.app);
    const res = await h.app.inject({ method: 'POST', url: '/books/bulk', headers: user.auth, payload });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ success: false, code: 'VALIDATION_ERROR' });
    expect((await queueView(user)).requests).toEqual([]);
  });

  it('refuses a body that is not JSON (400) or over the bulk body limit (413)', async () => {
    const user = await signUp(h.app);
    const notJson = await h.app.inject({
      method: 'POST',
      url: '/books/bulk',
      headers: { ...user.auth, 'content-type': 'application/json' },
      payload: '{"books": [',
    });
    expect(notJson.statusCode).toBe(400);
    const big = await submitBulk(h.app, user, [{ title: 'x'.repeat(25_000), author: 'A' }]);
    expect(big.statusCode).toBe(413);
    expect((await queueView(user)).requests).toEqual([]);
  });

  it('returns the original request for a repeated Idempotency-Key and queues nothing again', async () => {
    const [user, other] = await Promise.all([signUp(h.app), signUp(h.app)]);
    const first = await submitBulk(h.app, user, makeBooks(2, 'Idem'), { 'idempotency-key': 'import-42' });
    const again = await submitBulk(h.app, user, makeBooks(5, 'Idem'), { 'idempotency-key': 'import-42' });
    expect(again.statusCode).toBe(202);
    expect(again.json().data).toMatchObject({ requestId: first.json().data.requestId, duplicate: true, queuedBooks: 2 });
    expect((await queueView(user)).requests).toHaveLength(1);
    const otherUser = await submitBulk(h.app, other, makeBooks(2, 'Idem'), { 'idempotency-key': 'import-42' });
    expect(otherUser.json().data.requestId).not.toBe(first.json().data.requestId);
  });
});

describe('many users submitting at once', () => {
  it('are all queued, also while their earlier requests are pruned from their histories (auto-pipelined, on a cluster too)', async () => {
    // After its first submit, a user's next submits also prune its history: a script whose key count
    // varies, which a cluster client must not auto-pipeline with the other users' commands.
    const users = await Promise.all(Array.from({ length: 16 }, () => signUp(h.app)));
    for (let round = 0; round < 3; round++) {
      const answers = await Promise.all(users.map((user, i) => submitBulk(h.app, user, makeBooks(2, `Crowd ${round} ${i}`))));
      expect(answers.map((res) => res.statusCode)).toEqual(users.map(() => 202));
    }
    const views = await Promise.all(users.map(queueView));
    expect(views.map((view) => view.requests.length)).toEqual(users.map(() => 3));
  });
});
