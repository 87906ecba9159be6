// The bulk worker's Redis steps, each one Lua script so an observer never sees one half done, and
// each checking the worker's lease token first: a worker that lost its lease changes nothing.
import type { Redis, Result } from 'ioredis';
import { INVALIDATE_BOOKS_CACHE_LUA } from '../books-cache.js';
import { type RedisKeys, requestMember } from '../redis-keys.js';
import type { FailedItem } from '../schemas/bulk.js';

const HOLDS_LEASE = `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end`;

// KEYS: lease, record. ARGV: token, now ISO, lease ms.
const MARK_PROCESSING = `${HOLDS_LEASE}
redis.call('HSET', KEYS[2], 'stage', 'processing')
redis.call('HSETNX', KEYS[2], 'processingStartedAt', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1`;

// KEYS: lease, record, failures. ARGV: token, expected cursor, next cursor, inserted, lease ms, failures…
// The cursor check makes a chunk count once even if two workers both committed it.
const RECORD_PROGRESS = `${HOLDS_LEASE}
if redis.call('HGET', KEYS[2], 'nextItem') ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[2], 'nextItem', ARGV[3])
redis.call('HINCRBY', KEYS[2], 'inserted', ARGV[4])
if #ARGV > 5 then
  redis.call('HINCRBY', KEYS[2], 'failed', #ARGV - 5)
  redis.call('RPUSH', KEYS[3], unpack(ARGV, 6, #ARGV))
end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1`;

// KEYS: lease, record, queue, items, status, books cache, pending (global), report pending (global)
// ARGV: token, requestId, member, userId, processed ISO, processed ms, duration ms, cache ttl ms, lease ms
const FINALIZE = `${HOLDS_LEASE}
${INVALIDATE_BOOKS_CACHE_LUA}
redis.call('HSET', KEYS[2], 'stage', 'processed_awaiting_report', 'processedAt', ARGV[5], 'durationMs', ARGV[7])
redis.call('HDEL', KEYS[2], 'nextAttemptAt')
redis.call('LREM', KEYS[3], 0, ARGV[2])
redis.call('DEL', KEYS[4])
redis.call('ZREM', KEYS[7], ARGV[3])
local r = redis.call('HMGET', KEYS[2], 'submitted', 'inserted', 'failed')
local ids = redis.call('HGET', KEYS[5], 'requestIds')
redis.call('HSET', KEYS[5], 'stage', 'processed_awaiting_report', 'userId', ARGV[4], 'lastProcessedAt', ARGV[5],
  'requestIds', (ids and ids ~= '') and (ids .. ',' .. ARGV[2]) or ARGV[2])
redis.call('HSETNX', KEYS[5], 'firstProcessedAt', ARGV[5])
redis.call('HINCRBY', KEYS[5], 'totalBooks', r[1])
redis.call('HINCRBY', KEYS[5], 'successCount', r[2])
redis.call('HINCRBY', KEYS[5], 'failCount', r[3])
redis.call('ZADD', KEYS[8], 'NX', ARGV[6], ARGV[4])
invalidate_books_cache(KEYS[6], ARGV[8])
redis.call('PEXPIRE', KEYS[1], ARGV[9])
return 1`;

// KEYS: lease, record, queue, items, pending (global), failed (global), failures, books cache
// ARGV: token, requestId, member, error, now ISO, now ms, next attempt ISO, max attempts, record ttl s, cache ttl ms
// Books already inserted stay (they are committed); the cache is invalidated so they show.
const RECORD_FAILURE = `${HOLDS_LEASE}
${INVALIDATE_BOOKS_CACHE_LUA}
local attempts = redis.call('HINCRBY', KEYS[2], 'attempts', 1)
redis.call('HSET', KEYS[2], 'lastError', ARGV[4])
if attempts < tonumber(ARGV[8]) then
  redis.call('HSET', KEYS[2], 'stage', 'queued', 'nextAttemptAt', ARGV[7])
  return {attempts, 0}
end
redis.call('HSET', KEYS[2], 'stage', 'failed', 'failedAt', ARGV[5])
redis.call('HDEL', KEYS[2], 'nextAttemptAt')
redis.call('LREM', KEYS[3], 0, ARGV[2])
redis.call('DEL', KEYS[4])
redis.call('ZREM', KEYS[5], ARGV[3])
redis.call('ZADD', KEYS[6], ARGV[6], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[9])
redis.call('EXPIRE', KEYS[7], ARGV[9])
invalidate_books_cache(KEYS[8], ARGV[10])
return {attempts, 1}`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    bulkMarkProcessing(lease: string, record: string, token: string, nowIso: string, leaseMs: number): Result<number, Context>;
    bulkRecordProgress(...args: (string | number)[]): Result<number, Context>;
    bulkFinalize(...args: (string | number)[]): Result<number, Context>;
    bulkRecordFailure(...args: (string | number)[]): Result<[number, number], Context>;
  }
}

export class LeaseLostError extends Error {
  readonly code = 'LEASE_LOST';
  constructor(userId: string) {
    super(`lost the lease on user ${userId}'s queue; another worker has it`);
  }
}

export interface BulkWorkerScripts {
  markProcessing(userId: string, requestId: string, token: string, now: Date): Promise<void>;
  /** Returns false if this chunk was already recorded (the cursor moved on). */
  recordProgress(
    userId: string,
    requestId: string,
    token: string,
    chunk: { from: number; to: number; inserted: number; failures: FailedItem[] },
  ): Promise<boolean>;
  finalize(userId: string, requestId: string, token: string, processedAt: Date, durationMs: number): Promise<void>;
  recordFailure(
    userId: string,
    requestId: string,
    token: string,
    failure: { error: string; now: Date; nextAttemptAt: Date; maxAttempts: number },
  ): Promise<{ attempts: number; failed: boolean }>;
}

export function createBulkWorkerScripts(
  redis: Redis,
  keys: RedisKeys,
  options: { leaseMs: number; cacheTtlMs: number; recordTtlSeconds: number },
): BulkWorkerScripts {
  if (typeof (redis as Partial<Redis>).bulkFinalize !== 'function') {
    redis.defineCommand('bulkMarkProcessing', { numberOfKeys: 2, lua: MARK_PROCESSING });
    redis.defineCommand('bulkRecordProgress', { numberOfKeys: 3, lua: RECORD_PROGRESS });
    redis.defineCommand('bulkFinalize', { numberOfKeys: 8, lua: FINALIZE });
    redis.defineCommand('bulkRecordFailure', { numberOfKeys: 8, lua: RECORD_FAILURE });
  }
  const lost = (result: number, userId: string) => {
    if (result === -1) throw new LeaseLostError(userId);
  };
  return {
    async markProcessing(userId, requestId, token, now) {
      lost(
        await redis.bulkMarkProcessing(
          keys.bulkLease(userId),
          keys.bulkRequest(userId, requestId),
          token,
          now.toISOString(),
          options.leaseMs,
        ),
        userId,
      );
    },
    async recordProgress(userId, requestId, token, chunk) {
      const result = await redis.bulkRecordProgress(
        keys.bulkLease(userId),
        keys.bulkRequest(userId, requestId),
        keys.bulkFailures(userId, requestId),
        token,
        chunk.from,
        chunk.to,
        chunk.inserted,
        options.leaseMs,
        ...chunk.failures.map((item) => JSON.stringify(item)),
      );
      lost(result, userId);
      return result === 1;
    },
    async finalize(userId, requestId, token, processedAt, durationMs) {
      const result = await redis.bulkFinalize(
        keys.bulkLease(userId),
        keys.bulkRequest(userId, requestId),
        keys.bulkQueue(userId),
        keys.bulkItems(userId, requestId),
        keys.bulkStatus(userId),
        keys.booksCache(userId),
        keys.bulkPending(),
        keys.reportPending(),
        token,
        requestId,
        requestMember(userId, requestId),
        userId,
        processedAt.toISOString(),
        processedAt.getTime(),
        Math.round(durationMs),
        options.cacheTtlMs,
        options.leaseMs,
      );
      lost(result, userId);
    },
    async recordFailure(userId, requestId, token, failure) {
      const result = await redis.bulkRecordFailure(
        keys.bulkLease(userId),
        keys.bulkRequest(userId, requestId),
        keys.bulkQueue(userId),
        keys.bulkItems(userId, requestId),
        keys.bulkPending(),
        keys.bulkFailed(),
        keys.bulkFailures(userId, requestId),
        keys.booksCache(userId),
        token,
        requestId,
        requestMember(userId, requestId),
        failure.error.slice(0, 1000),
        failure.now.toISOString(),
        failure.now.getTime(),
        failure.nextAttemptAt.toISOString(),
        failure.maxAttempts,
        options.recordTtlSeconds,
        options.cacheTtlMs,
      );
      if ((result as unknown) === -1) throw new LeaseLostError(userId);
      const [attempts, failed] = result;
      return { attempts, failed: failed === 1 };
    },
  };
}
