// Cancelling a bulk request (DELETE /books/bulk/:id): one script (CANCEL in transition-scripts.ts)
// decides from the stage it finds, so two cancels, or a cancel racing the worker, agree.

import type { RedisClient } from '../redis/client.js';
import { type RedisKeys, requestMember } from '../redis/keys.js';
import type { BulkStage } from '../schemas/bulk.js';

export type CancelOutcome =
  /** Unknown, or another user's. */
  | { outcome: 'not_found' }
  /** Cancelled now (it was queued: nothing more goes in) or earlier; asking again answers the same. */
  | { outcome: 'cancelled' }
  /** It is being processed: the worker stops at its next chunk boundary, keeping what went in. */
  | { outcome: 'cancel_requested' }
  /** Too late: it was processed (or failed) already. */
  | { outcome: 'finished'; stage: BulkStage };

export async function cancelBulkRequest(
  redis: RedisClient,
  keys: RedisKeys,
  userId: string,
  requestId: string,
  options: { now: Date; cacheTtlMs: number },
): Promise<CancelOutcome> {
  const [outcome, stage] = await redis.bulkCancel(
    keys.bulkRequest(userId, requestId),
    keys.bulkQueue(userId),
    keys.bulkItems(userId, requestId),
    keys.bulkPending(userId),
    keys.bulkStatus(userId),
    keys.reportPending(userId),
    keys.booksCache(userId),
    keys.webhookEvents(userId),
    userId,
    requestId,
    requestMember(userId, requestId),
    options.now.toISOString(),
    options.now.getTime(),
    options.cacheTtlMs,
  );
  if (outcome === 'finished') return { outcome, stage: stage as BulkStage };
  if (outcome === 'cancelled' || outcome === 'cancel_requested' || outcome === 'not_found') return { outcome };
  throw new Error(`unexpected answer from the cancel script: ${outcome}`);
}
