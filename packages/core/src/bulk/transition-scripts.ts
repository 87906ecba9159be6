// The Lua of every bulk request transition after its submit (submit-scripts.ts): start, chunk
// progress, finish, attempt failed (retry or give up), cancel, report sent, report completed, report failed. Each is one script, so an
// observer never sees one half done, and each is idempotent: ioredis re-sends commands that were in
// flight when a connection dropped, and a command timeout does not mean the script did not run, so
// applying a transition twice must have the effect of applying it once. Every script that changes a
// stage goes through the stage machine; worker scripts first check the caller's lease token, so a
// worker that lost its lease changes nothing (except "sent", see MARK_SENT).
import type { Result } from 'ioredis';
import { INVALIDATE_BOOKS_CACHE_LUA } from '../cache/books-cache.js';
import { REQUEST_MEMBER_LUA } from '../redis/keys.js';
import { HOLDS_LEASE_LUA } from '../redis/lease.js';
import { defineScript } from '../redis/scripts.js';
import { STAGE_MACHINE_LUA } from './stage-machine.js';

// -1 tells the caller it lost its lease (LeaseLostError).
const LEASE_CHECK = `${HOLDS_LEASE_LUA}
if not holds_lease(KEYS[1], ARGV[1]) then return -1 end`;

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

// Adds a request to the failed index, first dropping the entries older than a record's lifetime:
// the index grows only here, so its housekeeping is done here too, and readers (GET /admin/stats)
// only count (ZCOUNT over the same window, so an entry past its time is not counted either way).
const ADD_FAILED_LUA = `
local function add_failed(failed, member, now_ms, record_ttl_s)
  redis.call('ZREMRANGEBYSCORE', failed, '-inf', tonumber(now_ms) - tonumber(record_ttl_s) * 1000)
  redis.call('ZADD', failed, now_ms, member)
end`;

// Announces that a request reached a final stage (completed, failed, cancelled): call it only when
// move_stage answered 'moved', so that a replayed script announces nothing twice.
const ANNOUNCE_LUA = `
local function announce(events, record, stage, at_iso)
  local r = redis.call('HMGET', record, 'userId', 'requestId', 'submitted', 'inserted', 'failed')
  redis.call('RPUSH', events, cjson.encode({ type = 'bulk_request.' .. stage, userId = r[1], requestId = r[2], at = at_iso,
    submitted = tonumber(r[3]) or 0, inserted = tonumber(r[4]) or 0, failed = tonumber(r[5]) or 0 }))
end`;

// Takes the reported requests out of the status (only those still listed, so a replay takes
// nothing twice) with their counts; drops the status and its index entry when nothing is left.
// ARGV from \`first\`: the ids; KEYS from 6: their record keys. Returns the positions released.
// (\`0 - x\`, not \`-x\`: Lua's -0 reaches Redis as "-0", which HINCRBY refuses.)
const RELEASE_REPORTED_LUA = `
local function release_reported(status, pending, user_id, first)
  local listed = redis.call('HGET', status, 'requestIds') or ''
  local released, asked = {}, {}
  for i = first, #ARGV do
    if listed_in(listed, ARGV[i]) then
      released[i - first + 1] = true
      asked[ARGV[i]] = true
      local r = redis.call('HMGET', KEYS[6 + i - first], 'submitted', 'inserted', 'failed')
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

// KEYS: lease, record. ARGV: token, now ISO, lease ms. 0: the request is past processing.
const START = `${LEASE_CHECK}
${STAGE_MACHINE_LUA}
if move_stage(KEYS[2], 'processing') == 'refused' then return 0 end
redis.call('HSETNX', KEYS[2], 'processingStartedAt', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1`;

// KEYS: lease, record, failures. ARGV: token, expected cursor, next cursor, inserted, lease ms, failures…
// The cursor check makes a chunk count once, whether replayed or committed by two workers.
const RECORD_PROGRESS = `${LEASE_CHECK}
if redis.call('HGET', KEYS[2], 'nextItem') ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[2], 'nextItem', ARGV[3])
redis.call('HINCRBY', KEYS[2], 'inserted', ARGV[4])
if #ARGV > 5 then
  redis.call('HINCRBY', KEYS[2], 'failed', #ARGV - 5)
  redis.call('RPUSH', KEYS[3], unpack(ARGV, 6, #ARGV))
end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
if redis.call('HEXISTS', KEYS[2], 'cancelRequestedAt') == 1 then return 2 end
return 1`;

// A request whose cancel was asked for while it was processing: which stage it ends in. FINISH and
// RECORD_ATTEMPT_FAILURE both honour it, so a request whose last chunk went in just after the
// API's 202 still ends cancelled, as the 202 said it would.
const CANCEL_PENDING_LUA = `
local function cancel_pending(record)
  return redis.call('HEXISTS', record, 'cancelRequestedAt') == 1
end`;

// KEYS: lease, record, queue, items, status, books cache, pending (the user's shard), report pending (the user's shard),
//       webhook events (the user's shard)
// ARGV: token, requestId, member, userId, processed ISO, processed ms, duration ms, cache ttl ms, lease ms
// Answers 1 (processed), 2 (cancelled: a cancel was pending; the items left are dropped) or 0.
const FINISH = `${LEASE_CHECK}
${STAGE_MACHINE_LUA}
${AWAIT_REPORT_LUA}
${INVALIDATE_BOOKS_CACHE_LUA}
${ANNOUNCE_LUA}
${CANCEL_PENDING_LUA}
local cancelling = cancel_pending(KEYS[2])
local moved = move_stage(KEYS[2], cancelling and 'cancelled' or 'processed_awaiting_report')
if moved == 'refused' then return 0 end
if moved == 'moved' then
  if cancelling then
    redis.call('HSET', KEYS[2], 'cancelledAt', ARGV[5], 'durationMs', ARGV[7])
  else
    redis.call('HSET', KEYS[2], 'processedAt', ARGV[5], 'durationMs', ARGV[7])
  end
  redis.call('HDEL', KEYS[2], 'nextAttemptAt')
  invalidate_books_cache(KEYS[6], ARGV[8])
  if cancelling then announce(KEYS[9], KEYS[2], 'cancelled', ARGV[5]) end
end
redis.call('LREM', KEYS[3], 0, ARGV[2])
redis.call('DEL', KEYS[4])
redis.call('ZREM', KEYS[7], ARGV[3])
await_report(KEYS[5], KEYS[8], KEYS[2], ARGV[2], ARGV[4], ARGV[5], ARGV[6])
redis.call('PEXPIRE', KEYS[1], ARGV[9])
return cancelling and 2 or 1`;

// KEYS: record, queue, items, pending (the user's shard), status, report pending (the user's shard), books cache,
//       webhook events (the user's shard)
// ARGV: userId, requestId, member, now ISO, now ms, cache ttl ms
// DELETE /books/bulk/:id. Answers {outcome, stage}: 'not_found' (unknown, or another user's),
// 'cancelled' (now, or already: a replay answers the same), 'cancel_requested' (processing: the
// worker stops at its next chunk boundary) or 'finished' (too late, with the stage). A queued request
// is cancelled at once: a worker that read it before cannot start it any more (START refuses a
// cancelled request), and a request queued again after a failed attempt keeps what went in.
const CANCEL = `${STAGE_MACHINE_LUA}
${AWAIT_REPORT_LUA}
${INVALIDATE_BOOKS_CACHE_LUA}
${ANNOUNCE_LUA}
local owner = redis.call('HGET', KEYS[1], 'userId')
if owner ~= ARGV[1] then return {'not_found', ''} end
local stage = redis.call('HGET', KEYS[1], 'stage')
if stage == 'cancelled' then return {'cancelled', stage} end
if stage == 'processing' then
  redis.call('HSETNX', KEYS[1], 'cancelRequestedAt', ARGV[4])
  return {'cancel_requested', stage}
end
if stage ~= 'queued' or move_stage(KEYS[1], 'cancelled') ~= 'moved' then return {'finished', stage or ''} end
redis.call('HSETNX', KEYS[1], 'cancelRequestedAt', ARGV[4])
redis.call('HSET', KEYS[1], 'cancelledAt', ARGV[4])
redis.call('HDEL', KEYS[1], 'nextAttemptAt')
redis.call('LREM', KEYS[2], 0, ARGV[2])
redis.call('DEL', KEYS[3])
redis.call('ZREM', KEYS[4], ARGV[3])
if (tonumber(redis.call('HGET', KEYS[1], 'inserted')) or 0) > 0 then invalidate_books_cache(KEYS[7], ARGV[6]) end
await_report(KEYS[5], KEYS[6], KEYS[1], ARGV[2], ARGV[1], ARGV[4], ARGV[5])
announce(KEYS[8], KEYS[1], 'cancelled', ARGV[4])
return {'cancelled', 'cancelled'}`;

// KEYS: lease, record, queue, items, pending (the user's shard), failed (the user's shard), books cache, status, report pending (the user's shard),
//       webhook events (the user's shard)
// ARGV: token, requestId, member, userId, attempt, max attempts, fatal (1/0), error, error code,
//       now ISO, now ms, next attempt ISO, cache ttl ms, record ttl s
// The attempt number makes a replay count once. Books already inserted stay (they are committed);
// a request that fails for good is reported like a processed one, and the cache is invalidated so
// its books show; its items not inserted stay (with the record's TTL) for a re-drive (redrive.ts).
const RECORD_ATTEMPT_FAILURE = `${LEASE_CHECK}
${STAGE_MACHINE_LUA}
${AWAIT_REPORT_LUA}
${ADD_FAILED_LUA}
${ANNOUNCE_LUA}
${INVALIDATE_BOOKS_CACHE_LUA}
${CANCEL_PENDING_LUA}
local ended = {failed = 1, cancelled = 2}
local attempt = tonumber(ARGV[5])
local attempts = tonumber(redis.call('HGET', KEYS[2], 'attempts') or '0')
if attempts >= attempt then
  return {attempts, ended[redis.call('HGET', KEYS[2], 'stage')] or 0}
end
redis.call('HSET', KEYS[2], 'attempts', attempt, 'lastError', ARGV[8], 'lastErrorCode', ARGV[9])
-- A cancel asked for during this attempt wins over a retry and over giving up: the user asked to stop.
local cancelling = cancel_pending(KEYS[2])
if not cancelling and ARGV[7] ~= '1' and attempt < tonumber(ARGV[6]) then
  move_stage(KEYS[2], 'queued')
  redis.call('HSET', KEYS[2], 'nextAttemptAt', ARGV[12])
  return {attempt, 0}
end
local final = cancelling and 'cancelled' or 'failed'
if move_stage(KEYS[2], final) == 'refused' then return {attempt, 0} end
redis.call('HSET', KEYS[2], cancelling and 'cancelledAt' or 'failedAt', ARGV[10])
redis.call('HDEL', KEYS[2], 'nextAttemptAt')
redis.call('LREM', KEYS[3], 0, ARGV[2])
-- A failed request keeps the items it did not get to, for an administrator's re-drive, as long as
-- its record stays (the report scripts renew both TTLs together); a cancelled one needs them no more.
if cancelling then redis.call('DEL', KEYS[4]) else redis.call('EXPIRE', KEYS[4], ARGV[14]) end
redis.call('ZREM', KEYS[5], ARGV[3])
if not cancelling then add_failed(KEYS[6], ARGV[3], ARGV[11], ARGV[14]) end
invalidate_books_cache(KEYS[7], ARGV[13])
await_report(KEYS[8], KEYS[9], KEYS[2], ARGV[2], ARGV[4], ARGV[10], ARGV[11])
announce(KEYS[10], KEYS[2], final, ARGV[10])
return {attempt, ended[final]}`;

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

// KEYS: lease, status, report pending (the user's shard), bulk failed (the user's shard), webhook events (the user's shard), records…, failures…, items…
// ARGV: token, userId, completed ISO, messageId, record ttl s, ids…
// The items key exists only for a failed request (kept for a re-drive): it expires with its record.
const COMPLETE = `${LEASE_CHECK}
${STAGE_MACHINE_LUA}
${RELEASE_REPORTED_LUA}
${ANNOUNCE_LUA}
local n = #ARGV - 5
local released = release_reported(KEYS[2], KEYS[3], ARGV[2], 6)
for i = 1, n do
  if released[i] then
    local record = KEYS[5 + i]
    if move_stage(record, 'completed') == 'moved' then
      redis.call('HSET', record, 'completedAt', ARGV[3])
      announce(KEYS[5], record, 'completed', ARGV[3])
    end
    redis.call('HSET', record, 'reportMessageId', ARGV[4], 'reportedAt', ARGV[3])
    redis.call('EXPIRE', record, ARGV[5])
    redis.call('EXPIRE', KEYS[5 + n + i], ARGV[5])
    redis.call('EXPIRE', KEYS[5 + 2 * n + i], ARGV[5])
  end
end
return 1`;

// KEYS: as COMPLETE (records…, failures…, items…). ARGV: token, userId, now ISO, error, record ttl s, permanent (1/0),
// max attempts, next attempt ISO, now ms, attempt ('' = the next one), ids…
const RECORD_REPORT_FAILURE = `${LEASE_CHECK}
${STAGE_MACHINE_LUA}
${REQUEST_MEMBER_LUA}
${RELEASE_REPORTED_LUA}
${ADD_FAILED_LUA}
${ANNOUNCE_LUA}
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
    local record = KEYS[5 + i]
    if move_stage(record, 'failed') == 'moved' then
      redis.call('HSET', record, 'failedAt', ARGV[3], 'lastError', 'report not delivered: ' .. ARGV[4], 'lastErrorCode', 'REPORT_NOT_DELIVERED')
      add_failed(KEYS[4], request_member(ARGV[2], ARGV[10 + i]), ARGV[9], ARGV[5])
      announce(KEYS[5], record, 'failed', ARGV[3])
    else
      redis.call('HSET', record, 'reportError', ARGV[4])
    end
    redis.call('EXPIRE', record, ARGV[5])
    redis.call('EXPIRE', KEYS[5 + n + i], ARGV[5])
    redis.call('EXPIRE', KEYS[5 + 2 * n + i], ARGV[5])
  end
end
return {attempt, 1}`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    bulkStart(lease: string, record: string, token: string, nowIso: string, leaseMs: number): Result<number, Context>;
    bulkRecordProgress(...args: (string | number)[]): Result<number, Context>;
    bulkFinish(...args: (string | number)[]): Result<number, Context>;
    bulkCancel(...args: (string | number)[]): Result<[string, string], Context>;
    bulkRecordAttemptFailure(...args: (string | number)[]): Result<[number, number] | number, Context>;
    reportMarkSent(status: string, reportId: string, messageId: string, ids: string, sentAt: string): Result<number, Context>;
    reportComplete(...args: (string | number)[]): Result<number, Context>;
    reportRecordFailure(...args: (string | number)[]): Result<[number, number] | number, Context>;
  }
}

export const requestTransitionScripts = [
  defineScript('bulkStart', 2, START),
  defineScript('bulkRecordProgress', 3, RECORD_PROGRESS),
  defineScript('bulkFinish', 9, FINISH),
  defineScript('bulkCancel', 8, CANCEL),
  defineScript('bulkRecordAttemptFailure', 10, RECORD_ATTEMPT_FAILURE),
  defineScript('reportMarkSent', 1, MARK_SENT),
  defineScript('reportComplete', undefined, COMPLETE),
  defineScript('reportRecordFailure', undefined, RECORD_REPORT_FAILURE),
];
