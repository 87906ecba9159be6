// One pass of report resends, on the account-mail schedule (every few seconds: the user is waiting
// for it): take in the resend requests the API queued (Redis → the report rows), then send the
// pending ones, a few at a time.
import { listPendingResends, takeInResendRequests } from '@books/core/db';
import { readResendRequests, removeResendRequests } from '@books/core/reports';
import { mapWithConcurrency } from '@books/core/worker';
import { type ResendDeps, type ResendOutcome, resendReport } from './resend-report.js';

/** Requests taken in, and resends sent, per pass; more wait for the next pass, seconds later. */
const REQUESTS_PER_PASS = 100;
const RESENDS_PER_PASS = 20;

export type ResendPassSummary = Record<ResendOutcome | 'errored', number> & { takenIn: number; durationMs: number };

export async function runReportResendPass(
  deps: ResendDeps,
  signal: AbortSignal = new AbortController().signal,
): Promise<ResendPassSummary> {
  const started = performance.now();
  const queued = await readResendRequests(deps.redis, deps.keys, REQUESTS_PER_PASS);
  const valid = queued.flatMap((q) => (q.request ? [q.request] : []));
  if (valid.length < queued.length)
    deps.log.error({ entries: queued.length - valid.length }, 'report_resends held entries that are not resend requests; dropped');
  // Recorded in Postgres first, removed from Redis after: a crash between the two only reads them again.
  const takenIn = await takeInResendRequests(deps.db, valid);
  await removeResendRequests(deps.redis, queued);

  const now = deps.now();
  const pending = await listPendingResends(deps.db, now, deps.settings.retentionMs, RESENDS_PER_PASS);
  const outcomes = await mapWithConcurrency(
    pending,
    deps.settings.concurrency,
    async (resend): Promise<ResendOutcome | 'errored' | null> => {
      if (signal.aborted) return null;
      try {
        return await resendReport(deps, resend);
      } catch (err) {
        deps.log.error({ err, userId: resend.userId, reportId: resend.id }, 'report resend failed; it is tried again on a later pass');
        return 'errored';
      }
    },
  );
  const summary: ResendPassSummary = { takenIn: takenIn.length, sent: 0, failed: 0, skipped: 0, nothing: 0, errored: 0, durationMs: 0 };
  for (const outcome of outcomes) if (outcome) summary[outcome]++;
  deps.metrics.reportResends.inc({ outcome: 'sent' }, summary.sent);
  deps.metrics.reportResends.inc({ outcome: 'failed' }, summary.failed);
  summary.durationMs = Math.round(performance.now() - started);
  // Every two seconds: an idle pass is not worth a line.
  if (queued.length || pending.length) deps.log.info(summary, 'report resend pass done');
  return summary;
}
