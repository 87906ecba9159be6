// `pnpm db:migrate`: creates the database if needed and applies pending migrations, then moves
// Redis keys left in the pre-cluster layout to today's (redis/layout-migration.ts).
import { loadMigrateConfigOrExit } from './config/processes.js';
import { ensureDatabase, runMigrations } from './db/migrate.js';
import { createRedisClient, waitForRedis } from './redis/client.js';
import { createRedisKeys } from './redis/keys.js';
import { migrateRedisLayout } from './redis/layout-migration.js';
import { createLogger } from './runtime/logger.js';

// A one-shot step must end: a bounded wait for Redis, and a command timeout in case it goes away
// midway (the migration is safe to run again). Fixed here rather than read from the environment:
// the step's config is only where the datastores are.
const REDIS_READY_TIMEOUT_MS = 30_000;
const REDIS_TIMEOUTS = { connectMs: 5_000, commandMs: 60_000, reconnectMaxDelayMs: 2_000 };

const config = loadMigrateConfigOrExit(process.env);
const log = createLogger(config, 'migrate');
try {
  if (await ensureDatabase(config.databaseUrl)) log.info('created the database');
  await runMigrations(config.databaseUrl);
  log.info('migrations applied');
  const redis = createRedisClient(config, 'worker', log, { timeouts: REDIS_TIMEOUTS, name: 'migrate' });
  try {
    if (!(await waitForRedis(redis, REDIS_READY_TIMEOUT_MS))) {
      throw Object.assign(new Error(`Redis did not answer within ${REDIS_READY_TIMEOUT_MS / 1000} s (REDIS_URL, REDIS_CLUSTER_NODES)`), {
        code: 'REDIS_UNAVAILABLE',
      });
    }
    await migrateRedisLayout(redis, createRedisKeys(config.redisKeyPrefix), log);
  } finally {
    redis.disconnect();
  }
} catch (err) {
  log.error({ err }, 'migration failed');
  process.exitCode = 1;
}
