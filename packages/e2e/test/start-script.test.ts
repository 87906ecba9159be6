// `pnpm start` (scripts/start.mjs) as a user runs it, against this file's database, Redis namespace
// and SMTP catcher (so it starts no embedded datastore): a bulk worker that dies is started again
// after 1 s, then 2 s, while the API keeps answering; SIGTERM then stops everything and leaves no
// process behind.
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createSmtpCatcher, createTestContext, freePort, requestJson, type SmtpCatcher, type TestContext } from '@books/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { isbn13, tag, waitFor } from './system.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const BULK_ENTRY = 'bulk-worker/dist/main.js';

let smtp: SmtpCatcher;
let ctx: TestContext;
let baseUrl: string;
let start: ChildProcess;
let output = '';
let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
/** Every service process start.mjs was seen running, to check none outlives it. */
const seenChildren = new Set<number>();

interface Proc {
  pid: number;
  cmd: string;
}

/** The live (not zombie) child processes of `ppid`, read from /proc. */
function childrenOf(ppid: number): Proc[] {
  const found: Proc[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // The command name in field 2 may hold spaces and parentheses: parse after its last ')'.
      const [state, parent] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(parent) !== ppid || state === 'Z') continue;
      found.push({ pid: Number(name), cmd: readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').join(' ') });
    } catch {
      // It exited while we looked.
    }
  }
  for (const proc of found) seenChildren.add(proc.pid);
  return found;
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

const bulkWorkers = () => childrenOf(start.pid!).filter((p) => p.cmd.includes(BULK_ENTRY));
const tail = () => `\n--- start.mjs output ---\n${output.slice(-4000)}`;

/** Waits for exactly one bulk worker other than `previous` and returns it with when it was seen. */
async function nextBulkWorker(previous: number | undefined, timeoutMs: number): Promise<{ pid: number; seenAt: number }> {
  let pid: number | undefined;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const workers = bulkWorkers();
    if (workers.length === 1 && workers[0]!.pid !== previous) {
      pid = workers[0]!.pid;
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  if (pid === undefined) throw new Error(`no new bulk worker within ${timeoutMs} ms${tail()}`);
  return { pid, seenAt: Date.now() };
}

const api = (method: string, path: string, token?: string, body?: unknown) => requestJson(baseUrl, method, path, { token, body });

const ready = async () => (await fetch(`${baseUrl}/health/ready`, { signal: AbortSignal.timeout(5000) }).catch(() => null))?.ok === true;

beforeAll(async () => {
  smtp = await createSmtpCatcher();
  await smtp.start();
  const port = await freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  ctx = await createTestContext('e2e-start', {
    ...smtp.env,
    HOST: '127.0.0.1',
    PORT: String(port),
    LOG_LEVEL: 'info',
    BULK_CRON: '*/1 * * * * *',
    REPORT_CRON: '*/1 * * * * *',
  });
  start = spawn(process.execPath, ['scripts/start.mjs'], {
    cwd: root,
    env: { ...process.env, ...ctx.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  start.stdout?.on('data', (chunk) => (output += chunk));
  start.stderr?.on('data', (chunk) => (output += chunk));
  exited = new Promise((resolve) => start.once('exit', (code, signal) => resolve({ code, signal })));
  await waitFor(
    async () => {
      if (start.exitCode !== null) throw new Error(`start.mjs exited with ${start.exitCode} at start-up${tail()}`);
      return ready();
    },
    60_000,
    tail,
  );
});

afterAll(async () => {
  // Whatever happened above, leave nothing running: start.mjs first, then anything it left.
  if (start && start.exitCode === null && start.signalCode === null) {
    for (const proc of childrenOf(start.pid!)) seenChildren.add(proc.pid);
    start.kill('SIGTERM');
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 15_000))]);
    if (start.exitCode === null && start.signalCode === null) start.kill('SIGKILL');
  }
  for (const pid of seenChildren) if (alive(pid)) process.kill(pid, 'SIGKILL');
  await smtp?.stop();
  await ctx?.cleanup();
});

it('a bulk worker killed under pnpm start is restarted after 1 s, then 2 s, the API stays up and the new worker imports', async () => {
  expect(output, 'nothing died on its own before the test').not.toMatch(/exited with code/);
  const apiBefore = childrenOf(start.pid!).filter((p) => p.cmd.includes('api/dist/server.js'));
  expect(apiBefore, 'one API process').toHaveLength(1);

  // The API is polled all through the kills: one failed answer is a failure.
  const apiFailures: string[] = [];
  let polling = true;
  const poller = (async () => {
    while (polling) {
      if (!(await ready())) apiFailures.push(new Date().toISOString());
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();

  try {
    const first = await nextBulkWorker(undefined, 20_000);
    const killedAt1 = Date.now();
    process.kill(first.pid, 'SIGKILL');
    const second = await nextBulkWorker(first.pid, 15_000);
    expect(output, tail()).toMatch(/bulk-worker exited with code \d+; restarting it in 1 s/);
    // SIGKILLed at killedAt1, so it cannot be back before the 1 s delay; "about" 1 s on a busy machine.
    expect(second.seenAt - killedAt1).toBeGreaterThanOrEqual(950);
    expect(second.seenAt - killedAt1).toBeLessThan(6000);

    // Dead again well within a minute of its start: the delay doubles.
    const killedAt2 = Date.now();
    process.kill(second.pid, 'SIGKILL');
    const third = await nextBulkWorker(second.pid, 15_000);
    expect(output, tail()).toMatch(/bulk-worker exited with code \d+; restarting it in 2 s/);
    expect(third.seenAt - killedAt2).toBeGreaterThanOrEqual(1950);
    expect(third.seenAt - killedAt2).toBeLessThan(8000);
    console.log(`[start-script] restarts after ${second.seenAt - killedAt1} ms, then ${third.seenAt - killedAt2} ms`);
    expect(output.match(/exited with code/g), 'only the bulk worker was restarted, twice').toHaveLength(2);
  } finally {
    polling = false;
    await poller;
  }
  expect(apiFailures, 'the API answered /health/ready throughout').toEqual([]);
  expect(childrenOf(start.pid!).filter((p) => p.cmd.includes('api/dist/server.js'))).toEqual(apiBefore);

  // The restarted worker does the work: an import submitted now leaves `queued` and is inserted.
  const username = `start_${tag()}`;
  const signup = await api('POST', '/auth/signup', undefined, {
    username,
    email: `${username}@example.com`,
    password: 'a long enough password',
  });
  expect(signup.status).toBe(201);
  const token: string = signup.body.token;
  const books = Array.from({ length: 20 }, (_, i) => ({ title: `Start ${i}`, author: 'Author', isbn: isbn13(410, i) }));
  const submitted = await api('POST', '/books/bulk', token, { books });
  expect(submitted.status).toBe(202);
  const requestId: string = submitted.body.data.requestId;
  let detail: { stage?: string; inserted?: number } = {};
  await waitFor(
    async () => {
      detail = (await api('GET', `/books/bulk/${requestId}`, token)).body?.data ?? {};
      return detail.stage === 'processed_awaiting_report' || detail.stage === 'completed';
    },
    20_000,
    () => `last seen: ${JSON.stringify(detail)}${tail()}`,
  );
  expect(detail.inserted).toBe(books.length);
});

it('SIGTERM stops pnpm start with code 0 within 20 s and leaves no service running', async () => {
  const services = childrenOf(start.pid!);
  // Sorted by entry file: the node options in front of it (the tracing preload) differ per service.
  const entryOf = (cmd: string) => cmd.split(' ').find((word) => word.endsWith('/main.js') || word.endsWith('/server.js')) ?? cmd;
  const byEntry = (a: string, b: string) => entryOf(a).localeCompare(entryOf(b));
  expect(services.map((p) => p.cmd).sort(byEntry), 'the three services').toEqual([
    expect.stringContaining('api/dist/server.js'),
    expect.stringContaining(BULK_ENTRY),
    expect.stringContaining('report-worker/dist/main.js'),
  ]);
  start.kill('SIGTERM');
  const result = await Promise.race([exited, new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 20_000))]);
  expect(result, tail()).toEqual({ code: 0, signal: null });
  expect([...seenChildren].filter(alive), 'service processes still running').toEqual([]);
  expect(output).toMatch(/start +\| stopped/);
});
