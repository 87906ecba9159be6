// Drains one user's queue under a lease: requests in the order they were queued, each in chunks,
// progress recorded after every committed chunk so a successor resumes where this one stopped.
import { type BulkWorkerScripts, readBulkRequest, retryDelayMs, type StoredBulkRequest } from '@books/core/bulk';
import { acquireLease, LeaseLostError, type RedisClient, type RedisKeys } from '@books/core/redis';
import { type FailedItem, type QueuedItem, QueuedItemSchema } from '@books/core/schemas';
import { inSpan, recordWaitSpan } from '@books/core/telemetry';
import type { Logger } from 'pino';
import type { Sql } from 'postgres';
import Compile from 'typebox/compile';
import type { BulkMetrics } from '../metrics.js';
import { countUnrecordedChunk } from './count-unrecorded-chunk.js';
import { insertChunk } from './insert-chunk.js';
import { requestErrorVerdict } from './postgres-errors.js';

export interface BulkSettings {
  chunkSize: number;
  maxAttempts: number;
  leaseMs: number;
  concurrency: number;
  /** Chunks a user gets per turn: a user with a huge backlog then waits behind the others' turns. */
  turnChunks: number;
  retryBaseMs: number;
}

export interface BulkDeps {
  sql: Sql;
  redis: RedisClient;
  keys: RedisKeys;
  scripts: BulkWorkerScripts;
  log: Logger;
  now: () => Date;
  settings: BulkSettings;
  metrics: BulkMetrics;
}

export interface UserOutcome {
  userId: string;
  /** Another worker holds this user's lease. */
  skipped: boolean;
  requests: number;
  inserted: number;
  failed: number;
  /** The turn ended with work left (its chunks were used up): the pass gives the user another. */
  more: boolean;
}

/** What one turn may still do: chunks left, shared by the requests the user's queue holds. */
interface Turn {
  chunksLeft: number;
}

const itemValidator = Compile(QueuedItemSchema);

export async function drainUser(deps: BulkDeps, userId: string, signal: AbortSignal): Promise<UserOutcome> {
  const { redis, keys, log } = deps;
  const outcome: UserOutcome = { userId, skipped: false, requests: 0, inserted: 0, failed: 0, more: false };
  const turn: Turn = { chunksLeft: deps.settings.turnChunks };
  const lease = await acquireLease(redis, keys.bulkLease(userId), deps.settings.leaseMs);
  if (!lease) return { ...outcome, skipped: true };
  try {
    const requestIds = await redis.lrange(keys.bulkQueue(userId), 0, -1);
    for (const requestId of requestIds) {
      if (signal.aborted) break;
      const record = await readBulkRequest(redis, keys, userId, requestId, log);
      // Cancelled (DELETE /books/bulk/:id) after this pass read the queue: already out of it.
      if (record?.stage === 'cancelled') continue;
      if (!record || (record.stage !== 'queued' && record.stage !== 'processing')) {
        log.error({ userId, requestId, stage: record?.stage }, 'queue entry without a pending record; leaving it for an operator');
        continue;
      }
      // Requests go in the order they were queued: one waiting out a backoff holds the later ones.
      if (record.nextAttemptAt && Date.parse(record.nextAttemptAt) > deps.now().getTime()) break;
      // A span per request and turn, in the trace of the POST that queued it, after one for its wait in the queue.
      if (record.stage === 'queued' && record.attempts === 0)
        // A re-driven request (attempts reset to 0) waited since its re-drive, not since its submit.
        recordWaitSpan('bulk.queue_wait', {
          parent: record.traceparent,
          start: new Date(record.retriedAt ?? record.queuedAt),
          end: deps.now(),
        });
      const result = await inSpan(
        'bulk.process_request',
        { parent: record.traceparent, attributes: { 'books.request_id': requestId, 'books.queued': record.queued } },
        () => processRequest(deps, record, lease.token, signal, turn),
      );
      if (result === 'yielded') {
        outcome.more = true;
        break;
      }
      if (result === 'stopped') break;
      if (result === 'skipped') continue;
      outcome.requests++;
      outcome.inserted += result.inserted;
      outcome.failed += result.failed;
    }
  } catch (err) {
    if (!(err instanceof LeaseLostError)) throw err;
    deps.metrics.leaseLosses.inc();
    log.warn({ userId }, err.message);
  } finally {
    await lease.release().catch((err) => log.warn({ err, userId }, 'could not release the lease; it expires by itself'));
  }
  return outcome;
}

async function processRequest(
  deps: BulkDeps,
  record: StoredBulkRequest,
  token: string,
  signal: AbortSignal,
  turn: Turn,
): Promise<{ inserted: number; failed: number } | 'stopped' | 'skipped' | 'yielded'> {
  const { sql, redis, keys, scripts, log, settings } = deps;
  const { userId, requestId } = record;
  const started = performance.now();
  let cursor = record.nextItem;
  let inserted = record.inserted;
  let failed = record.failed;
  // DELETE /books/bulk/:id while processing: stop at the next chunk boundary (already, if a worker
  // that died had been asked). finalize then ends it cancelled with what went in.
  let cancelRequested = record.cancelRequestedAt !== null;
  try {
    if (!(await scripts.markProcessing(userId, requestId, token, deps.now()))) {
      log.warn({ userId, requestId }, 'request is already past processing; leaving it');
      return 'skipped';
    }
    if (cancelRequested) inserted += await countUnrecordedChunk(deps, record, token);
    while (!cancelRequested) {
      if (signal.aborted) {
        log.info({ userId, requestId, nextItem: cursor }, 'shutting down: handing the rest of this request back to the queue');
        return 'stopped';
      }
      const raw = await redis.lrange(keys.bulkItems(userId, requestId), cursor, cursor + settings.chunkSize - 1);
      if (raw.length === 0) break;
      // The turn is over: the progress so far is recorded, and the next turn resumes at the cursor
      // (as after a SIGTERM). Checked after the read, so that a request whose last chunk is done
      // finishes in this turn instead of waiting for another to find nothing left.
      if (turn.chunksLeft <= 0) return 'yielded';
      turn.chunksLeft--;
      const { items, corrupt } = parseItems(raw, cursor);
      const chunk = await inSpan('bulk.insert_chunk', { attributes: { 'books.items': items.length, 'books.from': cursor } }, () =>
        insertChunk(sql, userId, requestId, items),
      );
      if (chunk.refused.length)
        log.warn({ userId, requestId, refused: chunk.refused.slice(0, 20) }, 'postgres refused rows; they fail alone');
      const failures = [...corrupt, ...chunk.failures];
      const recorded = await scripts.recordProgress(userId, requestId, token, {
        from: cursor,
        to: cursor + raw.length,
        inserted: chunk.inserted,
        failures,
      });
      if (!recorded) {
        // Someone recorded this chunk already (we were paused past our lease and got it back): resync.
        const fresh = await readBulkRequest(redis, keys, userId, requestId, log);
        if (!fresh) throw new Error(`request ${requestId} disappeared while processing`);
        ({ nextItem: cursor, inserted, failed } = fresh);
        cancelRequested = fresh.cancelRequestedAt !== null;
        continue;
      }
      deps.metrics.booksInserted.inc(chunk.inserted);
      deps.metrics.booksFailed.inc(failures.length);
      cursor += raw.length;
      inserted += chunk.inserted;
      failed += failures.length;
      cancelRequested = recorded === 'cancel_requested';
    }
    const durationMs = performance.now() - started;
    const ended = await scripts.finalize(userId, requestId, token, deps.now(), durationMs);
    if (!ended) {
      log.warn({ userId, requestId }, 'request was finished elsewhere meanwhile');
      return 'skipped';
    }
    deps.metrics.requestsFinished.inc({ outcome: ended === 'cancelled' ? 'cancelled' : 'completed' });
    if (ended === 'cancelled') {
      log.info(
        { userId, requestId, submitted: record.submitted, inserted, failed, nextItem: cursor },
        'bulk request cancelled by its owner',
      );
      return { inserted, failed };
    }
    log.info(
      { userId, requestId, submitted: record.submitted, inserted, failed, durationMs: Math.round(durationMs) },
      'bulk request processed',
    );
    return { inserted, failed };
  } catch (err) {
    if (err instanceof LeaseLostError) throw err;
    const now = deps.now();
    const verdict = requestErrorVerdict(err);
    const attempt = await scripts.recordFailure(userId, requestId, token, {
      attempt: record.attempts + 1,
      maxAttempts: settings.maxAttempts,
      fatal: verdict.fatal,
      error: verdict.reason,
      code: verdict.code,
      now,
      nextAttemptAt: new Date(now.getTime() + retryDelayMs(record.attempts + 1, settings.retryBaseMs)),
    });
    if (attempt.cancelled || attempt.failed) deps.metrics.requestsFinished.inc({ outcome: attempt.cancelled ? 'cancelled' : 'failed' });
    else deps.metrics.retries.inc();
    if (attempt.cancelled) log.warn({ err, userId, requestId }, 'bulk request attempt failed while a cancel was pending: cancelled');
    else if (attempt.failed)
      log.error(
        { err, userId, requestId, attempts: attempt.attempts, code: verdict.code },
        verdict.fatal ? 'bulk request failed for good: retrying cannot help' : 'bulk request failed for good: attempts exhausted',
      );
    else
      log.warn(
        { err, userId, requestId, attempts: attempt.attempts },
        'bulk request attempt failed; it stays queued and is retried with backoff',
      );
    return 'stopped';
  }
}

/** Items are re-checked: another process wrote them. A corrupt entry fails alone, with a reason. */
function parseItems(raw: string[], offset: number): { items: QueuedItem[]; corrupt: FailedItem[] } {
  const items: QueuedItem[] = [];
  const corrupt: FailedItem[] = [];
  raw.forEach((entry, n) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(entry);
    } catch {
      parsed = undefined;
    }
    if (itemValidator.Check(parsed)) items.push(parsed);
    else {
      const index = typeof (parsed as { i?: unknown })?.i === 'number' ? (parsed as { i: number }).i : offset + n;
      corrupt.push({ index, title: null, author: null, reason: 'the queued entry was unreadable' });
    }
  });
  return { items, corrupt };
}
