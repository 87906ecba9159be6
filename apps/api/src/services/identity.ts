// Who a token's subject is, now: cached in Redis for a minute so that authentication does not
// cost a Postgres query per request, and dropped from the cache when the account is deleted.
import { type Database, type RedisKeys, type User, UserSchema, users } from '@books/core';
import { eq } from 'drizzle-orm';
import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';
import Compile from 'typebox/compile';

const IDENTITY_TTL_SECONDS = 60;
const userValidator = Compile(UserSchema);

export type Identity = User;

export function toUser(row: typeof users.$inferSelect, adminEmails: string[]): User {
  const role = row.role === 'admin' || adminEmails.includes(row.email.toLowerCase()) ? 'admin' : 'user';
  return { id: row.id, username: row.username, email: row.email, role, createdAt: row.createdAt.toISOString() };
}

export interface IdentityService {
  resolve(userId: string): Promise<Identity | null>;
  forget(userId: string): Promise<void>;
}

export function createIdentityService(deps: {
  db: Database;
  redis: Redis;
  keys: RedisKeys;
  adminEmails: string[];
  log: FastifyBaseLogger;
}): IdentityService {
  const { db, redis, keys, adminEmails, log } = deps;
  return {
    async resolve(userId) {
      const key = keys.userIdentity(userId);
      try {
        const cached = await redis.get(key);
        if (cached) {
          const parsed: unknown = JSON.parse(cached);
          // Written by another replica, possibly another version: trust only what validates.
          if (userValidator.Check(parsed)) return parsed;
        }
      } catch (err) {
        log.warn({ err, userId }, 'identity cache unavailable; asking Postgres');
      }
      const [row] = await db.select().from(users).where(eq(users.id, userId)).limit(1);
      if (!row) return null;
      const identity = toUser(row, adminEmails);
      redis.set(key, JSON.stringify(identity), 'EX', IDENTITY_TTL_SECONDS).catch(() => {});
      return identity;
    },
    async forget(userId) {
      await redis.del(keys.userIdentity(userId));
    },
  };
}
