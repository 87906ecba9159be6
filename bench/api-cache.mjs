// GET /books served from the Redis cache through the whole API (JWT + identity lookup, rate limit,
// helmet, hooks) against a bare Fastify route sending the same body: how much of Fastify's speed
// the API keeps on its hottest read. Prints a table, then one JSON line as the last line of stdout.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { call, expect, signup, startApi } from './lib/api.mjs';
import { isbn13 } from './lib/books.mjs';
import { dropDatabase, freshDatabase, unlinkPrefix } from './lib/datastores.mjs';
import { cpuSeconds, freePort, startNode, stopAll, waitForHttp } from './lib/processes.mjs';
import { ensureWrk, runWrk } from './lib/wrk.mjs';

const BOOKS = 20;
const CONNECTIONS = 50;
// Each server is loaded this long before measuring: the API runs far more JavaScript per request
// than the bare route, and V8 takes 10-15 s of this load to optimise it all (its req/s rose by half
// over its first 15 s in repeated runs here; the bare route's by a few percent). Measuring sooner
// measured the JIT's warm-up, not the API.
const WARMUP_S = 20;
// The two servers are loaded in alternating rounds and each is summarised by its median round: on a
// shared 2-core machine the available CPU drifts by ±15% over a minute, and one long run of each,
// one after the other, measured that drift as much as the servers.
const ROUNDS = 5;
const ROUND_S = 5;
const TARGET_RATIO = 0.7;
// The limiter stays on, since its Redis round trip is part of every request's cost, with a ceiling
// no run reaches (the config allows at most 10,000,000 per window).
const RATE_LIMIT_MAX = 10_000_000;
const DB_NAME = 'books_bench';

const bareServer = fileURLToPath(new URL('./bare-server.mjs', import.meta.url));
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

async function startBare(body, dir) {
  const port = await freePort();
  const bodyFile = join(dir, 'body.json');
  writeFileSync(bodyFile, body);
  const child = startNode(bareServer, { PATH: process.env.PATH }, [String(port), bodyFile]);
  const base = `http://127.0.0.1:${port}`;
  await waitForHttp(`${base}/books`, child);
  const res = await expect(200, call(base, '/books'), 'bare GET /books');
  // Same work on the wire, or the ratio compares different things.
  if (Buffer.byteLength(res.text) !== Buffer.byteLength(body)) {
    throw new Error(`bare body is ${Buffer.byteLength(res.text)} bytes, the API's ${Buffer.byteLength(body)}`);
  }
  return { base, pid: child.pid, identical: res.text === body };
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

/** The round with the median req/s, and the ratios of each pair of rounds (run back to back). */
function summarise(apiRounds, bareRounds) {
  const medianOf = (rounds) => [...rounds].sort((a, b) => a.rps - b.rps)[rounds.length >> 1];
  const ratios = apiRounds.map((r, i) => r.rps / bareRounds[i].rps).sort((a, b) => a - b);
  return { api: medianOf(apiRounds), bare: medianOf(bareRounds), pairRatios: ratios };
}

/** A warm-up run of each (discarded: JIT, connection set-up), then ROUNDS alternating measured ones. */
async function loadBoth(api, bare) {
  for (const target of [api, bare]) await runWrk(target.url, { durationS: WARMUP_S, connections: CONNECTIONS, headers: target.headers });
  const apiRounds = [];
  const bareRounds = [];
  for (let i = 0; i < ROUNDS; i++) {
    apiRounds.push(await round(api));
    bareRounds.push(await round(bare));
  }
  return summarise(apiRounds, bareRounds);
}

function report({ api, bare, pairRatios }, bodyBytes, identical, load1m) {
  const ratio = api.rps / bare.rps;
  const cpuRatio = api.cpuUsPerRequest && bare.cpuUsPerRequest ? bare.cpuUsPerRequest / api.cpuUsPerRequest : null;
  const fixed = (value, digits) => (value === null ? '-' : value.toFixed(digits));
  const row = (name, r) =>
    `${name.padEnd(32)}${fixed(r.rps, 0).padStart(10)}${fixed(r.p50Ms, 2).padStart(10)}${fixed(r.p99Ms, 2).padStart(10)}${fixed(r.cpuUsPerRequest, 0).padStart(12)}`;
  console.log(
    [
      `GET /books, ${BOOKS} books (${bodyBytes}-byte body${identical ? ', byte-identical on both' : ''}); wrk 1 thread, ${CONNECTIONS} connections`,
      `${ROUNDS} alternating rounds of ${ROUND_S} s each after a ${WARMUP_S} s warm-up; each row is that server's median round`,
      `API rate limit on, at ${RATE_LIMIT_MAX} per window so that it never rejects; load average before the run: ${load1m.toFixed(2)}`,
      'CPU us/req: CPU time of the server process per request (steadier than req/s when the machine is shared)',
      `${'target'.padEnd(32)}${'req/s'.padStart(10)}${'p50 ms'.padStart(10)}${'p99 ms'.padStart(10)}${'CPU us/req'.padStart(12)}`,
      row('API, authenticated cache hit', api),
      row('bare Fastify route', bare),
      `ratio cache hit / bare: ${(ratio * 100).toFixed(1)}% (target >= ${TARGET_RATIO * 100}%: ${ratio >= TARGET_RATIO ? 'met' : 'NOT met'})` +
        (cpuRatio === null ? '' : `; by server CPU per request: ${(cpuRatio * 100).toFixed(1)}%`),
      `ratio of each back-to-back pair of rounds: ${pairRatios.map((r) => `${(r * 100).toFixed(1)}%`).join(', ')}`,
    ].join('\n'),
  );
  const summary = (r) => ({
    rps: Math.round(r.rps),
    p50Ms: r.p50Ms,
    p99Ms: r.p99Ms,
    cpuUsPerRequest: r.cpuUsPerRequest === null ? null : Math.round(r.cpuUsPerRequest),
    requests: r.requests,
    socketErrors: r.socketErrors,
  });
  const round3 = (value) => (value === null ? null : Math.round(value * 1000) / 1000);
  console.log(
    JSON.stringify({
      bench: 'api-cache',
      books: BOOKS,
      bodyBytes,
      connections: CONNECTIONS,
      rounds: ROUNDS,
      roundS: ROUND_S,
      rateLimitMax: RATE_LIMIT_MAX,
      load1m: round3(load1m),
      api: summary(api),
      bare: summary(bare),
      ratio: round3(ratio),
      pairRatios: pairRatios.map(round3),
      cpuRatio: round3(cpuRatio),
      target: TARGET_RATIO,
      met: ratio >= TARGET_RATIO,
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

ensureWrk();
const prefix = `bench:${randomBytes(4).toString('hex')}:`;
const tmp = mkdtempSync(join(tmpdir(), 'books-bench-'));
// Other work on this machine skews req/s: say how busy it was (before our own set-up adds to it).
const load1m = loadavg()[0];
try {
  log(`preparing database ${DB_NAME} and Redis prefix ${prefix}`);
  const api = await startApi(await freshDatabase(DB_NAME), prefix, { RATE_LIMIT_MAX: String(RATE_LIMIT_MAX) });
  const { token, body } = await seed(api.base);
  const bare = await startBare(body, tmp);
  log(`loading the API and the bare route in ${ROUNDS} alternating rounds of ${ROUND_S} s`);
  const results = await loadBoth(
    { url: `${api.base}/books`, pid: api.pid, headers: { Authorization: `Bearer ${token}` } },
    { url: `${bare.base}/books`, pid: bare.pid, headers: {} },
  );
  await expectHit(api.base, token); // The whole run was served from the cache.
  report(results, Buffer.byteLength(body), bare.identical, load1m);
} catch (err) {
  process.exitCode = 1;
  log(`failed: ${err.stack ?? err}`);
} finally {
  await stopAll();
  rmSync(tmp, { recursive: true, force: true });
  await cleanUp('Redis keys', async () => log(`removed ${await unlinkPrefix(prefix)} Redis keys under ${prefix}`));
  await cleanUp(`database ${DB_NAME}`, () => dropDatabase(DB_NAME));
}
