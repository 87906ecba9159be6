// Leases: `SET key token NX PX ttl`, extended and released only by the holder of the token.
// A lease only saves work; correctness comes from Postgres (unique keys), since a paused holder
// can outlive its lease.
import { randomUUID } from 'node:crypto';
import type { Result } from 'ioredis';
import type { RedisClient } from './client.js';
import { defineScript } from './scripts.js';

/** Lua: whether `token` still holds the lease at `key`; every script that needs a lease asks this. */
export const HOLDS_LEASE_LUA = `
local function holds_lease(key, token)
  return redis.call('GET', key) == token
end`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    leaseExtend(key: string, token: string, ttlMs: number): Result<number, Context>;
    leaseRelease(key: string, token: string): Result<number, Context>;
  }
}

export const leaseScripts = [
  defineScript(
    'leaseExtend',
    1,
    `${HOLDS_LEASE_LUA}
if holds_lease(KEYS[1], ARGV[1]) then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`,
  ),
  defineScript(
    'leaseRelease',
    1,
    `${HOLDS_LEASE_LUA}
if holds_lease(KEYS[1], ARGV[1]) then return redis.call('DEL', KEYS[1]) end return 0`,
  ),
];

export interface Lease {
  key: string;
  token: string;
  extend(): Promise<boolean>;
  release(): Promise<boolean>;
}

/** Takes the lease if nobody holds it; null otherwise. */
export async function acquireLease(redis: RedisClient, key: string, ttlMs: number): Promise<Lease | null> {
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

/** A worker found its lease on a user's queue or report taken: another worker has that work now. */
export class LeaseLostError extends Error {
  readonly code = 'LEASE_LOST';
  constructor(
    readonly lease: 'queue' | 'report',
    readonly userId: string,
  ) {
    super(`lost the lease on user ${userId}'s ${lease}; another worker has it`);
  }
}
