// Postgres access for accounts: every query the API makes of the users table lives here.
import { type Database, findUserById, type UserRow, users } from '@books/core/db';
import type { User } from '@books/core/schemas';
import { count, eq, sql } from 'drizzle-orm';
import type { Executor } from './auth-events.js';

export { findUserById };

/** The account as the API shows it. The role follows ADMIN_EMAILS as well as the stored role. */
export function toUser(row: UserRow, adminEmails: string[]): User {
  const role = row.role === 'admin' || adminEmails.includes(row.email.toLowerCase()) ? 'admin' : 'user';
  return { id: row.id, username: row.username, email: row.email, role, createdAt: row.createdAt.toISOString() };
}

/** Inserts an account; a taken username or email surfaces as Postgres's unique violation (23505). */
export async function insertUser(
  db: Database,
  user: { username: string; email: string; passwordHash: string; role: 'user' | 'admin' },
): Promise<UserRow> {
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

/** Deletes the account; its books go with it (ON DELETE CASCADE). */
export async function deleteUser(db: Executor, userId: string): Promise<void> {
  await db.delete(users).where(eq(users.id, userId));
}

export async function countUsers(db: Database): Promise<number> {
  const [row] = await db.select({ n: count() }).from(users);
  return row?.n ?? 0;
}
