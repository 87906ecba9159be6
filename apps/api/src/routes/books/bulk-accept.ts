// The last step of POST /books/bulk, whatever the body: run the submit (JSON at once, or a staged
// file's commit), settle it if its answer was lost, and answer 202 with the request, or 503.
import { readBulkRequest, type SubmitResult, settleBulkSubmission } from '@books/core/bulk';
import type { RedisClient, RedisKeys } from '@books/core/redis';
import { describeWait, nextRun } from '@books/core/schedule';
import type { FastifyBaseLogger, FastifyReply } from 'fastify';
import { AppError } from '../../errors.js';
import type { ApiMetrics } from '../../plugins/metrics.js';

export const queueUnavailable = (cause: unknown) =>
  Object.assign(new AppError(503, 'QUEUE_UNAVAILABLE', 'The bulk queue is unavailable right now; nothing was queued. Try again shortly.'), {
    cause,
  });

/** The 503 that cannot say whether the request was stored: it gives the id to look up instead. */
const outcomeUnknown = (requestId: string) => ({
  success: false as const,
  error: `The bulk queue did not answer in time, so this request may or may not have been queued. Do not resend it blindly: GET /books/bulk/${requestId} tells (404 means it was not queued and never will be), or resend with the same Idempotency-Key.`,
  code: 'QUEUE_OUTCOME_UNKNOWN',
  requestId,
});

// ioredis refuses a command it never sent with this message (the API client has no offline
// queue): then, and only then, a failed submit certainly stored nothing.
export const neverSent = (err: unknown) => err instanceof Error && err.message.startsWith("Stream isn't writeable");

export interface Acceptance {
  redis: RedisClient;
  keys: RedisKeys;
  log: FastifyBaseLogger;
  metrics: Pick<ApiMetrics, 'bulkSubmissions' | 'bulkQueuedBooks'>;
  cron: { bulk: string; report: string };
  userId: string;
  /** Chosen before the submit, so that a submit whose answer is lost can still be settled. */
  requestId: string;
  now: Date;
  queued: number;
  invalid: number;
  submit: () => Promise<SubmitResult>;
  /** Runs when the submit certainly stored nothing (a staged file drops its staging). */
  onNotStored?: () => Promise<void>;
  /** Added to the 202's data (a file's ignoredColumns). */
  extra?: Record<string, unknown>;
}

export async function submitAndAnswer(a: Acceptance, reply: FastifyReply) {
  const { redis, keys, log, userId, requestId, now } = a;
  let result: SubmitResult;
  try {
    result = await a.submit();
  } catch (err) {
    if (neverSent(err)) {
      await a.onNotStored?.().catch(() => {});
      throw queueUnavailable(err);
    }
    if (err instanceof AppError) throw err;
    // A timeout or a dropped connection: the script may have run. Ask, on the same client (so
    // after the submit, if it is still on its way), and void the id if it was not stored.
    let stored: boolean;
    try {
      stored = await settleBulkSubmission(redis, keys, userId, requestId);
    } catch {
      log.warn({ err, userId, requestId }, 'bulk submit outcome unknown: redis did not answer');
      return reply.code(503).header('retry-after', '5').header('location', `/books/bulk/${requestId}`).send(outcomeUnknown(requestId));
    }
    if (!stored) {
      await a.onNotStored?.().catch(() => {});
      throw queueUnavailable(err);
    }
    log.warn({ err, userId, requestId }, 'bulk submit answer was lost, but the request was stored');
    result = { requestId, created: true };
  }
  if (result.created) {
    a.metrics.bulkSubmissions.inc();
    a.metrics.bulkQueuedBooks.inc(a.queued);
  }
  const record = result.created ? null : await readBulkRequest(redis, keys, userId, result.requestId, log);
  const processingAt = nextRun(a.cron.bulk, now);
  const reportAt = nextRun(a.cron.report, processingAt);
  log.info(
    { userId, requestId: result.requestId, queued: a.queued, invalid: a.invalid, duplicate: !result.created },
    'bulk request queued',
  );
  reply.header('location', `/books/bulk/${result.requestId}`);
  return reply.code(202).send({
    success: true as const,
    message: result.created
      ? `Books will be added later. ${a.queued} queued, ${a.invalid} invalid; you will receive an email report in about ${describeWait(reportAt.getTime() - now.getTime())}.`
      : 'This Idempotency-Key was used before: nothing new was queued; here is the original request.',
    data: {
      requestId: result.requestId,
      queuedBooks: record ? record.queued : a.queued,
      invalidBooks: record ? record.submitted - record.queued : a.invalid,
      duplicate: !result.created,
      estimatedProcessingTime: describeWait(processingAt.getTime() - now.getTime()),
      estimatedReportTime: describeWait(reportAt.getTime() - now.getTime()),
      estimatedProcessingAt: processingAt.toISOString(),
      estimatedReportAt: reportAt.toISOString(),
      ...a.extra,
    },
  });
}
