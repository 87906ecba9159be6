// Leases: `SET key token NX PX ttl`, extended and released only by the holder of the token.
// A lease only saves work; correctness comes from Postgres (unique keys), since a paused holder
// can outlive its lease.
import { randomUUID } from 'node:crypto';
import type { Redis, Result } from 'ioredis';

const EXTEND = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    leaseExtend(key: string, token: string, ttlMs: number): Result<number, Context>;
    leaseRelease(key: string, token: string): Result<number, Context>;
  }
}

export interface Lease {
  key: string;
  token: string;
  extend(): Promise<boolean>;
  release(): Promise<boolean>;
}

function defineLeaseCommands(redis: Redis): void {
  if (typeof (redis as Partial<Redis>).leaseExtend === 'function') return;
  redis.defineCommand('leaseExtend', { numberOfKeys: 1, lua: EXTEND });
  redis.defineCommand('leaseRelease', { numberOfKeys: 1, lua: RELEASE });
}

/** Takes the lease if nobody holds it; null otherwise. */
export async function acquireLease(redis: Redis, key: string, ttlMs: number): Promise<Lease | null> {
  defineLeaseCommands(redis);
  const token = randomUUID();
  // A SET re-sent after a dropped connection finds the lease its first copy took: still ours.
  if ((await redis.set(key, token, 'PX', ttlMs, 'NX')) !== 'OK' && (await redis.get(key)) !== token) return null;
  return {
    key,
    token,
    extend: async () => (await redis.leaseExtend(key, token, ttlMs)) === 1,
    release: async () => (await redis.leaseRelease(key, token)) === 1,
  };
}
