// Queueing a bulk request: one Lua script stores the record, the failed and the valid items, the
// queue entry and the indexes, and honours the Idempotency-Key, so Redis holds all of it or none.
import { createHash, randomUUID } from 'node:crypto';
import type { Redis, Result } from 'ioredis';
import { type RedisKeys, requestMember } from '../redis-keys.js';
import type { BookInput } from '../schemas/books.js';
import type { FailedItem } from '../schemas/bulk.js';
import type { BulkRecordFields } from './records.js';

export const IDEMPOTENCY_TTL_SECONDS = 24 * 3600;

// KEYS: queue, items, record, failures, history, idempotency, pending (global)
// ARGV: requestId, member, queuedAtMs, idempotencyTtl ('' = no key), record JSON (string values),
//       failure count F, F failures, then the items. Pushes go 1000 at a time: Lua's unpack is bounded.
const SUBMIT = `
if ARGV[4] ~= '' then
  local existing = redis.call('GET', KEYS[6])
  if existing then return {0, existing} end
end
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

declare module 'ioredis' {
  interface RedisCommander<Context> {
    bulkSubmit(...args: (string | number)[]): Result<[number, string], Context>;
  }
}

export interface BulkSubmission {
  userId: string;
  /** Every submitted item, for the counts. */
  submitted: number;
  valid: { index: number; book: BookInput }[];
  invalid: FailedItem[];
  idempotencyKey?: string | undefined;
  now: Date;
}

export interface SubmitResult {
  requestId: string;
  /** False when the Idempotency-Key had been used: the original request id, nothing queued. */
  created: boolean;
}

/** Registers the submit script on a client; call it before the client's first command (see createRedisClient). */
export function defineBulkSubmitCommand(redis: Redis): void {
  if (typeof (redis as Partial<Redis>).bulkSubmit !== 'function') redis.defineCommand('bulkSubmit', { numberOfKeys: 7, lua: SUBMIT });
}

export async function submitBulkRequest(redis: Redis, keys: RedisKeys, submission: BulkSubmission): Promise<SubmitResult> {
  defineBulkSubmitCommand(redis);
  const { userId, now } = submission;
  const requestId = randomUUID();
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
    requestId,
    requestMember(userId, requestId),
    now.getTime(),
    submission.idempotencyKey ? IDEMPOTENCY_TTL_SECONDS : '',
    JSON.stringify(record),
    submission.invalid.length,
    ...submission.invalid.map((item) => JSON.stringify(item)),
    ...submission.valid.map(({ index, book }) => JSON.stringify({ i: index, b: book })),
  );
  return { requestId: id, created: created === 1 };
}
