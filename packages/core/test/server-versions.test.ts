import { Redis } from 'ioredis';
import postgres from 'postgres';
import { expect, it } from 'vitest';

// The machine's shared servers, as @books/testing's testEnv names them (core cannot depend on it).
const testEnv = {
  adminDatabaseUrl: process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  redisUrl: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
};

import { checkPostgresVersionNum, checkRedisInfo, checkServerVersions, versionAtLeast } from '../src/runtime/server-versions.js';

it("refuses Ubuntu 22.04's Redis 6.0 with one line naming the found and the required version", () => {
  expect(() => checkRedisInfo('# Server\r\nredis_version:6.0.16\r\nredis_mode:standalone\r\n')).toThrow(
    /^Redis 6\.0\.16 is too old: this service needs Redis 7\.0\.0 or newer$/,
  );
  expect(() => checkRedisInfo('# Server\r\nredis_version:7.0.15\r\n')).not.toThrow();
  expect(versionAtLeast('7.10.0', '7.9.0')).toBe(true);
});

it('refuses PostgreSQL 12 (no built-in gen_random_uuid) and accepts 13 and later', () => {
  expect(() => checkPostgresVersionNum('120017', '12.17')).toThrow(
    /^PostgreSQL 12\.17 is too old: this service needs PostgreSQL 13 or newer$/,
  );
  expect(() => checkPostgresVersionNum('130000', '13.0')).not.toThrow();
});

it('the servers this machine runs pass, and an unreachable Redis is not called too old', async () => {
  const sql = postgres(testEnv.adminDatabaseUrl, { max: 1, onnotice: () => {} });
  const redis = new Redis(testEnv.redisUrl);
  const unreachable = new Redis('redis://127.0.0.1:1', { maxRetriesPerRequest: null, lazyConnect: false });
  unreachable.on('error', () => {});
  try {
    await expect(checkServerVersions({ sql, redis })).resolves.toBeUndefined();
    await expect(checkServerVersions({ redis: unreachable, timeoutMs: 500 })).resolves.toBeUndefined();
  } finally {
    unreachable.disconnect();
    redis.disconnect();
    await sql.end();
  }
});
