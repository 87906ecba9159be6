// The bulk worker process: config, clients, the schedule, `--once`, shutdown. The work is in jobs/.
import { ConfigError, createLogger, loadConfig, runOnce, runScheduled } from '@books/core';
import { runBulkPass } from './jobs/bulk-pass.js';
import { createBulkDeps } from './wiring.js';

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig(process.env);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
}

const log = createLogger(config, 'bulk-worker');
const deps = createBulkDeps(config, log);
const worker = {
  name: 'bulk-worker',
  cron: config.bulk.cron,
  log,
  pass: (signal: AbortSignal) => runBulkPass({ ...deps, log: log.child({ pass: new Date().toISOString() }) }, signal),
  close: () => deps.close(),
};

if (process.argv.includes('--once')) process.exitCode = await runOnce(worker);
else runScheduled(worker);
