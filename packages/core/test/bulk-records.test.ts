// Hashes read back from Redis are checked against their schemas: one that is not ours reads as absent.
import { randomUUID } from 'node:crypto';
import { expect, it } from 'vitest';
import { listBulkRequests, readBulkRequest } from '../src/bulk/records.js';
import { readReportStatus } from '../src/bulk/report-transitions.js';
import { submitBulkRequest } from '../src/bulk/submit.js';
import { redisNamespace } from './redis-namespace.js';

const { keys, redis } = redisNamespace('records');

it('skips a request record that fails its schema, and says so in the log', async () => {
  const userId = randomUUID();
  const book = { title: 'T', author: 'A' };
  const good = await submitBulkRequest(redis, keys, { userId, submitted: 1, valid: [{ index: 0, book }], invalid: [], now: new Date() });
  const bad = await submitBulkRequest(redis, keys, { userId, submitted: 1, valid: [{ index: 0, book }], invalid: [], now: new Date() });
  await redis.hset(keys.bulkRequest(userId, bad.requestId), 'inserted', 'many');
  const warnings: object[] = [];
  const log = { warn: (obj: object) => warnings.push(obj) };
  expect(await readBulkRequest(redis, keys, userId, bad.requestId, log)).toBeNull();
  expect((await readBulkRequest(redis, keys, userId, good.requestId))?.inserted).toBe(0);
  expect((await listBulkRequests(redis, keys, userId, log)).map((r) => r.requestId)).toEqual([good.requestId]);
  expect(warnings).toHaveLength(2);
});

it('reads a report status only when it has requests awaiting a report', async () => {
  const userId = randomUUID();
  await redis.hset(keys.bulkStatus(userId), 'stage', 'processing', 'requestIds', 'a,b');
  expect(await readReportStatus(redis, keys, userId)).toBeNull();
  await redis.hset(keys.bulkStatus(userId), 'stage', 'processed_awaiting_report', 'reportAttempts', '2');
  expect(await readReportStatus(redis, keys, userId)).toMatchObject({ requestIds: ['a', 'b'], reportAttempts: 2, sent: null });
});
