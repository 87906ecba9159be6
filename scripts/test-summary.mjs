// Adds up the vitest JSON reports each package writes under CI and prints one plain line.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

let passed = 0;
let failed = 0;
let files = 0;
for (const group of ['apps', 'packages']) {
  for (const name of readdirSync(group)) {
    const dir = join(group, name);
    if (!existsSync(dir)) continue;
    // test-results.json, and test-results.cluster.json from the run on a Redis Cluster.
    for (const report of readdirSync(dir).filter((file) => /^test-results(\.[a-z]+)?\.json$/.test(file))) {
      const result = JSON.parse(readFileSync(join(dir, report), 'utf8'));
      files++;
      passed += result.numPassedTests;
      failed += result.numFailedTests;
      // A file that failed to load, or whose beforeAll/afterAll failed, counts no failed test (its tests
      // are skipped or passed): count the file as one failure so that it cannot pass silently.
      for (const suite of result.testResults ?? []) {
        if (suite.status === 'failed' && !(suite.assertionResults ?? []).some((test) => test.status === 'failed')) failed++;
      }
    }
  }
}
if (files === 0) console.log('no test reports found');
console.log(`tests: ${passed} passed, ${failed} failed`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
