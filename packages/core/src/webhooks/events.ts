// The webhook event list (`webhook_events`): the bulk transitions push onto it (Lua), the API pushes
// test events, and the report worker drains it into Postgres deliveries.
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import Compile from 'typebox/compile';
import type { RedisKeys } from '../redis/keys.js';
import { type WebhookEvent, WebhookEventSchema, type WebhookTestEvent } from '../schemas/webhooks.js';
import { webhookDeliveryId } from './delivery-id.js';

/** Queues a `webhook.test` event for the user's webhook; answers the id its delivery will have. */
export async function queueWebhookTestEvent(redis: Redis, keys: RedisKeys, userId: string, now = new Date()): Promise<string> {
  const event: WebhookTestEvent = { type: 'webhook.test', userId, eventId: randomUUID(), at: now.toISOString() };
  await redis.rpush(keys.webhookEvents(), JSON.stringify(event));
  return webhookDeliveryId(event);
}

/** One entry of the list as read: its exact text (to remove it by value) and the event, or null if malformed. */
export interface ListedWebhookEvent {
  raw: string;
  event: WebhookEvent | null;
}

const eventValidator = Compile(WebhookEventSchema);

/** The oldest `max` events, left on the list: remove them with removeWebhookEvents once they are stored. */
export async function peekWebhookEvents(redis: Redis, keys: RedisKeys, max: number): Promise<ListedWebhookEvent[]> {
  const raws = await redis.lrange(keys.webhookEvents(), 0, max - 1);
  return raws.map((raw) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      return { raw, event: null };
    }
    return { raw, event: eventValidator.Check(parsed) ? parsed : null };
  });
}

/**
 * Removes each entry once, by value, from the head. By value rather than LTRIM by count: two
 * replicas may read the same head; each removes only what it stored itself, so neither can trim
 * an event the other has not stored yet. Equal texts are equal events with one delivery id, so
 * removing a twin is harmless.
 */
export async function removeWebhookEvents(redis: Redis, keys: RedisKeys, raws: string[]): Promise<void> {
  if (!raws.length) return;
  const pipeline = redis.pipeline();
  for (const raw of raws) pipeline.lrem(keys.webhookEvents(), 1, raw);
  const results = await pipeline.exec();
  const failed = results?.find(([err]) => err);
  if (failed?.[0]) throw failed[0];
}
