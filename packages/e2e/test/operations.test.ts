// What an operator sees of the real processes: Prometheus metrics that move by exactly what was
// done, worker heartbeats in /admin/stats that appear and expire, and worker probes that follow
// Redis going away and coming back.
import { createPrivateRedis, freePort, type PrivateRedis, reportsTo, verifyEmail } from '@books/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { isbn13, type RunningProcess, type System, signUp, startSystem, tag, waitFor } from './system.js';

let system: System;
const ports = { api: 0, 'bulk-worker': 0, 'report-worker': 0 };
const procs: Partial<Record<keyof typeof ports, RunningProcess>> = {};

beforeAll(async () => {
  system = await startSystem('e2e-operations', { ADMIN_EMAILS: 'ops-admin@example.com', HEARTBEAT_INTERVAL_SECONDS: '1' });
  for (const service of ['api', 'bulk-worker', 'report-worker'] as const) {
    ports[service] = await freePort();
    procs[service] = await system.start(service, { METRICS_PORT: String(ports[service]) });
  }
  await Promise.all(
    (['bulk-worker', 'report-worker'] as const).map((service) =>
      waitFor(
        async () => (await probe(ports[service], '/health/ready')).status === 200,
        20_000,
        () => procs[service]!.output(),
      ),
    ),
  );
});

afterAll(async () => {
  await system?.close();
});

async function scrape(port: number): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return response.text();
}

async function probe(port: number, path: string): Promise<{ status: number; body: { status?: string; checks?: Record<string, string> } }> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(5000) });
    return { status: response.status, body: (await response.json()) as { status?: string; checks?: Record<string, string> } };
  } catch {
    return { status: 0, body: {} };
  }
}

/** The value of one series in Prometheus text (labels in any order), or undefined if absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([key, value]) => found[key] === value)) return Number(match[3]);
  }
  return undefined;
}

it('each process serves /metrics on its own port, and the counters move by exactly what one import did', async () => {
  const t = tag();
  const user = await signUp(system, `metrics_${t}`);
  const before = {
    api: await scrape(ports.api),
    bulk: await scrape(ports['bulk-worker']),
    report: await scrape(ports['report-worker']),
  };
  // Default process metrics in every process.
  for (const text of Object.values(before)) expect(sample(text, 'process_cpu_seconds_total')).toBeGreaterThan(0);
  // Not on the public port (METRICS_ON_API_PORT is off).
  expect((await system.api('GET', '/metrics')).status).toBe(404);

  const valid = Array.from({ length: 37 }, (_, i) => ({
    title: `Metric ${i}`,
    author: 'Ops',
    isbn: isbn13(`m${t}`, i),
    publishedYear: 2001,
  }));
  // Two rows that fail in the worker (the same ISBN twice in one import: the second is a duplicate).
  const duplicates = [valid[0], valid[1]];
  const submitted = await system.api('POST', '/books/bulk', { token: user.token, body: { books: [...valid, ...duplicates] } });
  expect(submitted.status).toBe(202);
  await waitFor(async () => reportsTo(system.smtp, user.email).length === 1, 30_000);

  const list = () => system.api('GET', '/books?limit=5', { token: user.token });
  expect((await list()).status).toBe(200);
  expect((await list()).status).toBe(200);

  const after = {
    api: await scrape(ports.api),
    bulk: await scrape(ports['bulk-worker']),
    report: await scrape(ports['report-worker']),
  };
  const delta = (which: keyof typeof before, name: string, labels?: Record<string, string>) =>
    (sample(after[which], name, labels) ?? 0) - (sample(before[which], name, labels) ?? 0);

  expect(delta('api', 'books_bulk_submissions_total')).toBe(1);
  expect(delta('api', 'books_bulk_queued_books_total')).toBe(39);
  expect(delta('api', 'http_request_duration_seconds_count', { route: '/books/bulk', method: 'POST', status_code: '202' })).toBe(1);
  // Route templates, never raw URLs: the query string is not a label.
  expect(delta('api', 'http_request_duration_seconds_count', { route: '/books', method: 'GET', status_code: '200' })).toBe(2);
  expect(after.api).not.toContain('limit=5');
  expect(delta('api', 'books_cache_requests_total', { result: 'hit' })).toBeGreaterThanOrEqual(1);
  expect(
    delta('api', 'books_cache_requests_total', { result: 'miss' }) + delta('api', 'books_cache_requests_total', { result: 'hit' }),
  ).toBe(2);

  expect(delta('bulk', 'books_bulk_books_inserted_total')).toBe(37);
  expect(delta('bulk', 'books_bulk_books_failed_total')).toBe(2);
  expect(delta('bulk', 'books_bulk_requests_finished_total', { outcome: 'completed' })).toBe(1);
  expect(delta('bulk', 'books_bulk_pass_duration_seconds_count')).toBeGreaterThanOrEqual(1);
  expect(sample(after.bulk, 'books_bulk_pending_requests')).toBe(0);
  expect(sample(after.bulk, 'books_bulk_pending_books')).toBe(0);

  expect(delta('report', 'books_reports_sent_total')).toBe(1);
  expect(delta('report', 'books_report_render_duration_seconds_count')).toBe(1);
  expect(delta('report', 'books_report_smtp_send_duration_seconds_count')).toBe(1);
  expect(sample(after.report, 'books_reports_pending')).toBe(0);
  expect(sample(after.report, 'books_report_render_threads_recycled_total')).toBe(0);

  // No user or request id is ever a label value.
  for (const text of Object.values(after)) {
    expect(text).not.toContain(user.id);
    expect(text).not.toContain((submitted.body as { data: { requestId: string } }).data.requestId);
  }
}, 60_000);

it('the queue gauges count what waits, read from the pending index', async () => {
  // The bulk worker is paused (SIGSTOP) so that the import waits; its metrics listener then cannot
  // answer either, so a second bulk worker serves the gauges meanwhile.
  const t = tag();
  const user = await signUp(system, `gauges_${t}`);
  const port = await freePort();
  const observer = await system.start('bulk-worker', { METRICS_PORT: String(port), BULK_CRON: '0 0 1 1 *' });
  await waitFor(
    async () => (await probe(port, '/health/ready')).status === 200,
    20_000,
    () => observer.output(),
  );
  procs['bulk-worker']!.child.kill('SIGSTOP');
  try {
    const books = Array.from({ length: 12 }, (_, i) => ({ title: `Gauge ${i}`, author: 'Ops', isbn: isbn13(`g${t}`, i) }));
    expect((await system.api('POST', '/books/bulk', { token: user.token, body: { books } })).status).toBe(202);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const text = await scrape(port);
    expect(sample(text, 'books_bulk_pending_requests')).toBe(1);
    expect(sample(text, 'books_bulk_pending_books')).toBe(12);
    expect(sample(text, 'books_bulk_oldest_pending_age_seconds')).toBeGreaterThanOrEqual(1);
  } finally {
    procs['bulk-worker']!.child.kill('SIGCONT');
    await system.kill(observer, 'SIGTERM');
  }
  await waitFor(async () => sample(await scrape(ports['bulk-worker']), 'books_bulk_pending_requests') === 0, 20_000);
}, 60_000);

it('worker heartbeats show in /admin/stats and in Redis, and a killed worker drops out by itself', async () => {
  const admin = await signUp(system, `ops_${tag()}`, 'ops-admin@example.com');
  await verifyEmail(system.ctx.database.url, admin.id);
  const stats = async () => (await system.api('GET', '/admin/stats', { token: admin.token })).body.data.workers;

  await waitFor(async () => (await stats())['bulk-worker'].replicas[0]?.lastPassEndedAt != null, 10_000);
  const live = await stats();
  for (const kind of ['bulk-worker', 'report-worker'] as const) {
    expect(live[kind]).toMatchObject({ alive: 1, problem: null });
    expect(live[kind].replicas[0]).toMatchObject({ kind, pid: procs[kind]!.child.pid, version: '0.1.0', lastOutcome: 'ok' });
  }
  // What an operator finds with redis-cli: the key, its JSON, its TTL (three intervals of 1 s).
  const redis = new Redis(system.ctx.env.REDIS_URL!);
  try {
    const prefix = system.ctx.env.REDIS_KEY_PREFIX!;
    const key = `${prefix}worker:bulk-worker:${live['bulk-worker'].replicas[0].id}`;
    expect(JSON.parse((await redis.get(key))!)).toMatchObject({ kind: 'bulk-worker', host: expect.any(String) });
    const ttl = await redis.pttl(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(3000);

    // SIGKILL: no clean-up ran, the heartbeat expires on its own.
    await system.kill(procs['bulk-worker']!, 'SIGKILL');
    await waitFor(async () => (await stats())['bulk-worker'].alive === 0, 8_000);
    expect((await stats())['bulk-worker']).toMatchObject({ alive: 0, problem: 'none alive', replicas: [] });
    expect(await redis.exists(key)).toBe(0);

    // SIGTERM: a clean stop removes the replica at once.
    const reportId = live['report-worker'].replicas[0].id;
    await system.kill(procs['report-worker']!, 'SIGTERM');
    expect(await redis.exists(`${prefix}worker:report-worker:${reportId}`)).toBe(0);
    expect((await stats())['report-worker'].alive).toBe(0);

    procs['bulk-worker'] = await system.restart(procs['bulk-worker']!);
    procs['report-worker'] = await system.restart(procs['report-worker']!);
    await waitFor(async () => {
      const workers = await stats();
      return workers['bulk-worker'].alive === 1 && workers['report-worker'].alive === 1;
    }, 15_000);
  } finally {
    redis.disconnect();
  }
}, 60_000);

it("a worker's readiness follows Redis: 503 while it is gone, 200 once it is back; liveness stays 200", async () => {
  let redis: PrivateRedis | undefined;
  let worker: RunningProcess | undefined;
  try {
    redis = await createPrivateRedis();
    await redis.start();
    const port = await freePort();
    worker = await system.start('bulk-worker', { METRICS_PORT: String(port), REDIS_URL: redis.url });
    await waitFor(
      async () => (await probe(port, '/health/ready')).status === 200,
      20_000,
      () => worker!.output(),
    );
    expect((await probe(port, '/health/ready')).body.checks).toEqual({ redis: 'ok', postgres: 'ok', schedule: 'ok' });

    await redis.stop();
    await waitFor(
      async () => (await probe(port, '/health/ready')).status === 503,
      10_000,
      () => worker!.output(),
    );
    const down = await probe(port, '/health/ready');
    expect(down.body.checks?.redis).toMatch(/^(timed out|unreachable)$/);
    expect(down.body.checks?.postgres).toBe('ok');
    expect((await probe(port, '/health/live')).status).toBe(200);

    await redis.start();
    await waitFor(
      async () => (await probe(port, '/health/ready')).status === 200,
      20_000,
      () => worker!.output(),
    );
    expect(system.unexpectedExits()).toEqual([]);
  } finally {
    if (worker) await system.kill(worker, 'SIGTERM');
    await redis?.destroy();
  }
}, 60_000);
