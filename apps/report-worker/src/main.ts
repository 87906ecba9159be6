// The report worker process: config, clients, the schedule, `--once`, shutdown, heartbeat and
// metrics. The work is in jobs/.
import { loadReportWorkerConfigOrExit } from '@books/core/config';
import { createLogger, exitIfServersTooOld } from '@books/core/runtime';
import { packageVersion, runOnce, runScheduled, startWorkerOpsOrExit } from '@books/core/worker';
import { runAccountMailPass } from './jobs/account-mail-pass.js';
import { runReportPass } from './jobs/report-pass.js';
import { runReportResendPass } from './jobs/report-resend-pass.js';
import { runWebhookPass } from './jobs/webhook-pass.js';
import { createReportDeps } from './wiring.js';

const config = loadReportWorkerConfigOrExit(process.env);

const log = createLogger(config, 'report-worker');
const deps = createReportDeps(config, log);
const worker = {
  name: 'report-worker',
  cron: config.report.cron,
  log,
  pass: (signal: AbortSignal) => runReportPass({ ...deps, log: log.child({ pass: new Date().toISOString() }) }, signal),
  // Verification links and reset codes are awaited within seconds, not on the report schedule.
  alsoRuns: [
    {
      name: 'account-mail',
      cron: config.report.accountMailCron,
      pass: (signal: AbortSignal) => runAccountMailPass(deps.accountMail, signal),
    },
    // Completion webhooks are expected within seconds of the import's end, as the account emails are.
    {
      name: 'webhooks',
      cron: config.webhooks.cron,
      pass: (signal: AbortSignal) => runWebhookPass(deps.webhooks, signal),
    },
    // A resend is asked for by a user who waits for it: the same few seconds.
    {
      name: 'report-resends',
      cron: config.report.accountMailCron,
      pass: (signal: AbortSignal) => runReportResendPass(deps, signal),
    },
  ],
  close: () => deps.close(),
  shutdownGraceMs: config.shutdownGraceMs,
};
log.info({ smtp: `${config.smtp.host}:${config.smtp.port}`, pdfOutputDir: config.pdf.outputDir || null }, 'report worker starting');

await exitIfServersTooOld({ databaseUrl: config.databaseUrl, redis: deps.redis }, log);
if (process.argv.includes('--once')) process.exitCode = await runOnce(worker);
else {
  const ops = await startWorkerOpsOrExit({
    kind: 'report-worker',
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
