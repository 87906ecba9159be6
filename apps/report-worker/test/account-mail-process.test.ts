// The real report-worker process sends account emails within seconds on its default schedule, and
// after an SMTP outage sends each exactly once.
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { enqueueAccountMail } from '@books/core/account-mail';
import { createRedisKeys, type RedisClient } from '@books/core/redis';
import { createSmtpCatcher, createTestContext, createTestRedis, type SmtpCatcher, type TestContext } from '@books/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';

const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
let ctx: TestContext;
let smtp: SmtpCatcher;
let redis: RedisClient;
let worker: ChildProcess | undefined;
let output = '';
beforeAll(async () => {
  smtp = await createSmtpCatcher();
  await smtp.start();
  ctx = await createTestContext('account-mail-process', smtp.env);
  redis = createTestRedis();
  // The default schedules: reports every 5 minutes, account mail every 2 seconds.
  worker = spawn(process.execPath, [main], {
    env: { ...ctx.env, REPORT_RETRY_BASE_SECONDS: '1', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  worker.stdout?.on('data', (chunk) => (output += chunk));
  worker.stderr?.on('data', (chunk) => (output += chunk));
});
afterAll(async () => {
  worker?.kill('SIGKILL');
  redis?.disconnect();
  await smtp?.stop();
  await ctx?.cleanup();
});

const keys = () => createRedisKeys(ctx.namespace.prefix);
const verifyEmail = (to: string) =>
  enqueueAccountMail(redis, keys(), {
    kind: 'verify-email',
    to,
    username: 'process_reader',
    link: `http://localhost:3002/auth/verify-email/${to.replace(/\W/g, '')}-process-token`,
    expiresAt: new Date(Date.now() + 24 * 3_600_000).toISOString(),
  });
const received = (to: string) => smtp.messages.filter((m) => m.envelope.to.includes(to));

it('sends a queued verification email within seconds, not on the report schedule', async () => {
  await expect.poll(() => output, { timeout: 20_000, interval: 100 }).toContain('account-mail scheduled');
  expect(output).toContain('"cron":"0 */5 * * * *"');
  const queuedAt = Date.now();
  const mail = await verifyEmail('prompt@example.com');
  await expect.poll(() => received(mail.to).length, { timeout: 10_000, interval: 100 }).toBe(1);
  expect(Date.now() - queuedAt).toBeLessThan(6_000);
  const [got] = received(mail.to);
  expect(got!.parsed.messageId).toBe(`<account-${mail.id}@books.test>`);
  expect(got!.parsed.subject).toBe('Confirm your email address');
  await expect.poll(() => redis.hlen(keys().accountMailMessages()), { timeout: 5_000, interval: 100 }).toBe(0);
});

it('after an SMTP outage, delivers every email queued during it exactly once', async () => {
  await smtp.stop();
  const mails = await Promise.all(['outage1@example.com', 'outage2@example.com', 'outage3@example.com'].map(verifyEmail));
  await expect.poll(() => output, { timeout: 15_000, interval: 200 }).toContain('account mail attempt failed; retried with backoff');
  expect(mails.every((mail) => received(mail.to).length === 0)).toBe(true);
  await smtp.start();
  for (const mail of mails) await expect.poll(() => received(mail.to).length, { timeout: 20_000, interval: 200 }).toBe(1);
  // A few more passes: nothing is sent twice.
  await new Promise((resolve) => setTimeout(resolve, 5_000));
  for (const mail of mails) {
    expect(received(mail.to)).toHaveLength(1);
    expect(received(mail.to)[0]!.parsed.messageId).toBe(`<account-${mail.id}@books.test>`);
  }
  expect(output).not.toContain('-process-token');

  const exited = new Promise<number | null>((resolve) => worker?.once('exit', (code) => resolve(code)));
  worker?.kill('SIGTERM');
  expect(await exited).toBe(0);
  expect(output).toContain('stopped');
});
