import { randomBytes } from 'node:crypto';
import { type RedisClient, registerAllScripts } from '@books/core/redis';
import { Cluster, Redis } from 'ioredis';
import { testEnv } from './env.js';

export interface TestNamespace {
  /** A REDIS_KEY_PREFIX no other test file uses. */
  prefix: string;
  /** Deletes every key under the prefix (SCAN, never KEYS). */
  clean(): Promise<void>;
}

/** The run's cluster seed nodes, when it has one (TEST_REDIS_CLUSTER=1). */
const clusterNodes = () =>
  (testEnv.redisClusterNodes ?? '')
    .split(',')
    .filter(Boolean)
    .map((node) => ({ host: node.slice(0, node.lastIndexOf(':')), port: Number(node.slice(node.lastIndexOf(':') + 1)) }));

/** A client of the run's Redis: the cluster's when the run has one, else the standalone test Redis. Every script registered. */
export function createTestRedis(): RedisClient {
  const nodes = clusterNodes();
  const redis: RedisClient = nodes.length
    ? new Cluster(nodes, { redisOptions: { maxRetriesPerRequest: 1 } })
    : new Redis(testEnv.redisUrl, { maxRetriesPerRequest: 1 });
  registerAllScripts(redis);
  return redis;
}

/** Env for a process under test: the run's cluster, if any (REDIS_URL is then ignored by the process). */
export const clusterEnv = (): Record<string, string> =>
  testEnv.redisClusterNodes ? { REDIS_CLUSTER_NODES: testEnv.redisClusterNodes } : {};

/**
 * Throws unless the client is on the deployment the run asked for: a run with TEST_REDIS_CLUSTER=1
 * whose clients quietly reached the standalone Redis would prove nothing about the cluster.
 */
export function expectRunsDeployment(redis: RedisClient, expectedCluster = Boolean(testEnv.redisClusterNodes)): void {
  if (redis instanceof Cluster !== expectedCluster) {
    throw new Error(`this test's Redis client is ${redis instanceof Cluster ? 'a Cluster' : 'standalone'}, the run asked for the other`);
  }
}

export function createTestNamespace(label = 'test'): TestNamespace {
  const prefix = `t:${label}:${randomBytes(5).toString('hex')}:`;
  return {
    prefix,
    async clean() {
      const redis = createTestRedis();
      try {
        // One UNLINK per key: a cluster refuses a multi-key command across slots.
        const keys = await scanKeys(redis, prefix);
        await Promise.all(keys.map((key) => redis.unlink(key)));
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
