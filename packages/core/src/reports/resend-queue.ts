// Resends of stored reports. The API queues a request in Redis (report_resends) under a per-user
// throttle, in one script, and never touches SMTP; the report worker takes each request in onto
// its report's row in Postgres (reports-queries.ts), and only then removes it from the list, by
// value: a request read twice is taken in once (the row keeps the newest), and a request pushed
// meanwhile is never lost, because nothing else is removed.
import { randomUUID } from 'node:crypto';
import type { Result } from 'ioredis';
import Compile from 'typebox/compile';
import type { RedisClient } from '../redis/client.js';
import type { RedisKeys } from '../redis/keys.js';
import { defineScript } from '../redis/scripts.js';
import { type ListEntryRef, peekJsonLists, removeListEntries } from '../redis/work-list.js';
import type { ReportResendRequest } from '../schemas/reports.js';
import { ReportResendRequestSchema } from '../schemas/reports.js';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    reportResendRequest(throttle: string, queue: string, id: string, payload: string, throttleMs: number): Result<number, Context>;
  }
}

export const reportResendScripts = [
  // Queues the request unless the user asked for one within the throttle window. The throttle
  // holds the request's id, so a replay of a call that ran (a resent command) answers "queued"
  // again instead of "throttled", and pushes nothing twice. Returns 0 if queued, else the ms left.
  defineScript(
    'reportResendRequest',
    2,
    `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[3]) then
  redis.call('RPUSH', KEYS[2], ARGV[2])
  return 0
end
if redis.call('GET', KEYS[1]) == ARGV[1] then return 0 end
return math.max(redis.call('PTTL', KEYS[1]), 1)`,
  ),
];

export type ResendRequestOutcome = { queued: true; request: ReportResendRequest } | { queued: false; retryAfterMs: number };

/** The API's side: queue a resend of one of the user's reports, at most one per `throttleMs`. */
export async function requestReportResend(
  redis: RedisClient,
  keys: RedisKeys,
  input: { userId: string; reportId: string; now: Date; throttleMs: number },
): Promise<ResendRequestOutcome> {
  const request: ReportResendRequest = {
    id: randomUUID(),
    userId: input.userId,
    reportId: input.reportId,
    requestedAt: input.now.toISOString(),
  };
  const left = await redis.reportResendRequest(
    keys.reportResendThrottle(input.userId),
    keys.reportResendQueue(input.userId),
    request.id,
    JSON.stringify(request),
    input.throttleMs,
  );
  return left === 0 ? { queued: true, request } : { queued: false, retryAfterMs: left };
}

export interface QueuedResend extends ListEntryRef {
  /** Null if the entry is not a valid request (another process wrote it): remove it. */
  request: ReportResendRequest | null;
}

const requestValidator = Compile(ReportResendRequestSchema);

/** The worker's side: the oldest `limit` requests, left in place until removeResendRequests. */
export async function readResendRequests(redis: RedisClient, keys: RedisKeys, limit: number): Promise<QueuedResend[]> {
  const peeked = await peekJsonLists(redis, keys.reportResendQueueShards(), limit, (value): value is ReportResendRequest =>
    requestValidator.Check(value),
  );
  return peeked.map(({ key, raw, value }) => ({ key, raw, request: value }));
}

/** Removes exactly these entries (one copy each), once they are recorded in Postgres. */
export const removeResendRequests = (redis: RedisClient, queued: readonly ListEntryRef[]): Promise<void> =>
  removeListEntries(redis, queued);
