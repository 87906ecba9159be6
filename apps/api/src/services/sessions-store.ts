// Sessions (signed-in devices) and their refresh tokens in Postgres. A refresh token is 32 random
// bytes shown to the client once and stored only as its SHA-256: a leaked table holds no usable
// token. Every way a session ends goes through revokeUserSessions, which records the auth event
// that makes every replica refuse the session's access tokens at once.
import { createHash, randomBytes } from 'node:crypto';
import { type Database, type Executor, refreshTokens, sessions, users } from '@books/core/db';
import { and, desc, eq, gt, isNull, ne, sql } from 'drizzle-orm';
import { recordAuthEvent } from './auth-events.js';

const USER_AGENT_MAX = 256;

export const hashRefreshToken = (token: string) => createHash('sha256').update(token).digest('hex');

function newRefreshToken(): { token: string; hash: string } {
  const token = randomBytes(32).toString('base64url');
  return { token, hash: hashRefreshToken(token) };
}

/** Opens a session for the user and gives it its first refresh token. */
export async function createSession(
  db: Database,
  input: { userId: string; userAgent: string | undefined; ttlMs: number },
): Promise<{ sessionId: string; refreshToken: string }> {
  const { token, hash } = newRefreshToken();
  const sessionId = await db.transaction(async (tx) => {
    const [session] = await tx
      .insert(sessions)
      .values({
        userId: input.userId,
        userAgent: input.userAgent?.slice(0, USER_AGENT_MAX) ?? null,
        expiresAt: new Date(Date.now() + input.ttlMs),
      })
      .returning({ id: sessions.id });
    if (!session) throw new Error('session insert returned no row');
    await tx.insert(refreshTokens).values({ tokenHash: hash, sessionId: session.id });
    return session.id;
  });
  return { sessionId, refreshToken: token };
}

export type RefreshOutcome =
  | { ok: true; sessionId: string; userId: string; refreshToken: string }
  | { ok: false; reason: 'unknown' | 'session_ended' | 'raced' }
  | { ok: false; reason: 'reused'; seq: number | null };

/**
 * Spends a refresh token for the next one, in one transaction. The token's row and its session are
 * locked (FOR UPDATE), so of two refreshes with the same token Postgres lets one rotate it and
 * shows the other the rotation. A token presented again within `raceGraceMs` of its rotation is
 * taken for the loser of such a race (two tabs, a retried request) and only refused; later, it is
 * reuse of a stolen or leaked token, and the whole session is revoked (RFC 9700 §4.14).
 */
export async function rotateRefreshToken(
  db: Database,
  presented: string,
  opts: { raceGraceMs: number; tokenLifetimeMs: number },
): Promise<RefreshOutcome> {
  return db.transaction(async (tx) => {
    const [found] = await tx
      .select({
        sessionId: sessions.id,
        userId: sessions.userId,
        revokedAt: sessions.revokedAt,
        live: sql<boolean>`${sessions.expiresAt} > now()`,
        rotatedMsAgo: sql<number | null>`(extract(epoch from clock_timestamp() - ${refreshTokens.rotatedAt}) * 1000)::float8`,
      })
      .from(refreshTokens)
      .innerJoin(sessions, eq(sessions.id, refreshTokens.sessionId))
      .where(eq(refreshTokens.tokenHash, hashRefreshToken(presented)))
      .for('update');
    if (!found) return { ok: false, reason: 'unknown' } as const;
    if (found.revokedAt || !found.live) return { ok: false, reason: 'session_ended' } as const;
    if (found.rotatedMsAgo !== null) {
      if (found.rotatedMsAgo < opts.raceGraceMs) return { ok: false, reason: 'raced' } as const;
      const { seq } = await revokeUserSessions(tx, found.userId, {
        onlySessionId: found.sessionId,
        reason: 'refresh_token_reuse',
        tokenLifetimeMs: opts.tokenLifetimeMs,
      });
      return { ok: false, reason: 'reused', seq } as const;
    }
    const next = newRefreshToken();
    await tx
      .update(refreshTokens)
      .set({ rotatedAt: sql`now()` })
      .where(eq(refreshTokens.tokenHash, hashRefreshToken(presented)));
    await tx.insert(refreshTokens).values({ tokenHash: next.hash, sessionId: found.sessionId });
    await tx.update(sessions).set({ lastUsedAt: sql`now()` }).where(eq(sessions.id, found.sessionId));
    return { ok: true, sessionId: found.sessionId, userId: found.userId, refreshToken: next.token } as const;
  });
}

/**
 * Ends the user's live sessions — all of them, all but `exceptSessionId` (a password change keeps
 * the session that made it), or only `onlySessionId` — and records ONE auth event naming them, in
 * the caller's transaction, so every replica refuses their access tokens as soon as it commits.
 * `tokenLifetimeMs` is the access-token lifetime (config.jwt.expiresInMs): events are kept that long.
 * Returns the ids of the sessions ended and the event's seq (null when none was live: no event).
 * After the commit, `await app.identities.heard(seq)` makes this replica's next request honour it.
 */
export async function revokeUserSessions(
  tx: Executor,
  userId: string,
  opts: { exceptSessionId?: string; onlySessionId?: string; reason: string; tokenLifetimeMs: number },
): Promise<{ sessionIds: string[]; seq: number | null }> {
  const ended = await tx
    .update(sessions)
    .set({ revokedAt: sql`now()`, revokedReason: opts.reason })
    .where(
      and(
        eq(sessions.userId, userId),
        isNull(sessions.revokedAt),
        opts.exceptSessionId ? ne(sessions.id, opts.exceptSessionId) : undefined,
        opts.onlySessionId ? eq(sessions.id, opts.onlySessionId) : undefined,
      ),
    )
    .returning({ id: sessions.id });
  const sessionIds = ended.map((s) => s.id);
  if (sessionIds.length === 0) return { sessionIds, seq: null };
  const event = await recordAuthEvent(tx, { userId, kind: 'sessions_revoked', sessionIds }, opts.tokenLifetimeMs);
  return { sessionIds, seq: event.seq };
}

/** The user's live sessions, newest first. */
export async function listLiveSessions(db: Database, userId: string) {
  return db
    .select({ id: sessions.id, createdAt: sessions.createdAt, lastUsedAt: sessions.lastUsedAt, userAgent: sessions.userAgent })
    .from(sessions)
    .where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt), gt(sessions.expiresAt, sql`now()`)))
    .orderBy(desc(sessions.createdAt));
}

/**
 * The slow path of authentication, for when a replica cannot trust what it heard: the account and
 * whether the token's session is still live, in one indexed query. No row: the account is gone.
 */
export async function findUserWithSession(db: Database, userId: string, sessionId: string) {
  const [row] = await db
    .select({ user: users, sessionLive: sql<boolean>`${sessions.id} is not null and ${sessions.revokedAt} is null` })
    .from(users)
    .leftJoin(sessions, and(eq(sessions.id, sessionId), eq(sessions.userId, users.id)))
    .where(eq(users.id, userId))
    .limit(1);
  return row;
}
