// /me/webhook: the secret is answered once, the URL rules hold at PUT (https, public addresses
// only, every address the host resolves to), a test event is queued for the report worker, and
// each user sees only their own deliveries. Delivery itself is the report worker's (its tests).
import { webhookDeliveries, webhookDeliveryAttempts, webhooks } from '@books/core/db';
import { WebhookEventSchema } from '@books/core/schemas';
import { type HostResolver, webhookDeliveryId } from '@books/core/webhooks';
import { signUp, type TestUser } from '@books/testing';
import { eq } from 'drizzle-orm';
import Compile from 'typebox/compile';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiHarness, openStores, type QueueStores, startApi } from './helpers.js';

// Host names of the tests' own: no DNS is asked, and a name can be made to resolve anywhere.
const HOSTS: Record<string, string[]> = {
  'hooks.example.test': ['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'],
  'half-private.example.test': ['93.184.215.14', '10.0.0.7'],
  'metadata.example.test': ['169.254.169.254'],
};
const resolveHost: HostResolver = async (hostname) => {
  const addresses = HOSTS[hostname];
  if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
  return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
};

let h: ApiHarness;
let stores: QueueStores;
beforeAll(async () => {
  h = await startApi('webhooks', {}, { resolveHost });
  stores = openStores(h.ctx);
});
afterAll(async () => {
  await stores?.close();
  await h?.close();
});

const put = (user: TestUser, url: unknown) => h.app.inject({ method: 'PUT', url: '/me/webhook', headers: user.auth, payload: { url } });
const call = (user: TestUser, method: 'GET' | 'DELETE' | 'POST', url: string) => h.app.inject({ method, url, headers: user.auth });

describe('PUT /me/webhook', () => {
  it('answers the secret once (201), GET never shows it, and a second PUT replaces URL and secret (200)', async () => {
    const user = await signUp(h.app);
    const first = await put(user, 'https://hooks.example.test/books');
    expect(first.statusCode).toBe(201);
    const set = first.json().data;
    expect(set).toMatchObject({ url: 'https://hooks.example.test/books', createdAt: expect.any(String) });
    expect(set.secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);

    const read = await call(user, 'GET', '/me/webhook');
    expect(read.statusCode).toBe(200);
    expect(read.json().data).toEqual({ url: set.url, createdAt: set.createdAt, updatedAt: set.updatedAt });
    expect(read.body).not.toContain(set.secret);

    const second = await put(user, 'https://hooks.example.test/v2');
    expect(second.statusCode).toBe(200);
    const replaced = second.json().data;
    expect(replaced.secret).toMatch(/^whsec_/);
    expect(replaced.secret).not.toBe(set.secret);
    expect(replaced.createdAt).toBe(set.createdAt);
    const [row] = await stores.db.select().from(webhooks).where(eq(webhooks.userId, user.id));
    expect(row).toMatchObject({ url: 'https://hooks.example.test/v2', secret: replaced.secret });
  });

  it.each([
    ['http://hooks.example.test/', 'WEBHOOK_URL_INVALID', 'must use https'],
    ['not a url', 'WEBHOOK_URL_INVALID', 'not a valid absolute URL'],
    ['https://user:pw@hooks.example.test/', 'WEBHOOK_URL_INVALID', 'user name or password'],
    ['https://127.0.0.1/hook', 'WEBHOOK_URL_FORBIDDEN_ADDRESS', 'loopback'],
    ['https://[::1]/hook', 'WEBHOOK_URL_FORBIDDEN_ADDRESS', 'loopback'],
    ['https://192.168.0.10/hook', 'WEBHOOK_URL_FORBIDDEN_ADDRESS', 'private'],
    ['https://100.64.1.1/hook', 'WEBHOOK_URL_FORBIDDEN_ADDRESS', 'carrier-grade NAT'],
    ['https://[fd00:ec2::254]/latest', 'WEBHOOK_URL_FORBIDDEN_ADDRESS', 'metadata'],
    ['https://metadata.example.test/', 'WEBHOOK_URL_FORBIDDEN_ADDRESS', 'metadata'],
    ['https://half-private.example.test/', 'WEBHOOK_URL_FORBIDDEN_ADDRESS', '10.0.0.7 is a private address'],
    ['https://nowhere.example.test/', 'WEBHOOK_URL_UNRESOLVABLE', 'ENOTFOUND'],
  ])('refuses %s with 400 %s', async (url, code, reason) => {
    const user = await signUp(h.app);
    const res = await put(user, url);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ success: false, code });
    expect(res.json().error).toContain(reason);
    expect(await stores.db.select().from(webhooks).where(eq(webhooks.userId, user.id))).toEqual([]);
  });

  it('refuses a body without a URL string (400 VALIDATION_ERROR)', async () => {
    const user = await signUp(h.app);
    for (const payload of [{}, { url: 42 }, { url: '' }]) {
      const res = await h.app.inject({ method: 'PUT', url: '/me/webhook', headers: user.auth, payload });
      expect(res.statusCode).toBe(400);
      expect(res.json().code).toBe('VALIDATION_ERROR');
    }
  });
});

describe('the /me/webhook routes', () => {
  it('all want a token (401)', async () => {
    for (const [method, url] of [
      ['PUT', '/me/webhook'],
      ['GET', '/me/webhook'],
      ['DELETE', '/me/webhook'],
      ['POST', '/me/webhook/test'],
      ['GET', '/me/webhook/deliveries'],
    ] as const) {
      const res = await h.app.inject({ method, url, payload: method === 'PUT' ? { url: 'https://hooks.example.test/' } : undefined });
      expect(res.statusCode, `${method} ${url}`).toBe(401);
      expect(res.json().code).toBe('UNAUTHORIZED');
    }
  });

  it('answer 404 when no webhook is set', async () => {
    const user = await signUp(h.app);
    for (const [method, url] of [
      ['GET', '/me/webhook'],
      ['DELETE', '/me/webhook'],
      ['POST', '/me/webhook/test'],
    ] as const) {
      const res = await call(user, method, url);
      expect(res.statusCode, `${method} ${url}`).toBe(404);
      expect(res.json().code).toBe('NOT_FOUND');
    }
    expect((await call(user, 'GET', '/me/webhook/deliveries')).json()).toEqual({ success: true, data: [], total: 0, limit: 20, offset: 0 });
  });

  it('POST /me/webhook/test queues one webhook.test event for the report worker and answers its delivery id (202)', async () => {
    const user = await signUp(h.app);
    await put(user, 'https://hooks.example.test/');
    const res = await call(user, 'POST', '/me/webhook/test');
    expect(res.statusCode).toBe(202);
    const { deliveryId, eventType } = res.json().data;
    expect(eventType).toBe('webhook.test');
    const queued = (await stores.redis.lrange(stores.keys.webhookEvents(user.id), 0, -1)).map((raw) => JSON.parse(raw));
    const mine = queued.filter((event) => event.userId === user.id);
    expect(mine).toHaveLength(1);
    expect(Compile(WebhookEventSchema).Check(mine[0])).toBe(true);
    expect(webhookDeliveryId(mine[0])).toBe(deliveryId);
  });

  it("GET /me/webhook/deliveries pages the caller's deliveries with their attempts; another user sees none of them", async () => {
    const owner = await signUp(h.app);
    const other = await signUp(h.app);
    await put(owner, 'https://hooks.example.test/');
    await put(other, 'https://hooks.example.test/other');
    const giveUpAt = new Date(Date.now() + 86_400_000);
    const requestId = '6f1c1b1e-3d7c-4b8e-9a55-0d1a2b3c4d5e';
    await stores.db.insert(webhookDeliveries).values([
      {
        id: 'msg_older',
        userId: owner.id,
        eventType: 'bulk_request.completed',
        requestId,
        payload: '{}',
        url: 'https://hooks.example.test/',
        state: 'delivered',
        attempts: 2,
        deliveredAt: new Date(),
        createdAt: new Date(Date.now() - 60_000),
        giveUpAt,
      },
      { id: 'msg_newer', userId: owner.id, eventType: 'webhook.test', payload: '{}', url: 'https://hooks.example.test/', giveUpAt },
    ]);
    await stores.db.insert(webhookDeliveryAttempts).values([
      { deliveryId: 'msg_older', attempt: 1, status: 500, durationMs: 12, error: 'the receiver answered 500' },
      { deliveryId: 'msg_older', attempt: 2, status: 204, durationMs: 8 },
    ]);

    const page = (await call(owner, 'GET', '/me/webhook/deliveries')).json();
    expect(page).toMatchObject({ total: 2, limit: 20, offset: 0 });
    expect(page.data.map((d: { id: string }) => d.id)).toEqual(['msg_newer', 'msg_older']);
    expect(page.data[0]).toMatchObject({
      eventType: 'webhook.test',
      state: 'pending',
      requestId: null,
      attempts: [],
      nextAttemptAt: expect.any(String),
    });
    expect(page.data[1]).toMatchObject({
      eventType: 'bulk_request.completed',
      requestId,
      state: 'delivered',
      nextAttemptAt: null,
      deliveredAt: expect.any(String),
      attempts: [
        { attempt: 1, status: 500, durationMs: 12, error: 'the receiver answered 500', at: expect.any(String) },
        { attempt: 2, status: 204, durationMs: 8, error: null, at: expect.any(String) },
      ],
    });
    const second = (await call(owner, 'GET', '/me/webhook/deliveries?limit=1&offset=1')).json();
    expect(second).toMatchObject({ total: 2, limit: 1, offset: 1 });
    expect(second.data.map((d: { id: string }) => d.id)).toEqual(['msg_older']);

    expect((await call(other, 'GET', '/me/webhook/deliveries')).json()).toMatchObject({ data: [], total: 0 });
  });

  it('DELETE /me/webhook removes it (204) and fails its pending deliveries; then GET answers 404', async () => {
    const user = await signUp(h.app);
    await put(user, 'https://hooks.example.test/');
    await stores.db.insert(webhookDeliveries).values({
      id: `msg_pending_${user.id}`,
      userId: user.id,
      eventType: 'webhook.test',
      payload: '{}',
      url: 'https://hooks.example.test/',
      giveUpAt: new Date(Date.now() + 86_400_000),
    });
    const res = await call(user, 'DELETE', '/me/webhook');
    expect(res.statusCode).toBe(204);
    expect(res.body).toBe('');
    expect((await call(user, 'GET', '/me/webhook')).statusCode).toBe(404);
    expect((await call(user, 'DELETE', '/me/webhook')).statusCode).toBe(404);
    const [delivery] = (await call(user, 'GET', '/me/webhook/deliveries')).json().data;
    expect(delivery).toMatchObject({ state: 'failed', nextAttemptAt: null });
  });
});

describe('WEBHOOK_ALLOW_PRIVATE=true', () => {
  it('accepts http and loopback URLs (local receivers in development and tests)', async () => {
    const lax = await startApi('webhooks-lax', { WEBHOOK_ALLOW_PRIVATE: 'true' });
    try {
      const user = await signUp(lax.app);
      const res = await lax.app.inject({
        method: 'PUT',
        url: '/me/webhook',
        headers: user.auth,
        payload: { url: 'http://127.0.0.1:4000/hook' },
      });
      expect(res.statusCode).toBe(201);
      expect(res.json().data.url).toBe('http://127.0.0.1:4000/hook');
      const ftp = await lax.app.inject({ method: 'PUT', url: '/me/webhook', headers: user.auth, payload: { url: 'ftp://127.0.0.1/' } });
      expect(ftp.json().code).toBe('WEBHOOK_URL_INVALID');
    } finally {
      await lax.close();
    }
  });
});
