import { describe, expect, it } from 'vitest';
import { ConfigError } from '../src/config/env.js';
import {
  EnvSchema,
  loadApiConfig,
  loadBulkWorkerConfig,
  loadMigrateConfig,
  loadReportWorkerConfig,
  loadTracingConfig,
  variablesByProcess,
} from '../src/config/processes.js';

const loaders = { api: loadApiConfig, 'bulk-worker': loadBulkWorkerConfig, 'report-worker': loadReportWorkerConfig };

// A variable's error is checked through a process that reads it.
const loaderFor = (name: string) => {
  for (const [process, variables] of Object.entries(variablesByProcess)) {
    if (name in variables) return loaders[process as keyof typeof loaders];
  }
  throw new Error(`no process reads ${name}`);
};

const fail = (env: Record<string, string>, load = loaderFor(Object.keys(env)[0] ?? '')) => {
  try {
    load(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected the loader to throw');
};

describe('the per-process config loaders', () => {
  it('apply the seed defaults', () => {
    expect(loadApiConfig({})).toMatchObject({
      port: 3002,
      nodeEnv: 'development',
      redisKeyPrefix: '',
      jwt: { expiresIn: '15m', expiresInMs: 900_000, insecureDevSecret: true },
      refreshTokenTtlMs: 30 * 86_400_000,
      databaseListenUrl: 'postgres://postgres@127.0.0.1:5432/books',
      bulk: { cron: '0 */2 * * * *', recordTtlSeconds: 7 * 86_400 },
      report: { cron: '0 */5 * * * *' },
      cacheTtlSeconds: 300,
      rateLimit: { max: 100, windowMs: 900_000 },
      shutdownGraceMs: 10_000,
      healthCheckTimeoutMs: 1000,
      redisStartWaitMs: 2000,
      cacheDebtPollMs: 1000,
    });
    expect(loadBulkWorkerConfig({})).toMatchObject({
      nodeEnv: 'development',
      bulk: { cron: '0 */2 * * * *', chunkSize: 2000, leaseMs: 60_000, recordTtlSeconds: 7 * 86_400 },
      cacheTtlSeconds: 300,
      shutdownGraceMs: 20_000,
    });
    expect(loadReportWorkerConfig({})).toMatchObject({
      smtp: { port: 587, secure: false },
      pdf: { cleanupAfterSend: true },
      company: { name: 'Books Management Inc.' },
      report: { cron: '0 */5 * * * *', timeZone: 'UTC' },
      bulk: { recordTtlSeconds: 7 * 86_400 },
      shutdownGraceMs: 20_000,
    });
    expect(loadMigrateConfig({})).toEqual({
      nodeEnv: 'development',
      logLevel: 'info',
      databaseUrl: 'postgres://postgres@127.0.0.1:5432/books',
      redisUrl: 'redis://127.0.0.1:6379',
      redisClusterNodes: [],
      redisKeyPrefix: '',
    });
  });

  it('read a Redis Cluster as its seed nodes, IPv6 in brackets, spaces after commas allowed', () => {
    expect(loadBulkWorkerConfig({ REDIS_CLUSTER_NODES: 'redis-1:7000, 10.0.0.2:7001,[::1]:7002' }).redisClusterNodes).toEqual([
      { host: 'redis-1', port: 7000 },
      { host: '10.0.0.2', port: 7001 },
      { host: '::1', port: 7002 },
    ]);
  });

  it('size each Postgres pool for its process unless DATABASE_POOL_MAX says otherwise, and pass DATABASE_PREPARE on', () => {
    expect(loadApiConfig({}).databasePool).toEqual({ max: 10, prepare: true });
    expect(loadBulkWorkerConfig({ BULK_CONCURRENCY: '6' }).databasePool).toEqual({ max: 7, prepare: true });
    expect(loadReportWorkerConfig({}).databasePool).toEqual({ max: 2, prepare: true });
    expect(loadBulkWorkerConfig({ DATABASE_POOL_MAX: '3', DATABASE_PREPARE: 'false' }).databasePool).toEqual({ max: 3, prepare: false });
    expect(fail({ DATABASE_POOL_MAX: '-1' })).toContain('DATABASE_POOL_MAX');
  });

  it('turn tracing on only when an OTLP endpoint is set', () => {
    expect(loadTracingConfig({}, 'books-api')).toEqual({ enabled: false, serviceName: 'books-api' });
    expect(loadTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, 'books-api')).toEqual({
      enabled: true,
      serviceName: 'books-api',
    });
    expect(loadTracingConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://c/v1/traces', OTEL_SERVICE_NAME: 'mine' }, 'x')).toEqual({
      enabled: true,
      serviceName: 'mine',
    });
    expect(fail({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toContain('OTEL_EXPORTER_OTLP_ENDPOINT');
  });

  it('convert and validate values, with a cron pattern winning over the interval', () => {
    const env = {
      PORT: '8080',
      SMTP_SECURE: 'true',
      BULK_PROCESSING_INTERVAL: '3',
      REPORT_CRON: '*/10 * * * * *',
      ADMIN_EMAILS: 'Boss@Example.com, ops@example.com',
      TRUST_PROXY: '10.0.0.0/8',
    };
    const api = loadApiConfig(env);
    expect(api.port).toBe(8080);
    expect(api.bulk.cron).toBe('0 */3 * * * *');
    expect(api.report.cron).toBe('*/10 * * * * *');
    expect(api.adminEmails).toEqual(['boss@example.com', 'ops@example.com']);
    expect(api.trustProxy).toEqual(['10.0.0.0/8']);
    expect(loadBulkWorkerConfig(env).bulk.cron).toBe('0 */3 * * * *');
    const report = loadReportWorkerConfig(env);
    expect(report.smtp.secure).toBe(true);
    expect(report.report.cron).toBe('*/10 * * * * *');
  });

  it("ignore another process's variables, even invalid ones", () => {
    expect(loadBulkWorkerConfig({ PORT: 'abc', SMTP_SECURE: 'maybe', REPORT_CRON: 'nope' }).bulk.chunkSize).toBe(2000);
    expect(loadReportWorkerConfig({ BULK_CHUNK_SIZE: '0', JWT_EXPIRES_IN: 'forever' }).report.concurrency).toBe(4);
    expect(loadApiConfig({ BULK_CONCURRENCY: '1000', SMTP_PORT: '0' }).port).toBe(3002);
  });

  it.each([
    [{ PORT: 'abc' }, /^Invalid configuration: PORT must be a TCP port number, an integer from 0 to 65,535 \(got "abc"\)$/],
    [{ PORT: '70000' }, /PORT must be/],
    [{ DATABASE_URL: 'mysql://x' }, /DATABASE_URL must be a postgres:\/\/ connection URL/],
    [{ SMTP_SECURE: 'maybe' }, /SMTP_SECURE must be true or false/],
    [{ JWT_EXPIRES_IN: 'forever' }, /JWT_EXPIRES_IN must be a duration/],
    [{ BULK_CRON: 'every minute' }, /BULK_CRON must be a croner pattern/],
    [{ NODE_ENV: 'staging' }, /NODE_ENV must be one of development, test, production/],
    [{ REDIS_KEY_PREFIX: 'has space' }, /REDIS_KEY_PREFIX must be/],
    [{ REDIS_KEY_PREFIX: 'my{tag}' }, /REDIS_KEY_PREFIX must be/],
    [{ REDIS_CLUSTER_NODES: 'redis-1' }, /REDIS_CLUSTER_NODES must be host:port pairs separated by commas \(got "redis-1"\)/],
    [{ REDIS_CLUSTER_NODES: 'redis-1:99999' }, /REDIS_CLUSTER_NODES must be host:port pairs/],
  ])('stops on %j with one line naming the variable', (env, message) => {
    const text = fail(env);
    expect(text).toMatch(message);
    expect(text).not.toContain('\n');
  });

  it('give the API and the report worker the same report retention, 30 days unless REPORT_RETENTION_DAYS says otherwise', () => {
    for (const load of [loadApiConfig, loadReportWorkerConfig]) {
      expect(load({}).report.retentionMs).toBe(30 * 86_400_000);
      expect(load({ REPORT_RETENTION_DAYS: '7' }).report.retentionMs).toBe(7 * 86_400_000);
      expect(fail({ REPORT_RETENTION_DAYS: '0' }, load)).toContain('REPORT_RETENTION_DAYS must be');
    }
    expect('REPORT_RETENTION_DAYS' in variablesByProcess['bulk-worker']).toBe(false);
  });

  it('names the allowed range of a number out of range, as the schema enforces it', () => {
    expect(fail({ RATE_LIMIT_MAX: '1000000000' })).toBe(
      'Invalid configuration: RATE_LIMIT_MAX must be requests allowed per window and client IP, an integer from 1 to 10,000,000 (got 1000000000)',
    );
    // Every numeric variable gets its range from its own schema, not from a hand-written note.
    for (const [name, schema] of Object.entries(EnvSchema.properties) as [
      string,
      { type?: string; minimum?: number; maximum?: number },
    ][]) {
      if (schema.type !== 'integer') continue;
      const text = fail({ [name]: String((schema.maximum ?? 0) + 1) });
      expect(text).toContain(`from ${schema.minimum!.toLocaleString('en-US')} to ${schema.maximum!.toLocaleString('en-US')} (got`);
      expect(text.match(/\d+-\d+/), `${name}: a hand-written range left in its description`).toBeNull();
    }
  });

  it('makes the API require a JWT_SECRET of 32 characters or more in production only', () => {
    expect(fail({ NODE_ENV: 'production' }, loadApiConfig)).toMatch(/JWT_SECRET must be a secret of at least 32 characters/);
    expect(fail({ NODE_ENV: 'production', JWT_SECRET: 'short' }, loadApiConfig)).toMatch(/got 5 characters/);
    expect(loadApiConfig({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(32) }).jwt.insecureDevSecret).toBe(false);
    expect(loadApiConfig({ NODE_ENV: 'test', JWT_SECRET: 'short' }).jwt.secret).toBe('short');
  });

  it('lets both workers and the migrations start in production without JWT_SECRET, which only the API reads', () => {
    expect(loadBulkWorkerConfig({ NODE_ENV: 'production' }).nodeEnv).toBe('production');
    expect(loadReportWorkerConfig({ NODE_ENV: 'production' }).nodeEnv).toBe('production');
    expect(loadMigrateConfig({ NODE_ENV: 'production' }).nodeEnv).toBe('production');
  });
});
