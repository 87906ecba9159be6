// The bulk worker process: config, clients, the schedule, `--once`, shutdown, heartbeat and
// metrics. The work is in jobs/.
import { loadBulkWorkerConfigOrExit } from '@books/core/config';
import { createLogger, exitIfServersTooOld } from '@books/core/runtime';
import { packageVersion, runOnce, runScheduled, startWorkerOpsOrExit } from '@books/core/worker';
import { runBulkPass } from './jobs/bulk-pass.js';
import { createBulkDeps } from './wiring.js';

const config = loadBulkWorkerConfigOrExit(process.env);

const log = createLogger(config, 'bulk-worker');
const deps = createBulkDeps(config, log);
const worker = {
  name: 'bulk-worker',
  cron: config.bulk.cron,
  log,
  pass: (signal: AbortSignal) => runBulkPass({ ...deps, log: log.child({ pass: new Date().toISOString() }) }, signal),
  close: () => deps.close(),
  shutdownGraceMs: config.shutdownGraceMs,
};

await exitIfServersTooOld({ sql: deps.sql, redis: deps.redis }, log);
if (process.argv.includes('--once')) process.exitCode = await runOnce(worker);
else {
  const ops = await startWorkerOpsOrExit({
    kind: 'bulk-worker',
    version: packageVersion(new URL('../package.json', import.meta.url)),
    redis: deps.redis,
    keys: deps.keys,
    pingPostgres: () => deps.sql`select 1`,
    registry: deps.registry,
    config,
    log,
  });
  runScheduled({ ...worker, ops });
}
