// A Redis key namespace of the test file's own, on the shared test Redis, with every script
// registered; its keys are removed after the file. (Core cannot use packages/testing, which
// depends on core.)
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll } from 'vitest';
import { createRedisKeys } from '../src/redis/keys.js';
import { registerAllScripts } from '../src/redis/script-registry.js';

export function redisNamespace(label: string) {
  const prefix = `t:${label}:${randomBytes(5).toString('hex')}:`;
  const redis = new Redis(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379');
  registerAllScripts(redis);
  /** Every key of the namespace. */
  const scanKeys = async () => {
    const found: string[] = [];
    for await (const batch of redis.scanStream({ match: `${prefix}*`, count: 500 }) as AsyncIterable<string[]>) found.push(...batch);
    return found;
  };
  afterAll(async () => {
    const found = await scanKeys();
    if (found.length) await redis.unlink(...found);
    redis.disconnect();
  });
  return { prefix, keys: createRedisKeys(prefix), redis, scanKeys };
}
