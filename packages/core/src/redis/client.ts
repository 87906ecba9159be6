import { Redis, type RedisOptions } from 'ioredis';
import type { RedisTimeouts } from '../config/fragments.js';
import { registerAllScripts } from './script-registry.js';

export type RedisRole = 'api' | 'worker';

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
export function createRedisClient(url: string, role: RedisRole, logger: ConnectionLogger, clientOptions: RedisClientOptions): Redis {
  const name = clientOptions.name ?? role;
  const { connectMs, commandMs, reconnectMaxDelayMs } = clientOptions.timeouts;
  const options: RedisOptions =
    role === 'api' ? { maxRetriesPerRequest: 1, enableOfflineQueue: false } : { maxRetriesPerRequest: null, enableOfflineQueue: true };
  const client = new Redis(url, {
    ...options,
    connectTimeout: connectMs,
    ...(commandMs > 0 ? { commandTimeout: commandMs } : {}),
    enableAutoPipelining: clientOptions.autoPipelining ?? false,
    connectionName: `books-${name}`,
    retryStrategy: (attempt) => Math.min(attempt * 200, reconnectMaxDelayMs),
  });
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

/** Resolves when the client is ready, or after `timeoutMs` (false) so start-up can go on degraded. */
export function waitForRedis(client: Redis, timeoutMs: number): Promise<boolean> {
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
