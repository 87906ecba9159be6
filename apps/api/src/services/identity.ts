// Who a token's subject is, now. Two layers keep Postgres off the hot path: a Redis copy for a
// minute, shared by replicas, and a few seconds in process memory. Deleting an account drops both
// everywhere at once: the Redis copy is deleted and every replica hears of it on a pub/sub channel.
// While that channel is not connected, the in-process layer is off, so no replica can miss one.
import type { Database } from '@books/core/db';
import type { RedisKeys } from '@books/core/redis';
import { type User, UserSchema } from '@books/core/schemas';
import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';
import Compile from 'typebox/compile';
import { findUserById, roleOf, toUser } from './users-store.js';

const IDENTITY_TTL_SECONDS = 60;
const LOCAL_TTL_MS = 5000;
const LOCAL_MAX_ENTRIES = 10_000;
const userValidator = Compile(UserSchema);

export type Identity = User;

export interface IdentityService {
  resolve(userId: string): Promise<Identity | null>;
  /** Drops the identity everywhere (this process, Redis, every other replica). */
  forget(userId: string): Promise<void>;
  close(): void;
}

export function createIdentityService(deps: {
  db: Database;
  redis: Redis;
  /** A client of its own, put in subscriber mode. */
  subscriber: Redis;
  keys: RedisKeys;
  adminEmails: string[];
  log: FastifyBaseLogger;
}): IdentityService {
  const { db, redis, subscriber, keys, adminEmails, log } = deps;
  const local = new Map<string, { identity: Identity; expires: number }>();
  let localEnabled = false;
  const channel = keys.identityRevocations();

  const disableLocal = () => {
    localEnabled = false;
    local.clear();
  };
  subscriber.on('message', (_channel: string, userId: string) => local.delete(userId));
  subscriber.on('close', disableLocal);
  subscriber.on('ready', () => {
    subscriber.subscribe(channel).then(
      () => {
        localEnabled = true;
      },
      (err) => log.warn({ err }, 'could not subscribe to identity revocations; in-process identity cache stays off'),
    );
  });

  const remember = (identity: Identity) => {
    if (!localEnabled) return;
    if (local.size >= LOCAL_MAX_ENTRIES) local.delete(local.keys().next().value as string);
    local.set(identity.id, { identity, expires: Date.now() + LOCAL_TTL_MS });
  };

  return {
    async resolve(userId) {
      const hit = local.get(userId);
      if (hit && hit.expires > Date.now()) return hit.identity;
      const key = keys.userIdentity(userId);
      try {
        const cached = await redis.get(key);
        if (cached) {
          const parsed: unknown = JSON.parse(cached);
          // Written by another replica, possibly another version: trust only what validates.
          if (userValidator.Check(parsed) && parsed.id === userId) {
            // The role is this replica's reading of its own ADMIN_EMAILS, not the writer's.
            const identity = { ...parsed, role: roleOf(parsed, adminEmails) };
            remember(identity);
            return identity;
          }
        }
      } catch (err) {
        log.warn({ err, userId }, 'identity cache unavailable; asking Postgres');
      }
      const row = await findUserById(db, userId);
      if (!row) return null;
      const identity = toUser(row, adminEmails);
      redis.set(key, JSON.stringify(identity), 'EX', IDENTITY_TTL_SECONDS).catch(() => {});
      remember(identity);
      return identity;
    },
    async forget(userId) {
      local.delete(userId);
      await redis.del(keys.userIdentity(userId));
      await redis.publish(channel, userId);
    },
    close() {
      subscriber.disconnect();
    },
  };
}
