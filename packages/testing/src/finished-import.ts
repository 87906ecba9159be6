// "A user with a finished (or failed, or half-done) import", built through core's public
// transitions (submit, then the bulk worker's markProcessing/recordProgress/finalize/recordFailure
// under its lease) with the books written straight to Postgres: report and API tests get the state a
// bulk worker leaves without running the bulk worker's code.
import { randomBytes } from 'node:crypto';
import {
  type BulkWorkerScripts,
  createBulkWorkerScripts,
  readBulkRequest,
  readFailedItems,
  retryDelayMs,
  type StoredBulkRequest,
  submitBulkRequest,
} from '@books/core/bulk';
import { books, type Database, users } from '@books/core/db';
import { acquireLease, type RedisClient, type RedisKeys } from '@books/core/redis';
import { type BookInput, type FailedItem, parseBookInput, type QueuedItem } from '@books/core/schemas';

export interface ImportStores {
  db: Database;
  redis: RedisClient;
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

/**
 * A request as core reads it back, with its failed items: what GET /books/bulk/:id is made of, for
 * tests that check a worker's outcome without the API. Throws when it is not on record.
 */
export async function readImport(
  stores: Pick<ImportStores, 'redis' | 'keys'>,
  userId: string,
  requestId: string,
): Promise<StoredBulkRequest & { failedItems: FailedItem[] }> {
  const record = await readBulkRequest(stores.redis, stores.keys, userId, requestId);
  if (!record) throw new Error(`request ${requestId} of user ${userId} is not on record`);
  return { ...record, failedItems: await readFailedItems(stores.redis, stores.keys, userId, requestId) };
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
  await underBulkLease(stores, userId, options, async (scripts, token) => {
    await startAttempt(scripts, userId, requestId, token, now);
    await insertQueued(stores, scripts, userId, requestId, token, Number.POSITIVE_INFINITY);
    if (!(await scripts.finalize(userId, requestId, token, now, 1))) throw new Error('request was finished elsewhere');
  });
}

/**
 * Leaves a queued request as a bulk worker stopped (SIGTERM) after committing its first `count`
 * queued books leaves it: stage processing, those books inserted and counted, the lease released,
 * the rest still queued for the next pass.
 */
export async function processQueuedImportPartly(
  stores: ImportStores,
  userId: string,
  requestId: string,
  count: number,
  options: FinishImportOptions = {},
): Promise<void> {
  const now = options.now ?? new Date();
  await underBulkLease(stores, userId, options, async (scripts, token) => {
    await startAttempt(scripts, userId, requestId, token, now);
    await insertQueued(stores, scripts, userId, requestId, token, count);
  });
}

/** How the attempts of a failed import went. */
export interface ImportFailure {
  /** The readable reason and code the bulk worker records (see its postgres-errors.ts). */
  error: string;
  code: string;
  /** Queued books committed by the first attempt before it failed; 0 when none. */
  inserted?: number;
  /** Attempts made, the last one exhausting BULK_MAX_ATTEMPTS; 1 when not given. */
  attempts?: number;
}

/** Queues a request and fails it as the bulk worker does once its attempts run out. */
export async function failImport(
  stores: ImportStores,
  userId: string,
  items: unknown[],
  failure: ImportFailure,
  options: FinishImportOptions = {},
): Promise<string> {
  const requestId = await queueImport(stores, userId, items, options.now);
  await failQueuedImport(stores, userId, requestId, failure, options);
  return requestId;
}

/**
 * Fails a queued request as the bulk worker does: each attempt starts the request and records its
 * failure under the lease (the first after committing `inserted` books), the last one exhausting
 * the attempts, so the request ends `failed`, out of the queue (its items kept for a re-drive), and the user waiting
 * for a report that tells them.
 */
export async function failQueuedImport(
  stores: ImportStores,
  userId: string,
  requestId: string,
  failure: ImportFailure,
  options: FinishImportOptions = {},
): Promise<void> {
  const now = options.now ?? new Date();
  const attempts = failure.attempts ?? 1;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    await underBulkLease(stores, userId, options, async (scripts, token) => {
      await startAttempt(scripts, userId, requestId, token, now);
      if (attempt === 1 && failure.inserted) await insertQueued(stores, scripts, userId, requestId, token, failure.inserted);
      const result = await scripts.recordFailure(userId, requestId, token, {
        attempt,
        maxAttempts: attempts,
        fatal: false,
        error: failure.error,
        code: failure.code,
        now,
        // BULK_RETRY_BASE_SECONDS' default; the next attempt here does not wait for it.
        nextAttemptAt: new Date(now.getTime() + retryDelayMs(attempt, 30_000)),
      });
      if (result.attempts !== attempt || result.failed !== (attempt === attempts)) throw new Error(`attempt ${attempt} was not recorded`);
    });
  }
}

async function underBulkLease(
  stores: ImportStores,
  userId: string,
  options: FinishImportOptions,
  run: (scripts: BulkWorkerScripts, token: string) => Promise<void>,
): Promise<void> {
  const leaseMs = options.leaseMs ?? 60_000;
  const scripts = createBulkWorkerScripts(stores.redis, stores.keys, {
    leaseMs,
    cacheTtlMs: options.cacheTtlMs ?? 60_000,
    recordTtlSeconds: options.recordTtlSeconds ?? 7 * 86_400,
  });
  const lease = await acquireLease(stores.redis, stores.keys.bulkLease(userId), leaseMs);
  if (!lease) throw new Error(`someone holds user ${userId}'s bulk lease`);
  try {
    await run(scripts, lease.token);
  } finally {
    await lease.release();
  }
}

async function startAttempt(scripts: BulkWorkerScripts, userId: string, requestId: string, token: string, now: Date): Promise<void> {
  if (!(await scripts.markProcessing(userId, requestId, token, now))) throw new Error('request is past processing');
}

/** Inserts the next `count` queued books of the request (from its cursor) and records them as one chunk. */
async function insertQueued(
  stores: ImportStores,
  scripts: BulkWorkerScripts,
  userId: string,
  requestId: string,
  token: string,
  count: number,
): Promise<void> {
  if (count <= 0) return;
  const { redis, keys, db } = stores;
  const from = Number((await redis.hget(keys.bulkRequest(userId, requestId), 'nextItem')) ?? 0);
  const last = Number.isFinite(count) ? from + count - 1 : -1;
  const queued = (await redis.lrange(keys.bulkItems(userId, requestId), from, last)).map((raw) => JSON.parse(raw) as QueuedItem);
  if (queued.length) {
    await db.insert(books).values(queued.map(({ i, b }) => ({ ...b, userId, bulkRequestId: requestId, bulkItemIndex: i })));
  }
  const chunk = { from, to: from + queued.length, inserted: queued.length, failures: [] };
  if (!(await scripts.recordProgress(userId, requestId, token, chunk))) throw new Error('chunk was recorded elsewhere');
}
