// Runs the real processes (apps/*/dist) against this test file's database, Redis namespace and an
// in-process SMTP server, and talks to the API over HTTP, as a user would.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import {
  createSmtpCatcher,
  createTestContext,
  freePort,
  isbn13,
  requestJson,
  type SmtpCatcher,
  signUp as signUpThrough,
  type TestContext,
} from '@books/testing';

const entry = (path: string) => fileURLToPath(new URL(`../../../${path}`, import.meta.url));
const ENTRIES = {
  api: entry('apps/api/dist/server.js'),
  'bulk-worker': entry('apps/bulk-worker/dist/main.js'),
  'report-worker': entry('apps/report-worker/dist/main.js'),
};
// Started as their start scripts start them: with the tracing preload (inert unless OTEL_* says otherwise).
const PRELOADS: Record<keyof typeof ENTRIES, string> = {
  api: new URL('../../../apps/api/dist/tracing.js', import.meta.url).href,
  'bulk-worker': new URL('../../../apps/bulk-worker/dist/tracing.js', import.meta.url).href,
  'report-worker': new URL('../../../apps/report-worker/dist/tracing.js', import.meta.url).href,
};
export type Service = keyof typeof ENTRIES;

export interface RunningProcess {
  name: string;
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
  /** The extra env it was started with, so a restart gets the same. */
  env: Record<string, string>;
  /** Set by `System.kill`: the test ended it, so its exit is no failure. */
  killedByTest: boolean;
}

/** A process that ended while nobody asked it to: what a restart policy would have hidden. */
export interface UnexpectedExit {
  name: string;
  pid: number | undefined;
  code: number | null;
  signal: NodeJS.Signals | null;
  lastOutput: string;
}

export interface System {
  ctx: TestContext;
  smtp: SmtpCatcher;
  baseUrl: string;
  start(service: Service, env?: Record<string, string>): Promise<RunningProcess>;
  /** Sends `signal` (SIGKILL by default), marks the exit as the test's doing and waits for it. */
  kill(proc: RunningProcess, signal?: NodeJS.Signals): Promise<void>;
  /** Starts the same service again with the same env (after `kill`). */
  restart(proc: RunningProcess): Promise<RunningProcess>;
  /** Every process that has exited without `kill` or `close`. */
  unexpectedExits(): UnexpectedExit[];
  // biome-ignore lint/suspicious/noExplicitAny: JSON bodies of many shapes, asserted field by field in the tests
  api<T = any>(method: string, path: string, options?: { token?: string; body?: unknown }): Promise<{ status: number; body: T }>;
  close(): Promise<void>;
}

export async function startSystem(label: string, env: Record<string, string> = {}): Promise<System> {
  const smtp = await createSmtpCatcher();
  await smtp.start();
  const port = await freePort();
  const ctx = await createTestContext(label, {
    ...smtp.env,
    HOST: '127.0.0.1',
    PORT: String(port),
    LOG_LEVEL: 'info',
    BULK_CRON: '*/1 * * * * *',
    REPORT_CRON: '*/1 * * * * *',
    ...env,
  });
  const running: RunningProcess[] = [];
  const baseUrl = `http://127.0.0.1:${port}`;

  const system: System = {
    ctx,
    smtp,
    baseUrl,
    async start(service, extra = {}) {
      let output = '';
      const child = spawn(process.execPath, ['--import', PRELOADS[service], ENTRIES[service]], {
        env: { ...process.env, ...ctx.env, ...extra },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout?.on('data', (chunk) => (output += chunk));
      child.stderr?.on('data', (chunk) => (output += chunk));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      const proc: RunningProcess = { name: service, child, output: () => output, exited, env: extra, killedByTest: false };
      running.push(proc);
      if (service === 'api')
        await waitFor(
          async () => {
            // An API that died at start-up never gets ready: say why now rather than after the timeout.
            if (child.exitCode !== null) throw new Error(`api exited with ${child.exitCode} at start-up: ${output}`);
            return (await fetch(`${baseUrl}/health/ready`).catch(() => null))?.ok === true;
          },
          // Generous: on a loaded 2-core CI machine, loading the API and its tracing preload alone has taken over 20 s.
          60_000,
          () => output,
        );
      return proc;
    },
    async kill(proc, signal = 'SIGKILL') {
      proc.killedByTest = true;
      if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill(signal);
      await proc.exited;
    },
    restart(proc) {
      return system.start(proc.name as Service, proc.env);
    },
    unexpectedExits() {
      return running
        .filter((p) => !p.killedByTest && (p.child.exitCode !== null || p.child.signalCode !== null))
        .map((p) => ({
          name: p.name,
          pid: p.child.pid,
          code: p.child.exitCode,
          signal: p.child.signalCode,
          lastOutput: p.output().slice(-2000),
        }));
    },
    api: (method, path, options = {}) => requestJson(baseUrl, method, path, options),
    async close() {
      for (const proc of running) proc.killedByTest = true;
      for (const proc of running) if (proc.child.exitCode === null) proc.child.kill('SIGTERM');
      await Promise.race([Promise.all(running.map((p) => p.exited)), new Promise((resolve) => setTimeout(resolve, 15_000))]);
      for (const proc of running) if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
      await smtp.stop();
      await ctx.cleanup();
    },
  };
  return system;
}

export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, describe: () => string = () => ''): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms ${describe()}`);
}

export interface SignedUp {
  id: string;
  username: string;
  email: string;
  token: string;
}

/** Signs up through the real API, with the shared helper. */
export async function signUp(system: System, username: string, email = `${username}@example.com`): Promise<SignedUp> {
  const user = await signUpThrough((method, url, body) => system.api(method, url, { body }), {
    username,
    email,
  });
  return { id: user.id, username, email, token: user.token };
}

export { isbn13 };

export const tag = () => randomBytes(3).toString('hex');
