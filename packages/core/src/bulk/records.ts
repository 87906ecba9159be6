// Reading bulk request records back from Redis. Another process wrote them, so each is checked
// and converted here, in one place, before anyone uses it.
import type { Redis } from 'ioredis';
import Compile from 'typebox/compile';
import type { RedisKeys } from '../redis/keys.js';
import { BULK_STAGES, type BulkRequest, type BulkStage, type FailedItem, FailedItemSchema } from '../schemas/bulk.js';

/** The hash fields of `bulk_request:user:{id}:<requestId>`; every value is a string in Redis. */
export interface BulkRecordFields {
  requestId: string;
  userId: string;
  stage: BulkStage;
  submitted: string;
  queued: string;
  inserted: string;
  failed: string;
  attempts: string;
  queuedAt: string;
  /** Index into the items list of the next item to insert (the worker's cursor). */
  nextItem: string;
  lastError?: string;
  lastErrorCode?: string;
  processingStartedAt?: string;
  processedAt?: string;
  durationMs?: string;
  nextAttemptAt?: string;
  failedAt?: string;
  completedAt?: string;
  reportMessageId?: string;
  reportedAt?: string;
  /** Why the report of a request that had already failed could not be delivered. */
  reportError?: string;
}

export interface StoredBulkRequest extends BulkRequest {
  userId: string;
  nextItem: number;
}

const int = (value: string | undefined) => {
  const n = Number(value);
  return Number.isInteger(n) && n >= 0 ? n : null;
};
const opt = (value: string | undefined) => (value === undefined || value === '' ? null : value);

/** Converts a record hash; null when it is missing or not one of ours. */
export function parseBulkRecord(hash: Record<string, string>): StoredBulkRequest | null {
  const stage = hash.stage as BulkStage;
  if (!hash.requestId || !hash.userId || !BULK_STAGES.includes(stage) || !hash.queuedAt) return null;
  const counts = [hash.submitted, hash.queued, hash.inserted, hash.failed, hash.attempts, hash.nextItem].map(int);
  if (counts.some((n) => n === null)) return null;
  const [submitted, queued, inserted, failed, attempts, nextItem] = counts as number[];
  return {
    requestId: hash.requestId,
    userId: hash.userId,
    stage,
    submitted: submitted!,
    queued: queued!,
    inserted: inserted!,
    failed: failed!,
    attempts: attempts!,
    nextItem: nextItem!,
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
  };
}

/** The API's view of a record (without the worker's cursor and owner). */
export function publicBulkRequest(record: StoredBulkRequest): BulkRequest {
  const { userId: _userId, nextItem: _nextItem, ...rest } = record;
  return rest;
}

export async function readBulkRequest(redis: Redis, keys: RedisKeys, userId: string, requestId: string): Promise<StoredBulkRequest | null> {
  const record = parseBulkRecord(await redis.hgetall(keys.bulkRequest(userId, requestId)));
  return record && record.userId === userId ? record : null;
}

/** All of a user's requests still on record, newest first; ids whose record expired are pruned. */
export async function listBulkRequests(redis: Redis, keys: RedisKeys, userId: string): Promise<StoredBulkRequest[]> {
  const ids = await redis.zrevrange(keys.bulkHistory(userId), 0, -1);
  if (ids.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const id of ids) pipeline.hgetall(keys.bulkRequest(userId, id));
  const results = (await pipeline.exec()) ?? [];
  const records: StoredBulkRequest[] = [];
  const expired: string[] = [];
  results.forEach(([err, hash], i) => {
    if (err) throw err;
    const record = parseBulkRecord(hash as Record<string, string>);
    if (record && record.userId === userId) records.push(record);
    else if (Object.keys(hash as object).length === 0) expired.push(ids[i] as string);
  });
  if (expired.length) await redis.zrem(keys.bulkHistory(userId), ...expired);
  return records;
}

const failedItemValidator = Compile(FailedItemSchema);

export async function readFailedItems(redis: Redis, keys: RedisKeys, userId: string, requestId: string): Promise<FailedItem[]> {
  const raw = await redis.lrange(keys.bulkFailures(userId, requestId), 0, -1);
  const items: FailedItem[] = [];
  for (const entry of raw) {
    try {
      const item: unknown = JSON.parse(entry);
      if (failedItemValidator.Check(item)) items.push(item);
    } catch {
      // A corrupt entry is skipped rather than hiding every other failure from the user.
    }
  }
  return items.sort((a, b) => a.index - b.index);
}
