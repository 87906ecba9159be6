// The report worker's Prometheus metrics. Outcomes are counted by the pass, per user reported;
// the render and the SMTP send are timed around the renderer and the mailer (wiring.ts).
import { LATENCY_BUCKETS_SECONDS, WORK_BUCKETS_SECONDS } from '@books/core/metrics';
import { countSharded, type RedisClient, type RedisKeys } from '@books/core/redis';
import type { Sql } from 'postgres';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface ReportMetrics {
  reportsSent: Counter;
  reportsRetried: Counter;
  reportsFailed: Counter;
  /** Resends of stored reports by outcome: sent, failed. */
  reportResends: Counter<'outcome'>;
  expiredReportsDeleted: Counter;
  renderDuration: Histogram;
  smtpSendDuration: Histogram;
  /** Webhook attempts by outcome: delivered, retry_later, failed. */
  webhookAttempts: Counter<'outcome'>;
}

export function createReportMetrics(
  registry: Registry,
  source: {
    redis: RedisClient;
    keys: RedisKeys;
    sql: Sql;
    renderStats(): { threadsStarted: number; threadsRunning: number };
  },
): ReportMetrics {
  const registers = [registry];
  const { redis, keys } = source;
  new Gauge({
    name: 'books_reports_pending',
    help: 'Users whose processed imports await a report, all users',
    registers,
    async collect() {
      this.set(await countSharded(redis, keys.reportPendingShards()));
    },
  });
  new Counter({
    name: 'books_report_render_threads_recycled_total',
    help: 'PDF render threads ended and replaced: recycled after their renders or heap limit, or after a crash or timeout',
    registers,
    collect() {
      const { threadsStarted, threadsRunning } = source.renderStats();
      this.reset();
      this.inc(Math.max(0, threadsStarted - threadsRunning));
    },
  });
  new Gauge({
    name: 'books_webhook_deliveries_pending',
    help: 'Webhook deliveries not yet delivered nor failed, all users (a partial index counts them)',
    registers,
    async collect() {
      const [row] = await source.sql<{ n: number }[]>`select count(*)::int as n from webhook_deliveries where state = 'pending'`;
      this.set(row?.n ?? 0);
    },
  });
  return {
    webhookAttempts: new Counter({
      name: 'books_webhook_attempts_total',
      help: 'Webhook delivery attempts by outcome: delivered, retry_later (a retry with backoff follows) or failed (given up)',
      labelNames: ['outcome'],
      registers,
    }),
    reportsSent: new Counter({ name: 'books_reports_sent_total', help: 'Report emails the SMTP server accepted', registers }),
    reportsRetried: new Counter({
      name: 'books_reports_retried_total',
      help: 'Report attempts that failed and stay pending for a retry with backoff',
      registers,
    }),
    reportsFailed: new Counter({
      name: 'books_reports_failed_total',
      help: 'Reports given up (attempts exhausted or a permanent failure): their requests are marked failed',
      registers,
    }),
    reportResends: new Counter({
      name: 'books_report_resends_total',
      help: 'Resends of stored reports asked for by their owners, by outcome: sent (the SMTP server accepted it) or failed (given up)',
      labelNames: ['outcome'],
      registers,
    }),
    expiredReportsDeleted: new Counter({
      name: 'books_reports_expired_deleted_total',
      help: 'Stored reports deleted past their expiry (REPORT_RETENTION_DAYS)',
      registers,
    }),
    renderDuration: new Histogram({
      name: 'books_report_render_duration_seconds',
      help: 'Duration of PDF renders, failed ones included',
      buckets: WORK_BUCKETS_SECONDS,
      registers,
    }),
    smtpSendDuration: new Histogram({
      name: 'books_report_smtp_send_duration_seconds',
      help: 'Duration of report emails handed to the SMTP server, failed ones included',
      buckets: LATENCY_BUCKETS_SECONDS,
      registers,
    }),
  };
}
