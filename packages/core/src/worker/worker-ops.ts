// What an operator sees of a worker replica besides its logs: the heartbeat in Redis, and the
// metrics listener with /health/live and /health/ready (Redis and Postgres answer, the schedule is
// running, the process is not shutting down).
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { type Readiness, startOpsServer } from '../metrics/ops-server.js';
import type { RedisClient } from '../redis/client.js';
import type { RedisKeys } from '../redis/keys.js';
import type { WorkerKind } from '../schemas/workers.js';
import { createHeartbeat } from './heartbeat.js';

/** The part of a worker's config the ops read (both workers' loaders give it). */
export interface WorkerOpsConfig {
  metrics: { host: string; port: number };
  heartbeatIntervalMs: number;
  healthCheckTimeoutMs: number;
}

export interface WorkerOpsOptions {
  kind: WorkerKind;
  version: string;
  redis: RedisClient;
  keys: RedisKeys;
  /** Resolves when Postgres answers. */
  pingPostgres(): Promise<unknown>;
  registry: Registry;
  config: WorkerOpsConfig;
  log: Logger;
}

/** Driven by runScheduled: it says when the schedule runs, when a pass starts and ends, when it stops. */
export interface WorkerOps {
  readonly workerId: string;
  /** The port the metrics listener got (METRICS_PORT, or the free one picked for 0). */
  readonly metricsPort: number;
  scheduleStarted(): void;
  passStarted(): void;
  passEnded(outcome: 'ok' | 'failed'): void;
  /** From now on /health/ready answers 503. */
  stopping(): void;
  close(): Promise<void>;
}

export async function startWorkerOps(options: WorkerOpsOptions): Promise<WorkerOps> {
  const { log } = options;
  let scheduled = false;
  let stopping = false;
  const heartbeat = createHeartbeat({
    redis: options.redis,
    keys: options.keys,
    kind: options.kind,
    version: options.version,
    intervalMs: options.config.heartbeatIntervalMs,
    log,
  });
  const check = (probe: () => Promise<unknown>) => answersWithin(probe, options.config.healthCheckTimeoutMs);
  const readiness = async (): Promise<Readiness> => {
    const [redis, postgres] = await Promise.all([check(() => options.redis.ping()), check(options.pingPostgres)]);
    const checks = {
      redis,
      postgres,
      schedule: stopping ? 'shutting down' : scheduled ? 'ok' : 'not started',
    };
    return { ready: Object.values(checks).every((state) => state === 'ok'), checks };
  };
  const server = await startOpsServer({ ...options.config.metrics, registry: options.registry, log, readiness });
  await heartbeat.start();
  return {
    workerId: heartbeat.id,
    metricsPort: server.port,
    scheduleStarted: () => {
      scheduled = true;
    },
    passStarted: () => heartbeat.passStarted(),
    passEnded: (outcome) => heartbeat.passEnded(outcome),
    stopping: () => {
      stopping = true;
    },
    async close() {
      await heartbeat.stop();
      await server.close();
    },
  };
}

/** For main.ts: the ops, or one log line and exit code 1 when the metrics port cannot be had. */
export function startWorkerOpsOrExit(options: WorkerOpsOptions): Promise<WorkerOps> {
  return startWorkerOps(options).catch((err: unknown) => {
    options.log.error({ err, port: options.config.metrics.port }, 'could not start the metrics listener (METRICS_PORT)');
    process.exit(1);
  });
}

/** 'ok', 'timed out' or 'unreachable': the probe's answer never carries a driver's message. */
async function answersWithin(probe: () => Promise<unknown>, timeoutMs: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      probe().then(() => 'ok'),
      new Promise<string>((resolve) => {
        timer = setTimeout(() => resolve('timed out'), timeoutMs);
      }),
    ]);
  } catch {
    return 'unreachable';
  } finally {
    clearTimeout(timer);
  }
}

/** The `version` of the package.json at `url`, for the heartbeat ("unknown" if it cannot be read). */
export function packageVersion(url: URL): string {
  try {
    const { version } = JSON.parse(readFileSync(url, 'utf8')) as { version?: unknown };
    return typeof version === 'string' ? version : 'unknown';
  } catch {
    return 'unknown';
  }
}
