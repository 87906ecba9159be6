// Forgotten-password codes: 6 digits, one live code per account (password_resets.user_id is the
// key), hashed with argon2 like passwords (a million codes are brute-forced from a SHA-256 in no
// time), single use, void after MAX_RESET_ATTEMPTS tries or at expiry.

import { randomInt } from 'node:crypto';
import type { Database, Executor } from '@books/core/db';
import { passwordResets, users } from '@books/core/db';
import { and, eq, isNull, sql } from 'drizzle-orm';

export const MAX_RESET_ATTEMPTS = 5;

export const newResetCode = () => String(randomInt(0, 1_000_000)).padStart(6, '0');

/**
 * Stores the code for the account with this email, replacing any earlier one, in a single statement
 * that runs the same whether or not the account exists (no second round trip that only real
 * accounts pay). Answers the recipient, or undefined for an unknown address.
 */
export async function storeResetCode(
  db: Database,
  email: string,
  codeHash: string,
  ttlMs: number,
  now = new Date(),
): Promise<{ id: string; email: string; username: string } | undefined> {
  const expiresAt = new Date(now.getTime() + ttlMs);
  const rows = await db.execute<{ id: string; email: string; username: string }>(sql`
    with account as (
      select ${users.id} as id, ${users.email} as email, ${users.username} as username from ${users}
      where lower(${users.email}) = ${email.trim().toLowerCase()} limit 1
    ), stored as (
      insert into ${passwordResets} (user_id, code_hash, created_at, expires_at, attempts, used_at)
      select id, ${codeHash}, ${now.toISOString()}::timestamptz, ${expiresAt.toISOString()}::timestamptz, 0, null from account
      on conflict (user_id) do update set code_hash = excluded.code_hash, created_at = excluded.created_at,
        expires_at = excluded.expires_at, attempts = 0, used_at = null
      returning user_id
    )
    select account.* from account join stored on stored.user_id = account.id`);
  return rows[0];
}

/**
 * Counts one try against the live code of the account with this email, before the code is checked,
 * in one UPDATE: concurrent guesses are serialised by the row lock, so no more than
 * MAX_RESET_ATTEMPTS of them ever get a hash to compare with. Undefined when there is no live code.
 */
export async function claimResetAttempt(
  db: Database,
  email: string,
  now = new Date(),
): Promise<{ userId: string; codeHash: string } | undefined> {
  const rows = await db.execute<{ user_id: string; code_hash: string }>(sql`
    update ${passwordResets} set attempts = ${passwordResets.attempts} + 1
    from ${users}
    where ${users.id} = ${passwordResets.userId} and lower(${users.email}) = ${email.trim().toLowerCase()}
      and ${passwordResets.usedAt} is null and ${passwordResets.expiresAt} > ${now.toISOString()}::timestamptz
      and ${passwordResets.attempts} < ${MAX_RESET_ATTEMPTS}
    returning ${passwordResets.userId} as user_id, ${passwordResets.codeHash} as code_hash`);
  const row = rows[0];
  return row && { userId: row.user_id, codeHash: row.code_hash };
}

/**
 * Uses the code and sets the new password together. The code must still be the one that was
 * checked and unused: of two right answers racing, one wins. False when the other one won.
 */
/**
 * Spends the code and sets the password; `inTransaction` runs in the same transaction (ending the
 * account's sessions), so a reset never leaves an old session standing.
 */
export async function completeReset(
  db: Database,
  userId: string,
  codeHash: string,
  passwordHash: string,
  inTransaction: (tx: Executor) => Promise<void>,
  now = new Date(),
) {
  return db.transaction(async (tx) => {
    const [used] = await tx
      .update(passwordResets)
      .set({ usedAt: now })
      .where(and(eq(passwordResets.userId, userId), eq(passwordResets.codeHash, codeHash), isNull(passwordResets.usedAt)))
      .returning({ userId: passwordResets.userId });
    if (!used) return false;
    await tx.update(users).set({ passwordHash, updatedAt: now }).where(eq(users.id, userId));
    await inTransaction(tx);
    return true;
  });
}

/** A password changed another way voids a code still out there. */
export async function dropResetCode(db: Database, userId: string): Promise<void> {
  await db.delete(passwordResets).where(eq(passwordResets.userId, userId));
}
