// GET /admin/stats: the numbers an operator reads, with the queue's state built through core's
// transitions (queued by POST /books/bulk, finished or failed as a bulk worker pass would).
import { failQueuedImport, finishQueuedImport, makeBooks, signUp, submitBulk, verifyEmail } from '@books/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiHarness, openStores, type QueueStores, startApi } from './helpers.js';

let h: ApiHarness;
let stores: QueueStores;
beforeAll(async () => {
  h = await startApi('admin-stats', { ADMIN_EMAILS: 'ops@example.com,auditor@example.com' });
  stores = openStores(h.ctx);
});
afterAll(async () => {
  await stores?.close();
  await h?.close();
});

describe('GET /admin/stats', () => {
  it('counts users, books, pending work, reports and failures, for admins only', async () => {
    const nobody = await signUp(h.app);
    expect((await h.app.inject({ method: 'GET', url: '/admin/stats', headers: nobody.auth })).statusCode).toBe(403);
    expect((await h.app.inject({ method: 'GET', url: '/admin/stats' })).statusCode).toBe(401);
    const ops = await signUp(h.app, { email: 'ops@example.com' });
    await verifyEmail(h.ctx.database.url, ops.id);
    const stats = async () => (await h.app.inject({ method: 'GET', url: '/admin/stats', headers: ops.auth })).json().data;

    const before = await stats();
    const user = await signUp(h.app);
    const { requestId } = (await submitBulk(h.app, user, makeBooks(3, 'Stats'))).json().data;
    const pending = await stats();
    expect(pending.pendingBulkJobs).toBe(before.pendingBulkJobs + 1);
    expect(pending.oldestPendingAgeSeconds).toBeGreaterThanOrEqual(0);

    await finishQueuedImport(stores, user.id, requestId);
    const after = await stats();
    const { users, books } = (
      await stores.handle.sql<
        { users: number; books: number }[]
      >`select (select count(*)::int from users) as users, (select count(*)::int from books) as books`
    )[0]!;
    expect(books).toBe(3);
    expect(after).toMatchObject({
      totalUsers: users,
      totalBooks: books,
      pendingBulkJobs: 0,
      pendingReports: before.pendingReports + 1,
      oldestPendingAgeSeconds: null,
    });
  });

  it('counts a request whose attempts ran out among failed requests, and its report among pending ones', async () => {
    const auditor = await signUp(h.app, { email: 'auditor@example.com' });
    await verifyEmail(h.ctx.database.url, auditor.id);
    const stats = async () => (await h.app.inject({ method: 'GET', url: '/admin/stats', headers: auditor.auth })).json().data;
    const before = await stats();
    const user = await signUp(h.app);
    const { requestId } = (await submitBulk(h.app, user, makeBooks(4, 'Doomed'))).json().data;
    await failQueuedImport(stores, user.id, requestId, {
      attempts: 3,
      error: 'the database was unavailable',
      code: 'DATABASE_UNAVAILABLE',
    });
    expect(await stats()).toMatchObject({
      failedRequests: before.failedRequests + 1,
      pendingBulkJobs: before.pendingBulkJobs,
      pendingReports: before.pendingReports + 1,
    });
  });
});
