// A completion webhook through the real processes: set with PUT /me/webhook on the API, the event
// announced by the bulk worker's last transition and the report's, delivered by the report worker
// to a real HTTP receiver in this test, signed per Standard Webhooks (verified with the
// `standardwebhooks` package and the secret the API answered once), listed in /me/webhook/deliveries.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { isbn13, type System, signUp, startSystem, tag, waitFor } from './system.js';

interface Received {
  headers: Record<string, string>;
  body: string;
}

let system: System;
let receiver: http.Server;
const received: Received[] = [];
let receiverUrl = '';

beforeAll(async () => {
  receiver = http.createServer((request, response) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => {
      received.push({ headers: request.headers as Record<string, string>, body });
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/books`;
  // A receiver on loopback over http: only with the rules lifted, as the local stack does.
  system = await startSystem('e2e-webhooks', { WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_CRON: '*/1 * * * * *' });
  await system.start('api');
  await system.start('bulk-worker');
  await system.start('report-worker');
});

afterAll(async () => {
  await system?.close();
  await new Promise((resolve) => receiver?.close(resolve));
});

it('posts a signed bulk_request.completed event for an import, verifiable with the secret answered once', async () => {
  const t = tag();
  const user = await signUp(system, `hook_${t}`);
  const set = await system.api('PUT', '/me/webhook', { token: user.token, body: { url: receiverUrl } });
  expect(set.status).toBe(201);
  const secret = set.body.data.secret as string;
  expect(secret).toMatch(/^whsec_/);
  expect(JSON.stringify((await system.api('GET', '/me/webhook', { token: user.token })).body)).not.toContain(secret);

  const books = Array.from({ length: 5 }, (_, i) => ({ title: `Hooked ${i}`, author: 'Hook', isbn: isbn13(`h${t}`, i) }));
  const submitted = await system.api('POST', '/books/bulk', { token: user.token, body: { books: [...books, { title: 'no author' }] } });
  expect(submitted.status).toBe(202);
  const { requestId } = submitted.body.data;

  await waitFor(
    async () => received.some((r) => r.body.includes(requestId)),
    60_000,
    () => system.unexpectedExits().join(),
  );
  const delivery = received.find((r) => r.body.includes(requestId))!;
  // Forged or tampered bodies fail; the real one verifies.
  expect(() => new Webhook(secret).verify(delivery.body.replace('"inserted":5', '"inserted":6'), delivery.headers)).toThrow();
  const event = new Webhook(secret).verify(delivery.body, delivery.headers) as {
    type: string;
    data: { requestId: string; submitted: number; inserted: number; failed: number; links: { request: string } };
  };
  expect(event).toMatchObject({
    type: 'bulk_request.completed',
    data: {
      requestId,
      submitted: 6,
      inserted: 5,
      failed: 1,
      links: { request: expect.stringMatching(new RegExp(`/books/bulk/${requestId}$`)) },
    },
  });
  expect(delivery.headers['webhook-id']).toMatch(/^msg_/);

  // The receiver has the POST a moment before the worker records its 2xx: wait for the record.
  type Listed = { id: string; state: string; attempts: unknown[] };
  let listed: Listed | undefined;
  await waitFor(
    async () => {
      const deliveries = await system.api('GET', '/me/webhook/deliveries', { token: user.token });
      expect(deliveries.status).toBe(200);
      listed = (deliveries.body.data as Listed[]).find((d) => d.id === delivery.headers['webhook-id']);
      return listed?.state !== 'pending';
    },
    10_000,
    () => JSON.stringify(listed),
  );
  expect(listed).toMatchObject({ state: 'delivered' });
  expect(listed!.attempts).toHaveLength(1);
  // Another user sees none of it.
  const other = await signUp(system, `hook2_${t}`);
  expect((await system.api('GET', '/me/webhook/deliveries', { token: other.token })).body.data).toEqual([]);
}, 120_000);
