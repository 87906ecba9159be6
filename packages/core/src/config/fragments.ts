// The variables, grouped by what reads them. Each process's loader (processes.ts) is built from
// the fragments it needs, so no process validates, or refuses to start over, a variable it never reads.
import { Cron } from 'croner';
import Type from 'typebox';
import { parseDuration } from './duration.js';
import { Bool, ConfigError, Duration, type EnvOf, Int, Str, splitList } from './env.js';

export const LoggingEnv = {
  NODE_ENV: Type.Union([Type.Literal('development'), Type.Literal('test'), Type.Literal('production')], {
    default: 'development',
    description: 'one of development, test, production',
  }),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((level) => Type.Literal(level)),
    { default: 'info', description: 'a pino level: fatal, error, warn, info, debug, trace or silent' },
  ),
};
export const readLogging = (e: EnvOf<typeof LoggingEnv>) => ({
  nodeEnv: e.NODE_ENV,
  logLevel: e.LOG_LEVEL as string,
});
export type LoggingConfig = ReturnType<typeof readLogging>;

export const DatastoresEnv = {
  DATABASE_URL: Type.String({
    pattern: '^postgres(ql)?://',
    default: 'postgres://postgres@127.0.0.1:5432/books',
    description: 'a postgres:// connection URL',
  }),
  REDIS_URL: Type.String({
    pattern: '^rediss?://',
    default: 'redis://127.0.0.1:6379',
    description: 'a redis:// or rediss:// URL',
  }),
  REDIS_CLUSTER_NODES: Type.String({
    default: '',
    description:
      "a Redis Cluster's seed nodes as host:port,host:port (when set it wins over REDIS_URL, whose user, password and rediss:// still apply to every node)",
  }),
  REDIS_KEY_PREFIX: Type.String({
    pattern: '^[A-Za-z0-9:_.-]*$',
    default: '',
    description: 'a key namespace of letters, digits and : _ . - (may be empty)',
  }),
};
export const readDatastores = (e: EnvOf<typeof DatastoresEnv>) => ({
  databaseUrl: e.DATABASE_URL,
  redisUrl: e.REDIS_URL,
  redisClusterNodes: parseClusterNodes(e.REDIS_CLUSTER_NODES),
  redisKeyPrefix: e.REDIS_KEY_PREFIX,
});

export interface ClusterNode {
  host: string;
  port: number;
}

function parseClusterNodes(value: string): ClusterNode[] {
  return splitList(value).map((node) => {
    // host:port, the host possibly an IPv6 address in brackets.
    const match = /^(\[[^\]]+\]|[^:[\]]+):(\d{1,5})$/.exec(node);
    const port = Number(match?.[2]);
    if (!match || port < 1 || port > 65535) {
      throw new ConfigError(`Invalid configuration: REDIS_CLUSTER_NODES must be host:port pairs separated by commas (got "${node}")`);
    }
    return { host: match[1]!.replace(/^\[|\]$/g, ''), port };
  });
}
export type DatastoresConfig = ReturnType<typeof readDatastores>;

/** The Postgres pool of one process: its share of the server's connections, and pgbouncer's needs. */
export const DatabasePoolEnv = {
  DATABASE_POOL_MAX: Int(0, 0, 1000, "most connections this process keeps open to Postgres (0: the process's default)"),
  DATABASE_PREPARE: Bool(true, 'use prepared statements (false behind pgbouncer in transaction mode before 1.21)'),
};
export const readDatabasePool = (e: EnvOf<typeof DatabasePoolEnv>, defaultMax: number) => ({
  databasePool: { max: e.DATABASE_POOL_MAX || defaultMax, prepare: e.DATABASE_PREPARE },
});

/**
 * How long a Redis connection attempt or command may take, and the cap of the reconnect backoff. The
 * API fails fast (it falls back to Postgres or answers 503); a worker waits, with no command timeout
 * by default (its commands queue while Redis is away and run when it is back).
 */
export const redisTimeoutsEnv = (defaults: { connectMs: number; commandMs: number }) => ({
  REDIS_CONNECT_TIMEOUT_MS: Int(defaults.connectMs, 100, 600_000, 'milliseconds a connection attempt to Redis may take'),
  REDIS_COMMAND_TIMEOUT_MS: Int(defaults.commandMs, 0, 600_000, 'milliseconds a Redis command may take before it fails (0: no limit)'),
  REDIS_RECONNECT_MAX_DELAY_MS: Int(5000, 100, 600_000, 'the longest wait between two reconnection attempts to Redis'),
});
export const readRedisTimeouts = (e: {
  REDIS_CONNECT_TIMEOUT_MS: number;
  REDIS_COMMAND_TIMEOUT_MS: number;
  REDIS_RECONNECT_MAX_DELAY_MS: number;
}) => ({
  redisTimeouts: {
    connectMs: e.REDIS_CONNECT_TIMEOUT_MS,
    commandMs: e.REDIS_COMMAND_TIMEOUT_MS,
    reconnectMaxDelayMs: e.REDIS_RECONNECT_MAX_DELAY_MS,
  },
});
export type RedisTimeouts = ReturnType<typeof readRedisTimeouts>['redisTimeouts'];

/** The grace a process gets between a stop signal and a forced exit; its default differs per process. */
// Each process has its own default port, so that the three can run on one host (pnpm start).
export const metricsEnv = (defaultPort: number) => ({
  METRICS_HOST: Str('0.0.0.0', 'the address the metrics listener binds'),
  METRICS_PORT: Int(defaultPort, 0, 65535, 'a TCP port number (0: any free port, logged at start-up)'),
  HEALTH_CHECK_TIMEOUT_SECONDS: Int(1, 1, 60, 'seconds a health check waits for Postgres or Redis to answer before calling it down'),
});
export const readMetrics = (e: { METRICS_HOST: string; METRICS_PORT: number; HEALTH_CHECK_TIMEOUT_SECONDS: number }) => ({
  metrics: { host: e.METRICS_HOST, port: e.METRICS_PORT },
  healthCheckTimeoutMs: e.HEALTH_CHECK_TIMEOUT_SECONDS * 1000,
});

export const HeartbeatEnv = {
  HEARTBEAT_INTERVAL_SECONDS: Int(10, 1, 3600, "seconds between a worker's heartbeats in Redis (each one lives three times as long)"),
};

export const shutdownEnv = (defaultSeconds: number) => ({
  SHUTDOWN_GRACE_SECONDS: Int(defaultSeconds, 1, 3600, 'seconds a stopping process may take to finish its work before it exits anyway'),
});
export const readShutdown = (e: { SHUTDOWN_GRACE_SECONDS: number }) => ({ shutdownGraceMs: e.SHUTDOWN_GRACE_SECONDS * 1000 });

// The schedules: each worker runs its own; the API reads both to estimate when a request is done.
export const BulkScheduleEnv = {
  BULK_PROCESSING_INTERVAL: Int(2, 1, 59, 'whole minutes between bulk passes (use BULK_CRON for other schedules)'),
  BULK_CRON: Str('', 'a croner pattern (seconds allowed); wins over BULK_PROCESSING_INTERVAL'),
};
export const readBulkCron = (e: { BULK_PROCESSING_INTERVAL: number; BULK_CRON: string }) =>
  checkedCron('BULK_CRON', e.BULK_CRON) || `0 */${e.BULK_PROCESSING_INTERVAL} * * * *`;

export const ReportScheduleEnv = {
  REPORT_GENERATION_INTERVAL: Int(5, 1, 59, 'whole minutes between report passes (use REPORT_CRON for other schedules)'),
  REPORT_CRON: Str('', 'a croner pattern (seconds allowed); wins over REPORT_GENERATION_INTERVAL'),
};
export const readReportCron = (e: { REPORT_GENERATION_INTERVAL: number; REPORT_CRON: string }) =>
  checkedCron('REPORT_CRON', e.REPORT_CRON) || `0 */${e.REPORT_GENERATION_INTERVAL} * * * *`;

// Read by every process that writes or prunes finished requests: the API (admin pruning) and both workers.
export const RecordsEnv = {
  BULK_RECORD_TTL_DAYS: Int(7, 1, 365, 'days a finished (completed or failed) request stays on record'),
};
export const readRecordTtlSeconds = (e: { BULK_RECORD_TTL_DAYS: number }) => e.BULK_RECORD_TTL_DAYS * 86_400;

// Read by the report worker (it sets a stored report's expiry and deletes expired ones) and the API
// (a report past it is gone, even before the worker's next pass deletes it).
export const ReportRetentionEnv = {
  REPORT_RETENTION_DAYS: Int(30, 1, 3650, 'days a sent report (its PDF included) stays listed and downloadable'),
};
export const readReportRetentionMs = (e: { REPORT_RETENTION_DAYS: number }) => e.REPORT_RETENTION_DAYS * 86_400_000;

// Read by the API (it fills the cache) and the bulk worker (it invalidates it).
export const CacheEnv = {
  CACHE_TTL_SECONDS: Int(300, 1, 86400, 'seconds a cached book list lives'),
};

export const SmtpEnv = {
  SMTP_HOST: Str('localhost', 'the SMTP server host name'),
  SMTP_PORT: Int(587, 1, 65535, 'a TCP port number'),
  SMTP_SECURE: Bool(false, 'true or false (true: implicit TLS, usually port 465; false: STARTTLS or plain)'),
  SMTP_USER: Str('', 'the SMTP user name (empty for no authentication)'),
  SMTP_PASS: Str('', 'the SMTP password'),
  SMTP_CONNECTION_TIMEOUT_SECONDS: Int(10, 1, 300, 'seconds to wait for the mail server to accept a connection and greet'),
  SMTP_SOCKET_TIMEOUT_SECONDS: Int(600, 1, 3600, 'seconds to wait for any answer of the mail server, the end of DATA included'),
};
export const readSmtp = (e: EnvOf<typeof SmtpEnv>) => ({
  host: e.SMTP_HOST,
  port: e.SMTP_PORT,
  secure: e.SMTP_SECURE,
  user: e.SMTP_USER,
  pass: e.SMTP_PASS,
  connectionTimeoutMs: e.SMTP_CONNECTION_TIMEOUT_SECONDS * 1000,
  socketTimeoutMs: e.SMTP_SOCKET_TIMEOUT_SECONDS * 1000,
});
export type SmtpConfig = ReturnType<typeof readSmtp>;

// What a report looks like and who sends it.
export const ReportContentEnv = {
  FROM_EMAIL: Type.String({ format: 'email', default: 'reports@books.local', description: 'an email address' }),
  FROM_NAME: Str('Books Management System', 'the sender name shown in emails'),
  PDF_OUTPUT_DIR: Str('', 'a directory to keep report PDFs in (empty: keep none on disk)'),
  PDF_CLEANUP_AFTER_SEND: Bool(true, 'true or false'),
  COMPANY_NAME: Str('Books Management Inc.', 'the company name printed on reports'),
  COMPANY_ADDRESS: Str('123 Library Street, Book City, BC 12345', 'the company address printed on reports'),
};
export const readReportContent = (e: EnvOf<typeof ReportContentEnv>) => ({
  mail: { fromEmail: e.FROM_EMAIL, fromName: e.FROM_NAME },
  pdf: { outputDir: e.PDF_OUTPUT_DIR, cleanupAfterSend: e.PDF_CLEANUP_AFTER_SEND },
  company: { name: e.COMPANY_NAME, address: e.COMPANY_ADDRESS },
});

export const BulkWorkerEnv = {
  BULK_MAX_ATTEMPTS: Int(5, 1, 100, 'processing attempts before a bulk request is marked failed'),
  BULK_CHUNK_SIZE: Int(2000, 1, 5000, 'books inserted per transaction by the bulk worker'),
  BULK_CONCURRENCY: Int(4, 1, 64, 'users a bulk worker processes at once'),
  BULK_TURN_CHUNKS: Int(5, 1, 100_000, 'chunks one user gets per turn before the next user in the pass has theirs'),
  BULK_LEASE_SECONDS: Int(60, 1, 3600, "seconds a worker holds a user's queue without renewing before another may take it"),
  BULK_RETRY_BASE_SECONDS: Int(30, 1, 86_400, 'seconds before the first retry of a failed bulk attempt; doubles each time, capped at 30x'),
};
export const readBulkWorker = (e: EnvOf<typeof BulkWorkerEnv>) => ({
  maxAttempts: e.BULK_MAX_ATTEMPTS,
  chunkSize: e.BULK_CHUNK_SIZE,
  concurrency: e.BULK_CONCURRENCY,
  turnChunks: e.BULK_TURN_CHUNKS,
  leaseMs: e.BULK_LEASE_SECONDS * 1000,
  retryBaseMs: e.BULK_RETRY_BASE_SECONDS * 1000,
});

export const ReportWorkerEnv = {
  REPORT_TIMEZONE: Type.String({ default: 'UTC', description: 'an IANA time zone such as UTC or Europe/Paris' }),
  REPORT_CONCURRENCY: Int(4, 1, 64, 'users a report worker reports at once'),
  REPORT_RENDER_THREADS: Int(1, 1, 8, 'PDF render threads per report worker (each costs ~100 MB)'),
  REPORT_RETRY_BASE_SECONDS: Int(60, 1, 86_400, 'seconds before the first retry of a failed report; doubles each time, capped at 30x'),
  REPORT_MAX_ATTEMPTS: Int(5, 1, 100, 'report attempts before the requests are marked failed'),
  REPORT_LEASE_SECONDS: Int(60, 3, 3600, "seconds a report worker holds a user's report without renewing before another may take it"),
  REPORT_RENDER_TIMEOUT_SECONDS: Int(120, 1, 3600, 'seconds one PDF render may take before it is abandoned'),
  REPORTS_REQUIRE_VERIFIED_EMAIL: Bool(false, 'true or false (true: a report waits until its owner has verified the email address)'),
  ACCOUNT_MAIL_CRON: Str('*/2 * * * * *', 'a croner pattern (seconds allowed) for the account-mail sender'),
};
export const readReportWorker = (e: EnvOf<typeof ReportWorkerEnv>) => {
  if (!isValidTimeZone(e.REPORT_TIMEZONE)) {
    throw new ConfigError(
      `Invalid configuration: REPORT_TIMEZONE must be an IANA time zone such as UTC or Europe/Paris (got ${JSON.stringify(e.REPORT_TIMEZONE)})`,
    );
  }
  return {
    maxAttempts: e.REPORT_MAX_ATTEMPTS,
    retryBaseMs: e.REPORT_RETRY_BASE_SECONDS * 1000,
    timeZone: e.REPORT_TIMEZONE,
    concurrency: e.REPORT_CONCURRENCY,
    renderThreads: e.REPORT_RENDER_THREADS,
    leaseMs: e.REPORT_LEASE_SECONDS * 1000,
    renderTimeoutMs: e.REPORT_RENDER_TIMEOUT_SECONDS * 1000,
    requireVerifiedEmail: e.REPORTS_REQUIRE_VERIFIED_EMAIL,
    // Not on the report schedule: a verification link or a reset code is awaited within seconds.
    accountMailCron: checkedCron('ACCOUNT_MAIL_CRON', e.ACCOUNT_MAIL_CRON) || '*/2 * * * * *',
  };
};

const API_DEFAULT_PORT = 3002;

export const ApiEnv = {
  HOST: Str('0.0.0.0', 'the address the API listens on'),
  PORT: Int(API_DEFAULT_PORT, 0, 65535, 'a TCP port number'),
  JWT_SECRET: Type.String({ default: '', description: 'a secret of at least 32 characters' }),
  JWT_EXPIRES_IN: Duration('15m', 'a duration such as 15m, 24h or 7d (the access token lifetime)'),
  REFRESH_TOKEN_TTL: Duration('30d', 'a duration such as 12h or 30d (the absolute lifetime of a session and its refresh tokens)'),
  DATABASE_LISTEN_URL: Type.String({
    pattern: '^(postgres(ql)?://.*)?$',
    default: '',
    description:
      'a postgres:// URL used only to LISTEN for auth events; it needs a session connection, not a pgbouncer transaction pool (empty: DATABASE_URL)',
  }),
  BULK_MAX_BOOKS: Int(10_000, 1, 50_000, 'the most books one POST /books/bulk may carry'),
  BULK_BODY_LIMIT: Int(16 * 1_048_576, 1024, 1_073_741_824, 'the largest JSON POST /books/bulk body in bytes'),
  BULK_MAX_ROWS: Int(1_000_000, 1, 100_000_000, 'the most rows (after the header) one CSV or NDJSON POST /books/bulk may carry'),
  ADMIN_EMAILS: Str('', 'a comma-separated list of email addresses'),
  RATE_LIMIT_MAX: Int(100, 1, 10_000_000, 'requests allowed per window and client IP'),
  RATE_LIMIT_WINDOW: Duration('15m', 'a duration such as 60s or 15m'),
  AUTH_RATE_LIMIT_MAX: Int(20, 1, 10_000_000, 'requests to /auth/* allowed per window and client IP'),
  CORS_ORIGINS: Str('', 'a comma-separated list of allowed origins, or * (empty: no cross-origin access)'),
  TRUST_PROXY: Str('', 'a comma-separated list of proxy addresses or CIDRs to trust (empty: none)'),
  METRICS_ON_API_PORT: Bool(false, 'true or false (true: /metrics on the API port instead of METRICS_PORT)'),
  BODY_LIMIT: Int(1_048_576, 1024, 1_073_741_824, 'the largest request body in bytes'),
  REDIS_START_WAIT_SECONDS: Int(2, 1, 300, 'seconds the API waits for Redis at start-up before starting without it'),
  CACHE_DEBT_POLL_SECONDS: Int(1, 1, 60, "seconds between an API replica's reads of the book-cache invalidations Redis missed"),
  CACHE_START_SYNC_SECONDS: Int(
    2,
    1,
    300,
    'seconds API start-up waits for its first read of those invalidations (the cache stays unused until it succeeds)',
  ),
};

// Where clients reach the API: the links in account emails (API) and in webhook bodies (report worker).
export const PublicUrlEnv = {
  PUBLIC_BASE_URL: Str(
    '',
    `the http(s) URL clients reach the API at, for links in emails and webhooks (empty: http://localhost:<PORT>, ${API_DEFAULT_PORT} by default)`,
  ),
};
/** PUBLIC_BASE_URL without a trailing slash; `port` is the API's (the report worker does not read PORT: the default one). */
export const readPublicBaseUrl = (e: EnvOf<typeof PublicUrlEnv>, port = API_DEFAULT_PORT) => {
  const base = e.PUBLIC_BASE_URL || `http://localhost:${port}`;
  let url: URL | undefined;
  try {
    url = new URL(base);
  } catch {}
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.search || url.hash) {
    throw new ConfigError(
      `Invalid configuration: PUBLIC_BASE_URL must be an http:// or https:// URL without query or fragment (got ${JSON.stringify(base)})`,
    );
  }
  // Without a trailing slash, so that `${publicBaseUrl}/auth/...` has exactly one.
  return url.href.replace(/\/+$/, '');
};

// The account emails the API queues: how long what they carry lives.
export const AccountEmailEnv = {
  EMAIL_VERIFICATION_TTL: Duration('24h', 'a duration such as 30m, 24h or 2d'),
  PASSWORD_RESET_CODE_TTL: Duration('10m', 'a duration such as 5m or 10m'),
};
export const readAccountEmail = (e: EnvOf<typeof AccountEmailEnv> & EnvOf<typeof PublicUrlEnv> & { PORT: number }) => ({
  publicBaseUrl: readPublicBaseUrl(e, e.PORT),
  emailVerificationTtlMs: parseDuration(e.EMAIL_VERIFICATION_TTL),
  passwordResetCodeTtlMs: parseDuration(e.PASSWORD_RESET_CODE_TTL),
});

// Webhook URLs: the API checks them when they are set, the report worker again before each delivery.
export const WebhookUrlEnv = {
  WEBHOOK_ALLOW_PRIVATE: Bool(
    false,
    'true or false (true: webhook URLs may use http and reach private or loopback addresses; for development and tests only)',
  ),
};

export const WebhookDeliveryEnv = {
  WEBHOOK_CRON: Str('*/5 * * * * *', 'a croner pattern (seconds allowed) for the webhook sender'),
  WEBHOOK_TIMEOUT_SECONDS: Int(10, 1, 300, 'seconds a webhook receiver may take to answer before the attempt counts as failed'),
  WEBHOOK_RETRY_WINDOW: Duration('24h', 'a duration such as 1h or 24h (how long a failing delivery is retried before it is failed)'),
};
export const readWebhookDelivery = (e: EnvOf<typeof WebhookDeliveryEnv> & EnvOf<typeof WebhookUrlEnv>) => ({
  allowPrivate: e.WEBHOOK_ALLOW_PRIVATE,
  cron: checkedCron('WEBHOOK_CRON', e.WEBHOOK_CRON) || '*/5 * * * * *',
  timeoutMs: e.WEBHOOK_TIMEOUT_SECONDS * 1000,
  retryWindowMs: parseDuration(e.WEBHOOK_RETRY_WINDOW),
});

// Only for local development and tests, so that `pnpm start` works with no .env at all.
const DEV_JWT_SECRET = 'insecure-development-secret-do-not-use-in-production';

export const readJwt = (e: { NODE_ENV: LoggingConfig['nodeEnv']; JWT_SECRET: string; JWT_EXPIRES_IN: string }) => {
  const isDevLike = e.NODE_ENV === 'development' || e.NODE_ENV === 'test';
  if (!isDevLike && e.JWT_SECRET.length < 32) {
    throw new ConfigError(
      `Invalid configuration: JWT_SECRET must be a secret of at least 32 characters when NODE_ENV is ${e.NODE_ENV} (got ${e.JWT_SECRET.length} characters)`,
    );
  }
  return {
    secret: e.JWT_SECRET || DEV_JWT_SECRET,
    expiresIn: e.JWT_EXPIRES_IN,
    expiresInMs: parseDuration(e.JWT_EXPIRES_IN),
    insecureDevSecret: e.JWT_SECRET === '',
  };
};

export const readApiLists = (e: { ADMIN_EMAILS: string; CORS_ORIGINS: string; TRUST_PROXY: string }) => ({
  adminEmails: splitList(e.ADMIN_EMAILS).map((email) => email.toLowerCase()),
  corsOrigins: splitList(e.CORS_ORIGINS),
  trustProxy: splitList(e.TRUST_PROXY),
});

function checkedCron(name: string, pattern: string): string {
  if (pattern && !isValidCron(pattern)) {
    throw new ConfigError(
      `Invalid configuration: ${name} must be a croner pattern such as "*/2 * * * *" or "*/5 * * * * *" (got ${JSON.stringify(pattern)})`,
    );
  }
  return pattern;
}

function isValidTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function isValidCron(pattern: string): boolean {
  try {
    new Cron(pattern, { paused: true }).stop();
    return true;
  } catch {
    return false;
  }
}

const OtlpUrl = (description: string) => Type.String({ pattern: '^(https?://.+)?$', default: '', description });
/** Tracing: off unless an endpoint is set. The OpenTelemetry SDK reads the other OTEL_* variables itself. */
export const TracingEnv = {
  OTEL_EXPORTER_OTLP_ENDPOINT: OtlpUrl('an http(s):// URL of an OTLP collector; empty: no tracing'),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: OtlpUrl('the same for traces only (the full URL, e.g. …/v1/traces)'),
  OTEL_EXPORTER_OTLP_PROTOCOL: Type.Union(
    ['http/protobuf', 'http/json', 'grpc'].map((protocol) => Type.Literal(protocol)),
    { default: 'http/protobuf', description: 'one of http/protobuf, http/json, grpc' },
  ),
  OTEL_SERVICE_NAME: Str('', "the service.name of the process's spans (default books-api, books-bulk-worker, books-report-worker)"),
};
export const readTracing = (e: EnvOf<typeof TracingEnv>, defaultServiceName: string) => ({
  enabled: Boolean(e.OTEL_EXPORTER_OTLP_ENDPOINT || e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT),
  serviceName: e.OTEL_SERVICE_NAME || defaultServiceName,
});
export type TracingConfig = ReturnType<typeof readTracing>;
