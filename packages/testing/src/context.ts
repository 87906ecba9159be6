// One call gives a test file its own database, Redis namespace and validated config.
import {
  type ApiConfig,
  type BulkWorkerConfig,
  loadApiConfig,
  loadBulkWorkerConfig,
  loadReportWorkerConfig,
  type ReportWorkerConfig,
} from '@books/core/config';
import { createTestDatabase, type TestDatabase } from './database.js';
import { testEnv } from './env.js';
import { clusterEnv, createTestNamespace, type TestNamespace } from './redis.js';

export interface TestContext {
  database: TestDatabase;
  namespace: TestNamespace;
  /** The environment a process under test would get. */
  env: Record<string, string>;
  /** The API's config, as its server.ts would load it from `env`. */
  config: ApiConfig;
  bulkWorkerConfig: BulkWorkerConfig;
  reportWorkerConfig: ReportWorkerConfig;
  /** Drops the database and the namespace's keys. */
  cleanup(): Promise<void>;
}

export const TEST_JWT_SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789';

export async function createTestContext(label: string, overrides: Record<string, string> = {}): Promise<TestContext> {
  const database = await createTestDatabase();
  const namespace = createTestNamespace(label);
  const env: Record<string, string> = {
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATABASE_URL: database.url,
    REDIS_URL: testEnv.redisUrl,
    REDIS_KEY_PREFIX: namespace.prefix,
    JWT_SECRET: TEST_JWT_SECRET,
    RATE_LIMIT_MAX: '100000',
    AUTH_RATE_LIMIT_MAX: '100000',
    // Test files run side by side and start processes of their own: each metrics listener takes a free port.
    METRICS_PORT: '0',
    // A run with TEST_REDIS_CLUSTER=1 puts every process on its cluster, unless the test brings a Redis of its own.
    ...('REDIS_URL' in overrides ? {} : clusterEnv()),
    ...overrides,
  };
  return {
    database,
    namespace,
    env,
    config: loadApiConfig(env),
    bulkWorkerConfig: loadBulkWorkerConfig(env),
    reportWorkerConfig: loadReportWorkerConfig(env),
    async cleanup() {
      await Promise.allSettled([database.drop(), namespace.clean()]);
    },
  };
}
