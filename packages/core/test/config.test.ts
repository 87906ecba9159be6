import { describe, expect, it } from 'vitest';
import { ConfigError, EnvSchema, loadConfig } from '../src/config/load.js';

const fail = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected loadConfig to throw');
};

describe('loadConfig', () => {
  it('applies the seed defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 3002,
      nodeEnv: 'development',
      redisKeyPrefix: '',
      jwt: { expiresIn: '24h', expiresInMs: 86_400_000, insecureDevSecret: true },
      smtp: { port: 587, secure: false },
      pdf: { cleanupAfterSend: true },
      company: { name: 'Books Management Inc.' },
      bulk: { cron: '0 */2 * * * *' },
      report: { cron: '0 */5 * * * *' },
      cacheTtlSeconds: 300,
      rateLimit: { max: 100, windowMs: 900_000 },
    });
  });

  it('converts and validates values, with a cron pattern winning over the interval', () => {
    const config = loadConfig({
      PORT: '8080',
      SMTP_SECURE: 'true',
      BULK_PROCESSING_INTERVAL: '3',
      REPORT_CRON: '*/10 * * * * *',
      ADMIN_EMAILS: 'Boss@Example.com, ops@example.com',
      TRUST_PROXY: '10.0.0.0/8',
    });
    expect(config.port).toBe(8080);
    expect(config.smtp.secure).toBe(true);
    expect(config.bulk.cron).toBe('0 */3 * * * *');
    expect(config.report.cron).toBe('*/10 * * * * *');
    expect(config.adminEmails).toEqual(['boss@example.com', 'ops@example.com']);
    expect(config.trustProxy).toEqual(['10.0.0.0/8']);
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
  ])('stops on %j with one line naming the variable', (env, message) => {
    const text = fail(env);
    expect(text).toMatch(message);
    expect(text).not.toContain('\n');
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

  it('requires a JWT_SECRET of 32 characters or more in production only', () => {
    expect(fail({ NODE_ENV: 'production' })).toMatch(/JWT_SECRET must be a secret of at least 32 characters/);
    expect(fail({ NODE_ENV: 'production', JWT_SECRET: 'short' })).toMatch(/got 5 characters/);
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(32) }).jwt.insecureDevSecret).toBe(false);
    expect(loadConfig({ NODE_ENV: 'test', JWT_SECRET: 'short' }).jwt.secret).toBe('short');
  });
});
