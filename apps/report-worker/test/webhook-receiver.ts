// A real webhook receiver on 127.0.0.1 for the tests: records every request and answers what the
// test scripts (a status per request, or no answer at all).
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Sql } from 'postgres';

export interface ReceivedWebhook {
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

/** The answer to the request number `n` (from 1): a status, or 'hang' to never answer. */
export type Respond = (n: number) => number | 'hang';

export interface WebhookReceiver {
  port: number;
  url: string;
  received: ReceivedWebhook[];
  close(): Promise<void>;
}

export async function startWebhookReceiver(respond: Respond = () => 204, options: { delayMs?: number } = {}): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() });
      const answer = respond(received.length);
      if (answer === 'hang') return;
      setTimeout(() => response.writeHead(answer).end(), options.delayMs ?? 0);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: `http://127.0.0.1:${port}/hook`,
    received,
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

/** A port nothing listens on: a receiver that is down. */
export async function closedPort(): Promise<number> {
  const receiver = await startWebhookReceiver();
  await receiver.close();
  return receiver.port;
}

/** A user's delivery rows, oldest first, as the API's GET /me/webhook/deliveries reads them. */
export const deliveryRows = (sql: Sql, userId: string) =>
  sql<
    {
      id: string;
      eventType: string;
      requestId: string | null;
      state: string;
      attempts: number;
      deliveredAt: Date | null;
      lastError: string | null;
    }[]
  >`
    select id, event_type as "eventType", request_id as "requestId", state, attempts, delivered_at as "deliveredAt", last_error as "lastError"
    from webhook_deliveries where user_id = ${userId} order by created_at, id`;

/** A delivery's attempts, in order. */
export const attemptRows = (sql: Sql, deliveryId: string) =>
  sql<{ attempt: number; at: string; status: number | null; durationMs: number; error: string | null }[]>`
    select attempt, at, status, duration_ms as "durationMs", error
    from webhook_delivery_attempts where delivery_id = ${deliveryId} order by attempt`;
