// The webhook event list (`webhook_events`): the bulk transitions push onto it (Lua), the API pushes
// test events, and the report worker drains it into Postgres deliveries.
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import Compile from 'typebox/compile';
import type { RedisKeys } from '../redis/keys.js';
import { peekJsonList, removeListEntries } from '../redis/work-list.js';
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
  const peeked = await peekJsonList(redis, keys.webhookEvents(), max, (value): value is WebhookEvent => eventValidator.Check(value));
  return peeked.map(({ raw, value }) => ({ raw, event: value }));
}

/** Removes each entry once, by value (work-list.ts says why); equal texts are one event with one delivery id. */
export const removeWebhookEvents = (redis: Redis, keys: RedisKeys, raws: string[]): Promise<void> =>
  removeListEntries(redis, keys.webhookEvents(), raws);
