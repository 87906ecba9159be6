// A 1,000,000-row CSV import end to end through the real processes: streamed upload to the API
// (POST /books/bulk, text/csv), one `--once` pass of the bulk worker, one of the report worker into
// a local SMTP sink; beside a plain COPY of the same rows in the same run. Rows/s of the upload and
// of the drain, the API's and the worker's peak RSS, Redis memory at its peak. Prints a table, then
// one JSON line as the last line of stdout.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { loadavg } from 'node:os';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { signup, startApi } from './lib/api.mjs';
import { benchBook, copyLine } from './lib/books.mjs';
import { connectRedis, createRedisKeys, dropDatabase, freshDatabase, postgres, REDIS_URL, unlinkPrefix } from './lib/datastores.mjs';
import { cpuSeconds, memoryKb, resetPeakRss, startNode, stop, stopAll, watchProcess } from './lib/processes.mjs';
import { startSmtpSink } from './lib/smtp.mjs';

const ROWS = 1_000_000;
const ROWS_PER_WRITE = 1000;
const TARGETS = { apiPeakRssMb: 200, workerPeakRssMb: 300 };
const DB_NAME = 'books_bench_csv';
const COPY_DB_NAME = 'books_bench_csv_copy';

const bulkMain = fileURLToPath(new URL('../apps/bulk-worker/dist/main.js', import.meta.url));
const reportMain = fileURLToPath(new URL('../apps/report-worker/dist/main.js', import.meta.url));
const log = (message) => console.error(`csv-import: ${message}`);

// Row i of the file: the same books benchBook gives user 0..99 (ISBNs unique across the million).
const bookOf = (i) => benchBook(Math.floor(i / 10_000), i % 10_000);
const csvCell = (value) => (/[",\n\r]/.test(String(value)) ? `"${String(value).replace(/"/g, '""')}"` : String(value));

function* csvChunks() {
  yield 'title,author,isbn,publishedYear,genre\n';
  for (let at = 0; at < ROWS; at += ROWS_PER_WRITE) {
    let chunk = '';
    for (let i = at; i < Math.min(ROWS, at + ROWS_PER_WRITE); i++) {
      const b = bookOf(i);
      chunk += `${csvCell(b.title)},${csvCell(b.author)},${b.isbn},${b.publishedYear},${csvCell(b.genre)}\n`;
    }
    yield chunk;
  }
}

/** Samples Redis's used_memory until stop(); answers the baseline and the peak (MB). */
function watchRedisMemory(redis, everyMs = 100) {
  const seen = { firstMb: null, peakMb: 0 };
  const sample = async () => {
    const info = await redis.info('memory');
    const mb = Number(info.match(/used_memory:(\d+)/)[1]) / 1024 / 1024;
    seen.firstMb ??= mb;
    seen.peakMb = Math.max(seen.peakMb, mb);
  };
  const timer = setInterval(() => void sample().catch(() => {}), everyMs);
  return {
    sample,
    stop() {
      clearInterval(timer);
      return seen;
    },
  };
}

/** Streams the file to POST /books/bulk; answers the 202's body and the wall time. */
async function upload(base, token) {
  const url = new URL('/books/bulk', base);
  const started = performance.now();
  const body = await new Promise((resolve, reject) => {
    const request = http.request(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'text/csv' },
    });
    request.on('response', (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => (text += chunk));
      response.on('end', () =>
        response.statusCode === 202 ? resolve(JSON.parse(text)) : reject(new Error(`upload: ${response.statusCode} ${text}`)),
      );
    });
    request.on('error', reject);
    pipeline(Readable.from(csvChunks()), request).catch(reject);
  });
  return { body, ms: performance.now() - started };
}

/** Runs a worker with `--once`, watching its memory: answers its wall time and peak RSS (MB). */
async function runOnce(file, env) {
  const started = performance.now();
  const child = startNode(file, env, ['--once']);
  const memory = watchProcess(child.pid);
  const code = await new Promise((resolve) => child.once('exit', resolve));
  const seen = memory.stop();
  if (code !== 0) throw new Error(`${file} exited with ${code}`);
  return { ms: performance.now() - started, peakRssMb: Math.max(seen.peakRssKb, seen.hwmKb) / 1024 };
}

async function copyCeiling() {
  const databaseUrl = await freshDatabase(COPY_DB_NAME);
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    const [user] = await sql`insert into users (username, email, password_hash) values ('copy', 'copy@example.com', 'x') returning id`;
    const lines = function* () {
      for (let at = 0; at < ROWS; at += 10_000) {
        let chunk = '';
        for (let i = at; i < at + 10_000; i++) {
          const b = bookOf(i);
          chunk += copyLine([user.id, b.title, b.author, b.isbn, b.publishedYear, b.genre]);
        }
        yield chunk;
      }
    };
    await sql`checkpoint`;
    const started = performance.now();
    const writable = await sql`copy books (user_id, title, author, isbn, published_year, genre) from stdin`.writable();
    await pipeline(Readable.from(lines()), writable);
    return { ms: performance.now() - started };
  } finally {
    await sql.end();
    await dropDatabase(COPY_DB_NAME);
  }
}

const load1m = loadavg()[0];
const prefix = `bench:csv:${randomBytes(4).toString('hex')}:`;
const redis = await connectRedis();
const sink = await startSmtpSink();
try {
  const databaseUrl = await freshDatabase(DB_NAME);
  const jwtSecret = randomBytes(32).toString('hex');
  const api = await startApi(databaseUrl, prefix, { JWT_SECRET: jwtSecret, RATE_LIMIT_MAX: '10000000', AUTH_RATE_LIMIT_MAX: '10000000' });
  const { token, userId } = await signup(api.base, `csv_${randomBytes(3).toString('hex')}`);
  const redisMemory = watchRedisMemory(redis);
  await redisMemory.sample();

  log(`uploading ${ROWS.toLocaleString('en-US')} rows`);
  // The API's high-water mark so far holds its start-up and the sign-up's password hash (argon2id
  // takes 64 MiB for a moment): start it again, so that the peak is the upload's.
  const apiRssBeforeMb = memoryKb(api.pid).rss / 1024;
  if (!resetPeakRss(api.pid)) log("could not reset the API's VmHWM: its peak RSS includes its start-up and the sign-up");
  const apiMemory = watchProcess(api.pid);
  const apiCpuBefore = cpuSeconds(api.pid);
  const uploaded = await upload(api.base, token);
  const apiSeen = apiMemory.stop();
  const apiCpuS = cpuSeconds(api.pid) - apiCpuBefore;
  await stop(api.child);
  const { requestId, queuedBooks, invalidBooks } = uploaded.body.data;
  if (queuedBooks !== ROWS || invalidBooks !== 0) throw new Error(`upload queued ${queuedBooks}, ${invalidBooks} invalid`);

  const workerEnv = {
    PATH: process.env.PATH,
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    DATABASE_URL: databaseUrl,
    REDIS_URL,
    REDIS_KEY_PREFIX: prefix,
  };
  log('draining with one bulk worker pass');
  const drained = await runOnce(bulkMain, workerEnv);
  const redisSeen = redisMemory.stop();
  const keys = createRedisKeys(prefix);
  const [stage, inserted] = await redis.hmget(keys.bulkRequest(userId, requestId), 'stage', 'inserted');
  if (stage !== 'processed_awaiting_report' || Number(inserted) !== ROWS)
    throw new Error(`after the drain: stage ${stage}, ${inserted} inserted`);

  log('reporting with one report worker pass');
  const reported = await runOnce(reportMain, {
    ...workerEnv,
    SMTP_HOST: '127.0.0.1',
    SMTP_PORT: String(sink.port),
    SMTP_SECURE: 'false',
  });
  // The sign-up's verification email goes out in the same --once run: count the report only.
  const reports = sink.take().filter((mail) => /^Subject: Your book import/m.test(mail.raw.toString('latin1')));
  if (reports.length !== 1) throw new Error(`${reports.length} report emails, not 1`);

  log('the same rows by plain COPY');
  const copy = await copyCeiling();

  const perS = (ms) => Math.round(ROWS / (ms / 1000));
  const round1 = (value) => Math.round(value * 10) / 10;
  const result = {
    bench: 'csv-import',
    rows: ROWS,
    load1m: Math.round(load1m * 100) / 100,
    upload: {
      ms: Math.round(uploaded.ms),
      rowsPerS: perS(uploaded.ms),
      apiRssBeforeMb: round1(apiRssBeforeMb),
      apiPeakRssMb: round1(Math.max(apiSeen.peakRssKb, apiSeen.hwmKb) / 1024),
      apiCpuS: round1(apiCpuS),
    },
    drain: { ms: Math.round(drained.ms), rowsPerS: perS(drained.ms), workerPeakRssMb: round1(drained.peakRssMb) },
    report: { ms: Math.round(reported.ms), workerPeakRssMb: round1(reported.peakRssMb) },
    copy: { ms: Math.round(copy.ms), rowsPerS: perS(copy.ms) },
    redis: { beforeMb: round1(redisSeen.firstMb), peakMb: round1(redisSeen.peakMb) },
  };
  result.drainCopyShare = Math.round((result.drain.rowsPerS / result.copy.rowsPerS) * 1000) / 1000;
  result.met = {
    apiPeakRss: result.upload.apiPeakRssMb < TARGETS.apiPeakRssMb,
    workerPeakRss: result.drain.workerPeakRssMb < TARGETS.workerPeakRssMb,
  };
  const verdict = (ok) => (ok ? 'met' : 'NOT met');
  const n = (value) => value.toLocaleString('en-US');
  console.log(
    [
      `CSV import of ${n(ROWS)} rows, end to end; load average before the run: ${load1m.toFixed(2)}`,
      `upload (streamed, 202 after the commit)   ${(result.upload.ms / 1000).toFixed(1)} s   ${n(result.upload.rowsPerS)} rows/s   API CPU ${result.upload.apiCpuS} s`,
      `API peak RSS during the upload            ${result.upload.apiPeakRssMb} MB (target < ${TARGETS.apiPeakRssMb} MB: ${verdict(result.met.apiPeakRss)}; ${result.upload.apiRssBeforeMb} MB before it)`,
      `drain (one bulk worker pass)              ${(result.drain.ms / 1000).toFixed(1)} s   ${n(result.drain.rowsPerS)} rows/s`,
      `bulk worker peak RSS                      ${result.drain.workerPeakRssMb} MB (target < ${TARGETS.workerPeakRssMb} MB: ${verdict(result.met.workerPeakRss)})`,
      `plain COPY of the same rows               ${(result.copy.ms / 1000).toFixed(1)} s   ${n(result.copy.rowsPerS)} rows/s (drain: ${(result.drainCopyShare * 100).toFixed(0)}% of it)`,
      `report (one report worker pass, 1 email)  ${(result.report.ms / 1000).toFixed(1)} s   peak RSS ${result.report.workerPeakRssMb} MB`,
      `Redis used_memory                         ${result.redis.beforeMb} MB before, ${result.redis.peakMb} MB at the peak`,
    ].join('\n'),
  );
  console.log(JSON.stringify(result));
} catch (err) {
  process.exitCode = 1;
  log(`failed: ${err.stack ?? err}`);
} finally {
  await stopAll();
  await sink.close();
  redis.disconnect();
  log(`removed ${await unlinkPrefix(prefix)} Redis keys under ${prefix}`);
  await dropDatabase(DB_NAME).catch((err) => log(`could not drop ${DB_NAME}: ${err.message}`));
}
