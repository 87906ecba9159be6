// One pass of the webhook sender, every few seconds (WEBHOOK_CRON): store the events the bulk
// transitions (and POST /me/webhook/test) queued, then send the deliveries that are due.
import { claimDueDeliveries, type DeliveryOutcome, deliverWebhook } from './deliver-webhook.js';
import { drainWebhookEvents } from './drain-webhook-events.js';
import type { WebhookDeps } from './webhook-deps.js';

/** Deliveries sent per pass at most; more wait for the next pass, seconds later. */
const DELIVERIES_PER_PASS = 100;

export type WebhookPassSummary = Record<DeliveryOutcome | 'errored', number> & {
  events: number;
  stored: number;
  deliveries: number;
  durationMs: number;
};

export async function runWebhookPass(deps: WebhookDeps, signal: AbortSignal = new AbortController().signal): Promise<WebhookPassSummary> {
  const started = performance.now();
  const drained = await drainWebhookEvents(deps);
  const summary: WebhookPassSummary = {
    events: drained.events,
    stored: drained.stored,
    deliveries: 0,
    delivered: 0,
    retry_later: 0,
    failed: 0,
    skipped: 0,
    errored: 0,
    durationMs: 0,
  };
  // Claimed a round at a time, as many as are sent at once: a claim covers one attempt's timeout,
  // so a row must not wait behind others (a slow receiver's) while its claim runs out.
  while (!signal.aborted && summary.deliveries < DELIVERIES_PER_PASS) {
    const claimed = await claimDueDeliveries(deps, Math.min(deps.settings.concurrency, DELIVERIES_PER_PASS - summary.deliveries));
    if (!claimed.length) break;
    summary.deliveries += claimed.length;
    const outcomes = await Promise.all(
      claimed.map(async (delivery): Promise<DeliveryOutcome | 'errored'> => {
        try {
          return await deliverWebhook(deps, delivery);
        } catch (err) {
          deps.log.error(
            { err, deliveryId: delivery.id, userId: delivery.userId },
            'webhook delivery errored; it is tried again once its claim runs out',
          );
          return 'errored';
        }
      }),
    );
    for (const outcome of outcomes) summary[outcome]++;
  }
  summary.durationMs = Math.round(performance.now() - started);
  // Every five seconds: an idle pass is not worth a line.
  if (summary.events || summary.deliveries) deps.log.info(summary, 'webhook pass done');
  return summary;
}
