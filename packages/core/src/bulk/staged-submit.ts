// Submitting a file (CSV, NDJSON) while it arrives: its rows are staged in batches under the
// request's id, and one command (COMMIT_STAGED) turns the staging into a queued request exactly as
// submitBulkRequest queues one. Until then nothing is queued: an upload that breaks off is
// discarded, or expires with its staging TTL if even that fails.

import type { RedisClient } from '../redis/client.js';
import type { RedisKeys } from '../redis/keys.js';
import type { FailedItem } from '../schemas/bulk.js';
import { newRequestRecord, queueArgs, queuedItemEntry, queueKeys, type SubmitResult, submitOutcome, type ValidItem } from './submit.js';

/**
 * How long a staged upload survives without a new batch. Long enough for a slow client between two
 * batches; short enough that an upload whose server died does not linger.
 */
export const STAGING_TTL_SECONDS = 3600;

/** The staging no longer holds every batch (its TTL ran out between two): nothing was queued. */
export class StagingExpiredError extends Error {
  readonly code = 'STAGING_EXPIRED';
  constructor(requestId: string) {
    super(`the staged upload of bulk request ${requestId} expired before it was complete; nothing was queued`);
  }
}

export interface StagedCommit {
  /** Every row submitted (valid and failed), for the counts. */
  submitted: number;
  idempotencyKey?: string | undefined;
  now: Date;
  traceparent?: string | undefined;
}

export interface StagedSubmission {
  readonly requestId: string;
  /** Valid items and failures staged so far. */
  readonly queued: number;
  readonly failed: number;
  /**
   * Appends a batch. Batches are numbered, so one re-sent after a dropped connection is not appended
   * twice; a batch is staged only once the one before is answered.
   */
  stage(valid: ValidItem[], invalid: FailedItem[]): Promise<void>;
  /** Queues the request with everything staged, under the same rules as submitBulkRequest. */
  commit(meta: StagedCommit): Promise<SubmitResult>;
  /** Drops what was staged (an upload that failed or broke off). */
  discard(): Promise<void>;
}

export function startStagedSubmission(redis: RedisClient, keys: RedisKeys, userId: string, requestId: string): StagedSubmission {
  const staging = [
    keys.bulkStaging(userId, requestId),
    keys.bulkStagedItems(userId, requestId),
    keys.bulkStagedFailures(userId, requestId),
  ];
  let batches = 0;
  let lines = Buffer.alloc(0);
  let queued = 0;
  let failed = 0;
  return {
    requestId,
    get queued() {
      return queued;
    },
    get failed() {
      return failed;
    },
    async stage(valid, invalid) {
      if (valid.length === 0 && invalid.length === 0) return;
      const batch = batches + 1;
      // The batch as one argument, in a buffer kept for the whole upload, not a string argument an
      // entry: V8 runs its young-generation collections while the process waits on I/O, that is
      // while a batch is in flight, and the thousand strings ioredis held then (the entries and its
      // command text) were promoted to the old generation, about 190 bytes a row: a million-row
      // upload grew the heap by 160 MB between two full collections. A fresh Buffer a batch would be
      // promoted the same way, its bytes freed only by a full collection. Reusing it is safe
      // because batches go one at a time: the next is written only once this one is answered.
      const entries = [...invalid.map((item) => JSON.stringify(item)), ...valid.map(queuedItemEntry)];
      const size = entries.reduce((total, entry) => total + Buffer.byteLength(entry) + 1, -1);
      if (lines.length < size) lines = Buffer.allocUnsafe(Math.max(size, 2 * lines.length));
      let at = 0;
      entries.forEach((entry, i) => {
        if (i > 0) at += lines.write('\n', at);
        at += lines.write(entry, at);
      });
      const staged = await redis.bulkStageBatch(...staging, batch, STAGING_TTL_SECONDS, invalid.length, lines.subarray(0, at));
      if (staged !== batch) throw new StagingExpiredError(requestId);
      batches = batch;
      queued += valid.length;
      failed += invalid.length;
    },
    async commit(meta) {
      const record = newRequestRecord({ ...meta, userId, requestId, queued, failed });
      const [created, id] = await redis.bulkCommitStaged(
        ...queueKeys(keys, userId, requestId, meta.idempotencyKey),
        ...staging,
        ...queueArgs(userId, requestId, meta.now, meta.idempotencyKey, record),
        batches,
      );
      if (created === -2) throw new StagingExpiredError(requestId);
      return submitOutcome(redis, keys, userId, created, id);
    },
    async discard() {
      await redis.del(...staging);
    },
  };
}
