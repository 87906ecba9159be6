// A worker replica's heartbeat: a key of its own with a TTL of three intervals, written on a timer
// (so that a long pass still shows the replica alive) and at each pass's start and end, and a global
// index of replicas scored by expiry, so that readers list them without KEYS and a killed worker
// drops out by itself.
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import Compile from 'typebox/compile';
import type { RedisClient } from '../redis/client.js';
import type { RedisKeys } from '../redis/keys.js';
import { type WorkerHeartbeat, WorkerHeartbeatSchema, type WorkerKind } from '../schemas/workers.js';

/** A heartbeat lives this many intervals: one missed beat (a slow Redis, a GC pause) is not death. */
const LIVES_INTERVALS = 3;

export interface HeartbeatOptions {
  redis: RedisClient;
  keys: RedisKeys;
  kind: WorkerKind;
  version: string;
  intervalMs: number;
  log: Logger;
  now?: () => Date;
}

export interface Heartbeat {
  readonly id: string;
  /** Starts the timer (and writes the first beat). */
  start(): Promise<void>;
  passStarted(): void;
  passEnded(outcome: 'ok' | 'failed'): void;
  /** Stops the timer and removes the replica: a clean stop is not a missing worker. */
  stop(): Promise<void>;
}

export function createHeartbeat(options: HeartbeatOptions): Heartbeat {
  const { redis, keys, kind, log } = options;
  const now = options.now ?? (() => new Date());
  const id = `${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const key = keys.workerHeartbeat(kind, id);
  const member = `${kind}:${id}`;
  const ttlMs = options.intervalMs * LIVES_INTERVALS;
  const state: WorkerHeartbeat = {
    id,
    kind,
    host: hostname(),
    pid: process.pid,
    version: options.version,
    startedAt: now().toISOString(),
    beatAt: now().toISOString(),
    lastPassStartedAt: null,
    lastPassEndedAt: null,
    lastOutcome: null,
    passRunning: false,
  };
  let timer: NodeJS.Timeout | undefined;
  let failing = false;

  const beat = async () => {
    const at = now();
    state.beatAt = at.toISOString();
    try {
      // Separate commands, not MULTI: they need not be atomic, and on a Redis Cluster the two keys
      // live in different slots.
      await Promise.all([
        redis.set(key, JSON.stringify(state), 'PX', ttlMs),
        redis.zadd(keys.workers(), at.getTime() + ttlMs, member),
        redis.zremrangebyscore(keys.workers(), '-inf', at.getTime()),
      ]);
      if (failing) log.info({ workerId: id }, 'heartbeat written again');
      failing = false;
    } catch (err) {
      // Redis is down: the worker's own passes say so too; one line per outage is enough.
      if (!failing) log.warn({ err, workerId: id }, 'could not write the heartbeat; retrying on the next beat');
      failing = true;
    }
  };

  return {
    id,
    async start() {
      await beat();
      timer = setInterval(() => void beat(), options.intervalMs);
      timer.unref();
    },
    passStarted() {
      state.lastPassStartedAt = now().toISOString();
      state.passRunning = true;
      void beat();
    },
    passEnded(outcome) {
      state.lastPassEndedAt = now().toISOString();
      state.lastOutcome = outcome;
      state.passRunning = false;
      void beat();
    },
    async stop() {
      clearInterval(timer);
      await Promise.all([redis.del(key), redis.zrem(keys.workers(), member)]).catch((err) =>
        log.warn({ err, workerId: id }, 'could not remove the heartbeat; it expires by itself'),
      );
    },
  };
}

const heartbeatValidator = Compile(WorkerHeartbeatSchema);

/** The replicas whose heartbeat has not expired, from the index (no KEYS), then one GET per replica. */
export async function readLiveWorkers(redis: RedisClient, keys: RedisKeys, at: Date = new Date()): Promise<WorkerHeartbeat[]> {
  const members = await redis.zrangebyscore(keys.workers(), `(${at.getTime()}`, '+inf');
  if (members.length === 0) return [];
  const answers = await Promise.all(
    members.map((member) => {
      const split = member.indexOf(':');
      return redis.get(keys.workerHeartbeat(member.slice(0, split), member.slice(split + 1)));
    }),
  );
  const live: WorkerHeartbeat[] = [];
  for (const raw of answers) {
    if (raw === null) continue;
    try {
      const parsed: unknown = JSON.parse(raw);
      if (heartbeatValidator.Check(parsed)) live.push(parsed);
    } catch {
      // Not ours to judge: an unreadable heartbeat is a replica we cannot vouch for.
    }
  }
  return live;
}
