// The Lua of submitting a bulk request: at once (a JSON body, SUBMIT) or staged (a file streamed in
// batches, STAGE_BATCH then COMMIT_STAGED), and settling a submit whose answer was lost. Both ways
// end in the same checks and the same queued request (SUBMIT_GUARD_LUA, QUEUE_REQUEST_LUA), so an
// Idempotency-Key, a voided id and a replay behave alike. Every script is safe to run twice: ioredis
// re-sends commands in flight when a connection drops.
import type { Result } from 'ioredis';
import { defineScript } from '../redis/scripts.js';

// The answer a submit gives without storing anything, or nil to go on: voided by settle() (-1),
// an Idempotency-Key already used (1 if by this very request, else 0, with the original id), or
// this request already stored (a replay: 1).
const SUBMIT_GUARD_LUA = `
local function submit_guard(record, idempotency, voided, request_id, idempotency_ttl)
  if redis.call('EXISTS', voided) == 1 then return {-1, request_id} end
  if idempotency_ttl ~= '' then
    local existing = redis.call('GET', idempotency)
    if existing then return {existing == request_id and 1 or 0, existing} end
  end
  if redis.call('EXISTS', record) == 1 then return {1, request_id} end
  return nil
end`;

// Writes the record (a JSON object of string values) and puts the request in the user's queue, the
// history, the global pending index and, with a key, the idempotency entry.
const QUEUE_REQUEST_LUA = `
local function queue_request(queue, record, history, idempotency, pending, request_id, member, at_ms, idempotency_ttl, record_json)
  local fields = {}
  for k, v in pairs(cjson.decode(record_json)) do
    fields[#fields + 1] = k
    fields[#fields + 1] = v
  end
  redis.call('HSET', record, unpack(fields))
  redis.call('RPUSH', queue, request_id)
  redis.call('ZADD', history, at_ms, request_id)
  redis.call('ZADD', pending, at_ms, member)
  if idempotency_ttl ~= '' then redis.call('SET', idempotency, request_id, 'EX', idempotency_ttl) end
end`;

// Pushes list[first..last] onto a list, 1000 at a time: Lua's unpack is bounded.
const PUSH_RANGE_LUA = `
local function push_range(key, list, first, last)
  local s = first
  while s <= last do
    local e = math.min(s + 999, last)
    redis.call('RPUSH', key, unpack(list, s, e))
    s = e + 1
  end
end`;

// KEYS: queue, items, record, failures, history, idempotency, pending (the user's shard), void
// ARGV: requestId, member, queuedAtMs, idempotencyTtl ('' = no key), record JSON (string values),
//       failure count F, F failures, then the items.
// A replay finds the record and stores nothing again; a request voided by settle() is never stored.
const SUBMIT = `${SUBMIT_GUARD_LUA}
${QUEUE_REQUEST_LUA}
${PUSH_RANGE_LUA}
local answer = submit_guard(KEYS[3], KEYS[6], KEYS[8], ARGV[1], ARGV[4])
if answer then return answer end
local f = tonumber(ARGV[6])
push_range(KEYS[4], ARGV, 7, 6 + f)
push_range(KEYS[2], ARGV, 7 + f, #ARGV)
queue_request(KEYS[1], KEYS[3], KEYS[5], KEYS[6], KEYS[7], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5])
return {1, ARGV[1]}`;

// KEYS: staging, staged items, staged failures. ARGV: batch number (from 1), ttl s, failure count F,
// the batch: its F failures then its items, one JSON a line (JSON never holds a raw newline). One
// argument rather than one an entry: the API sends it as a Buffer, off the V8 heap while the batch
// is in flight (see staged-submit.ts). Appends batch n only right after batch n-1, so a replayed
// batch is not appended twice; answers the batches now staged, or -1 when the staging is not at n-1
// (it expired, or a batch is missing). Every batch renews the three keys' TTL.
const STAGE_BATCH = `${PUSH_RANGE_LUA}
local n = tonumber(ARGV[1])
local staged = tonumber(redis.call('HGET', KEYS[1], 'batches') or '0')
if staged >= n then return staged end
if staged ~= n - 1 then return -1 end
local f = tonumber(ARGV[3])
local lines, at, batch = {}, 1, ARGV[4]
while true do
  local nl = string.find(batch, '\\n', at, true)
  if not nl then
    lines[#lines + 1] = string.sub(batch, at)
    break
  end
  lines[#lines + 1] = string.sub(batch, at, nl - 1)
  at = nl + 1
end
push_range(KEYS[3], lines, 1, f)
push_range(KEYS[2], lines, f + 1, #lines)
redis.call('HSET', KEYS[1], 'batches', n)
for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ARGV[2]) end
return n`;

// KEYS: queue, items, record, failures, history, idempotency, pending (the user's shard), void, staging,
//       staged items, staged failures
// ARGV: requestId, member, queuedAtMs, idempotencyTtl ('' = no key), record JSON, batches expected
// Turns a staged upload into a queued request, as SUBMIT would have queued it: the staged lists
// become the request's items and failures (RENAME keeps a TTL: PERSIST, queued work has none).
// Answers as SUBMIT, or {-2, id} when the staging does not hold every batch (it expired). The
// staging is gone afterwards whatever the answer.
const COMMIT_STAGED = `${SUBMIT_GUARD_LUA}
${QUEUE_REQUEST_LUA}
local function drop_staging()
  redis.call('DEL', KEYS[9], KEYS[10], KEYS[11])
end
local answer = submit_guard(KEYS[3], KEYS[6], KEYS[8], ARGV[1], ARGV[4])
if answer then
  drop_staging()
  return answer
end
if tonumber(redis.call('HGET', KEYS[9], 'batches') or '0') ~= tonumber(ARGV[6]) then
  drop_staging()
  return {-2, ARGV[1]}
end
if redis.call('EXISTS', KEYS[10]) == 1 then
  redis.call('RENAME', KEYS[10], KEYS[2])
  redis.call('PERSIST', KEYS[2])
end
if redis.call('EXISTS', KEYS[11]) == 1 then
  redis.call('RENAME', KEYS[11], KEYS[4])
  redis.call('PERSIST', KEYS[4])
end
drop_staging()
queue_request(KEYS[1], KEYS[3], KEYS[5], KEYS[6], KEYS[7], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5])
return {1, ARGV[1]}`;

// KEYS: history, then the records of the ids in ARGV. Drops the ids whose record has expired. The
// history's housekeeping runs after each submit, where the history grows, so that listing it never
// writes. A separate command rather than part of SUBMIT: its keys come from a read of the history,
// and a submit must stay one command (see settleBulkSubmission).
const PRUNE_HISTORY = `
for i = 1, #ARGV do
  if redis.call('EXISTS', KEYS[1 + i]) == 0 then redis.call('ZREM', KEYS[1], ARGV[i]) end
end
return 1`;

// KEYS: record, void. ARGV: void ttl s. After a submit whose answer was lost: 1 if it was stored,
// else 0, and it never will be (a submit still in flight, or re-sent later, finds the void mark).
const SETTLE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 1 end
redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[1])
return 0`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    bulkSubmit(...args: (string | number)[]): Result<[number, string], Context>;
    bulkStageBatch(...args: (string | number | Buffer)[]): Result<number, Context>;
    bulkCommitStaged(...args: (string | number)[]): Result<[number, string], Context>;
    bulkPruneHistory(...args: (string | number)[]): Result<number, Context>;
    bulkSettle(record: string, voided: string, ttlSeconds: number): Result<number, Context>;
  }
}

export const submitScripts = [
  defineScript('bulkSubmit', 8, SUBMIT),
  defineScript('bulkStageBatch', 3, STAGE_BATCH),
  defineScript('bulkCommitStaged', 11, COMMIT_STAGED),
  defineScript('bulkPruneHistory', undefined, PRUNE_HISTORY),
  defineScript('bulkSettle', 2, SETTLE),
];
