// An administrator's re-drive of a failed request, on a real Redis: applied twice it has the effect
// of once, it queues only what the failed attempts did not get to, the earlier failure stays on the
// record, and the request then takes the normal path to its report. State is built through the
// transitions themselves (submit, the worker's scripts, the report's).
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { adminBulkRequest, findRequestOwner, listFailedRequests } from '../src/bulk/admin.js';
import { readBulkRequest } from '../src/bulk/records.js';
import { redriveBulkRequest } from '../src/bulk/redrive.js';
import { createReportScripts } from '../src/bulk/report-transitions.js';
import { submitBulkRequest } from '../src/bulk/submit.js';
import { createBulkWorkerScripts } from '../src/bulk/worker-transitions.js';
import { acquireLease } from '../src/redis/lease.js';
import type { BulkRequestEvent } from '../src/schemas/bulk.js';
import { redisNamespace } from './redis-namespace.js';

const { keys, redis, scanKeys } = redisNamespace('redrive');

const RECORD_TTL_S = 3600;
const bulk = () => createBulkWorkerScripts(redis, keys, { leaseMs: 30_000, cacheTtlMs: 60_000, recordTtlSeconds: RECORD_TTL_S });
const report = () => createReportScripts(redis, keys, { recordTtlSeconds: RECORD_TTL_S });
const failedAt = new Date('2026-12-01T10:00:00.000Z');
const retriedAt = new Date('2026-12-01T11:00:00.000Z');

/** The user's keys and the global indexes, with whether each has a TTL. */
async function snapshot(): Promise<Record<string, unknown>> {
  const state: Record<string, unknown> = {};
  for (const key of (await scanKeys()).sort()) {
    const type = await redis.type(key);
    const ttl = (await redis.pttl(key)) > 0;
    if (type === 'hash') state[key] = { ttl, value: await redis.hgetall(key) };
    else if (type === 'list') state[key] = { ttl, value: await redis.lrange(key, 0, -1) };
    else if (type === 'zset') state[key] = { ttl, value: await redis.zrange(key, 0, -1, 'WITHSCORES') };
    else state[key] = { ttl, value: await redis.get(key) };
  }
  return state;
}

async function withLease<T>(userId: string, run: (token: string) => Promise<T>): Promise<T> {
  const lease = await acquireLease(redis, keys.bulkLease(userId), 30_000);
  if (!lease) throw new Error('lease held');
  try {
    return await run(lease.token);
  } finally {
    await lease.release();
  }
}

/** A request of `books` books whose first `inserted` went in before its attempts ran out. */
async function failed(books = 5, inserted = 2, userId: string = randomUUID()) {
  const { requestId } = await submitBulkRequest(redis, keys, {
    userId,
    submitted: books,
    valid: Array.from({ length: books }, (_, i) => ({ index: i, book: { title: `T${i}`, author: 'A' } })),
    invalid: [],
    now: failedAt,
  });
  for (let attempt = 1; attempt <= 2; attempt++) {
    await withLease(userId, async (token) => {
      await bulk().markProcessing(userId, requestId, token, failedAt);
      if (attempt === 1 && inserted > 0)
        await bulk().recordProgress(userId, requestId, token, { from: 0, to: inserted, inserted, failures: [] });
      await bulk().recordFailure(userId, requestId, token, {
        attempt,
        maxAttempts: 2,
        fatal: false,
        error: 'the database was unavailable',
        code: 'DATABASE_UNAVAILABLE',
        now: failedAt,
        nextAttemptAt: failedAt,
      });
    });
  }
  return { userId, requestId };
}

const redrive = (userId: string, requestId: string, now = retriedAt) => redriveBulkRequest(redis, keys, userId, requestId, { now });

async function events(userId: string): Promise<string[]> {
  const raw = await redis.lrange(keys.webhookEvents(userId), 0, -1);
  return raw.map((entry) => JSON.parse(entry) as BulkRequestEvent).flatMap((e) => (e.userId === userId ? [e.type] : []));
}

describe('re-drive of a failed request', () => {
  it('applied twice has the effect of once: queued again from its cursor, attempts reset, the failure kept in its history', async () => {
    const r = await failed(5, 2);
    expect(await redrive(r.userId, r.requestId)).toEqual({ outcome: 'redriven' });
    const once = await snapshot();
    expect(await redrive(r.userId, r.requestId)).toEqual({ outcome: 'redriven' });
    expect(await snapshot()).toEqual(once);

    const record = await readBulkRequest(redis, keys, r.userId, r.requestId);
    expect(record).toMatchObject({
      stage: 'queued',
      attempts: 0,
      inserted: 2,
      nextItem: 2,
      lastError: null,
      lastErrorCode: null,
      failedAt: null,
      retriedAt: retriedAt.toISOString(),
      previousFailures: [
        {
          failedAt: failedAt.toISOString(),
          attempts: 2,
          lastError: 'the database was unavailable',
          lastErrorCode: 'DATABASE_UNAVAILABLE',
          reportedAt: null,
          retriedAt: retriedAt.toISOString(),
        },
      ],
    });
    expect(adminBulkRequest(record!)).toMatchObject({ remaining: 3, submittedAt: failedAt.toISOString() });
    // Queued as a submit queues: once in the user's queue and the pending index, out of the failed one.
    const member = `${r.userId}:${r.requestId}`;
    expect(await redis.lrange(keys.bulkQueue(r.userId), 0, -1)).toEqual([r.requestId]);
    expect(await redis.zscore(keys.bulkPending(r.userId), member)).toBe(String(retriedAt.getTime()));
    expect(await redis.zscore(keys.bulkFailed(r.userId), member)).toBeNull();
    // Its failure had not been reported yet: it is withdrawn from the report, to be reported once drained.
    expect(await redis.exists(keys.bulkStatus(r.userId))).toBe(0);
    expect(await redis.zscore(keys.reportPending(r.userId), r.userId)).toBeNull();
    // Nothing of a queued request expires.
    for (const key of [keys.bulkRequest(r.userId, r.requestId), keys.bulkItems(r.userId, r.requestId)]) {
      expect(await redis.ttl(key)).toBe(-1);
    }
  });

  it('is then drained from its cursor, reported and announced as completed like any request', async () => {
    const r = await failed(5, 2);
    await redrive(r.userId, r.requestId);
    await withLease(r.userId, async (token) => {
      expect(await bulk().markProcessing(r.userId, r.requestId, token, retriedAt)).toBe(true);
      const rest = await redis.lrange(keys.bulkItems(r.userId, r.requestId), 2, -1);
      expect(rest.map((raw) => JSON.parse(raw).i)).toEqual([2, 3, 4]);
      await bulk().recordProgress(r.userId, r.requestId, token, { from: 2, to: 5, inserted: 3, failures: [] });
      expect(await bulk().finalize(r.userId, r.requestId, token, retriedAt, 5)).toBe('processed');
    });
    expect(await redis.hgetall(keys.bulkStatus(r.userId))).toMatchObject({ requestIds: r.requestId, totalBooks: '5', successCount: '5' });
    const lease = await acquireLease(redis, keys.reportLease(r.userId), 30_000);
    await report().complete(r.userId, lease!.token, { requestIds: [r.requestId], completedAt: retriedAt, messageId: '<m@test>' });
    expect(await readBulkRequest(redis, keys, r.userId, r.requestId)).toMatchObject({
      stage: 'completed',
      inserted: 5,
      attempts: 0,
      previousFailures: [expect.objectContaining({ lastErrorCode: 'DATABASE_UNAVAILABLE' })],
    });
    expect(await events(r.userId)).toEqual(['bulk_request.failed', 'bulk_request.completed']);
  });

  it('of a request whose failure was reported: its TTLs are lifted, the report noted in its history', async () => {
    const r = await failed(4, 1);
    const lease = await acquireLease(redis, keys.reportLease(r.userId), 30_000);
    await report().complete(r.userId, lease!.token, { requestIds: [r.requestId], completedAt: failedAt, messageId: '<f@test>' });
    // The items of a reported failed request expire with its record.
    const items = keys.bulkItems(r.userId, r.requestId);
    expect(await redis.ttl(items)).toBeGreaterThan(RECORD_TTL_S - 100);
    expect(await redis.ttl(keys.bulkRequest(r.userId, r.requestId))).toBeGreaterThan(RECORD_TTL_S - 100);

    expect(await redrive(r.userId, r.requestId)).toEqual({ outcome: 'redriven' });
    for (const key of [keys.bulkRequest(r.userId, r.requestId), items, keys.bulkFailures(r.userId, r.requestId)]) {
      expect(await redis.ttl(key)).toBeLessThan(0);
    }
    expect(await readBulkRequest(redis, keys, r.userId, r.requestId)).toMatchObject({
      stage: 'queued',
      reportMessageId: null,
      reportedAt: null,
      previousFailures: [expect.objectContaining({ reportedAt: failedAt.toISOString() })],
    });
  });

  it("leaves another request's pending report as it was", async () => {
    const r = await failed(3, 0);
    const other = await failed(2, 2, r.userId);
    await redrive(r.userId, r.requestId);
    expect(await redis.hgetall(keys.bulkStatus(r.userId))).toMatchObject({
      requestIds: other.requestId,
      totalBooks: '2',
      successCount: '2',
      failCount: '0',
    });
    expect(await redis.zscore(keys.reportPending(r.userId), r.userId)).not.toBeNull();
  });

  it('refuses a request that is not failed, one whose items expired, and answers not found for an unknown or another user', async () => {
    const r = await failed(3, 1);
    expect(await redrive(randomUUID(), r.requestId)).toEqual({ outcome: 'not_found' });
    expect(await redrive(r.userId, randomUUID())).toEqual({ outcome: 'not_found' });

    await redis.del(keys.bulkItems(r.userId, r.requestId));
    expect(await redrive(r.userId, r.requestId)).toEqual({ outcome: 'items_expired' });
    expect((await readBulkRequest(redis, keys, r.userId, r.requestId))?.stage).toBe('failed');

    const q = await failed(3, 0);
    await redrive(q.userId, q.requestId);
    // A second, later re-drive (another admin, a double click) of the queued request is refused.
    expect(await redrive(q.userId, q.requestId, new Date(retriedAt.getTime() + 1000))).toEqual({ outcome: 'not_failed', stage: 'queued' });
  });
});

describe('finding and listing failed requests across users', () => {
  it("finds a failed or queued request's owner from its id, and pages the failed ones, latest failure first", async () => {
    const a = await failed(2, 0);
    const b = await failed(2, 0);
    expect(await findRequestOwner(redis, keys, a.requestId)).toBe(a.userId);
    await redrive(b.userId, b.requestId);
    expect(await findRequestOwner(redis, keys, b.requestId)).toBe(b.userId);
    expect(await findRequestOwner(redis, keys, randomUUID())).toBeNull();
    expect(await findRequestOwner(redis, keys, '*')).toBeNull();

    // Within a record's lifetime of the failures (the index counts no older ones).
    const page = { now: new Date(failedAt.getTime() + 60_000), recordTtlSeconds: RECORD_TTL_S };
    const all = await listFailedRequests(redis, keys, { ...page, limit: 100, offset: 0 });
    expect(all.records.every((record) => record.stage === 'failed')).toBe(true);
    expect(all.records.map((record) => record.requestId)).toContain(a.requestId);
    expect(all.records.map((record) => record.requestId)).not.toContain(b.requestId);
    const first = await listFailedRequests(redis, keys, { ...page, limit: 1, offset: 0 });
    const second = await listFailedRequests(redis, keys, { ...page, limit: 1, offset: 1 });
    expect(first.total).toBe(all.total);
    expect([...first.records, ...second.records].map((record) => record.requestId)).toEqual(
      all.records.slice(0, 2).map((record) => record.requestId),
    );
  });
});
