// Reading bulk request records back from Redis. Another process wrote them, so each is checked
// and converted here, in one place, before anyone uses it.
import Type from 'typebox';
import Compile from 'typebox/compile';
import type { RedisClient } from '../redis/client.js';
import type { RedisKeys } from '../redis/keys.js';
import { pipelinePerSlot } from '../redis/per-slot.js';
import {
  type BulkRecordHash,
  BulkRecordHashSchema,
  type BulkRequest,
  type BulkStage,
  type FailedItem,
  FailedItemSchema,
  type PreviousFailure,
  PreviousFailureSchema,
} from '../schemas/bulk.js';

/** The hash fields of `bulk_request:{shard}:user:<id>:<requestId>`; every value is a string in Redis. */
export type BulkRecordFields = BulkRecordHash;

/** What a reader may tell about a hash it skipped (pino's and Fastify's loggers fit). */
export interface RecordLogger {
  warn(obj: object, msg: string): void;
}

export interface StoredBulkRequest extends BulkRequest {
  userId: string;
  nextItem: number;
  traceparent: string | null;
}

const int = (value: string | undefined) => {
  const n = Number(value);
  return Number.isInteger(n) && n >= 0 ? n : null;
};
const opt = (value: string | undefined) => (value === undefined || value === '' ? null : value);

const recordValidator = Compile(BulkRecordHashSchema);
const previousFailuresValidator = Compile(Type.Array(PreviousFailureSchema));

/** The re-drive history (JSON written by REDRIVE); a corrupt one reads as none rather than hiding the record. */
function parsePreviousFailures(json: string | undefined): PreviousFailure[] {
  if (!json) return [];
  try {
    const value: unknown = JSON.parse(json);
    return previousFailuresValidator.Check(value) ? value : [];
  } catch {
    return [];
  }
}

/** Converts a record hash; null when it is missing or not one of ours. */
export function parseBulkRecord(hash: Record<string, string>): StoredBulkRequest | null {
  if (!recordValidator.Check(hash)) return null;
  return {
    requestId: hash.requestId,
    userId: hash.userId,
    stage: hash.stage,
    submitted: Number(hash.submitted),
    queued: Number(hash.queued),
    inserted: Number(hash.inserted),
    failed: Number(hash.failed),
    attempts: Number(hash.attempts),
    nextItem: Number(hash.nextItem),
    lastError: opt(hash.lastError),
    lastErrorCode: opt(hash.lastErrorCode),
    queuedAt: hash.queuedAt,
    processingStartedAt: opt(hash.processingStartedAt),
    processedAt: opt(hash.processedAt),
    durationMs: int(hash.durationMs),
    nextAttemptAt: opt(hash.nextAttemptAt),
    failedAt: opt(hash.failedAt),
    completedAt: opt(hash.completedAt),
    reportMessageId: opt(hash.reportMessageId),
    reportedAt: opt(hash.reportedAt),
    reportError: opt(hash.reportError),
    cancelRequestedAt: opt(hash.cancelRequestedAt),
    cancelledAt: opt(hash.cancelledAt),
    retriedAt: opt(hash.retriedAt),
    previousFailures: parsePreviousFailures(hash.previousFailures),
    traceparent: opt(hash.traceparent),
  };
}

/** Parses a hash read back; one that exists but fails its schema is logged and treated as absent. */
function checkedRecord(hash: Record<string, string>, key: string, log?: RecordLogger): StoredBulkRequest | null {
  const record = parseBulkRecord(hash);
  if (!record && log && Object.keys(hash).length > 0) log.warn({ key }, 'bulk request record fails its schema; skipped');
  return record;
}

/** The API's view of a record (without the worker's cursor, the owner and the trace context). */
export function publicBulkRequest(record: StoredBulkRequest): BulkRequest {
  const { userId: _userId, nextItem: _nextItem, traceparent: _traceparent, ...rest } = record;
  return rest;
}

export async function readBulkRequest(
  redis: RedisClient,
  keys: RedisKeys,
  userId: string,
  requestId: string,
  log?: RecordLogger,
): Promise<StoredBulkRequest | null> {
  const key = keys.bulkRequest(userId, requestId);
  const record = checkedRecord(await redis.hgetall(key), key, log);
  return record && record.userId === userId ? record : null;
}

/**
 * All of a user's requests still on record, newest first. Ids whose record expired are skipped, not
 * removed: a read never writes (the next submit prunes them, see SUBMIT).
 */
export async function listBulkRequests(
  redis: RedisClient,
  keys: RedisKeys,
  userId: string,
  log?: RecordLogger,
): Promise<StoredBulkRequest[]> {
  const ids = await redis.zrevrange(keys.bulkHistory(userId), 0, -1);
  return readRecords(redis, keys, userId, ids, log);
}

/**
 * One page of a user's requests, newest first. Without a stage only the page's records are read
 * (the history is a sorted set: ZCARD and ZREVRANGE); `total` then counts the ids in the history,
 * which may still list a few whose record expired (skipped, see listBulkRequests). With a stage,
 * every record on record is read and filtered.
 */
export async function listBulkRequestPage(
  redis: RedisClient,
  keys: RedisKeys,
  userId: string,
  page: { limit: number; offset: number; stage?: BulkStage | undefined },
  log?: RecordLogger,
): Promise<{ records: StoredBulkRequest[]; total: number }> {
  if (page.stage !== undefined) {
    const matching = (await listBulkRequests(redis, keys, userId, log)).filter((r) => r.stage === page.stage);
    return { records: matching.slice(page.offset, page.offset + page.limit), total: matching.length };
  }
  const history = keys.bulkHistory(userId);
  const [total, ids] = await Promise.all([redis.zcard(history), redis.zrevrange(history, page.offset, page.offset + page.limit - 1)]);
  return { records: await readRecords(redis, keys, userId, ids, log), total };
}

function readRecords(redis: RedisClient, keys: RedisKeys, userId: string, ids: string[], log?: RecordLogger): Promise<StoredBulkRequest[]> {
  return readBulkRequestsOf(
    redis,
    keys,
    ids.map((requestId) => ({ userId, requestId })),
    log,
  );
}

/** Records of any users' requests (pipelined), in the order asked; those not on record, or not the user's, are skipped. */
export async function readBulkRequestsOf(
  redis: RedisClient,
  keys: RedisKeys,
  refs: { userId: string; requestId: string }[],
  log?: RecordLogger,
): Promise<StoredBulkRequest[]> {
  if (refs.length === 0) return [];
  const hashes = await pipelinePerSlot(
    redis,
    refs.map(({ userId, requestId }) => keys.bulkRequest(userId, requestId)),
    (pipeline, key) => pipeline.hgetall(key),
  );
  const records: StoredBulkRequest[] = [];
  hashes.forEach((hash, i) => {
    const { userId, requestId } = refs[i] as { userId: string; requestId: string };
    const record = checkedRecord(hash as Record<string, string>, keys.bulkRequest(userId, requestId), log);
    if (record && record.userId === userId) records.push(record);
  });
  return records;
}

const failedItemValidator = Compile(FailedItemSchema);

/** Parses stored failure entries; a corrupt one is skipped rather than hiding every other failure. */
function parseFailedItems(raw: string[]): FailedItem[] {
  const items: FailedItem[] = [];
  for (const entry of raw) {
    try {
      const item: unknown = JSON.parse(entry);
      if (failedItemValidator.Check(item)) items.push(item);
    } catch {
      // skipped, see above
    }
  }
  return items;
}

/** A request's failed items ordered by index: every one, or the first `limit` stored. */
export async function readFailedItems(
  redis: RedisClient,
  keys: RedisKeys,
  userId: string,
  requestId: string,
  limit?: number,
): Promise<FailedItem[]> {
  const raw = await redis.lrange(keys.bulkFailures(userId, requestId), 0, limit === undefined ? -1 : limit - 1);
  return parseFailedItems(raw).sort((a, b) => a.index - b.index);
}

export async function countFailedItems(redis: RedisClient, keys: RedisKeys, userId: string, requestId: string): Promise<number> {
  return redis.llen(keys.bulkFailures(userId, requestId));
}

/**
 * One page of failed items in stored order (LRANGE): those refused on submit first, by index, then
 * those the worker recorded, chunk by chunk. A page read while a worker adds to the list stays
 * consistent: entries are only ever appended.
 */
export async function readFailedItemsPage(
  redis: RedisClient,
  keys: RedisKeys,
  userId: string,
  requestId: string,
  page: { limit: number; offset: number },
): Promise<{ items: FailedItem[]; total: number }> {
  const key = keys.bulkFailures(userId, requestId);
  const [total, raw] = await Promise.all([redis.llen(key), redis.lrange(key, page.offset, page.offset + page.limit - 1)]);
  return { items: parseFailedItems(raw), total };
}

/** The trace contexts of the requests awaiting this user's report (for the report's span), oldest first. */
export async function readTraceparents(redis: RedisClient, keys: RedisKeys, userId: string): Promise<string[]> {
  const listed = await redis.hget(keys.bulkStatus(userId), 'requestIds');
  const ids = (listed ?? '').split(',').filter(Boolean);
  if (ids.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const id of ids) pipeline.hget(keys.bulkRequest(userId, id), 'traceparent');
  const results = (await pipeline.exec()) ?? [];
  return results.flatMap(([err, value]) => (!err && typeof value === 'string' && value ? [value] : []));
}
