// Every state transition of a bulk request, in one place: submit, start, chunk progress, finish,
// attempt failed (retry or give up), report sent, report completed, report failed. Each is one Lua
// script, so an observer never sees one half done, and each is idempotent: ioredis re-sends
// commands that were in flight when a connection dropped, and a command timeout does not mean the
// script did not run, so applying a transition twice must have the effect of applying it once.
// The stage machine is written once (NEXT_STAGES) and every script that changes a stage goes
// through it; worker scripts first check the caller's lease token, so a worker that lost its lease
// changes nothing (except "sent", see markSent).
import { createHash, randomUUID } from 'node:crypto';
import type { Redis, Result } from 'ioredis';
import { INVALIDATE_BOOKS_CACHE_LUA } from '../cache/books-cache.js';
import { type RedisKeys, requestMember } from '../redis/keys.js';
import type { BookInput } from '../schemas/books.js';
import type { BulkStage, FailedItem } from '../schemas/bulk.js';
import type { BulkRecordFields } from './records.js';

/** Which stage may follow which. A transition to the stage a request is already in is a no-op. */
export const NEXT_STAGES: Readonly<Record<BulkStage, readonly BulkStage[]>> = {
  queued: ['processing', 'failed'],
  processing: ['queued', 'processed_awaiting_report', 'failed'],
  processed_awaiting_report: ['completed', 'failed'],
  // A failed request is still reported (its record then notes the report), but its stage stays.
  failed: [],
  completed: [],
};

export function canMoveStage(from: BulkStage, to: BulkStage): boolean {
  return from === to || NEXT_STAGES[from].includes(to);
}

const STAGE_MACHINE_LUA = `
local NEXT = {${Object.entries(NEXT_STAGES)
  .map(([from, tos]) => `${from} = {${tos.map((to) => `${to} = true`).join(', ')}}`)
  .join(', ')}}
-- 'moved', 'same' (already there: a replay) or 'refused'
local function move_stage(record, to)
  local from = redis.call('HGET', record, 'stage')
  if from == to then return 'same' end
  if from and NEXT[from] and NEXT[from][to] then
    redis.call('HSET', record, 'stage', to)
    return 'moved'
  end
  return 'refused'
end
local function listed_in(list, id)
  for item in string.gmatch(list or '', '[^,]+') do
    if item == id then return true end
  end
  return false
end`;

const HOLDS_LEASE = `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end`;

// Lists a request in the user's report status, at most once however often it runs.
const AWAIT_REPORT_LUA = `
local function await_report(status, report_pending, record, request_id, user_id, at_iso, at_ms)
  local ids = redis.call('HGET', status, 'requestIds') or ''
  if listed_in(ids, request_id) then return 0 end
  local r = redis.call('HMGET', record, 'submitted', 'inserted', 'failed')
  redis.call('HSET', status, 'stage', 'processed_awaiting_report', 'userId', user_id, 'lastProcessedAt', at_iso,
    'requestIds', ids == '' and request_id or (ids .. ',' .. request_id))
  redis.call('HSETNX', status, 'firstProcessedAt', at_iso)
  redis.call('HINCRBY', status, 'totalBooks', tonumber(r[1]) or 0)
  redis.call('HINCRBY', status, 'successCount', tonumber(r[2]) or 0)
  redis.call('HINCRBY', status, 'failCount', tonumber(r[3]) or 0)
  redis.call('ZADD', report_pending, 'NX', at_ms, user_id)
  return 1
end`;

// Takes the reported requests out of the status (only those still listed, so a replay takes
// nothing twice) with their counts; drops the status and its index entry when nothing is left.
// ARGV from \`first\`: the ids; KEYS from 5: their record keys. Returns the positions released.
// (\`0 - x\`, not \`-x\`: Lua's -0 reaches Redis as "-0", which HINCRBY refuses.)
const RELEASE_REPORTED_LUA = `
local function release_reported(status, pending, user_id, first)
  local listed = redis.call('HGET', status, 'requestIds') or ''
  local released, asked = {}, {}
  for i = first, #ARGV do
    if listed_in(listed, ARGV[i]) then
      released[i - first + 1] = true
      asked[ARGV[i]] = true
      local r = redis.call('HMGET', KEYS[5 + i - first], 'submitted', 'inserted', 'failed')
      redis.call('HINCRBY', status, 'totalBooks', 0 - (tonumber(r[1]) or 0))
      redis.call('HINCRBY', status, 'successCount', 0 - (tonumber(r[2]) or 0))
      redis.call('HINCRBY', status, 'failCount', 0 - (tonumber(r[3]) or 0))
    end
  end
  local left = {}
  for id in string.gmatch(listed, '[^,]+') do
    if not asked[id] then left[#left + 1] = id end
  end
  if #left == 0 then
    redis.call('DEL', status)
    redis.call('ZREM', pending, user_id)
  else
    redis.call('HSET', status, 'requestIds', table.concat(left, ','))
    redis.call('HDEL', status, 'sentReportId', 'sentMessageId', 'sentRequestIds', 'sentAt', 'reportAttempts', 'lastError', 'nextAttemptAt')
  end
  return released
end`;

// KEYS: queue, items, record, failures, history, idempotency, pending (global), void
// ARGV: requestId, member, queuedAtMs, idempotencyTtl ('' = no key), record JSON (string values),
//       failure count F, F failures, then the items. Pushes go 1000 at a time: Lua's unpack is bounded.
// A replay finds the record and stores nothing again; a request voided by settle() is never stored.
const SUBMIT = `
if redis.call('EXISTS', KEYS[8]) == 1 then return {-1, ARGV[1]} end
if ARGV[4] ~= '' then
  local existing = redis.call('GET', KEYS[6])
  if existing then return {existing == ARGV[1] and 1 or 0, existing} end
end
if redis.call('EXISTS', KEYS[3]) == 1 then return {1, ARGV[1]} end
local record = cjson.decode(ARGV[5])
local fields = {}
for k, v in pairs(record) do
  fields[#fields + 1] = k
  fields[#fields + 1] = v
end
redis.call('HSET', KEYS[3], unpack(fields))
local function push_all(key, first, last)
  local s = first
  while s <= last do
    local e = math.min(s + 999, last)
    redis.call('RPUSH', key, unpack(ARGV, s, e))
    s = e + 1
  end
end
local f = tonumber(ARGV[6])
push_all(KEYS[4], 7, 6 + f)
push_all(KEYS[2], 7 + f, #ARGV)
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[5], ARGV[3], ARGV[1])
redis.call('ZADD', KEYS[7], ARGV[3], ARGV[2])
if ARGV[4] ~= '' then redis.call('SET', KEYS[6], ARGV[1], 'EX', ARGV[4]) end
return {1, ARGV[1]}`;

// KEYS: record, void. ARGV: void ttl s. After a submit whose answer was lost: 1 if it was stored,
// else 0, and it never will be (a submit still in flight, or re-sent later, finds the void mark).
const SETTLE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 1 end
redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[1])
return 0`;

// KEYS: lease, record. ARGV: token, now ISO, lease ms. 0: the request is past processing.
const START = `${HOLDS_LEASE}
${STAGE_MACHINE_LUA}
if move_stage(KEYS[2], 'processing') == 'refused' then return 0 end
redis.call('HSETNX', KEYS[2], 'processingStartedAt', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1`;

// KEYS: lease, record, failures. ARGV: token, expected cursor, next cursor, inserted, lease ms, failures…
// The cursor check makes a chunk count once, whether replayed or committed by two workers.
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
const FINISH = `${HOLDS_LEASE}
${STAGE_MACHINE_LUA}
${AWAIT_REPORT_LUA}
${INVALIDATE_BOOKS_CACHE_LUA}
local moved = move_stage(KEYS[2], 'processed_awaiting_report')
if moved == 'refused' then return 0 end
if moved == 'moved' then
  redis.call('HSET', KEYS[2], 'processedAt', ARGV[5], 'durationMs', ARGV[7])
  redis.call('HDEL', KEYS[2], 'nextAttemptAt')
  invalidate_books_cache(KEYS[6], ARGV[8])
end
redis.call('LREM', KEYS[3], 0, ARGV[2])
redis.call('DEL', KEYS[4])
redis.call('ZREM', KEYS[7], ARGV[3])
await_report(KEYS[5], KEYS[8], KEYS[2], ARGV[2], ARGV[4], ARGV[5], ARGV[6])
redis.call('PEXPIRE', KEYS[1], ARGV[9])
return 1`;

// KEYS: lease, record, queue, items, pending (global), failed (global), books cache, status, report pending (global)
// ARGV: token, requestId, member, userId, attempt, max attempts, fatal (1/0), error, error code,
//       now ISO, now ms, next attempt ISO, cache ttl ms
// The attempt number makes a replay count once. Books already inserted stay (they are committed);
// a request that fails for good is reported like a processed one, and the cache is invalidated so
// its books show.
const RECORD_ATTEMPT_FAILURE = `${HOLDS_LEASE}
${STAGE_MACHINE_LUA}
${AWAIT_REPORT_LUA}
${INVALIDATE_BOOKS_CACHE_LUA}
local attempt = tonumber(ARGV[5])
local attempts = tonumber(redis.call('HGET', KEYS[2], 'attempts') or '0')
if attempts >= attempt then
  return {attempts, redis.call('HGET', KEYS[2], 'stage') == 'failed' and 1 or 0}
end
redis.call('HSET', KEYS[2], 'attempts', attempt, 'lastError', ARGV[8], 'lastErrorCode', ARGV[9])
if ARGV[7] ~= '1' and attempt < tonumber(ARGV[6]) then
  move_stage(KEYS[2], 'queued')
  redis.call('HSET', KEYS[2], 'nextAttemptAt', ARGV[12])
  return {attempt, 0}
end
if move_stage(KEYS[2], 'failed') == 'refused' then return {attempt, 0} end
redis.call('HSET', KEYS[2], 'failedAt', ARGV[10])
redis.call('HDEL', KEYS[2], 'nextAttemptAt')
redis.call('LREM', KEYS[3], 0, ARGV[2])
redis.call('DEL', KEYS[4])
redis.call('ZREM', KEYS[5], ARGV[3])
redis.call('ZADD', KEYS[6], ARGV[11], ARGV[3])
invalidate_books_cache(KEYS[7], ARGV[13])
await_report(KEYS[8], KEYS[9], KEYS[2], ARGV[2], ARGV[4], ARGV[10], ARGV[11])
return {attempt, 1}`;

// KEYS: status. ARGV: reportId, messageId, requestIds (comma list), sent ISO.
// No lease check: once the SMTP server has accepted a message, recording it matters more than who
// holds the lease, or the report would go out again. A second sender's ids join the first's.
const MARK_SENT = `${STAGE_MACHINE_LUA}
local listed = redis.call('HGET', KEYS[1], 'requestIds')
if not listed then return 0 end
local sent = redis.call('HGET', KEYS[1], 'sentRequestIds')
if not sent then
  redis.call('HSET', KEYS[1], 'sentReportId', ARGV[1], 'sentMessageId', ARGV[2], 'sentRequestIds', '', 'sentAt', ARGV[4])
  sent = ''
end
for id in string.gmatch(ARGV[3], '[^,]+') do
  if listed_in(listed, id) and not listed_in(sent, id) then sent = sent == '' and id or (sent .. ',' .. id) end
end
redis.call('HSET', KEYS[1], 'sentRequestIds', sent)
return 1`;

// KEYS: lease, status, report pending (global), bulk failed (global), records…, failures…
// ARGV: token, userId, completed ISO, messageId, record ttl s, ids…
const COMPLETE = `${HOLDS_LEASE}
${STAGE_MACHINE_LUA}
${RELEASE_REPORTED_LUA}
local n = #ARGV - 5
local released = release_reported(KEYS[2], KEYS[3], ARGV[2], 6)
for i = 1, n do
  if released[i] then
    local record = KEYS[4 + i]
    if move_stage(record, 'completed') == 'moved' then redis.call('HSET', record, 'completedAt', ARGV[3]) end
    redis.call('HSET', record, 'reportMessageId', ARGV[4], 'reportedAt', ARGV[3])
    redis.call('EXPIRE', record, ARGV[5])
    redis.call('EXPIRE', KEYS[4 + n + i], ARGV[5])
  end
end
return 1`;

// KEYS: as COMPLETE. ARGV: token, userId, now ISO, error, record ttl s, permanent (1/0),
// max attempts, next attempt ISO, now ms, attempt ('' = the next one), ids…
const RECORD_REPORT_FAILURE = `${HOLDS_LEASE}
${STAGE_MACHINE_LUA}
${RELEASE_REPORTED_LUA}
local listed = redis.call('HGET', KEYS[2], 'requestIds')
local any = false
for i = 11, #ARGV do
  if listed_in(listed, ARGV[i]) then any = true end
end
if not any then return {0, 1} end
local attempts = tonumber(redis.call('HGET', KEYS[2], 'reportAttempts') or '0')
local attempt = ARGV[10] == '' and attempts + 1 or tonumber(ARGV[10])
if attempts >= attempt then return {attempts, 0} end
redis.call('HSET', KEYS[2], 'reportAttempts', attempt, 'lastError', ARGV[4])
if ARGV[6] ~= '1' and attempt < tonumber(ARGV[7]) then
  redis.call('HSET', KEYS[2], 'nextAttemptAt', ARGV[8])
  return {attempt, 0}
end
local n = #ARGV - 10
local released = release_reported(KEYS[2], KEYS[3], ARGV[2], 11)
for i = 1, n do
  if released[i] then
    local record = KEYS[4 + i]
    if move_stage(record, 'failed') == 'moved' then
      redis.call('HSET', record, 'failedAt', ARGV[3], 'lastError', 'report not delivered: ' .. ARGV[4], 'lastErrorCode', 'REPORT_NOT_DELIVERED')
      redis.call('ZADD', KEYS[4], ARGV[9], ARGV[2] .. ':' .. ARGV[10 + i])
    else
      redis.call('HSET', record, 'reportError', ARGV[4])
    end
    redis.call('EXPIRE', record, ARGV[5])
    redis.call('EXPIRE', KEYS[4 + n + i], ARGV[5])
  end
end
return {attempt, 1}`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    bulkSubmit(...args: (string | number)[]): Result<[number, string], Context>;
    bulkSettle(record: string, voided: string, ttlSeconds: number): Result<number, Context>;
    bulkStart(lease: string, record: string, token: string, nowIso: string, leaseMs: number): Result<number, Context>;
    bulkRecordProgress(...args: (string | number)[]): Result<number, Context>;
    bulkFinish(...args: (string | number)[]): Result<number, Context>;
    bulkRecordAttemptFailure(...args: (string | number)[]): Result<[number, number] | number, Context>;
    reportMarkSent(status: string, reportId: string, messageId: string, ids: string, sentAt: string): Result<number, Context>;
    reportComplete(...args: (string | number)[]): Result<number, Context>;
    reportRecordFailure(...args: (string | number)[]): Result<[number, number] | number, Context>;
  }
}

/**
 * Registers every transition script on a client. Call it when the client is created, before its
 * first command: an auto-pipelining client must know every script up front (redis/ioredis#1931).
 */
export function defineRequestTransitionCommands(redis: Redis): void {
  if (typeof (redis as Partial<Redis>).bulkSubmit === 'function') return;
  redis.defineCommand('bulkSubmit', { numberOfKeys: 8, lua: SUBMIT });
  redis.defineCommand('bulkSettle', { numberOfKeys: 2, lua: SETTLE });
  redis.defineCommand('bulkStart', { numberOfKeys: 2, lua: START });
  redis.defineCommand('bulkRecordProgress', { numberOfKeys: 3, lua: RECORD_PROGRESS });
  redis.defineCommand('bulkFinish', { numberOfKeys: 8, lua: FINISH });
  redis.defineCommand('bulkRecordAttemptFailure', { numberOfKeys: 9, lua: RECORD_ATTEMPT_FAILURE });
  redis.defineCommand('reportMarkSent', { numberOfKeys: 1, lua: MARK_SENT });
  redis.defineCommand('reportComplete', { lua: COMPLETE });
  redis.defineCommand('reportRecordFailure', { lua: RECORD_REPORT_FAILURE });
}

// ---------------------------------------------------------------------------------------------
// Submit (the API)

export const IDEMPOTENCY_TTL_SECONDS = 24 * 3600;
/** How long a voided request id stays voided: far longer than any re-send of a lost command. */
export const VOID_TTL_SECONDS = 24 * 3600;

export interface BulkSubmission {
  userId: string;
  /** Every submitted item, for the counts. */
  submitted: number;
  valid: { index: number; book: BookInput }[];
  invalid: FailedItem[];
  idempotencyKey?: string | undefined;
  now: Date;
  /** Chosen by the caller so that a submit whose answer was lost can be settled (see settleBulkSubmission). */
  requestId?: string;
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

export async function submitBulkRequest(redis: Redis, keys: RedisKeys, submission: BulkSubmission): Promise<SubmitResult> {
  defineRequestTransitionCommands(redis);
  const { userId, now } = submission;
  const requestId = submission.requestId ?? randomUUID();
  const record: BulkRecordFields = {
    requestId,
    userId,
    stage: 'queued',
    submitted: String(submission.submitted),
    queued: String(submission.valid.length),
    inserted: '0',
    failed: String(submission.invalid.length),
    attempts: '0',
    queuedAt: now.toISOString(),
    nextItem: '0',
  };
  const keyHash = submission.idempotencyKey ? createHash('sha256').update(submission.idempotencyKey).digest('hex').slice(0, 32) : '-';
  const [created, id] = await redis.bulkSubmit(
    keys.bulkQueue(userId),
    keys.bulkItems(userId, requestId),
    keys.bulkRequest(userId, requestId),
    keys.bulkFailures(userId, requestId),
    keys.bulkHistory(userId),
    keys.bulkIdempotency(userId, keyHash),
    keys.bulkPending(),
    keys.bulkVoid(userId, requestId),
    requestId,
    requestMember(userId, requestId),
    now.getTime(),
    submission.idempotencyKey ? IDEMPOTENCY_TTL_SECONDS : '',
    JSON.stringify(record),
    submission.invalid.length,
    ...submission.invalid.map((item) => JSON.stringify(item)),
    ...submission.valid.map(({ index, book }) => JSON.stringify({ i: index, b: book })),
  );
  if (created === -1) throw new SubmissionVoidedError(id);
  return { requestId: id, created: created === 1 };
}

/**
 * After a submit whose outcome is unknown (a timeout, a dropped connection): true if the request
 * was stored; false if it was not, and then it never will be, even if the lost command is still
 * queued somewhere or re-sent later. Commands of one client run in order, so this runs after it.
 */
export async function settleBulkSubmission(redis: Redis, keys: RedisKeys, userId: string, requestId: string): Promise<boolean> {
  defineRequestTransitionCommands(redis);
  return (await redis.bulkSettle(keys.bulkRequest(userId, requestId), keys.bulkVoid(userId, requestId), VOID_TTL_SECONDS)) === 1;
}

// ---------------------------------------------------------------------------------------------
// The bulk worker

export class LeaseLostError extends Error {
  readonly code = 'LEASE_LOST';
  constructor(userId: string) {
    super(`lost the lease on user ${userId}'s queue; another worker has it`);
  }
}

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
  /** Returns false if this chunk was already recorded (the cursor moved on). */
  recordProgress(
    userId: string,
    requestId: string,
    token: string,
    chunk: { from: number; to: number; inserted: number; failures: FailedItem[] },
  ): Promise<boolean>;
  /** False when the request had already moved past processing (finished or failed elsewhere). */
  finalize(userId: string, requestId: string, token: string, processedAt: Date, durationMs: number): Promise<boolean>;
  recordFailure(userId: string, requestId: string, token: string, failure: AttemptFailure): Promise<{ attempts: number; failed: boolean }>;
}

export function createBulkWorkerScripts(
  redis: Redis,
  keys: RedisKeys,
  options: { leaseMs: number; cacheTtlMs: number; recordTtlSeconds: number },
): BulkWorkerScripts {
  defineRequestTransitionCommands(redis);
  const lost = (result: unknown, userId: string) => {
    if (result === -1) throw new LeaseLostError(userId);
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
      return result === 1;
    },
    async finalize(userId, requestId, token, processedAt, durationMs) {
      const result = await redis.bulkFinish(
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
      return result === 1;
    },
    async recordFailure(userId, requestId, token, failure) {
      const result = await redis.bulkRecordAttemptFailure(
        keys.bulkLease(userId),
        keys.bulkRequest(userId, requestId),
        keys.bulkQueue(userId),
        keys.bulkItems(userId, requestId),
        keys.bulkPending(),
        keys.bulkFailed(),
        keys.booksCache(userId),
        keys.bulkStatus(userId),
        keys.reportPending(),
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
      );
      lost(result, userId);
      const [attempts, failed] = result as [number, number];
      return { attempts, failed: failed === 1 };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The report worker. The status hash (bulk_status:user:{id}) lists the finished requests awaiting
// a report; a report covers the ones listed when it was built, and only those are removed, so
// requests finished meanwhile wait for the next report.

export class ReportLeaseLostError extends Error {
  readonly code = 'LEASE_LOST';
  constructor(userId: string) {
    super(`lost the lease on user ${userId}'s report; another worker has it`);
  }
}

export interface ReportFailure {
  requestIds: string[];
  /** A readable reason, shown to the user. */
  error: string;
  permanent: boolean;
  now: Date;
  nextAttemptAt: Date;
  maxAttempts: number;
  /** This attempt's number (the status's reportAttempts + 1), so that a replay counts once. */
  attempt?: number;
}

export interface ReportScripts {
  /** Records that the SMTP server accepted the message. Needs no lease (see MARK_SENT). */
  markSent(userId: string, token: string, sent: { reportId: string; messageId: string; requestIds: string[]; sentAt: Date }): Promise<void>;
  complete(userId: string, token: string, done: { requestIds: string[]; completedAt: Date; messageId: string }): Promise<void>;
  recordFailure(userId: string, token: string, failure: ReportFailure): Promise<{ attempts: number; failed: boolean }>;
}

export function createReportScripts(redis: Redis, keys: RedisKeys, options: { recordTtlSeconds: number }): ReportScripts {
  defineRequestTransitionCommands(redis);
  const requestKeys = (userId: string, ids: string[]) => [
    ...ids.map((id) => keys.bulkRequest(userId, id)),
    ...ids.map((id) => keys.bulkFailures(userId, id)),
  ];
  const fixedKeys = (userId: string) => [keys.reportLease(userId), keys.bulkStatus(userId), keys.reportPending(), keys.bulkFailed()];
  return {
    async markSent(userId, _token, sent) {
      await redis.reportMarkSent(
        keys.bulkStatus(userId),
        sent.reportId,
        sent.messageId,
        sent.requestIds.join(','),
        sent.sentAt.toISOString(),
      );
    },
    async complete(userId, token, done) {
      const allKeys = [...fixedKeys(userId), ...requestKeys(userId, done.requestIds)];
      const result = await redis.reportComplete(
        allKeys.length,
        ...allKeys,
        token,
        userId,
        done.completedAt.toISOString(),
        done.messageId,
        options.recordTtlSeconds,
        ...done.requestIds,
      );
      if (result === -1) throw new ReportLeaseLostError(userId);
    },
    async recordFailure(userId, token, failure) {
      const allKeys = [...fixedKeys(userId), ...requestKeys(userId, failure.requestIds)];
      const result = await redis.reportRecordFailure(
        allKeys.length,
        ...allKeys,
        token,
        userId,
        failure.now.toISOString(),
        failure.error.slice(0, 1000),
        options.recordTtlSeconds,
        failure.permanent ? 1 : 0,
        failure.maxAttempts,
        failure.nextAttemptAt.toISOString(),
        failure.now.getTime(),
        failure.attempt ?? '',
        ...failure.requestIds,
      );
      if (result === -1) throw new ReportLeaseLostError(userId);
      const [attempts, failed] = result as [number, number];
      return { attempts, failed: failed === 1 };
    },
  };
}

/** The status hash as the report worker reads it. */
export interface ReportStatus {
  userId: string;
  requestIds: string[];
  reportAttempts: number;
  nextAttemptAt: string | null;
  /** Set once an email went out; the cleanup after it is still owed. */
  sent: { reportId: string; messageId: string; requestIds: string[] } | null;
  /** The id an earlier attempt gave this report (kept for readers of older statuses). */
  reportId: string | null;
}

export async function readReportStatus(redis: Redis, keys: RedisKeys, userId: string): Promise<ReportStatus | null> {
  const hash = await redis.hgetall(keys.bulkStatus(userId));
  if (hash.stage !== 'processed_awaiting_report' || !hash.requestIds) return null;
  const ids = (value: string | undefined) => (value ?? '').split(',').filter(Boolean);
  return {
    userId,
    requestIds: ids(hash.requestIds),
    reportAttempts: Number(hash.reportAttempts ?? 0) || 0,
    nextAttemptAt: hash.nextAttemptAt || null,
    sent:
      hash.sentMessageId && hash.sentReportId && hash.sentRequestIds
        ? { reportId: hash.sentReportId, messageId: hash.sentMessageId, requestIds: ids(hash.sentRequestIds) }
        : null,
    reportId: hash.reportId || null,
  };
}

/** Gives the pending report a stable id (kept across attempts); returns the one in force. */
export async function ensureReportId(redis: Redis, keys: RedisKeys, userId: string, candidate: string): Promise<string> {
  await redis.hsetnx(keys.bulkStatus(userId), 'reportId', candidate);
  return (await redis.hget(keys.bulkStatus(userId), 'reportId')) ?? candidate;
}
