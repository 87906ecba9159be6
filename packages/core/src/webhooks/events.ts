// The webhook event list (`webhook_events`): the bulk transitions push onto it (Lua), the API pushes
// test events, and the report worker drains it into Postgres deliveries.
import { randomUUID } from 'node:crypto';
import Compile from 'typebox/compile';
import type { RedisClient } from '../redis/client.js';
import type { RedisKeys } from '../redis/keys.js';
import { type ListEntryRef, peekJsonLists, removeListEntries } from '../redis/work-list.js';
import { type WebhookEvent, WebhookEventSchema, type WebhookTestEvent } from '../schemas/webhooks.js';
import { webhookDeliveryId } from './delivery-id.js';

/** Queues a `webhook.test` event for the user's webhook; answers the id its delivery will have. */
export async function queueWebhookTestEvent(redis: RedisClient, keys: RedisKeys, userId: string, now = new Date()): Promise<string> {
  const event: WebhookTestEvent = { type: 'webhook.test', userId, eventId: randomUUID(), at: now.toISOString() };
  await redis.rpush(keys.webhookEvents(userId), JSON.stringify(event));
  return webhookDeliveryId(event);
}

/** One entry of the lists as read: where it is (to remove it by value) and the event, or null if malformed. */
export interface ListedWebhookEvent extends ListEntryRef {
  event: WebhookEvent | null;
}

const eventValidator = Compile(WebhookEventSchema);

/** The oldest events of every shard, `max` in all, left on the lists: remove them with removeWebhookEvents once they are stored. */
export async function peekWebhookEvents(redis: RedisClient, keys: RedisKeys, max: number): Promise<ListedWebhookEvent[]> {
  const peeked = await peekJsonLists(redis, keys.webhookEventsShards(), max, (value): value is WebhookEvent => eventValidator.Check(value));
  return peeked.map(({ key, raw, value }) => ({ key, raw, event: value }));
}

/** Removes each entry once, by value (work-list.ts says why); equal texts are one event with one delivery id. */
export const removeWebhookEvents = (redis: RedisClient, listed: readonly ListEntryRef[]): Promise<void> => removeListEntries(redis, listed);
