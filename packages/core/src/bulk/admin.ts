// What administrators read of bulk requests across users: a request's owner found from its id
// alone, and the failed requests, paged. Both go through the global indexes (bulk_failed,
// bulk_pending), never KEYS.

import type { RedisClient } from '../redis/client.js';
import { parseRequestMember, type RedisKeys } from '../redis/keys.js';
import { byScore, pairs } from '../redis/sharded-index.js';
import type { AdminBulkRequest } from '../schemas/admin.js';
import { type RecordLogger, readBulkRequestsOf, type StoredBulkRequest } from './records.js';

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/**
 * The user whose request this is, if it is failed (bulk_failed) or queued or processing
 * (bulk_pending); null otherwise. The indexes' members are `userId:requestId`, so this scans them
 * with ZSCAN MATCH, a bounded step at a time: an administrator's action, not a hot path. A finished
 * request (processed, completed, cancelled) is in no global index and is not found.
 */
export async function findRequestOwner(redis: RedisClient, keys: RedisKeys, requestId: string): Promise<string | null> {
  // The id becomes a MATCH pattern: only a plain uuid, which holds no glob character.
  if (!UUID.test(requestId)) return null;
  for (const index of [...keys.bulkFailedShards(), ...keys.bulkPendingShards()]) {
    let cursor = '0';
    do {
      const [next, entries] = await redis.zscan(index, cursor, 'MATCH', `*:${requestId}`, 'COUNT', 1000);
      // Entries come as member, score, member, score…
      for (let i = 0; i < entries.length; i += 2) {
        const ref = parseRequestMember(entries[i] as string);
        if (ref?.requestId === requestId) return ref.userId;
      }
      cursor = next;
    } while (cursor !== '0');
  }
  return null;
}

/**
 * One page of the failed requests of every user, most recently failed first. `total` counts the
 * index over a record's lifetime (as GET /admin/stats does); a request re-driven between the count
 * and the read is left out of its page.
 */
export async function listFailedRequests(
  redis: RedisClient,
  keys: RedisKeys,
  page: { limit: number; offset: number; now: Date; recordTtlSeconds: number },
  log?: RecordLogger,
): Promise<{ records: StoredBulkRequest[]; total: number }> {
  const since = `(${page.now.getTime() - page.recordTtlSeconds * 1000}`;
  const shards = keys.bulkFailedShards();
  // The page of the merged index: each shard's first offset + limit, merged by failure time.
  const [counts, heads] = await Promise.all([
    Promise.all(shards.map((shard) => redis.zcount(shard, since, '+inf'))),
    Promise.all(shards.map((shard) => redis.zrevrangebyscore(shard, '+inf', since, 'WITHSCORES', 'LIMIT', 0, page.offset + page.limit))),
  ]);
  const members = heads
    .flatMap(pairs)
    .sort((a, b) => byScore(b, a))
    .slice(page.offset, page.offset + page.limit);
  const total = counts.reduce((sum, count) => sum + count, 0);
  const refs = members.flatMap(({ member }) => parseRequestMember(member) ?? []);
  const records = await readBulkRequestsOf(redis, keys, refs, log);
  return { records: records.filter((record) => record.stage === 'failed'), total };
}

/** A record as an administrator sees it: its state and counts, none of its books. */
export function adminBulkRequest(record: StoredBulkRequest): AdminBulkRequest {
  return {
    requestId: record.requestId,
    userId: record.userId,
    stage: record.stage,
    submitted: record.submitted,
    queued: record.queued,
    inserted: record.inserted,
    failed: record.failed,
    remaining: Math.max(0, record.queued - record.nextItem),
    attempts: record.attempts,
    lastError: record.lastError,
    lastErrorCode: record.lastErrorCode,
    failedAt: record.failedAt,
    submittedAt: record.queuedAt,
    retriedAt: record.retriedAt,
    previousFailures: record.previousFailures,
  };
}
