// The report worker's transitions. The status hash (bulk_status:{shard}:user:<id>) lists the finished requests awaiting
// a report; a report covers the ones listed when it was built, and only those are removed, so
// requests finished meanwhile wait for the next report.
import Compile from 'typebox/compile';
import type { RedisClient } from '../redis/client.js';
import type { RedisKeys } from '../redis/keys.js';
import { LeaseLostError } from '../redis/lease.js';
import { ReportStatusHashSchema } from '../schemas/bulk.js';

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

export function createReportScripts(redis: RedisClient, keys: RedisKeys, options: { recordTtlSeconds: number }): ReportScripts {
  const requestKeys = (userId: string, ids: string[]) => [
    ...ids.map((id) => keys.bulkRequest(userId, id)),
    ...ids.map((id) => keys.bulkFailures(userId, id)),
    // A failed request's items, kept for a re-drive, expire with its record.
    ...ids.map((id) => keys.bulkItems(userId, id)),
  ];
  const fixedKeys = (userId: string) => [
    keys.reportLease(userId),
    keys.bulkStatus(userId),
    keys.reportPending(userId),
    keys.bulkFailed(userId),
    keys.webhookEvents(userId),
  ];
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
      if (result === -1) throw new LeaseLostError('report', userId);
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
      if (result === -1) throw new LeaseLostError('report', userId);
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

const statusValidator = Compile(ReportStatusHashSchema);

export async function readReportStatus(redis: RedisClient, keys: RedisKeys, userId: string): Promise<ReportStatus | null> {
  // An absent status, or one with nothing awaiting a report, fails the schema too: nothing to do.
  const hash = await redis.hgetall(keys.bulkStatus(userId));
  if (!statusValidator.Check(hash)) return null;
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
