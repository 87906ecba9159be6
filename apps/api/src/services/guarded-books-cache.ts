// The books cache as the API uses it: a Redis failure never fails a request, and never lets a page
// older than a write be served once the write has answered (beyond the window stated below).
// Reads miss and fills are skipped while Redis fails. A failed invalidation becomes a debt in
// Postgres (books-cache-debts.ts), which every replica reads at start-up, after every Redis
// reconnect (before it trusts the cache again) and every DEBT_POLL_INTERVAL_MS: a user with a debt
// is served from Postgres, uncached, until some replica that reaches Redis invalidates and settles.
//
// The window that remains: a replica that reaches Redis while the writer could not may serve the
// pre-write page until its next poll has read the debt, at most DEBT_POLL_INTERVAL_MS plus one
// poll query after the write answered, and for as long as that replica cannot read Postgres
// (cache hits never ask it). A debt Postgres refused too (lost just after the write committed)
// is known only to the writer's memory until Postgres takes it; if the writer dies first, the
// pages expire with the TTL.
import { type BooksCache, type CacheRead, createBooksCache } from '@books/core/cache';
import type { Database } from '@books/core/db';
import type { RedisClient, RedisKeys } from '@books/core/redis';
import type { FastifyBaseLogger } from 'fastify';
import { type BooksCacheDebt, listBooksCacheDebts, recordBooksCacheDebts, settleBooksCacheDebts } from './books-cache-debts.js';

/**
 * How often each replica reads the debts. It bounds the window above; the query reads an
 * almost-always-empty table, well under a millisecond of Postgres per replica per second.
 */
export const DEBT_POLL_INTERVAL_MS = 1000;

// How long start-up waits, by default, for the first read of the debts (CACHE_START_SYNC_SECONDS);
// the cache stays unused until it succeeds.
const START_SYNC_WAIT_MS = 2000;

// Handed to the route instead of a generation when the cache must not be filled.
const NO_FILL = 'no-fill';

export interface GuardedBooksCache extends BooksCache {
  /** Reads the debts once (bounded wait) and starts polling them. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface GuardedBooksCacheDeps {
  redis: RedisClient;
  keys: RedisKeys;
  ttlSeconds: number;
  db: Database;
  log: FastifyBaseLogger;
}

export function createGuardedBooksCache(
  deps: GuardedBooksCacheDeps,
  pollIntervalMs = DEBT_POLL_INTERVAL_MS,
  startSyncWaitMs = START_SYNC_WAIT_MS,
): GuardedBooksCache {
  const { redis, db, log } = deps;
  const cache = createBooksCache(redis, deps.keys, deps.ttlSeconds);
  // A generation lives one TTL after its invalidation; a fill later than that after its read could
  // find the hash gone and be accepted. Half the TTL leaves room for the fill's own trip to Redis.
  const maxFillDelayMs = (deps.ttlSeconds * 1000) / 2;

  // userId → seq of the debt this replica knows of (0: not yet recorded in Postgres).
  let owed = new Map<string, number>();
  // Failed invalidations whose debt Postgres refused too: only this replica knows them.
  const unrecorded = new Set<string>();
  // Debts this replica recorded while a poll was in flight, which that poll's answer may predate.
  let recordedDuringPoll = new Map<string, number>();
  // Bumped on every (re)connect; the cache is trusted once the debts were read since the last one.
  let connection = 0;
  let trustedConnection = -1;
  let syncing: Promise<void> | undefined;
  let syncAgain = false;
  let paying: Promise<void> | undefined;
  let pollFailing = false;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const usable = (userId: string) => trustedConnection === connection && !owed.has(userId);

  redis.on('ready', () => {
    if (stopped) return;
    connection++;
    void sync();
  });

  function sync(): Promise<void> {
    if (syncing) {
      syncAgain = true;
      return syncing;
    }
    syncing = (async () => {
      do {
        syncAgain = false;
        await syncOnce();
      } while (syncAgain && !stopped);
    })().finally(() => {
      syncing = undefined;
    });
    return syncing;
  }

  async function syncOnce(): Promise<void> {
    const at = connection;
    recordedDuringPoll = new Map();
    try {
      if (unrecorded.size > 0) {
        const users = [...unrecorded];
        await recordBooksCacheDebts(db, users);
        for (const userId of users) unrecorded.delete(userId);
      }
      const debts = await listBooksCacheDebts(db);
      const next = new Map(debts.map((d) => [d.userId, d.seq]));
      for (const [userId, seq] of recordedDuringPoll) if ((next.get(userId) ?? -1) < seq) next.set(userId, seq);
      for (const userId of unrecorded) next.set(userId, 0);
      owed = next;
      if (at === connection) trustedConnection = at;
      if (pollFailing) log.info({ debts: debts.length }, 'cache debts readable again');
      pollFailing = false;
      if (debts.length > 0 && redis.status === 'ready' && !paying) {
        paying = pay(debts).finally(() => {
          paying = undefined;
        });
      }
    } catch (err) {
      if (!pollFailing) log.warn({ err }, 'cannot read cache debts from postgres; cached pages are served as they are until it answers');
      pollFailing = true;
    }
  }

  // Invalidates, then deletes exactly the debts invalidated: one recorded meanwhile stays owed.
  async function pay(debts: BooksCacheDebt[]): Promise<void> {
    const results = await Promise.allSettled(debts.map((d) => cache.invalidate(d.userId)));
    const paid = debts.filter((_, i) => results[i]?.status === 'fulfilled');
    if (paid.length === 0) return;
    try {
      await settleBooksCacheDebts(db, paid);
      for (const d of paid) if (owed.get(d.userId) === d.seq) owed.delete(d.userId);
      log.info({ users: paid.length }, 'paid cache invalidations owed since redis was unreachable');
    } catch (err) {
      log.warn({ err, users: paid.length }, 'settling paid cache debts failed; they will be paid again');
    }
  }

  async function owe(userId: string): Promise<void> {
    // This replica stops serving the user's pages at once, before Postgres has answered.
    if (!owed.has(userId)) owed.set(userId, 0);
    try {
      const [debt] = await recordBooksCacheDebts(db, [userId]);
      if (debt) {
        recordedDuringPoll.set(userId, debt.seq);
        if ((owed.get(userId) ?? 0) < debt.seq) owed.set(userId, debt.seq);
      } else if (owed.get(userId) === 0) {
        owed.delete(userId); // the account is gone: no page of it will be asked for
      }
    } catch (err) {
      unrecorded.add(userId);
      log.error({ err, userId }, 'cache invalidation owed but postgres refused to record it; only this replica knows');
    }
  }

  const poll = () => {
    timer = setTimeout(() => {
      void sync().finally(() => {
        if (!stopped) poll();
      });
    }, pollIntervalMs);
  };

  return {
    async start() {
      const first = sync();
      poll();
      await Promise.race([first, new Promise((resolve) => setTimeout(resolve, startSyncWaitMs).unref())]);
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await Promise.allSettled([syncing, paying]);
    },
    async read(userId, field): Promise<CacheRead> {
      if (!usable(userId)) return { value: null, gen: NO_FILL };
      const readAt = performance.now();
      const at = connection;
      try {
        const read = await cache.read(userId, field);
        if (read.value !== null) return read;
        return { value: null, gen: `${at}:${readAt}:${read.gen}` };
      } catch (err) {
        log.warn({ err, userId }, 'cache read failed; reading Postgres');
        return { value: null, gen: NO_FILL };
      }
    },
    async fill(userId, field, value, token) {
      if (!usable(userId)) return false;
      // token is `connection:readAt:gen`; gen itself is digits or '' and holds no colon.
      const [at, readAt, gen] = token.split(':');
      if (gen === undefined || Number(at) !== connection || performance.now() - Number(readAt) > maxFillDelayMs) return false;
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
        log.warn({ err, userId }, 'cache invalidation failed; recording it as owed');
        await owe(userId);
      }
    },
  };
}
