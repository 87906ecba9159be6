// A Redis store for @fastify/rate-limit (its documented `store` extension point) that counts the
// requests of one client that arrive while that client's previous count is still on its way to
// Redis in a single INCRBY, instead of one script call each. The counts are exactly those of the
// plugin's own Redis store: every request is counted in Redis before it is let through, each gets
// the total as of its own increment, and the limit holds across replicas. What changes is the cost:
// a client with many requests in flight (a backend service behind one address, a burst) costs one
// Redis command per round trip rather than one per request. The key stays one per client, so the
// store works unchanged on Redis Cluster. It has no `read`: the API never checks a limit without
// counting ({ increment: false }), and the plugin refuses that call with a clear error.

import type { RedisClient } from '@books/core/redis';
import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit';

type Callback = Parameters<FastifyRateLimitStore['incr']>[1];

/** What the plugin passes to a store's constructor and to child() (its typings say less). */
interface StoreOptions {
  continueExceeding?: boolean;
  exponentialBackoff?: boolean;
  routeInfo?: { method: string | string[]; url: string };
}

/**
 * The store class to pass as @fastify/rate-limit's `store`, bound to a client made by
 * createRedisClient (which defines core's rateLimitIncrBy script) and to the namespace its keys live under.
 */
export function coalescingRedisStore(redis: RedisClient, namespace: string): FastifyRateLimitStoreCtor {
  // The requests waiting for each counter whose previous increment is in Redis now: a counter is
  // here exactly while a command for it is in flight. Shared by the global store and every route's
  // child: their keys differ, so they never mix.
  const waiting = new Map<string, Callback[]>();

  const send = (key: string, callbacks: Callback[], windowMs: number) => {
    waiting.set(key, []);
    redis.rateLimitIncrBy(key, callbacks.length, windowMs).then(
      ([total, ttl]) => {
        // The same totals as one INCR per request, in the order the requests arrived.
        const first = total - callbacks.length;
        for (let i = 0; i < callbacks.length; i++) callbacks[i]!(null, { current: first + i + 1, ttl });
        settle(key, windowMs);
      },
      (error: Error) => {
        for (const callback of callbacks) callback(error);
        settle(key, windowMs);
      },
    );
  };

  const settle = (key: string, windowMs: number) => {
    const next = waiting.get(key)!;
    if (next.length > 0) send(key, next, windowMs);
    else waiting.delete(key);
  };

  class CoalescingRedisStore implements FastifyRateLimitStore {
    private readonly prefix: string;

    constructor(options: StoreOptions, prefix = namespace) {
      // The plugin's own stores implement these; this one does not, so refuse them loudly.
      if (options.continueExceeding || options.exponentialBackoff) {
        throw new Error('the rate-limit store does not support continueExceeding or exponentialBackoff');
      }
      this.prefix = prefix;
    }

    incr(key: string, callback: Callback, timeWindow: number): void {
      const fullKey = this.prefix + key;
      const queue = waiting.get(fullKey);
      if (queue) queue.push(callback);
      else send(fullKey, [callback], timeWindow);
    }

    child(routeOptions: object) {
      // A route with its own limit counts apart from the global one, as the plugin's Redis store does.
      const options = routeOptions as StoreOptions;
      return new CoalescingRedisStore(options, `${this.prefix}${options.routeInfo?.method}${options.routeInfo?.url}-`);
    }
  }
  return CoalescingRedisStore;
}
