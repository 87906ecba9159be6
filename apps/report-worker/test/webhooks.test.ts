// Completion webhooks, from the event a bulk transition pushes to the signed POST a receiver gets:
// a completed, failed or cancelled import is one delivery whose Standard Webhooks signature
// verifies; users without a webhook get nothing; an event drained twice is still one delivery.
// Imports are finished through core's transitions (@books/testing), the report sent by the real
// report pass (the transition to completed is the report's), the receiver a real HTTP server.
import { randomBytes } from 'node:crypto';
import { cancelBulkRequest } from '@books/core/bulk';
import { webhooks } from '@books/core/db';
import { WebhookPayloadSchema } from '@books/core/schemas';
import { queueWebhookTestEvent } from '@books/core/webhooks';
import { failImport, finishImport, insertUser, queueImport } from '@books/testing';
import { Webhook } from 'standardwebhooks';
import Compile from 'typebox/compile';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drainWebhookEvents } from '../src/jobs/drain-webhook-events.js';
import { runReportPass } from '../src/jobs/report-pass.js';
import { runWebhookPass } from '../src/jobs/webhook-pass.js';
import { type ReportHarness, startReportHarness, validBooks } from './harness.js';
import { attemptRows, deliveryRows, startWebhookReceiver, type WebhookReceiver } from './webhook-receiver.js';

const PUBLIC_BASE_URL = 'https://books.example.org/api';

let h: ReportHarness;
let receiver: WebhookReceiver;
beforeAll(async () => {
  h = await startReportHarness('webhooks', { WEBHOOK_ALLOW_PRIVATE: 'true', PUBLIC_BASE_URL });
  receiver = await startWebhookReceiver();
});
afterAll(async () => {
  await receiver?.close();
  await h?.close();
});

const newSecret = () => `whsec_${randomBytes(24).toString('base64')}`;

/** A user with a webhook to the test's receiver, as PUT /me/webhook leaves it. */
async function userWithWebhook(name: string, url = receiver.url): Promise<{ id: string; secret: string }> {
  const user = await insertUser(h.stores.db, name);
  const secret = newSecret();
  await h.stores.db.insert(webhooks).values({ userId: user.id, url, secret });
  return { id: user.id, secret };
}

const deliveriesOf = (userId: string) => deliveryRows(h.deps.sql, userId);
const attemptsOf = (deliveryId: string) => attemptRows(h.deps.sql, deliveryId);
/** What the receiver got that verifies with this secret: that user's deliveries. */
const receivedBy = ({ secret }: { secret: string }) =>
  receiver.received.filter((r) => {
    try {
      new Webhook(secret).verify(r.body, r.headers as Record<string, string>);
      return true;
    } catch {
      return false;
    }
  });
/** Events on every shard's list, not yet drained. */
const eventsLeft = async () =>
  (await Promise.all(h.stores.keys.webhookEventsShards().map((key) => h.stores.redis.llen(key)))).reduce((sum, n) => sum + n, 0);
const payloadCheck = Compile(WebhookPayloadSchema);

describe('a finished import reaches the webhook', () => {
  it('completed: one delivery, POSTed once, whose signature verifies with the secret and whose body says what happened', async () => {
    const user = await userWithWebhook('hooked_completed');
    const requestId = await finishImport(h.stores, user.id, [...validBooks(4, 'Hooked'), { title: '' }]);
    expect((await runReportPass(h.deps)).sent).toBe(1);

    const summary = await runWebhookPass(h.deps.webhooks);
    expect(summary).toMatchObject({ stored: 1, delivered: 1 });
    const mine = receivedBy(user);
    expect(mine).toHaveLength(1);
    const [post] = mine;
    const verified = new Webhook(user.secret).verify(post!.body, post!.headers as Record<string, string>);
    expect(payloadCheck.Check(verified)).toBe(true);
    expect(verified).toEqual({
      type: 'bulk_request.completed',
      timestamp: expect.any(String),
      data: {
        requestId,
        submitted: 5,
        inserted: 4,
        failed: 1,
        finishedAt: expect.any(String),
        links: { request: `${PUBLIC_BASE_URL}/books/bulk/${requestId}`, failures: `${PUBLIC_BASE_URL}/books/bulk/${requestId}/failures` },
      },
    });
    expect(post!.headers['content-type']).toBe('application/json');
    expect(post!.headers['webhook-id']).toMatch(/^msg_[0-9a-f]{32}$/);
    expect(Math.abs(Number(post!.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(60);
    // A signature with another secret does not verify: the check above means something.
    expect(() => new Webhook(newSecret()).verify(post!.body, post!.headers as Record<string, string>)).toThrow();

    const [delivery] = await deliveriesOf(user.id);
    expect(delivery).toMatchObject({
      id: post!.headers['webhook-id'],
      eventType: 'bulk_request.completed',
      requestId,
      state: 'delivered',
      attempts: 1,
      deliveredAt: expect.any(String),
    });
    expect(await attemptsOf(delivery!.id)).toEqual([expect.objectContaining({ attempt: 1, status: 204, error: null })]);

    // Nothing is sent twice.
    await runWebhookPass(h.deps.webhooks);
    expect(receivedBy(user)).toHaveLength(1);
    expect(await eventsLeft()).toBe(0);
  }, 90_000);

  it('failed: the delivery carries bulk_request.failed and the counts of what went in first', async () => {
    const user = await userWithWebhook('hooked_failed');
    const requestId = await failImport(h.stores, user.id, validBooks(6, 'Doomed'), { error: 'disk full', code: 'DISK_FULL', inserted: 2 });
    await runWebhookPass(h.deps.webhooks);
    const [post] = receivedBy(user);
    expect(new Webhook(user.secret).verify(post!.body, post!.headers as Record<string, string>)).toMatchObject({
      type: 'bulk_request.failed',
      data: { requestId, submitted: 6, inserted: 2, failed: 0 },
    });
    expect(await deliveriesOf(user.id)).toEqual([expect.objectContaining({ eventType: 'bulk_request.failed', state: 'delivered' })]);
  });

  it('cancelled: the delivery carries bulk_request.cancelled', async () => {
    const user = await userWithWebhook('hooked_cancelled');
    const requestId = await queueImport(h.stores, user.id, validBooks(3, 'Stopped'));
    expect(await cancelBulkRequest(h.stores.redis, h.stores.keys, user.id, requestId, { now: new Date(), cacheTtlMs: 60_000 })).toEqual({
      outcome: 'cancelled',
    });
    await runWebhookPass(h.deps.webhooks);
    const [post] = receivedBy(user);
    expect(new Webhook(user.secret).verify(post!.body, post!.headers as Record<string, string>)).toMatchObject({
      type: 'bulk_request.cancelled',
      data: { requestId, submitted: 3, inserted: 0 },
    });
  });

  it('a test event (POST /me/webhook/test queues it) is delivered with the id the API answered', async () => {
    const user = await userWithWebhook('hooked_test');
    const deliveryId = await queueWebhookTestEvent(h.stores.redis, h.stores.keys, user.id);
    await runWebhookPass(h.deps.webhooks);
    const [post] = receivedBy(user);
    expect(post!.headers['webhook-id']).toBe(deliveryId);
    expect(new Webhook(user.secret).verify(post!.body, post!.headers as Record<string, string>)).toMatchObject({ type: 'webhook.test' });
  });
});

describe('draining the events', () => {
  it('drops the events of a user without a webhook: no delivery, nothing left in Redis', async () => {
    const user = await insertUser(h.stores.db, 'unhooked');
    await failImport(h.stores, user.id, validBooks(2, 'Nobody'), { error: 'disk full', code: 'DISK_FULL' });
    expect(await eventsLeft()).toBe(1);
    const before = receiver.received.length;
    expect(await drainWebhookEvents(h.deps.webhooks)).toMatchObject({ events: 1, stored: 0 });
    expect(await deliveriesOf(user.id)).toEqual([]);
    expect(await eventsLeft()).toBe(0);
    await runWebhookPass(h.deps.webhooks);
    expect(receiver.received.length).toBe(before);
  });

  it('an event stored twice (a worker died before removing it) is one delivery; a malformed entry is dropped, not stuck', async () => {
    const user = await userWithWebhook('hooked_twice');
    await queueWebhookTestEvent(h.stores.redis, h.stores.keys, user.id);
    const [raw] = await h.stores.redis.lrange(h.stores.keys.webhookEvents(user.id), 0, 0);
    // The dead worker's insert committed; its event is still listed, and so is a line nobody can read.
    await drainWebhookEvents(h.deps.webhooks);
    await h.stores.redis.rpush(
      h.stores.keys.webhookEvents(user.id),
      raw!,
      '{"type":"bulk_request.completed","userId":"not-a-uuid"}',
      'not json',
    );
    expect(await drainWebhookEvents(h.deps.webhooks)).toEqual({ events: 3, stored: 0, malformed: 2 });
    expect(await deliveriesOf(user.id)).toHaveLength(1);
    expect(await eventsLeft()).toBe(0);
  });

  it('two replicas draining at once store each event once and leave nothing behind', async () => {
    const users = await Promise.all(Array.from({ length: 6 }, (_, n) => userWithWebhook(`hooked_drain_${n}`)));
    for (let round = 0; round < 5; round++) {
      for (const user of users) await queueWebhookTestEvent(h.stores.redis, h.stores.keys, user.id);
    }
    const other = h.replica({ WEBHOOK_ALLOW_PRIVATE: 'true' });
    const [a, b] = await Promise.all([drainWebhookEvents(h.deps.webhooks), drainWebhookEvents(other.webhooks)]);
    expect(a.stored + b.stored).toBe(30);
    for (const user of users) expect(await deliveriesOf(user.id)).toHaveLength(5);
    expect(await eventsLeft()).toBe(0);
  });
});

describe('retention', () => {
  it('the report pass deletes finished deliveries older than REPORT_RETENTION_DAYS, with their attempts, and keeps the rest', async () => {
    const user = await userWithWebhook('hooked_old');
    for (let n = 0; n < 3; n++) await queueWebhookTestEvent(h.stores.redis, h.stores.keys, user.id);
    await runWebhookPass(h.deps.webhooks);
    const [oldDelivered, oldFailed, recent] = (await deliveriesOf(user.id)).map((row) => row.id);
    const longAgo = new Date(Date.now() - 31 * 86_400_000).toISOString();
    await h.deps.sql`update webhook_deliveries set created_at = ${longAgo} where id in ${h.deps.sql([oldDelivered!, oldFailed!])}`;
    await h.deps.sql`update webhook_deliveries set state = 'failed' where id = ${oldFailed!}`;
    // Pending however old (a retention shorter than the retry window): never deleted.
    await queueWebhookTestEvent(h.stores.redis, h.stores.keys, user.id, new Date());
    await drainWebhookEvents(h.deps.webhooks);
    const pending = (await deliveriesOf(user.id)).find((row) => row.state === 'pending')!.id;
    await h.deps.sql`update webhook_deliveries set created_at = ${longAgo} where id = ${pending}`;

    expect((await runReportPass(h.deps)).expiredWebhookDeliveries).toBe(2);
    expect((await deliveriesOf(user.id)).map((row) => row.id).sort()).toEqual([recent, pending].sort());
    expect(await attemptsOf(oldDelivered!)).toEqual([]);
    expect(await attemptsOf(recent!)).toHaveLength(1);
  });
});
