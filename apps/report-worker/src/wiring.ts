import { createAccountMailOutbox } from '@books/core/account-mail';
import { createReportScripts } from '@books/core/bulk';
import type { ReportWorkerConfig } from '@books/core/config';
import { createDb } from '@books/core/db';
import { createMetricsRegistry } from '@books/core/metrics';
import { createRedisClient, createRedisKeys } from '@books/core/redis';
import { inSpan } from '@books/core/telemetry';
import { systemResolver } from '@books/core/webhooks';
import type { Logger } from 'pino';
import type { Sql } from 'postgres';
import type { Histogram, Registry } from 'prom-client';
import type { ReportDeps } from './jobs/report-user.js';
import type { AccountMailDeps } from './jobs/send-account-mail.js';
import type { WebhookDeps } from './jobs/webhook-deps.js';
import { createMailTransport } from './mail/transport.js';
import { createReportMetrics } from './metrics.js';
import { createPdfRenderer } from './pdf/render-pool.js';

export const SYSTEM_NAME = 'Books Service';

// The first retry of a failing webhook delivery; doubling up to 30 minutes (retryDelayMs' 30x cap),
// then every 30 minutes until WEBHOOK_RETRY_WINDOW runs out: about 50 attempts in 24 hours.
const WEBHOOK_RETRY_BASE_MS = 60_000;

/** Builds the worker's dependencies from config: what main.ts and the tests both use. The account
 * mail sender shares the clients and the SMTP pool of the reports. */
export function createReportDeps(
  config: ReportWorkerConfig,
  log: Logger,
  registry: Registry = createMetricsRegistry(),
): ReportDeps & { accountMail: AccountMailDeps; webhooks: WebhookDeps; sql: Sql; registry: Registry; close(): Promise<void> } {
  const db = createDb(config.databaseUrl, { ...config.databasePool, applicationName: 'books-report-worker' });
  const redis = createRedisClient(config, 'worker', log, { name: 'report-worker', timeouts: config.redisTimeouts });
  const keys = createRedisKeys(config.redisKeyPrefix);
  const mailer = createMailTransport(config.smtp);
  // One thread by default keeps the worker under 300 MB; more threads (or more replicas) for throughput.
  const renderer = createPdfRenderer({ concurrency: config.report.renderThreads, timeoutMs: config.report.renderTimeoutMs });
  const from = { name: config.mail.fromName, address: config.mail.fromEmail };
  const now = () => new Date();
  const metrics = createReportMetrics(registry, { redis, keys, sql: db.sql, renderStats: () => renderer.stats() });
  return {
    db: db.db,
    sql: db.sql,
    redis,
    keys,
    scripts: createReportScripts(redis, keys, { recordTtlSeconds: config.bulk.recordTtlSeconds }),
    // The render and the SMTP send are spans of the import's trace (no-ops unless tracing is on), and timed.
    renderer: { render: (data) => inSpan('report.render_pdf', {}, () => timed(metrics.renderDuration, () => renderer.render(data))) },
    mailer: {
      sendMail: (message) => inSpan('report.smtp_send', {}, () => timed(metrics.smtpSendDuration, () => mailer.sendMail(message))),
    },
    metrics,
    registry,
    log,
    now,
    settings: {
      maxAttempts: config.report.maxAttempts,
      retryBaseMs: config.report.retryBaseMs,
      // Renewed while a report is rendered and sent, so it need not outlast either: only how long a
      // crashed worker's users wait.
      leaseMs: config.report.leaseMs,
      concurrency: config.report.concurrency,
      timeZone: config.report.timeZone,
      systemName: SYSTEM_NAME,
      company: config.company,
      from,
      pdfOutputDir: config.pdf.outputDir,
      cleanupAfterSend: config.pdf.cleanupAfterSend,
      requireVerifiedEmail: config.report.requireVerifiedEmail,
      retentionMs: config.report.retentionMs,
    },
    accountMail: {
      redis,
      keys,
      outbox: createAccountMailOutbox(redis, keys),
      mailer,
      log,
      now,
      // The report rules: a failed message is retried as a failed report is.
      settings: {
        maxAttempts: config.report.maxAttempts,
        retryBaseMs: config.report.retryBaseMs,
        leaseMs: config.report.leaseMs,
        concurrency: config.report.concurrency,
        timeZone: config.report.timeZone,
        companyName: config.company.name,
        from,
      },
    },
    webhooks: {
      sql: db.sql,
      redis,
      keys,
      log,
      now,
      resolveHost: systemResolver,
      attempts: metrics.webhookAttempts,
      settings: {
        allowPrivate: config.webhooks.allowPrivate,
        timeoutMs: config.webhooks.timeoutMs,
        retryWindowMs: config.webhooks.retryWindowMs,
        retryBaseMs: WEBHOOK_RETRY_BASE_MS,
        publicBaseUrl: config.publicBaseUrl,
        concurrency: config.report.concurrency,
      },
    },
    async close() {
      await renderer.close();
      mailer.close();
      redis.disconnect();
      await db.close();
    },
  };
}

/** Observes how long `work` took, whether it succeeded or not. */
async function timed<T>(histogram: Histogram, work: () => Promise<T>): Promise<T> {
  const end = histogram.startTimer();
  try {
    return await work();
  } finally {
    end();
  }
}
