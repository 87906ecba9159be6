// A vitest globalSetup module: with TEST_REDIS_CLUSTER=1, one throw-away Redis Cluster for the
// whole run. It runs in vitest's main process before any test worker is spawned, and workers
// inherit its environment, so the seed list reaches tests as TEST_REDIS_CLUSTER_NODES
// (testEnv.redisClusterNodes). Without the variable it starts nothing, and costs nothing.
//   test: { globalSetup: ['@books/testing/redis-cluster-global-setup'] }   (vitest resolves the export name)
import { startRedisCluster } from './redis-cluster.js';

export default async function setup(): Promise<(() => Promise<void>) | undefined> {
  if (process.env.TEST_REDIS_CLUSTER !== '1') return undefined;
  const cluster = await startRedisCluster();
  process.env.TEST_REDIS_CLUSTER_NODES = cluster.nodesEnv;
  return async () => {
    delete process.env.TEST_REDIS_CLUSTER_NODES;
    await cluster.stop();
  };
}
