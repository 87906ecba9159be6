import { createBulkWorkerScripts } from '@books/core/bulk';
import type { BulkWorkerConfig } from '@books/core/config';
import { createDb, type DbHandle } from '@books/core/db';
import { createMetricsRegistry } from '@books/core/metrics';
import { createRedisClient, createRedisKeys, type RedisClient } from '@books/core/redis';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { BulkDeps } from './jobs/drain-user.js';
import { createBulkMetrics } from './metrics.js';

/** Builds the worker's dependencies from config: what main.ts and the tests both use. */
export function createBulkDeps(
  config: BulkWorkerConfig,
  log: Logger,
  registry: Registry = createMetricsRegistry(),
): BulkDeps & { db: DbHandle; registry: Registry; close(): Promise<void> } {
  const db = createDb(config.databaseUrl, { ...config.databasePool, applicationName: 'books-bulk-worker' });
  const redis: RedisClient = createRedisClient(config, 'worker', log, { name: 'bulk-worker', timeouts: config.redisTimeouts });
  const keys = createRedisKeys(config.redisKeyPrefix);
  const settings = {
    chunkSize: config.bulk.chunkSize,
    maxAttempts: config.bulk.maxAttempts,
    leaseMs: config.bulk.leaseMs,
    concurrency: config.bulk.concurrency,
    turnChunks: config.bulk.turnChunks,
    retryBaseMs: config.bulk.retryBaseMs,
  };
  const scripts = createBulkWorkerScripts(redis, keys, {
    leaseMs: settings.leaseMs,
    cacheTtlMs: config.cacheTtlSeconds * 1000,
    recordTtlSeconds: config.bulk.recordTtlSeconds,
  });
  return {
    db,
    sql: db.sql,
    redis,
    keys,
    scripts,
    log,
    now: () => new Date(),
    settings,
    registry,
    metrics: createBulkMetrics(registry, { redis, keys }),
    async close() {
      redis.disconnect();
      await db.close();
    },
  };
}
