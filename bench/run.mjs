// Runs the benchmarks, each in its own Node process so that one's servers and timers cannot skew the next.
// Usage: node bench/run.mjs [name]   (no name: all of them, in order)
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// One entry per bench/<name>.mjs; add new benchmarks here.
const BENCHES = ['api-cache', 'bulk-drain', 'reports', 'fair-share', 'csv-import', 'cluster-drain'];

const [, , only, ...rest] = process.argv;
if (rest.length || (only && !BENCHES.includes(only))) {
  console.error(`usage: node bench/run.mjs [${BENCHES.join('|')}]`);
  process.exit(2);
}

let failed = 0;
for (const name of only ? [only] : BENCHES) {
  console.error(`\n== bench: ${name}`);
  const file = fileURLToPath(new URL(`./${name}.mjs`, import.meta.url));
  // Production builds, as deployed (React's development build alone makes a PDF render ~20% slower).
  const { status, signal } = spawnSync(process.execPath, [file], { stdio: 'inherit', env: { ...process.env, NODE_ENV: 'production' } });
  if (status !== 0) {
    failed++;
    console.error(`== bench: ${name} failed (${signal ?? `exit ${status}`})`);
  }
}
process.exit(failed ? 1 : 0);
