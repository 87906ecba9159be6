// The report worker's Redis steps, each one lease-checked Lua script. The status hash
// (bulk_status:user:{id}) lists the processed requests awaiting a report; a report covers the
// ones listed when it was built, and only those are removed, so requests processed meanwhile
// wait for the next report.
import type { Redis, Result } from 'ioredis';
import type { RedisKeys } from '../redis-keys.js';

const HOLDS_LEASE = `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end`;

// (`0 - x`, not `-x`: Lua's -0 reaches Redis as "-0", which HINCRBY refuses.)
// Removes the reported ids from the status and its totals; drops the status and the index
// entry when nothing is left. ARGV from `first`: the ids; KEYS from 5: record keys, one per id.
const RELEASE_REPORTED = `
local function release_reported(status, pending, user_id, first)
  local reported = {}
  for i = first, #ARGV do reported[ARGV[i]] = true end
  for i = first, #ARGV do
    local r = redis.call('HMGET', KEYS[5 + i - first], 'submitted', 'inserted', 'failed')
    redis.call('HINCRBY', status, 'totalBooks', 0 - (tonumber(r[1]) or 0))
    redis.call('HINCRBY', status, 'successCount', 0 - (tonumber(r[2]) or 0))
    redis.call('HINCRBY', status, 'failCount', 0 - (tonumber(r[3]) or 0))
  end
  local left = {}
  for id in string.gmatch(redis.call('HGET', status, 'requestIds') or '', '[^,]+') do
    if not reported[id] then left[#left + 1] = id end
  end
  if #left == 0 then
    redis.call('DEL', status)
    redis.call('ZREM', pending, user_id)
  else
    redis.call('HSET', status, 'requestIds', table.concat(left, ','))
    redis.call('HDEL', status, 'sentReportId', 'sentMessageId', 'sentRequestIds', 'sentAt', 'reportId', 'reportAttempts', 'lastError', 'nextAttemptAt')
  end
end`;

// KEYS: lease, status. ARGV: token, reportId, messageId, requestIds (comma list), sent ISO.
const MARK_SENT = `${HOLDS_LEASE}
redis.call('HSET', KEYS[2], 'sentReportId', ARGV[2], 'sentMessageId', ARGV[3], 'sentRequestIds', ARGV[4], 'sentAt', ARGV[5])
return 1`;

// KEYS: lease, status, report pending (global), bulk failed (global), records…, failures…
// ARGV: token, userId, completed ISO, messageId, record ttl s, ids…
const COMPLETE = `${HOLDS_LEASE}
${RELEASE_REPORTED}
local n = #ARGV - 5
for i = 1, n do
  redis.call('HSET', KEYS[4 + i], 'stage', 'completed', 'completedAt', ARGV[3], 'reportMessageId', ARGV[4])
  redis.call('EXPIRE', KEYS[4 + i], ARGV[5])
  redis.call('EXPIRE', KEYS[4 + n + i], ARGV[5])
end
release_reported(KEYS[2], KEYS[3], ARGV[2], 6)
return 1`;

// KEYS: as COMPLETE. ARGV: token, userId, now ISO, error, record ttl s, permanent (1/0),
// max attempts, next attempt ISO, now ms, ids…
const RECORD_FAILURE = `${HOLDS_LEASE}
${RELEASE_REPORTED}
local attempts = redis.call('HINCRBY', KEYS[2], 'reportAttempts', 1)
redis.call('HSET', KEYS[2], 'lastError', ARGV[4])
if ARGV[6] ~= '1' and attempts < tonumber(ARGV[7]) then
  redis.call('HSET', KEYS[2], 'nextAttemptAt', ARGV[8])
  return {attempts, 0}
end
local n = #ARGV - 9
for i = 1, n do
  redis.call('HSET', KEYS[4 + i], 'stage', 'failed', 'failedAt', ARGV[3], 'lastError', 'report not delivered: ' .. ARGV[4])
  redis.call('EXPIRE', KEYS[4 + i], ARGV[5])
  redis.call('EXPIRE', KEYS[4 + n + i], ARGV[5])
  redis.call('ZADD', KEYS[4], ARGV[9], ARGV[2] .. ':' .. ARGV[9 + i])
end
release_reported(KEYS[2], KEYS[3], ARGV[2], 10)
return {attempts, 1}`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    reportMarkSent(
      lease: string,
      status: string,
      token: string,
      reportId: string,
      messageId: string,
      ids: string,
      sentAt: string,
    ): Result<number, Context>;
    reportComplete(...args: (string | number)[]): Result<number, Context>;
    reportRecordFailure(...args: (string | number)[]): Result<[number, number] | number, Context>;
  }
}

export class ReportLeaseLostError extends Error {
  readonly code = 'LEASE_LOST';
  constructor(userId: string) {
    super(`lost the lease on user ${userId}'s report; another worker has it`);
  }
}

export interface ReportScripts {
  markSent(userId: string, token: string, sent: { reportId: string; messageId: string; requestIds: string[]; sentAt: Date }): Promise<void>;
  complete(userId: string, token: string, done: { requestIds: string[]; completedAt: Date; messageId: string }): Promise<void>;
  recordFailure(
    userId: string,
    token: string,
    failure: { requestIds: string[]; error: string; permanent: boolean; now: Date; nextAttemptAt: Date; maxAttempts: number },
  ): Promise<{ attempts: number; failed: boolean }>;
}

export function createReportScripts(redis: Redis, keys: RedisKeys, options: { recordTtlSeconds: number }): ReportScripts {
  if (typeof (redis as Partial<Redis>).reportComplete !== 'function') {
    redis.defineCommand('reportMarkSent', { numberOfKeys: 2, lua: MARK_SENT });
    redis.defineCommand('reportComplete', { lua: COMPLETE });
    redis.defineCommand('reportRecordFailure', { lua: RECORD_FAILURE });
  }
  const requestKeys = (userId: string, ids: string[]) => [
    ...ids.map((id) => keys.bulkRequest(userId, id)),
    ...ids.map((id) => keys.bulkFailures(userId, id)),
  ];
  const fixedKeys = (userId: string) => [keys.reportLease(userId), keys.bulkStatus(userId), keys.reportPending(), keys.bulkFailed()];
  return {
    async markSent(userId, token, sent) {
      const result = await redis.reportMarkSent(
        keys.reportLease(userId),
        keys.bulkStatus(userId),
        token,
        sent.reportId,
        sent.messageId,
        sent.requestIds.join(','),
        sent.sentAt.toISOString(),
      );
      if (result === -1) throw new ReportLeaseLostError(userId);
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
  /** The id this report keeps across attempts, so a resend carries the same Message-ID. */
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
      hash.sentMessageId && hash.sentReportId
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
