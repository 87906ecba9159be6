// The books cache as the API uses it: a Redis failure never fails a request. Reads miss, fills
// are skipped, and a failed invalidation is remembered and replayed when Redis is back, so pages
// cached before the outage cannot outlive a write made during it.
import { type BooksCache, createBooksCache, type RedisKeys } from '@books/core';
import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';

export function createGuardedBooksCache(redis: Redis, keys: RedisKeys, ttlSeconds: number, log: FastifyBaseLogger): BooksCache {
  const cache = createBooksCache(redis, keys, ttlSeconds);
  const pendingInvalidations = new Set<string>();

  redis.on('ready', () => {
    if (pendingInvalidations.size === 0) return;
    const users = [...pendingInvalidations];
    pendingInvalidations.clear();
    for (const userId of users) {
      cache.invalidate(userId).catch((err) => {
        pendingInvalidations.add(userId);
        log.warn({ err, userId }, 'replaying a cache invalidation failed');
      });
    }
    log.info({ users: users.length }, 'replayed cache invalidations missed while redis was down');
  });

  return {
    async read(userId, field) {
      if (pendingInvalidations.has(userId)) {
        // Redis may have come back without a reconnect (a partition, a paused server): pay the debt first.
        try {
          await cache.invalidate(userId);
          pendingInvalidations.delete(userId);
        } catch {
          return { value: null, gen: '' };
        }
      }
      try {
        return await cache.read(userId, field);
      } catch (err) {
        log.warn({ err, userId }, 'cache read failed; reading Postgres');
        return { value: null, gen: '' };
      }
    },
    async fill(userId, field, value, gen) {
      // While an invalidation is owed, this user's cache must stay empty.
      if (pendingInvalidations.has(userId)) return false;
      try {
        return await cache.fill(userId, field, value, gen);
      } catch (err) {
        log.warn({ err, userId }, 'cache fill failed');
        return false;
      }
    },
    async invalidate(userId) {
      try {
        await cache.invalidate(userId);
      } catch (err) {
        pendingInvalidations.add(userId);
        log.warn({ err, userId }, 'cache invalidation failed; will replay when redis is back');
      }
    },
  };
}
