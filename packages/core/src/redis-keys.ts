// The only code that spells a Redis key. `{userId}` is a Redis Cluster hash tag: every key of one
// user hashes to one slot, so multi-key scripts over one user's keys stay legal in a cluster.
// The namespace prefix is applied here rather than through ioredis's keyPrefix, which SCAN ignores.

export interface RedisKeys {
  readonly prefix: string;
  /** Hash: one field per normalised GET /books query, plus `gen` (see books-cache.ts). */
  booksCache(userId: string): string;
  /** Cached identity of a user (JSON), so authentication does not hit Postgres on every request. */
  userIdentity(userId: string): string;
  /** Namespace handed to @fastify/rate-limit, which appends the client key itself. */
  rateLimitNamespace(): string;
}

export function createRedisKeys(prefix = ''): RedisKeys {
  const user = (name: string, userId: string) => `${prefix}${name}:user:{${userId}}`;
  return {
    prefix,
    booksCache: (userId) => user('books', userId),
    userIdentity: (userId) => user('identity', userId),
    rateLimitNamespace: () => `${prefix}rate_limit:`,
  };
}
