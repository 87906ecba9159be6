// A datastore restarted under the real processes: Postgres killed (SIGKILL, crash recovery on
// start) and then Redis stopped and started, both in the middle of a drain. Every process must
// ride it out without exiting (postgres.js once threw out of its socket code here and killed the
// bulk workers), and the import must still end exactly as without the restarts.
import { createPrivatePostgres, createPrivateRedis, type PrivatePostgres, type PrivateRedis, reportsTo } from '@books/testing';
import postgres from 'postgres';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { isbn13, type System, signUp, startSystem, tag, waitFor } from './system.js';

let pg: PrivatePostgres;
let redis: PrivateRedis;
let system: System;
let databaseUrl: string;

beforeAll(async () => {
  [pg, redis] = await Promise.all([createPrivatePostgres(), createPrivateRedis({ aof: true })]);
  await redis.start();
  databaseUrl = await pg.migratedDatabase('books');
  system = await startSystem('e2e-restarts', {
    DATABASE_URL: databaseUrl,
    REDIS_URL: redis.url,
    // Small chunks and several users at once: the drain lasts long enough to be hit in its middle,
    // with queries in flight on several connections when the server goes away.
    BULK_CHUNK_SIZE: '100',
    BULK_CONCURRENCY: '4',
    BULK_LEASE_SECONDS: '3',
    BULK_RETRY_BASE_SECONDS: '1',
    BULK_MAX_ATTEMPTS: '100',
    REPORT_RETRY_BASE_SECONDS: '1',
    REPORT_MAX_ATTEMPTS: '100',
  });
  await system.start('api');
});

afterAll(async () => {
  await system?.close();
  await Promise.allSettled([pg?.destroy(), redis?.destroy()]);
});

/** Books in the database, or null while it is down. */
async function countBooks(): Promise<number | null> {
  const sql = postgres(databaseUrl, { max: 1, connect_timeout: 2, onnotice: () => {} });
  try {
    return (await sql<{ n: number }[]>`select count(*)::int as n from books`)[0]!.n;
  } catch {
    return null;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Waits until a bulk worker's transaction has written something, so the crash lands inside it:
 * the driver then has a rollback to send on a connection that just lost its socket.
 */
async function waitForOpenTransaction(): Promise<void> {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    await waitFor(
      async () => (await sql`select 1 from pg_stat_activity where backend_xid is not null and pid <> pg_backend_pid()`).length > 0,
      30_000,
    );
  } finally {
    void sql.end({ timeout: 0 });
  }
}

it('a Postgres crash and a Redis restart during a drain: no process exits, every book once, each request completed and emailed once', async () => {
  const t = tag();
  const users = await Promise.all([0, 1, 2, 3].map((n) => signUp(system, `restart${n}_${t}`)));
  const perUser = 3000;
  const total = users.length * perUser;
  const requestIds: string[] = [];
  for (const [n, user] of users.entries()) {
    const books = Array.from({ length: perUser }, (_, i) => ({ title: `R${n} ${i}`, author: 'Author', isbn: isbn13(200 + n, i) }));
    const res = await system.api('POST', '/books/bulk', { token: user.token, body: { books } });
    expect(res.status).toBe(202);
    requestIds.push(res.body.data.requestId);
  }
  const [, , reportWorker] = await Promise.all([system.start('bulk-worker'), system.start('bulk-worker'), system.start('report-worker')]);
  const exits = () => JSON.stringify(system.unexpectedExits(), null, 2);

  const crashPostgres = async () => {
    await waitForOpenTransaction();
    await pg.kill();
  };
  // Postgres crashes twice, then Redis restarts cleanly, each once the drain has gone further.
  const outages = [
    { at: 0.15, what: 'Postgres killed', down: crashPostgres, up: () => pg.start() },
    { at: 0.35, what: 'Postgres killed', down: crashPostgres, up: () => pg.start() },
    { at: 0.6, what: 'Redis stopped', down: () => redis.stop(), up: () => redis.start() },
  ];
  const hits: string[] = [];
  for (const outage of outages) {
    await waitFor(async () => ((await countBooks()) ?? 0) >= total * outage.at, 120_000, exits);
    const before = await countBooks();
    await outage.down();
    await sleep(2000);
    await outage.up();
    hits.push(`${outage.what} at ${before}/${total} books`);
    expect(before, `${outage.what} in the middle of the drain`).toBeLessThan(total);
  }
  console.log(`[restarts] ${hits.join(', ')}`);

  const stageOf = async (n: number) =>
    (await system.api('GET', `/books/bulk/${requestIds[n]}`, { token: users[n]!.token }).catch(() => null))?.body?.data?.stage;
  // On a timeout, say where each request stood and what the report worker said last.
  let stages: unknown[] = [];
  await waitFor(
    async () => {
      stages = await Promise.all(users.map((_, n) => stageOf(n)));
      return stages.every((stage) => stage === 'completed');
    },
    180_000,
    () => `stages ${JSON.stringify(stages)}; report worker's last output:\n${reportWorker!.output().slice(-4000)}\n${exits()}`,
  );

  expect(system.unexpectedExits()).toEqual([]);
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql<{ n: number; distinct: number }[]>`
      select count(*)::int as n, count(distinct (bulk_request_id, bulk_item_index))::int as distinct from books`;
    expect(row).toEqual({ n: total, distinct: total });
  } finally {
    await sql.end();
  }
  for (const [n, user] of users.entries()) {
    const { body } = await system.api('GET', `/books/bulk/${requestIds[n]}`, { token: user.token });
    expect(body.data).toMatchObject({ stage: 'completed', inserted: perUser, failed: 0 });
  }
  // A few more report passes: still one email each.
  await sleep(3000);
  for (const user of users) expect(reportsTo(system.smtp, user.email)).toHaveLength(1);
  expect(system.unexpectedExits()).toEqual([]);
});
