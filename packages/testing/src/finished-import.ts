// "A user with a finished import", built through core's public transitions (submit, then the bulk
// worker's markProcessing/recordProgress/finalize under its lease) with the books written straight
// to Postgres: report and API tests get that state without running the bulk worker's code.
import { randomBytes } from 'node:crypto';
import { createBulkWorkerScripts, submitBulkRequest } from '@books/core/bulk';
import { books, type Database, users } from '@books/core/db';
import { acquireLease, type RedisKeys } from '@books/core/redis';
import { type BookInput, type FailedItem, parseBookInput } from '@books/core/schemas';
import type { Redis } from 'ioredis';

export interface ImportStores {
  db: Database;
  redis: Redis;
  keys: RedisKeys;
}

export interface StoredUser {
  id: string;
  username: string;
  email: string;
}

/** A user row as sign-up would leave it (the password hash is never checked by these tests). */
export async function insertUser(db: Database, username = `reader_${randomBytes(3).toString('hex')}`): Promise<StoredUser> {
  const [row] = await db
    .insert(users)
    .values({ username, email: `${username}@example.com`, passwordHash: 'not-a-real-hash' })
    .returning({ id: users.id, username: users.username, email: users.email });
  if (!row) throw new Error('insert user returned nothing');
  return row;
}

/** Items as the API would queue them: the same per-item validation, the invalid ones failed at once. */
export function splitItems(items: unknown[], now = new Date()): { valid: { index: number; book: BookInput }[]; invalid: FailedItem[] } {
  const valid: { index: number; book: BookInput }[] = [];
  const invalid: FailedItem[] = [];
  items.forEach((item, index) => {
    const parsed = parseBookInput(item, now);
    if (parsed.ok) valid.push({ index, book: parsed.value });
    else {
      const raw = (typeof item === 'object' && item !== null ? item : {}) as Record<string, unknown>;
      const text = (value: unknown) => (typeof value === 'string' ? value : null);
      invalid.push({ index, title: text(raw.title), author: text(raw.author), reason: parsed.reason });
    }
  });
  return { valid, invalid };
}

/** Queues a request as POST /books/bulk does, without the API. */
export async function queueImport(stores: ImportStores, userId: string, items: unknown[], now = new Date()): Promise<string> {
  const { valid, invalid } = splitItems(items, now);
  const { requestId } = await submitBulkRequest(stores.redis, stores.keys, { userId, submitted: items.length, valid, invalid, now });
  return requestId;
}

export interface FinishImportOptions {
  now?: Date;
  leaseMs?: number;
  cacheTtlMs?: number;
  recordTtlSeconds?: number;
}

/**
 * Queues a request and finishes it as one bulk worker pass would: its valid books inserted, the
 * request at processed_awaiting_report and the user waiting for a report. Returns the request id.
 */
export async function finishImport(
  stores: ImportStores,
  userId: string,
  items: unknown[],
  options: FinishImportOptions = {},
): Promise<string> {
  const requestId = await queueImport(stores, userId, items, options.now);
  await finishQueuedImport(stores, userId, requestId, options);
  return requestId;
}

/**
 * Finishes a request already queued (by POST /books/bulk or queueImport) as a bulk worker pass
 * would, under the bulk lease: its queued books inserted, then processed_awaiting_report.
 */
export async function finishQueuedImport(
  stores: ImportStores,
  userId: string,
  requestId: string,
  options: FinishImportOptions = {},
): Promise<void> {
  const now = options.now ?? new Date();
  const leaseMs = options.leaseMs ?? 60_000;
  const { redis, keys, db } = stores;
  const scripts = createBulkWorkerScripts(redis, keys, {
    leaseMs,
    cacheTtlMs: options.cacheTtlMs ?? 60_000,
    recordTtlSeconds: options.recordTtlSeconds ?? 7 * 86_400,
  });
  const queued = (await redis.lrange(keys.bulkItems(userId, requestId), 0, -1)).map(
    (raw) => JSON.parse(raw) as { i: number; b: BookInput },
  );
  const lease = await acquireLease(redis, keys.bulkLease(userId), leaseMs);
  if (!lease) throw new Error(`someone holds user ${userId}'s bulk lease`);
  try {
    if (!(await scripts.markProcessing(userId, requestId, lease.token, now))) throw new Error('request is past processing');
    if (queued.length) {
      await db.insert(books).values(queued.map(({ i, b }) => ({ ...b, userId, bulkRequestId: requestId, bulkItemIndex: i })));
    }
    await scripts.recordProgress(userId, requestId, lease.token, { from: 0, to: queued.length, inserted: queued.length, failures: [] });
    if (!(await scripts.finalize(userId, requestId, lease.token, now, 1))) throw new Error('request was finished elsewhere');
  } finally {
    await lease.release();
  }
}
