// The only module that reads environment variables: entry files call loadConfig(process.env)
// and pass the typed result down. A bad value stops start-up with one line naming the variable.
import { Cron } from 'croner';
import Type, { type Static } from 'typebox';
import Value from 'typebox/value';
import { parseDuration } from './duration.js';

const Duration = (defaultValue: string, description: string) =>
  Type.String({ pattern: '^\\d+(ms|s|m|h|d)?$', default: defaultValue, description });
const Int = (defaultValue: number, minimum: number, maximum: number, description: string) =>
  Type.Integer({ minimum, maximum, default: defaultValue, description });
const Bool = (defaultValue: boolean, description: string) => Type.Boolean({ default: defaultValue, description });
const Str = (defaultValue: string, description: string) => Type.String({ default: defaultValue, description });

export const EnvSchema = Type.Object({
  NODE_ENV: Type.Union([Type.Literal('development'), Type.Literal('test'), Type.Literal('production')], {
    default: 'development',
    description: 'one of development, test, production',
  }),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((level) => Type.Literal(level)),
    { default: 'info', description: 'a pino level: fatal, error, warn, info, debug, trace or silent' },
  ),
  HOST: Str('0.0.0.0', 'the address the API listens on'),
  PORT: Int(3002, 0, 65535, 'a TCP port number'),
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
  REDIS_KEY_PREFIX: Type.String({
    pattern: '^[A-Za-z0-9:_.-]*$',
    default: '',
    description: 'a key namespace of letters, digits and : _ . - (may be empty)',
  }),
  JWT_SECRET: Type.String({ default: '', description: 'a secret of at least 32 characters' }),
  JWT_EXPIRES_IN: Duration('24h', 'a duration such as 15m, 24h or 7d'),
  SMTP_HOST: Str('localhost', 'the SMTP server host name'),
  SMTP_PORT: Int(587, 1, 65535, 'a TCP port number'),
  SMTP_SECURE: Bool(false, 'true or false (true: implicit TLS, usually port 465; false: STARTTLS or plain)'),
  SMTP_USER: Str('', 'the SMTP user name (empty for no authentication)'),
  SMTP_PASS: Str('', 'the SMTP password'),
  SMTP_CONNECTION_TIMEOUT_SECONDS: Int(10, 1, 300, 'seconds to wait for the mail server to accept a connection and greet'),
  SMTP_SOCKET_TIMEOUT_SECONDS: Int(600, 1, 3600, 'seconds to wait for any answer of the mail server, the end of DATA included'),
  FROM_EMAIL: Type.String({ format: 'email', default: 'reports@books.local', description: 'an email address' }),
  FROM_NAME: Str('Books Management System', 'the sender name shown in emails'),
  PDF_OUTPUT_DIR: Str('', 'a directory to keep report PDFs in (empty: keep none on disk)'),
  PDF_CLEANUP_AFTER_SEND: Bool(true, 'true or false'),
  COMPANY_NAME: Str('Books Management Inc.', 'the company name printed on reports'),
  COMPANY_ADDRESS: Str('123 Library Street, Book City, BC 12345', 'the company address printed on reports'),
  BULK_PROCESSING_INTERVAL: Int(2, 1, 59, 'whole minutes between bulk passes (use BULK_CRON for other schedules)'),
  BULK_CRON: Str('', 'a croner pattern (seconds allowed); wins over BULK_PROCESSING_INTERVAL'),
  REPORT_GENERATION_INTERVAL: Int(5, 1, 59, 'whole minutes between report passes (use REPORT_CRON for other schedules)'),
  REPORT_CRON: Str('', 'a croner pattern (seconds allowed); wins over REPORT_GENERATION_INTERVAL'),
  BULK_MAX_BOOKS: Int(10_000, 1, 50_000, 'the most books one POST /books/bulk may carry'),
  BULK_BODY_LIMIT: Int(16 * 1_048_576, 1024, 1_073_741_824, 'the largest POST /books/bulk body in bytes'),
  BULK_MAX_ATTEMPTS: Int(5, 1, 100, 'processing attempts before a bulk request is marked failed'),
  BULK_CHUNK_SIZE: Int(2000, 1, 5000, 'books inserted per transaction by the bulk worker'),
  BULK_CONCURRENCY: Int(4, 1, 64, 'users a bulk worker processes at once'),
  BULK_LEASE_SECONDS: Int(60, 1, 3600, "seconds a worker holds a user's queue without renewing before another may take it"),
  BULK_RETRY_BASE_SECONDS: Int(30, 1, 86_400, 'seconds before the first retry of a failed bulk attempt; doubles each time, capped at 30x'),
  BULK_RECORD_TTL_DAYS: Int(7, 1, 365, 'days a finished (completed or failed) request stays on record'),
  REPORT_TIMEZONE: Type.String({ default: 'UTC', description: 'an IANA time zone such as UTC or Europe/Paris' }),
  REPORT_CONCURRENCY: Int(4, 1, 64, 'users a report worker reports at once'),
  REPORT_RENDER_THREADS: Int(1, 1, 8, 'PDF render threads per report worker (each costs ~100 MB)'),
  REPORT_RETRY_BASE_SECONDS: Int(60, 1, 86_400, 'seconds before the first retry of a failed report; doubles each time, capped at 30x'),
  REPORT_MAX_ATTEMPTS: Int(5, 1, 100, 'report attempts before the requests are marked failed'),
  REPORT_LEASE_SECONDS: Int(60, 3, 3600, "seconds a report worker holds a user's report without renewing before another may take it"),
  REPORT_RENDER_TIMEOUT_SECONDS: Int(120, 1, 3600, 'seconds one PDF render may take before it is abandoned'),
  ADMIN_EMAILS: Str('', 'a comma-separated list of email addresses'),
  CACHE_TTL_SECONDS: Int(300, 1, 86400, 'seconds a cached book list lives'),
  RATE_LIMIT_MAX: Int(100, 1, 10_000_000, 'requests allowed per window and client IP'),
  RATE_LIMIT_WINDOW: Duration('15m', 'a duration such as 60s or 15m'),
  AUTH_RATE_LIMIT_MAX: Int(20, 1, 10_000_000, 'requests to /auth/* allowed per window and client IP'),
  CORS_ORIGINS: Str('', 'a comma-separated list of allowed origins, or * (empty: no cross-origin access)'),
  TRUST_PROXY: Str('', 'a comma-separated list of proxy addresses or CIDRs to trust (empty: none)'),
  BODY_LIMIT: Int(1_048_576, 1024, 1_073_741_824, 'the largest request body in bytes'),
});
export type Env = Static<typeof EnvSchema>;

export interface Config {
  nodeEnv: Env['NODE_ENV'];
  logLevel: string;
  host: string;
  port: number;
  databaseUrl: string;
  redisUrl: string;
  redisKeyPrefix: string;
  jwt: { secret: string; expiresIn: string; expiresInMs: number; insecureDevSecret: boolean };
  smtp: { host: string; port: number; secure: boolean; user: string; pass: string; connectionTimeoutMs: number; socketTimeoutMs: number };
  mail: { fromEmail: string; fromName: string };
  pdf: { outputDir: string; cleanupAfterSend: boolean };
  company: { name: string; address: string };
  bulk: {
    cron: string;
    maxBooks: number;
    bodyLimit: number;
    maxAttempts: number;
    chunkSize: number;
    concurrency: number;
    leaseMs: number;
    retryBaseMs: number;
    recordTtlSeconds: number;
  };
  report: {
    cron: string;
    maxAttempts: number;
    retryBaseMs: number;
    timeZone: string;
    concurrency: number;
    renderThreads: number;
    leaseMs: number;
    renderTimeoutMs: number;
  };
  adminEmails: string[];
  cacheTtlSeconds: number;
  rateLimit: { max: number; windowMs: number; authMax: number };
  corsOrigins: string[];
  trustProxy: string[];
  bodyLimit: number;
}

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
}

// Only for local development and tests, so that `pnpm start` works with no .env at all.
const DEV_JWT_SECRET = 'insecure-development-secret-do-not-use-in-production';

interface NumericSchema {
  description?: string;
  type?: string;
  minimum?: number;
  maximum?: number;
}

// Written from the schema itself, so a message can never disagree with what is enforced.
function rangeOf(schema: NumericSchema | undefined): string {
  if (schema?.type !== 'integer' && schema?.type !== 'number') return '';
  const n = (value: number) => value.toLocaleString('en-US');
  const kind = schema.type === 'integer' ? 'an integer' : 'a number';
  if (schema.minimum !== undefined && schema.maximum !== undefined) return `, ${kind} from ${n(schema.minimum)} to ${n(schema.maximum)}`;
  if (schema.minimum !== undefined) return `, ${kind} of at least ${n(schema.minimum)}`;
  if (schema.maximum !== undefined) return `, ${kind} of at most ${n(schema.maximum)}`;
  return `, ${kind}`;
}

/** Reads, converts and validates the environment; throws ConfigError with a one-line message. */
export function loadConfig(source: Record<string, string | undefined>): Config {
  const raw: Record<string, unknown> = {};
  for (const name of Object.keys(EnvSchema.properties)) {
    const value = source[name];
    // An empty variable means "use the default", as in most .env conventions.
    if (value !== undefined && value.trim() !== '') raw[name] = value.trim();
  }
  const env = Value.Convert(EnvSchema, Value.Default(EnvSchema, raw)) as Record<string, unknown>;
  const [error] = Value.Errors(EnvSchema, env);
  if (error) {
    const name = error.instancePath.split('/')[1] ?? '';
    const schema = (EnvSchema.properties as Record<string, NumericSchema>)[name];
    const got = raw[name] === undefined ? 'nothing' : JSON.stringify(raw[name]);
    throw new ConfigError(`Invalid configuration: ${name} must be ${schema?.description ?? error.message}${rangeOf(schema)} (got ${got})`);
  }
  const e = env as Env;

  const isDevLike = e.NODE_ENV === 'development' || e.NODE_ENV === 'test';
  if (!isDevLike && e.JWT_SECRET.length < 32) {
    throw new ConfigError(
      `Invalid configuration: JWT_SECRET must be a secret of at least 32 characters when NODE_ENV is ${e.NODE_ENV} (got ${e.JWT_SECRET.length} characters)`,
    );
  }
  if (!isValidTimeZone(e.REPORT_TIMEZONE)) {
    throw new ConfigError(
      `Invalid configuration: REPORT_TIMEZONE must be an IANA time zone such as UTC or Europe/Paris (got ${JSON.stringify(e.REPORT_TIMEZONE)})`,
    );
  }
  for (const [name, pattern] of [
    ['BULK_CRON', e.BULK_CRON],
    ['REPORT_CRON', e.REPORT_CRON],
  ] as const) {
    if (pattern && !isValidCron(pattern)) {
      throw new ConfigError(
        `Invalid configuration: ${name} must be a croner pattern such as "*/2 * * * *" or "*/5 * * * * *" (got ${JSON.stringify(pattern)})`,
      );
    }
  }

  return {
    nodeEnv: e.NODE_ENV,
    logLevel: e.LOG_LEVEL,
    host: e.HOST,
    port: e.PORT,
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    redisKeyPrefix: e.REDIS_KEY_PREFIX,
    jwt: {
      secret: e.JWT_SECRET || DEV_JWT_SECRET,
      expiresIn: e.JWT_EXPIRES_IN,
      expiresInMs: parseDuration(e.JWT_EXPIRES_IN),
      insecureDevSecret: e.JWT_SECRET === '',
    },
    smtp: {
      host: e.SMTP_HOST,
      port: e.SMTP_PORT,
      secure: e.SMTP_SECURE,
      user: e.SMTP_USER,
      pass: e.SMTP_PASS,
      connectionTimeoutMs: e.SMTP_CONNECTION_TIMEOUT_SECONDS * 1000,
      socketTimeoutMs: e.SMTP_SOCKET_TIMEOUT_SECONDS * 1000,
    },
    mail: { fromEmail: e.FROM_EMAIL, fromName: e.FROM_NAME },
    pdf: { outputDir: e.PDF_OUTPUT_DIR, cleanupAfterSend: e.PDF_CLEANUP_AFTER_SEND },
    company: { name: e.COMPANY_NAME, address: e.COMPANY_ADDRESS },
    bulk: {
      cron: e.BULK_CRON || `0 */${e.BULK_PROCESSING_INTERVAL} * * * *`,
      maxBooks: e.BULK_MAX_BOOKS,
      bodyLimit: e.BULK_BODY_LIMIT,
      maxAttempts: e.BULK_MAX_ATTEMPTS,
      chunkSize: e.BULK_CHUNK_SIZE,
      concurrency: e.BULK_CONCURRENCY,
      leaseMs: e.BULK_LEASE_SECONDS * 1000,
      retryBaseMs: e.BULK_RETRY_BASE_SECONDS * 1000,
      recordTtlSeconds: e.BULK_RECORD_TTL_DAYS * 86_400,
    },
    report: {
      cron: e.REPORT_CRON || `0 */${e.REPORT_GENERATION_INTERVAL} * * * *`,
      maxAttempts: e.REPORT_MAX_ATTEMPTS,
      retryBaseMs: e.REPORT_RETRY_BASE_SECONDS * 1000,
      timeZone: e.REPORT_TIMEZONE,
      concurrency: e.REPORT_CONCURRENCY,
      renderThreads: e.REPORT_RENDER_THREADS,
      leaseMs: e.REPORT_LEASE_SECONDS * 1000,
      renderTimeoutMs: e.REPORT_RENDER_TIMEOUT_SECONDS * 1000,
    },
    adminEmails: splitList(e.ADMIN_EMAILS).map((email) => email.toLowerCase()),
    cacheTtlSeconds: e.CACHE_TTL_SECONDS,
    rateLimit: { max: e.RATE_LIMIT_MAX, windowMs: parseDuration(e.RATE_LIMIT_WINDOW), authMax: e.AUTH_RATE_LIMIT_MAX },
    corsOrigins: splitList(e.CORS_ORIGINS),
    trustProxy: splitList(e.TRUST_PROXY),
    bodyLimit: e.BODY_LIMIT,
  };
}

/** For entry files: the config, or one line on stderr naming the bad variable and exit code 1. */
export function loadConfigOrExit(source: Record<string, string | undefined>): Config {
  try {
    return loadConfig(source);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
}

function splitList(value: string): string[] {
  return value
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
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
