// The per-user GET /books cache: one hash per user (`books:{shard}:user:<id>`), one field per normalised
// query, so one operation invalidates every page. A `gen` field names the last invalidation: a
// reader notes it before reading Postgres and may fill the cache only if it is exactly unchanged,
// so a read that raced a write can never put pre-write data back after the invalidation.
//
// `gen` lives in the hash, which expires and is lost when Redis restarts, so a generation must
// never repeat: each invalidation writes Redis' clock in microseconds (TIME), or the old value + 1
// if that is larger, so a reader holding a generation seen before the hash vanished can never find
// it again. An absent hash reads as gen '' and any invalidation makes it a number, so a reader
// that saw no hash cannot fill after a write either; it can only fill if the hash is still absent,
// i.e. no invalidation happened in this Redis since its read, or the one that did has expired with
// its TTL (a reader stalled longer than the TTL between its read and its fill, which the API bounds,
// see guarded-books-cache.ts). Invalidations that could not reach Redis at all are the API's
// business: books-cache-debts.ts.
import type { Result } from 'ioredis';
import type { RedisClient } from '../redis/client.js';
import type { RedisKeys } from '../redis/keys.js';
import { defineScript } from '../redis/scripts.js';

const GEN_FIELD = 'gen';

// KEYS[1] cache hash; ARGV: field, value, expected gen ('' when the hash was absent), ttl ms.
const FILL_SCRIPT = `
local gen = redis.call('HGET', KEYS[1], 'gen') or ''
if gen ~= ARGV[3] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[4], 'NX')
return 1`;

/**
 * Lua: drops every page and writes a generation never used before for this key (kept for one TTL
 * so that in-flight readers still see the change). Shared with the bulk worker's scripts, which
 * invalidate in the same step. The value is formatted with %.0f: Lua 5.1's tostring would print
 * a 16-digit number in exponent form and lose its last digits.
 */
export const INVALIDATE_BOOKS_CACHE_LUA = `
local function invalidate_books_cache(key, ttl_ms)
  local now = redis.call('TIME')
  local gen = tonumber(now[1]) * 1000000 + tonumber(now[2])
  local old = tonumber(redis.call('HGET', key, 'gen') or '')
  if old and old >= gen then gen = old + 1 end
  local value = string.format('%.0f', gen)
  redis.call('DEL', key)
  redis.call('HSET', key, 'gen', value)
  redis.call('PEXPIRE', key, ttl_ms)
  return value
end`;

// KEYS[1] cache hash; ARGV: ttl ms.
const INVALIDATE_SCRIPT = `${INVALIDATE_BOOKS_CACHE_LUA}
return invalidate_books_cache(KEYS[1], ARGV[1])`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    booksCacheFill(key: string, field: string, value: string | Buffer, gen: string, ttlMs: number): Result<number, Context>;
    booksCacheInvalidate(key: string, ttlMs: number): Result<string, Context>;
  }
}

export const booksCacheScripts = [
  defineScript('booksCacheFill', 1, FILL_SCRIPT),
  defineScript('booksCacheInvalidate', 1, INVALIDATE_SCRIPT),
];

export interface CacheRead {
  /** The cached page, serialised JSON as raw bytes (sent as they are, never decoded), or null on a miss. */
  value: Buffer | null;
  /** The generation seen; pass it back to fill(). */
  gen: string;
}

export interface BooksCache {
  read(userId: string, field: string): Promise<CacheRead>;
  /** Stores a page unless the cache was invalidated since `gen` was read. Returns whether it stored. */
  fill(userId: string, field: string, value: string | Buffer, gen: string): Promise<boolean>;
  invalidate(userId: string): Promise<void>;
}

export function createBooksCache(redis: RedisClient, keys: RedisKeys, ttlSeconds: number): BooksCache {
  const ttlMs = ttlSeconds * 1000;
  return {
    async read(userId, field) {
      const [value, gen] = await redis.hmgetBuffer(keys.booksCache(userId), field, GEN_FIELD);
      return { value: value ?? null, gen: gen?.toString() ?? '' };
    },
    async fill(userId, field, value, gen) {
      return (await redis.booksCacheFill(keys.booksCache(userId), field, value, gen, ttlMs)) === 1;
    },
    async invalidate(userId) {
      await redis.booksCacheInvalidate(keys.booksCache(userId), ttlMs);
    },
  };
}

/** The hash field for one list query: stable whatever order the client sent the parameters in. */
export function booksCacheField(query: { limit: number; offset: number; search?: string | undefined }): string {
  const search = query.search?.trim().toLowerCase() ?? '';
  return `l=${query.limit}&o=${query.offset}&s=${encodeURIComponent(search)}`;
}
