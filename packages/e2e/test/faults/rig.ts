// The fault suite's rig: the real processes against a Redis (AOF, fsync on every write) and a
// Postgres of the test's own, which the test may kill, freeze and restart without touching the
// machine's servers.
import {
  createPrivatePostgres,
  createPrivateRedis,
  type PrivatePostgres,
  type PrivateRedis,
  type RedisClusterHandle,
  startRedisCluster,
} from '@books/testing';
import postgres from 'postgres';
import { type System, startSystem } from '../system.js';

export interface Rig {
  system: System;
  /** The processes' Redis, unless the rig runs them on a cluster (then it is never started). */
  redis: PrivateRedis;
  /** With `redisCluster`: the 3-master cluster every process is on. */
  cluster: RedisClusterHandle | undefined;
  pg: PrivatePostgres;
  databaseUrl: string;
  /** The test's own client; closed around a Postgres kill so the test process rides it out. */
  sql(): postgres.Sql;
  /** Kills Postgres (SIGKILL), waits `downMs`, and starts it again on the same port and data. */
  killPostgres(downMs: number): Promise<void>;
  /** Stops Postgres the fast way (sessions get a FATAL "terminating connection"), waits `downMs`, starts it again. */
  stopPostgres(downMs: number): Promise<void>;
  /** Kills Redis (SIGKILL), waits `downMs`, and starts it again from its AOF. */
  killRedis(downMs: number): Promise<void>;
  close(): Promise<void>;
}

// Seconds-level schedules and leases, small chunks: a drain of a few thousand books lasts long
// enough to be hit in the middle, and a dead worker's lease expires within the test.
export const FAULT_ENV: Record<string, string> = {
  BULK_CHUNK_SIZE: '10',
  BULK_CONCURRENCY: '2',
  BULK_LEASE_SECONDS: '3',
  BULK_RETRY_BASE_SECONDS: '1',
  // Retries must outlast every outage a scenario causes: a `failed` request here is a bug.
  BULK_MAX_ATTEMPTS: '100',
  REPORT_RETRY_BASE_SECONDS: '1',
  REPORT_MAX_ATTEMPTS: '100',
  LOG_LEVEL: 'info',
};

export interface RigOptions {
  /** Runs every process on a throw-away 3-master Redis Cluster instead of one Redis (no Redis faults then). */
  redisCluster?: boolean;
}

export async function startRig(label: string, env: Record<string, string> = {}, options: RigOptions = {}): Promise<Rig> {
  const redis = await createPrivateRedis({ aof: true });
  const cluster = options.redisCluster ? await startRedisCluster() : undefined;
  if (!cluster) await redis.start();
  const pg = await createPrivatePostgres();
  const databaseUrl = await pg.migratedDatabase('books_faults');
  const redisEnv: Record<string, string> = cluster
    ? { REDIS_URL: redis.url, REDIS_CLUSTER_NODES: cluster.nodesEnv }
    : { REDIS_URL: redis.url };
  const system = await startSystem(label, { ...FAULT_ENV, ...env, DATABASE_URL: databaseUrl, ...redisEnv });
  let sql = postgres(databaseUrl, { max: 2, onnotice: () => {} });

  return {
    system,
    redis,
    cluster,
    pg,
    databaseUrl,
    sql: () => sql,
    async killPostgres(downMs) {
      await sql.end({ timeout: 1 });
      await pg.kill();
      await sleep(downMs);
      await pg.start();
      sql = postgres(databaseUrl, { max: 2, onnotice: () => {} });
    },
    async stopPostgres(downMs) {
      await sql.end({ timeout: 1 });
      await pg.stop();
      await sleep(downMs);
      await pg.start();
      sql = postgres(databaseUrl, { max: 2, onnotice: () => {} });
    },
    async killRedis(downMs) {
      if (cluster) throw new Error('killRedis: this rig runs on a Redis Cluster');
      await redis.kill();
      await sleep(downMs);
      await redis.start();
    },
    async close() {
      await sql.end({ timeout: 1 }).catch(() => {});
      await system.close();
      await Promise.allSettled([redis.destroy(), pg.destroy(), cluster?.stop()]);
    },
  };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Books in the database now, or null while it is unreachable (a scenario may have killed it). */
export async function bookCount(rig: Rig): Promise<number | null> {
  try {
    return (await rig.sql()<{ n: number }[]>`select count(*)::int as n from books`)[0]!.n;
  } catch {
    return null;
  }
}
