// A throw-away Postgres database and Redis namespace per benchmark run, with the API's own client libraries.
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const requireFromApi = createRequire(new URL('../../apps/api/package.json', import.meta.url));
const postgres = requireFromApi('postgres');
const { Redis } = requireFromApi('ioredis');
const { ensureDatabase, runMigrations } = await import(pathToFileURL(requireFromApi.resolve('@books/core')).href);

// biome-ignore lint/suspicious/noUndeclaredEnvVars: a script run by node, not a turbo task
export const ADMIN_URL = process.env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = 'redis://127.0.0.1:6379';

/** Drops `name` if a previous run left it, creates it again and migrates it; returns its URL. */
export async function freshDatabase(name) {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  await dropDatabase(name);
  await ensureDatabase(url.href);
  await runMigrations(url.href);
  return url.href;
}

export async function dropDatabase(name) {
  const sql = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
  try {
    // FORCE: a server killed mid-run may leave its connections behind for a moment.
    await sql.unsafe(`drop database if exists "${name}" with (force)`);
  } finally {
    await sql.end();
  }
}

/** Removes every key under `prefix` with SCAN + UNLINK (never KEYS, which blocks Redis); returns how many. */
export async function unlinkPrefix(prefix) {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  let lastError;
  redis.on('error', (err) => {
    lastError = err;
  });
  let removed = 0;
  try {
    await redis.connect().catch((err) => {
      throw lastError ?? err;
    });
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length) removed += await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return removed;
}
