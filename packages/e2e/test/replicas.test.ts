// Many replicas of every process on one Redis Cluster (3 masters on loopback) and one Postgres: 3 APIs,
// 3 bulk workers and 2 report workers under a known load (50 users × 5 imports, submitted through the
// APIs in turn), the users' keys spread over the cluster's masters by their shards. Every valid
// book goes in exactly once, every report is one email, each worker replica shows in /admin/stats,
// and no replica fights another over a lease: with nobody killed, no lease is ever lost.
import { freePort, requestJson, verifyEmail } from '@books/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { expectFinalState, failOnUnexpectedExit } from './faults/final-state.js';
import { type Rig, startRig } from './faults/rig.js';
import { type PlannedImport, planImport, seededRandom, suiteSeed } from './faults/workload.js';
import { type RunningProcess, signUp, tag, waitFor } from './system.js';

const LABEL = 'replicas';
const USERS = 50;
const IMPORTS_PER_USER = 5;
const BOOKS_PER_IMPORT = 20;

let rig: Rig;
const apiBases: string[] = [];
const workers: RunningProcess[] = [];

beforeAll(async () => {
  rig = await startRig(
    'e2e-replicas',
    {
      ADMIN_EMAILS: 'replicas-admin@example.com',
      HEARTBEAT_INTERVAL_SECONDS: '1',
      // Leases long enough that a replica on a busy machine never outlives its own: a lost lease
      // here is a fight between live replicas, the thing this test looks for.
      BULK_LEASE_SECONDS: '20',
      REPORT_LEASE_SECONDS: '20',
      BULK_CHUNK_SIZE: '20',
    },
    { redisCluster: true },
  );
  await rig.system.start('api');
  apiBases.push(rig.system.baseUrl);
  for (let i = 0; i < 2; i++) {
    const port = await freePort();
    const api = await rig.system.start('api', { PORT: String(port) });
    const base = `http://127.0.0.1:${port}`;
    await waitFor(
      async () => (await fetch(`${base}/health/ready`).catch(() => null))?.ok === true,
      60_000,
      () => api.output(),
    );
    apiBases.push(base);
  }
});

afterAll(() => rig?.close());

/** Runs `fn` over `items`, `limit` at a time. */
async function inBatches<T>(items: T[], limit: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i] as T, i);
      }
    }),
  );
}

it('3 APIs, 3 bulk workers and 2 report workers on a Redis Cluster: every book once, one email per report, no lease fights', async () => {
  const { system } = rig;
  const random = seededRandom(suiteSeed(LABEL));
  const t = tag();
  const users = new Array(USERS);
  await inBatches([...users.keys()], 5, async (n) => {
    users[n] = await signUp(system, `rep${n}_${t}`);
  });
  for (let i = 0; i < 3; i++) workers.push(await system.start('bulk-worker'));
  for (let i = 0; i < 2; i++) workers.push(await system.start('report-worker'));

  const plans: PlannedImport[] = users.flatMap((user) =>
    Array.from({ length: IMPORTS_PER_USER }, (_, k) => planImport(user, k + 1, BOOKS_PER_IMPORT, random)),
  );
  // Every API replica takes its share of the submissions, concurrently.
  await inBatches(plans, 12, async (plan, i) => {
    const res = await requestJson(apiBases[i % apiBases.length]!, 'POST', '/books/bulk', {
      token: plan.user.token,
      body: { books: plan.books },
    });
    plan.status = res.status;
    plan.body = res.body;
    plan.requestId = (res.body as { data?: { requestId?: string } })?.data?.requestId;
  });
  expect(plans.filter((plan) => plan.status !== 202)).toEqual([]);

  // Every replica is seen alive by every API (heartbeats in the shared Redis).
  const admin = await signUp(system, `repadmin_${t}`, 'replicas-admin@example.com');
  await verifyEmail(rig.databaseUrl, admin.id);
  const alive = async (base: string) => {
    const stats = await requestJson(base, 'GET', '/admin/stats', { token: admin.token });
    const live = (stats.body as { data: { workers: Record<string, { alive: number }> } }).data.workers;
    return { bulk: live['bulk-worker']!.alive, report: live['report-worker']!.alive };
  };
  for (const base of apiBases) {
    await waitFor(
      async () => JSON.stringify(await alive(base)) === '{"bulk":3,"report":2}',
      20_000,
      () => base,
    );
  }

  await expectFinalState(rig, LABEL, plans);
  failOnUnexpectedExit(system, LABEL);

  // The replicas shared the work and never took it from each other.
  const output = workers.map((worker) => worker.output());
  const fights = output.flatMap((text) =>
    text.split('\n').filter((line) => /lost the lease|already past processing|finished elsewhere meanwhile/.test(line)),
  );
  expect(fights, `${LABEL}: lease fights in the workers' logs`).toEqual([]);
  const busy = output.slice(0, 3).map((text) => (text.match(/"msg":"bulk request processed"/g) ?? []).length);
  console.log(`[${LABEL}] requests processed per bulk worker replica: ${busy.join(', ')}`);
  expect(busy.reduce((sum, n) => sum + n, 0)).toBe(plans.length);
  expect(busy.filter((n) => n > 0).length, `${LABEL}: bulk worker replicas that did some of the work`).toBeGreaterThanOrEqual(2);
}, 300_000);
