// The first half of a webhook pass: events from Redis (`webhook_events`) into Postgres deliveries,
// one per event of a user that has a webhook; events of users without one are dropped. Safe to
// crash anywhere: events are removed from Redis only after their rows commit, and a delivery's id
// is derived from its event, so an event stored twice is one row (ON CONFLICT DO NOTHING).
import { UUID_PATTERN } from '@books/core/schemas';
import { peekWebhookEvents, removeWebhookEvents, webhookDeliveryId } from '@books/core/webhooks';
import { webhookPayload } from '../webhook/payload.js';
import type { WebhookDeps } from './webhook-deps.js';

/** Events read per round; a pass goes on while rounds come back full. */
const EVENTS_PER_ROUND = 500;
const MAX_ROUNDS = 20;

const uuid = new RegExp(UUID_PATTERN);

export interface DrainSummary {
  events: number;
  stored: number;
  /** Malformed entries (not a WebhookEvent), removed and logged. */
  malformed: number;
}

export async function drainWebhookEvents(
  deps: Pick<WebhookDeps, 'sql' | 'redis' | 'keys' | 'log' | 'now' | 'settings'>,
): Promise<DrainSummary> {
  const summary: DrainSummary = { events: 0, stored: 0, malformed: 0 };
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const listed = await peekWebhookEvents(deps.redis, deps.keys, EVENTS_PER_ROUND);
    if (!listed.length) break;
    const events = [];
    for (const entry of listed) {
      const { event } = entry;
      // Cast to uuid in SQL: one bad id would fail the statement, and the list would be stuck behind it.
      if (event && uuid.test(event.userId) && (event.type === 'webhook.test' || uuid.test(event.requestId))) events.push(event);
      else {
        summary.malformed++;
        deps.log.error({ entry: entry.raw.slice(0, 500) }, 'a webhook event is not a WebhookEvent; dropped');
      }
    }
    if (events.length) {
      // ISO strings, not Dates: the client is Drizzle's, whose timestamp serializers take text.
      const now = deps.now();
      const rows = await deps.sql<{ id: string }[]>`
        insert into webhook_deliveries (id, user_id, event_type, request_id, payload, url, next_attempt_at, created_at, give_up_at)
        select e.id, e.user_id, e.event_type, e.request_id, e.payload, w.url, ${now.toISOString()}::timestamptz, ${now.toISOString()}::timestamptz,
          ${new Date(now.getTime() + deps.settings.retryWindowMs).toISOString()}::timestamptz
        from unnest(
          ${events.map(webhookDeliveryId)}::text[],
          ${events.map((event) => event.userId)}::uuid[],
          ${events.map((event) => event.type)}::text[],
          ${events.map((event) => (event.type === 'webhook.test' ? null : event.requestId))}::uuid[],
          ${events.map((event) => JSON.stringify(webhookPayload(event, deps.settings.publicBaseUrl)))}::text[]
        ) as e(id, user_id, event_type, request_id, payload)
        join webhooks w on w.user_id = e.user_id
        on conflict (id) do nothing
        returning id`;
      summary.stored += rows.length;
    }
    summary.events += listed.length;
    await removeWebhookEvents(deps.redis, listed);
    if (listed.length < EVENTS_PER_ROUND) break;
  }
  return summary;
}
