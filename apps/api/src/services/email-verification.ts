// Email verification links: a single-use random token, kept only as its SHA-256 (32 random bytes
// need no slow hash: nobody can guess one from a dump), bound to the address it was sent to.

import { createHash, randomBytes } from 'node:crypto';
import type { NewAccountMail } from '@books/core/account-mail';
import { type Database, type Executor, emailVerifications, type UserRow, users } from '@books/core/db';
import { and, eq, gt, isNull, sql } from 'drizzle-orm';

/** How often an account may ask for a new link: the signup's own link counts. */
export const RESEND_LIMITS = [
  { windowMs: 60_000, max: 1 },
  { windowMs: 3_600_000, max: 5 },
] as const;

const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

/** Stores a new link's token for the account's current address; the caller queues the email. */
export async function issueVerification(
  db: Executor,
  user: Pick<UserRow, 'id' | 'email'>,
  ttlMs: number,
  now = new Date(),
): Promise<{ token: string; expiresAt: Date }> {
  const token = randomBytes(32).toString('base64url');
  const expiresAt = new Date(now.getTime() + ttlMs);
  await db
    .insert(emailVerifications)
    .values({ tokenHash: hashToken(token), userId: user.id, email: user.email, createdAt: now, expiresAt });
  return { token, expiresAt };
}

export function verificationMail(
  publicBaseUrl: string,
  user: Pick<UserRow, 'email' | 'username'>,
  issued: { token: string; expiresAt: Date },
): NewAccountMail {
  return {
    kind: 'verify-email',
    to: user.email,
    username: user.username,
    link: `${publicBaseUrl}/auth/verify-email/${issued.token}`,
    expiresAt: issued.expiresAt.toISOString(),
  };
}

/** Drops a link whose email could not be queued, so that it does not count against the resend limit. */
export async function withdrawVerification(db: Database, token: string): Promise<void> {
  await db.delete(emailVerifications).where(eq(emailVerifications.tokenHash, hashToken(token)));
}

export type VerifyOutcome = { ok: true; user: UserRow } | { ok: false; reason: 'unknown' | 'used' | 'expired' | 'email-changed' };

/**
 * Uses the token: one UPDATE claims it (so two clicks racing verify once and the other is told the
 * link was used), then the account is marked verified only if its address is still the one the
 * link was sent to. A link for an address the account no longer has is used up all the same: it
 * can never verify anything.
 */
/**
 * Spends the link and marks the address verified; `inTransaction` runs in the same transaction
 * (the auth event that tells every replica the account changed: it may now be admin).
 */
export async function consumeVerification(
  db: Database,
  token: string,
  inTransaction: (tx: Executor, userId: string) => Promise<void>,
  now = new Date(),
): Promise<VerifyOutcome> {
  const tokenHash = hashToken(token);
  return db.transaction(async (tx): Promise<VerifyOutcome> => {
    const [claimed] = await tx
      .update(emailVerifications)
      .set({ usedAt: now })
      .where(and(eq(emailVerifications.tokenHash, tokenHash), isNull(emailVerifications.usedAt), gt(emailVerifications.expiresAt, now)))
      .returning({ userId: emailVerifications.userId, email: emailVerifications.email });
    if (!claimed) {
      const [row] = await tx.select().from(emailVerifications).where(eq(emailVerifications.tokenHash, tokenHash)).limit(1);
      if (!row) return { ok: false, reason: 'unknown' };
      return { ok: false, reason: row.usedAt ? 'used' : 'expired' };
    }
    const [user] = await tx
      .update(users)
      // A second link of an already verified account keeps the first verification time.
      .set({ emailVerifiedAt: sql`coalesce(${users.emailVerifiedAt}, ${now.toISOString()}::timestamptz)`, updatedAt: now })
      .where(and(eq(users.id, claimed.userId), eq(sql`lower(${users.email})`, claimed.email.toLowerCase())))
      .returning();
    if (!user) return { ok: false, reason: 'email-changed' };
    await inTransaction(tx, user.id);
    return { ok: true, user };
  });
}

export type ResendOutcome = { ok: true; issued: { token: string; expiresAt: Date } } | { ok: false; retryAfterSeconds: number };

/**
 * Issues a new link unless the account had RESEND_LIMITS' worth in their windows. A transaction-level
 * advisory lock per account serialises concurrent requests, so two racing resends cannot both pass.
 */
export async function issueThrottledVerification(
  db: Database,
  user: Pick<UserRow, 'id' | 'email'>,
  ttlMs: number,
  now = new Date(),
): Promise<ResendOutcome> {
  return db.transaction(async (tx): Promise<ResendOutcome> => {
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`verify-email:${user.id}`}))`);
    let retryAfterMs = 0;
    for (const { windowMs, max } of RESEND_LIMITS) {
      const since = new Date(now.getTime() - windowMs);
      const recent = await tx
        .select({ createdAt: emailVerifications.createdAt })
        .from(emailVerifications)
        .where(and(eq(emailVerifications.userId, user.id), gt(emailVerifications.createdAt, since)))
        .orderBy(sql`${emailVerifications.createdAt} desc`)
        .limit(max);
      // The window frees up when the oldest of the last `max` links leaves it.
      const oldest = recent[max - 1];
      if (oldest) retryAfterMs = Math.max(retryAfterMs, oldest.createdAt.getTime() + windowMs - now.getTime());
    }
    if (retryAfterMs > 0) return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(retryAfterMs / 1000)) };
    return { ok: true, issued: await issueVerification(tx, user, ttlMs, now) };
  });
}
