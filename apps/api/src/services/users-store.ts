// Postgres access for accounts: every query the API makes of the users table lives here.
import { type Database, type Executor, findUserById, type UserRow, users } from '@books/core/db';
import type { Role, User } from '@books/core/schemas';
import { count, eq, sql } from 'drizzle-orm';

export { findUserById };

/**
 * The role is derived, never stored: admin iff the address is verified and listed in this replica's
 * ADMIN_EMAILS. An address taken out of ADMIN_EMAILS is no longer admin on a replica with the new
 * config, and signing up with a listed address grants nothing until its owner proves they read it.
 */
export function roleOf(account: { email: string; emailVerified: boolean }, adminEmails: string[]): Role {
  return account.emailVerified && adminEmails.includes(account.email.toLowerCase()) ? 'admin' : 'user';
}

/** The account as the API shows it. */
export function toUser(row: UserRow, adminEmails: string[]): User {
  const emailVerified = row.emailVerifiedAt !== null;
  return {
    id: row.id,
    username: row.username,
    email: row.email,
    role: roleOf({ email: row.email, emailVerified }, adminEmails),
    emailVerified,
    createdAt: row.createdAt.toISOString(),
  };
}

/** Inserts an account; a taken username or email surfaces as Postgres's unique violation (23505). */
export async function insertUser(db: Executor, user: { username: string; email: string; passwordHash: string }): Promise<UserRow> {
  // The role column keeps its default ('user'): roleOf decides who is admin.
  const [row] = await db.insert(users).values(user).returning();
  if (!row) throw new Error('insert returned no row');
  return row;
}

/** Email addresses match case-insensitively, as users type them. */
export async function findUserByEmail(db: Database, email: string): Promise<UserRow | undefined> {
  const [row] = await db
    .select()
    .from(users)
    .where(eq(sql`lower(${users.email})`, email.trim().toLowerCase()))
    .limit(1);
  return row;
}

/** Stores a new password hash. */
export async function setPasswordHash(db: Executor, userId: string, passwordHash: string): Promise<void> {
  await db.update(users).set({ passwordHash, updatedAt: new Date() }).where(eq(users.id, userId));
}

/** Deletes the account; its books go with it (ON DELETE CASCADE). */
export async function deleteUser(db: Executor, userId: string): Promise<void> {
  await db.delete(users).where(eq(users.id, userId));
}

export async function countUsers(db: Database): Promise<number> {
  const [row] = await db.select({ n: count() }).from(users);
  return row?.n ?? 0;
}
