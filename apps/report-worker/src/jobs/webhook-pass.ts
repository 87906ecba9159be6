// One pass of the webhook sender, every few seconds (WEBHOOK_CRON): store the events the bulk
// transitions (and POST /me/webhook/test) queued, then send the deliveries that are due.
import { mapWithConcurrency } from '@books/core/worker';
import { claimDueDeliveries, type DeliveryOutcome, deliverWebhook } from './deliver-webhook.js';
import { drainWebhookEvents } from './drain-webhook-events.js';
import type { WebhookDeps } from './webhook-deps.js';

/** Deliveries claimed per pass; more wait for the next pass, seconds later. */
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
  const claimed = signal.aborted ? [] : await claimDueDeliveries(deps, DELIVERIES_PER_PASS);
  // A delivery claimed but left unsent when the pass is stopped is due again once its claim runs out.
  const outcomes = await mapWithConcurrency(
    claimed,
    deps.settings.concurrency,
    async (delivery): Promise<DeliveryOutcome | 'errored' | null> => {
      if (signal.aborted) return null;
      try {
        return await deliverWebhook(deps, delivery);
      } catch (err) {
        deps.log.error(
          { err, deliveryId: delivery.id, userId: delivery.userId },
          'webhook delivery errored; it is tried again once its claim runs out',
        );
        return 'errored';
      }
    },
  );
  const summary: WebhookPassSummary = {
    events: drained.events,
    stored: drained.stored,
    deliveries: claimed.length,
    delivered: 0,
    retry_later: 0,
    failed: 0,
    skipped: 0,
    errored: 0,
    durationMs: 0,
  };
  for (const outcome of outcomes) if (outcome) summary[outcome]++;
  summary.durationMs = Math.round(performance.now() - started);
  // Every five seconds: an idle pass is not worth a line.
  if (drained.events || claimed.length) deps.log.info(summary, 'webhook pass done');
  return summary;
}
