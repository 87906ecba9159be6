// The key layout's promise to a Redis Cluster: every script touches one slot. A user's keys and
// the index shards that hold the user's entries must hash to one slot, whatever the ids and prefix.
import keySlot from 'cluster-key-slot';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRedisKeys, REDIS_SHARDS, SHARD_TAGS, shardOf } from '../src/redis/keys.js';

const prefixArb = fc.stringMatching(/^[A-Za-z0-9:_.-]{0,20}$/);

describe('the Redis key layout', () => {
  it('puts every key of one user, and the index shards holding that user, in one slot', () => {
    fc.assert(
      fc.property(prefixArb, fc.uuid(), fc.uuid(), fc.string({ minLength: 1, maxLength: 40 }), (prefix, userId, requestId, keyHash) => {
        const keys = createRedisKeys(prefix);
        const userKeys = [
          keys.booksCache(userId),
          keys.bulkQueue(userId),
          keys.bulkItems(userId, requestId),
          keys.bulkRequest(userId, requestId),
          keys.bulkFailures(userId, requestId),
          keys.bulkHistory(userId),
          keys.bulkStatus(userId),
          keys.bulkLease(userId),
          keys.bulkIdempotency(userId, keyHash),
          keys.bulkVoid(userId, requestId),
          keys.reportLease(userId),
          keys.reportResendThrottle(userId),
          keys.reportResendLease(userId, requestId),
          keys.bulkStaging(userId, requestId),
          keys.bulkStagedItems(userId, requestId),
          keys.bulkStagedFailures(userId, requestId),
          keys.bulkPending(userId),
          keys.reportPending(userId),
          keys.bulkFailed(userId),
          keys.webhookEvents(userId),
          keys.reportResendQueue(userId),
        ];
        const slots = new Set(userKeys.map((key) => keySlot(key)));
        expect([...slots]).toEqual([keySlot(`{${SHARD_TAGS[shardOf(userId)]}}`)]);
        // The prefix stays outside the tag, and every key still names its user for redis-cli.
        for (const key of userKeys.slice(0, 16)) expect(key.startsWith(prefix) && key.includes(userId)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('spreads the shards evenly over the slots, one sixteenth each', () => {
    expect(SHARD_TAGS).toHaveLength(REDIS_SHARDS);
    const width = 16384 / REDIS_SHARDS;
    SHARD_TAGS.forEach((tag, shard) => {
      const slot = keySlot(tag);
      expect(slot).toBeGreaterThanOrEqual(shard * width);
      expect(slot).toBeLessThan((shard + 1) * width);
    });
    const keys = createRedisKeys('p:');
    for (const shards of [
      keys.bulkPendingShards(),
      keys.reportPendingShards(),
      keys.bulkFailedShards(),
      keys.webhookEventsShards(),
      keys.reportResendQueueShards(),
    ]) {
      expect(new Set(shards.map((key) => keySlot(key))).size).toBe(REDIS_SHARDS);
    }
  });

  it('sends users to every shard, about equally', () => {
    const counts = new Array<number>(REDIS_SHARDS).fill(0);
    fc.assert(
      fc.property(fc.uuid(), (userId) => {
        counts[shardOf(userId)]!++;
      }),
      { numRuns: 16_000 },
    );
    for (const count of counts) expect(count).toBeGreaterThan(800);
  });

  it('keeps the account-mail keys, which its scripts touch together, in one slot', () => {
    fc.assert(
      fc.property(prefixArb, fc.uuid(), (prefix, messageId) => {
        const keys = createRedisKeys(prefix);
        const mail = [
          keys.accountMailQueue(),
          keys.accountMailMessages(),
          keys.accountMailDue(),
          keys.accountMailAttempts(),
          keys.accountMailDone(),
          keys.accountMailLease(messageId),
        ];
        expect(new Set(mail.map((key) => keySlot(key))).size).toBe(1);
      }),
    );
  });
});
