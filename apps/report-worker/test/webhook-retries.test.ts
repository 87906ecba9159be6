// A delivery that does not go through at once: retried with growing delays and the same
// webhook-id until the receiver answers 2xx or the retry window ends; an attempt that takes too
// long is a failed one; a URL whose address is not public is refused at delivery too, however
// its name resolved before (DNS rebinding), and the POST goes to the address that was checked;
// two replicas never send one delivery twice. Small windows and delays, real receivers.
import { randomBytes } from 'node:crypto';
import { webhooks } from '@books/core/db';
import { checkWebhookUrl, type HostResolver, queueWebhookTestEvent } from '@books/core/webhooks';
import { insertUser } from '@books/testing';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebhookDeps } from '../src/jobs/webhook-deps.js';
import { runWebhookPass } from '../src/jobs/webhook-pass.js';
import { type ReportHarness, startReportHarness } from './harness.js';
import { attemptRows, closedPort, deliveryRows, startWebhookReceiver } from './webhook-receiver.js';

let h: ReportHarness;
beforeAll(async () => {
  h = await startReportHarness('webhook-retries', {
    WEBHOOK_ALLOW_PRIVATE: 'true',
    WEBHOOK_RETRY_WINDOW: '3s',
    WEBHOOK_TIMEOUT_SECONDS: '1',
  });
});
afterAll(() => h?.close());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The harness's webhook deps with a first retry after `retryBaseMs` (production: a minute). */
function webhookDeps(overrides: { retryBaseMs?: number; env?: Record<string, string>; resolveHost?: HostResolver } = {}): WebhookDeps {
  const base = overrides.env ? h.replica(overrides.env).webhooks : h.deps.webhooks;
  return {
    ...base,
    resolveHost: overrides.resolveHost ?? base.resolveHost,
    settings: { ...base.settings, retryBaseMs: overrides.retryBaseMs ?? 100 },
  };
}

/** A user with a webhook to `url` and one test event queued; answers the delivery id. */
async function hookedUserWithEvent(name: string, url: string) {
  const user = await insertUser(h.stores.db, name);
  const secret = `whsec_${randomBytes(24).toString('base64')}`;
  await h.stores.db.insert(webhooks).values({ userId: user.id, url, secret });
  const deliveryId = await queueWebhookTestEvent(h.stores.redis, h.stores.keys, user.id);
  return { userId: user.id, secret, deliveryId };
}

/** books_webhook_attempts_total of the harness's worker, for one outcome. */
async function attemptsCounted(outcome: string): Promise<number> {
  const metric = await h.deps.registry.getSingleMetric('books_webhook_attempts_total')?.get();
  return metric?.values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
}

/** Runs passes until the user's delivery is no longer pending (or `ms` ran out). */
async function passUntilSettled(deps: WebhookDeps, userId: string, ms = 10_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    await runWebhookPass(deps);
    const [delivery] = await deliveryRows(h.deps.sql, userId);
    if ((delivery && delivery.state !== 'pending') || Date.now() > deadline) return delivery!;
    await sleep(50);
  }
}

describe('retries', () => {
  it('a receiver that answers 500 twice, then 200: three attempts with the same webhook-id, each signed, then delivered', async () => {
    const receiver = await startWebhookReceiver((n) => (n <= 2 ? 500 : 200));
    try {
      const user = await hookedUserWithEvent('flaky_receiver', receiver.url);
      const [retriedBefore, deliveredBefore] = [await attemptsCounted('retry_later'), await attemptsCounted('delivered')];
      const delivery = await passUntilSettled(webhookDeps(), user.userId);
      expect([(await attemptsCounted('retry_later')) - retriedBefore, (await attemptsCounted('delivered')) - deliveredBefore]).toEqual([
        2, 1,
      ]);
      expect(delivery).toMatchObject({ id: user.deliveryId, state: 'delivered', attempts: 3, deliveredAt: expect.any(String) });
      expect(receiver.received).toHaveLength(3);
      expect(new Set(receiver.received.map((r) => r.headers['webhook-id']))).toEqual(new Set([user.deliveryId]));
      for (const post of receiver.received) {
        expect(() => new Webhook(user.secret).verify(post.body, post.headers as Record<string, string>)).not.toThrow();
      }
      const attempts = await attemptRows(h.deps.sql, user.deliveryId);
      expect(attempts.map((a) => [a.attempt, a.status, a.error])).toEqual([
        [1, 500, 'the receiver answered 500'],
        [2, 500, 'the receiver answered 500'],
        [3, 200, null],
      ]);
      // Backoff: the second wait is longer than the first (100 ms, then 200 ms).
      const [first, second, third] = receiver.received.map((r) => r.at) as [number, number, number];
      expect(second - first).toBeGreaterThanOrEqual(100);
      expect(third - second).toBeGreaterThanOrEqual(200);
    } finally {
      await receiver.close();
    }
  });

  it('a receiver that is down: retried with growing delays, then failed once WEBHOOK_RETRY_WINDOW (3s) is over', async () => {
    const port = await closedPort();
    const user = await hookedUserWithEvent('down_receiver', `http://127.0.0.1:${port}/hook`);
    const started = Date.now();
    const delivery = await passUntilSettled(webhookDeps({ retryBaseMs: 200 }), user.userId);
    expect(delivery.state).toBe('failed');
    expect(Date.now() - started).toBeGreaterThanOrEqual(2900);
    const attempts = await attemptRows(h.deps.sql, user.deliveryId);
    // 0, 0.2, 0.6, 1.4 and 3.0 s (the last one at the window's end): five tries in three seconds, not one per pass.
    expect(attempts.length).toBeGreaterThanOrEqual(4);
    expect(attempts.length).toBeLessThanOrEqual(6);
    for (const attempt of attempts) {
      expect(attempt.status).toBeNull();
      expect(attempt.error).toBe(`could not reach 127.0.0.1:${port}: ECONNREFUSED`);
    }
    const gaps = attempts.slice(1).map((a, i) => Date.parse(a.at) - Date.parse(attempts[i]!.at));
    expect(gaps[1]!).toBeGreaterThan(gaps[0]!);
    expect(delivery.attempts).toBe(attempts.length);
  });

  it('a receiver that never answers: the attempt fails after WEBHOOK_TIMEOUT_SECONDS and is retried', async () => {
    const receiver = await startWebhookReceiver(() => 'hang');
    try {
      const user = await hookedUserWithEvent('silent_receiver', receiver.url);
      const summary = await runWebhookPass(webhookDeps({ retryBaseMs: 60_000 }));
      expect(summary.retry_later).toBe(1);
      const [attempt] = await attemptRows(h.deps.sql, user.deliveryId);
      expect(attempt).toMatchObject({ attempt: 1, status: null, error: 'no answer within 1000 ms' });
      expect(attempt!.durationMs).toBeGreaterThanOrEqual(950);
      expect(attempt!.durationMs).toBeLessThan(5000);
      expect((await deliveryRows(h.deps.sql, user.userId))[0]).toMatchObject({ state: 'pending', attempts: 1 });
      // Not due again for a minute: the next pass leaves it alone.
      await runWebhookPass(webhookDeps());
      expect(receiver.received).toHaveLength(1);
      // Operators see it waiting.
      const pending = await h.deps.registry.getSingleMetric('books_webhook_deliveries_pending')?.get();
      expect(pending?.values[0]?.value).toBeGreaterThanOrEqual(1);
      await h.deps.sql`update webhook_deliveries set state = 'failed' where user_id = ${user.userId}`;
    } finally {
      await receiver.close();
    }
  });
});

describe('URL rules at delivery (WEBHOOK_ALLOW_PRIVATE unset)', () => {
  const strict = { WEBHOOK_ALLOW_PRIVATE: 'false' };

  it('a webhook whose host resolves to 127.0.0.1 is refused: one failed attempt with the reason, never retried, nothing sent', async () => {
    const receiver = await startWebhookReceiver();
    try {
      // Set before the rules (or by hand): the row holds what no PUT would accept now.
      const user = await hookedUserWithEvent('loopback_hook', `https://localhost:${receiver.port}/hook`);
      const delivery = await passUntilSettled(webhookDeps({ env: strict }), user.userId);
      expect(delivery).toMatchObject({ state: 'failed', attempts: 1 });
      const [attempt] = await attemptRows(h.deps.sql, user.deliveryId);
      expect(attempt!.status).toBeNull();
      expect(attempt!.error).toMatch(/^the webhook host localhost resolves to (127\.0\.0\.1|::1) is a loopback address$/);
      expect(receiver.received).toEqual([]);
    } finally {
      await receiver.close();
    }
  });

  it('an http URL is refused at delivery, even to a public address', async () => {
    const user = await hookedUserWithEvent('http_hook', 'http://93.184.215.14/hook');
    const delivery = await passUntilSettled(webhookDeps({ env: strict }), user.userId);
    expect(delivery).toMatchObject({ state: 'failed', attempts: 1, lastError: 'the webhook URL must use https' });
  });

  it('DNS rebinding: a name that was public when checked and resolves to 127.0.0.1 at delivery is refused', async () => {
    const receiver = await startWebhookReceiver();
    try {
      const answers = [['93.184.215.14'], ['127.0.0.1']];
      let lookups = 0;
      const rebinding: HostResolver = async () =>
        (answers[Math.min(lookups++, answers.length - 1)] ?? []).map((address) => ({ address, family: 4 }));
      const url = `https://rebind.example.test:${receiver.port}/hook`;
      // What PUT /me/webhook saw.
      expect(await checkWebhookUrl(url, { allowPrivate: false, resolve: rebinding })).toMatchObject({ ok: true });
      const user = await hookedUserWithEvent('rebound_hook', url);
      const delivery = await passUntilSettled(webhookDeps({ env: strict, resolveHost: rebinding }), user.userId);
      expect(delivery).toMatchObject({
        state: 'failed',
        attempts: 1,
        lastError: 'the webhook host rebind.example.test resolves to 127.0.0.1 is a loopback address',
      });
      // One resolution at delivery, checked, and nothing sent.
      expect(lookups).toBe(2);
      expect(receiver.received).toEqual([]);
    } finally {
      await receiver.close();
    }
  });

  it('the POST goes to the address that was checked, not to a second resolution', async () => {
    const receiver = await startWebhookReceiver();
    try {
      // The system resolver knows no such name: only the pinned address can reach the receiver.
      let lookups = 0;
      const once: HostResolver = async () =>
        lookups++ === 0 ? [{ address: '127.0.0.1', family: 4 }] : [{ address: '10.9.9.9', family: 4 }];
      const user = await hookedUserWithEvent('pinned_hook', `http://pinned.example.test:${receiver.port}/hook`);
      const delivery = await passUntilSettled(webhookDeps({ resolveHost: once }), user.userId);
      expect(delivery).toMatchObject({ state: 'delivered', attempts: 1 });
      expect(lookups).toBe(1);
      expect(receiver.received).toHaveLength(1);
      expect(receiver.received[0]!.headers.host).toBe(`pinned.example.test:${receiver.port}`);
    } finally {
      await receiver.close();
    }
  });
});

describe('replicas', () => {
  it('two report workers passing at once send each delivery once', async () => {
    // Slow answers, so that the second replica's claim comes while the first one's POSTs are in flight.
    const receiver = await startWebhookReceiver(() => 200, { delayMs: 300 });
    try {
      const users = [];
      for (let n = 0; n < 8; n++) users.push(await hookedUserWithEvent(`replica_hook_${n}`, receiver.url));
      const a = webhookDeps();
      const b = webhookDeps({ env: {} });
      const [first, second] = await Promise.all([runWebhookPass(a), runWebhookPass(b)]);
      await Promise.all([runWebhookPass(a), runWebhookPass(b)]);
      expect(first.delivered + second.delivered).toBe(8);
      const ids = receiver.received.map((r) => r.headers['webhook-id']);
      expect(ids.sort()).toEqual(users.map((u) => u.deliveryId).sort());
      for (const user of users) expect(await attemptRows(h.deps.sql, user.deliveryId)).toHaveLength(1);
    } finally {
      await receiver.close();
    }
  });
});
