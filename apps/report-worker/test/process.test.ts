// The real apps/report-worker process, on a seconds-level schedule, sending to a real SMTP server
// and to a real webhook receiver.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { readReportStatus } from '@books/core/bulk';
import { createDb, type DbHandle, webhooks } from '@books/core/db';
import { createRedisKeys, type RedisClient } from '@books/core/redis';
import {
  createSmtpCatcher,
  createTestContext,
  createTestRedis,
  finishImport,
  insertUser,
  type SmtpCatcher,
  type TestContext,
} from '@books/testing';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startWebhookReceiver, type WebhookReceiver } from './webhook-receiver.js';

const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
let ctx: TestContext;
let smtp: SmtpCatcher;
let handle: DbHandle;
let redis: RedisClient;
let worker: ChildProcess | undefined;
let receiver: WebhookReceiver;
let output = '';
beforeAll(async () => {
  receiver = await startWebhookReceiver();
  smtp = await createSmtpCatcher();
  await smtp.start();
  ctx = await createTestContext('report-process', smtp.env);
  handle = createDb(ctx.database.url, { max: 2 });
  redis = createTestRedis();
});
afterAll(async () => {
  worker?.kill('SIGKILL');
  redis?.disconnect();
  await handle?.close();
  await smtp?.stop();
  await receiver?.close();
  await ctx?.cleanup();
});

it('the report-worker process mails a finished import on its schedule, posts its webhook, clears the status and stops cleanly on SIGTERM', async () => {
  const keys = createRedisKeys(ctx.namespace.prefix);
  const user = await insertUser(handle.db);
  const secret = `whsec_${randomBytes(24).toString('base64')}`;
  await handle.db.insert(webhooks).values({ userId: user.id, url: receiver.url, secret });
  const requestId = await finishImport({ db: handle.db, redis, keys }, user.id, [
    { title: 'Process volume 1', author: 'A' },
    { title: 'Process volume 2', author: 'B' },
    { title: 'No author at all' },
  ]);
  expect(await readReportStatus(redis, keys, user.id)).not.toBeNull();

  worker = spawn(process.execPath, [main], {
    env: { ...ctx.env, REPORT_CRON: '*/1 * * * * *', WEBHOOK_CRON: '*/1 * * * * *', WEBHOOK_ALLOW_PRIVATE: 'true', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  worker.stdout?.on('data', (chunk) => (output += chunk));
  worker.stderr?.on('data', (chunk) => (output += chunk));

  await expect
    .poll(() => smtp.messages.filter((m) => m.envelope.to.includes(user.email)).length, { timeout: 20_000, interval: 250 })
    .toBe(1);
  const [mail] = smtp.messages.filter((m) => m.envelope.to.includes(user.email));
  expect(mail!.parsed.subject).toBe('Your book import: 2 of 3 added, 1 failed');
  expect(mail!.parsed.attachments.some((a) => a.contentType === 'application/pdf' && a.content.length > 0)).toBe(true);
  await expect.poll(() => readReportStatus(redis, keys, user.id), { timeout: 10_000, interval: 250 }).toBeNull();
  expect(await redis.exists(keys.bulkStatus(user.id))).toBe(0);
  expect(output).toContain('report-worker scheduled');
  // The report completed the request; its webhook follows within a second or two.
  await expect.poll(() => receiver.received.length, { timeout: 10_000, interval: 250 }).toBe(1);
  const [post] = receiver.received;
  expect(new Webhook(secret).verify(post!.body, post!.headers as Record<string, string>)).toMatchObject({
    type: 'bulk_request.completed',
    data: { requestId, submitted: 3, inserted: 2, failed: 1, links: { request: `http://localhost:3002/books/bulk/${requestId}` } },
  });

  const exited = new Promise<number | null>((resolve) => worker?.once('exit', (code) => resolve(code)));
  worker.kill('SIGTERM');
  expect(await exited).toBe(0);
  expect(output).toContain('stopped');
});
