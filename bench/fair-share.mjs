// Fair share between users: a 10-book import arrives while one user's 100,000-book backlog (10
// requests of 10,000) drains through the real bulk worker. How long does the small one wait, and
// how much of the big one went in first? Run twice in one go: with the default BULK_TURN_CHUNKS
// (turns of 5 chunks per user) and with turns too long to ever end (one user at a time, as before
// fair share), on the same data. Prints a table, then one JSON line as the last line of stdout.
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { call, expect, signup, startApi } from './lib/api.mjs';
import { benchBook } from './lib/books.mjs';
import { connectRedis, createRedisKeys, dropDatabase, freshDatabase, REDIS_URL, unlinkPrefix } from './lib/datastores.mjs';
import { startNode, stop, stopAll } from './lib/processes.mjs';

const BIG_REQUESTS = 10;
const BOOKS_PER_REQUEST = 10_000;
const BACKLOG = BIG_REQUESTS * BOOKS_PER_REQUEST;
const SMALL = 10;
// The small import is sent once this much of the backlog is in: the drain is well under way.
const SEND_SMALL_AT = 10_000;
const CHUNK_SIZE = 2000;
const MODES = [
  { name: 'fair share (BULK_TURN_CHUNKS=5, the default)', turnChunks: 5 },
  { name: 'no turns (BULK_TURN_CHUNKS=100000)', turnChunks: 100_000 },
];
// The target of issue 16: the small import is processed within one pass interval of arriving.
const PASS_INTERVAL_S = 1;
const POLL_MS = 10;
const DB_NAME = 'books_bench_fair';

const workerMain = fileURLToPath(new URL('../apps/bulk-worker/dist/main.js', import.meta.url));
const log = (message) => console.error(`fair-share: ${message}`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function submit(api, token, books) {
  const res = await expect(202, call(api.base, '/books/bulk', { method: 'POST', token, json: { books } }), 'POST /books/bulk');
  return JSON.parse(res.text).data.requestId;
}

/** Books of `requests` in so far, from their records (what GET /books/bulk/:id reads). */
async function insertedSoFar(redis, keys, userId, requestIds) {
  const counts = await Promise.all(requestIds.map((id) => redis.hget(keys.bulkRequest(userId, id), 'inserted')));
  return counts.reduce((sum, n) => sum + Number(n ?? 0), 0);
}

async function runMode(mode, databaseUrl, jwtSecret) {
  const prefix = `bench:fair:${randomBytes(4).toString('hex')}:`;
  const keys = createRedisKeys(prefix);
  const redis = await connectRedis();
  const api = await startApi(databaseUrl, prefix, { RATE_LIMIT_MAX: '10000000', AUTH_RATE_LIMIT_MAX: '10000000', JWT_SECRET: jwtSecret });
  try {
    const tagged = randomBytes(3).toString('hex');
    const big = await signup(api.base, `fair_big_${tagged}`);
    const small = await signup(api.base, `fair_small_${tagged}`);
    const bigIds = [];
    for (let r = 0; r < BIG_REQUESTS; r++) {
      bigIds.push(
        await submit(
          api,
          big.token,
          Array.from({ length: BOOKS_PER_REQUEST }, (_, i) => benchBook(r, i)),
        ),
      );
    }
    // Every second, like a worker on a seconds schedule: a pass that outlasts it runs on (croner's
    // protect), and the next starts at the next tick after it.
    const worker = startNode(workerMain, {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      DATABASE_URL: databaseUrl,
      REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
      BULK_CRON: '*/1 * * * * *',
      BULK_CHUNK_SIZE: String(CHUNK_SIZE),
      BULK_TURN_CHUNKS: String(mode.turnChunks),
    });
    try {
      const started = performance.now();
      while ((await insertedSoFar(redis, keys, big.userId, bigIds)) < SEND_SMALL_AT) await sleep(POLL_MS);
      const smallId = await submit(
        api,
        small.token,
        Array.from({ length: SMALL }, (_, i) => benchBook(BIG_REQUESTS + 1, i)),
      );
      const sentAt = performance.now();
      const bigAtSend = await insertedSoFar(redis, keys, big.userId, bigIds);
      let smallDoneMs = null;
      let bigAtSmallDone = null;
      let bigDoneMs = null;
      while (smallDoneMs === null || bigDoneMs === null) {
        const [stage, bigInserted] = await Promise.all([
          redis.hget(keys.bulkRequest(small.userId, smallId), 'stage'),
          insertedSoFar(redis, keys, big.userId, bigIds),
        ]);
        if (smallDoneMs === null && stage !== 'queued' && stage !== 'processing') {
          smallDoneMs = performance.now() - sentAt;
          bigAtSmallDone = bigInserted;
        }
        if (bigDoneMs === null && bigInserted >= BACKLOG) bigDoneMs = performance.now() - started;
        if (performance.now() - started > 600_000) throw new Error('the drain took more than 10 minutes');
        await sleep(POLL_MS);
      }
      return { ...mode, bigAtSend, smallWaitMs: Math.round(smallDoneMs), bigAtSmallDone, bigDrainMs: Math.round(bigDoneMs) };
    } finally {
      await stop(worker);
    }
  } finally {
    await stop(api.child);
    redis.disconnect();
    log(`removed ${await unlinkPrefix(prefix)} Redis keys under ${prefix}`);
  }
}

const load1m = loadavg()[0];
try {
  const results = [];
  for (const mode of MODES) {
    // A fresh database each time: the second run must not meet the first one's ISBNs.
    const databaseUrl = await freshDatabase(DB_NAME);
    log(`${mode.name}: queueing ${BACKLOG.toLocaleString('en-US')} books for one user, then ${SMALL} for another`);
    results.push(await runMode(mode, databaseUrl, randomBytes(32).toString('hex')));
  }
  const n = (value) => value.toLocaleString('en-US');
  const fair = results[0];
  const met = fair.smallWaitMs <= PASS_INTERVAL_S * 1000 + 1000;
  console.log(
    [
      `One user drains ${n(BACKLOG)} books (${BIG_REQUESTS} requests, chunks of ${CHUNK_SIZE}); another sends ${SMALL} books once ${n(SEND_SMALL_AT)} are in; worker every ${PASS_INTERVAL_S} s`,
      `load average before the run: ${load1m.toFixed(2)}`,
      `${'mode'.padEnd(48)}${'small waited'.padStart(14)}${'big books in first'.padStart(20)}${'big drain'.padStart(12)}`,
      ...results.map(
        (r) =>
          `${r.name.padEnd(48)}${`${(r.smallWaitMs / 1000).toFixed(2)} s`.padStart(14)}${n(r.bigAtSmallDone - r.bigAtSend).padStart(20)}${`${(r.bigDrainMs / 1000).toFixed(1)} s`.padStart(12)}`,
      ),
      `small import done within one pass interval (+1 s for the tick) with fair share: ${met ? 'met' : 'NOT met'}`,
    ].join('\n'),
  );
  console.log(JSON.stringify({ bench: 'fair-share', backlog: BACKLOG, small: SMALL, chunkSize: CHUNK_SIZE, load1m, results, met }));
} catch (err) {
  process.exitCode = 1;
  log(`failed: ${err.stack ?? err}`);
} finally {
  await stopAll();
  await dropDatabase(DB_NAME).catch((err) => log(`could not drop ${DB_NAME}: ${err.message}`));
}
