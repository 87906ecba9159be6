// A private, throw-away redis-server for tests that stop, kill, freeze and restart Redis under a
// running app. With `aof`, it keeps an append-only file in a temporary directory that survives a
// restart, as a production Redis with persistence would.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface PrivateRedisOptions {
  /**
   * Append-only file with `appendfsync always`: every write acknowledged to a client is on disk
   * before the answer, so a SIGKILL loses nothing a client was told had happened.
   */
  aof?: boolean;
}

export interface PrivateRedis {
  url: string;
  port: number;
  /** Where the AOF lives (with `aof`), kept across restarts until `destroy()`. */
  dir: string | undefined;
  /** Starts (or restarts, on the same port and directory) and waits until it answers PING. */
  start(): Promise<void>;
  /** Shuts down cleanly (SIGTERM): with `aof`, everything written is kept. */
  stop(): Promise<void>;
  /** SIGKILL, as a crash or the OOM killer would: no shutdown work at all. */
  kill(): Promise<void>;
  /** Freezes the server (SIGSTOP): connections stay open but nothing answers, as in a network partition. */
  pause(): void;
  resume(): void;
  /** Kills the server and removes its directory. */
  destroy(): Promise<void>;
}

export async function createPrivateRedis(options: PrivateRedisOptions = {}): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = options.aof ? await mkdtemp(join(tmpdir(), 'books-redis-')) : undefined;
  let child: ChildProcess | undefined;
  const url = `redis://127.0.0.1:${port}`;

  const persistence = dir
    ? ['--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', '']
    : ['--save', '', '--appendonly', 'no'];

  const signalAndWait = async (signal: NodeJS.Signals, graceMs: number) => {
    const current = child;
    if (!current || current.exitCode !== null || current.signalCode !== null) return;
    const exited = new Promise((resolve) => current.once('exit', resolve));
    // A frozen process does not act on SIGTERM until it runs again.
    current.kill('SIGCONT');
    current.kill(signal);
    const timer = setTimeout(() => current.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  };

  const api: PrivateRedis = {
    url,
    port,
    dir,
    async start() {
      const running = child;
      if (running && running.exitCode === null && running.signalCode === null) return;
      child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', ...persistence], { stdio: 'ignore' });
      const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on('error', () => {});
      try {
        // Replaying a long AOF takes a moment; LOADING answers count as not ready yet.
        for (let i = 0; i < 200; i++) {
          try {
            await probe.connect();
            await probe.ping();
            return;
          } catch {
            probe.disconnect();
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
        }
        throw new Error(`redis-server did not start on port ${port}`);
      } finally {
        probe.disconnect();
      }
    },
    pause() {
      child?.kill('SIGSTOP');
    },
    resume() {
      child?.kill('SIGCONT');
    },
    stop: () => signalAndWait('SIGTERM', 10_000),
    kill: () => signalAndWait('SIGKILL', 0),
    async destroy() {
      await api.kill();
      if (dir) await rm(dir, { recursive: true, force: true });
    },
  };
  return api;
}
