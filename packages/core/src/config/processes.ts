// One loader per process, each built from the fragments that process reads: a worker starts
// without the API's JWT_SECRET, and the API does not validate the workers' knobs.
import Type from 'typebox';
import { parseDuration } from './duration.js';
import { orExit, readEnv } from './env.js';
import {
  AccountEmailEnv,
  ApiEnv,
  BulkScheduleEnv,
  BulkWorkerEnv,
  CacheEnv,
  DatabasePoolEnv,
  DatastoresEnv,
  HeartbeatEnv,
  LoggingEnv,
  metricsEnv,
  PublicUrlEnv,
  RecordsEnv,
  ReportContentEnv,
  ReportRetentionEnv,
  ReportScheduleEnv,
  ReportWorkerEnv,
  readAccountEmail,
  readApiLists,
  readBulkCron,
  readBulkWorker,
  readDatabasePool,
  readDatastores,
  readJwt,
  readLogging,
  readMetrics,
  readPublicBaseUrl,
  readRecordTtlSeconds,
  readRedisTimeouts,
  readReportContent,
  readReportCron,
  readReportRetentionMs,
  readReportWorker,
  readShutdown,
  readSmtp,
  readTracing,
  readWebhookDelivery,
  redisTimeoutsEnv,
  SmtpEnv,
  shutdownEnv,
  TracingEnv,
  WebhookDeliveryEnv,
  WebhookUrlEnv,
} from './fragments.js';

type Source = Record<string, string | undefined>;

// The API's grace covers requests in flight; a worker's covers handing back a pass's work.
const API_SHUTDOWN_GRACE_SECONDS = 10;
const WORKER_SHUTDOWN_GRACE_SECONDS = 20;
// The API fails fast on Redis; a worker waits for it (see redisTimeoutsEnv).
const API_REDIS_TIMEOUTS = { connectMs: 2000, commandMs: 2000 };
const WORKER_REDIS_TIMEOUTS = { connectMs: 5000, commandMs: 0 };
// Postgres connections per process when DATABASE_POOL_MAX is 0 (the bulk worker's follows BULK_CONCURRENCY).
const API_POOL_MAX = 10;
const REPORT_POOL_MAX = 2;
// Distinct, so that the three processes can run on one host; the API's is the OpenTelemetry
// Prometheus exporter's conventional port.
const API_METRICS_PORT = 9464;
const BULK_METRICS_PORT = 9465;
const REPORT_METRICS_PORT = 9466;

const ApiVariables = {
  ...LoggingEnv,
  ...TracingEnv,
  ...DatastoresEnv,
  ...DatabasePoolEnv,
  ...ApiEnv,
  ...PublicUrlEnv,
  ...AccountEmailEnv,
  ...WebhookUrlEnv,
  ...CacheEnv,
  ...RecordsEnv,
  ...BulkScheduleEnv,
  ...ReportScheduleEnv,
  ...ReportRetentionEnv,
  ...metricsEnv(API_METRICS_PORT),
  ...shutdownEnv(API_SHUTDOWN_GRACE_SECONDS),
  ...redisTimeoutsEnv(API_REDIS_TIMEOUTS),
};

export function loadApiConfig(source: Source) {
  const e = readEnv(ApiVariables, source);
  return {
    ...readLogging(e),
    ...readDatastores(e),
    ...readDatabasePool(e, API_POOL_MAX),
    ...readShutdown(e),
    ...readRedisTimeouts(e),
    ...readMetrics(e),
    metricsOnApiPort: e.METRICS_ON_API_PORT,
    host: e.HOST,
    port: e.PORT,
    jwt: readJwt(e),
    accounts: readAccountEmail(e),
    refreshTokenTtlMs: parseDuration(e.REFRESH_TOKEN_TTL),
    databaseListenUrl: e.DATABASE_LISTEN_URL || e.DATABASE_URL,
    bulk: {
      cron: readBulkCron(e),
      maxBooks: e.BULK_MAX_BOOKS,
      bodyLimit: e.BULK_BODY_LIMIT,
      maxRows: e.BULK_MAX_ROWS,
      recordTtlSeconds: readRecordTtlSeconds(e),
    },
    report: { cron: readReportCron(e), retentionMs: readReportRetentionMs(e) },
    ...readApiLists(e),
    webhooks: { allowPrivate: e.WEBHOOK_ALLOW_PRIVATE },
    cacheTtlSeconds: e.CACHE_TTL_SECONDS,
    rateLimit: { max: e.RATE_LIMIT_MAX, windowMs: parseDuration(e.RATE_LIMIT_WINDOW), authMax: e.AUTH_RATE_LIMIT_MAX },
    bodyLimit: e.BODY_LIMIT,
    redisStartWaitMs: e.REDIS_START_WAIT_SECONDS * 1000,
    cacheDebtPollMs: e.CACHE_DEBT_POLL_SECONDS * 1000,
    cacheStartSyncMs: e.CACHE_START_SYNC_SECONDS * 1000,
  };
}
export type ApiConfig = ReturnType<typeof loadApiConfig>;

const BulkWorkerVariables = {
  ...LoggingEnv,
  ...TracingEnv,
  ...DatastoresEnv,
  ...DatabasePoolEnv,
  ...BulkScheduleEnv,
  ...BulkWorkerEnv,
  ...RecordsEnv,
  ...CacheEnv,
  ...metricsEnv(BULK_METRICS_PORT),
  ...HeartbeatEnv,
  ...shutdownEnv(WORKER_SHUTDOWN_GRACE_SECONDS),
  ...redisTimeoutsEnv(WORKER_REDIS_TIMEOUTS),
};

export function loadBulkWorkerConfig(source: Source) {
  const e = readEnv(BulkWorkerVariables, source);
  return {
    ...readLogging(e),
    ...readDatastores(e),
    // One connection per user drained at once, plus one for the pass's own queries.
    ...readDatabasePool(e, e.BULK_CONCURRENCY + 1),
    ...readShutdown(e),
    ...readRedisTimeouts(e),
    ...readMetrics(e),
    heartbeatIntervalMs: e.HEARTBEAT_INTERVAL_SECONDS * 1000,
    bulk: { cron: readBulkCron(e), ...readBulkWorker(e), recordTtlSeconds: readRecordTtlSeconds(e) },
    cacheTtlSeconds: e.CACHE_TTL_SECONDS,
  };
}
export type BulkWorkerConfig = ReturnType<typeof loadBulkWorkerConfig>;

const ReportWorkerVariables = {
  ...LoggingEnv,
  ...TracingEnv,
  ...DatastoresEnv,
  ...DatabasePoolEnv,
  ...ReportScheduleEnv,
  ...ReportWorkerEnv,
  ...ReportContentEnv,
  ...ReportRetentionEnv,
  ...SmtpEnv,
  ...RecordsEnv,
  ...PublicUrlEnv,
  ...WebhookUrlEnv,
  ...WebhookDeliveryEnv,
  ...metricsEnv(REPORT_METRICS_PORT),
  ...HeartbeatEnv,
  ...shutdownEnv(WORKER_SHUTDOWN_GRACE_SECONDS),
  ...redisTimeoutsEnv(WORKER_REDIS_TIMEOUTS),
};

export function loadReportWorkerConfig(source: Source) {
  const e = readEnv(ReportWorkerVariables, source);
  return {
    ...readLogging(e),
    ...readDatastores(e),
    ...readDatabasePool(e, REPORT_POOL_MAX),
    ...readShutdown(e),
    ...readRedisTimeouts(e),
    ...readMetrics(e),
    heartbeatIntervalMs: e.HEARTBEAT_INTERVAL_SECONDS * 1000,
    report: { cron: readReportCron(e), ...readReportWorker(e), retentionMs: readReportRetentionMs(e) },
    bulk: { recordTtlSeconds: readRecordTtlSeconds(e) },
    smtp: readSmtp(e),
    ...readReportContent(e),
    // The links in webhook bodies point at the API.
    publicBaseUrl: readPublicBaseUrl(e),
    webhooks: readWebhookDelivery(e),
  };
}
export type ReportWorkerConfig = ReturnType<typeof loadReportWorkerConfig>;

/** `pnpm db:migrate` needs only where the database is and how to log. */
export function loadMigrateConfig(source: Source) {
  const e = readEnv({ ...LoggingEnv, ...DatastoresEnv }, source);
  return { ...readLogging(e), ...readDatastores(e) };
}
export type MigrateConfig = ReturnType<typeof loadMigrateConfig>;

/** Each process's tracing preload (before its own loader runs): whether to trace, and as which service. */
export function loadTracingConfig(source: Source, defaultServiceName: string) {
  return readTracing(readEnv(TracingEnv, source), defaultServiceName);
}

/** For entry files: the config, or one line on stderr naming the bad variable and exit code 1. */
export const loadApiConfigOrExit = (source: Source) => orExit(loadApiConfig, source);
export const loadBulkWorkerConfigOrExit = (source: Source) => orExit(loadBulkWorkerConfig, source);
export const loadReportWorkerConfigOrExit = (source: Source) => orExit(loadReportWorkerConfig, source);
export const loadMigrateConfigOrExit = (source: Source) => orExit(loadMigrateConfig, source);
export const loadTracingConfigOrExit = (source: Source, defaultServiceName: string) =>
  orExit((s: Source) => loadTracingConfig(s, defaultServiceName), source);

/** Every variable any process reads, with the processes that read it: for the docs and the tests. */
export const variablesByProcess = {
  api: ApiVariables,
  'bulk-worker': BulkWorkerVariables,
  'report-worker': ReportWorkerVariables,
} as const;

/** The union of every process's variables (a process's own default wins where they differ). */
export const EnvSchema = Type.Object({ ...ReportWorkerVariables, ...BulkWorkerVariables, ...ApiVariables });
