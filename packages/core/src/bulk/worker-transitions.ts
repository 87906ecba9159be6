// The bulk worker's transitions of a request: start, chunk progress, finish (or stop, cancelled),
// attempt failed.

import type { RedisClient } from '../redis/client.js';
import { type RedisKeys, requestMember } from '../redis/keys.js';
import { LeaseLostError } from '../redis/lease.js';
import type { FailedItem } from '../schemas/bulk.js';

export interface AttemptFailure {
  /** This attempt's number: the record's attempts so far + 1 (makes a replay count once). */
  attempt: number;
  maxAttempts: number;
  /** Retrying cannot help (e.g. the account is gone): fail now. */
  fatal: boolean;
  /** A readable reason, shown to the user; details belong in the logs. */
  error: string;
  code: string;
  now: Date;
  nextAttemptAt: Date;
}

export interface BulkWorkerScripts {
  /** False when the request is past processing (finished by another worker): skip it. */
  markProcessing(userId: string, requestId: string, token: string, now: Date): Promise<boolean>;
  /**
   * False if this chunk was already recorded (the cursor moved on); 'cancel_requested' when it was
   * recorded and the owner asked to cancel meanwhile: stop here and call finalize, which cancels.
   */
  recordProgress(
    userId: string,
    requestId: string,
    token: string,
    chunk: { from: number; to: number; inserted: number; failures: FailedItem[] },
  ): Promise<false | 'recorded' | 'cancel_requested'>;
  /**
   * 'processed', or 'cancelled' when a cancel was pending (what went in stays, the items left are
   * dropped); false when the request had already moved past processing (finished elsewhere).
   */
  finalize(userId: string, requestId: string, token: string, at: Date, durationMs: number): Promise<false | 'processed' | 'cancelled'>;
  /** `failed`: it failed for good; `cancelled`: a pending cancel ended it instead of a retry. */
  recordFailure(
    userId: string,
    requestId: string,
    token: string,
    failure: AttemptFailure,
  ): Promise<{ attempts: number; failed: boolean; cancelled: boolean }>;
}

export function createBulkWorkerScripts(
  redis: RedisClient,
  keys: RedisKeys,
  options: { leaseMs: number; cacheTtlMs: number; recordTtlSeconds: number },
): BulkWorkerScripts {
  const lost = (result: unknown, userId: string) => {
    if (result === -1) throw new LeaseLostError('queue', userId);
  };
  return {
    async markProcessing(userId, requestId, token, now) {
      const result = await redis.bulkStart(
        keys.bulkLease(userId),
        keys.bulkRequest(userId, requestId),
        token,
        now.toISOString(),
        options.leaseMs,
      );
      lost(result, userId);
      return result === 1;
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
      return result === 2 ? 'cancel_requested' : result === 1 ? 'recorded' : false;
    },
    async finalize(userId, requestId, token, processedAt, durationMs) {
      const result = await redis.bulkFinish(
        keys.bulkLease(userId),
        keys.bulkRequest(userId, requestId),
        keys.bulkQueue(userId),
        keys.bulkItems(userId, requestId),
        keys.bulkStatus(userId),
        keys.booksCache(userId),
        keys.bulkPending(userId),
        keys.reportPending(userId),
        keys.webhookEvents(userId),
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
      return result === 2 ? 'cancelled' : result === 1 ? 'processed' : false;
    },
    async recordFailure(userId, requestId, token, failure) {
      const result = await redis.bulkRecordAttemptFailure(
        keys.bulkLease(userId),
        keys.bulkRequest(userId, requestId),
        keys.bulkQueue(userId),
        keys.bulkItems(userId, requestId),
        keys.bulkPending(userId),
        keys.bulkFailed(userId),
        keys.booksCache(userId),
        keys.bulkStatus(userId),
        keys.reportPending(userId),
        keys.webhookEvents(userId),
        token,
        requestId,
        requestMember(userId, requestId),
        userId,
        failure.attempt,
        failure.maxAttempts,
        failure.fatal ? 1 : 0,
        failure.error.slice(0, 1000),
        failure.code,
        failure.now.toISOString(),
        failure.now.getTime(),
        failure.nextAttemptAt.toISOString(),
        options.cacheTtlMs,
        options.recordTtlSeconds,
      );
      lost(result, userId);
      const [attempts, ended] = result as [number, number];
      return { attempts, failed: ended === 1, cancelled: ended === 2 };
    },
  };
}
