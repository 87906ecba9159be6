// The second half of a webhook pass: claim due deliveries, POST each one signed (Standard
// Webhooks), record the attempt. Replicas never send one delivery at the same time: a claim takes
// rows FOR UPDATE SKIP LOCKED and moves their next attempt past the longest an attempt can take,
// so no other replica sees them due meanwhile; recording an attempt is keyed by its number, so a
// claim that outlived its lease (a paused process) records nothing twice.
import { retryDelayMs } from '@books/core/bulk';
import { checkWebhookUrl, type WebhookUrlVerdict } from '@books/core/webhooks';
import { Webhook } from 'standardwebhooks';
import { postPinned } from '../webhook/pinned-post.js';
import type { WebhookDeps } from './webhook-deps.js';

/** A claimed delivery, with its user's webhook as it is now (null if removed since). */
export interface ClaimedDelivery {
  id: string;
  userId: string;
  payload: string;
  /** Attempts recorded so far; this one is attempts + 1. */
  attempts: number;
  giveUpAt: Date;
  url: string | null;
  secret: string | null;
}

export type DeliveryOutcome = 'delivered' | 'retry_later' | 'failed' | 'skipped';

// Beyond the attempt's own timeout: time for the claim to be recorded before it may be taken again.
const CLAIM_MARGIN_MS = 60_000;

export async function claimDueDeliveries(deps: Pick<WebhookDeps, 'sql' | 'now' | 'settings'>, limit: number): Promise<ClaimedDelivery[]> {
  const now = deps.now();
  const until = new Date(now.getTime() + deps.settings.timeoutMs + CLAIM_MARGIN_MS);
  const rows = await deps.sql<
    { id: string; user_id: string; payload: string; attempts: number; give_up_at: string; url: string | null; secret: string | null }[]
  >`
    with due as (
      select id from webhook_deliveries
      where state = 'pending' and next_attempt_at <= ${now.toISOString()}::timestamptz
      order by next_attempt_at
      limit ${limit}
      for update skip locked
    ), claimed as (
      update webhook_deliveries d set next_attempt_at = ${until.toISOString()}::timestamptz
      from due where d.id = due.id
      returning d.id, d.user_id, d.payload, d.attempts, d.give_up_at
    )
    select c.id, c.user_id, c.payload, c.attempts, c.give_up_at, w.url, w.secret
    from claimed c left join webhooks w on w.user_id = c.user_id`;
  return rows.map((row) => ({
    id: row.id,
    userId: row.user_id,
    payload: row.payload,
    attempts: row.attempts,
    // Text: the client is Drizzle's, which leaves timestamps unparsed (and wants them as text).
    giveUpAt: new Date(row.give_up_at),
    url: row.url,
    secret: row.secret,
  }));
}

interface AttemptResult {
  status: number | null;
  error: string | null;
  /** No retry can succeed: the URL or its address is refused. */
  permanent: boolean;
}

/** One attempt at a claimed delivery, recorded; answers what became of the delivery. */
export async function deliverWebhook(deps: WebhookDeps, delivery: ClaimedDelivery): Promise<DeliveryOutcome> {
  const log = deps.log.child({ deliveryId: delivery.id, userId: delivery.userId });
  if (delivery.url === null || delivery.secret === null) {
    // Removed between the claim and now (DELETE /me/webhook fails pending deliveries itself).
    await deps.sql`
      update webhook_deliveries set state = 'failed', last_error = 'the webhook was removed'
      where id = ${delivery.id} and state = 'pending'`;
    return 'failed';
  }
  const attempt = delivery.attempts + 1;
  const startedAt = deps.now();
  const started = performance.now();
  const result = await attemptOnce(deps, delivery.url, delivery.secret, delivery.id, delivery.payload);
  const durationMs = Math.round(performance.now() - started);
  const now = deps.now();
  const ok = result.status !== null && result.status >= 200 && result.status < 300;
  const outcome: DeliveryOutcome = ok ? 'delivered' : result.permanent || now >= delivery.giveUpAt ? 'failed' : 'retry_later';
  // The next try, never later than the end of the window, so that the last one falls within it.
  const nextAttemptAt = new Date(Math.min(now.getTime() + retryDelayMs(attempt, deps.settings.retryBaseMs), delivery.giveUpAt.getTime()));
  const recorded = await deps.sql.begin(async (tx) => {
    const inserted = await tx`
      insert into webhook_delivery_attempts (delivery_id, attempt, at, status, duration_ms, error)
      values (${delivery.id}, ${attempt}, ${startedAt.toISOString()}::timestamptz, ${result.status}, ${durationMs}, ${result.error})
      on conflict do nothing
      returning attempt`;
    if (!inserted.length) return false;
    await tx`
      update webhook_deliveries set
        attempts = ${attempt},
        url = ${delivery.url},
        last_attempt_at = ${startedAt.toISOString()}::timestamptz,
        last_status = ${result.status},
        last_error = ${result.error},
        state = ${outcome === 'retry_later' ? 'pending' : outcome},
        delivered_at = ${ok ? now.toISOString() : null}::timestamptz,
        next_attempt_at = ${(outcome === 'retry_later' ? nextAttemptAt : now).toISOString()}::timestamptz
      where id = ${delivery.id} and attempts = ${delivery.attempts}`;
    return true;
  });
  if (!recorded) {
    log.warn({ attempt }, 'webhook attempt already recorded by another replica (this claim outlived its lease); not recorded again');
    return 'skipped';
  }
  deps.attempts.inc({ outcome });
  if (outcome === 'failed') log.warn({ attempt, status: result.status, error: result.error }, 'webhook delivery failed for good');
  else if (outcome === 'retry_later')
    log.info({ attempt, status: result.status, error: result.error, nextAttemptAt }, 'webhook attempt failed; retried later');
  return outcome;
}

/** Checks the URL again (resolving it once), then POSTs to the address checked, within the timeout. */
async function attemptOnce(deps: WebhookDeps, url: string, secret: string, id: string, payload: string): Promise<AttemptResult> {
  const signal = AbortSignal.timeout(deps.settings.timeoutMs);
  let verdict: WebhookUrlVerdict;
  try {
    verdict = await Promise.race([
      checkWebhookUrl(url, { allowPrivate: deps.settings.allowPrivate, resolve: deps.resolveHost }),
      new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true })),
    ]);
  } catch {
    return { status: null, error: `resolving the webhook host timed out after ${deps.settings.timeoutMs} ms`, permanent: false };
  }
  if (!verdict.ok) {
    // A name that does not resolve now may tomorrow (DNS outage); a refused URL or address will not change by waiting.
    return { status: null, error: verdict.reason, permanent: verdict.code !== 'WEBHOOK_URL_UNRESOLVABLE' };
  }
  const timestamp = deps.now();
  const headers = {
    'content-type': 'application/json',
    'user-agent': 'books-service-webhooks/1',
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
    // Signed afresh on every attempt: the timestamp is part of what is signed, and it moves.
    'webhook-signature': new Webhook(secret).sign(id, timestamp, payload),
  };
  try {
    const { status } = await postPinned({ url: verdict.url, address: verdict.address, headers, body: payload, signal });
    return { status, error: status >= 200 && status < 300 ? null : `the receiver answered ${status}`, permanent: false };
  } catch (err) {
    if (signal.aborted) return { status: null, error: `no answer within ${deps.settings.timeoutMs} ms`, permanent: false };
    const e = err as { code?: string; message?: string };
    return { status: null, error: `could not reach ${verdict.url.host}: ${e.code ?? e.message ?? String(err)}`, permanent: false };
  }
}
