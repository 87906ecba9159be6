// One pass of the report worker: every user whose status awaits a report, a few at a time; then
// a batch of stored reports, and one of webhook deliveries, past their retention is deleted.

import { readTraceparents } from '@books/core/bulk';
import { deleteExpiredReports, deleteExpiredWebhookDeliveries } from '@books/core/db';
import { membersSharded } from '@books/core/redis';
import { inSpan, isTracing } from '@books/core/telemetry';
import { mapWithConcurrency } from '@books/core/worker';
import { type ReportDeps, type ReportOutcome, reportUser } from './report-user.js';

/** Stored reports deleted per pass at most: one short statement; a backlog goes in the next passes. */
const EXPIRED_REPORTS_PER_PASS = 1000;

export type ReportPassSummary = Record<ReportOutcome | 'errored', number> & {
  users: number;
  expiredReports: number;
  expiredWebhookDeliveries: number;
  durationMs: number;
};

export async function runReportPass(deps: ReportDeps, signal: AbortSignal = new AbortController().signal): Promise<ReportPassSummary> {
  const started = performance.now();
  // The index of users awaiting a report: no KEYS over bulk_status:*.
  const users = (await membersSharded(deps.redis, deps.keys.reportPendingShards())).map(({ member }) => member);
  const outcomes = await mapWithConcurrency(users, deps.settings.concurrency, async (userId): Promise<ReportOutcome | 'errored' | null> => {
    if (signal.aborted) return null;
    try {
      // The report's span continues the trace of the first import it covers and links the others.
      const traces = isTracing() ? await readTraceparents(deps.redis, deps.keys, userId) : [];
      return await inSpan('report.user', { parent: traces[0], links: traces.slice(1) }, () => reportUser(deps, userId));
    } catch (err) {
      deps.log.error({ err, userId }, 'report failed for this user; the others go on');
      return 'errored';
    }
  });
  const summary: ReportPassSummary = {
    users: users.length,
    sent: 0,
    cleaned_up: 0,
    retry_later: 0,
    failed: 0,
    waiting: 0,
    skipped: 0,
    nothing: 0,
    errored: 0,
    expiredReports: 0,
    expiredWebhookDeliveries: 0,
    durationMs: 0,
  };
  for (const outcome of outcomes) if (outcome) summary[outcome]++;
  if (!signal.aborted) {
    summary.expiredReports = await deleteExpiredReports(deps.db, deps.now(), deps.settings.retentionMs, EXPIRED_REPORTS_PER_PASS).catch(
      (err: unknown) => {
        deps.log.error({ err }, 'could not delete expired reports; the next pass tries again');
        return 0;
      },
    );
    summary.expiredWebhookDeliveries = await deleteExpiredWebhookDeliveries(
      deps.db,
      deps.now(),
      deps.settings.retentionMs,
      EXPIRED_REPORTS_PER_PASS,
    ).catch((err: unknown) => {
      deps.log.error({ err }, 'could not delete expired webhook deliveries; the next pass tries again');
      return 0;
    });
  }
  deps.metrics.reportsSent.inc(summary.sent);
  deps.metrics.reportsRetried.inc(summary.retry_later);
  deps.metrics.reportsFailed.inc(summary.failed);
  deps.metrics.expiredReportsDeleted.inc(summary.expiredReports);
  summary.durationMs = Math.round(performance.now() - started);
  deps.log.info(summary, 'report pass done');
  return summary;
}
