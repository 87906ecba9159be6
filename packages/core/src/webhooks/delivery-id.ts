import { createHash } from 'node:crypto';
import type { WebhookEvent } from '../schemas/webhooks.js';

/**
 * The delivery of an event: its row id and its `webhook-id` header, the same on every retry. Derived
 * from the event itself, so an event drained twice (a worker died between the insert and the
 * removal from Redis) is one row. `at` is in it: a re-driven request that fails again is a new event.
 */
export function webhookDeliveryId(event: WebhookEvent): string {
  const subject = event.type === 'webhook.test' ? event.eventId : event.requestId;
  const digest = createHash('sha256').update(`${event.userId}\n${event.type}\n${subject}\n${event.at}`).digest('hex');
  return `msg_${digest.slice(0, 32)}`;
}
