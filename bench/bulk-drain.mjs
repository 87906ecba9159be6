// The bulk import end to end: POST /books/bulk latency through the real API, then one `--once` pass of
// the real bulk worker over a backlog of exactly 100,000 books (10 users x 10,000), against the
// ceiling of a plain COPY of the same rows into the same table. Prints a table, then one JSON line
// as the last line of stdout. BENCH_BULK_CHUNK_SIZE / BENCH_BULK_CONCURRENCY try other worker settings.
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { call, expect, signup, startApi } from './lib/api.mjs';
import { benchBook, copyLine } from './lib/books.mjs';
import {
  ADMIN_URL,
  connectRedis,
  createRedisKeys,
  dropDatabase,
  freshDatabase,
  postgres,
  REDIS_URL,
  unlinkPrefix,
} from './lib/datastores.mjs';
import { cpuSeconds, machineCpuSeconds, startNode, stop, stopAll, watchCpu, watchProcess } from './lib/processes.mjs';

const USERS = 10;
const BOOKS_PER_REQUEST = 10_000;
const BACKLOG = USERS * BOOKS_PER_REQUEST;
// More latency samples, sent to a second API process under its own Redis namespace: the worker never
// sees them, so the drained backlog stays exactly 100,000 books and books/s stays comparable.
const EXTRA_REQUESTS = 10;
const TARGETS = { postMedianMs: 250, copyShare: 0.4, peakRssMb: 300 };
const WORKER = {
  // biome-ignore lint/suspicious/noUndeclaredEnvVars: a script run by node, not a turbo task
  chunkSize: Number(process.env.BENCH_BULK_CHUNK_SIZE || 2000),
  // biome-ignore lint/suspicious/noUndeclaredEnvVars: a script run by node, not a turbo task
  concurrency: Number(process.env.BENCH_BULK_CONCURRENCY || 4),
};
const DB_NAME = 'books_bench_bulk';
const COPY_DB_NAME = 'books_bench_bulk_copy';
const POLL_MS = 20;

const workerMain = fileURLToPath(new URL('../apps/bulk-worker/dist/main.js', import.meta.url));
const log = (message) => console.error(`bulk-drain: ${message}`);
/** Signs up every user first (argon2 is CPU-heavy), then times one 10,000-book POST per user, one at a time. */
async function postRequests(databaseUrl, prefix, jwtSecret) {
  // Neither limit may reject a benchmark request; the limiter's Redis round trip stays in the cost.
  const apiEnv = { RATE_LIMIT_MAX: '10000000', AUTH_RATE_LIMIT_MAX: '10000000', JWT_SECRET: jwtSecret };
  const backlogApi = await startApi(databaseUrl, prefix, apiEnv);
  const extraApi = await startApi(databaseUrl, `${prefix}extra:`, apiEnv);
  const senders = [];
  for (let u = 0; u < USERS + EXTRA_REQUESTS; u++) {
    const api = u < USERS ? backlogApi : extraApi;
    senders.push({ u, api, backlog: u < USERS, ...(await signup(api.base, `bulk_${u}`)) });
  }
  // Alternate the two processes so that neither one's cold start lands on one side only.
  senders.sort((a, b) => (a.u % USERS) - (b.u % USERS) || a.u - b.u);
  const latenciesMs = [];
  // The API's own CPU per request: steadier than latency when other work shares the 2 cores.
  const apiCpuMs = [];
  const backlog = [];
  for (const sender of senders) {
    const body = JSON.stringify({ books: Array.from({ length: BOOKS_PER_REQUEST }, (_, i) => benchBook(sender.u, i)) });
    const cpuBefore = cpuSeconds(sender.api.pid);
    const started = performance.now();
    const res = await call(sender.api.base, '/books/bulk', { method: 'POST', token: sender.token, body });
    latenciesMs.push(performance.now() - started);
    apiCpuMs.push((cpuSeconds(sender.api.pid) - cpuBefore) * 1000);
    const { data } = JSON.parse((await expect(202, res, 'POST /books/bulk')).text);
    if (data.queuedBooks !== BOOKS_PER_REQUEST || data.invalidBooks !== 0)
      throw new Error(`POST /books/bulk queued ${data.queuedBooks}, ${data.invalidBooks} invalid`);
    if (sender.backlog) backlog.push({ userId: sender.userId, requestId: data.requestId });
  }
  await Promise.all([stop(backlogApi.child), stop(extraApi.child)]);
  return { latenciesMs, apiCpuMs, backlog };
}

async function redisCpuSeconds(redis) {
  const info = await redis.info('cpu');
  return Number(info.match(/used_cpu_sys:([\d.]+)/)[1]) + Number(info.match(/used_cpu_user:([\d.]+)/)[1]);
}

function parseLogLine(line) {
  try {
    return JSON.parse(line);
  } catch {
    return null;
  }
}

/** One `--once` pass of the real worker, timed from spawn to exit, with its memory and everyone's CPU. */
async function drain(databaseUrl, prefix, jwtSecret) {
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
  const redis = await connectRedis();
  try {
    // Start from clean buffers: no checkpoint left over from set-up lands inside the timed pass.
    await admin`checkpoint`;
    const [redisBefore, machineBefore] = [await redisCpuSeconds(redis), machineCpuSeconds()];
    // The worker's own backends, found by name: fresh processes, so their whole CPU time is this pass's.
    const backends = watchCpu(
      async () =>
        (await admin`select pid from pg_stat_activity where datname = ${DB_NAME} and application_name = 'books-bulk-worker'`).map(
          (row) => row.pid,
        ),
      { everyMs: POLL_MS },
    );
    const started = performance.now();
    const child = startNode(
      workerMain,
      {
        PATH: process.env.PATH,
        NODE_ENV: 'production',
        // info, for the 'bulk pass done' line and its durationMs: the pass without Node start-up and close.
        LOG_LEVEL: 'info',
        DATABASE_URL: databaseUrl,
        REDIS_URL,
        REDIS_KEY_PREFIX: prefix,
        JWT_SECRET: jwtSecret,
        BULK_CHUNK_SIZE: String(WORKER.chunkSize),
        BULK_CONCURRENCY: String(WORKER.concurrency),
      },
      ['--once'],
      { stdout: 'pipe' },
    );
    const memory = watchProcess(child.pid, POLL_MS);
    const exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal, wallMs: performance.now() - started })),
    );
    let summary;
    for await (const line of createInterface({ input: child.stdout })) {
      const entry = parseLogLine(line);
      if (entry?.msg === 'bulk pass done') summary = entry;
      else if (!entry || entry.level >= 40) console.error(line); // warnings, errors and anything not pino's
    }
    const { code, signal, wallMs } = await exited;
    const seen = memory.stop();
    const pg = backends.stop();
    const machine = machineCpuSeconds();
    if (code !== 0) throw new Error(`the bulk worker exited with ${signal ?? code}`);
    if (!summary) throw new Error("the bulk worker logged no 'bulk pass done'");
    if (summary.inserted !== BACKLOG || summary.requests !== USERS || summary.failed !== 0 || summary.erroredUsers !== 0) {
      throw new Error(`the pass did not drain the backlog: ${JSON.stringify(summary)}`);
    }
    return {
      wallMs,
      passMs: summary.durationMs,
      peakRssMb: Math.max(seen.peakRssKb, seen.hwmKb) / 1024,
      cpu: {
        workerS: seen.cpuS,
        postgresS: pg.cpuS,
        postgresBackends: pg.processes,
        redisS: (await redisCpuSeconds(redis)) - redisBefore,
        machineBusyCores: (machine.busy - machineBefore.busy) / (wallMs / 1000),
      },
    };
  } finally {
    redis.disconnect();
    await admin.end();
  }
}

/** What a user would check: every book is in, and every request awaits its report. */
async function verifyDrain(databaseUrl, prefix, backlog) {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  const redis = await connectRedis();
  try {
    const [{ count }] = await sql`select count(*)::int as count from books`;
    if (count !== BACKLOG) throw new Error(`books holds ${count} rows, not ${BACKLOG}`);
    const keys = createRedisKeys(prefix);
    for (const { userId, requestId } of backlog) {
      const [stage, inserted] = await redis.hmget(keys.bulkRequest(userId, requestId), 'stage', 'inserted');
      if (stage !== 'processed_awaiting_report' || Number(inserted) !== BOOKS_PER_REQUEST) {
        throw new Error(`request ${requestId}: stage ${stage}, ${inserted} inserted`);
      }
    }
  } finally {
    redis.disconnect();
    await sql.end();
  }
}

/** The ceiling: the same 100,000 rows by one plain COPY into a fresh, identically migrated table. */
async function copyCeiling(databaseUrl) {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    const userIds = [];
    for (let u = 0; u < USERS; u++) {
      const [row] =
        await sql`insert into users (username, email, password_hash) values (${`copy_${u}`}, ${`copy_${u}@example.com`}, 'not-a-login') returning id`;
      userIds.push(row.id);
    }
    // One string per user, built before the clock starts: the ceiling is Postgres's, not ours.
    const chunks = userIds.map((userId, u) =>
      Array.from({ length: BOOKS_PER_REQUEST }, (_, i) => {
        const b = benchBook(u, i);
        return copyLine([userId, b.title, b.author, b.isbn, b.publishedYear, b.genre]);
      }).join(''),
    );
    await sql`checkpoint`;
    const [{ pid }] = await sql`select pg_backend_pid() as pid`;
    const cpuBefore = cpuSeconds(pid);
    const started = performance.now();
    const writable = await sql`copy books (user_id, title, author, isbn, published_year, genre) from stdin`.writable();
    await pipeline(Readable.from(chunks), writable);
    const ms = performance.now() - started;
    const postgresS = cpuSeconds(pid) - cpuBefore;
    const [{ count }] = await sql`select count(*)::int as count from books`;
    if (count !== BACKLOG) throw new Error(`COPY left ${count} rows, not ${BACKLOG}`);
    return { ms, postgresS };
  } finally {
    await sql.end();
  }
}

const percentile = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
};
const round = (value, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;

/** Every figure of the run, rounded once: the JSON line as it is printed, and what the table shows. */
function summarize({ latenciesMs, apiCpuMs, drained, copy, load1m }) {
  const rate = (ms) => Math.round(BACKLOG / (ms / 1000));
  const { cpu } = drained;
  const result = {
    bench: 'bulk-drain',
    books: BACKLOG,
    users: USERS,
    chunkSize: WORKER.chunkSize,
    concurrency: WORKER.concurrency,
    cores: cpus().length,
    load1m: round(load1m, 2),
    post: {
      requests: latenciesMs.length,
      medianMs: round(percentile(latenciesMs, 50)),
      p90Ms: round(percentile(latenciesMs, 90)),
      apiCpuMedianMs: Math.round(percentile(apiCpuMs, 50)),
    },
    drain: {
      wallMs: Math.round(drained.wallMs),
      passMs: drained.passMs,
      booksPerS: rate(drained.wallMs),
      passBooksPerS: rate(drained.passMs),
      peakRssMb: round(drained.peakRssMb),
      cpu: { workerS: round(cpu.workerS, 2), postgresS: round(cpu.postgresS, 2), postgresBackends: cpu.postgresBackends },
      redisServerCpuS: round(cpu.redisS, 2),
      machineBusyCores: round(cpu.machineBusyCores, 2),
    },
    copy: { ms: Math.round(copy.ms), rowsPerS: rate(copy.ms), postgresCpuS: round(copy.postgresS, 2) },
  };
  result.copyShare = round(result.drain.booksPerS / result.copy.rowsPerS, 3);
  result.passCopyShare = round(result.drain.passBooksPerS / result.copy.rowsPerS, 3);
  result.met = {
    postMedian: result.post.medianMs < TARGETS.postMedianMs,
    copyShare: result.copyShare >= TARGETS.copyShare,
    peakRss: result.drain.peakRssMb < TARGETS.peakRssMb,
  };
  return result;
}

function printTable({ post, drain, copy, met, ...run }) {
  const n = (value, digits = 0) => value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
  const verdict = (ok) => (ok ? 'met' : 'NOT met');
  const row = (name, value, note = '') => `${name.padEnd(44)}${value.padStart(12)}   ${note}`;
  console.log(
    [
      `Bulk import: ${USERS} users x ${n(BOOKS_PER_REQUEST)} books = ${n(BACKLOG)} books; worker BULK_CHUNK_SIZE=${run.chunkSize} BULK_CONCURRENCY=${run.concurrency}`,
      `${run.cores} cores; load average before the run: ${run.load1m.toFixed(2)}`,
      row(
        `POST /books/bulk median (${post.requests} requests)`,
        `${n(post.medianMs, 1)} ms`,
        `target < ${TARGETS.postMedianMs} ms: ${verdict(met.postMedian)}`,
      ),
      row('POST /books/bulk p90', `${n(post.p90Ms, 1)} ms`),
      row('POST /books/bulk API CPU per request, median', `${n(post.apiCpuMedianMs)} ms`, '(10 ms resolution)'),
      row('drain, spawn to exit', `${n(drain.wallMs / 1000, 2)} s`, `${n(drain.booksPerS)} books/s`),
      row("drain, pass only ('bulk pass done')", `${n(drain.passMs / 1000, 2)} s`, `${n(drain.passBooksPerS)} books/s`),
      row('COPY ceiling', `${n(copy.ms / 1000, 2)} s`, `${n(copy.rowsPerS)} rows/s`),
      row(
        'drain / COPY (spawn to exit)',
        `${n(run.copyShare * 100, 1)} %`,
        `target >= ${TARGETS.copyShare * 100}%: ${verdict(met.copyShare)}`,
      ),
      row('drain / COPY (pass only)', `${n(run.passCopyShare * 100, 1)} %`),
      row('peak worker RSS', `${n(drain.peakRssMb, 1)} MB`, `target < ${TARGETS.peakRssMb} MB: ${verdict(met.peakRss)}`),
      `CPU during the drain: worker ${n(drain.cpu.workerS, 2)} s, its ${drain.cpu.postgresBackends} Postgres backends ${n(drain.cpu.postgresS, 2)} s, ` +
        `redis-server ${n(drain.redisServerCpuS, 2)} s (whole server); machine busy ${n(drain.machineBusyCores, 2)} of ${run.cores} cores`,
      `CPU during COPY: its Postgres backend ${n(copy.postgresCpuS, 2)} s`,
    ].join('\n'),
  );
}

/** Runs every clean-up step even if one fails, and makes the run fail if any did. */
async function cleanUp(what, step) {
  try {
    await step();
  } catch (err) {
    process.exitCode = 1;
    log(`clean-up of ${what} failed: ${err.message}`);
  }
}

const runId = randomBytes(4).toString('hex');
const prefix = `bench:${runId}:`;
// One secret for the API and the worker, as in a deployment (the worker does not use it, but loads it).
const jwtSecret = randomBytes(32).toString('hex');
// Other work on this machine skews every figure: say how busy it was before our own set-up.
const load1m = loadavg()[0];
try {
  log(`preparing database ${DB_NAME} and Redis prefix ${prefix}`);
  const databaseUrl = await freshDatabase(DB_NAME);
  log(`posting ${USERS + EXTRA_REQUESTS} bulk requests of ${BOOKS_PER_REQUEST} books`);
  const { latenciesMs, apiCpuMs, backlog } = await postRequests(databaseUrl, prefix, jwtSecret);
  log(`draining ${BACKLOG} books with one worker pass`);
  const drained = await drain(databaseUrl, prefix, jwtSecret);
  await verifyDrain(databaseUrl, prefix, backlog);
  // Gone before the ceiling is timed: nothing of the drained table (its autovacuum, where enabled) competes with COPY.
  await dropDatabase(DB_NAME);
  log(`copying the same ${BACKLOG} rows into ${COPY_DB_NAME}`);
  const copy = await copyCeiling(await freshDatabase(COPY_DB_NAME));
  const result = summarize({ latenciesMs, apiCpuMs, drained, copy, load1m });
  printTable(result);
  console.log(JSON.stringify(result));
} catch (err) {
  process.exitCode = 1;
  log(`failed: ${err.stack ?? err}`);
} finally {
  await stopAll();
  await cleanUp('Redis keys', async () => log(`removed ${await unlinkPrefix(prefix)} Redis keys under ${prefix}`));
  await cleanUp(`database ${DB_NAME}`, () => dropDatabase(DB_NAME));
  await cleanUp(`database ${COPY_DB_NAME}`, () => dropDatabase(COPY_DB_NAME));
}
