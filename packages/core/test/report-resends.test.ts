// The resend queue's script applied twice, as ioredis does when it re-sends a script that was in
// flight on a dropped connection: one request queued, and not throttled by its own first run.
import { expect, it } from 'vitest';
import { readResendRequests, removeResendRequests, requestReportResend } from '../src/reports/index.js';
import { redisNamespace } from './redis-namespace.js';

const { redis, keys } = redisNamespace('report-resends');
const userId = '6f1c1b1e-3d7c-4b8e-9a55-0d1a2b3c4d5e';
const reportId = '0d1a2b3c-3d7c-4b8e-9a55-6f1c1b1e4d5e';

it('a resend request run twice is queued once and answered "queued" both times; another within the window is throttled', async () => {
  const payload = JSON.stringify({ id: 'a1b2c3d4-0000-4000-8000-000000000001', userId, reportId, requestedAt: new Date().toISOString() });
  const run = () =>
    redis.reportResendRequest(
      keys.reportResendThrottle(userId),
      keys.reportResendQueue(userId),
      'a1b2c3d4-0000-4000-8000-000000000001',
      payload,
      60_000,
    );
  expect(await run()).toBe(0);
  expect(await run()).toBe(0);
  expect(await redis.lrange(keys.reportResendQueue(userId), 0, -1)).toEqual([payload]);

  const other = await requestReportResend(redis, keys, { userId, reportId, now: new Date(), throttleMs: 60_000 });
  expect(other.queued).toBe(false);
  if (!other.queued) {
    expect(other.retryAfterMs).toBeGreaterThan(59_000);
    expect(other.retryAfterMs).toBeLessThanOrEqual(60_000);
  }
  expect(await redis.llen(keys.reportResendQueue(userId))).toBe(1);
});

it('reading leaves requests in place; removing takes exactly the entries read, not one pushed since', async () => {
  await redis.del(keys.reportResendQueue(userId), keys.reportResendThrottle(userId));
  const first = await requestReportResend(redis, keys, { userId, reportId, now: new Date(), throttleMs: 1 });
  await redis.rpush(keys.reportResendQueue(userId), 'not a request');
  if (!first.queued) throw new Error('the first request was throttled');
  const read = await readResendRequests(redis, keys, 10);
  expect(read.map((q) => q.request)).toEqual([first.request, null]);
  // Pushed after the read: still there after the removal.
  await new Promise((resolve) => setTimeout(resolve, 5));
  const later = await requestReportResend(redis, keys, { userId, reportId, now: new Date(), throttleMs: 1 });
  if (!later.queued) throw new Error('the window of 1 ms had not passed');
  await removeResendRequests(redis, read);
  expect((await readResendRequests(redis, keys, 10)).map((q) => q.request?.id)).toEqual([later.request.id]);
});
