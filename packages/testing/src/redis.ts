import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { testEnv } from './env.js';

export interface TestNamespace {
  /** A REDIS_KEY_PREFIX no other test file uses. */
  prefix: string;
  /** Deletes every key under the prefix (SCAN, never KEYS). */
  clean(): Promise<void>;
}

export function createTestNamespace(label = 'test'): TestNamespace {
  const prefix = `t:${label}:${randomBytes(5).toString('hex')}:`;
  return {
    prefix,
    async clean() {
      const redis = new Redis(testEnv.redisUrl, { maxRetriesPerRequest: 1 });
      try {
        const stream = redis.scanStream({ match: `${prefix}*`, count: 500 });
        for await (const keys of stream as AsyncIterable<string[]>) {
          if (keys.length) await redis.unlink(...keys);
        }
      } finally {
        redis.disconnect();
      }
    },
  };
}

/** Counts keys under a prefix, for assertions about what a test left in Redis. */
export async function scanKeys(redis: Redis, prefix: string): Promise<string[]> {
  const found: string[] = [];
  const stream = redis.scanStream({ match: `${prefix}*`, count: 500 });
  for await (const keys of stream as AsyncIterable<string[]>) found.push(...keys);
  return found;
}
