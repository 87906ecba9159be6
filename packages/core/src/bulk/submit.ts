// Submitting a bulk request (the API): stores it whole or not at all, and settles a submit whose answer was lost.
import { createHash, randomUUID } from 'node:crypto';
import type { RedisClient } from '../redis/client.js';
import { type RedisKeys, requestMember } from '../redis/keys.js';
import type { BookInput } from '../schemas/books.js';
import type { FailedItem } from '../schemas/bulk.js';
import type { BulkRecordFields } from './records.js';

export const IDEMPOTENCY_TTL_SECONDS = 24 * 3600;
/** How long a voided request id stays voided: far longer than any re-send of a lost command. */
export const VOID_TTL_SECONDS = 24 * 3600;
/**
 * How many of the history's oldest ids each submit checks for an expired record. More than one, so
 * that ids expire from the history faster than submits add them, and the history stays as long as
 * the records it lists (plus those queued behind an older request still on record).
 */
export const HISTORY_PRUNE_PER_SUBMIT = 5;

/** A valid item: its index among the submitted items, the book, and for a file its row (FailedItem's `row`). */
export interface ValidItem {
  index: number;
  book: BookInput;
  row?: number | undefined;
}

export interface BulkSubmission {
  userId: string;
  /** Every submitted item, for the counts. */
  submitted: number;
  valid: ValidItem[];
  invalid: FailedItem[];
  idempotencyKey?: string | undefined;
  now: Date;
  /** Chosen by the caller so that a submit whose answer was lost can be settled (see settleBulkSubmission). */
  requestId?: string;
  /** The submit's trace context (telemetry's currentTraceparent), kept so that the workers' spans join its trace. */
  traceparent?: string | undefined;
}

export interface SubmitResult {
  requestId: string;
  /** False when the Idempotency-Key had been used: the original request id, nothing queued. */
  created: boolean;
}

export class SubmissionVoidedError extends Error {
  readonly code = 'SUBMISSION_VOIDED';
  constructor(requestId: string) {
    super(`bulk request ${requestId} was voided after its first answer was lost; nothing was queued`);
  }
}

export async function submitBulkRequest(redis: RedisClient, keys: RedisKeys, submission: BulkSubmission): Promise<SubmitResult> {
  const { userId, now } = submission;
  const requestId = submission.requestId ?? randomUUID();
  const record = newRequestRecord({ ...submission, requestId, queued: submission.valid.length, failed: submission.invalid.length });
  const [created, id] = await redis.bulkSubmit(
    ...queueKeys(keys, userId, requestId, submission.idempotencyKey),
    ...queueArgs(userId, requestId, now, submission.idempotencyKey, record),
    submission.invalid.length,
    ...submission.invalid.map((item) => JSON.stringify(item)),
    ...submission.valid.map(queuedItemEntry),
  );
  return submitOutcome(redis, keys, userId, created, id);
}

/** A valid item as the items list holds it (QueuedItemSchema): its index, the book, and its row in a file. */
export const queuedItemEntry = ({ index, book, row }: ValidItem) =>
  JSON.stringify(row === undefined ? { i: index, b: book } : { i: index, b: book, r: row });

/** The new request's record, as both kinds of submit store it. */
export function newRequestRecord(
  submission: Pick<BulkSubmission, 'userId' | 'now' | 'traceparent' | 'submitted'> & { requestId: string; queued: number; failed: number },
): BulkRecordFields {
  return {
    requestId: submission.requestId,
    userId: submission.userId,
    stage: 'queued',
    submitted: String(submission.submitted),
    queued: String(submission.queued),
    inserted: '0',
    failed: String(submission.failed),
    attempts: '0',
    queuedAt: submission.now.toISOString(),
    nextItem: '0',
    ...(submission.traceparent ? { traceparent: submission.traceparent } : {}),
  };
}

/** KEYS 1-8 of SUBMIT and COMMIT_STAGED (submit-scripts.ts). */
export function queueKeys(keys: RedisKeys, userId: string, requestId: string, idempotencyKey: string | undefined): string[] {
  const keyHash = idempotencyKey ? createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 32) : '-';
  return [
    keys.bulkQueue(userId),
    keys.bulkItems(userId, requestId),
    keys.bulkRequest(userId, requestId),
    keys.bulkFailures(userId, requestId),
    keys.bulkHistory(userId),
    keys.bulkIdempotency(userId, keyHash),
    keys.bulkPending(userId),
    keys.bulkVoid(userId, requestId),
  ];
}

/** ARGV 1-5 of SUBMIT and COMMIT_STAGED. */
export function queueArgs(userId: string, requestId: string, now: Date, idempotencyKey: string | undefined, record: BulkRecordFields) {
  return [
    requestId,
    requestMember(userId, requestId),
    now.getTime(),
    idempotencyKey ? IDEMPOTENCY_TTL_SECONDS : '',
    JSON.stringify(record),
  ];
}

/** What both kinds of submit answer once the script has run. */
export async function submitOutcome(
  redis: RedisClient,
  keys: RedisKeys,
  userId: string,
  created: number,
  id: string,
): Promise<SubmitResult> {
  if (created === -1) throw new SubmissionVoidedError(id);
  if (created === 1) await pruneHistory(redis, keys, userId);
  return { requestId: id, created: created === 1 };
}

/** Best effort: a prune that fails is retried by the next submit, and readers skip expired ids. */
async function pruneHistory(redis: RedisClient, keys: RedisKeys, userId: string): Promise<void> {
  try {
    const ids = await redis.zrange(keys.bulkHistory(userId), 0, HISTORY_PRUNE_PER_SUBMIT - 1);
    if (ids.length === 0) return;
    await redis.bulkPruneHistory(1 + ids.length, keys.bulkHistory(userId), ...ids.map((id) => keys.bulkRequest(userId, id)), ...ids);
  } catch {
    // Housekeeping only: the request itself is stored, and that is what the caller must hear.
  }
}

/**
 * After a submit whose outcome is unknown (a timeout, a dropped connection): true if the request
 * was stored; false if it was not, and then it never will be, even if the lost command is still
 * queued somewhere or re-sent later. Commands of one client run in order, so this runs after it.
 */
export async function settleBulkSubmission(redis: RedisClient, keys: RedisKeys, userId: string, requestId: string): Promise<boolean> {
  return (await redis.bulkSettle(keys.bulkRequest(userId, requestId), keys.bulkVoid(userId, requestId), VOID_TTL_SECONDS)) === 1;
}
