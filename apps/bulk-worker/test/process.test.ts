// The real apps/bulk-worker process, on a seconds-level schedule.
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { insertUser, queueImport, readImport } from '@books/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type BulkHarness, makeBooks, startBulkHarness, titlesInDb } from './harness.js';

const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
let h: BulkHarness;
let worker: ChildProcess | undefined;
let output = '';
beforeAll(async () => {
  h = await startBulkHarness('bulk-process');
});
afterAll(async () => {
  worker?.kill('SIGKILL');
  await h?.close();
});

it('the bulk-worker process picks up a request on its schedule and stops cleanly on SIGTERM', async () => {
  const user = await insertUser(h.stores.db);
  const requestId = await queueImport(h.stores, user.id, makeBooks(12, 'Process'));
  const stage = async () => (await readImport(h.stores, user.id, requestId)).stage;
  expect(await stage()).toBe('queued');

  worker = spawn(process.execPath, [main], {
    env: { ...h.ctx.env, BULK_CRON: '*/1 * * * * *', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  worker.stdout?.on('data', (chunk) => (output += chunk));
  worker.stderr?.on('data', (chunk) => (output += chunk));

  await expect.poll(stage, { timeout: 15_000, interval: 250 }).toBe('processed_awaiting_report');
  expect(await titlesInDb(h.deps, user.id)).toHaveLength(12);
  expect(output).toContain('bulk-worker scheduled');
  expect(output).toContain('bulk request processed');

  const exited = new Promise<number | null>((resolve) => worker?.once('exit', (code) => resolve(code)));
  worker.kill('SIGTERM');
  expect(await exited).toBe(0);
  expect(output).toContain('stopped');
});
