// The indexes that grow (a user's request history, the failed-requests index) are trimmed by the
// scripts that add to them, so that reading them never writes: a listing skips what expired and
// leaves the namespace as it found it.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { listBulkRequests } from '../src/bulk/records.js';
import { createReportScripts } from '../src/bulk/report-transitions.js';
import { HISTORY_PRUNE_PER_SUBMIT, submitBulkRequest } from '../src/bulk/submit.js';
import { createBulkWorkerScripts } from '../src/bulk/worker-transitions.js';
import { requestMember } from '../src/redis/keys.js';
import { acquireLease } from '../src/redis/lease.js';
import { redisNamespace } from './redis-namespace.js';

const { keys, redis, scanKeys } = redisNamespace('housekeeping');
const RECORD_TTL_S = 3600;
const now = new Date('2026-12-01T10:00:00.000Z');
const longAgo = now.getTime() - RECORD_TTL_S * 1000 - 1;

const submit = (userId: string, at = now) =>
  submitBulkRequest(redis, keys, { userId, submitted: 1, valid: [{ index: 0, book: { title: 'T', author: 'A' } }], invalid: [], now: at });

async function dumpAll(): Promise<Record<string, string | null>> {
  const state: Record<string, string | null> = {};
  for (const key of (await scanKeys()).sort()) state[key] = (await redis.dumpBuffer(key))?.toString('base64') ?? null;
  return state;
}

describe("a user's request history", () => {
  it('is listed without a write, and pruned of expired records by the next submit', async () => {
    const userId = randomUUID();
    const ids: string[] = [];
    for (let n = 0; n < HISTORY_PRUNE_PER_SUBMIT + 2; n++) {
      ids.push((await submit(userId, new Date(now.getTime() + n))).requestId);
    }
    // The oldest three records expired (as a reported request's record does after its TTL); one of
    // them lies beyond the few ids a submit checks.
    const expired = [ids[0], ids[2], ids[HISTORY_PRUNE_PER_SUBMIT + 1]] as string[];
    await redis.del(...expired.map((id) => keys.bulkRequest(userId, id)));

    const before = await dumpAll();
    const listed = (await listBulkRequests(redis, keys, userId)).map((r) => r.requestId);
    expect(listed).toEqual(ids.filter((id) => !expired.includes(id)).reverse());
    expect(await dumpAll()).toEqual(before);

    const next = (await submit(userId, new Date(now.getTime() + 1000))).requestId;
    const history = await redis.zrange(keys.bulkHistory(userId), 0, -1);
    // The expired ids among the oldest few are gone; live ones stay, and the new one is listed.
    expect(history).toEqual([...ids.filter((id) => id !== ids[0] && id !== ids[2]), next]);
    expect(history).toContain(ids[HISTORY_PRUNE_PER_SUBMIT + 1]);
  });

  it('stays as long as the records it lists when every record expires', async () => {
    const userId = randomUUID();
    for (let n = 0; n < 20; n++) {
      const { requestId } = await submit(userId, new Date(now.getTime() + n));
      await redis.del(keys.bulkRequest(userId, requestId));
    }
    // Each submit removes up to HISTORY_PRUNE_PER_SUBMIT dead ids and adds one: the history does not grow.
    expect(await redis.zcard(keys.bulkHistory(userId))).toBe(1);
  });
});

describe('the failed-requests index', () => {
  const scripts = () => ({
    bulk: createBulkWorkerScripts(redis, keys, { leaseMs: 30_000, cacheTtlMs: 60_000, recordTtlSeconds: RECORD_TTL_S }),
    report: createReportScripts(redis, keys, { recordTtlSeconds: RECORD_TTL_S }),
  });
  // Each shard is trimmed by the scripts that add to it: the stale entries are the user's shard's.
  const stale = (userId: string) => requestMember(userId, randomUUID());

  it('drops entries older than a record when an import fails for good', async () => {
    const userId = randomUUID();
    const old = stale(userId);
    const recent = stale(userId);
    await redis.zadd(keys.bulkFailed(userId), longAgo, old, now.getTime() - 1000, recent);
    const { requestId } = await submit(userId);
    const lease = await acquireLease(redis, keys.bulkLease(userId), 30_000);
    const failure = { attempt: 1, maxAttempts: 1, fatal: true, error: 'account gone', code: 'USER_GONE', now, nextAttemptAt: now };
    expect(await scripts().bulk.recordFailure(userId, requestId, lease!.token, failure)).toEqual({
      attempts: 1,
      failed: true,
      cancelled: false,
    });
    const members = await redis.zrange(keys.bulkFailed(userId), 0, -1);
    expect(members).not.toContain(old);
    expect(members).toEqual(expect.arrayContaining([recent, requestMember(userId, requestId)]));
  });

  it('drops entries older than a record when a report fails for good', async () => {
    const userId = randomUUID();
    const old = stale(userId);
    await redis.zadd(keys.bulkFailed(userId), longAgo, old);
    const { requestId } = await submit(userId);
    const lease = await acquireLease(redis, keys.bulkLease(userId), 30_000);
    const { bulk, report } = scripts();
    await bulk.markProcessing(userId, requestId, lease!.token, now);
    await bulk.recordProgress(userId, requestId, lease!.token, { from: 0, to: 1, inserted: 1, failures: [] });
    await bulk.finalize(userId, requestId, lease!.token, now, 5);
    const reportLease = await acquireLease(redis, keys.reportLease(userId), 30_000);
    const outcome = await report.recordFailure(userId, reportLease!.token, {
      requestIds: [requestId],
      error: 'mailbox unavailable',
      permanent: true,
      now,
      nextAttemptAt: now,
      maxAttempts: 3,
    });
    expect(outcome.failed).toBe(true);
    const members = await redis.zrange(keys.bulkFailed(userId), 0, -1);
    expect(members).not.toContain(old);
    expect(members).toContain(requestMember(userId, requestId));
  });
});
