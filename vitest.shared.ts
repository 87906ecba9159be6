// What every package's vitest config shares. Under CI each package also writes a JSON report,
// which scripts/test-summary.mjs adds up into the `tests: N passed, N failed` line.
// With TEST_REDIS_CLUSTER=1 (the packages' `test:cluster` scripts) the run gets a throw-away
// 3-master Redis Cluster of its own, and every process and client under test uses it.
import { defineConfig } from 'vitest/config';

const onCluster = process.env.TEST_REDIS_CLUSTER === '1';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Each file has its own database and Redis namespace, so files may run side by side.
    fileParallelism: true,
    globalSetup: onCluster ? ['@books/testing/redis-cluster-global-setup'] : [],
    reporters: process.env.CI
      ? ['default', ['json', { outputFile: onCluster ? 'test-results.cluster.json' : 'test-results.json' }]]
      : ['default'],
  },
});
