// Who a token names, now, and whether its session still stands — without Postgres on the hot path.
// Every replica hears the auth events (auth-event-listener.ts) and keeps in memory the sessions
// ended and the accounts deleted for as long as an access token lives, plus each account for a
// minute, dropped as soon as an event names it. While it cannot trust what it heard (not listening,
// or an event not read yet), it asks Postgres for the account and the session on every request.
import type { Database } from '@books/core/db';
import type { TokenClaims, User } from '@books/core/schemas';
import type { FastifyBaseLogger } from 'fastify';
import { unauthorized } from '../errors.js';
import { createAuthEventListener } from './auth-event-listener.js';
import { CLOCK_SLACK_MS } from './auth-events.js';
import { findUserWithSession } from './sessions-store.js';
import { findUserById, toUser } from './users-store.js';

const IDENTITY_TTL_MS = 60_000;
const IDENTITY_MAX_ENTRIES = 10_000;
// A NOTIFY comes back in about a millisecond; past this the listener is in trouble and its
// heartbeat will soon put the replica on the slow path.
const HEARD_WAIT_MS = 2000;

export type Identity = User;

const sessionEnded = () => unauthorized('This session has ended; log in again');
const accountGone = () => unauthorized('The account behind this token no longer exists');

export interface IdentityService {
  /** The identity behind verified claims, or a 401 (session ended, account deleted). */
  resolve(claims: TokenClaims): Promise<Identity>;
  /** Resolves once this replica listens and has caught up, or after `waitMs` (slow path meanwhile). */
  start(waitMs: number): Promise<void>;
  /**
   * Resolves once this replica has applied the event `seq` it just recorded (it hears its own
   * NOTIFY), so that its very next request already honours it; at once if it is on the slow path.
   * Every other replica is sent the same NOTIFY at the same commit.
   */
  heard(seq: number | null): Promise<void>;
  /** True while the in-memory state is complete (tests and /health read it). */
  readonly trusted: boolean;
  close(): Promise<void>;
}

export function createIdentityService(deps: {
  db: Database;
  listenUrl: string;
  adminEmails: string[];
  tokenLifetimeMs: number;
  log: FastifyBaseLogger;
}): IdentityService {
  const { db, adminEmails, tokenLifetimeMs } = deps;
  const keepMs = tokenLifetimeMs + CLOCK_SLACK_MS;
  // id → when it can be forgotten (no access token can name it after that).
  const endedSessions = new Map<string, number>();
  const deletedUsers = new Map<string, number>();
  const pendingUsers = new Map<string, number>();
  const identities = new Map<string, { identity: Identity; expires: number }>();
  // Counts applied events: a Postgres read begun before an event may not be cached after it.
  let applied = 0;
  let trusted = false;
  // The seqs applied lately, and the requests waiting for one (see heard()).
  const recentSeqs = new Set<number>();
  const waiters = new Map<number, () => void>();
  const release = (seq: number) => {
    recentSeqs.add(seq);
    if (recentSeqs.size > 1000) recentSeqs.delete(recentSeqs.values().next().value as number);
    waiters.get(seq)?.();
  };
  const releaseAll = () => {
    for (const done of waiters.values()) done();
  };

  const listener = createAuthEventListener({
    listenUrl: deps.listenUrl,
    db,
    log: deps.log,
    tokenLifetimeMs,
    sink: {
      apply(events) {
        for (const event of events) {
          applied++;
          identities.delete(event.userId);
          const until = event.at.getTime() + keepMs;
          if (event.kind === 'user_deleted') deletedUsers.set(event.userId, until);
          for (const id of event.sessionIds ?? []) endedSessions.set(id, until);
          release(event.seq);
        }
      },
      pending(userId) {
        applied++;
        identities.delete(userId);
        pendingUsers.set(userId, (pendingUsers.get(userId) ?? 0) + 1);
      },
      settled(userId) {
        const left = (pendingUsers.get(userId) ?? 1) - 1;
        if (left > 0) pendingUsers.set(userId, left);
        else pendingUsers.delete(userId);
      },
      trust(value) {
        trusted = value;
        applied++;
        if (value) pendingUsers.clear();
        else {
          identities.clear();
          releaseAll();
        }
      },
      sweep() {
        const now = Date.now();
        for (const map of [endedSessions, deletedUsers]) for (const [id, until] of map) if (until < now) map.delete(id);
        for (const [id, entry] of identities) if (entry.expires < now) identities.delete(id);
      },
    },
  });

  async function fromPostgres(claims: TokenClaims): Promise<Identity> {
    const row = await findUserWithSession(db, claims.sub, claims.sid);
    if (!row) throw accountGone();
    if (!row.sessionLive) throw sessionEnded();
    return toUser(row.user, adminEmails);
  }

  return {
    get trusted() {
      return trusted;
    },
    async resolve(claims) {
      if (!trusted || pendingUsers.has(claims.sub)) return fromPostgres(claims);
      if (endedSessions.has(claims.sid)) throw sessionEnded();
      if (deletedUsers.has(claims.sub)) throw accountGone();
      const hit = identities.get(claims.sub);
      if (hit && hit.expires > Date.now()) return hit.identity;
      const before = applied;
      const row = await findUserById(db, claims.sub);
      if (!row) throw accountGone();
      const identity = toUser(row, adminEmails);
      if (before === applied) {
        if (identities.size >= IDENTITY_MAX_ENTRIES) identities.delete(identities.keys().next().value as string);
        identities.set(claims.sub, { identity, expires: Date.now() + IDENTITY_TTL_MS });
      } else if (!trusted || endedSessions.has(claims.sid) || deletedUsers.has(claims.sub)) {
        // An event arrived during the read: answer from what is true now.
        return fromPostgres(claims);
      }
      return identity;
    },
    async heard(seq) {
      if (seq === null || !trusted || recentSeqs.has(seq)) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, HEARD_WAIT_MS);
        function done() {
          clearTimeout(timer);
          waiters.delete(seq as number);
          resolve();
        }
        waiters.set(seq, done);
      });
    },
    start: (waitMs) => listener.start(waitMs),
    close: () => listener.close(),
  };
}
