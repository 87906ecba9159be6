// GET /books served from the Redis cache through the whole API (JWT + identity lookup, rate limit,
// helmet, request log, hooks) against a bare Fastify route sending the same body: how much of
// Fastify's speed the API keeps on its hottest read. Prints a table, then one JSON line as the last
// line of stdout.
import { randomBytes } from 'node:crypto';
import { closeSync, createReadStream, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { call, expect, signup, startApi } from './lib/api.mjs';
import { isbn13 } from './lib/books.mjs';
import { dropDatabase, freshDatabase, unlinkPrefix } from './lib/datastores.mjs';
import { cpuSeconds, freePort, startNode, stop, stopAll, waitForHttp } from './lib/processes.mjs';
import { ensureWrk, runWrk } from './lib/wrk.mjs';

const BOOKS = 20;
const CONNECTIONS = 50;
// Each server is loaded this long before measuring: the API runs far more JavaScript per request
// than the bare route, and V8 takes 10-15 s of this load to optimise it all (its req/s rose by half
// over its first 15 s in repeated runs here; the bare route's by a few percent). Measuring sooner
// measured the JIT's warm-up, not the API.
const WARMUP_S = 20;
// Several pairs of processes, not one: on this VM two identical processes started side by side kept
// different speeds for their whole life (one ran 20-45% more CPU per request than its twin, in every
// round, pinned to the same core or not), so a single pair measured which process drew the faster
// memory as much as the code. Each pair is started fresh, warmed, loaded in alternating rounds (API,
// then bare route, back to back) and stopped before the next one starts; each side is summarised by
// its median round (the available CPU also drifts by ±15% over a minute). Starting all the
// processes at once and loading them in turn measured something else: an API left idle for a minute
// or more before its load ran 40-60% more CPU per request even after its warm-up (not so with V8's
// --no-memory-reducer, which stops V8 shrinking an idle heap).
const PAIRS = 3;
const ROUNDS_PER_PAIR = 2;
const ROUND_S = 5;
const TARGET_RATIO = 0.7;
// The limiter stays on, since its Redis round trip is part of every request's cost, with a ceiling
// no run reaches (the config allows at most 10,000,000 per window).
const RATE_LIMIT_MAX = 10_000_000;
// The API runs as deployed: its default log level writes one JSON line per request. They go to a file
// (as to a container's log pipe) and are counted afterwards, so the run proves it paid for them.
const API_LOG_LEVEL = 'info';
const DB_NAME = 'books_bench';

const bareServer = fileURLToPath(new URL('./bare-server.mjs', import.meta.url));
// BENCH_BASELINE_DIR: another checkout, built (say a worktree of the previous main), whose API is
// loaded in the same rounds as this one's: what a change costs, measured in one run on one machine.
// biome-ignore lint/suspicious/noUndeclaredEnvVars: a script run by node, not a turbo task
const BASELINE_DIR = process.env.BENCH_BASELINE_DIR || '';
const baselineServer = BASELINE_DIR ? join(BASELINE_DIR, 'apps/api/dist/server.js') : null;
// The most a change may cost the cache hit against the baseline (the 5%).
const BASELINE_MAX_LOSS = 0.05;
const log = (message) => console.error(`api-cache: ${message}`);

/** Signs up, adds the books, and leaves the list cached: returns the token and the cached body. */
async function seed(api) {
  const { token } = await signup(api, `bench_${randomBytes(4).toString('hex')}`);
  const genres = ['Fiction', 'History', 'Science', 'Poetry'];
  for (let i = 0; i < BOOKS; i++) {
    const book = {
      title: `Benchmark Book ${i + 1}`,
      author: `Author ${(i % 5) + 1}`,
      isbn: isbn13(i + 1),
      publishedYear: 1950 + i,
      genre: genres[i % 4],
    };
    await expect(201, call(api, '/books', { method: 'POST', token, json: book }), 'POST /books');
  }
  const miss = await expect(200, call(api, '/books', { token }), 'GET /books');
  if (miss.headers.get('x-cache') !== 'MISS')
    throw new Error(`first GET /books: expected X-Cache: MISS, got ${miss.headers.get('x-cache')}`);
  const hit = await expectHit(api, token);
  const { count } = JSON.parse(hit.text);
  if (count !== BOOKS) throw new Error(`GET /books: expected ${BOOKS} books, got ${count}`);
  return { token, body: hit.text };
}

async function expectHit(api, token) {
  const res = await expect(200, call(api, '/books', { token }), 'GET /books');
  if (res.headers.get('x-cache') !== 'HIT') throw new Error(`GET /books: expected X-Cache: HIT, got ${res.headers.get('x-cache')}`);
  return res;
}

async function startBare(body, bodyFile) {
  const port = await freePort();
  const child = startNode(bareServer, { PATH: process.env.PATH }, [String(port), bodyFile]);
  const base = `http://127.0.0.1:${port}`;
  await waitForHttp(`${base}/books`, child);
  const res = await expect(200, call(base, '/books'), 'bare GET /books');
  // Same work on the wire, or the ratio compares different things.
  if (Buffer.byteLength(res.text) !== Buffer.byteLength(body)) {
    throw new Error(`bare body is ${Buffer.byteLength(res.text)} bytes, the API's ${Buffer.byteLength(body)}`);
  }
  return { base, pid: child.pid, child, identical: res.text === body };
}

/** How many of the API's log lines are per-request lines (pino's `"msg":"request"`). */
async function countRequestLines(file) {
  const needle = '"msg":"request"';
  let count = 0;
  let carry = '';
  for await (const chunk of createReadStream(file, { encoding: 'utf8' })) {
    const text = carry + chunk;
    let end = 0;
    for (let at = text.indexOf(needle); at !== -1; at = text.indexOf(needle, end)) {
      count++;
      end = at + needle.length;
    }
    // Keep what could be the start of a needle cut by the chunk boundary, never part of a counted one.
    carry = text.slice(Math.max(end, text.length - needle.length + 1));
  }
  return count;
}

/**
 * One measured wrk run. The server's CPU time per request is taken too: it moves less than req/s
 * when other work shares the machine.
 */
async function round(target) {
  const cpuBefore = cpuSeconds(target.pid);
  const result = await runWrk(target.url, { durationS: ROUND_S, connections: CONNECTIONS, headers: target.headers });
  const cpuAfter = cpuSeconds(target.pid);
  if (result.non2xx > 0) throw new Error(`${target.url}: ${result.non2xx} of ${result.requests} responses were not 2xx`);
  const cpuUsPerRequest = cpuBefore === null || cpuAfter === null ? null : ((cpuAfter - cpuBefore) * 1e6) / result.requests;
  return { ...result, cpuUsPerRequest };
}

const median = (values) => [...values].sort((a, b) => a - b)[values.length >> 1];

/**
 * One pair: a warm-up run of each (discarded: JIT, connection set-up), then ROUNDS_PER_PAIR rounds of
 * each, the API's round followed at once by the bare route's.
 */
async function loadPair(pair, api, bare, baseline, { apiRounds, bareRounds, baselineRounds }) {
  for (const target of [api, bare, baseline]) {
    if (target) await runWrk(target.url, { durationS: WARMUP_S, connections: CONNECTIONS, headers: target.headers });
  }
  for (let i = 0; i < ROUNDS_PER_PAIR; i++) {
    apiRounds.push({ pair, ...(await round(api)) });
    bareRounds.push({ pair, ...(await round(bare)) });
    if (baseline) baselineRounds.push({ pair, ...(await round(baseline)) });
  }
}

/** One side's median round (by req/s, with that round's latencies) and its median CPU per request. */
function side(rounds) {
  const byRps = [...rounds].sort((a, b) => a.rps - b.rps);
  const mid = byRps[rounds.length >> 1];
  const cpu = rounds.every((r) => r.cpuUsPerRequest !== null) ? median(rounds.map((r) => r.cpuUsPerRequest)) : null;
  const perPair = Array.from({ length: PAIRS }, (_, p) => median(rounds.filter((r) => r.pair === p).map((r) => r.rps)));
  return { rps: mid.rps, p50Ms: mid.p50Ms, p99Ms: mid.p99Ms, cpuUsPerRequest: cpu, perPair };
}

function report({ apiRounds, bareRounds, baselineRounds }, bodyBytes, identical, load1m, requestLines) {
  const api = side(apiRounds);
  const bare = side(bareRounds);
  const baseline = baselineRounds.length ? side(baselineRounds) : null;
  const vsBaseline = baseline ? api.rps / baseline.rps : null;
  const cpuVsBaseline = baseline?.cpuUsPerRequest && api.cpuUsPerRequest ? baseline.cpuUsPerRequest / api.cpuUsPerRequest : null;
  const ratio = api.rps / bare.rps;
  const cpuRatio = api.cpuUsPerRequest && bare.cpuUsPerRequest ? bare.cpuUsPerRequest / api.cpuUsPerRequest : null;
  const pairRatios = apiRounds.map((r, i) => r.rps / bareRounds[i].rps).sort((a, b) => a - b);
  const measured = apiRounds.reduce((sum, r) => sum + r.requests, 0);
  const fixed = (value, digits) => (value === null ? '-' : value.toFixed(digits));
  const percent = (value) => `${(value * 100).toFixed(1)}%`;
  const row = (name, r) =>
    `${name.padEnd(32)}${fixed(r.rps, 0).padStart(10)}${fixed(r.p50Ms, 2).padStart(10)}${fixed(r.p99Ms, 2).padStart(10)}${fixed(r.cpuUsPerRequest, 0).padStart(12)}`;
  console.log(
    [
      `GET /books, ${BOOKS} books (${bodyBytes}-byte body${identical ? ', byte-identical on both' : ''}); wrk 1 thread, ${CONNECTIONS} connections`,
      `${PAIRS} pairs of fresh processes, one pair after another: each server warmed ${WARMUP_S} s, then ${ROUNDS_PER_PAIR} alternating rounds of ${ROUND_S} s each; each row is that side's median round`,
      `API rate limit on, at ${RATE_LIMIT_MAX} per window so that it never rejects; load average before the run: ${load1m.toFixed(2)}`,
      `API request log on (LOG_LEVEL=${API_LOG_LEVEL}, to a file): ${requestLines} request lines, ${measured} requests answered in the measured rounds`,
      'CPU us/req: CPU time of the server process per request, median round (steadier than req/s when the machine is shared)',
      `${'target'.padEnd(32)}${'req/s'.padStart(10)}${'p50 ms'.padStart(10)}${'p99 ms'.padStart(10)}${'CPU us/req'.padStart(12)}`,
      row('API, authenticated cache hit', api),
      row('bare Fastify route', bare),
      `ratio cache hit / bare: ${percent(ratio)} (target >= ${TARGET_RATIO * 100}%: ${ratio >= TARGET_RATIO ? 'met' : 'NOT met'})` +
        (cpuRatio === null ? '' : `; by server CPU per request: ${percent(cpuRatio)}`),
      `ratio of each back-to-back pair of rounds: ${pairRatios.map(percent).join(', ')}`,
      `median req/s of each pair's processes: API ${api.perPair.map((v) => v.toFixed(0)).join(', ')}; bare ${bare.perPair.map((v) => v.toFixed(0)).join(', ')}`,
      ...(baseline
        ? [
            row(`API at baseline (${BASELINE_DIR})`.slice(0, 31), baseline),
            `this API / baseline: ${percent(vsBaseline)} of its req/s` +
              (cpuVsBaseline === null ? '' : `, ${percent(cpuVsBaseline)} by server CPU per request`) +
              ` (at most ${BASELINE_MAX_LOSS * 100}% loss: ${vsBaseline >= 1 - BASELINE_MAX_LOSS ? 'met' : 'NOT met'})`,
          ]
        : []),
    ].join('\n'),
  );
  const summary = (r) => ({
    rps: Math.round(r.rps),
    p50Ms: r.p50Ms,
    p99Ms: r.p99Ms,
    cpuUsPerRequest: r.cpuUsPerRequest === null ? null : Math.round(r.cpuUsPerRequest),
    perPairRps: r.perPair.map(Math.round),
  });
  const round3 = (value) => (value === null ? null : Math.round(value * 1000) / 1000);
  console.log(
    JSON.stringify({
      bench: 'api-cache',
      books: BOOKS,
      bodyBytes,
      connections: CONNECTIONS,
      pairs: PAIRS,
      roundsPerPair: ROUNDS_PER_PAIR,
      roundS: ROUND_S,
      warmupS: WARMUP_S,
      rateLimitMax: RATE_LIMIT_MAX,
      apiLogLevel: API_LOG_LEVEL,
      apiRequestLines: requestLines,
      load1m: round3(load1m),
      api: summary(api),
      bare: summary(bare),
      ratio: round3(ratio),
      pairRatios: pairRatios.map(round3),
      cpuRatio: round3(cpuRatio),
      target: TARGET_RATIO,
      met: ratio >= TARGET_RATIO,
      ...(baseline
        ? {
            baseline: { dir: BASELINE_DIR, ...summary(baseline) },
            vsBaseline: round3(vsBaseline),
            cpuVsBaseline: round3(cpuVsBaseline),
            baselineMet: vsBaseline >= 1 - BASELINE_MAX_LOSS,
          }
        : {}),
    }),
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

/** An API process writing its log to `logFile`. */
async function startLoggedApi(databaseUrl, prefix, env, logFile, server) {
  const fd = openSync(logFile, 'w');
  try {
    return { ...(await startApi(databaseUrl, prefix, env, { stdout: fd, server })), logFile };
  } finally {
    closeSync(fd); // the API holds its own copy
  }
}

/** Stops an API (its last lines are written by the time it exits) and checks it logged every request. */
async function stopAndCountLog(api, measured) {
  await stop(api.child);
  const count = await countRequestLines(api.logFile);
  rmSync(api.logFile); // a few hundred MB each
  if (count < measured) throw new Error(`API process ${api.pid} logged ${count} request lines for at least ${measured} requests`);
  return count;
}

ensureWrk();
const prefix = `bench:${randomBytes(4).toString('hex')}:`;
const tmp = mkdtempSync(join(tmpdir(), 'books-bench-'));
// Other work on this machine skews req/s: say how busy it was (before our own set-up adds to it).
const load1m = loadavg()[0];
try {
  log(`preparing database ${DB_NAME} and Redis prefix ${prefix}`);
  const databaseUrl = await freshDatabase(DB_NAME);
  // One database, Redis namespace and JWT secret for every API process: one token and one cached page
  // serve them all.
  const apiEnv = { RATE_LIMIT_MAX: String(RATE_LIMIT_MAX), LOG_LEVEL: API_LOG_LEVEL, JWT_SECRET: randomBytes(32).toString('hex') };
  const bodyFile = join(tmp, 'body.json');
  const results = { apiRounds: [], bareRounds: [], baselineRounds: [] };
  let seeded = null;
  let identical = true;
  let requestLines = 0;
  log(
    `${PAIRS} pairs of fresh API and bare processes in turn: ${WARMUP_S} s of warm-up each, then ${ROUNDS_PER_PAIR} rounds of ${ROUND_S} s each`,
  );
  for (let pair = 0; pair < PAIRS; pair++) {
    const api = await startLoggedApi(databaseUrl, prefix, apiEnv, join(tmp, `api-${pair}.log`));
    if (seeded === null) {
      seeded = await seed(api.base);
      writeFileSync(bodyFile, seeded.body);
    }
    const { token, body } = seeded;
    await expectHit(api.base, token);
    const bare = await startBare(body, bodyFile);
    identical &&= bare.identical;
    const old = baselineServer
      ? await startLoggedApi(databaseUrl, prefix, apiEnv, join(tmp, `baseline-${pair}.log`), baselineServer)
      : null;
    if (old) {
      // A baseline of another key layout (before the shard tags) keeps its own cache entry: fill it once.
      await expect(200, call(old.base, '/books', { token }), 'GET /books (baseline)');
      await expectHit(old.base, token);
    }
    const apiTarget = { url: `${api.base}/books`, pid: api.pid, headers: { Authorization: `Bearer ${token}` } };
    const bareTarget = { url: `${bare.base}/books`, pid: bare.pid, headers: {} };
    const baselineTarget = old ? { url: `${old.base}/books`, pid: old.pid, headers: apiTarget.headers } : null;
    await loadPair(pair, apiTarget, bareTarget, baselineTarget, results);
    await expectHit(api.base, token); // The whole run was served from the cache.
    await stop(bare.child);
    const measured = results.apiRounds.filter((r) => r.pair === pair).reduce((sum, r) => sum + r.requests, 0);
    requestLines += await stopAndCountLog(api, measured);
    if (old)
      await stopAndCountLog(
        old,
        results.baselineRounds.filter((r) => r.pair === pair).reduce((sum, r) => sum + r.requests, 0),
      );
  }
  report(results, Buffer.byteLength(seeded.body), identical, load1m, requestLines);
} catch (err) {
  process.exitCode = 1;
  log(`failed: ${err.stack ?? err}`);
} finally {
  await stopAll();
  rmSync(tmp, { recursive: true, force: true });
  await cleanUp('Redis keys', async () => log(`removed ${await unlinkPrefix(prefix)} Redis keys under ${prefix}`));
  await cleanUp(`database ${DB_NAME}`, () => dropDatabase(DB_NAME));
}
