// GET /admin/bulk?stage=failed and POST /admin/bulk/:requestId/retry: failed imports across users
// and their re-drive, for administrators only, logged as admin actions. Imports are queued by
// POST /books/bulk and failed or finished as a bulk worker would (@books/testing, through core's
// transitions); the bulk worker's own tests drive a real worker against a dead Postgres.
import { loggerOptions } from '@books/core/runtime';
import { failQueuedImport, finishQueuedImport, makeBooks, signUp, submitBulk, type TestUser, verifyEmail } from '@books/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiHarness, openStores, type QueueStores, startApi } from './helpers.js';

let h: ApiHarness;
let stores: QueueStores;
let admin: TestUser;
const logs: Record<string, unknown>[] = [];
const outage = { error: 'the database was unavailable', code: 'DATABASE_UNAVAILABLE' };

beforeAll(async () => {
  const stream = { write: (line: string) => logs.push(JSON.parse(line)) };
  h = await startApi(
    'admin-bulk',
    { ADMIN_EMAILS: 'ops@example.com' },
    { logger: { ...loggerOptions({ logLevel: 'info' }, 'api'), stream } },
  );
  stores = openStores(h.ctx);
  admin = await signUp(h.app, { email: 'ops@example.com' });
  await verifyEmail(h.ctx.database.url, admin.id);
});
afterAll(async () => {
  await stores?.close();
  await h?.close();
});

const retry = (requestId: string, user: Pick<TestUser, 'auth'> = admin) =>
  h.app.inject({ method: 'POST', url: `/admin/bulk/${requestId}/retry`, headers: user.auth });
const listFailed = (query: string, user: Pick<TestUser, 'auth'> = admin) =>
  h.app.inject({ method: 'GET', url: `/admin/bulk?stage=failed${query}`, headers: user.auth });

/** A user's import of `count` books, failed after its first attempt put `inserted` of them in. */
async function failedImport(user: TestUser, count: number, inserted: number, prefix: string): Promise<string> {
  const { requestId } = (await submitBulk(h.app, user, makeBooks(count, prefix))).json().data;
  await failQueuedImport(stores, user.id, requestId, { ...outage, attempts: 3, inserted });
  return requestId;
}

const booksOf = async (requestId: string) =>
  (
    await stores.handle.sql<{ n: number; distinct: number }[]>`
      select count(*)::int as n, count(distinct bulk_item_index)::int as distinct from books where bulk_request_id = ${requestId}`
  )[0]!;

describe('admin bulk routes are for administrators', () => {
  it('answers 401 without a token and 403 to a user who is not an admin, for both routes', async () => {
    const user = await signUp(h.app);
    const requestId = await failedImport(user, 2, 0, 'Guarded');
    expect((await h.app.inject({ method: 'GET', url: '/admin/bulk?stage=failed' })).statusCode).toBe(401);
    expect((await listFailed('', user)).statusCode).toBe(403);
    const refused = await retry(requestId, user);
    expect(refused.statusCode).toBe(403);
    expect(refused.json()).toMatchObject({ success: false, code: 'FORBIDDEN' });
    // Refused before anything was done: still failed.
    const own = await h.app.inject({ method: 'GET', url: `/books/bulk/${requestId}`, headers: user.auth });
    expect(own.json().data).toMatchObject({ stage: 'failed', attempts: 3 });
  });
});

describe('POST /admin/bulk/:requestId/retry', () => {
  it('queues a failed import again with its remaining books; once drained every book is in once, and its history shows the failure', async () => {
    const user = await signUp(h.app);
    const requestId = await failedImport(user, 10, 4, 'Redriven');

    const res = await retry(requestId);
    expect(res.statusCode).toBe(202);
    expect(res.json().data).toMatchObject({
      requestId,
      userId: user.id,
      stage: 'queued',
      attempts: 0,
      inserted: 4,
      remaining: 6,
      lastError: null,
      failedAt: null,
      previousFailures: [{ attempts: 3, lastError: outage.error, lastErrorCode: outage.code, failedAt: expect.any(String) }],
    });
    // Logged as an admin action: who, what, which request.
    expect(logs).toContainEqual(
      expect.objectContaining({ msg: 'admin action', adminId: admin.id, action: 'bulk.retry', requestId, outcome: 'redriven' }),
    );
    // A second retry of the queued import is refused with a clear code.
    const again = await retry(requestId);
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ success: false, code: 'BULK_REQUEST_NOT_FAILED' });

    // What the owner sees: queued again, the earlier failure in its history.
    const own = async () => (await h.app.inject({ method: 'GET', url: `/books/bulk/${requestId}`, headers: user.auth })).json().data;
    expect(await own()).toMatchObject({
      stage: 'queued',
      retriedAt: expect.any(String),
      previousFailures: [{ lastErrorCode: outage.code }],
    });

    await finishQueuedImport(stores, user.id, requestId);
    expect(await booksOf(requestId)).toEqual({ n: 10, distinct: 10 });
    expect(await own()).toMatchObject({
      stage: 'processed_awaiting_report',
      inserted: 10,
      attempts: 0,
      previousFailures: [{ attempts: 3, lastError: outage.error, lastErrorCode: outage.code }],
    });
    // No longer failed: out of the admin list and of the failed count.
    const listed = (await listFailed('&limit=100')).json().data.map((r: { requestId: string }) => r.requestId);
    expect(listed).not.toContain(requestId);
  });

  it('answers 404 for an unknown id and 409 for an import that is not failed or whose remaining books expired', async () => {
    const missing = await retry('00000000-0000-4000-8000-000000000000');
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ success: false, code: 'NOT_FOUND' });
    expect((await retry('not-a-uuid')).statusCode).toBe(400);

    const user = await signUp(h.app);
    const { requestId: queued } = (await submitBulk(h.app, user, makeBooks(2, 'Waiting'))).json().data;
    const notFailed = await retry(queued);
    expect(notFailed.statusCode).toBe(409);
    expect(notFailed.json()).toMatchObject({ code: 'BULK_REQUEST_NOT_FAILED', error: expect.stringContaining('queued') });

    const expired = await failedImport(user, 3, 1, 'Expired');
    // What BULK_RECORD_TTL_DAYS does to a failed import's remaining books, early.
    await stores.redis.del(stores.keys.bulkItems(user.id, expired));
    const gone = await retry(expired);
    expect(gone.statusCode).toBe(409);
    expect(gone.json()).toMatchObject({ code: 'BULK_ITEMS_EXPIRED' });
    expect(logs).toContainEqual(expect.objectContaining({ action: 'bulk.retry', requestId: expired, outcome: 'items_expired' }));
  });
});

describe('GET /admin/bulk?stage=failed', () => {
  it("pages the failed imports of every user, latest failure first, with counts and errors but none of the users' books", async () => {
    const alice = await signUp(h.app);
    const bob = await signUp(h.app);
    const a = await failedImport(alice, 3, 1, 'Alice private title');
    const b = await failedImport(bob, 2, 0, 'Bob private title');

    const res = await listFailed('&limit=100');
    expect(res.statusCode).toBe(200);
    const body = res.json();
    const mine = body.data.filter((r: { requestId: string }) => r.requestId === a || r.requestId === b);
    expect(mine.map((r: { requestId: string; userId: string }) => [r.requestId, r.userId])).toEqual([
      [b, bob.id],
      [a, alice.id],
    ]);
    expect(mine[1]).toEqual({
      requestId: a,
      userId: alice.id,
      stage: 'failed',
      submitted: 3,
      queued: 3,
      inserted: 1,
      failed: 0,
      remaining: 2,
      attempts: 3,
      lastError: outage.error,
      lastErrorCode: outage.code,
      failedAt: expect.any(String),
      submittedAt: expect.any(String),
      retriedAt: null,
      previousFailures: [],
    });
    expect(res.body).not.toContain('private title');
    expect(body.total).toBeGreaterThanOrEqual(2);
    expect(logs).toContainEqual(expect.objectContaining({ msg: 'admin action', adminId: admin.id, action: 'bulk.list' }));

    const first = (await listFailed('&limit=1&offset=0')).json();
    const second = (await listFailed('&limit=1&offset=1')).json();
    expect(first).toMatchObject({ limit: 1, offset: 0, total: body.total });
    expect([...first.data, ...second.data].map((r: { requestId: string }) => r.requestId)).toEqual(
      body.data.slice(0, 2).map((r: { requestId: string }) => r.requestId),
    );
    // Only failed requests are listed across users.
    expect((await h.app.inject({ method: 'GET', url: '/admin/bulk?stage=queued', headers: admin.auth })).statusCode).toBe(400);
  });
});
