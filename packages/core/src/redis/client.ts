import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import type { DatastoresConfig, RedisTimeouts } from '../config/fragments.js';
import { registerAllScripts, VARIABLE_KEY_SCRIPTS } from './script-registry.js';

export type RedisRole = 'api' | 'worker';

/**
 * A connection to a standalone Redis or to a Redis Cluster. The code takes either: every script
 * touches one slot (keys.ts), and no pipeline mixes slots.
 */
export type RedisClient = Redis | Cluster;

/** Where Redis is: a cluster's seed nodes win over the URL, whose credentials and TLS still apply. */
export type RedisTarget = Pick<DatastoresConfig, 'redisUrl' | 'redisClusterNodes'>;

/** What the client needs of a logger: pino's and Fastify's both fit. */
export interface ConnectionLogger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

export interface RedisClientOptions {
  /** From the process's configuration (REDIS_CONNECT_TIMEOUT_MS and the like). */
  timeouts: RedisTimeouts;
  /** The connection's name in `CLIENT LIST`; defaults to the role. */
  name?: string;
  /**
   * Sends the commands issued in one event-loop turn as one pipeline (one write, one wake-up of
   * Redis) instead of one write each. Safe because every Lua command is defined when the client is
   * created (see script-registry.ts): a command defined later would be missing from the pipeline
   * already being filled, and ioredis would throw inside its pipeline callback (redis/ioredis#1931).
   */
  autoPipelining?: boolean;
}

/**
 * The API fails fast (no offline queue, one retry) so it can fall back to Postgres or answer 503;
 * workers wait for Redis to come back (maxRetriesPerRequest: null). Both reconnect forever.
 */
export function createRedisClient(
  target: RedisTarget,
  role: RedisRole,
  logger: ConnectionLogger,
  clientOptions: RedisClientOptions,
): RedisClient {
  const name = clientOptions.name ?? role;
  const { connectMs, commandMs, reconnectMaxDelayMs } = clientOptions.timeouts;
  const queueing = role === 'api' ? { enableOfflineQueue: false } : { enableOfflineQueue: true };
  const connection: RedisOptions = {
    maxRetriesPerRequest: role === 'api' ? 1 : null,
    connectTimeout: connectMs,
    ...(commandMs > 0 ? { commandTimeout: commandMs } : {}),
    connectionName: `books-${name}`,
  };
  const backoff = (attempt: number) => Math.min(attempt * 200, reconnectMaxDelayMs);
  const autoPipelining = clientOptions.autoPipelining ?? false;
  const client: RedisClient = target.redisClusterNodes.length
    ? new Cluster(target.redisClusterNodes, clusterOptions(target.redisUrl, connection, queueing, backoff, autoPipelining, connectMs))
    : new Redis(target.redisUrl, { ...connection, ...queueing, enableAutoPipelining: autoPipelining, retryStrategy: backoff });
  registerAllScripts(client);
  let lastError = '';
  // Without an error listener an unreachable Redis crashes the process.
  client.on('error', (err: Error) => {
    if (err.message !== lastError) logger.warn({ err, redis: name }, 'redis connection error');
    lastError = err.message;
  });
  client.on('ready', () => {
    if (lastError) logger.info({ redis: name }, 'redis connection restored');
    lastError = '';
  });
  return client;
}

/**
 * A cluster's nodes all take REDIS_URL's user, password and TLS (rediss://), as managed cluster-mode
 * services want; MOVED, ASK and TRYAGAIN (a slot being resharded) are retried by ioredis.
 */
function clusterOptions(
  url: string,
  connection: RedisOptions,
  queueing: { enableOfflineQueue: boolean },
  backoff: (attempt: number) => number,
  autoPipelining: boolean,
  connectMs: number,
): ClusterOptions {
  const parsed = new URL(url);
  return {
    ...queueing,
    enableAutoPipelining: autoPipelining,
    autoPipeliningIgnoredCommands: [...VARIABLE_KEY_SCRIPTS],
    clusterRetryStrategy: backoff,
    slotsRefreshTimeout: connectMs,
    redisOptions: {
      ...connection,
      ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
      ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
      ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
    },
  };
}

/** Resolves when the client is ready, or after `timeoutMs` (false) so start-up can go on degraded. */
export function waitForRedis(client: RedisClient, timeoutMs: number): Promise<boolean> {
  if (client.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ready: boolean) => {
      clearTimeout(timer);
      client.off('ready', onReady);
      resolve(ready);
    };
    const onReady = () => done(true);
    const timer = setTimeout(() => done(false), timeoutMs);
    client.on('ready', onReady);
  });
}
