// Cache invalidations owed to Redis, kept in Postgres: when a write's invalidation fails, its
// replica cannot tell the others through Redis, and its own memory dies with it. Every replica
// reads this table (guarded-books-cache.ts); any that reaches Redis invalidates and settles.
import { booksCacheDebts, type Database, users } from '@books/core/db';
import { and, eq, inArray, or, sql } from 'drizzle-orm';

export interface BooksCacheDebt {
  userId: string;
  /** Fresh for every recording: settling deletes this one debt, never a newer one recorded since. */
  seq: number;
}

// Keeps each settling statement well under Postgres' bind-parameter limit (two per debt).
const SETTLE_CHUNK = 1000;

/**
 * Records that these users' pages may be stale. A user deleted meanwhile owes nothing (no row is
 * inserted for an id that is gone), so the foreign key never fails the batch.
 */
export async function recordBooksCacheDebts(db: Database, userIds: string[]): Promise<BooksCacheDebt[]> {
  if (userIds.length === 0) return [];
  // Drizzle's INSERT … SELECT names every column: seq and owed_at spell out their defaults.
  const owing = db
    .select({
      userId: users.id,
      seq: sql<number>`nextval(pg_get_serial_sequence('books_cache_debts', 'seq'))`.as('seq'),
      owedAt: sql<Date>`now()`.as('owed_at'),
    })
    .from(users)
    .where(inArray(users.id, userIds));
  return db
    .insert(booksCacheDebts)
    .select(owing)
    .onConflictDoUpdate({ target: booksCacheDebts.userId, set: { seq: sql`excluded.seq`, owedAt: sql`now()` } })
    .returning({ userId: booksCacheDebts.userId, seq: booksCacheDebts.seq });
}

/** Every debt: a table that is empty unless Redis was unreachable from some replica lately. */
export function listBooksCacheDebts(db: Database): Promise<BooksCacheDebt[]> {
  return db.select({ userId: booksCacheDebts.userId, seq: booksCacheDebts.seq }).from(booksCacheDebts);
}

/** Deletes exactly these debts (user and seq), once their invalidations reached Redis. */
export async function settleBooksCacheDebts(db: Database, paid: BooksCacheDebt[]): Promise<void> {
  for (let i = 0; i < paid.length; i += SETTLE_CHUNK) {
    const chunk = paid.slice(i, i + SETTLE_CHUNK);
    await db
      .delete(booksCacheDebts)
      .where(or(...chunk.map((d) => and(eq(booksCacheDebts.userId, d.userId), eq(booksCacheDebts.seq, d.seq)))));
  }
}
