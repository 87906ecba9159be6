// A throw-away Postgres database and Redis namespace per benchmark run, with the API's own client libraries.
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const requireFromApi = createRequire(new URL('../../apps/api/package.json', import.meta.url));
export const postgres = requireFromApi('postgres');
const { Cluster, Redis } = requireFromApi('ioredis');
const fromCore = async (entry) => import(pathToFileURL(requireFromApi.resolve(`@books/core/${entry}`)).href);
const { ensureDatabase, runMigrations } = await fromCore('db');
// The services' own key builders, so that a benchmark never spells a Redis key itself.
export const { countSharded, createRedisKeys } = await fromCore('redis');

// biome-ignore lint/suspicious/noUndeclaredEnvVars: a script run by node, not a turbo task
export const ADMIN_URL = process.env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = 'redis://127.0.0.1:6379';

export function databaseUrl(name) {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return url.href;
}

/** Drops `name` if a previous run left it, creates it again and migrates it; returns its URL. */
export async function freshDatabase(name) {
  const url = databaseUrl(name);
  await dropDatabase(name);
  await ensureDatabase(url);
  await runMigrations(url);
  return url;
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

/**
 * A Redis client that fails fast (a benchmark has nothing to wait for); the caller disconnects it.
 * `clusterNodes` (`host:port` strings) gives a Redis Cluster client instead of the standalone server.
 */
export async function connectRedis({ clusterNodes } = {}) {
  const redis = clusterNodes
    ? new Cluster(
        clusterNodes.map((node) => ({ host: node.slice(0, node.lastIndexOf(':')), port: Number(node.slice(node.lastIndexOf(':') + 1)) })),
        { lazyConnect: true, clusterRetryStrategy: () => null, redisOptions: { maxRetriesPerRequest: 1 } },
      )
    : new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  let lastError;
  redis.on('error', (err) => {
    lastError = err;
  });
  await redis.connect().catch((err) => {
    redis.disconnect();
    throw lastError ?? err;
  });
  return redis;
}

/** Removes every key under `prefix` with SCAN + UNLINK (never KEYS, which blocks Redis); returns how many. */
export async function unlinkPrefix(prefix) {
  const redis = await connectRedis();
  let removed = 0;
  try {
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
