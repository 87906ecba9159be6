import { randomBytes } from 'node:crypto';
import type { RedisClient } from '@books/core/redis';
import { Cluster, Redis } from 'ioredis';
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

/** Every key under a prefix, for assertions about what a test left in Redis; on a cluster, every master's. */
export async function scanKeys(redis: RedisClient, prefix: string): Promise<string[]> {
  const found: string[] = [];
  for (const node of redis instanceof Cluster ? redis.nodes('master') : [redis]) {
    const stream = node.scanStream({ match: `${prefix}*`, count: 500 });
    for await (const keys of stream as AsyncIterable<string[]>) found.push(...keys);
  }
  return found;
}
