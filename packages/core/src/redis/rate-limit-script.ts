// The API's rate-limit counter (see apps/api's rate-limit-store.ts, which coalesces requests into it).
import type { Result } from 'ioredis';
import { defineScript } from './scripts.js';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    rateLimitIncrBy(key: string, requests: number, windowMs: number): Result<[number, number], Context>;
  }
}

// KEYS[1] counter; ARGV: requests to count, window ms. A counter without an expiry (just created,
// or its PEXPIRE lost to a crash) gets one, so no counter can count forever.
export const rateLimitScripts = [
  defineScript(
    'rateLimitIncrBy',
    1,
    `
local current = redis.call('INCRBY', KEYS[1], ARGV[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  ttl = tonumber(ARGV[2])
end
return {current, ttl}`,
  ),
];
