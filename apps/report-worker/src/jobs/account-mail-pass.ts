// One pass of the account-mail sender, every few seconds (ACCOUNT_MAIL_CRON): take in what the API
// queued, then send what is due, a few at a time.
import { mapWithConcurrency } from '@books/core/worker';
import { type AccountMailDeps, type AccountMailOutcome, sendAccountMail } from './send-account-mail.js';

/** Ids listed per pass; more wait for the next pass, seconds later. */
const MESSAGES_PER_PASS = 100;

export type AccountMailPassSummary = Record<AccountMailOutcome | 'errored', number> & { messages: number; durationMs: number };

export async function runAccountMailPass(
  deps: AccountMailDeps,
  signal: AbortSignal = new AbortController().signal,
): Promise<AccountMailPassSummary> {
  const started = performance.now();
  const ids = await deps.outbox.claimDue(deps.now(), MESSAGES_PER_PASS);
  const outcomes = await mapWithConcurrency(ids, deps.settings.concurrency, async (id): Promise<AccountMailOutcome | 'errored' | null> => {
    if (signal.aborted) return null;
    try {
      return await sendAccountMail(deps, id);
    } catch (err) {
      deps.log.error({ err, mailId: id }, 'account mail failed; it is tried again on a later pass');
      return 'errored';
    }
  });
  const summary: AccountMailPassSummary = {
    messages: ids.length,
    sent: 0,
    retry_later: 0,
    dropped: 0,
    waiting: 0,
    skipped: 0,
    nothing: 0,
    errored: 0,
    durationMs: 0,
  };
  for (const outcome of outcomes) if (outcome) summary[outcome]++;
  summary.durationMs = Math.round(performance.now() - started);
  // Every two seconds: an idle pass is not worth a line.
  if (ids.length) deps.log.info(summary, 'account mail pass done');
  return summary;
}
