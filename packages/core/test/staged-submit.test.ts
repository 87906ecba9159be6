// A staged submit (a file uploaded in batches) queues what submitBulkRequest would have queued for
// the same rows, and each of its commands may run twice (ioredis re-sends a command in flight when
// the connection drops) with the effect of once. Checked key by key on a real Redis.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { StagingExpiredError, startStagedSubmission } from '../src/bulk/staged-submit.js';
import { settleBulkSubmission, submitBulkRequest, type ValidItem } from '../src/bulk/submit.js';
import { SHARD_TAGS, shardOf } from '../src/redis/keys.js';
import type { FailedItem } from '../src/schemas/bulk.js';
import { redisNamespace } from './redis-namespace.js';

const { keys, redis, scanKeys } = redisNamespace('staged-submit');
const now = new Date('2026-12-01T10:00:00.000Z');

const valid = (from: number, n: number): ValidItem[] =>
  Array.from({ length: n }, (_, i) => ({ index: from + i, row: from + i + 2, book: { title: `T${from + i}`, author: 'A' } }));
const invalid = (index: number): FailedItem => ({
  index,
  row: index + 2,
  column: 'author',
  title: 'T',
  author: null,
  reason: 'author is required',
});

/** One user's keys with their values, ids replaced, so that two requests' states can be compared. */
async function userState(userId: string, requestId: string): Promise<Record<string, unknown>> {
  const state: Record<string, unknown> = {};
  const found = (await scanKeys()).filter((key) => key.includes(userId)).sort();
  for (const key of found) {
    const type = await redis.type(key);
    const value =
      type === 'hash'
        ? await redis.hgetall(key)
        : type === 'list'
          ? await redis.lrange(key, 0, -1)
          : type === 'zset'
            ? await redis.zrange(key, 0, -1)
            : await redis.get(key);
    const ttl = await redis.ttl(key);
    // Two users' keys differ by their shard's tag too.
    const tag = `{${SHARD_TAGS[shardOf(userId)]}}`;
    state[key.replaceAll(userId, '<user>').replaceAll(requestId, '<request>').replaceAll(tag, '{<shard>}')] = {
      ttl,
      value: JSON.parse(JSON.stringify(value).replaceAll(userId, '<user>').replaceAll(requestId, '<request>')),
    };
  }
  const member = `${userId}:${requestId}`;
  state.pending = (await redis.zscore(keys.bulkPending(userId), member)) !== null;
  return state;
}

describe('a staged submit', () => {
  it('queues exactly what a submit at once queues for the same rows, and leaves no staging', async () => {
    const rows = { valid: [...valid(0, 1500), ...valid(1501, 700)], invalid: [invalid(1500)] };
    const atOnce = { userId: randomUUID(), requestId: randomUUID() };
    await submitBulkRequest(redis, keys, { ...atOnce, submitted: 2201, ...rows, now, idempotencyKey: 'k' });

    const staged = { userId: randomUUID(), requestId: randomUUID() };
    const submission = startStagedSubmission(redis, keys, staged.userId, staged.requestId);
    await submission.stage(valid(0, 1000), []);
    await submission.stage(valid(1000, 500), [invalid(1500)]);
    await submission.stage(valid(1501, 700), []);
    expect(await redis.ttl(keys.bulkStaging(staged.userId, staged.requestId))).toBeGreaterThan(0);
    expect(await submission.commit({ submitted: 2201, now, idempotencyKey: 'k' })).toEqual({ requestId: staged.requestId, created: true });

    expect(await userState(staged.userId, staged.requestId)).toEqual(await userState(atOnce.userId, atOnce.requestId));
    expect(await redis.ttl(keys.bulkItems(staged.userId, staged.requestId))).toBe(-1);
  });

  it('stages a batch sent twice once', async () => {
    const userId = randomUUID();
    const requestId = randomUUID();
    const args = [keys.bulkStaging(userId, requestId), keys.bulkStagedItems(userId, requestId), keys.bulkStagedFailures(userId, requestId)];
    const batch = (n: number, items: ValidItem[]) =>
      redis.bulkStageBatch(...args, n, 60, 0, items.map((item) => JSON.stringify({ i: item.index, b: item.book, r: item.row })).join('\n'));
    expect(await batch(1, valid(0, 3))).toBe(1);
    expect(await batch(1, valid(0, 3))).toBe(1);
    expect(await batch(2, valid(3, 2))).toBe(2);
    expect(await redis.llen(keys.bulkStagedItems(userId, requestId))).toBe(5);
    // A batch whose predecessor is not staged (the staging expired in between) is refused.
    expect(await batch(4, valid(5, 1))).toBe(-1);
    expect(await redis.llen(keys.bulkStagedItems(userId, requestId))).toBe(5);
  });

  it('commits once when the commit is sent twice', async () => {
    const userId = randomUUID();
    const requestId = randomUUID();
    const submission = startStagedSubmission(redis, keys, userId, requestId);
    await submission.stage(valid(0, 4), [invalid(4)]);
    await submission.commit({ submitted: 5, now });
    const once = await userState(userId, requestId);
    expect(await submission.commit({ submitted: 5, now })).toEqual({ requestId, created: true });
    expect(await userState(userId, requestId)).toEqual(once);
    expect(await redis.lrange(keys.bulkQueue(userId), 0, -1)).toEqual([requestId]);
  });

  it('answers the original request for an Idempotency-Key used before, and drops its own staging', async () => {
    const userId = randomUUID();
    const first = startStagedSubmission(redis, keys, userId, randomUUID());
    await first.stage(valid(0, 2), []);
    await first.commit({ submitted: 2, now, idempotencyKey: 'same' });
    const again = startStagedSubmission(redis, keys, userId, randomUUID());
    await again.stage(valid(0, 9), []);
    expect(await again.commit({ submitted: 9, now, idempotencyKey: 'same' })).toEqual({ requestId: first.requestId, created: false });
    expect(await redis.exists(keys.bulkStaging(userId, again.requestId), keys.bulkStagedItems(userId, again.requestId))).toBe(0);
    expect(await redis.lrange(keys.bulkQueue(userId), 0, -1)).toEqual([first.requestId]);
  });

  it('stores nothing once settled as not stored, or when its staging lost a batch', async () => {
    const userId = randomUUID();
    const voided = startStagedSubmission(redis, keys, userId, randomUUID());
    await voided.stage(valid(0, 2), []);
    expect(await settleBulkSubmission(redis, keys, userId, voided.requestId)).toBe(false);
    await expect(voided.commit({ submitted: 2, now })).rejects.toMatchObject({ code: 'SUBMISSION_VOIDED' });

    const expired = startStagedSubmission(redis, keys, userId, randomUUID());
    await expired.stage(valid(0, 2), []);
    await redis.del(keys.bulkStaging(userId, expired.requestId));
    await expect(expired.commit({ submitted: 2, now })).rejects.toBeInstanceOf(StagingExpiredError);

    expect(await redis.lrange(keys.bulkQueue(userId), 0, -1)).toEqual([]);
    expect((await scanKeys()).filter((key) => key.includes(userId) && !key.includes('bulk_void'))).toEqual([]);
  });
});
