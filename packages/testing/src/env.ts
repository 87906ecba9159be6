// Where the test services are. The defaults are this repository's CI machine; override with
// TEST_DATABASE_URL (an admin connection, used to create databases) and TEST_REDIS_URL.
// TEST_REDIS_CLUSTER_NODES is set by the redis-cluster-global-setup module for a run with
// TEST_REDIS_CLUSTER=1 (or by hand, to point tests at a cluster of one's own).
export const testEnv = {
  adminDatabaseUrl: process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  redisUrl: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
  /** Seed list of a Redis Cluster (`127.0.0.1:7001,127.0.0.1:7002,…`); undefined when the run has none. */
  redisClusterNodes: process.env.TEST_REDIS_CLUSTER_NODES,
};
