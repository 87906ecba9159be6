// An administrator's re-drive of a failed bulk request (POST /admin/bulk/:id/retry): once the cause
// is fixed (say, Postgres was down), the items it did not get to are queued again, and the request
// then takes the normal path (finish, report, webhook). One script, so a re-drive racing another,
// or a worker, or replayed by ioredis, is applied once.
import type { Result } from 'ioredis';
import type { RedisClient } from '../redis/client.js';
import { type RedisKeys, requestMember } from '../redis/keys.js';
import { defineScript } from '../redis/scripts.js';
import type { BulkStage } from '../schemas/bulk.js';
import { STAGE_MACHINE_LUA } from './stage-machine.js';

export type RedriveOutcome =
  /** Unknown, or not this user's. */
  | { outcome: 'not_found' }
  /** Queued again (or this very re-drive was applied already: a replay answers the same). */
  | { outcome: 'redriven' }
  /** Only a failed request can be re-driven. */
  | { outcome: 'not_failed'; stage: BulkStage }
  /** Failed with items left, but those expired (BULK_RECORD_TTL_DAYS): there is nothing to queue. */
  | { outcome: 'items_expired' };

// Takes a request out of the user's report status (its failure was not reported yet, or its report
// is out): it is reported once it is drained again. Without it, a report sent meanwhile would note
// the queued request as reported and set its record's TTL. A report being rendered that covered it
// still goes out (it said what was true when it was built); its clean-up then leaves this one alone.
const WITHDRAW_FROM_REPORT_LUA = `
local function withdraw_from_report(status, pending, record, user_id, request_id)
  local listed = redis.call('HGET', status, 'requestIds')
  if not listed_in(listed, request_id) then return 0 end
  local r = redis.call('HMGET', record, 'submitted', 'inserted', 'failed')
  redis.call('HINCRBY', status, 'totalBooks', 0 - (tonumber(r[1]) or 0))
  redis.call('HINCRBY', status, 'successCount', 0 - (tonumber(r[2]) or 0))
  redis.call('HINCRBY', status, 'failCount', 0 - (tonumber(r[3]) or 0))
  local left = {}
  for id in string.gmatch(listed, '[^,]+') do
    if id ~= request_id then left[#left + 1] = id end
  end
  if #left == 0 then
    redis.call('DEL', status)
    redis.call('ZREM', pending, user_id)
  else
    redis.call('HSET', status, 'requestIds', table.concat(left, ','))
  end
  return 1
end`;

// KEYS: record, queue, items, failures, pending (the user's shard), failed (the user's shard), status, report pending (the user's shard)
// ARGV: userId, requestId, member, now ISO, now ms
// Answers {outcome, stage}. The failure moves into the record's previousFailures; attempts restart
// at 0; the cursor (nextItem) stays, so only the items not yet processed are inserted. The record,
// items and failures lose the TTL a failed request has (a queued one has none), and the request is
// queued as submit queues it: the user's queue, the pending index (scored now, as its wait starts
// now), out of the failed index.
const REDRIVE = `${STAGE_MACHINE_LUA}
${WITHDRAW_FROM_REPORT_LUA}
if redis.call('HGET', KEYS[1], 'userId') ~= ARGV[1] then return {'not_found', ''} end
local stage = redis.call('HGET', KEYS[1], 'stage')
if stage ~= 'failed' then
  if redis.call('HGET', KEYS[1], 'retriedAt') == ARGV[4] then return {'redriven', stage} end
  return {'not_failed', stage or ''}
end
local r = redis.call('HMGET', KEYS[1], 'queued', 'nextItem', 'attempts', 'lastError', 'lastErrorCode', 'failedAt',
  'reportedAt', 'previousFailures')
-- A request that failed on its report (REPORT_NOT_DELIVERED) has nothing left: re-driven, it is
-- finished at once and reported again.
local remaining = (tonumber(r[1]) or 0) - (tonumber(r[2]) or 0)
if remaining > 0 and redis.call('EXISTS', KEYS[3]) == 0 then return {'items_expired', stage} end
if move_stage(KEYS[1], 'queued') ~= 'moved' then return {'not_failed', stage} end
local ok, history = pcall(cjson.decode, r[8] or '[]')
if not ok or type(history) ~= 'table' then history = {} end
history[#history + 1] = { failedAt = r[6] or cjson.null, attempts = tonumber(r[3]) or 0, lastError = r[4] or cjson.null,
  lastErrorCode = r[5] or cjson.null, reportedAt = r[7] or cjson.null, retriedAt = ARGV[4] }
redis.call('HSET', KEYS[1], 'attempts', 0, 'retriedAt', ARGV[4], 'previousFailures', cjson.encode(history))
redis.call('HDEL', KEYS[1], 'failedAt', 'lastError', 'lastErrorCode', 'nextAttemptAt', 'reportMessageId', 'reportedAt', 'reportError')
redis.call('PERSIST', KEYS[1])
redis.call('PERSIST', KEYS[3])
redis.call('PERSIST', KEYS[4])
redis.call('LREM', KEYS[2], 0, ARGV[2])
redis.call('RPUSH', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[5], ARGV[5], ARGV[3])
redis.call('ZREM', KEYS[6], ARGV[3])
withdraw_from_report(KEYS[7], KEYS[8], KEYS[1], ARGV[1], ARGV[2])
return {'redriven', 'queued'}`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    bulkRedrive(...args: (string | number)[]): Result<[string, string], Context>;
  }
}

export const redriveScripts = [defineScript('bulkRedrive', 8, REDRIVE)];

/** Puts a failed request of this user back in the queue (see REDRIVE). */
export async function redriveBulkRequest(
  redis: RedisClient,
  keys: RedisKeys,
  userId: string,
  requestId: string,
  options: { now: Date },
): Promise<RedriveOutcome> {
  const [outcome, stage] = await redis.bulkRedrive(
    keys.bulkRequest(userId, requestId),
    keys.bulkQueue(userId),
    keys.bulkItems(userId, requestId),
    keys.bulkFailures(userId, requestId),
    keys.bulkPending(userId),
    keys.bulkFailed(userId),
    keys.bulkStatus(userId),
    keys.reportPending(userId),
    userId,
    requestId,
    requestMember(userId, requestId),
    options.now.toISOString(),
    options.now.getTime(),
  );
  if (outcome === 'not_failed') return { outcome, stage: stage as BulkStage };
  if (outcome === 'redriven' || outcome === 'not_found' || outcome === 'items_expired') return { outcome };
  throw new Error(`unexpected answer from the re-drive script: ${outcome}`);
}
