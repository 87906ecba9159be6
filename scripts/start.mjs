// `pnpm start`: the whole system on one machine. Uses DATABASE_URL, REDIS_URL and SMTP_HOST when
// set; otherwise brings up an embedded PostgreSQL, a local redis-server and an outbox SMTP server,
// all under .data/. Then applies migrations and runs the API and both workers as separate
// processes with labelled logs. Ctrl-C or SIGTERM stops everything and waits for it.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { prettyFactory } from 'pino-pretty';
import { startOutbox } from './local-stack/outbox.mjs';
import { startEmbeddedPostgres } from './local-stack/postgres.mjs';
import { redisServerAvailable, startLocalRedis } from './local-stack/redis.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const dataDir = join(root, '.data');
const width = 13;
const tty = process.stdout.isTTY;
const label = (name, colour) => (tty ? `\x1b[${colour}m${name.padEnd(width)}\x1b[0m |` : `${name.padEnd(width)} |`);
const say = (text) => process.stdout.write(`${label('start', 32)} ${text}\n`);
// The services log pino JSON (what production log shippers want); here it is made readable.
const pretty = prettyFactory({ colorize: tty, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname,service', singleLine: true });
const readable = (line) => (line.startsWith('{') ? pretty(line).trimEnd() : line);

const env = { ...process.env };
// A local stack posts webhooks to receivers on this machine (http://127.0.0.1:…), which production refuses.
env.WEBHOOK_ALLOW_PRIVATE ??= 'true';
const cleanups = [];

async function bringUpDependencies() {
  if (!env.DATABASE_URL) {
    const pg = await startEmbeddedPostgres(join(dataDir, 'postgres'), say);
    cleanups.push(pg.stop);
    env.DATABASE_URL = pg.url;
    say(`PostgreSQL (embedded): ${pg.url.replace(/:[^:@/]+@/, ':***@')}, data in ${pg.dataDir}`);
  }
  if (!env.REDIS_URL) {
    if (!redisServerAvailable()) {
      throw new Error(
        'REDIS_URL is not set and there is no redis-server on the PATH: install it (apt-get install redis-server, brew install redis) or run `docker compose up -d redis` and set REDIS_URL=redis://127.0.0.1:6379',
      );
    }
    const redis = await startLocalRedis(join(dataDir, 'redis'));
    cleanups.push(redis.stop);
    env.REDIS_URL = redis.url;
    say(`Redis (local redis-server): ${redis.url}, append-only file in .data/redis`);
  }
  if (!env.SMTP_HOST) {
    const outboxDir = join(dataDir, 'outbox');
    const outbox = await startOutbox(outboxDir, (text) => process.stdout.write(`${label('outbox', 34)} ${text}\n`));
    cleanups.push(outbox.stop);
    Object.assign(env, { SMTP_HOST: outbox.host, SMTP_PORT: String(outbox.port), SMTP_SECURE: 'false' });
    say(`SMTP: every email is caught and saved, with its PDF, in ${outboxDir}`);
  }
}

function run(name, colour, entry, args = [], nodeArgs = []) {
  const child = spawn(process.execPath, [...nodeArgs, entry, ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const prefix = label(name, colour);
  for (const stream of [child.stdout, child.stderr]) {
    let buffered = '';
    stream.on('data', (chunk) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop();
      for (const line of lines) process.stdout.write(`${prefix} ${readable(line)}\n`);
    });
  }
  return child;
}

const exitCode = (child) =>
  child.exitCode !== null
    ? Promise.resolve(child.exitCode)
    : new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))));

async function tearDown() {
  for (const cleanup of cleanups.reverse()) await cleanup().catch((err) => say(`clean-up failed: ${err.message}`));
}

let children = [];
let stopping = false;
// Services waiting out a restart delay: woken at once by a stop.
const stopWaits = [];
const stopAll = () => {
  if (stopping) return;
  stopping = true;
  for (const wake of stopWaits.splice(0)) wake();
  for (const { child } of children) if (child.exitCode === null) child.kill('SIGTERM');
};
process.on('SIGINT', stopAll);
process.on('SIGTERM', stopAll);

try {
  await bringUpDependencies();
} catch (err) {
  say(err.message);
  await tearDown();
  process.exit(1);
}

const migrate = run('migrate', 32, 'packages/core/dist/migrate-cli.js');
if ((await exitCode(migrate)) !== 0 || stopping) {
  say('migrations failed; not starting the services');
  await tearDown();
  process.exit(1);
}

const services = [
  // As in each app's start script and Dockerfile: tracing preloaded (it does nothing unless an OTLP
  // endpoint is set) and, for the API, an idle heap kept (see the README's Speed).
  {
    name: 'api',
    colour: 36,
    entry: 'apps/api/dist/server.js',
    nodeArgs: ['--no-memory-reducer', '--import', './apps/api/dist/tracing.js'],
  },
  { name: 'bulk-worker', colour: 33, entry: 'apps/bulk-worker/dist/main.js', nodeArgs: ['--import', './apps/bulk-worker/dist/tracing.js'] },
  {
    name: 'report-worker',
    colour: 35,
    entry: 'apps/report-worker/dist/main.js',
    nodeArgs: ['--import', './apps/report-worker/dist/tracing.js'],
  },
];
const launch = (service) => {
  const entry = { ...service, child: run(service.name, service.colour, service.entry, [], service.nodeArgs) };
  children = children.filter((c) => c.name !== service.name).concat(entry);
  return entry.child;
};

// A service that dies is started again, as a container's restart policy would do: 1 s, doubling
// to 30 s while it keeps dying soon after start (bad config must not spin hot), back to 1 s once
// it has run for a minute. Ctrl-C / SIGTERM stops everything and restarts nothing.
const FIRST_DELAY_MS = 1000;
const MAX_DELAY_MS = 30_000;
const HEALTHY_AFTER_MS = 60_000;
async function supervise(service) {
  let delay = FIRST_DELAY_MS;
  let lastCode = 0;
  while (!stopping) {
    const startedAt = Date.now();
    const code = await exitCode(launch(service));
    if (stopping) return code;
    lastCode = code;
    if (Date.now() - startedAt >= HEALTHY_AFTER_MS) delay = FIRST_DELAY_MS;
    say(`${service.name} exited with code ${code}; restarting it in ${delay / 1000} s`);
    await new Promise((resolve) => {
      const timer = setTimeout(resolve, delay);
      stopWaits.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    delay = Math.min(delay * 2, MAX_DELAY_MS);
  }
  return lastCode;
}

const port = env.PORT || '3002';
const supervised = services.map(supervise);
say(`API:  http://localhost:${port}   docs: http://localhost:${port}/docs   (Ctrl-C stops everything)`);

const codes = await Promise.all(supervised);
await tearDown();
say('stopped');
process.exit(codes.some((code) => code !== 0) ? 1 : 0);
