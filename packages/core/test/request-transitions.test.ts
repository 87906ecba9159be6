// Every transition of a bulk request applied twice has the effect of applying it once: what
// ioredis does when it re-sends a script that was in flight as the connection dropped. Each test
// builds a request's real state through the transitions themselves, on a real Redis, then compares
// every key of the namespace after one application and after a second, identical one.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { cancelBulkRequest } from '../src/bulk/cancel.js';
import { readBulkRequest } from '../src/bulk/records.js';
import { createReportScripts, readReportStatus } from '../src/bulk/report-transitions.js';
import { canMoveStage, NEXT_STAGES } from '../src/bulk/stage-machine.js';
import { settleBulkSubmission, submitBulkRequest } from '../src/bulk/submit.js';
import { createBulkWorkerScripts } from '../src/bulk/worker-transitions.js';
import { acquireLease } from '../src/redis/lease.js';
import { BULK_STAGES, type BulkRequestEvent } from '../src/schemas/bulk.js';
import { redisNamespace } from './redis-namespace.js';

const { keys, redis, scanKeys } = redisNamespace('transitions');

const bulk = () => createBulkWorkerScripts(redis, keys, { leaseMs: 30_000, cacheTtlMs: 60_000, recordTtlSeconds: 3600 });
const report = () => createReportScripts(redis, keys, { recordTtlSeconds: 3600 });
const now = new Date('2026-12-01T10:00:00.000Z');

/** Every key of the namespace with its value (TTLs as present or not: a replay may renew them). */
async function snapshot(): Promise<Record<string, unknown>> {
  const found = await scanKeys();
  const state: Record<string, unknown> = {};
  for (const key of found.sort()) {
    const type = await redis.type(key);
    const ttl = (await redis.pttl(key)) > 0;
    if (type === 'hash') state[key] = { ttl, value: await redis.hgetall(key) };
    else if (type === 'list') state[key] = { ttl, value: await redis.lrange(key, 0, -1) };
    else if (type === 'zset') state[key] = { ttl, value: await redis.zrange(key, 0, -1, 'WITHSCORES') };
    else state[key] = { ttl, value: await redis.get(key) };
  }
  return state;
}

/** What the transitions announced to the webhook sender about one user's requests, oldest first. */
async function events(userId: string): Promise<BulkRequestEvent[]> {
  const raw = await redis.lrange(keys.webhookEvents(userId), 0, -1);
  return raw.map((entry) => JSON.parse(entry) as BulkRequestEvent).filter((event) => event.userId === userId);
}

async function twice(apply: () => Promise<unknown>) {
  const first = await apply();
  const once = await snapshot();
  const second = await apply();
  expect(await snapshot()).toEqual(once);
  return { first, second };
}

async function queued(books = 3) {
  const userId = randomUUID();
  const { requestId } = await submitBulkRequest(redis, keys, {
    userId,
    submitted: books + 1,
    valid: Array.from({ length: books }, (_, i) => ({ index: i, book: { title: `T${i}`, author: 'A' } })),
    invalid: [{ index: books, title: null, author: null, reason: 'author is required' }],
    now,
  });
  const lease = await acquireLease(redis, keys.bulkLease(userId), 30_000);
  return { userId, requestId, token: lease!.token };
}

async function processed() {
  const r = await queued(3);
  await bulk().markProcessing(r.userId, r.requestId, r.token, now);
  await bulk().recordProgress(r.userId, r.requestId, r.token, { from: 0, to: 3, inserted: 3, failures: [] });
  await bulk().finalize(r.userId, r.requestId, r.token, now, 12);
  const lease = await acquireLease(redis, keys.reportLease(r.userId), 30_000);
  return { ...r, reportToken: lease!.token };
}

const failure = (attempt: number, maxAttempts = 5) => ({
  attempt,
  maxAttempts,
  fatal: false,
  error: 'the database was unavailable',
  code: 'DATABASE_UNAVAILABLE',
  now,
  nextAttemptAt: new Date(now.getTime() + 30_000),
});

describe('the stage machine', () => {
  it('knows every stage, lets nothing leave completed or cancelled, and failed only to queued (a re-drive)', () => {
    expect(Object.keys(NEXT_STAGES).sort()).toEqual([...BULK_STAGES].sort());
    for (const to of BULK_STAGES) {
      for (const final of ['completed', 'failed', 'cancelled'] as const) {
        if (to !== final) expect(canMoveStage(final, to)).toBe(final === 'failed' && to === 'queued');
      }
    }
    expect(canMoveStage('processed_awaiting_report', 'cancelled')).toBe(false);
    expect(canMoveStage('queued', 'completed')).toBe(false);
    expect(canMoveStage('processing', 'processing')).toBe(true);
  });
});

describe('each transition applied twice has the effect of once', () => {
  it('submit: the items are queued once', async () => {
    const userId = randomUUID();
    const requestId = randomUUID();
    const submission = {
      userId,
      requestId,
      submitted: 2,
      valid: [0, 1].map((i) => ({ index: i, book: { title: `S${i}`, author: 'A' } })),
      invalid: [],
      now,
    };
    const { first, second } = await twice(() => submitBulkRequest(redis, keys, submission));
    expect(first).toEqual({ requestId, created: true });
    expect(second).toEqual({ requestId, created: true });
    expect(await redis.llen(keys.bulkItems(userId, requestId))).toBe(2);
    expect(await redis.lrange(keys.bulkQueue(userId), 0, -1)).toEqual([requestId]);
  });

  it('submit with an Idempotency-Key: a replay is the same request, a new one with the key is not queued', async () => {
    const userId = randomUUID();
    const submission = {
      userId,
      requestId: randomUUID(),
      submitted: 1,
      valid: [{ index: 0, book: { title: 'K', author: 'A' } }],
      invalid: [],
      now,
    };
    await twice(() => submitBulkRequest(redis, keys, { ...submission, idempotencyKey: 'key-1' }));
    const again = await submitBulkRequest(redis, keys, { ...submission, requestId: randomUUID(), idempotencyKey: 'key-1' });
    expect(again).toEqual({ requestId: submission.requestId, created: false });
  });

  it('start', async () => {
    const r = await queued();
    await twice(() => bulk().markProcessing(r.userId, r.requestId, r.token, now));
    expect((await readBulkRequest(redis, keys, r.userId, r.requestId))?.stage).toBe('processing');
  });

  it('chunk progress: the chunk counts once', async () => {
    const r = await queued();
    await bulk().markProcessing(r.userId, r.requestId, r.token, now);
    const chunk = { from: 0, to: 2, inserted: 1, failures: [{ index: 1, title: 'T1', author: 'A', reason: 'duplicate ISBN' }] };
    await twice(() => bulk().recordProgress(r.userId, r.requestId, r.token, chunk));
    expect(await readBulkRequest(redis, keys, r.userId, r.requestId)).toMatchObject({ nextItem: 2, inserted: 1, failed: 2 });
  });

  it('finish: the request is listed for its report once, with its counts once', async () => {
    const r = await queued(3);
    await bulk().markProcessing(r.userId, r.requestId, r.token, now);
    await bulk().recordProgress(r.userId, r.requestId, r.token, { from: 0, to: 3, inserted: 3, failures: [] });
    await twice(() => bulk().finalize(r.userId, r.requestId, r.token, now, 12));
    expect(await redis.hgetall(keys.bulkStatus(r.userId))).toMatchObject({
      requestIds: r.requestId,
      totalBooks: '4',
      successCount: '3',
      failCount: '1',
    });
  });

  it('attempt failed, to be retried: the attempt counts once', async () => {
    const r = await queued();
    await bulk().markProcessing(r.userId, r.requestId, r.token, now);
    await twice(() => bulk().recordFailure(r.userId, r.requestId, r.token, failure(1)));
    expect(await readBulkRequest(redis, keys, r.userId, r.requestId)).toMatchObject({ stage: 'queued', attempts: 1 });
  });

  it('attempt failed for good: failed once, owed its report once', async () => {
    const r = await queued();
    await bulk().markProcessing(r.userId, r.requestId, r.token, now);
    const { first, second } = await twice(() => bulk().recordFailure(r.userId, r.requestId, r.token, failure(5)));
    expect(first).toEqual({ attempts: 5, failed: true, cancelled: false });
    expect(second).toEqual({ attempts: 5, failed: true, cancelled: false });
    expect((await readBulkRequest(redis, keys, r.userId, r.requestId))?.stage).toBe('failed');
    expect(await redis.hget(keys.bulkStatus(r.userId), 'requestIds')).toBe(r.requestId);
    expect(await redis.zscore(keys.bulkFailed(r.userId), `${r.userId}:${r.requestId}`)).not.toBeNull();
    // Its items are kept for a re-drive, for as long as a record stays (recordTtlSeconds: 3600).
    expect(await redis.llen(keys.bulkItems(r.userId, r.requestId))).toBe(3);
    expect(await redis.ttl(keys.bulkItems(r.userId, r.requestId))).toBeGreaterThan(3500);
    expect(await events(r.userId)).toEqual([
      {
        type: 'bulk_request.failed',
        userId: r.userId,
        requestId: r.requestId,
        at: now.toISOString(),
        submitted: 4,
        inserted: 0,
        failed: 1,
      },
    ]);
  });

  it('report sent', async () => {
    const r = await processed();
    const sent = { reportId: 'rep-1', messageId: '<m1@test>', requestIds: [r.requestId], sentAt: now };
    await twice(() => report().markSent(r.userId, r.reportToken, sent));
    expect((await readReportStatus(redis, keys, r.userId))?.sent).toEqual({
      reportId: 'rep-1',
      messageId: '<m1@test>',
      requestIds: [r.requestId],
    });
  });

  it('report completed: the counts are taken out once, and a request finished meanwhile stays for the next report', async () => {
    const r = await processed();
    // Another request of the same user finishes while the report is out.
    const next = await submitBulkRequest(redis, keys, {
      userId: r.userId,
      submitted: 1,
      valid: [{ index: 0, book: { title: 'N', author: 'A' } }],
      invalid: [],
      now,
    });
    await bulk().markProcessing(r.userId, next.requestId, r.token, now);
    await bulk().recordProgress(r.userId, next.requestId, r.token, { from: 0, to: 1, inserted: 1, failures: [] });
    await bulk().finalize(r.userId, next.requestId, r.token, now, 5);
    await twice(() => report().complete(r.userId, r.reportToken, { requestIds: [r.requestId], completedAt: now, messageId: '<m@test>' }));
    expect(await redis.hgetall(keys.bulkStatus(r.userId))).toMatchObject({
      requestIds: next.requestId,
      totalBooks: '1',
      successCount: '1',
      failCount: '0',
    });
    expect((await readBulkRequest(redis, keys, r.userId, r.requestId))?.stage).toBe('completed');
    // Announced once (twice() checked the replay added nothing), and the request still waiting is not.
    expect(await events(r.userId)).toEqual([
      {
        type: 'bulk_request.completed',
        userId: r.userId,
        requestId: r.requestId,
        at: now.toISOString(),
        submitted: 4,
        inserted: 3,
        failed: 1,
      },
    ]);
  });

  it('report attempt failed, to be retried: counted once', async () => {
    const r = await processed();
    const f = {
      requestIds: [r.requestId],
      error: 'the mail server could not be reached',
      permanent: false,
      now,
      nextAttemptAt: now,
      maxAttempts: 5,
      attempt: 1,
    };
    await twice(() => report().recordFailure(r.userId, r.reportToken, f));
    expect((await readReportStatus(redis, keys, r.userId))?.reportAttempts).toBe(1);
  });

  it('report failed for good: the request fails once', async () => {
    const r = await processed();
    const f = {
      requestIds: [r.requestId],
      error: 'the mail server refused the recipient',
      permanent: true,
      now,
      nextAttemptAt: now,
      maxAttempts: 5,
      attempt: 1,
    };
    const { first, second } = await twice(() => report().recordFailure(r.userId, r.reportToken, f));
    expect(first).toEqual({ attempts: 1, failed: true });
    expect(second).toMatchObject({ failed: true });
    expect((await readBulkRequest(redis, keys, r.userId, r.requestId))?.stage).toBe('failed');
    expect((await events(r.userId)).map((e) => [e.type, e.requestId])).toEqual([['bulk_request.failed', r.requestId]]);
  });

  it('a failed request that is reported stays failed, with the report noted', async () => {
    const r = await queued();
    await bulk().markProcessing(r.userId, r.requestId, r.token, now);
    await bulk().recordFailure(r.userId, r.requestId, r.token, failure(1, 1));
    const lease = await acquireLease(redis, keys.reportLease(r.userId), 30_000);
    await twice(() => report().complete(r.userId, lease!.token, { requestIds: [r.requestId], completedAt: now, messageId: '<f@test>' }));
    expect(await readBulkRequest(redis, keys, r.userId, r.requestId)).toMatchObject({ stage: 'failed', reportMessageId: '<f@test>' });
    expect(await redis.exists(keys.bulkStatus(r.userId))).toBe(0);
    // It was announced when it failed, not again when its report went out.
    expect((await events(r.userId)).map((e) => e.type)).toEqual(['bulk_request.failed']);
  });
});

describe('cancel, applied twice, has the effect of once', () => {
  const cancel = (userId: string, requestId: string) => cancelBulkRequest(redis, keys, userId, requestId, { now, cacheTtlMs: 60_000 });

  it('a queued request is cancelled at once: out of the queue and the pending index, its items dropped, owed its report, announced once', async () => {
    const r = await queued(3);
    const { first, second } = await twice(() => cancel(r.userId, r.requestId));
    expect(first).toEqual({ outcome: 'cancelled' });
    expect(second).toEqual({ outcome: 'cancelled' });
    expect(await readBulkRequest(redis, keys, r.userId, r.requestId)).toMatchObject({
      stage: 'cancelled',
      cancelledAt: now.toISOString(),
      inserted: 0,
    });
    expect(await redis.exists(keys.bulkQueue(r.userId), keys.bulkItems(r.userId, r.requestId))).toBe(0);
    expect(await redis.zscore(keys.bulkPending(r.userId), `${r.userId}:${r.requestId}`)).toBeNull();
    expect(await redis.hgetall(keys.bulkStatus(r.userId))).toMatchObject({ requestIds: r.requestId, totalBooks: '4', successCount: '0' });
    expect((await events(r.userId)).map((e) => [e.type, e.inserted])).toEqual([['bulk_request.cancelled', 0]]);
    // A worker that read the queue before cannot start it any more.
    expect(await bulk().markProcessing(r.userId, r.requestId, r.token, now)).toBe(false);
  });

  it('a processing request only gets the cancel noted; its next chunk says so, and finishing ends it cancelled with what went in', async () => {
    const r = await queued(4);
    await bulk().markProcessing(r.userId, r.requestId, r.token, now);
    await bulk().recordProgress(r.userId, r.requestId, r.token, { from: 0, to: 2, inserted: 2, failures: [] });
    const { first } = await twice(() => cancel(r.userId, r.requestId));
    expect(first).toEqual({ outcome: 'cancel_requested' });
    expect(await readBulkRequest(redis, keys, r.userId, r.requestId)).toMatchObject({
      stage: 'processing',
      cancelRequestedAt: now.toISOString(),
    });
    expect(await events(r.userId)).toEqual([]);
    expect(await bulk().recordProgress(r.userId, r.requestId, r.token, { from: 2, to: 3, inserted: 1, failures: [] })).toBe(
      'cancel_requested',
    );
    const ended = await twice(() => bulk().finalize(r.userId, r.requestId, r.token, now, 7));
    expect(ended).toEqual({ first: 'cancelled', second: 'cancelled' });
    expect(await readBulkRequest(redis, keys, r.userId, r.requestId)).toMatchObject({
      stage: 'cancelled',
      inserted: 3,
      processedAt: null,
      cancelledAt: now.toISOString(),
    });
    expect(await redis.exists(keys.bulkItems(r.userId, r.requestId))).toBe(0);
    expect(await redis.hget(keys.bulkStatus(r.userId), 'successCount')).toBe('3');
    expect((await events(r.userId)).map((e) => [e.type, e.inserted])).toEqual([['bulk_request.cancelled', 3]]);
    expect(await cancel(r.userId, r.requestId)).toEqual({ outcome: 'cancelled' });
  });

  it('an attempt that fails while a cancel is pending ends cancelled, not queued for a retry', async () => {
    const r = await queued(3);
    await bulk().markProcessing(r.userId, r.requestId, r.token, now);
    await bulk().recordProgress(r.userId, r.requestId, r.token, { from: 0, to: 1, inserted: 1, failures: [] });
    await cancel(r.userId, r.requestId);
    const { first, second } = await twice(() => bulk().recordFailure(r.userId, r.requestId, r.token, failure(1)));
    expect(first).toEqual({ attempts: 1, failed: false, cancelled: true });
    expect(second).toEqual({ attempts: 1, failed: false, cancelled: true });
    expect(await readBulkRequest(redis, keys, r.userId, r.requestId)).toMatchObject({
      stage: 'cancelled',
      inserted: 1,
      nextAttemptAt: null,
    });
    expect(await redis.lrange(keys.bulkQueue(r.userId), 0, -1)).toEqual([]);
    expect(await redis.zscore(keys.bulkFailed(r.userId), `${r.userId}:${r.requestId}`)).toBeNull();
    expect((await events(r.userId)).map((e) => e.type)).toEqual(['bulk_request.cancelled']);
  });

  it('a request queued again after a failed attempt is cancelled with what went in; a finished one is refused', async () => {
    const r = await queued(3);
    await bulk().markProcessing(r.userId, r.requestId, r.token, now);
    await bulk().recordProgress(r.userId, r.requestId, r.token, { from: 0, to: 1, inserted: 1, failures: [] });
    await bulk().recordFailure(r.userId, r.requestId, r.token, failure(1));
    await twice(() => cancel(r.userId, r.requestId));
    expect(await readBulkRequest(redis, keys, r.userId, r.requestId)).toMatchObject({
      stage: 'cancelled',
      inserted: 1,
      nextAttemptAt: null,
    });

    const p = await processed();
    expect(await cancel(p.userId, p.requestId)).toEqual({ outcome: 'finished', stage: 'processed_awaiting_report' });
    expect(await cancel(randomUUID(), p.requestId)).toEqual({ outcome: 'not_found' });
    expect(await cancel(p.userId, randomUUID())).toEqual({ outcome: 'not_found' });
  });

  it('a cancelled request that is reported stays cancelled, with the report noted', async () => {
    const r = await queued(2);
    await cancel(r.userId, r.requestId);
    const lease = await acquireLease(redis, keys.reportLease(r.userId), 30_000);
    await twice(() => report().complete(r.userId, lease!.token, { requestIds: [r.requestId], completedAt: now, messageId: '<c@test>' }));
    expect(await readBulkRequest(redis, keys, r.userId, r.requestId)).toMatchObject({ stage: 'cancelled', reportMessageId: '<c@test>' });
    expect(await redis.exists(keys.bulkStatus(r.userId))).toBe(0);
    expect((await events(r.userId)).map((e) => e.type)).toEqual(['bulk_request.cancelled']);
  });
});

describe('a submit whose answer was lost', () => {
  it('settles to stored when it was stored', async () => {
    const r = await queued();
    expect(await settleBulkSubmission(redis, keys, r.userId, r.requestId)).toBe(true);
  });

  it('settles to not stored, and then a late copy of the submit stores nothing', async () => {
    const userId = randomUUID();
    const requestId = randomUUID();
    expect(await settleBulkSubmission(redis, keys, userId, requestId)).toBe(false);
    await expect(
      submitBulkRequest(redis, keys, {
        userId,
        requestId,
        submitted: 1,
        valid: [{ index: 0, book: { title: 'Late', author: 'A' } }],
        invalid: [],
        now,
      }),
    ).rejects.toMatchObject({ code: 'SUBMISSION_VOIDED' });
    expect(await redis.exists(keys.bulkRequest(userId, requestId), keys.bulkItems(userId, requestId), keys.bulkQueue(userId))).toBe(0);
  });
});
