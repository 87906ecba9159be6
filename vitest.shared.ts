// What every package's vitest config shares. Under CI each package also writes a JSON report,
// which scripts/test-summary.mjs adds up into the `tests: N passed, N failed` line.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Each file has its own database and Redis namespace, so files may run side by side.
    fileParallelism: true,
    reporters: process.env.CI ? ['default', ['json', { outputFile: 'test-results.json' }]] : ['default'],
  },
});
