// The API's reads of the queue leave Redis as they found it: expired history ids and failed entries
// past their time are skipped or not counted, and trimmed only by the scripts that add to them.
// What a read may write is kept out of the comparison and named here: the rate limiter's counters (every authenticated request), and the void mark that makes a 404 for a
// request id stay true (see GET /books/bulk/:requestId).
import { randomUUID } from 'node:crypto';
import { requestMember } from '@books/core/redis';
import { finishQueuedImport, makeBooks, scanKeys, signUp, submitBulk, verifyEmail } from '@books/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type ApiHarness, openStores, type QueueStores, startApi } from './helpers.js';

const RECORD_TTL_S = 86_400;
let h: ApiHarness;
let stores: QueueStores;
beforeAll(async () => {
  h = await startApi('reads', { ADMIN_EMAILS: 'ops@example.com', BULK_RECORD_TTL_DAYS: '1' });
  stores = openStores(h.ctx);
});
afterAll(async () => {
  await stores?.close();
  await h?.close();
});

/** Every key of the test's namespace with its serialized value and whether it has a TTL. */
async function dumpNamespace(): Promise<Record<string, { value: string | undefined; expires: boolean }>> {
  const found = await scanKeys(stores.redis, h.ctx.namespace.prefix);
  const state: Record<string, { value: string | undefined; expires: boolean }> = {};
  const byDesign = [`${h.ctx.namespace.prefix}rate_limit:`];
  for (const key of found.sort()) {
    if (byDesign.some((start) => key.startsWith(start))) continue;
    state[key] = { value: (await stores.redis.dumpBuffer(key))?.toString('base64'), expires: (await stores.redis.pttl(key)) > 0 };
  }
  return state;
}

it('GET /admin/stats, /books/queue and /books/bulk/:id write nothing, with expired entries present', async () => {
  const ops = await signUp(h.app, { email: 'ops@example.com' });
  await verifyEmail(h.ctx.database.url, ops.id);
  const user = await signUp(h.app);
  const queue = async () => (await submitBulk(h.app, user, makeBooks(2, `Reads ${randomUUID()}`))).json().data.requestId as string;
  const finished = await queue();
  await finishQueuedImport({ db: stores.handle.db, redis: stores.redis, keys: stores.keys }, user.id, finished);
  const waiting = await queue();
  const vanished = await queue();
  // Its record expired: the history still names it.
  await stores.redis.del(stores.keys.bulkRequest(user.id, vanished));
  const now = Date.now();
  const outdated = requestMember(user.id, randomUUID());
  const recent = requestMember(user.id, randomUUID());
  await stores.redis.zadd(stores.keys.bulkFailed(user.id), now - RECORD_TTL_S * 1000 - 60_000, outdated, now - 1000, recent);

  const before = await dumpNamespace();
  expect(before[stores.keys.bulkHistory(user.id)]).toBeDefined();

  const stats = await h.app.inject({ method: 'GET', url: '/admin/stats', headers: ops.auth });
  expect(stats.statusCode).toBe(200);
  expect(stats.json().data).toMatchObject({ failedRequests: 1, pendingBulkJobs: 2, pendingReports: 1 });

  const listing = await h.app.inject({ method: 'GET', url: '/books/queue', headers: user.auth });
  expect(listing.statusCode).toBe(200);
  expect(listing.json().data.requests.map((r: { requestId: string }) => r.requestId)).toEqual([waiting, finished]);

  for (const id of [finished, waiting]) {
    expect((await h.app.inject({ method: 'GET', url: `/books/bulk/${id}`, headers: user.auth })).statusCode).toBe(200);
  }
  expect(await dumpNamespace()).toEqual(before);

  expect((await h.app.inject({ method: 'GET', url: `/books/bulk/${vanished}`, headers: user.auth })).statusCode).toBe(404);
  const voidMark = stores.keys.bulkVoid(user.id, vanished);
  expect(Object.keys(await dumpNamespace())).toEqual([...Object.keys(before), voidMark].sort());
});
