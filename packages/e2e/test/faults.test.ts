// Faults through the real processes: a bulk worker killed with SIGKILL in the middle of a request
// while another runs, and an SMTP outage during a report pass. The heavier fault scenarios (private
// Postgres and Redis killed, Redis frozen, a slow SMTP server) are in faults/.
import { createRedisKeys } from '@books/core/redis';
import { reportsTo } from '@books/testing';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isbn13, type System, signUp, startSystem, tag, waitFor } from './system.js';

describe('a bulk worker killed mid-request', () => {
  let system: System;
  let sql: postgres.Sql;
  beforeAll(async () => {
    system = await startSystem('e2e-kill', {
      BULK_CHUNK_SIZE: '50',
      BULK_LEASE_SECONDS: '3',
      BULK_CONCURRENCY: '2',
      BULK_MAX_BOOKS: '10000',
    });
    await system.start('api');
    sql = postgres(system.ctx.database.url, { max: 1 });
  });
  afterAll(async () => {
    await sql?.end();
    await system?.close();
  });

  it('loses nothing and duplicates nothing once the lease expires and the other worker takes over', async () => {
    const t = tag();
    const users = await Promise.all([0, 1, 2, 3].map((n) => signUp(system, `k${n}_${t}`)));
    const perUser = 3000;
    const requestIds: string[] = [];
    for (const [n, user] of users.entries()) {
      const books = Array.from({ length: perUser }, (_, i) => ({ title: `K${n} ${i}`, author: 'Author', isbn: isbn13(100 + n, i) }));
      const res = await system.api('POST', '/books/bulk', { token: user.token, body: { books } });
      expect(res.status).toBe(202);
      requestIds.push(res.body.data.requestId);
    }
    const total = users.length * perUser;
    const count = async () => (await sql<{ n: number }[]>`select count(*)::int as n from books`)[0]!.n;

    const [victim] = await Promise.all([system.start('bulk-worker'), system.start('bulk-worker')]);
    await waitFor(async () => (await count()) > 0, 30_000);
    const atKill = await count();
    victim!.child.kill('SIGKILL');
    expect(await victim!.exited).toBeNull();
    expect(atKill).toBeLessThan(total);

    const stage = async (user: (typeof users)[number], requestId: string) =>
      (await system.api('GET', `/books/bulk/${requestId}`, { token: user.token })).body.data;
    await waitFor(
      async () => (await Promise.all(users.map((u, n) => stage(u, requestIds[n]!)))).every((r) => r.stage === 'processed_awaiting_report'),
      60_000,
    );

    const [row] = await sql<{ n: number; distinct: number }[]>`
      select count(*)::int as n, count(distinct (bulk_request_id, bulk_item_index))::int as distinct from books`;
    expect(row).toEqual({ n: total, distinct: total });
    for (const [n, user] of users.entries()) {
      expect(await stage(user, requestIds[n]!)).toMatchObject({ inserted: perUser, failed: 0 });
    }
  });
});

describe('SMTP down during a report pass', () => {
  let system: System;
  beforeAll(async () => {
    system = await startSystem('e2e-smtp', { REPORT_RETRY_BASE_SECONDS: '1' });
    await system.start('api');
  });
  afterAll(() => system?.close());

  it('keeps the report pending and delivers it exactly once when SMTP is back', async () => {
    const user = await signUp(system, `outage_${tag()}`);
    const res = await system.api('POST', '/books/bulk', { token: user.token, body: { books: [{ title: 'Patience', author: 'P' }] } });
    const { requestId } = res.body.data;
    await system.start('bulk-worker');
    await waitFor(
      async () =>
        (await system.api('GET', `/books/bulk/${requestId}`, { token: user.token })).body.data.stage === 'processed_awaiting_report',
      30_000,
    );

    await system.smtp.stop();
    const redis = new Redis(system.ctx.env.REDIS_URL!);
    try {
      const keys = createRedisKeys(system.ctx.namespace.prefix);
      const report = await system.start('report-worker');
      await waitFor(
        async () => Number(await redis.hget(keys.bulkStatus(user.id), 'reportAttempts')) >= 1,
        30_000,
        () => report.output(),
      );
      expect((await system.api('GET', `/books/bulk/${requestId}`, { token: user.token })).body.data.stage).toBe(
        'processed_awaiting_report',
      );
      // A readable reason, not the socket error (that goes to the logs).
      expect(await redis.hget(keys.bulkStatus(user.id), 'lastError')).toMatch(/mail server/i);
    } finally {
      redis.disconnect();
      await system.smtp.start();
    }
    await waitFor(
      async () => (await system.api('GET', `/books/bulk/${requestId}`, { token: user.token })).body.data.stage === 'completed',
      60_000,
    );
    // A few more passes: still one message.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect(reportsTo(system.smtp, user.email)).toHaveLength(1);
  });
});
